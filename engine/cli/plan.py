"""The ``tandem plan`` commands: ``new`` and ``show`` (the plan file), ``suggest``, ``accept`` and ``reject``
(objectives suggested by the latest assessment).

Each takes the data directory ``root`` and an ``echo`` for its output and
returns the exit status; bad input (a bad child id, no assessment, a broken
plan) raises :class:`engine.errors.ConfigError` with one sentence (a broken
plan: one sentence per problem, each naming file:line and field).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Iterable
from typing import Any

from engine.assessment.accept import accept_suggestions, parse_edit, reject_suggestions, suggestions_for
from engine.assessment.results import Assessment, latest_assessment, list_assessments
from engine.assessment.suggest import Suggestions, load_suggestions
from engine.errors import ConfigError
from engine.ids import check_child_id
from engine.paths import data_dir
from engine.records.plan import load_plan, load_plan_file, new_plan
from engine.reports.sentences import criterion_text
from engine.text import escape_json_controls, one_line

__all__ = ["cmd_plan_accept", "cmd_plan_new", "cmd_plan_reject", "cmd_plan_show", "cmd_plan_suggest"]

Echo = Callable[[str], object]


def cmd_plan_new(root: str | os.PathLike, child: str, echo: Echo) -> int:
    """``tandem plan new CHILD``: write a commented template plan to edit."""
    path = new_plan(root, check_child_id(child))
    echo(f"Wrote a plan template for {child}: {path}")
    echo(f"Edit its goals and objectives, then check it with `tandem plan show {child}`.")
    return 0


def cmd_plan_show(root: str | os.PathLike, child: str, as_json: bool, echo: Echo) -> int:
    """``tandem plan show CHILD [--json]``: check the plan and print it."""
    plan = load_plan(root, check_child_id(child))
    if as_json:
        echo(escape_json_controls(json.dumps(plan.to_dict(), indent=2, ensure_ascii=False)))
        return 0
    # The plan's own words are shown one line each, terminal-safe (a plan is a file anyone may have written).
    echo(f"Plan of {plan.id}" + (f" ({one_line(plan.display_name)})" if plan.display_name else "") + f": {plan.path}")
    if plan.therapist:
        echo(f"Therapist: {one_line(plan.therapist)}")
    if plan.phases:
        echo("Phases: " + ", ".join(f"{p.name} from {p.start.isoformat()}" for p in plan.phases))
    if not plan.goals:
        echo("No goals yet.")
    for goal in plan.goals:
        echo(f"{goal.domain.capitalize()}: {one_line(goal.description) or '(no description)'}")
        for o in goal.objectives:
            target = f"; target {o.target_date.isoformat()}" if o.target_date else ""
            scripts = one_line(", ".join(o.scripts)) or "no script yet"
            echo(f"  {one_line(o.id)}: {one_line(o.description) or criterion_text(o.objective)}")
            echo(f"    criterion: {criterion_text(o.objective)}")
            echo(f"    measured by: {scripts}{target}")
    echo(f"The plan is valid (sha256 {plan.sha256[:12]}).")
    return 0


def _latest(root: str | os.PathLike, child: str, include_simulated: bool = False) -> Assessment:
    """The child's latest assessment (a simulated one only with ``include_simulated``); else one plain sentence."""
    assessment = latest_assessment(root, check_child_id(child), include_simulated=include_simulated)
    if assessment is None:
        n = len(list_assessments(root, child))
        if n:
            raise ConfigError(f"'{child}' has only simulated assessment{'s' if n != 1 else ''} ({n}): a simulated "
                              f"child played {'them' if n != 1 else 'it'}, not {child}, so no objective is suggested "
                              f"from {'them' if n != 1 else 'it'}. Run `tandem assess {child}` with the child, or "
                              f"give --include-simulated to use the latest simulated one.")
        raise ConfigError(f"'{child}' has no assessment yet; run `tandem assess {child}` first.")
    return assessment


