"""What the child should see now, from a session's trial plans: the phase, the beat and the count.

A pure function of plain facts the session loop already has (the open trial
plans, the stream time, whether the session runs, the last scored trial), so
the mapping from a script's trials to the child's picture is tested here and
the session loop only copies the result into a :class:`~engine.ui.state.ScreenState`.

The picture for a plan (all times on the stream clock, see
``engine.interventions.kinds.TrialPlan``):

- before the engine's part: **count_in** ("Get ready", with the count-in
  beats still to come);
- during the engine's part (``engine_start_s`` to ``engine_end_s``):
  **engine_turn** ("Listen") for the kinds where the child listens first
  (call-and-response, turn-taking), **together** ("Play along") for the
  kinds where the child plays with the music (rhythmic cueing, stop-and-go,
  fill-in-the-blank) — except stop-and-go's silences, which are **wait**;
- after it, while the child's window is open: **child_turn** ("Your turn";
  for rhythmic cueing's continuation: keep going alone), or **wait** for
  stop-and-go (the music stopped: freeze);
- a trial just scored correct: **reward** for ``REWARD_S`` (never over
  the next engine part);
- paused, stopped or completed, or an input device lost: **paused**,
  **done**, **device_lost** whatever the plans say.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.scoring.display import format_score
from engine.ui.state import OBJECTIVE_STATUSES, ObjectiveLine

__all__ = ["LISTEN_FIRST_KINDS", "REWARD_S", "SessionView", "objective_lines", "session_view"]

REWARD_S = 1.2  # how long a correct trial's star stays (a calm acknowledgement, not a show)
LISTEN_FIRST_KINDS = ("call_and_response", "turn_taking")
_PRELUDE_ROLES = ("count_in", "lead_in")
_SILENCE_BEATS = 1.25  # stop-and-go: no music cue for this long is a stop


@dataclass(frozen=True)
class SessionView:
    """The child's picture now: ``phase``; the beat (``bpm``; ``beat_origin_s``, a bar's first beat on the
    **stream** clock: convert it with :func:`engine.ui.state.beat_origin_on_screen_clock`); the count-in
    beats still to come (shown once the count-in has begun, not during a lead-in)."""

    phase: str
    bpm: float = 0.0
    beat_origin_s: float = 0.0
    count_in_remaining: int = 0


def session_view(plans: Sequence[Any], now_s: float, *, kind: str, session_state: str = "running",
                 device_lost: bool = False, last_close_s: float | None = None,
                 last_correct: bool | None = None) -> SessionView:
    """The picture at ``now_s`` (stream seconds) for the open trial ``plans`` (``TrialPlan``s, oldest first).

    ``session_state`` is ``ScriptSession.state`` (running, paused, stopped,
    completed); ``last_close_s`` / ``last_correct`` the close time and
    ``correct`` of the last scored trial.
    """
    current = next((p for p in plans if p.start_s <= now_s < p.end_s), None)
    beat = _beat(current or (plans[0] if plans else None))
    if session_state in ("stopped", "completed"):
        return SessionView("done")
    if session_state == "paused":
        return SessionView("paused")
    if device_lost:
        return SessionView("device_lost", **beat)
    if current is None:
        return SessionView("count_in", **beat)  # before the first plan, or between two: get ready
    spb = 60.0 / current.tempo_bpm
    engine_start = current.engine_start_s if current.engine_start_s is not None else current.child_start_s
    engine_end = current.engine_end_s if current.engine_end_s is not None else engine_start
    rewarding = (last_correct is True and last_close_s is not None and 0.0 <= now_s - last_close_s < REWARD_S)
    if now_s < engine_start:
        if rewarding:
            return SessionView("reward", **beat)
        counts = [c.time_s for c in current.cues if c.role == "count_in"]
        begun = bool(counts) and now_s >= min(counts) - 0.5 * spb  # a lead-in plays first: no number yet
        remaining = sum(1 for t in counts if t > now_s) if begun else 0
        return SessionView("count_in", count_in_remaining=remaining, **beat)
    if now_s < engine_end:
        if kind in LISTEN_FIRST_KINDS:
            return SessionView("engine_turn", **beat)
        if kind == "stop_and_go" and not _music_playing(current, now_s, spb):
            return SessionView("wait", **beat)
        return SessionView("together", **beat)
    if rewarding:
        return SessionView("reward", **beat)
    if now_s < current.child_end_s:
        return SessionView("wait" if kind == "stop_and_go" else "child_turn", **beat)
    return SessionView("count_in", **beat)  # the window closed early: the next trial is coming


def _beat(plan: Any) -> dict[str, Any]:
    if plan is None:
        return {}
    # A plan's prelude starts a bar at start_s, and its cues sit on that beat grid.
    return {"bpm": float(plan.tempo_bpm), "beat_origin_s": float(plan.start_s)}


def _music_playing(plan: Any, now_s: float, spb: float) -> bool:
    """Whether a music cue sounded within the last ``_SILENCE_BEATS`` beats (stop-and-go's go)."""
    return any(now_s - _SILENCE_BEATS * spb < c.time_s <= now_s + 1e-9 for c in plan.cues
               if c.role not in _PRELUDE_ROLES)


def objective_lines(judged: Sequence[dict[str, Any]]) -> tuple[ObjectiveLine, ...]:
    """The strip's objective lines from ``engine.scoring.judge.judge_objectives``'s answer
    (``id``, ``status``, ``value``, ``met``, and ``figure``: the value in its unit, as the reports show it):
    the figure is this session's value so far."""
    lines = []
    for item in judged:
        value = item.get("value")
        figure = ("too few trials yet" if value is None and item.get("met") is None
                  else str(item["figure"]) if item.get("figure") else format_score(value, "{:.3g}"))
        status = item.get("status", "not started")
        lines.append(ObjectiveLine(str(item.get("id", "")), figure,
                                   status if status in OBJECTIVE_STATUSES else "in progress"))
    return tuple(lines)
