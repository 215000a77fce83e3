"""Which trials an audio dropout (an xrun) touched: one rule for the live session, re-scoring and reports.

A trial's window runs from its start (``start_s``, its first cue) to its
close (``close_s``, the end of the child's answer window). An xrun is logged
as ``(frame, frames)``: the stream frame where it happened and the frames the
device ran on without a block (the stream clock jumped from ``frame`` to
``frame + frames``). A trial whose window touches one may have heard a cue
late or lost an input, so it is left out of every objective and counted
(:class:`engine.scoring.objectives.Trial`, ``dropout``; docs/visits.md, "Xruns").
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["window_has_xrun"]


def window_has_xrun(xruns: Iterable[tuple[int, int]], start_s: float, close_s: float | None, rate: float) -> bool:
    """Whether any xrun ``(frame, frames)`` lies within the trial window ``[start_s, close_s]`` (seconds of the
    stream; ``close_s`` None: the start alone) at ``rate`` frames per second.

    >>> window_has_xrun([(96_000, 0)], 1.0, 3.0, 48_000)
    True
    >>> window_has_xrun([(48_000, 1_280)], 1.5, 3.0, 48_000)   # over before the trial began
    False
    """
    lo = round(start_s * rate)
    hi = round((close_s if close_s is not None else start_s) * rate)
    return any(frame <= hi and frame + frames >= lo for frame, frames in xruns)