def cmd_plan_suggest(root: str | os.PathLike, child: str, as_json: bool, echo: Callable[[str], object], *,
                     include_simulated: bool = False) -> int:
    """``tandem plan suggest CHILD [--json] [--include-simulated]``: the latest assessment's suggested objectives
    and their states (a simulated assessment only with ``include_simulated``, and then said so)."""
    assessment = _latest(root, child, include_simulated)
    suggestions = suggestions_for(assessment)
    if as_json:
        echo(escape_json_controls(json.dumps({"assessment": assessment.folder, "simulated": assessment.simulated,
                                              "suggestions": [s.to_dict() for s in suggestions],
                                              "notes": suggestions.notes}, indent=2, ensure_ascii=False)))
        return 0
    if assessment.simulated:
        echo(f"note: this assessment ran with a simulated child (model '{assessment.simulated}'), not {child}: its "
             f"suggestions describe the model.")
    echo(f"Suggested objectives from the assessment of {assessment.date.isoformat()} ({assessment.folder}):")
    if not suggestions:
        echo("  none.")
    for s in suggestions:
        echo(f"  {s.id} [{s.state}] {s.domain}: {s.sentence}")
        echo(f"      why: {s.rationale}")
    for note in suggestions.notes:
        echo(f"note: {note}")
    if any(s.state == "open" for s in suggestions):
        echo(f"Accept with `tandem plan accept {child} S1 S2 [--set S1.threshold=70]`, or reject with "
             f"`tandem plan reject {child} S3`.")
    return 0


def cmd_plan_accept(root: str | os.PathLike, child: str, ids: Iterable[str], sets: Iterable[str],
                    echo: Callable[[str], object], *, include_simulated: bool = False) -> int:
    """``tandem plan accept CHILD ID... [--set ID.FIELD=VALUE]... [--include-simulated]`` (the assessment
    ``plan suggest`` with the same flag showed)."""
    edits: dict[str, dict[str, Any]] = {}
    for text in sets:
        sid, name, value = parse_edit(text)
        edits.setdefault(sid, {})[name] = value
    assessment = _latest(root, child, include_simulated)
    path = accept_suggestions(root, child, assessment, ids, edits=edits)
    plan = load_plan_file(path, child)
    saved = load_suggestions(assessment) or Suggestions()
    for sid in ids:
        s = saved.get(sid)
        if s is not None:
            echo(f"{s.id} is in the plan as {s.plan_id}" + (" (with your changes)." if s.edits else "."))
    if plan.phases:
        echo("Phases: " + ", ".join(f"{p.name} from {p.start.isoformat()}" for p in plan.phases))
    echo(f"Plan: {path} (check it with `tandem plan show {child}`).")
    return 0


def cmd_plan_reject(root: str | os.PathLike, child: str, ids: Iterable[str], echo: Callable[[str], object], *,
                    include_simulated: bool = False) -> int:
    """``tandem plan reject CHILD ID... [--include-simulated]``."""
    reject_suggestions(root, child, _latest(root, child, include_simulated), ids)
    echo(f"Rejected {', '.join(i.upper() for i in ids)}; the plan is unchanged.")
    return 0


def run(args: argparse.Namespace) -> int:
    root = data_dir(args.data_dir)
    if args.plan_cmd == "new":
        return cmd_plan_new(root, args.child, print)
    if args.plan_cmd in ("suggest", "accept", "reject"):

        sim = args.include_simulated
        if args.plan_cmd == "suggest":
            return cmd_plan_suggest(root, args.child, args.json, print, include_simulated=sim)
        if args.plan_cmd == "accept":
            return cmd_plan_accept(root, args.child, args.ids, args.set or [], print, include_simulated=sim)
        return cmd_plan_reject(root, args.child, args.ids, print, include_simulated=sim)
    return cmd_plan_show(root, args.child, args.json, print)
