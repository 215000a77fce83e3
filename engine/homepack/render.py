"""A song of the homepack rendered offline: the engine's own part at one fixed tempo, as audio for the family.

The script is run exactly as in a session (the one session driver,
:func:`engine.session.driver.run_session`, on the offline backend, sounds
from the :class:`~engine.audio.soundbank.SoundBank`; no child, no log), with three changes made to a
copy of the checked script in memory (nothing is written, nothing executed):

- ``tempo_bpm`` is the child's working tempo and ``[adapt]`` is off, so
  the tempo never changes (adaptation follows the child's playing, and at
  home nobody is listening);
- free play is off (a rhythmic-cueing script would otherwise start with
  seconds of silence waiting for the child to tap);
- the script runs for ``minutes`` instead of its trials (its last trial is
  finished, so the music never stops mid-phrase).

No child plays: the windows where the child answers stay silent, and
turn-taking moves on after its ``initiate_within_s``. The kinds are built
without a seed, so calls, turns and stops follow the script's order
(easiest first) rather than a random one.

The mix is then made comfortable: a gain that brings the loud parts to
:data:`TARGET_RMS_DBFS` but never lets a peak above :data:`PEAK_CEILING_DBFS`,
leading silence trimmed to :data:`LEAD_S`, and a :data:`FADE_S` fade at the end.
"""

from __future__ import annotations

import dataclasses
import io
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import soundfile

from engine.audio.soundbank import SoundBank
from engine.errors import ConfigError
from engine.events import CueEvent
from engine.interventions.kinds import make_kind
from engine.interventions.script import Script
from engine.interventions.sounds import script_sounds
from engine.paths import cache_dir
from engine.session.activities import ScriptActivity
from engine.session.driver import run_session
from engine.session.parts import OfflineStream, Part

__all__ = ["FADE_S", "LEAD_S", "MAX_MINUTES", "PEAK_CEILING_DBFS", "TARGET_RMS_DBFS", "RenderedSong", "encode",
           "fixed_tempo_script", "normalise", "render_song"]

MAX_MINUTES = 10  # a song at home is a few minutes; this bounds the memory a render takes (~25 MB a minute)
SAMPLE_RATE = 48_000
BLOCKSIZE = 512  # the largest the engine takes: a render has no deadline, and cues still start on their frame
TAIL_S = 1.5  # after the last window: the last sound rings out
EXTRA_S = 60.0  # a render stops at minutes + this even if the script has not finished its trial
TARGET_RMS_DBFS = -18.0
PEAK_CEILING_DBFS = -1.0
LEAD_S = 0.25
FADE_S = 0.5
ENCODE_BLOCK = 8192  # frames per write when encoding
ACTIVE_DB = -40.0  # 50 ms windows within this of the loudest count as "playing" for the level


@dataclass(frozen=True)
class RenderedSong:
    """The audio (float32, frames × 2, normalised) and what was played.

    ``gain_db`` is the gain the normalisation applied; ``sound_source`` and
    ``warnings`` are the sound bank's.
    """

    audio: np.ndarray
    sample_rate: int
    tempo_bpm: float
    gain_db: float
    sound_source: str
    warnings: tuple[str, ...] = ()

    @property
    def duration_s(self) -> float:
        return self.audio.shape[0] / self.sample_rate


class _Heard(Part):
    """The heard times of the cues (seconds), to trim the silence before the first."""

    def __init__(self) -> None:
        self.heard_s: list[float] = []

    def on_cue(self, cue: CueEvent) -> None:
        self.heard_s.append(cue.heard_frame / self._rate)

    def start(self, ctx) -> None:
        self._rate = ctx.rate


def fixed_tempo_script(script: Script, tempo_bpm: float, minutes: float) -> Script:
    """A copy of ``script`` at ``tempo_bpm`` with adaptation and free play off, running ``minutes``."""
    options: dict[str, Any] = {k: v for k, v in script.options.items() if k not in ("free_play", "free_play_s")}
    return dataclasses.replace(script, tempo_bpm=float(tempo_bpm), adaptation=None, trials=None,
                               duration_min=float(minutes), options=options)


