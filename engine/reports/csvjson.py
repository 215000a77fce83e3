"""CSV and JSON exports of a report (documented in ``docs/reports.md``).

CSV files are UTF-8 with a byte-order mark (so spreadsheet programs read
accents and the ± sign correctly), comma-separated, one header row, columns
in a fixed order. Cells hold plain values: numbers (up to 6 decimals, no
exponent for ordinary sizes), ``true``/``false``, text; an empty cell is a
value that was not measured. A list (such as ``failed``) is joined with
``; ``. Nothing is a Python repr.

A text cell that a spreadsheet program would take as a formula (it starts
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return: a script title
``=HYPERLINK(...)``, a note ``-2+3``) is written with a single quote before
it, the OWASP rule against CSV injection, so it shows as the text it is and
never runs. Numbers are never changed: ``-12.5`` stays a number.
"""

from __future__ import annotations

import csv
import io
import json
import math
import numbers
from pathlib import Path
from typing import Any

from engine.scoring.words import format_half_up

__all__ = ["FORMULA_STARTS", "JSON_SCHEMA", "OBJECTIVE_COLUMNS", "TRIAL_COLUMNS", "cell", "objectives_csv",
           "report_json", "spreadsheet_cell", "trials_csv"]

JSON_SCHEMA = "tandem-report/1"
"""The ``schema`` of :func:`report_json`'s document."""

TRIAL_COLUMNS = ("child", "session_date", "session_started", "session_status", "simulated", "probe", "script",
                 "title", "kind", "phase", "trial_n", "trial_index", "trial_phase", "start_s", "tempo_bpm", "correct",
                 "prompt", "activity", "dropout")
"""The fixed columns of ``trials.csv``; every score follows as its own column, ``score_<name>``, by name."""

OBJECTIVE_COLUMNS = ("child", "session_date", "session_started", "session_status", "simulated", "probe", "script",
                     "phase", "objective_source", "objective_id", "domain", "metric", "criterion", "trials",
                     "counted", "prompted", "unscorable", "judged", "passed", "value", "figure", "met", "status",
                     "summary", "not_recorded")
"""The columns of ``objectives.csv``, one row per objective per session."""


