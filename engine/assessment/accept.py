"""Suggested objectives into the child's plan, only when the therapist accepts them.

:func:`accept_suggestions` appends the accepted objectives of an assessment's
suggestions (:mod:`engine.assessment.suggest`), with the therapist's edits,
to the plan TOML as new ``[[goals]]`` / ``[[goals.objectives]]`` tables
*appended as text*, so the therapist's comments and layout stay as written.
A plan that had no baseline phase gets one starting on the assessment's day
(when that is before its first phase). With no plan yet, the plan is made
from the ``tandem plan new`` template, its example goals commented out (they
were not accepted). Each accepted objective carries its baseline as data
(``baseline``, ``baseline_date``, ``baseline_source``; :func:`baseline_fields`),
so a progress report can show baseline → current → criterion. The edited
plan must load and check (:func:`engine.records.plan.parse_plan`) before it
replaces the old one:
otherwise the file is left as it was and :class:`ConfigError` says why in one
sentence. The file is replaced atomically (0600).

:func:`reject_suggestions` records rejections; the plan is not touched.
Decisions are kept in the assessment's ``suggestions.json``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import tempfile
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from engine.assessment.results import Assessment
from engine.assessment.suggest import (
    DEFAULT_SONGS_DIR,
    Suggestion,
    Suggestions,
    load_suggestions,
    save_suggestions,
    script_metrics,
    songs_path,
    suggest_objectives,
    suggestion_kinds,
    with_state,
)
from engine.errors import ConfigError
from engine.fileread import TEXT_LIMIT, read_text, toml_hazard
from engine.interventions.script import load_script
from engine.paths import write_private
from engine.records.plan import (
    Phase,
    PlanError,
    check_child_id,
    load_plan_file,
    new_plan,
    parse_plan,
    plan_path,
)
from engine.scoring.objectives import BOOL_AGGREGATES, DEFAULT_MIN_TRIALS, Objective

__all__ = [
    "EDITABLE",
    "accept_suggestions",
    "baseline_fields",
    "parse_edit",
    "reject_suggestions",
    "suggestions_for",
]

EDITABLE = ("id", "description", "metric", "aggregate", "comparator", "threshold", "criterion", "k", "n", "sessions",
            "counted_prompts", "max_prompt", "min_trials", "scripts", "target_date")
"""The fields of a suggested objective a therapist may change when accepting it."""

_HEADER = re.compile(r"^\s*\[")
_PHASES_HEADER = re.compile(r"^\s*\[\[\s*phases\s*\]\]")
_GOALS_HEADER = re.compile(r"^\s*\[\[\s*goals\s*\]\]")


def suggestions_for(assessment: Assessment, *, songs_dir: str | os.PathLike = DEFAULT_SONGS_DIR) -> Suggestions:
    """The assessment's saved suggestions, or new ones (then saved, all ``open``)."""
    saved = load_suggestions(assessment)
    if saved is not None:
        return saved
    fresh = suggest_objectives(assessment, songs_dir=songs_dir)
    save_suggestions(assessment, fresh)
    return fresh


def parse_edit(text: str) -> tuple[str, str, Any]:
    """``"S1.threshold=70"`` → ``("S1", "threshold", 70)``: the value is read as TOML (``true``, ``[\"a\"]``,
    ``2026-12-15``), else kept as text. ConfigError (one sentence) when it is not ``ID.FIELD=VALUE``."""
    m = re.fullmatch(r"\s*([A-Za-z]\w*)\.(\w+)\s*=(.*)", text, re.DOTALL)
    if not m:
        raise ConfigError(f"{text!r} is not an edit; write ID.FIELD=VALUE, e.g. S1.threshold=70.")
    raw = m.group(3).strip()
    try:
        if toml_hazard(raw) is not None:  # nested or dotted beyond what tomllib takes safely: kept as text
            raise ValueError(raw)
        value = tomllib.loads(f"v = {raw}")["v"]
    except (ValueError, RecursionError, MemoryError):  # TOMLDecodeError, or a number of thousands of digits
        value = raw
    return m.group(1).upper(), m.group(2), value


def _pick(suggestions: Suggestions, ids: Iterable[str]) -> list[Suggestion]:
    out = []
    for sid in ids:
        s = suggestions.get(sid)
        if s is None:
            known = ", ".join(x.id for x in suggestions) or "none"
            raise ConfigError(f"There is no suggestion {sid!r} for this assessment (the suggestions are {known}).")
        if s not in out:
            out.append(s)
    if not out:
        raise ConfigError("Name at least one suggestion, e.g. S1.")
    return out


# --- TOML text ------------------------------------------------------------------------------------------


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"{value!r} is not a number a plan can hold.")
        return str(int(value)) if value == int(value) and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string: the same escapes
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ConfigError(f"{value!r} cannot be written into a plan.")


