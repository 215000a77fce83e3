"""The kinds of intervention: pure, clock-free planners and scorers.

Each kind is one small class built from a checked :class:`~engine.interventions.script.Script`.
It never touches audio, MIDI or a clock: the runtime asks it for the next
trial's plan, plays the plan's cues, collects the child's events in the plan's
windows and hands them back to be scored; then it lets the kind adapt::

    kind = make_kind(script)                 # with the script's kind table ([turns], [cueing], ...)
    t = start_s
    while not kind.finished:
        plan = kind.next_trial(t)            # cues to schedule, windows to listen in
        ...                                  # play plan.cues; collect the child's events until
                                             # now_s >= close = kind.close_s(plan, events, now_s)
        result = kind.score(plan, events)    # the events up to close: metrics + an objectives Trial
        kind.adapt(result)                   # the script's [adapt] rules
        t = plan.end_s                       # (or close, when it came before plan.child_end_s)

The kinds: :class:`CallAndResponse`, :class:`TurnTaking`,
:class:`RhythmicCueing`, :class:`StopAndGo`, :class:`FillInTheBlank`.

**Logical time.** Every time in a plan is ``anchor_s + b * 60 / tempo_bpm``
where ``b`` is a position in beats counted from the anchor (the plan's start,
or for continuous cueing the start of the run at that tempo): never a sum of
rounded intervals, so nothing drifts.

**Child events** are onset times in seconds on the same clock, or
``(time_s, note)`` pairs (``note``: MIDI pitch, or None / -1 when unknown,
e.g. a microphone onset). Note-offs and therapist keys are the runtime's to
filter out.

**Adaptation** (the script's ``[adapt]``; none: the difficulty never changes):
``up_after`` passed trials in a row make it harder, ``down_after`` failed
trials in a row make it easier; each step resets both runs. A tempo step
multiplies by ``(1 + tempo_step_pct / 100)`` (easier: divides), computed as
``base * (1 + p) ** steps`` from an integer step count so that up and down
steps cancel exactly; the tempo stays within ``min_tempo_bpm``..``max_tempo_bpm``
(a step that would cross a bound stops at it). ``length_step`` notes are added
(harder) or taken away (easier); patterns never shrink below one note.

**Sounds** in cues are sound-bank requests: the script's cue instrument for
the engine's music, ``click:high``/``click`` for the count-in (first beat
high), the prompt's ``your_turn_sound``, and for a lead-in melody on an
unpitched cue instrument ``tone``.
"""

from __future__ import annotations

from typing import Any

from engine.errors import ConfigError
from engine.interventions.kinds.base import (
    COUNT_IN_SOUNDS,
    LEAD_IN_SOUND,
    Cue,
    Kind,
    Pattern,
    TrialPlan,
    TrialResult,
    is_pitched,
    resize,
)
from engine.interventions.kinds.call_and_response import CallAndResponse
from engine.interventions.kinds.fill_in_the_blank import FillInTheBlank
from engine.interventions.kinds.rhythmic_cueing import RhythmicCueing
from engine.interventions.kinds.stop_and_go import StopAndGo
from engine.interventions.kinds.turn_taking import TurnTaking
from engine.interventions.script import Script

__all__ = [
    "COUNT_IN_SOUNDS",
    "KIND_CLASSES",
    "LEAD_IN_SOUND",
    "CallAndResponse",
    "Cue",
    "FillInTheBlank",
    "Kind",
    "Pattern",
    "RhythmicCueing",
    "StopAndGo",
    "TrialPlan",
    "TrialResult",
    "TurnTaking",
    "is_pitched",
    "make_kind",
    "resize",
]

KIND_CLASSES: dict[str, type[Kind]] = {
    "call_and_response": CallAndResponse,
    "turn_taking": TurnTaking,
    "rhythmic_cueing": RhythmicCueing,
    "stop_and_go": StopAndGo,
    "fill_in_the_blank": FillInTheBlank,
}


def make_kind(script: Script, *, seed: int | None = None, **options: Any) -> Kind:
    """The kind a script names, built from it (its kind table's settings, then ``options``).

    Raises
    ------
    ConfigError
        For a kind that is not built yet, as one sentence (every kind of
        :data:`~engine.interventions.script.KINDS` is built now).
    """
    cls = KIND_CLASSES.get(script.kind)
    if cls is None:
        raise ConfigError(f"{script.path}: kind '{script.kind}' cannot be run yet; the kinds that run are "
                          f"{', '.join(KIND_CLASSES)}.")
    return cls.from_script(script, seed=seed, **options)