def cell(value: Any) -> str:
    """A value as a spreadsheet cell."""
    if value is None:
        return ""
    if isinstance(value, bool) or type(value).__name__ in ("bool", "bool_"):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        text = format_half_up("{:.6f}", value).rstrip("0").rstrip(".")  # half up, as every figure shown
        return "0" if text in ("-0", "") else text
    if isinstance(value, (list, tuple)):
        return "; ".join(cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What a text cell must not start with (OWASP, "CSV Injection"): a spreadsheet would take it as a formula."""


def spreadsheet_cell(value: Any) -> str:
    """:func:`cell`, with text a spreadsheet would run as a formula neutralised (a single quote before it).

    Only text is changed: a number (``-12.5``) is written as the number it is.

    Examples
    --------
    >>> spreadsheet_cell("=1+1"), spreadsheet_cell(-12.5), spreadsheet_cell("-2 ms")
    ("'=1+1", '-12.5', "'-2 ms")
    """
    text = cell(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return text
    if text.lstrip(" ").startswith(FORMULA_STARTS):
        return "'" + text
    return text


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    buf.write("\ufeff")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([spreadsheet_cell(h) for h in header])
    for row in rows:
        writer.writerow([spreadsheet_cell(v) for v in row])
    return buf.getvalue()


def score_names(report) -> list[str]:
    """Every score name of the report's trials, sorted (the score columns' order)."""
    return sorted({k for s in report.sessions for t in s.record.trials for k in t.scores})


def trials_csv(report) -> str:
    """One row per trial of every session in the range."""
    names = score_names(report)
    rows = []
    for s in report.sessions:
        r = s.record
        for t in r.trials:
            # A visit of several activities: each trial names its own activity's script and title.
            act = r.activities[t.activity] if 0 <= t.activity < len(r.activities) else None
            stem, title = (Path(act.script).stem, act.title) if act is not None else (s.stem, r.title)
            rows.append([report.child, s.date.isoformat(), r.started, r.status, s.simulated, s.probe, stem, title,
                         r.kind, s.phase,
                         t.n, t.index, t.phase, t.start_s, t.tempo_bpm, t.correct, t.prompt, t.activity + 1,
                         t.dropout]
                        + [t.scores.get(k) for k in names])
    return _csv(list(TRIAL_COLUMNS) + [f"score_{k}" for k in names], rows)


def _metric(view) -> str:
    return view.objective.metric if view.objective is not None else ""


def objectives_csv(report) -> str:
    """One row per objective per session (sessions in the range that measured it)."""
    rows = []
    for s in report.sessions:
        r = s.record
        for row in s.rows:
            v, res = row.objective, row.result
            script = v.key.split(":")[1] if v.key.startswith("script:") else s.stem  # a script's own objective
            rows.append([report.child, s.date.isoformat(), r.started, r.status, s.simulated, s.probe, script,
                         s.phase, v.source, v.id,
                         v.domain, _metric(v), v.criterion, res.n_trials if res else None,
                         res.counted if res else None, res.excluded_prompted if res else None,
                         res.unscorable if res else None, res.judged if res else None,
                         res.passed if res else None, row.value, row.figure, row.met, row.status, row.summary,
                         res.not_recorded if res else None])
    return _csv(list(OBJECTIVE_COLUMNS), rows)


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/inf become null, tuples lists, numpy scalars plain."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return _clean(value.item())
    return value


def report_json(report) -> str:
    """The report as a JSON document (schema ``tandem-report/1``, see ``docs/reports.md``)."""
    plan = report.plan
    doc = {
        "schema": JSON_SCHEMA,
        "child": report.child,
        "child_id": report.child_id,
        "names": report.names,
        "date_from": report.date_from.isoformat() if report.date_from else None,
        "date_to": report.date_to.isoformat() if report.date_to else None,
        "generated": report.generated.isoformat(timespec="seconds"),
        "engine_version": report.engine_version,
        "therapist": report.therapist,
        "summary": report.summary,
        "include_simulated": report.include_simulated,
        "left_out": {"simulated": report.left_out_simulated, "probes": report.left_out_probes},
        "service": plan.service if plan is not None else None,
        "diagnosis": plan.diagnosis if plan is not None else None,
        "plan": None if plan is None else {
            "sha256": plan.sha256,
            "phases": [{"name": p.name, "start": p.start.isoformat()} for p in plan.phases],
        },
        "discharge": report.discharge,
        "attendance": {
            "held": len(report.treatment_sessions),
            "cancelled": [{"date": c.date.isoformat(), "reason": c.reason or None} for c in report.cancelled],
        },
        "overview": report.overview,
        "recommendations": report.recommendations,
        "home_practice": report.home_practice,
        "next_plan": report.next_plan,
        "sessions": [{
            "n": s.n,
            "log": s.record.path.name if s.record.path.name != "events.jsonl" else s.record.path.parent.name,
            "started": s.record.started,
            "date": s.date.isoformat(),
            "script": s.stem,
            "title": s.record.title,
            "kind": s.record.kind,
            "status": s.record.status,
            "simulated": s.simulated,
            "probe": s.probe,
            "duration_s": s.record.duration_s,
            "phase": s.phase,
            "prompts": s.prompts,
            "setup": s.setup,
            "skipped_lines": s.record.skipped_lines,
            "trials": [{"n": t.n, "index": t.index, "phase": t.phase, "start_s": t.start_s, "close_s": t.close_s,
                        "tempo_bpm": t.tempo_bpm, "correct": t.correct, "prompt": t.prompt, "scores": t.scores,
                        "dropout": t.dropout}
                       for t in s.record.trials],
            "notes": [{"t_s": n.t_s, "trial": n.trial if n.trial > 0 else None, "text": n.text} for n in s.record.notes],
            "note": {**s.chart.to_dict(), "assessment_sentences": s.assessment},
        } for s in report.sessions],
        "objectives": [{
            "key": v.key,
            "source": v.source,
            "id": v.id,
            "domain": v.domain or None,
            "goal": v.goal or None,
            "description": v.description or None,
            "target_date": v.target_date.isoformat() if v.target_date else None,
            "definition": None if v.objective is None else {
                "metric": v.objective.metric, "criterion": v.objective.criterion,
                "aggregate": v.objective.aggregate, "comparator": v.objective.comparator,
                "threshold": v.objective.threshold, "k": v.objective.k, "n": v.objective.n,
                "sessions": v.objective.sessions, "counted_prompts": list(v.objective.counted_prompts),
                "min_trials": v.objective.min_trials,
                "level": dict(v.objective.level)},
            "criterion": v.criterion,
            "status": v.status,
            "consecutive_met": v.consecutive_met,
            "mastered_on": v.mastered_on,
            "regressed_on": v.regressed_on,
            "sentence": v.sentence,
            "notes": v.notes,
            "baseline": v.baseline.to_dict() if v.baseline else None,
            "current": v.current.to_dict() if v.current else None,
            "criterion_level": v.criterion_level if v.objective is not None else None,
            "trend_per_session": v.trend_per_session,
            "trend": v.trend_text or None,
            "sessions": [{
                "session": row.session.n,
                "date": row.session.date.isoformat(),
                "value": row.value,
                "figure": row.figure,
                "trials": row.result.n_trials if row.result else None,
                "counted": row.result.counted if row.result else None,
                "judged": row.result.judged if row.result else None,
                "passed": row.result.passed if row.result else None,
                "met": row.met,
                "status": row.status,
                "summary": row.summary,
                "prompts": row.prompts,
            } for row in v.rows],
        } for v in report.objectives],
    }
    return json.dumps(_clean(doc), indent=1, ensure_ascii=False) + "\n"
