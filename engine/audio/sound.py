"""A rendered sound: the unit the mixer plays and the sound bank holds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Sound"]


@dataclass(frozen=True, eq=False)
class Sound:
    """A mono sound, rendered once, played many times.

    Parameters
    ----------
    name : str
        The sound bank's name for it (e.g. ``"drum:hi_wood_block"``).
    data : np.ndarray
        float32, 1-D, C-contiguous, read-only samples in [-1, 1].
    sample_rate : int
        Samples per second of ``data``.
    attack_frames : int
        Offset of the audible attack (first sample at 10 % of the peak) from
        the first sample. A cue scheduled at frame F is heard from
        F + attack_frames (plus the output latency), which is what timing
        scores compare taps with.
    """

    name: str
    data: np.ndarray
    sample_rate: int
    attack_frames: int = 0

    def __post_init__(self) -> None:
        data = np.ascontiguousarray(self.data, dtype=np.float32)
        if data.ndim != 1:
            raise ValueError(f"sound {self.name!r} must be mono (1-D), got shape {data.shape}")
        data.setflags(write=False)
        object.__setattr__(self, "data", data)

    @property
    def frames(self) -> int:
        """Length in frames."""
        return int(self.data.shape[0])

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate

    @staticmethod
    def find_attack(data: np.ndarray, fraction: float = 0.1) -> int:
        """First sample whose magnitude reaches ``fraction`` of the peak (0 for silence)."""
        mag = np.abs(np.asarray(data, dtype=np.float32))
        peak = float(mag.max()) if mag.size else 0.0
        if peak <= 0.0:
            return 0
        return int(np.argmax(mag >= fraction * peak))
