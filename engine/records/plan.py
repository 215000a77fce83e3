"""The child's plan: goals in five domains, measurable objectives, phases.

One TOML file per child at ``<data dir>/plans/<child id>.toml``, readable by
the user alone (0600 in a 0700 folder). A plan is data: nothing in it is ever
executed. ``tandem plan new ID`` writes a commented template to edit::

    id = "C07"                       # the pseudonymous id used everywhere
    display_name = "Sam"             # optional; shown only with --names
    therapist = "J. Rivera, MT-BC"   # optional
    service = "Individual music therapy, 45 min weekly"   # optional, printed on reports
    diagnosis = "Autism spectrum disorder (referral)"      # optional, printed on reports
    mastery_gap_days = 1   # optional: mastery needs visits at least this many days apart (default 1: separate days)

    [[phases]]
    name = "baseline"                # baseline, intervention or maintenance
    start = 2026-09-01

    [[goals]]
    domain = "motor"                 # communication, cognition, socialization, motor, sensory
    description = "Keeps a steady beat with the music."

    [[goals.objectives]]
    id = "steady-beat"
    description = "Taps within 80 ms of the beat on 70 % of beats."
    metric = "within_window_pct"
    aggregate = "mean"
    comparator = ">="
    threshold = 70
    scripts = ["steady-beat-march"]  # the scripts (file names or stems) that measure it
    target_date = 2026-12-15
    baseline = 45                    # optional: the starting level in the session figure's unit
    baseline_date = 2026-09-01       # optional, with baseline_source: where it was measured

    [[cancelled]]                    # optional: a planned visit that did not take place
    date = 2026-10-14
    reason = "child ill"

An objective takes the fields of :class:`engine.scoring.objectives.Objective`
(``max_prompt`` too) plus ``description``, ``scripts``, ``target_date``,
``baseline`` (with ``baseline_date`` and ``baseline_source``: the starting
level in the unit of the objective's session figure, written by ``tandem plan
accept`` from the assessment) and ``probes``: the assessment tasks (ids such as ``"stop_and_go"``, see
``docs/assessment.md``) whose probe sessions measure it. Assessment probes are
never a treatment data point; only a task named here gives the objective
points, labelled *baseline* (a sensory probe is rated, not scored, so it
cannot be named).
:func:`load_plan` checks everything and raises :class:`PlanError` with one
sentence per problem, each naming ``file:line`` and the field, as scripts do.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import math
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import ConfigError
from engine.fileread import TEXT_LIMIT, decode_text, read_bytes
from engine.ids import check_child_id  # the one child-id check, re-exported here
from engine.interventions.script import ALL_METRICS
from engine.interventions.tomlcheck import (
    Checker,
    Problem,
    SyntaxProblem,
    describe,
    did_you_mean,
    objective_problem,
    parse_toml,
)
from engine.paths import write_private
from engine.scoring.objectives import Objective

__all__ = [
    "DOMAINS",
    "PHASES",
    "Cancelled",
    "Goal",
    "Phase",
    "Plan",
    "PlanError",
    "PlanObjective",
    "check_child_id",
    "load_plan",
    "load_plan_file",
    "new_plan",
    "objective_data",
    "parse_plan",
    "plan_hash",
    "plan_objectives_for",
    "plan_path",
    "session_plan_objectives",
]

DOMAINS = ("communication", "cognition", "socialization", "motor", "sensory")
"""The five domains a child's goals are written in."""

PHASES = ("baseline", "intervention", "maintenance")
"""The phases of a plan, in order."""

