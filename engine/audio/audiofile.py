"""Reading audio files for Tandem: any common format, one clear sentence when it cannot be read.

Used wherever a file of sound comes in: sample sounds in the sound bank,
and recordings for the onset detector run over a file (``tandem onsets``).
soundfile (libsndfile) reads WAV, FLAC, OGG, MP3 and more, at any rate and
sample format (8-bit, 16/24/32-bit, float); the data is returned as float
in −1..1 as the file holds it, mixed down to mono when asked, and resampled
(scipy's polyphase filter) only when a target rate is given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import TandemError

__all__ = ["AudioFileError", "AudioData", "read_audio"]


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
               what: str = "audio file") -> AudioData:
    """Read ``path`` as float32 samples.

    Parameters
    ----------
    mono : bool
        Mix all channels down to one (their mean).
    sample_rate : int, optional
        Resample to this rate; the file's own rate when None.
    what : str
        How error messages name the file ("sample file", "recording", …).

    Raises
    ------
    AudioFileError
        One sentence: the file does not exist, is empty, is not audio Tandem
        can read, or holds invalid samples.
    """
    import soundfile  # ~75 ms to import; only when a file is read

    path = Path(path)
    if not path.is_file():
        raise AudioFileError(f"The {what} {path} does not exist; check the path.")
    if path.stat().st_size == 0:
        raise AudioFileError(f"The {what} {path} is empty (0 bytes).")
    try:
        with soundfile.SoundFile(str(path)) as f:
            fmt, subtype, file_rate, channels = f.format, f.subtype, int(f.samplerate), int(f.channels)
            data = f.read(dtype="float32", always_2d=True)
    except (RuntimeError, OSError, ValueError, TypeError, EOFError):  # LibsndfileError is a RuntimeError
        raise AudioFileError(
            f"The {what} {path} could not be read as audio (corrupt, or a format libsndfile does not know); "
            f"use WAV, FLAC, OGG or MP3."
        ) from None
    if data.shape[0] == 0:
        raise AudioFileError(f"The {what} {path} contains no audio.")
    if not np.all(np.isfinite(data)):
        raise AudioFileError(f"The {what} {path} contains invalid (non-finite) samples.")
    samples = data.mean(axis=1, dtype=np.float64) if mono else data.astype(np.float64)
    rate = file_rate
    if sample_rate is not None and sample_rate != file_rate:
        from scipy.signal import resample_poly  # ~0.9 s to import; only when resampling

        divisor = math.gcd(file_rate, int(sample_rate))
        samples = resample_poly(samples, int(sample_rate) // divisor, file_rate // divisor, axis=0)
        rate = int(sample_rate)
    if mono or samples.ndim == 1:
        samples = samples.reshape(-1)
    return AudioData(np.ascontiguousarray(samples, dtype=np.float32), rate, channels, file_rate, fmt, subtype)
