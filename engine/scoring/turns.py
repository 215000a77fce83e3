"""Turn-taking scoring: did the child wait for the engine, then take the turn?

A pure function of the engine's turn (start and end, seconds on the engine
clock) and the child's onsets, so any trial can be re-scored from its log.
One call scores one hand-over: the engine plays from ``engine_turn_start_s``
to ``engine_turn_end_s``, then hands the turn to the child.

Timeline::

    start   start+grace                 end-grace   end          end+initiate_window
      |--grace--|------- must wait --------|--grace--|------------------|
                                           |<-- child may initiate ---->|

A grace window at each end of the engine's turn forgives a child who is
still finishing the previous phrase or who comes in a moment early; an onset
in the closing grace window counts as initiating the child's turn (with a
negative latency), not as interrupting.

Initiation is judged only after a wait: a child who played during the
engine's turn did not take a turn at the hand-over, however soon after it
the next onset came (it is kept, uncredited, as
``first_onset_after_handover_ms``). A child who played nothing at all has no
response: ``waited`` is None, never True. These definitions, with worked
examples, are in ``docs/definitions.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.scoring.times import as_time

__all__ = ["TurnResult", "score_turn"]


@dataclass(frozen=True, slots=True)
class TurnResult:
    """Scores of one turn exchange.

    Numbers that cannot be computed (the child did not take the turn) are
    None, never NaN.

    Attributes
    ----------
    waited : bool or None
        No child onset during the engine's turn outside the grace windows,
        i.e. none in ``[start + grace_s, end − grace_s)``. None when the
        child played nothing at all, neither during the engine's turn nor in
        its own: silence cannot be told from waiting, so such a trial says
        nothing about waiting (an objective on ``waited`` does not count it,
        where True would credit a child who did not take part).
    onsets_during_turn : int
        Child onsets in that interval (interruptions).
    overlap_ms : float
        Time during the engine's turn that the child was playing over it, ms:
        the length of the union of ``[t, min(t + note_s, end))`` over the
        interrupting onsets ``t``. A lone tap counts ``note_s``; continuous
        playing counts its whole span. 0 exactly when ``waited`` is not False.
    initiated : bool
        The child waited (``waited`` is True) and then played an onset in
        ``[end − grace_s, end + initiate_window_s]``. A child who played
        during the engine's turn did not initiate, whenever it played next.
    initiation_latency_ms : float or None
        First such onset − ``end``, ms (negative = up to ``grace_s`` early).
        None if not initiated.
    first_onset_after_handover_ms : float or None
        The first onset in that window − ``end``, ms, whether or not the child
        waited: the raw timing of an uncredited "initiation". None if there
        was no onset in the window.
    turn_length_notes : int
        Child onsets in the child's turn: from the initiating onset while
        each next onset follows within ``turn_gap_s`` of the previous one
        and lies before ``first + max_turn_s``. 0 if not initiated.
    turn_end_s : float or None
        When the child's turn ended, seconds: the last onset of the turn plus
        ``turn_gap_s`` (the silence that closed it), or ``first + max_turn_s``
        if that comes first. None if not initiated.
    turn_capped : bool
        True if the child's turn was cut at ``max_turn_s``.
    """

    waited: bool | None
    onsets_during_turn: int
    overlap_ms: float
    initiated: bool
    initiation_latency_ms: float | None
    first_onset_after_handover_ms: float | None
    turn_length_notes: int
    turn_end_s: float | None
    turn_capped: bool

    def to_dict(self) -> dict[str, Any]:
        """The result as a plain dict (JSON-ready: ints, floats, None, bool)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _duration(value: float, name: str, *, zero_ok: bool = False) -> float:
    if isinstance(value, bool) or not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
        kind = "zero or a positive" if zero_ok else "a positive"
        raise ValueError(f"{name} must be {kind} number of seconds")
    return float(value)


