"""Judging a session's objectives and naming its trials: pure functions of scored trials.

Used by every way a session runs (live, simulated, the assessment) and by
everything that reads one back (re-scoring, reports, the session screen), so
an objective is judged the same way wherever it is shown.

``script`` is anything with ``objectives`` (a checked
:class:`engine.interventions.script.Script`); ``results`` anything with a
``trial`` (an :class:`engine.scoring.objectives.Trial`, or None for a trial
no objective counts), as :class:`engine.interventions.kinds.TrialResult` is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.scoring.display import TRIAL_SCORES, format_score
from engine.scoring.objectives import Objective, SessionResult, evaluate_session, objective_status

__all__ = ["judge_objectives", "objective_label", "trial_line"]


def judge_objectives(script: Any, results: Sequence[Any],
                     history: dict[str, list[SessionResult]] | None = None,
                     plan_objectives: Sequence[Objective] = ()) -> list[dict]:
    """Each of the script's objectives, then each of the plan's that it measures, judged on one session.

    ``history`` (key → earlier sessions' results, oldest first; the key is the
    objective's id, ``plan:ID`` for the plan's) is extended with this
    session's, and the status is over all of them. Returns per objective:
    ``id``, ``source`` (``script`` or ``plan``), ``status``, ``sentence``,
    ``value`` (this session's) and ``met`` (None: too few trials to judge).
    A plan objective whose metric the script's kind does not produce (the
    plan names a script that cannot measure it) has status ``not_measured``.
    """
    trials = [r.trial for r in results if r.trial is not None]
    out = []
    for source, obj in [("script", o) for o in script.objectives] + [("plan", o) for o in plan_objectives]:
        key = obj.id if source == "script" else f"plan:{obj.id}"
        try:
            res = evaluate_session(obj, trials)
        except ValueError:
            if source == "script":
                raise  # a script's own objectives are checked against its kind when it loads
            out.append({"id": obj.id, "source": source, "status": "not_measured", "value": None, "met": None,
                        "sentence": f"This script does not measure {obj.metric}; the plan should name "
                                    f"another script for this objective."})
            continue
        past = history.setdefault(key, []) if history is not None else []
        past.append(res)
        st = objective_status(obj, past)
        out.append({"id": obj.id, "source": source, "status": st.status, "sentence": st.sentence,
                    "value": res.value, "met": res.met})
    return out


def objective_label(objective: dict) -> str:
    """How a judged objective (from :func:`judge_objectives`) is named in printed summaries."""
    return f"plan objective {objective['id']}" if objective.get("source") == "plan" else str(objective["id"])


def trial_line(kind: str, trial: dict) -> str:
    """One readable line for a scored trial (``n``, ``tempo_bpm``, ``scores``, ``correct``)."""
    shown = [f"{label} {format_score(trial['scores'].get(k), spec)}" for k, label, spec in TRIAL_SCORES.get(kind, ())
             if k in trial["scores"]]
    correct = "—" if trial["correct"] is None else ("correct" if trial["correct"] else "not correct")
    return f"trial {trial['n']:>2} at {trial['tempo_bpm']:.0f} BPM: {', '.join(shown)}; {correct}"