_PLAN_ONLY = ("description", "scripts", "target_date", "probes", "baseline", "baseline_date", "baseline_source")
_OBJECTIVE_FIELDS = tuple(f.name for f in dataclasses.fields(Objective)) + ("max_prompt",) + _PLAN_ONLY
_FIELDS = {
    "plan": ("id", "display_name", "therapist", "service", "diagnosis", "mastery_gap_days", "min_trials", "goals",
             "phases", "cancelled"),
    "goals": ("domain", "description", "objectives"),
    "goals.objectives": _OBJECTIVE_FIELDS,
    "phases": ("name", "start"),
    "cancelled": ("date", "reason"),
}
_TABLE_NAMES = {"plan": "a plan", "goals": "a [[goals]] entry",
                "goals.objectives": "a [[goals.objectives]] entry", "phases": "a [[phases]] entry",
                "cancelled": "a [[cancelled]] entry"}


class PlanError(ConfigError):
    """A plan has problems; :attr:`problems` holds one sentence for each."""

    def __init__(self, problems: list[str] | tuple[str, ...]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class PlanObjective:
    """One objective of the plan: the scoring definition and what the plan says about it."""

    objective: Objective
    domain: str
    goal: str
    description: str = ""
    scripts: tuple[str, ...] = ()
    target_date: dt.date | None = None
    probes: tuple[str, ...] = ()  # assessment tasks whose probes are its baseline points (see the module docstring)
    baseline: float | None = None  # the baseline in the units of the objective's session figure (docs/reports.md)
    baseline_date: dt.date | None = None
    baseline_source: str = ""  # where the baseline comes from, in words (e.g. the assessment it was measured in)

    @property
    def id(self) -> str:
        return self.objective.id


@dataclass(frozen=True)
class Goal:
    """A goal in one of the five domains, with its objectives."""

    domain: str
    description: str
    objectives: tuple[PlanObjective, ...]


@dataclass(frozen=True)
class Phase:
    """A phase of the plan (baseline, intervention, maintenance) and the day it starts."""

    name: str
    start: dt.date


@dataclass(frozen=True)
class Cancelled:
    """A planned visit that did not take place (attendance in the progress report)."""

    date: dt.date
    reason: str = ""


@dataclass(frozen=True)
class Plan:
    """A checked plan (see the module docstring); read it with :func:`load_plan`."""

    path: Path
    id: str
    sha256: str
    display_name: str | None = None
    therapist: str | None = None
    goals: tuple[Goal, ...] = ()
    phases: tuple[Phase, ...] = ()
    service: str | None = None
    diagnosis: str | None = None
    mastery_gap_days: int = 1  # fewest days between two visits that both count toward mastery (docs/definitions.md)
    cancelled: tuple[Cancelled, ...] = ()  # planned visits that did not take place, oldest first

    @property
    def objectives(self) -> tuple[PlanObjective, ...]:
        """Every objective of every goal, in the order written."""
        return tuple(o for g in self.goals for o in g.objectives)

    def phase_on(self, day: dt.date) -> str | None:
        """The phase a day falls in (the last phase started on or before it), or None."""
        current = None
        for phase in self.phases:
            if phase.start <= day:
                current = phase.name
        return current

    def to_dict(self) -> dict[str, Any]:
        """The plan as plain data (JSON-ready); ``display_name`` included as written."""
        return {
            "id": self.id, "display_name": self.display_name, "therapist": self.therapist,
            "service": self.service, "diagnosis": self.diagnosis, "mastery_gap_days": self.mastery_gap_days,
            "sha256": self.sha256,
            "phases": [{"name": p.name, "start": p.start.isoformat()} for p in self.phases],
            "cancelled": [{"date": c.date.isoformat(), "reason": c.reason} for c in self.cancelled],
            "goals": [{
                "domain": g.domain, "description": g.description,
                "objectives": [{
                    **objective_data(o.objective),
                    "description": o.description, "scripts": list(o.scripts),
                    "target_date": o.target_date.isoformat() if o.target_date else None,
                    "probes": list(o.probes),
                    "baseline": o.baseline,
                    "baseline_date": o.baseline_date.isoformat() if o.baseline_date else None,
                    "baseline_source": o.baseline_source or None,
                } for o in g.objectives],
            } for g in self.goals],
        }


def plan_path(root: str | os.PathLike, child: str) -> Path:
    """Where the child's plan lives: ``<root>/plans/<child>.toml``."""
    return Path(root) / "plans" / f"{check_child_id(child)}.toml"


def plan_hash(plan: Plan | str | os.PathLike) -> str:
    """SHA-256 (hex) of the plan file's bytes: what a session log records as ``plan_sha256``."""
    if isinstance(plan, Plan):
        return plan.sha256
    return hashlib.sha256(read_bytes(plan, what="plan", limit_bytes=TEXT_LIMIT)).hexdigest()


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


class _Checker(Checker):
    def unknown(self, data: dict, kind: str, index: int | None, prefix: str) -> None:
        self.unknown_fields(data, _FIELDS[kind], _TABLE_NAMES[kind], "" if kind == "plan" else kind, index, prefix)

    def text(self, data: dict, key: str, where: tuple, field: str, allowed: str, required: bool) -> str | None:
        if key not in data:
            if required:
                raise self.fail(*where, None, field, f"is missing; write {allowed}")
            return None
        value = data[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(*where, key, field, f"must be {allowed}, not {describe(value)}")
        return value.strip()

    def entries(self, data: dict, key: str, table: str, index: int | None, field: str) -> list[dict]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail(table, index, key, field, f"must be [[{key}]] entries, not {describe(value)}")
        return value

    def build(self, data: dict, path: Path, child: str | None, sha: str) -> Plan:
        self.unknown(data, "plan", None, "")
        top = ("", None)
        pid = self.attempt(self.text, data, "id", top, "id", "the child's pseudonymous id in quotes, e.g. "
                           "id = \"C07\"", True)
        if pid is not None:
            try:
                check_child_id(pid)
                if child is not None and pid != child:
                    self.report("", None, "id", "id", f"is '{pid}', but this is the plan of '{child}' (its file "
                                f"name); make them the same")
            except ConfigError as exc:
                self.report("", None, "id", "id", str(exc)[0].lower() + str(exc)[1:])
        display = self.attempt(self.text, data, "display_name", top, "display_name", "a name in quotes", False)
        therapist = self.attempt(self.text, data, "therapist", top, "therapist",
                                 "the therapist's name and credentials in quotes", False)
        service = self.attempt(self.text, data, "service", top, "service",
                               "the service in quotes, e.g. \"Individual music therapy, 45 min weekly\"", False)
        diagnosis = self.attempt(self.text, data, "diagnosis", top, "diagnosis",
                                 "the diagnosis as the referral states it, in quotes", False)
        gap = self.attempt(self.gap_days, data, default=1)
        self.min_trials = self.attempt(self.default_min_trials, data, default=None)
        phases = self.attempt(self.phases, data, default=())
        cancelled = self.attempt(self.cancelled, data, default=())
        goals = self.attempt(self.goals, data, default=())
        if self.problems:
            raise PlanError(self.problems)
        return Plan(path=path, id=pid, sha256=sha, display_name=display, therapist=therapist, goals=goals,
                    phases=phases, service=service, diagnosis=diagnosis, mastery_gap_days=gap,
                    cancelled=cancelled)

    min_trials: int | None = None  # the plan's default min_trials for its aggregate objectives (None: 5)

    def default_min_trials(self, data: dict) -> int | None:
        value = data.get("min_trials")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100:
            raise self.fail("", None, "min_trials", "min_trials",
                            f"must be a whole number of trials from 1 to 100 (the fewest counted trials an average, "
                            f"median or share is judged on; default 5), not {describe(value)}")
        return value

    def gap_days(self, data: dict) -> int:
        value = data.get("mastery_gap_days", 1)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 60:
            raise self.fail("", None, "mastery_gap_days", "mastery_gap_days",
                            f"must be a whole number of days from 1 to 60 (1: visits on separate days; 7: a "
                            f"week apart), not {describe(value)}")
        return value

    def phases(self, data: dict) -> tuple[Phase, ...]:
        out: list[Phase] = []
        for i, entry in enumerate(self.entries(data, "phases", "", None, "phases")):
            where = ("phases", i)
            prefix = f"phases[{i + 1}]."
            self.unknown(entry, "phases", i, prefix)
            try:
                name = self.text(entry, "name", where, prefix + "name", "one of " + ", ".join(PHASES), True)
                if name not in PHASES:
                    hint = did_you_mean(name, PHASES, quoted=False)
                    raise self.fail(*where, "name", prefix + "name",
                                    f"'{name}' is not one of {', '.join(PHASES)}{hint}")
                if "start" not in entry:
                    raise self.fail(*where, None, prefix + "start", "is missing; write the day the phase starts, "
                                    "e.g. start = 2026-09-01")
                start = _as_date(entry["start"])
                if start is None:
                    raise self.fail(*where, "start", prefix + "start", "must be a date like 2026-09-01, not "
                                    f"{describe(entry['start'])}")
            except Problem:
                continue
            if out and start <= out[-1].start:
                self.report(*where, "start", prefix + "start", f"is {start}, but phases must be written in the "
                            f"order they start (the one before starts {out[-1].start})")
                continue
            out.append(Phase(name, start))
        return tuple(out)

    def cancelled(self, data: dict) -> tuple[Cancelled, ...]:
        out: list[Cancelled] = []
        for i, entry in enumerate(self.entries(data, "cancelled", "", None, "cancelled")):
            where = ("cancelled", i)
            prefix = f"cancelled[{i + 1}]."
            self.unknown(entry, "cancelled", i, prefix)
            try:
                if "date" not in entry:
                    raise self.fail(*where, None, prefix + "date", "is missing; write the day of the visit that did "
                                    "not take place, e.g. date = 2026-10-14")
                day = _as_date(entry["date"])
                if day is None:
                    raise self.fail(*where, "date", prefix + "date", "must be a date like 2026-10-14, not "
                                    f"{describe(entry['date'])}")
                reason = self.text(entry, "reason", where, prefix + "reason",
                                   "why it did not take place, in quotes, e.g. \"child ill\"", False) or ""
            except Problem:
                continue
            out.append(Cancelled(day, reason))
        return tuple(sorted(out, key=lambda c: c.date))

    def goals(self, data: dict) -> tuple[Goal, ...]:
        out: list[Goal] = []
        ids: set[str] = set()
        n_obj = 0  # [[goals.objectives]] headers are counted over the whole file
        for i, entry in enumerate(self.entries(data, "goals", "", None, "goals")):
            where = ("goals", i)
            prefix = f"goals[{i + 1}]."
            self.unknown(entry, "goals", i, prefix)
            domain = self.attempt(self.text, entry, "domain", where, prefix + "domain",
                                  "one of " + ", ".join(DOMAINS), True)
            if domain is not None and domain not in DOMAINS:
                hint = did_you_mean(domain.lower(), DOMAINS, quoted=False)
                self.report(*where, "domain", prefix + "domain", f"'{domain}' is not one of {', '.join(DOMAINS)}{hint}")
                domain = None
            description = self.attempt(self.text, entry, "description", where, prefix + "description",
                                       "the goal in words, in quotes", False) or ""
            try:
                entries = self.entries(entry, "objectives", "goals", i, prefix + "objectives")
            except Problem:
                entries = []
            objectives = []
            for j, oentry in enumerate(entries):
                index = n_obj
                n_obj += 1
                obj = self.objective(oentry, index, f"{prefix}objectives[{j + 1}].", domain or "", description,
                                     ids)
                if obj is not None:
                    objectives.append(obj)
            out.append(Goal(domain or "", description, tuple(objectives)))
        return tuple(out)

    def objective(self, entry: dict, index: int, prefix: str, domain: str, goal: str,
                  ids: set[str]) -> PlanObjective | None:
        table = "goals.objectives"
        where = (table, index)
        n_before = len(self.problems)
        self.unknown(entry, table, index, prefix)
        if len(self.problems) > n_before:
            return None
        metric = entry.get("metric")
        if isinstance(metric, str) and metric not in ALL_METRICS:
            hint = did_you_mean(metric, ALL_METRICS)
            self.report(*where, "metric", prefix + "metric", f"'{metric}' is not a metric Tandem measures{hint}; "
                        "see docs/scripts.md for the metrics of each kind")
            return None
        core = {k: v for k, v in entry.items() if k not in _PLAN_ONLY}
        if self.min_trials is not None and core.get("criterion", "aggregate") == "aggregate":
            core.setdefault("min_trials", self.min_trials)  # the plan's default for its aggregate objectives
        try:
            objective = Objective.from_dict(core)
        except (ValueError, TypeError) as exc:
            oid = entry.get("id")
            message = objective_problem(exc, oid)
            key = next((k for k in _OBJECTIVE_FIELDS if re.search(rf"\b{k}\b", message) and k in entry), None)
            self.report(*where, key, prefix.rstrip(".") + (f" ({oid})" if isinstance(oid, str) else ""), message)
            return None
        if objective.id in ids:
            self.report(*where, "id", prefix + "id", f"'{objective.id}' is used twice; give each objective its own id")
            return None
        ids.add(objective.id)
        try:
            description = self.text(entry, "description", where, prefix + "description",
                                    "the objective in words, in quotes", False) or ""
            scripts = entry.get("scripts", [])
            if not isinstance(scripts, list) or not all(isinstance(s, str) and s.strip() for s in scripts):
                raise self.fail(*where, "scripts", prefix + "scripts", "must be a list of script names, e.g. "
                                f"[\"echo-drums\"] or [\"content/songs/echo-drums.toml\"], not {describe(scripts)}")
            probes = entry.get("probes", [])
            if not isinstance(probes, list) or not all(isinstance(s, str) and s.strip() for s in probes):
                raise self.fail(*where, "probes", prefix + "probes", "must be a list of assessment task ids, e.g. "
                                f"[\"stop_and_go\"], not {describe(probes)}")
            if any(_task_id(s) == "sensory" for s in probes):
                raise self.fail(*where, "probes", prefix + "probes", "cannot name the sensory probes: they are "
                                "rated by the therapist, not scored, so they measure no objective")
            target = self.day(entry, "target_date", where, prefix, "2026-12-15")
            baseline_date = self.day(entry, "baseline_date", where, prefix, "2026-09-01")
            baseline = entry.get("baseline")
            if baseline is not None and (isinstance(baseline, bool) or not isinstance(baseline, (int, float))
                                         or not math.isfinite(baseline)):
                raise self.fail(*where, "baseline", prefix + "baseline", "must be a number in the units of the "
                                "objective's session figure (a percent of trials for a share or k of n, else the "
                                f"metric's unit), not {describe(baseline)}")
            source = self.text(entry, "baseline_source", where, prefix + "baseline_source",
                               "where the baseline comes from, in quotes", False) or ""
        except Problem:
            return None
        return PlanObjective(objective=objective, domain=domain, goal=goal, description=description,
                             scripts=tuple(s.strip() for s in scripts), target_date=target,
                             probes=tuple(dict.fromkeys(_task_id(s) for s in probes)),
                             baseline=float(baseline) if baseline is not None else None,
                             baseline_date=baseline_date, baseline_source=source)

    def day(self, entry: dict, key: str, where: tuple, prefix: str, example: str) -> dt.date | None:
        if key not in entry:
            return None
        day = _as_date(entry[key])
        if day is None:
            raise self.fail(*where, key, prefix + key, f"must be a date like {example}, not {describe(entry[key])}")
        return day


def _task_id(name: str) -> str:
    """An assessment task's id as a plan may write it: ``stop_and_go``, ``stop-and-go`` or ``Stop_and_go``."""
    return name.strip().lower().replace("-", "_")


def load_plan_file(path: str | os.PathLike, child: str | None = None, *,
                   root: str | os.PathLike | None = None) -> Plan:
    """Read and check a plan file; ``child`` (if given) must match its ``id``.

    Only a regular file of at most :data:`~engine.fileread.TEXT_LIMIT` is read
    (never a device, a FIFO or a folder); with ``root`` (the data folder), a
    plan that is a link leading out of it is refused.

    Raises
    ------
    PlanError
        One sentence per problem, each naming ``file:line`` and the field.
    """
    path = Path(path)
    shown = str(path)
    who = f" for '{child}'" if child else ""
    hint = f"; create one with `tandem plan new {child}`" if child else ""
    try:
        raw = read_bytes(path, what="plan", limit_bytes=TEXT_LIMIT, root=root,
                         missing=f"{shown}: there is no plan{who}{hint}.",
                         too_large="a plan is a few kilobytes of text, so move this file away and write the plan "
                                   "again" + (f" (`tandem plan new {child}`)" if child else ""))
    except ConfigError as exc:
        raise PlanError([str(exc)]) from None
    return parse_plan(raw, path, child)


def parse_plan(raw: bytes, path: str | os.PathLike, child: str | None = None) -> Plan:
    """Check a plan's bytes as the file ``path`` (read, or about to be written); ``child`` as in :func:`load_plan_file`.

    Raises
    ------
    PlanError
        One sentence per problem, each naming ``path:line`` and the field.
    """
    path = Path(path)
    shown = str(path)
    try:
        text = decode_text(raw, shown, what="plan")
        data = parse_toml(text, shown)
    except (ConfigError, SyntaxProblem) as exc:
        raise PlanError([str(exc)]) from None
    return _Checker(text, shown).build(data, path, child, hashlib.sha256(raw).hexdigest())


def load_plan(root: str | os.PathLike, child: str) -> Plan:
    """The child's checked plan from ``<root>/plans/<child>.toml`` (see :func:`load_plan_file`)."""
    return load_plan_file(plan_path(root, child), child, root=root)


def plan_objectives_for(plan: Plan | None, script_path: str | os.PathLike) -> list[Objective]:
    """The plan's objectives that the script measures (its ``scripts`` name the script's file or stem)."""
    if plan is None:
        return []
    return [o.objective for o in plan_entries_for(plan, script_path)]


def session_plan_objectives(root: str | os.PathLike, child: str,
                            script_path: str | os.PathLike) -> tuple[list[Objective], str | None]:
    """The objectives of the child's plan that a session of the script measures, for its summary.

    Returns ``(objectives, warning)``: no plan file gives ``([], None)``; a plan
    that does not check gives ``([], one sentence)``, so the session still runs
    and judges its script's own objectives (the therapist sees why the plan's
    are missing; ``tandem plan show`` lists the problems).
    """
    path = plan_path(root, child)
    if not os.path.lexists(path):  # a plan that is a FIFO, a device or a broken link gets the warning, not silence
        return [], None
    try:
        plan = load_plan_file(path, child, root=root)
    except PlanError as exc:
        n = len(exc.problems)
        return [], (f"The plan {path} has {n} problem{'s' if n != 1 else ''} ({exc.problems[0]}), so this "
                    f"session judges only the script's own objectives; see `tandem plan show {child}`.")
    return plan_objectives_for(plan, script_path), None


def objective_data(objective: Objective) -> dict[str, Any]:
    """An objective as plain data that :meth:`Objective.from_dict` reads back (a log header keeps it)."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(objective).items()}


def plan_entries_for(plan: Plan, script_path: str | os.PathLike) -> list[PlanObjective]:
    """As :func:`plan_objectives_for`, with the plan's own fields (domain, description, ...)."""
    stem = Path(script_path).stem
    return [o for o in plan.objectives if any(Path(s).stem == stem for s in o.scripts)]


_TEMPLATE = '''\
# The plan of child {child}: goals, measurable objectives and phases.
# Tandem reads this file (it is data, never run). Edit it, then check it with
#   tandem plan show {child}
# Lines starting with # are comments. Dates are written 2026-09-01.

id = "{child}"                  # the pseudonymous id: reports use it unless --names is given
# display_name = "First name"   # optional: shown in reports only with --names
# therapist = "Name, MT-BC"     # optional: printed on reports
# service = "Individual music therapy, 45 min weekly"   # optional: printed on reports
# diagnosis = "As the referral states it"               # optional: printed on reports
# mastery_gap_days = 1          # optional: mastery counts visits at least this many days apart (1: separate days)
# min_trials = 5                # optional: the fewest counted trials an average, median or share is judged on

# Phases: baseline, intervention, maintenance, each with the day it starts.
[[phases]]
name = "baseline"
start = {today}

# [[phases]]
# name = "intervention"
# start = 2026-10-01

# Planned visits that did not take place (the progress report's attendance), one entry each:
# [[cancelled]]
# date = 2026-10-14
# reason = "child ill"

# Goals, each in one domain: communication, cognition, socialization, motor, sensory.
# Each objective names a metric a script measures (see docs/scripts.md), how trials
# are judged, and the scripts (file names or stems in content/songs) that measure it.
# The two below are examples: change them to the child's own, or delete them.

[[goals]]
domain = "motor"
description = "Keeps a steady beat with the music."

[[goals.objectives]]
id = "steady-beat"
# An objective reads condition + behaviour + criterion, with the child as its subject:
description = "Given a steady march at 80-100 BPM, {child} will tap within 80 ms of the beat on at least 70 % of beats, in 3 consecutive visits on separate days."
metric = "within_window_pct"      # share of beats hit within the timing window
aggregate = "mean"                # mean over the session's trials
comparator = ">="
threshold = 70
sessions = 3                      # mastered after 3 sessions in a row
scripts = ["steady-beat-march"]
# target_date = 2026-12-15
# baseline = 45                   # optional: where the child started, in the figure's unit (here % of beats)
# baseline_date = 2026-09-01
# baseline_source = "first three visits"

[[goals]]
domain = "communication"
description = "Imitates short rhythms."

[[goals.objectives]]
id = "imitate-rhythms"
description = "Given a 3-beat rhythm played on the drum, {child} will echo it with the right rhythm on 4 of the first 5 trials (on its own or after a gesture), in 3 consecutive visits on separate days."
metric = "correct"
criterion = "k_of_n"              # at least k of the first n trials
k = 4
n = 5
comparator = "=="
threshold = true
max_prompt = "gestural"           # independent and gestural trials count
scripts = ["echo-drums"]
# target_date = 2026-12-15
# probes = ["rhythm_imitation"]   # optional: the assessment task whose probes are its baseline points
'''


def new_plan(root: str | os.PathLike, child: str, *, today: dt.date | None = None) -> Path:
    """Write a commented template plan for ``child`` (0600) and return its path; never overwrites.

    Raises
    ------
    ConfigError
        If the child id is not a safe pseudonymous id, or the child already has a plan.
    DataDirError
        If the plan cannot be written (one sentence).
    """
    path = plan_path(root, child)
    text = _TEMPLATE.format(child=child, today=(today or dt.date.today()).isoformat())
    try:
        # Written whole under a temporary name, then linked in place: a full disk or a kill never leaves an
        # empty or half-written plan.
        return write_private(path, text, replace=False)
    except FileExistsError:
        if _empty_file(path):  # an empty plan (left by a failed write of an older Tandem) holds nothing to keep
            return write_private(path, text)
        raise ConfigError(f"{path}: '{child}' already has a plan; edit it, or move it away to start "
                          "again.") from None


def _empty_file(path: Path) -> bool:
    """Whether ``path`` is a regular file of 0 bytes (never following a link)."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_size == 0