def score_turn(
    engine_turn_start_s: float,
    engine_turn_end_s: float,
    child_s: Sequence[float],
    *,
    grace_s: float = 0.2,
    initiate_window_s: float = 3.0,
    turn_gap_s: float = 1.5,
    max_turn_s: float = 10.0,
    note_s: float = 0.25,
) -> TurnResult:
    """Score one hand-over from the engine's turn to the child's.

    See :class:`TurnResult` for each definition. Child onsets before the
    engine's turn, and after the child's turn has ended, are ignored.

    Parameters
    ----------
    engine_turn_start_s, engine_turn_end_s : float
        Start and end of the engine's turn, seconds; the end is the hand-over.
    child_s : sequence of float
        The child's onsets, seconds, strictly increasing; may be empty.
    grace_s : float
        Forgiven time at each end of the engine's turn, seconds; twice it
        must be shorter than the turn.
    initiate_window_s : float
        How long after the hand-over the child may start, seconds.
    turn_gap_s : float
        Silence that ends the child's turn, seconds (a gap of exactly this
        length still continues it).
    max_turn_s : float
        Longest child turn, from its first onset, seconds.
    note_s : float
        How long one onset is taken to sound for ``overlap_ms``, seconds.

    Returns
    -------
    TurnResult

    Raises
    ------
    TypeError
        If a turn boundary is not a number.
    ValueError
        If a time is negative or not finite, the child's onsets are unsorted
        or duplicated, the turn does not end after it starts, or a duration
        is out of range.

    Examples
    --------
    >>> r = score_turn(10.0, 14.0, [14.5, 15.0, 15.5])
    >>> r.waited, r.initiated, r.initiation_latency_ms, r.turn_length_notes, r.turn_end_s
    (True, True, 500.0, 3, 17.0)
    """
    start = as_time(engine_turn_start_s, "engine_turn_start_s", negative_ok=False)
    end = as_time(engine_turn_end_s, "engine_turn_end_s", negative_ok=False)
    if not end > start:
        raise ValueError("engine_turn_end_s must be later than engine_turn_start_s")
    child = np.asarray(child_s, dtype=float)
    if child.ndim != 1:
        raise ValueError("child_s must be a one-dimensional sequence of times in seconds")
    if not np.all(np.isfinite(child)):
        raise ValueError("child_s must contain only finite times (no NaN or infinity)")
    if child.size and child.min() < 0:
        raise ValueError("child_s must not contain negative times")
    if child.size > 1 and not np.all(np.diff(child) > 0):
        raise ValueError("child_s must be strictly increasing (sorted, no duplicates)")
    grace_s = _duration(grace_s, "grace_s", zero_ok=True)
    if not 2.0 * grace_s < end - start:
        raise ValueError(f"grace_s ({grace_s:g} s at each end) leaves nothing of the "
                         f"{end - start:g} s engine turn to wait through")
    initiate_window_s = _duration(initiate_window_s, "initiate_window_s")
    turn_gap_s = _duration(turn_gap_s, "turn_gap_s")
    max_turn_s = _duration(max_turn_s, "max_turn_s")
    note_s = _duration(note_s, "note_s")

    # Waiting and overlap.
    during = child[(child >= start + grace_s) & (child < end - grace_s)]
    overlap_s = 0.0
    reach_s = -math.inf  # end of the child's sound counted so far
    for t in during.tolist():
        # Onsets are sorted, so stop >= reach_s: only the new part is added.
        stop = min(t + note_s, end)
        overlap_s += stop - max(t, reach_s)
        reach_s = stop

    # Initiation and the child's turn: judged only after a wait.
    after = child[(child >= end - grace_s) & (child <= end + initiate_window_s)]
    first_ms = (float(after[0]) - end) * 1000.0 if after.size else None
    if after.size == 0 or during.size:
        return TurnResult(
            waited=False if during.size else None, onsets_during_turn=int(during.size),
            overlap_ms=overlap_s * 1000.0, initiated=False, initiation_latency_ms=None,
            first_onset_after_handover_ms=first_ms, turn_length_notes=0, turn_end_s=None, turn_capped=False,
        )
    first = float(after[0])
    cap = first + max_turn_s
    rest = child[child > first].tolist()
    last = first
    notes = 1
    capped = False
    for t in rest:
        if t - last > turn_gap_s:
            break
        if t >= cap:
            capped = True
            break
        last, notes = t, notes + 1
    turn_end = last + turn_gap_s
    if turn_end > cap:
        turn_end, capped = cap, True

    return TurnResult(
        waited=True,
        onsets_during_turn=0,
        overlap_ms=0.0,
        initiated=True,
        initiation_latency_ms=first_ms,
        first_onset_after_handover_ms=first_ms,
        turn_length_notes=notes,
        turn_end_s=turn_end,
        turn_capped=capped,
    )