def _entry(s: Suggestion) -> dict[str, Any]:
    """The ``[[goals.objectives]]`` fields of a suggestion with its edits, defaults left out."""
    o = s.objective
    entry: dict[str, Any] = {"id": s.plan_id or o.id, "description": s.description, "metric": o.metric}
    if o.criterion != "aggregate":
        entry["criterion"] = o.criterion
    for name in ("aggregate", "k", "n"):
        if getattr(o, name) is not None:
            entry[name] = getattr(o, name)
    entry["comparator"] = o.comparator
    entry["threshold"] = o.threshold
    entry["sessions"] = o.sessions
    if o.counted_prompts != ("independent",):
        entry["counted_prompts"] = list(o.counted_prompts)
    if o.min_trials not in (None, DEFAULT_MIN_TRIALS):
        entry["min_trials"] = o.min_trials
    entry["scripts"] = list(s.scripts)
    for key, value in s.edits.items():
        if key == "max_prompt":
            entry.pop("counted_prompts", None)
        if key == "counted_prompts":
            entry.pop("max_prompt", None)
        entry[key] = value
    if isinstance(entry.get("target_date"), str):
        try:
            entry["target_date"] = dt.date.fromisoformat(entry["target_date"])
        except ValueError:
            pass  # the plan's own check names it
    return entry


def baseline_fields(s: Suggestion, objective: Objective, day: dt.date) -> dict[str, Any]:
    """The plan's ``baseline``, ``baseline_date`` and ``baseline_source`` of an accepted suggestion (its objective
    as accepted, with the therapist's edits), or ``{}`` when the baseline says nothing about what is judged.

    ``baseline`` is in the unit of the objective's session figure: for ``percent_true`` and the ``k_of_n``
    criteria, the percent of the baseline's trials that passed (a share of trials: ``s.baseline``); for
    ``count_true``, how many of them passed; for ``mean``/``median``/``min``/``max``, the baseline figure in
    the metric's unit (the figure × ``s.scale``: a CV of 6.3 % is 0.063 beside a threshold of 0.05). A
    changed metric, or a ``k_of_n`` criterion on a numeric metric (the share of the baseline's trials past
    the threshold is not known), writes nothing.

    >>> from engine.assessment.suggest import Suggestion
    >>> o = Objective(id="w", metric="waited", aggregate="percent_true", comparator=">=", threshold=60)
    >>> s = Suggestion("S1", "socialization", "", "", o, "", (), "", "turn_taking", "waited_pct", 33.3,
    ...                baseline_n=6, baseline_source="assessment of 2026-12-07: waited ... on 2 of 6 turns (33 %)")
    >>> baseline_fields(s, o, dt.date(2026, 12, 7))["baseline"]
    33.3
    """
    original = s.objective
    if objective.metric != original.metric:
        return {}
    share = original.aggregate in BOOL_AGGREGATES  # the baseline figure is a percent of its trials
    if share and (objective.criterion != "aggregate" or objective.aggregate == "percent_true"):
        value = round(s.baseline, 1)
    elif share and objective.aggregate == "count_true":
        if s.baseline_n is None:
            return {}
        value = float(round(s.baseline * s.baseline_n / 100.0))
    elif not share and objective.criterion == "aggregate" and objective.aggregate not in BOOL_AGGREGATES:
        value = round(s.baseline * s.scale, 4)
    else:
        return {}
    out: dict[str, Any] = {"baseline": value, "baseline_date": day}
    if s.baseline_source:
        out["baseline_source"] = " ".join(s.baseline_source.split())
    return out


def _goals_text(accepted: list[tuple[Suggestion, dict[str, Any]]], assessment: Assessment) -> str:
    today = dt.date.today().isoformat()
    title = f"# --- Accepted from the baseline assessment of {assessment.date.isoformat()} (tandem plan accept, {today}) ---"
    lines = ["", title]
    groups: dict[tuple[str, str], list[tuple[Suggestion, dict[str, Any]]]] = {}
    for s, entry in accepted:
        groups.setdefault((s.domain, s.goal), []).append((s, entry))
    for (domain, goal), items in groups.items():
        lines += ["", "[[goals]]", f"domain = {_toml_value(domain)}", f"description = {_toml_value(goal)}"]
        for s, entry in items:
            lines += ["", f"# {s.id}: {s.rationale}"]
            if s.edits:
                lines.append("# Changed by the therapist: " + ", ".join(
                    f"{k} = {_toml_value(v)}" for k, v in s.edits.items()))
            if "baseline" not in entry:
                lines.append("# No baseline is written: as edited, it judges something the baseline did not measure.")
            lines.append("[[goals.objectives]]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in entry.items()]
    return "\n".join(lines) + "\n"


def _comment_out_examples(text: str) -> str:
    """The template's example goals, commented out (nothing enters a plan without the therapist accepting it)."""
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if _GOALS_HEADER.match(line)), None)
    if first is None:
        return text
    out = lines[:first] + ["# (Tandem commented out the template's example goals below: they were not accepted.)"]
    out += [line if not line.strip() or line.lstrip().startswith("#") else f"# {line}" for line in lines[first:]]
    return "\n".join(out) + "\n"


