"""The live onset detector run over a recording, block by block (``tandem onsets``).

:func:`detect_file` feeds a file to :class:`~engine.audio.onsets.OnsetDetector`
exactly as the live input would (blocks of ``blocksize`` frames, then
``flush()`` at the end) and returns what it reported, as a JSON-ready dict.

Decisions about the input, so that any recording gives a result or one clear
sentence (an :class:`~engine.audio.audiofile.AudioFileError` or a
:class:`~engine.errors.ConfigError`), never a traceback:

- **Formats**: whatever soundfile (libsndfile) reads: WAV (8-bit to float),
  FLAC, OGG, and MP3 with libsndfile 1.1 or newer (older ones get a sentence
  saying so). A missing, empty (0 bytes, or no frames) or corrupt file is
  refused in one sentence by :func:`~engine.audio.audiofile.read_audio`.
- **Channels**: more than one is mixed down to mono (their mean), as a
  single microphone would hear the room; the result says so
  (``channels_used``).
- **Sample rate**: the detector runs at the file's own rate, not resampled,
  so each onset is a sample of the file itself and nothing is smeared by a
  resampling filter. Its filters and windows are given in Hz and ms (the
  150 Hz high-pass, the 0.5/30 ms envelopes, the 3 ms level window, the
  refinement look-back), and it finds clean hits to within a couple of
  samples from 2 kHz to 192 kHz. Rates below 8 kHz (telephone bandwidth)
  are refused all the same: such a file cannot hold a voice's or an
  instrument's attack, and the level window would be a handful of samples.
- **Lossy files** (MP3, Ogg Vorbis/Opus): read, but with a warning: the
  encoder's pre-echo spreads an attack's noise up to a frame ahead of it,
  and in a quiet room the detector finds that (onsets 1 to 10 ms early).
- **Clipping, DC offset, silence**: the detector's high-pass takes out DC;
  clipped hits are still found at their start (their level is then too
  low, so runs of full-scale samples are counted, ``clipped_samples``, with
  a warning); silence gives no onsets.
- **What the speakers played** (``played``): time-aligned to the recording
  (same start). Mixed to mono, resampled to the recording's rate if its own
  differs (resampling is kinder than refusing, and the time alignment
  survives it), then cut or padded with silence to the recording's length.
  A length difference of more than :data:`PLAYED_LENGTH_TOLERANCE_S` gets a
  warning, not a refusal: a recording stopped a little late or early is
  common, and what overlaps is still aligned.

Times are seconds from the file's first sample (``sample / rate``).
``detected_at_s`` is the sample at which the detector reported the onset
(``Onset.detected_at``), which does not depend on the blocksize; live, the
onset reaches the rest of Tandem at the end of the block that contains it.
At the end, ``flush()`` feeds the detector silence: an onset reported then
may have a ``detected_at_s`` slightly past the file's end, and one that
*starts* at or after the end is dropped (it is the step from the file's last
samples down to that silence, e.g. the end of a DC offset).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from engine.audio.audiofile import AudioFileError, read_audio
from engine.audio.onsets import OnsetDetector, merge_voiced
from engine.errors import ConfigError

__all__ = ["MAX_BLOCKSIZE", "MIN_BLOCKSIZE", "MIN_SAMPLE_RATE", "PLAYED_LENGTH_TOLERANCE_S", "detect_file"]

MIN_BLOCKSIZE = 16
MAX_BLOCKSIZE = 8192
MIN_SAMPLE_RATE = 8000
PLAYED_LENGTH_TOLERANCE_S = 0.5
_FULL_SCALE = 0.999  # |sample| at or above this counts as full scale
_CLIP_RUN = 3  # this many full-scale samples in a row is clipping, not a peak that touched 0 dBFS
_LOSSY = {"MPEG_LAYER_I", "MPEG_LAYER_II", "MPEG_LAYER_III", "VORBIS", "OPUS"}


def _check_mp3_support(path: Path, what: str) -> None:
    """libsndfile reads MP3 from version 1.1 on; an older one gets its own sentence."""
    if path.suffix.lower() != ".mp3" or not os.path.isfile(path):  # is_file raises for a name too long
        return
    import soundfile  # heavy (130 ms): only for an MP3 file

    version = getattr(soundfile, "__libsndfile_version__", "") or ""
    try:
        major, minor = (int(p) for p in version.split(".")[:2])
    except ValueError:
        return  # unknown version: let libsndfile try
    if (major, minor) < (1, 1):
        raise AudioFileError(
            f"The {what} {path} is an MP3 file, which this system's libsndfile ({version}) cannot read "
            f"(1.1 or newer can); convert it to WAV or FLAC."
        )


def _read(path: Path, what: str, sample_rate: int | None = None):
    """The file as (mono float32 samples, AudioData, clipped sample count)."""
    _check_mp3_support(path, what)
    audio = read_audio(path, mono=False, sample_rate=sample_rate, what=what)
    data = audio.samples.reshape(audio.frames, -1)
    clipped = _clipped_samples(data) if sample_rate is None else 0
    mono = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1, dtype=np.float64)
    return np.ascontiguousarray(mono, dtype=np.float32), audio, clipped


def _clipped_samples(data: np.ndarray) -> int:
    """Samples in runs of at least ``_CLIP_RUN`` full-scale samples, over all channels."""
    total = 0
    for ch in data.T:
        full = np.concatenate([[False], np.abs(ch) >= _FULL_SCALE, [False]]).astype(np.int8)
        edges = np.flatnonzero(np.diff(full))
        runs = edges[1::2] - edges[0::2]
        total += int(runs[runs >= _CLIP_RUN].sum())
    return total


def _num(x, digits: int) -> float | None:
    """A JSON-safe rounded float (None for None, NaN or infinity)."""
    if x is None:
        return None
    x = float(x)
    return round(x, digits) if math.isfinite(x) else None


def detect_file(path: str | Path, *, played: str | Path | None = None, blocksize: int = 128,
                **detector_options) -> dict:
    """Run the live onset detector over the recording ``path``, ``blocksize`` frames at a time.

    Parameters
    ----------
    played : path, optional
        What the speakers played during the recording, time-aligned to it
        (same start); given to the detector block by block for self-sound
        suppression. See the module docstring for other rates and lengths.
    blocksize : int
        Frames per block, :data:`MIN_BLOCKSIZE` to :data:`MAX_BLOCKSIZE`.
        The detector works per sample, so the onsets do not depend on it.
    **detector_options
        Passed to :class:`OnsetDetector` (``min_ioi_ms``, ``floor_db``…).

    Returns
    -------
    dict
        ``file``, ``format``, ``subtype``, ``sample_rate``, ``blocksize``,
        ``frames``, ``duration_s``, ``channels`` (in the file),
        ``channels_used``, ``clipped_samples``, ``played`` (path or None),
        ``warnings`` (sentences) and ``onsets``: one dict per onset with
        ``time_s``, ``detected_at_s``, ``level_db``, ``kind``
        (``"percussive"`` or ``"voiced"``), ``duration_s`` (None unless
        voiced and ended), ``centroid_hz``, ``noisiness``, ``brightness``, ``sample`` and
        ``detected_at_sample``.

    Raises
    ------
    AudioFileError
        A file is missing, empty, corrupt, or in a format that cannot be read.
    ConfigError
        The blocksize is out of range, or the recording's rate is too low.
    """
    try:
        blocksize = int(blocksize)
    except (TypeError, ValueError):
        raise ConfigError(f"The blocksize must be a whole number of frames, not {blocksize!r}.") from None
    if not MIN_BLOCKSIZE <= blocksize <= MAX_BLOCKSIZE:
        raise ConfigError(
            f"The blocksize must be between {MIN_BLOCKSIZE} and {MAX_BLOCKSIZE} frames; {blocksize} is not."
        )
    path = Path(path)
    x, audio, clipped = _read(path, "recording")
    rate = audio.sample_rate
    if rate < MIN_SAMPLE_RATE:
        raise ConfigError(
            f"The recording {path} is sampled at {rate} Hz, too low for onset detection; "
            f"use a recording at {MIN_SAMPLE_RATE} Hz or more."
        )
    warnings: list[str] = []
    if audio.subtype in _LOSSY:
        warnings.append(
            f"The recording is lossy ({audio.format} {audio.subtype}), whose encoder spreads each attack "
            f"up to about 10 ms ahead of it, so onsets may be found early; record WAV or FLAC for timing."
        )
    if clipped:
        warnings.append(
            f"The recording clips ({clipped} samples at full scale): onsets are still found, but the loudest "
            f"ones' levels are too low; turn the microphone gain down for the next recording."
        )

    p = None
    if played is not None:
        played = Path(played)
        p, _, _ = _read(played, "played file", sample_rate=rate)
        diff_s = (p.size - x.size) / rate
        if abs(diff_s) > PLAYED_LENGTH_TOLERANCE_S:
            if diff_s > 0:
                warnings.append(
                    f"The played file {played} is {diff_s:.2f} s longer than the recording; its end was ignored."
                )
            else:
                warnings.append(
                    f"The played file {played} is {-diff_s:.2f} s shorter than the recording; "
                    f"silence was assumed after its end."
                )
        if p.size >= x.size:
            p = p[:x.size]
        else:
            p = np.concatenate([p, np.zeros(x.size - p.size, dtype=np.float32)])

    det = OnsetDetector(rate, **detector_options)
    found = []
    for i in range(0, x.size, blocksize):
        found += det.process(x[i:i + blocksize], played=None if p is None else p[i:i + blocksize])
    # flush() hears silence after the end: what it reports as starting there is the step from the
    # file's last samples to that silence (a DC offset, a sound cut off), not an onset in the file.
    found += [o for o in det.flush() if o.sample < x.size]

    onsets = []
    for o in merge_voiced(found):
        duration = o.duration if o.kind == "voiced" else None
        onsets.append({
            "time_s": o.sample / rate,
            "detected_at_s": o.detected_at / rate,
            "level_db": _num(o.level_db, 2),
            "kind": o.kind,
            "duration_s": None if duration is None else duration / rate,
            "centroid_hz": _num(o.centroid_hz, 1),
            "noisiness": _num(o.noisiness, 4),
            "brightness": _num(o.brightness, 4),
            "sample": int(o.sample),
            "detected_at_sample": int(o.detected_at),
        })
    return {
        "file": str(path),
        "format": audio.format,
        "subtype": audio.subtype,
        "sample_rate": rate,
        "blocksize": blocksize,
        "frames": int(x.size),
        "duration_s": x.size / rate,
        "channels": audio.channels,
        "channels_used": "mono" if audio.channels == 1 else f"mean of {audio.channels} channels",
        "clipped_samples": clipped,
        "played": None if played is None else str(played),
        "warnings": warnings,
        "onsets": onsets,
    }

