"""Fill-in-the-blank scoring: did the child play or sing the note the music left out, and when?

A pure function of the blank's time (when the missing note would have
sounded, seconds on the engine clock) and the child's onsets (pad hits or
voiced onsets from the microphone), so any trial can be re-scored from its
log::

    blank_s - window         blank_s          blank_s + window
         |---------- the fill window -----------|

**The window** is ± half a beat by default (``window_ms=None`` with
``beat_s``): the widest window in which an onset is still nearer to the
blank than to the beats either side of it, so an onset in it belongs to the
blank and not to a neighbouring note. A design choice, not a measured
figure; a script can narrow it (``[fill_in_the_blank] window_beats``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["DEFAULT_WINDOW_BEATS", "BlankResult", "score_blank"]

#: Half-width of the fill window in beats when no window is given (see the module docstring).
DEFAULT_WINDOW_BEATS = 0.5


@dataclass(frozen=True, slots=True)
class BlankResult:
    """Scores of one blank.

    Numbers that cannot be computed are None, never NaN.

    Attributes
    ----------
    correct : bool
        ``filled``: the trial's pass.
    filled : bool
        A child onset within ``[blank_s - window, blank_s + window]``.
    blank_asynchrony_ms : float or None
        The onset nearest to the blank within the window minus ``blank_s``,
        ms (negative = early); None if not filled.
    extra_onsets : int
        Every other onset given to the scorer (the child's window), i.e. all
        onsets but the one that filled the blank.
    window_ms : float
        The half-width used (a setting, not a metric).
    """

    correct: bool
    filled: bool
    blank_asynchrony_ms: float | None
    extra_onsets: int
    window_ms: float

    def to_dict(self) -> dict[str, Any]:
        """The result as a plain dict (JSON-ready: ints, floats, None, bool)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def score_blank(blank_s: float, child_times: Sequence[float], *, window_ms: float | None = None,
                beat_s: float | None = None) -> BlankResult:
    """Score one blank at ``blank_s`` from the child's onsets in the trial's window.

    Parameters
    ----------
    blank_s : float
        When the left-out note would have sounded, seconds.
    child_times : sequence of float
        The child's onsets in the trial's window, seconds, any order; every
        onset that does not fill the blank is an extra.
    window_ms : float, optional
        Half-width of the fill window, ms (above 0). Default: half a beat.
    beat_s : float, optional
        One beat, seconds; needed when ``window_ms`` is not given.

    Returns
    -------
    BlankResult

    Raises
    ------
    ValueError
        If a time is not finite, or neither a positive ``window_ms`` nor ``beat_s`` is given.

    Examples
    --------
    >>> r = score_blank(3.0, [2.0, 3.05], beat_s=0.5)
    >>> r.filled, round(r.blank_asynchrony_ms, 6), r.extra_onsets, r.window_ms
    (True, 50.0, 1, 250.0)
    """
    if isinstance(blank_s, bool) or not isinstance(blank_s, (int, float, np.number)) or not math.isfinite(blank_s):
        raise ValueError("blank_s must be a finite time in seconds")
    if window_ms is None:
        if beat_s is None or isinstance(beat_s, bool) or not math.isfinite(beat_s) or beat_s <= 0:
            raise ValueError("give window_ms, or beat_s (a positive number of seconds) for a half-beat window")
        window_ms = DEFAULT_WINDOW_BEATS * float(beat_s) * 1000.0
    if isinstance(window_ms, bool) or not math.isfinite(window_ms) or window_ms <= 0:
        raise ValueError("window_ms must be a positive number of milliseconds")
    child = np.asarray(list(child_times), dtype=float)
    if child.ndim != 1 or not np.all(np.isfinite(child)):
        raise ValueError("child_times must be a one-dimensional sequence of finite times in seconds")
    offsets = child - float(blank_s)
    inside = np.abs(offsets) <= window_ms / 1000.0 + 1e-12
    if not inside.any():
        return BlankResult(correct=False, filled=False, blank_asynchrony_ms=None, extra_onsets=int(child.size),
                           window_ms=float(window_ms))
    nearest = float(offsets[inside][np.argmin(np.abs(offsets[inside]))])
    return BlankResult(correct=True, filled=True, blank_asynchrony_ms=nearest * 1000.0,
                       extra_onsets=int(child.size) - 1, window_ms=float(window_ms))
