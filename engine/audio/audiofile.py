"""Reading audio files for Tandem: any common format, one clear sentence when it cannot be read.

Used wherever a file of sound comes in: sample sounds in the sound bank,
and recordings for the onset detector run over a file (``tandem onsets``).
soundfile (libsndfile) reads WAV, FLAC, OGG, MP3 and more, at any rate and
sample format (8-bit, 16/24/32-bit, float); the data is returned as float
in −1..1 as the file holds it, mixed down to mono when asked, and resampled
(scipy's polyphase filter) only when a target rate is given.

Whatever the path names, the answer is samples or one sentence: only a
regular file is opened (:func:`engine.fileread.open_regular`: never a device
such as ``/dev/zero``, a FIFO or a folder), and what its header claims is
checked before a frame is decoded: a sample rate from :data:`MIN_RATE` to
:data:`MAX_RATE`, 1 to :data:`MAX_CHANNELS` channels, at most ``max_seconds``
of sound and :data:`MAX_SAMPLES` samples in all (what is decoded is held in
memory as float32). Non-finite samples (NaN, infinity) are refused.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import TandemError
from engine.fileread import AUDIO_LIMIT, open_regular, printable

__all__ = [
    "MAX_CHANNELS",
    "MAX_RATE",
    "MAX_RECORDING_SECONDS",
    "MAX_SAMPLES",
    "MAX_SAMPLE_SECONDS",
    "MIN_RATE",
    "AudioFileError",
    "AudioData",
    "read_audio",
]

MIN_RATE = 1_000
MAX_RATE = 768_000
"""Sample rates an audio file may have, in Hz: the lowest telephone codecs run at 8 kHz and the fastest
converters sold at 768 kHz; a header outside that range is damaged."""

MAX_CHANNELS = 64
"""Channels an audio file may have: Tandem mixes every channel down, and a header claiming more is damaged
(the largest recording interfaces have 64)."""

MAX_SAMPLE_SECONDS = 300.0
"""The longest sample the sound bank loads (``file:`` sounds of a script): a cue or a feedback sound is a
drum hit, a word or a phrase; five minutes is far longer than any."""

MAX_RECORDING_SECONDS = 3 * 3600.0
"""The longest recording read whole (``tandem onsets``): a visit is under an hour."""

MAX_SAMPLES = 2 ** 28
"""The most samples (frames times channels) decoded at once: 1 GB as float32, an hour of mono 48 kHz
audio with room to spare; a header claiming more would exhaust memory before a frame is read."""


class AudioFileError(TandemError, OSError):
    """An audio file is missing, empty, corrupt, or in a format Tandem cannot read."""


@dataclass(frozen=True)
class AudioData:
    """Samples of one file: ``samples`` is (frames,) for mono, else (frames, channels), float32."""

    samples: np.ndarray
    sample_rate: int
    channels: int  # in the file
    file_rate: int  # the file's own rate (``sample_rate`` differs when resampled)
    format: str  # e.g. "WAV", "FLAC", "MP3"
    subtype: str  # e.g. "PCM_16", "PCM_U8", "FLOAT"

    @property
    def frames(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate


def read_audio(path: str | Path, *, mono: bool = True, sample_rate: int | None = None,
               what: str = "audio file", max_seconds: float = MAX_RECORDING_SECONDS) -> AudioData:
    """Read ``path`` as float32 samples.

    Parameters
    ----------
    mono : bool
        Mix all channels down to one (their mean).
    sample_rate : int, optional
        Resample to this rate; the file's own rate when None.
    what : str
        How error messages name the file ("sample file", "recording", …).
    max_seconds : float
        The longest file accepted (:data:`MAX_SAMPLE_SECONDS` for a sample,
        :data:`MAX_RECORDING_SECONDS` by default).

    Raises
    ------
    AudioFileError
        One sentence: the file does not exist, is not a regular file, is
        empty, is not audio Tandem can read, has a header out of range
        (rate, channels, length), or holds invalid samples.
    """
    import soundfile  # ~75 ms to import; only when a file is read

    path = Path(path)
    label = f"The {what} {printable(path)}"
    fd, size = open_regular(path, what=what, limit_bytes=AUDIO_LIMIT, error=AudioFileError,
                            too_large="cut it into shorter files")
    if size == 0:
        os.close(fd)
        raise AudioFileError(f"{label} is empty (0 bytes).")
    try:
        with soundfile.SoundFile(fd, closefd=True) as f:  # the descriptor checked above, closed with it
            fmt, subtype, file_rate, channels, frames = (f.format, f.subtype, int(f.samplerate), int(f.channels),
                                                         int(f.frames))
            _check_header(label, file_rate, channels, frames, max_seconds)
            data = f.read(dtype="float32", always_2d=True)
    except AudioFileError:
        raise
    except (RuntimeError, OSError, ValueError, TypeError, EOFError, MemoryError, OverflowError):
        # LibsndfileError is a RuntimeError; soundfile closed the descriptor if it got that far
        raise AudioFileError(
            f"{label} could not be read as audio (corrupt, or a format libsndfile does not know); "
            f"use WAV, FLAC, OGG or MP3."
        ) from None
    if data.shape[0] == 0:
        raise AudioFileError(f"{label} contains no audio.")
    if not np.all(np.isfinite(data)):
        raise AudioFileError(f"{label} contains invalid (non-finite) samples; export it again from the program "
                             f"that made it.")
    if mono:
        samples = data.mean(axis=1, dtype=np.float64) if data.shape[1] > 1 else data[:, 0]
    else:
        samples = data  # float32 already: no copy of what may be a long recording
    rate = file_rate
    if sample_rate is not None and sample_rate != file_rate:
        resampled = samples.shape[0] * int(sample_rate) / file_rate * (1 if samples.ndim == 1 else samples.shape[1])
        if resampled > MAX_SAMPLES:  # a slow file resampled to a fast rate: more than the header promised
            raise AudioFileError(f"{label} at {sample_rate} Hz would be {resampled:.0f} samples, more than the "
                                 f"{MAX_SAMPLES} Tandem holds at once; cut it shorter.")
        from scipy.signal import resample_poly  # ~0.9 s to import; only when resampling

        divisor = math.gcd(file_rate, int(sample_rate))
        samples = resample_poly(samples.astype(np.float64), int(sample_rate) // divisor, file_rate // divisor,
                                axis=0)
        rate = int(sample_rate)
    if mono or samples.ndim == 1:
        samples = samples.reshape(-1)
    return AudioData(np.ascontiguousarray(samples, dtype=np.float32), rate, channels, file_rate, fmt, subtype)


def _check_header(label: str, rate: int, channels: int, frames: int, max_seconds: float) -> None:
    """What the file's header claims, within the bounds of the module docstring, before a frame is decoded."""
    if not MIN_RATE <= rate <= MAX_RATE:
        raise AudioFileError(f"{label} says its sample rate is {rate} Hz, which no audio file has (its header is "
                             f"damaged); export it again at a common rate such as 48000 Hz.")
    if not 1 <= channels <= MAX_CHANNELS:
        raise AudioFileError(f"{label} says it has {channels} channels (its header is damaged, or it is not a "
                             f"recording Tandem can use); export it again as mono or stereo.")
    if frames < 0 or frames > max_seconds * rate:
        raise AudioFileError(f"{label} is {frames / rate:.0f} s long, more than the {max_seconds:.0f} s Tandem "
                             f"reads; cut it shorter.")
    if frames * channels > MAX_SAMPLES:
        raise AudioFileError(f"{label} holds {frames * channels} samples ({channels} channels), more than the "
                             f"{MAX_SAMPLES} Tandem decodes at once; save it as mono, or cut it shorter.")