def render_song(script: Script, tempo_bpm: float, *, minutes: float, sample_rate: int = SAMPLE_RATE,
                soundfont: str | None = None) -> RenderedSong:
    """Render the engine's part of ``script`` at ``tempo_bpm`` for about ``minutes`` (see the module docstring).

    Raises
    ------
    ConfigError
        ``minutes`` not above 0 or above :data:`MAX_MINUTES`; a script the engine cannot play (one sentence).
    SoundBankError
        A sound cannot be rendered.
    """
    if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not 0 < minutes <= MAX_MINUTES:
        raise ConfigError(f"A homepack song lasts more than 0 and at most {MAX_MINUTES} minutes, not {minutes!r}.")
    fixed = fixed_tempo_script(script, tempo_bpm, minutes)
    bank = SoundBank.load(script_sounds(fixed, feedback=False), sample_rate=sample_rate, soundfont=soundfont,
                          cache_dir=cache_dir())
    stream = OfflineStream(sample_rate=sample_rate, blocksize=BLOCKSIZE, ring_s=10.0, tail_s=TAIL_S,
                           sound_memory_s=60.0)
    chunks: list[np.ndarray] = []
    stream.on_audio = lambda block: chunks.append(block.copy())
    heard = _Heard()
    # No log (root None): a render is not a session of the child's. Stopped at minutes + EXTRA_S even if the
    # script has not finished its trial (silencing what sounds with a short fade, never a hard cut).
    run_session(ScriptActivity(fixed, make_kind(fixed), bank), stream=stream, kind="demo", child_id="", root=None,
                parts=[heard], echo=None, duration_s=minutes * 60.0 + EXTRA_S)
    raw = np.concatenate(chunks, axis=0).astype(np.float32, copy=False)
    first = min(heard.heard_s, default=0.0)
    cut = max(0, round((first - LEAD_S) * sample_rate))
    audio, gain_db = normalise(raw[cut:], sample_rate)
    return RenderedSong(audio=audio, sample_rate=sample_rate, tempo_bpm=float(tempo_bpm), gain_db=gain_db,
                        sound_source=bank.source, warnings=tuple(bank.warnings))


def normalise(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, float]:
    """A comfortable level, no clipping, a fade at the end: returns the new audio (float32) and the gain in dB.

    The level is the RMS of the 50 ms windows within :data:`ACTIVE_DB` of the
    loudest (silences between turns do not pull the gain up); the gain brings
    it to :data:`TARGET_RMS_DBFS`, limited so the peak stays at or below
    :data:`PEAK_CEILING_DBFS`. Silence stays silence (gain 0 dB).
    """
    x = np.asarray(audio, dtype=np.float32)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak <= 1e-9:
        return x.copy(), 0.0
    win = max(1, round(0.05 * sample_rate))
    n = x.shape[0] // win
    mono = x.mean(axis=1) if x.ndim == 2 else x
    if n >= 1:
        rms_w = np.sqrt(np.mean(mono[: n * win].reshape(n, win) ** 2, axis=1))
        active = rms_w[rms_w >= rms_w.max() * 10 ** (ACTIVE_DB / 20)]
        level = float(np.sqrt(np.mean(active ** 2)))
    else:
        level = float(np.sqrt(np.mean(mono ** 2)))
    gain = min(10 ** (TARGET_RMS_DBFS / 20) / max(level, 1e-9), 10 ** (PEAK_CEILING_DBFS / 20) / peak)
    y = x * np.float32(gain)
    fade = min(y.shape[0], round(FADE_S * sample_rate))
    if fade > 1:
        ramp = (np.cos(np.linspace(0.0, math.pi / 2, fade)) ** 2).astype(np.float32)  # smooth, to 0 at the end
        y[-fade:] *= ramp[:, None] if y.ndim == 2 else ramp
    return y, 20 * math.log10(gain)


def encode(song: RenderedSong, fmt: str) -> bytes:
    """The song as file bytes: ``wav`` (PCM 16-bit) or ``ogg`` (Vorbis)."""
    if fmt == "wav":
        kind = ("WAV", "PCM_16")
    elif fmt == "ogg":
        if "OGG" not in soundfile.available_formats():
            raise ConfigError("This computer's libsndfile cannot write OGG files; the WAV files are complete.")
        kind = ("OGG", "VORBIS")
    else:
        raise ValueError(f"unknown audio format {fmt!r}")
    buf = io.BytesIO()
    with soundfile.SoundFile(buf, "w", song.sample_rate, song.audio.shape[1], format=kind[0], subtype=kind[1]) as f:
        # In blocks: libsndfile 1.2.2 crashes (SIGSEGV) encoding minutes of Vorbis in one write call.
        for i in range(0, song.audio.shape[0], ENCODE_BLOCK):
            f.write(song.audio[i:i + ENCODE_BLOCK])
    return buf.getvalue()
