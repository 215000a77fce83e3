"""Stop-and-go scoring: did the child play while the music played, and freeze when it stopped?

A pure function of three times (seconds on the engine clock) and the child's
onsets, so any trial can be re-scored from its log. One call scores one go
span followed by one stop span::

    go_start_s                  stop_s     stop_s+grace                 stop_end_s
      |------- go: play along ----|--grace--|------ stop: stay frozen -----|

``stop_s`` is the moment the child can notice that the music stopped: the
time the next note of the music would have sounded. Onsets in the grace
window after it are the child's reaction time, forgiven: they are neither
go onsets nor a failure to stop.

**The grace** (``grace_ms``, default :data:`STOP_GRACE_MS` = 400 ms) is an
assumption built on stop-signal studies: the stop-signal reaction time
(the time needed to cancel an action already prepared) is about 200–250 ms
in young adults and 250–300 ms in school-age children (Williams, Ponesse,
Schachar, Logan & Tannock 1999, *Developmental Psychology* 35:205–213, a
lifespan stop-signal study; Logan & Cowan 1984 for the race model). A tap
already prepared for the next beat is therefore made anyway; 400 ms is the
children's figure plus about 100 ms of tapping variability. Not fitted to
children playing music.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.scoring.times import as_time

__all__ = ["MIN_GO_ONSETS", "STOP_GRACE_MS", "StopResult", "score_stop"]

#: Forgiven reaction time after the music stops, ms (see the module docstring: an assumption
#: after stop-signal reaction times of children, 250-300 ms, Williams et al. 1999, plus 100 ms).
STOP_GRACE_MS = 400.0
#: Onsets in the go span that count as playing along: two, so that one stray hit is not "playing"
#: (an assumption; with a count-in even a child who needs a cue to join plays more than two).
MIN_GO_ONSETS = 2


@dataclass(frozen=True, slots=True)
class StopResult:
    """Scores of one go span and the stop after it.

    Numbers that cannot be computed are None, never NaN.

    Attributes
    ----------
    correct : bool
        ``stopped and played_during_go``: the trial's pass.
    stopped : bool or None
        No child onset in the stop span after the grace, i.e. none in
        ``[stop_s + grace, stop_end_s)``. None when the child played nothing
        at all in the trial: not playing cannot be told from stopping, so
        such a trial says nothing about stopping (an objective on
        ``stopped`` does not count it, where True would credit a child who
        did not take part).
    played_during_go : bool
        At least :data:`MIN_GO_ONSETS` onsets in ``[go_start_s, stop_s)``.
    go_onsets : int
        Child onsets in ``[go_start_s, stop_s)``.
    onsets_during_stop : int
        Child onsets in ``[stop_s + grace, stop_end_s)`` (after the grace).
    stop_latency_ms : float or None
        The last onset in ``[stop_s, stop_end_s)`` minus ``stop_s``, ms:
        how long the child kept going. 0 when it played in the go span and
        nothing after the stop (it stopped at once); None when it played
        nothing at all in the trial (there was nothing to stop).
    grace_ms : float
        The grace used (a setting, not a metric).
    """

    correct: bool
    stopped: bool | None
    played_during_go: bool
    go_onsets: int
    onsets_during_stop: int
    stop_latency_ms: float | None
    grace_ms: float

    def to_dict(self) -> dict[str, Any]:
        """The result as a plain dict (JSON-ready: ints, floats, None, bool)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def score_stop(go_start_s: float, stop_s: float, stop_end_s: float, child_times: Sequence[float], *,
               grace_ms: float = STOP_GRACE_MS) -> StopResult:
    """Score one go span (``go_start_s`` to ``stop_s``) and the stop span after it (to ``stop_end_s``).

    See :class:`StopResult` for each definition. Onsets outside
    ``[go_start_s, stop_end_s)`` are ignored.

    Parameters
    ----------
    go_start_s : float
        Start of the go span (the window in which playing along counts), seconds.
    stop_s : float
        When the music stopped: when its next note would have sounded, seconds.
    stop_end_s : float
        End of the stop span (the music starts again, or the trial ends), seconds.
    child_times : sequence of float
        The child's onsets, seconds, in any order.
    grace_ms : float
        Forgiven reaction time after ``stop_s``, ms; 0 or more, shorter than the stop span.

    Returns
    -------
    StopResult

    Raises
    ------
    TypeError
        If a boundary is not a number.
    ValueError
        If the times are not finite or not in order, or the grace does not fit the stop span.

    Examples
    --------
    >>> r = score_stop(0.0, 4.0, 7.0, [0.5, 1.0, 1.5, 4.1])
    >>> r.stopped, r.played_during_go, r.go_onsets, round(r.stop_latency_ms, 6)
    (True, True, 3, 100.0)
    """
    go = as_time(go_start_s, "go_start_s")
    stop = as_time(stop_s, "stop_s")
    end = as_time(stop_end_s, "stop_end_s")
    if not go < stop < end:
        raise ValueError("the times must be in order: go_start_s < stop_s < stop_end_s")
    if isinstance(grace_ms, bool) or not math.isfinite(grace_ms) or grace_ms < 0:
        raise ValueError("grace_ms must be zero or a positive number of milliseconds")
    grace_s = float(grace_ms) / 1000.0
    if not stop + grace_s < end:
        raise ValueError(f"grace_ms ({grace_ms:g} ms) leaves nothing of the {end - stop:g} s stop span")
    child = np.asarray(list(child_times), dtype=float)
    if child.ndim != 1 or not np.all(np.isfinite(child)):
        raise ValueError("child_times must be a one-dimensional sequence of finite times in seconds")
    child = np.sort(child)
    go_onsets = int(np.count_nonzero((child >= go) & (child < stop)))
    after = child[(child >= stop) & (child < end)]
    during = int(np.count_nonzero(after >= stop + grace_s))
    played = go_onsets >= MIN_GO_ONSETS
    if after.size:
        latency: float | None = (float(after[-1]) - stop) * 1000.0
    elif go_onsets:
        latency = 0.0
    else:
        latency = None
    stopped = None if latency is None else during == 0
    return StopResult(correct=stopped is True and played, stopped=stopped, played_during_go=played,
                      go_onsets=go_onsets, onsets_during_stop=during, stop_latency_ms=latency,
                      grace_ms=float(grace_ms))
