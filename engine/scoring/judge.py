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

import datetime as dt
from collections.abc import Sequence
from typing import Any

from engine.scoring.display import TRIAL_SCORES, format_score
from engine.scoring.objectives import Objective, SessionResult, evaluate_session, objective_status
from engine.scoring.words import BOOL_METRIC_PHRASES, bool_phrase, format_half_up, metric_display

__all__ = ["judge_objectives", "judge_visit", "objective_label", "trial_line"]


def judge_objectives(script: Any, results: Sequence[Any], plan_objectives: Sequence[Objective] = ()) -> list[dict]:
    """Each of the script's objectives, then each of the plan's that it measures, judged on one activity's
    results alone (the live session screen's running figures): :func:`judge_visit` of that one activity.

    Returns per objective: ``id``, ``source`` (``script`` or ``plan``), ``script`` (a script's objective: the
    file's stem), ``status``, ``sentence``, ``value`` (this session's) and ``met`` (None: too few trials to
    judge). A plan objective whose metric the script's kind does not produce (the plan names a script that
    cannot measure it) has status ``not_measured``.
    """
    return judge_visit([(script, results, plan_objectives)])


def judge_visit(activities: Sequence[tuple[Any, Sequence[Any], Sequence[Objective]]],
                history: dict[str, list[tuple[dt.date | None, SessionResult]]] | None = None, *,
                date: dt.date | None = None) -> list[dict]:
    """A visit's objectives, each judged once over every activity of the visit that measures it.

    ``activities``: per activity that ran a script, in the visit's order, ``(script, results,
    plan_objectives)``: the checked script, its results (anything with a ``trial``), and the plan's objectives
    it measures. A script's own objectives are judged on
    the trials of every activity that ran that script (the same file); a plan objective on the trials of
    every activity whose plan entry named it and whose trials have its metric (``not_measured`` when none
    has). Returns per objective ``id``, ``source`` (``script`` or ``plan``), ``status``, ``sentence``,
    ``value`` (this visit's), ``met`` (None: too few trials to judge) and, for a script's objective, its
    ``script`` (the file's stem); the scripts' objectives come in the order the scripts first ran, then the
    plan's. ``history`` (earlier
    visits of this run, oldest first, as ``(date, result)``) is keyed ``STEM:ID`` for a script's objective and
    ``plan:ID`` for the plan's, and extended with this visit on ``date``; with dates, mastery needs visits
    on separate days (:func:`~engine.scoring.objectives.objective_status`).
    """

    def status(key: str, obj: Objective, res: SessionResult):
        past = history.setdefault(key, []) if history is not None else []
        past.append((date, res))
        dated = all(d is not None for d, _ in past)
        return objective_status(obj, [r for _, r in past], [d for d, _ in past] if dated else None)

    scripts: dict[str, tuple[Any, list]] = {}
    plans: dict[str, tuple[Objective, list, bool]] = {}
    for script, results, plan_objectives in activities:
        trials = [r.trial for r in results if r.trial is not None]
        key = str(getattr(script, "path", id(script)))
        scripts.setdefault(key, (script, []))[1].extend(trials)
        for obj in plan_objectives:
            first, got, measured = plans.setdefault(obj.id, (obj, [], False))
            try:
                evaluate_session(first, trials)  # does this activity's kind produce its metric?
            except ValueError:
                continue
            got.extend(trials)
            plans[obj.id] = (first, got, True)
    out = []
    for script, trials in scripts.values():
        stem = _stem(script)
        for obj in script.objectives:
            res = evaluate_session(obj, trials)  # checked against its kind when the script loaded
            st = status(f"{stem}:{obj.id}", obj, res)
            out.append({"id": obj.id, "source": "script", "script": stem, "status": st.status,
                        "sentence": st.sentence, "value": res.value, "met": res.met})
    for obj, trials, measured in plans.values():
        if not measured:
            what = (f"This script does not measure {_metric_words(obj.metric)}" if len(activities) == 1
                    else f"No activity of this visit measures {_metric_words(obj.metric)}")
            out.append({"id": obj.id, "source": "plan", "status": "not_measured", "value": None, "met": None,
                        "sentence": f"{what}; the plan should name another script for this objective."})
            continue
        res = evaluate_session(obj, trials)
        st = status(f"plan:{obj.id}", obj, res)
        out.append({"id": obj.id, "source": "plan", "status": st.status, "sentence": st.sentence,
                    "value": res.value, "met": res.met})
    return out


def _stem(script: Any) -> str:
    path = getattr(script, "path", None)
    return path.stem if path is not None else str(getattr(script, "title", ""))


def objective_label(objective: dict) -> str:
    """How a judged objective (from :func:`judge_objectives`) is named in printed summaries."""
    return f"plan objective {objective['id']}" if objective.get("source") == "plan" else str(objective["id"])


def trial_line(kind: str, trial: dict) -> str:
    """One readable line for a scored trial (``n``, ``tempo_bpm``, ``scores``, ``correct``)."""
    shown = [f"{label} {format_score(trial['scores'].get(k), spec)}" for k, label, spec in TRIAL_SCORES.get(kind, ())
             if k in trial["scores"]]
    correct = "—" if trial["correct"] is None else ("correct" if trial["correct"] else "not correct")
    return f"trial {trial['n']:>2} at {format_half_up('{:.0f}', trial['tempo_bpm'])} BPM: {', '.join(shown)}; {correct}"


def _metric_words(metric: str) -> str:
    """What an objective's metric measures, in words (never its key): "whether the child waited for the
    music's turn to end", "the response latency"."""
    if metric in BOOL_METRIC_PHRASES:
        phrase = bool_phrase(metric)
        return f"whether the child {phrase[:1].lower() + phrase[1:]}"
    return f"the {metric_display(metric)[0]}"