def _template_text(child: str, day: dt.date) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        return _comment_out_examples(new_plan(tmp, child, today=day).read_text("utf-8"))


def _block_start(lines: list[str], i: int) -> int:
    """Where the comment block directly above line ``i`` starts (a header keeps its comments)."""
    while i > 0 and lines[i - 1].lstrip().startswith("#"):
        i -= 1
    return i


def _with_baseline_phase(text: str, phases: tuple, day: dt.date) -> str:
    """Insert ``[[phases]] name = "baseline"`` starting ``day`` where it belongs; unchanged when it cannot go first."""
    if any(p.name == "baseline" for p in phases) or (phases and phases[0].start <= day):
        return text  # a baseline already, or the plan's phases started before this assessment
    lines = text.splitlines()
    block = ["# Baseline phase from the initial assessment (tandem plan accept).", "[[phases]]",
             'name = "baseline"', f"start = {day.isoformat()}", ""]
    header = next((i for i, line in enumerate(lines) if _PHASES_HEADER.match(line)), None)
    if header is None:
        header = next((i for i, line in enumerate(lines) if _HEADER.match(line)), None)
    if header is None:
        return text.rstrip("\n") + "\n\n" + "\n".join(block)
    at = _block_start(lines, header)
    return "\n".join(lines[:at] + block + lines[at:]) + "\n"


def _check_plan(text: str, path: Path, child: str) -> None:
    """ConfigError unless ``text`` checks as the child's plan (before it replaces ``path``)."""
    try:
        parse_plan(text.encode("utf-8"), path, child)
    except PlanError as exc:
        raise ConfigError(f"With these objectives the plan would not check ({exc.problems[0].rstrip('.')}), so "
                          f"{path} was left unchanged.") from None


# --- accept / reject ------------------------------------------------------------------------------------


def _check_edits(s: Suggestion, edit: Mapping[str, Any], songs_dir: Path) -> tuple[Suggestion, Objective]:
    """The suggestion with the edit recorded and the objective it makes, or ConfigError naming the field."""
    bad = [k for k in edit if k not in EDITABLE]
    if bad:
        raise ConfigError(f"{s.id}: {bad[0]!r} cannot be edited; the fields are {', '.join(EDITABLE)}.")
    edits = {**s.edits, **dict(edit)}
    core = {k: v for k, v in _entry(s.__class__(**{**s.__dict__, "edits": edits})).items()
            if k not in ("description", "scripts", "target_date")}
    try:
        objective = Objective.from_dict(core)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{s.id}: {exc} The plan was left unchanged.") from None
    scripts = edits.get("scripts", list(s.scripts))
    kinds = suggestion_kinds(s)
    if isinstance(scripts, list):
        for name in scripts:
            path = Path(name) if str(name).endswith(".toml") else songs_path(songs_dir) / f"{name}.toml"
            try:
                script = load_script(path)
            except (ConfigError, OSError):
                raise ConfigError(f"{s.id}: the script {name!r} cannot be loaded from {songs_dir}; name a script "
                                  f"that exists. The plan was left unchanged.") from None
            # a metric name can be shared by kinds ("correct"): the kind must be the one the suggestion means
            if kinds and script.kind not in kinds:
                raise ConfigError(f"{s.id}: the script {name!r} is a {script.kind} script, but this objective is "
                                  f"measured by {' or '.join(kinds)} scripts. The plan was left unchanged.")
            if objective.metric not in script_metrics(script):
                raise ConfigError(f"{s.id}: the script {name!r} does not measure {objective.metric}; name a script "
                                  f"that does. The plan was left unchanged.")
    return s.__class__(**{**s.__dict__, "edits": edits}), objective


