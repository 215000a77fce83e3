"""Checking the times handed to the scoring functions (seconds on the engine clock)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["as_time", "as_times"]


def as_time(value: float, name: str, *, negative_ok: bool = True) -> float:
    """One time in seconds as a float, or TypeError/ValueError with one sentence naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{name} must be a time in seconds")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite time (not NaN or infinity)")
    if value < 0 and not negative_ok:
        raise ValueError(f"{name} must not be negative")
    return value


def as_times(values: Sequence[float], name: str, *, increasing: bool = False) -> np.ndarray:
    """``values`` as a 1-D float array of finite times, or ValueError with one sentence naming ``name``.

    With ``increasing``, the times must also be non-negative and strictly increasing (sorted,
    no duplicates): a pattern's onsets, where an out-of-order or doubled time is an error in
    the data, not something to guess about.
    """
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a one-dimensional sequence of times in seconds")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite times (no NaN or infinity)")
    if increasing:
        if arr.size and arr.min() < 0:
            raise ValueError(f"{name} must not contain negative times")
        if arr.size > 1 and not np.all(np.diff(arr) > 0):
            raise ValueError(f"{name} must be strictly increasing (sorted, no duplicates)")
    return arr