def accept_suggestions(root: str | os.PathLike, child: str, assessment: Assessment, ids: Iterable[str], *,
                       edits: dict[str, dict] | None = None,
                       songs_dir: str | os.PathLike = DEFAULT_SONGS_DIR) -> Path:
    """Append the accepted suggestions (with ``edits``, e.g. ``{"S1": {"threshold": 70}}``) to the child's plan.

    Parameters
    ----------
    root : path
        The data directory (the plan is ``<root>/plans/<child>.toml``).
    child : str
        The child's pseudonymous id (the assessment's).
    assessment : Assessment
        A saved assessment (its folder keeps ``suggestions.json``).
    ids : iterable of str
        Suggestion ids (``S1``, ...), case-insensitive.
    edits : dict or None
        Per id, fields of :data:`EDITABLE` to change before the objective enters the plan.
    songs_dir : path
        Where the scripts are (to check that edited scripts measure the metric).

    Returns
    -------
    Path
        The plan file.

    Raises
    ------
    ConfigError
        One sentence (unknown id, already decided, bad edit, a plan that would
        not check); the plan file is then unchanged.
    """
    check_child_id(child)
    if assessment.child_id != child:
        raise ConfigError(f"This assessment is of '{assessment.child_id}', not '{child}'.")
    suggestions = suggestions_for(assessment, songs_dir=songs_dir)
    chosen = _pick(suggestions, ids)
    edits = {k.strip().upper(): v for k, v in (edits or {}).items()}
    stray = [k for k in edits if k not in {s.id.upper() for s in chosen}]
    if stray:
        raise ConfigError(f"The edit of {stray[0]} applies to a suggestion not being accepted; accept {stray[0]} too, "
                          f"or drop the edit.")
    for s in chosen:
        if s.state in ("accepted", "edited"):
            raise ConfigError(f"{s.id} is already in the plan (as {s.plan_id or s.objective.id}); edit the plan to "
                              f"change it.")

    path = plan_path(root, child)
    if os.path.lexists(path):  # a plan that is a FIFO, a device or a link out of the data folder is refused
        try:
            plan = load_plan_file(path, child, root=root)
            text = read_text(path, what="plan", limit_bytes=TEXT_LIMIT, root=root)
        except ConfigError as exc:  # a PlanError too
            first = exc.problems[0] if isinstance(exc, PlanError) else str(exc)
            raise ConfigError(f"The plan {path} has problems ({first.rstrip('.')}); fix them first "
                              f"(`tandem plan show {child}`), then accept again.") from None
        phases, taken = plan.phases, {o.id for o in plan.objectives}
    else:
        # The template's baseline phase starts on the assessment's day.
        text, phases, taken = _template_text(child, assessment.date), (Phase("baseline", assessment.date),), set()

    accepted: list[tuple[Suggestion, dict[str, Any]]] = []
    for s in chosen:
        s, objective = _check_edits(s, edits.get(s.id.upper(), {}), Path(songs_dir))
        oid = objective.id
        k = 2
        while oid in taken:  # the plan has it already (e.g. from an earlier assessment): a new name
            oid, k = f"{objective.id}-{k}", k + 1
        taken.add(oid)
        s = s.__class__(**{**s.__dict__, "plan_id": oid})
        entry = _entry(s)
        entry["id"] = oid
        if "description" not in s.edits:
            entry["description"] = s.describe(objective)
        entry.update(baseline_fields(s, objective, assessment.date))  # data, for baseline → current → criterion
        accepted.append((s, entry))

    new_text = _with_baseline_phase(text, phases, assessment.date)
    new_text = new_text.rstrip("\n") + "\n" + _goals_text(accepted, assessment)
    _check_plan(new_text, path, child)
    write_private(path, new_text)

    decided = {s.id: with_state(s, "edited" if s.edits else "accepted") for s, _ in accepted}
    save_suggestions(assessment, Suggestions((decided.get(x.id, x) for x in suggestions), suggestions.notes))
    return path


def reject_suggestions(root: str | os.PathLike, child: str, assessment: Assessment, ids: Iterable[str], *,
                       songs_dir: str | os.PathLike = DEFAULT_SONGS_DIR) -> Path:
    """Record that the therapist rejected these suggestions (the plan is not touched); returns ``suggestions.json``.

    Raises
    ------
    ConfigError
        An unknown id, or a suggestion already in the plan (remove it from the plan by editing it).
    """
    check_child_id(child)
    if assessment.child_id != child:
        raise ConfigError(f"This assessment is of '{assessment.child_id}', not '{child}'.")
    del root  # the plan is not read or written: a rejection concerns the suggestion only
    suggestions = suggestions_for(assessment, songs_dir=songs_dir)
    chosen = _pick(suggestions, ids)
    for s in chosen:
        if s.state in ("accepted", "edited"):
            raise ConfigError(f"{s.id} was accepted into the plan (as {s.plan_id or s.objective.id}); to drop it, "
                              f"delete it from the plan.")
    decided = {s.id: with_state(s, "rejected") for s in chosen}
    return save_suggestions(assessment, Suggestions((decided.get(x.id, x) for x in suggestions), suggestions.notes))
