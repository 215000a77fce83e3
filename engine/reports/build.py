"""Progress notes and progress reports from session records.

:func:`build_report` judges every objective (the scripts' own and the plan's)
on every session up to the end of the range, so a status such as *mastered*
counts the sessions before the range too, and writes what was asked for:

* ``report.html`` / ``report.pdf``: the progress report over the range (the
  quarterly report sent home and to the team): title block, summary table of
  objectives and status, timing over the range, a section per objective
  (criterion, per-session table, plot with the criterion line, status and a
  sentence to paste); the HTML page then has a session progress note per
  session;
* ``notes/<session>.html`` and ``notes/<session>.pdf``: each session's
  progress note as a document of its own, for the clinical record;
* ``trials.csv``, ``objectives.csv`` and ``report.json`` (see
  ``docs/reports.md`` and :mod:`engine.reports.csvjson`).

What is the child's treatment data (:func:`select_records`): a simulated
visit (a simulated child played it: ``tandem demo``, ``tandem assess
--simulate``) is left out unless ``include_simulated=True``, and then it is
marked *simulated* wherever it shows (its note's title, banner, sentences
and signature line, the per-session rows, the plots' dates, the title
block, the PDF's page header). An assessment probe (a task of the
battery) is never a treatment data point: it is left out, unless a plan
objective names its task in ``probes``; then it is a point of that
objective only, labelled *baseline* (its phase), and does not count toward
the objective's status.

Privacy: the child is named by the pseudonymous id unless ``names=True``
(then the plan's ``display_name``); every file is written 0600 in folders
made 0700.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import engine
from engine.errors import ConfigError
from engine.paths import ensure_private_dir, write_private
from engine.records.beats import beat_asynchronies
from engine.records.model import SessionRecord
from engine.records.plan import Plan, PlanObjective, plan_entries_for
from engine.records.reader import script_for
from engine.records.soap import ChartNote, read_note
from engine.reports import csvjson, plots, progress
from engine.reports.render import data_uri, environment, html_to_pdf, import_weasyprint
from engine.reports.sentences import (
    axis_label,
    criterion_text,
    prompt_counts,
    session_sentences,
    setup_text,
    simulated_child_text,
    status_label,
)
from engine.scoring.display import TRIAL_SCORES, format_score
from engine.scoring.objectives import (
    BOOL_AGGREGATES,
    Objective,
    SessionResult,
    Trial,
    evaluate_session,
    objective_status,
)
from engine.scoring.words import format_half_up, format_value, metric_display, percent_text

__all__ = ["FORMATS", "ObjectiveView", "Report", "SessionView", "build_note", "build_report", "collect",
           "probe_measures", "select_records", "session_date", "session_started"]

FORMATS = ("html", "pdf", "csv", "json")
"""The formats :func:`build_report` writes."""

_LATENCY_KEYS = (("response_latency_ms", "Response latency"), ("initiation_latency_ms", "Initiation latency"),
                 ("stop_latency_ms", "Stopping latency"))


def session_date(record: SessionRecord) -> dt.date:
    """The day a session started, in the time zone it was logged in."""
    return session_started(record).date()


def session_started(record: SessionRecord) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(record.started)
    except (TypeError, ValueError):
        return dt.datetime(1970, 1, 1)


def _probe_tasks(record: SessionRecord) -> tuple[str, ...]:
    """The assessment tasks a probe's log measured (the header's ``assessment.tasks``, else its script's stem)."""
    assessment = record.header.get("assessment")
    tasks = assessment.get("tasks") if isinstance(assessment, dict) else None
    names = tasks if isinstance(tasks, list) and tasks else [Path(record.script).stem]
    return tuple(str(t).strip().lower().replace("-", "_") for t in names)


def probe_measures(entry: PlanObjective, record: SessionRecord) -> bool:
    """Whether a probe's log is a baseline point of the plan objective ``entry`` (its ``probes`` name the task).

    A sensory probe never is: it is rated by the therapist, not scored (the plan refuses to name it).
    """
    return record.probe and any(t in entry.probes for t in _probe_tasks(record) if t != "sensory")


def select_records(records: Iterable[SessionRecord], plan: Plan | None, *,
                   include_simulated: bool = False) -> tuple[list[SessionRecord], list[SessionRecord]]:
    """The records a child's report judges, and those it leaves out (see the module docstring).

    Kept: every treatment visit that is not simulated (simulated ones too with
    ``include_simulated``), and the probes a plan objective names in ``probes``.
    """
    kept: list[SessionRecord] = []
    left: list[SessionRecord] = []
    entries = plan.objectives if plan is not None else ()
    for r in records:
        if (r.simulated and not include_simulated) or (r.probe and not any(probe_measures(e, r) for e in entries)):
            left.append(r)
        else:
            kept.append(r)
    return kept, left


@dataclass
class SessionView:
    """One session as the report shows it."""

    n: int
    record: SessionRecord
    anchor: str
    started: dt.datetime
    phase: str | None
    prompts: dict[str, int]
    sentences: list[str]
    setup: str = ""
    rows: list[ObjectiveRow] = field(default_factory=list)
    trial_columns: list[tuple[str, str]] = field(default_factory=list)
    trial_rows: list[list[str]] = field(default_factory=list)  # every activity's, in order
    trial_tables: list[dict[str, Any]] = field(default_factory=list)  # per activity: title, columns, rows
    plot: str | None = None
    plot_png: bytes | None = None
    chart: ChartNote = field(default_factory=ChartNote)  # the therapist's parts of the note, signature, amendments
    assessment: list[str] = field(default_factory=list)  # a sentence per objective: progress toward its criterion

    @property
    def date(self) -> dt.date:
        return self.started.date()

    @property
    def stem(self) -> str:
        """The script's short name; a visit of several activities: ``visit``."""
        return Path(self.record.script).stem if len(self.record.activities) <= 1 else "visit"

    @property
    def simulated(self) -> bool:
        """A simulated child played this visit (shown only with ``include_simulated``, marked wherever it shows)."""
        return self.record.simulated

    @property
    def probe(self) -> bool:
        """An assessment probe, shown as a baseline point of the plan objectives that name its task."""
        return self.record.probe

    @property
    def label(self) -> str:
        """The visit's date as the plots show it, marked when simulated."""
        return f"{self.date:%d %b}" + (" (sim.)" if self.simulated else "")


@dataclass
class ObjectiveRow:
    """One objective judged in one session."""

    session: SessionView
    objective: ObjectiveView
    result: SessionResult | None
    value: float | None
    figure: float | None  # what the table and plot show (percent passed for k-of-n)
    figure_text: str
    met: bool | None
    summary: str
    prompts: dict[str, int]
    status: str = ""  # the objective's status as of this session
    consecutive: int = 0  # judged visits in a row that met the criterion, as of this session


@dataclass
class ObjectiveView:
    """One objective over the report's range."""

    key: str
    anchor: str
    source: str  # "plan" or "script"
    source_label: str
    id: str
    objective: Objective | None
    criterion: str
    domain: str = ""
    goal: str = ""
    description: str = ""
    target_date: dt.date | None = None
    rows: list[ObjectiveRow] = field(default_factory=list)
    status: str = "not started"
    sentence: str = "No trials recorded yet."
    consecutive_met: int = 0
    mastered_on: str | None = None  # ISO date of the visit that completed mastery (the latest mastery)
    regressed_on: str | None = None  # ISO date of the first visit after it that did not meet the criterion
    plot: str | None = None
    figure_label: str = ""
    notes: list[str] = field(default_factory=list)
    probes: tuple[str, ...] = ()  # the plan's assessment tasks whose probes are its baseline points
    entry: PlanObjective | None = None  # the plan's objective (None for a script's)
    baseline: progress.Level | None = None
    current: progress.Level | None = None
    trend_per_session: float | None = None  # the figure's unit per visit, over the latest phase (engine.reports.progress)
    trend_text: str = ""
    trend_segments: list[tuple[int, float, int, float]] = field(default_factory=list)
    aim: tuple[float, float, float, float] | None = None

    @property
    def criterion_level(self) -> str:
        """The criterion's figure in words (``at least 60 %``)."""
        return progress.criterion_words(self.objective)


@dataclass
class Report:
    """Everything the templates and exports show."""

    child: str  # as shown: the pseudonymous id, or the display name with names=True
    child_id: str
    names: bool
    date_from: dt.date | None
    date_to: dt.date | None
    generated: dt.datetime
    engine_version: str
    therapist: str | None
    plan: Plan | None
    sessions: list[SessionView]
    objectives: list[ObjectiveView]
    timing_plot: str | None = None
    notes: list[str] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)  # the therapist's summary and recommendations, by paragraph
    include_simulated: bool = False
    left_out_simulated: int = 0  # simulated visits in the range, left out (no include_simulated)
    left_out_probes: int = 0  # assessment probes in the range that no plan objective names, left out
    warnings: list[str] = field(default_factory=list)  # damaged or unreadable visit logs, said on the page
    discharge: bool = False  # a discharge summary instead of a quarterly report
    home_practice: list[str] = field(default_factory=list)  # the homepack's recommendations, given by the caller
    recommendations: list[str] = field(default_factory=list)
    next_plan: list[str] = field(default_factory=list)  # the plan for the next quarter (or after discharge)
    overview: list[str] = field(default_factory=list)  # the generated summary, a sentence per domain

    @property
    def plan_objectives(self) -> list[ObjectiveView]:
        return [v for v in self.objectives if v.source == "plan"]

    @property
    def script_objectives(self) -> list[ObjectiveView]:
        return [v for v in self.objectives if v.source != "plan"]

    @property
    def treatment_sessions(self) -> list[SessionView]:
        """The visits shown that are treatment visits (not assessment probes)."""
        return [s for s in self.sessions if not s.probe]

    @property
    def cancelled(self) -> list[Any]:
        """The plan's cancelled visits in the report's range."""
        if self.plan is None:
            return []
        return [c for c in self.plan.cancelled if (self.first is None or c.date >= self.first)
                and (self.last is None or c.date <= self.last)]

    @property
    def simulated_shown(self) -> int:
        """How many of the sessions shown are simulated visits."""
        return sum(1 for s in self.sessions if s.simulated)

    @property
    def first(self) -> dt.date | None:
        return self.date_from or (self.sessions[0].date if self.sessions else None)

    @property
    def last(self) -> dt.date | None:
        return self.date_to or (self.sessions[-1].date if self.sessions else None)

    @property
    def range_text(self) -> str:
        first, last = self.first, self.last
        if first is None and last is None:
            return "all sessions"
        if first is None:
            return f"up to {last:%d %b %Y}"
        if last is None:
            return f"from {first:%d %b %Y}"
        return f"{first:%d %b %Y} – {last:%d %b %Y}"


def _figure_of(objective: Objective | None, result: SessionResult | None, value: Any) -> tuple[float | None, str]:
    """The session figure the table and plot show, and its text."""
    if objective is None:
        return (float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None,
                format_score(value, "{:.4g}"))
    if result is None or result.met is None and not result.counted:
        return None, "–"
    if objective.criterion == "aggregate" and objective.aggregate not in BOOL_AGGREGATES:
        unit = metric_display(objective.metric)[1]
        if result.value is None:
            return None, "–"
        return result.value, format_value(result.value, unit)
    if objective.criterion == "aggregate" and objective.aggregate == "count_true":
        return result.value, f"{result.passed} of {result.judged}"
    if not result.judged:
        return None, "–"
    pct = 100.0 * result.passed / result.judged
    return pct, f"{result.passed}/{result.judged} ({percent_text(pct)})"


def _plot_spec(objective: Objective | None) -> tuple[float | None, str, bool, bool]:
    """(criterion line, y label, lower is better, percent axis) for an objective's plot."""
    if objective is None:
        return None, "value", False, False
    lower = objective.comparator in ("<", "<=")
    label = axis_label(objective)
    if objective.criterion == "aggregate" and objective.aggregate not in BOOL_AGGREGATES:
        return objective.threshold, label, lower, metric_display(objective.metric)[1] == "%"
    if objective.criterion == "aggregate" and objective.aggregate == "count_true":
        return objective.threshold, label, False, False
    if objective.criterion == "aggregate":
        return objective.threshold, label, False, True
    return 100.0 * objective.k / objective.n, label, False, True


def _trials_of(trials: Iterable[Any]) -> list[Trial]:
    out = []
    for t in trials:
        try:
            out.append(Trial(scores=t.scores, prompt=t.prompt, dropout=t.dropout))
        except ValueError:
            out.append(Trial(scores=t.scores, dropout=t.dropout))
    return out


class _ScriptCache:
    """Scripts' objectives as an activity ran them (its log's own copy: :func:`engine.records.reader.script_for`),
    loaded once per script and hash; None when the log cannot give its script (an older log whose file is
    gone or changed)."""

    def __init__(self) -> None:
        self.cache: dict[tuple[str, Any], tuple[Objective, ...] | None] = {}

    def objectives(self, activity: Any) -> tuple[Objective, ...] | None:
        key = (activity.script, activity.header.get("script_sha256"))
        if key not in self.cache:
            script, _ = script_for({"script": activity.script, **activity.header})
            self.cache[key] = script.objectives if script is not None else None
        return self.cache[key]


def collect(child: str, records: Iterable[SessionRecord], plan: Plan | None, *,
            date_from: dt.date | None = None, date_to: dt.date | None = None, names: bool = False,
            therapist: str | None = None, plots_wanted: bool = True,
            meanwhile: Callable[[], object] | None = None, include_simulated: bool = False,
            unreadable: Sequence[dict[str, Any]] = ()) -> Report:
    """Judge every objective and lay out the report (no files written); ``include_simulated``: see
    :func:`select_records`; ``unreadable``: the listing rows of the child's logs that could not be read
    (:func:`engine.records.index.load_records`), each named in a warning."""
    kept, left = select_records(records, plan, include_simulated=include_simulated)
    ordered = sorted(kept, key=lambda r: (session_started(r).timestamp(), str(r.path)))
    history = [r for r in ordered if date_to is None or session_date(r) <= date_to]
    shown_ids = {id(r) for r in history if date_from is None or session_date(r) >= date_from}
    left_shown = [r for r in left if (date_from is None or session_date(r) >= date_from)
                  and (date_to is None or session_date(r) <= date_to)]
    n_sim = sum(1 for r in left_shown if r.simulated and not include_simulated)  # the rest: probes
    therapist = therapist or (plan.therapist if plan else None) or next(
        (r.header.get("therapist") for r in reversed(history) if r.header.get("therapist")), None)
    shown_name = plan.display_name if (names and plan and plan.display_name) else child

    views: dict[int, SessionView] = {}
    shown: list[SessionView] = []
    for r in history:
        if id(r) not in shown_ids:
            continue
        started = session_started(r)
        prompts = prompt_counts(t.prompt for t in r.trials)
        # A probe shown here is a plan objective's baseline point, whatever the plan's phase on its day.
        view = SessionView(
            n=len(shown) + 1, record=r, anchor=f"session-{len(shown) + 1}", started=started,
            phase="baseline" if r.probe else plan.phase_on(started.date()) if plan else None, prompts=prompts,
            sentences=[], setup=setup_text(r.header, r.kind), chart=read_note(Path(r.path).parent))
        _trial_table(view)
        # The note's counts are its table's rows, so the sentence and the table always agree.
        view.sentences = session_sentences(
            title=r.title or Path(r.script).stem, status=r.status, duration_s=r.duration_s,
            n_trials=len(view.trial_rows), prompts=prompts, skipped_lines=r.skipped_lines, beats=_beats(r),
            played=_played(r), simulated=simulated_child_text(r.header) if r.simulated else None,
            probe=", ".join(_probe_tasks(r)) if r.probe else None, dropouts=sum(1 for t in r.trials if t.dropout))
        shown.append(view)
        views[id(r)] = view

    # (key, label, objective, plan entry or None, the visits and their activities it is judged on)
    specs: list[tuple[str, str, Objective | None, Any, list[tuple[SessionRecord, frozenset[int]]], str]] = []
    scripts = _ScriptCache()
    if plan is not None:
        for entry in plan.objectives:
            # A probe shares its script's stem with treatment scripts (stop-and-go): it counts only where named.
            # A visit counts with the activities whose script the plan names for the objective.
            recs = []
            for r in history:
                if r.probe:
                    acts = frozenset(a.index for a in r.activities) if probe_measures(entry, r) else frozenset()
                else:
                    acts = frozenset(a.index for a in r.activities if entry in plan_entries_for(plan, a.script))
                if acts:
                    recs.append((r, acts))
            specs.append((f"plan:{entry.id}", "Plan", entry.objective, entry, recs, "plan"))
    by_script: dict[str, list[tuple[SessionRecord, frozenset[int]]]] = {}
    for r in history:
        if not r.probe:  # a probe's generated script has no objectives, and is not the treatment script
            stems: dict[str, set[int]] = {}
            for a in r.activities:
                if a.script.endswith(".toml"):  # a song or free play has no objectives
                    stems.setdefault(Path(a.script).stem, set()).add(a.index)
            for stem, acts in stems.items():
                by_script.setdefault(stem, []).append((r, frozenset(acts)))
    for stem, recs in by_script.items():
        last, last_acts = recs[-1]
        title = next((a.title for a in last.activities if a.index in last_acts and a.title), stem)
        defs = scripts.objectives(last.activities[min(last_acts)])
        if defs is None:  # the script cannot be read now: show what the logs say
            ids = list(dict.fromkeys(o.id for r, _ in recs for o in r.objectives if o.source == "script"))
            for oid in ids:
                specs.append((f"script:{stem}:{oid}", f"Script: {title}", None, oid, recs, "script"))
        else:
            for obj in defs:
                specs.append((f"script:{stem}:{obj.id}", f"Script: {title}", obj, None, recs, "script"))

    objectives: list[ObjectiveView] = []
    for k, (key, label, obj, entry, recs, source) in enumerate(specs):
        oid = obj.id if obj is not None else str(entry)
        view = ObjectiveView(
            key=key, anchor=f"objective-{k + 1}", source=source, source_label=label, id=oid, objective=obj,
            criterion=criterion_text(obj) if obj is not None else "As logged (the script cannot be read now).")
        if source == "plan":
            view.domain, view.goal = entry.domain, entry.goal
            view.description, view.target_date = entry.description, entry.target_date
            view.probes, view.entry = entry.probes, entry
        _judge(view, recs, views, entry if source == "script" and obj is None else None,
               min_gap_days=plan.mastery_gap_days if plan is not None else 1)
        if obj is not None:  # worded for the kind of activity that measures it ("Imitated correctly", "±80 ms")
            kind, window = _kind_and_window(recs, obj.metric)
            view.criterion = criterion_text(obj, kind=kind, window_ms=window)
        _levels(view)
        objectives.append(view)
        for row in view.rows:
            row.session.rows.append(row)

    for sv in shown:  # the note's Assessment: the child's plan objectives (the scripts' own when there are none)
        mine = [row for row in sv.rows if row.objective.source == "plan"]
        sv.assessment = [progress.assessment_sentence(row) for row in (mine or sv.rows)]
        scripts = [row for row in sv.rows if row.objective.source != "plan"]
        if mine and scripts:
            met = sum(1 for row in scripts if row.met)
            sv.assessment.append(f"The activities' own objectives: {met} of {len(scripts)} met at this visit "
                                 f"(each is under Objective).")
    report = Report(child=shown_name, child_id=child, names=names, date_from=date_from, date_to=date_to,
                    generated=dt.datetime.now().astimezone(), engine_version=engine.__version__,
                    therapist=therapist, plan=plan, sessions=shown, objectives=objectives,
                    include_simulated=include_simulated,
                    left_out_simulated=n_sim, left_out_probes=len(left_shown) - n_sim,
                    warnings=_warnings(shown, unreadable))
    report.overview = progress.overview(report)
    if plots_wanted:
        _draw(report, meanwhile)
    return report


def _judge(view: ObjectiveView, recs: Sequence[tuple[SessionRecord, frozenset[int]]], views: dict[int, SessionView],
           logged_id: str | None, *, min_gap_days: int = 1) -> None:
    """Fill the objective's rows (visits in the range, each judged on the activities that measure it) and
    status (over every visit up to its end; mastery over visits on separate days)."""
    obj = view.objective
    stem = view.key.split(":")[1] if view.key.startswith("script:") else None
    if obj is None:  # from the logs' summaries only
        last = None
        for r, _ in recs:
            rec = next((o for o in r.objectives if o.source == "script" and o.id == logged_id
                        and (o.script is None or o.script == stem)), None)
            if rec is None:
                continue
            last = rec
            sv = views.get(id(r))
            if sv is not None:
                figure, text = _figure_of(None, None, rec.value)
                view.rows.append(ObjectiveRow(sv, view, None, rec.value if isinstance(rec.value, float) else None,
                                              figure, text, rec.met, rec.sentence, sv.prompts,
                                              status_label(rec.status)))
        if last is not None:
            view.status, view.sentence = status_label(last.status), last.sentence
        return
    results: list[SessionResult] = []
    dates: list[dt.date] = []
    skipped = 0
    baseline: list[SessionRecord] = []
    for r, acts in recs:
        trials = [t for t in r.trials if t.activity in acts]
        try:
            res = evaluate_session(obj, _trials_of(trials))
        except ValueError:
            skipped += 1  # the session's trials do not have this objective's metric
            continue
        if r.probe:
            baseline.append(r)  # a baseline point: shown, but the status is the treatment visits'
        else:
            results.append(res)
            dates.append(session_date(r))
        sv = views.get(id(r))
        if sv is None:
            continue
        figure, text = _figure_of(obj, res, res.value)
        counted_prompts = prompt_counts(trials[o.index].prompt for o in res.trials if o.index < len(trials))
        row = ObjectiveRow(sv, view, res, res.value, figure, text, res.met, res.summary, counted_prompts)
        now = objective_status(obj, results, dates, min_gap_days=min_gap_days)
        row.status, row.consecutive = status_label(now.status), now.consecutive_met
        view.rows.append(row)
    if skipped:
        view.notes.append(f"{skipped} session{'s' if skipped != 1 else ''} of its scripts did not measure "
                          f"{obj.metric} and {'were' if skipped != 1 else 'was'} left out.")
    if baseline:
        days = ", ".join(dict.fromkeys(f"{session_date(r):%d %b %Y}" for r in baseline))
        n = len(baseline)
        view.notes.append(f"{n} assessment probe{'s' if n != 1 else ''} ({days}) "
                          f"{'are shown as baseline points' if n != 1 else 'is shown as a baseline point'} (the "
                          f"plan's probes: {', '.join(view.probes)}); the status counts treatment visits only.")
    st = objective_status(obj, results, dates, min_gap_days=min_gap_days)
    view.status, view.sentence, view.consecutive_met = status_label(st.status), st.sentence, st.consecutive_met
    view.mastered_on, view.regressed_on = st.mastered_on, st.regressed_on


def _kind_and_window(recs: Sequence[tuple[SessionRecord, frozenset[int]]], metric: str) -> tuple[str | None, float | None]:
    """The intervention kind of the latest activity that measured ``metric``, and its timing window (ms) if any."""
    for r, acts in reversed(recs):
        for a in r.activities:
            if a.index in acts and any(metric in t.scores for t in a.trials):
                window = next((_num(t.scores.get("window_ms")) for t in a.trials if _num(t.scores.get("window_ms"))),
                              None)
                return a.intervention or r.header.get("intervention"), window
    return None, None


def _levels(view: ObjectiveView) -> None:
    """Baseline, current level, trend and aim line of an objective (engine.reports.progress)."""
    if view.objective is None:
        return
    view.baseline = progress.baseline_level(view, view.entry)
    view.current = progress.current_level(view)
    view.trend_per_session, view.trend_segments = progress.trend(view)
    view.trend_text = progress.trend_text(view.trend_per_session, view.objective)
    view.aim = progress.aim_positions(view, view.baseline)


def _warnings(shown: Sequence[SessionView], unreadable: Sequence[dict[str, Any]]) -> list[str]:
    """The report's warnings: each damaged visit shown, and each log that could not be read at all."""
    out = []
    for sv in shown:
        if sv.record.status == "damaged":
            out.append(f"The visit of {sv.started:%d %b %Y, %H:%M} has a damaged log ({'; '.join(sv.record.damage)}). "
                       f"It is shown with what its log still holds, and its figures are judged again from that.")
    for row in unreadable:
        folder = Path(str(row.get("path") or "")).parent
        why = "; ".join(str(d) for d in row.get("damage") or []) or "it cannot be read"
        out.append(f"A visit's log could not be read ({why}), so it is not in this report: "
                   f"{folder.parent.name}/{folder.name}.")
    return out


def _trial_table(view: SessionView) -> None:
    """The note's trial tables: one per activity of the visit (its own score columns), titled when several."""
    r = view.record
    several = len(r.activities) > 1
    for a in r.activities:
        # The intervention's kind (the record's ``kind`` is how the session ran: live or demo).
        keys = TRIAL_SCORES.get(a.intervention or r.header.get("intervention") or "", ())
        present = [k for k in keys if any(k[0] in t.scores for t in a.trials)]
        columns = [("n", "Trial"), ("tempo", "Tempo"), ("correct", "Correct"), ("prompt", "Prompt")] + [
            (k, label[:1].upper() + label[1:]) for k, label, _ in present]
        rows = [[str(t.n), format_half_up("{:.0f}", t.tempo_bpm), format_score(t.correct), t.prompt]
                + [format_score(t.scores.get(k), spec) for k, _, spec in present] for t in a.trials]
        if rows or not several:
            view.trial_tables.append({"title": a.title if several else "", "columns": columns, "rows": rows})
        if not view.trial_columns:
            view.trial_columns = columns
        view.trial_rows += rows


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _beats(r: SessionRecord) -> int | None:
    """A rhythmic-cueing session's beats (each of its trials is a bar of them); None for other kinds (a visit:
    its rhythmic-cueing activities' beats)."""
    cueing = [a for a in r.activities if (a.intervention or r.header.get("intervention")) == "rhythmic_cueing"]
    if not cueing or len(cueing) != len(r.activities):
        return None
    return sum(int(_num(t.scores.get("n_cues")) or 0) for a in cueing for t in a.trials) or None


def _played(r: SessionRecord) -> str | None:
    """What a session played when it ran no intervention script (no trials to score); None for a script."""
    name = str(r.script or "")
    if name.lower().endswith((".mid", ".midi")):
        return "a MIDI song"
    return "free play" if name == "free" else None


def _session_panels(r: SessionRecord) -> list[dict[str, Any]]:
    """The note's timing panels: a one-activity session's (timing, then tempo); a visit's, each activity's
    main panel, titled with the activity (at most three are drawn)."""
    if len(r.activities) <= 1:
        return _activity_panels(r, r.activities[0] if r.activities else None, "")
    out = []
    for a in r.activities:
        panels = _activity_panels(r, a, a.title or Path(a.script).stem)  # the activity's name over its panel
        if panels:
            out.append(panels[0])
    return out


def _activity_panels(r: SessionRecord, a: Any, prefix: str) -> list[dict[str, Any]]:
    trials = list(a.trials) if a is not None else list(r.trials)
    n = [t.n for t in trials]

    def title(text: str) -> str:
        return prefix or text  # a visit's panel is titled with its activity; its axis says what it shows

    panels = []
    if any("asynchrony_mean_ms" in t.scores for t in trials):
        window = next((_num(t.scores.get("window_ms")) for t in trials if _num(t.scores.get("window_ms"))), None)
        per_beat = beat_asynchronies(r.path, a.index if prefix else None)
        if per_beat:  # what people would rather look at: every beat, from the log's raw events
            panels.append({"n": list(range(1, len(per_beat) + 1)), "y": per_beat, "band": window, "zero": True,
                           "title": title("Asynchrony per beat"),
                           "ylabel": "asynchrony (ms, − = early)" if prefix else "ms (negative = early)",
                           "xlabel": "beat"})
        else:  # the log's script is gone or changed: the trials' own figures
            panels.append({"n": n, "y": [_num(t.scores.get("asynchrony_mean_ms")) for t in trials],
                           "err": [_num(t.scores.get("asynchrony_sd_ms")) for t in trials], "band": window,
                           "zero": True, "title": title("Asynchrony per trial (mean ± SD)"),
                           "ylabel": "ms (negative = early)"})
    for key, name in _LATENCY_KEYS:
        if any(key in t.scores for t in trials):
            panels.append({"n": n, "y": [_num(t.scores.get(key)) for t in trials], "title": title(f"{name} per trial"),
                           "ylabel": f"{name.lower()} (ms)" if prefix else "ms"})
            break
    tempos = [t.tempo_bpm for t in trials]
    if len(set(tempos)) > 1:
        panels.append({"n": n, "y": tempos, "title": title("Tempo over the session"), "ylabel": "BPM", "step": True})
    return panels


def _conditions(sessions: Sequence[SessionView], key: str) -> list[str | None]:
    """Each visit's condition for ``key`` (:func:`_condition`); by activity alone when the tempi would make more
    than four conditions (a legend of a dozen entries is read by no one)."""
    groups = [_condition(s, key) for s in sessions]
    if len(set(groups)) > 4:
        groups = [_condition(s, key, tempo=False) for s in sessions]
    return groups


def _condition(sv: SessionView, key: str, *, tempo: bool = True) -> str | None:
    """What a visit's figure of ``key`` was measured on: its activities that have it and their tempi
    (``Steady-beat march, 80–120 BPM``), so a plot over visits tells conditions apart."""
    acts = [a for a in sv.record.activities if any(key in t.scores for t in a.trials)]
    if not acts:
        return None
    tempos = [t.tempo_bpm for a in acts for t in a.trials if key in t.scores and t.tempo_bpm]
    names = " + ".join(dict.fromkeys(a.title or Path(a.script).stem for a in acts))
    if not tempos or not tempo:
        return names
    lo, hi = min(tempos), max(tempos)
    span = format_half_up("{:.0f}", lo) if round(lo) == round(hi) else format_half_up("{:.0f}–{:.0f}", lo, hi)
    return f"{names}, {span} BPM"


def _mean(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def _draw(report: Report, meanwhile: Callable[[], object] | None = None) -> None:
    """Every plot of the report. The figures are independent, so they are drawn in parallel (see :func:`_render`);
    ``meanwhile`` runs here while the workers draw."""
    jobs: list[tuple[Any, tuple, dict]] = []
    setters = []
    for view in report.objectives:
        if not view.rows:
            continue
        crit, ylabel, lower, percent = _plot_spec(view.objective)
        marks, last_phase = [], None
        for i, row in enumerate(view.rows):
            # After baseline probes, a plan without phases still gets its phase-change line.
            phase = row.session.phase or ("treatment" if last_phase == "baseline" else None)
            if phase and phase != last_phase:
                marks.append((i, phase))
                last_phase = phase
        days = [row.session.date.isoformat() for row in view.rows]
        mastered = [days.index(view.mastered_on[:10])] if view.mastered_on and view.mastered_on[:10] in days else []
        regressed = ([days.index(view.regressed_on[:10])] if view.regressed_on and view.regressed_on[:10] in days
                     else [])
        aim_label = None
        if view.aim is not None and view.target_date is not None:
            aim_label = f"aim: {view.criterion_level} by {view.target_date:%d %b %Y}"
        jobs.append((plots.objective_plot, (
            [row.session.label for row in view.rows], [row.figure for row in view.rows],
            [row.met for row in view.rows]), {
                "criterion": crit, "ylabel": ylabel, "lower_is_better": lower, "phase_marks": marks,
                "percent": percent, "visit_numbers": [row.session.n for row in view.rows],
                "trends": view.trend_segments, "aim": view.aim, "aim_label": aim_label, "mastered": mastered,
                "regressed": regressed, "prompts": [row.prompts for row in view.rows]}))
        setters.append(lambda png, view=view: setattr(view, "plot", data_uri(png)))
    for sv in report.sessions:
        jobs.append((plots.session_timing_plot, (_session_panels(sv.record),), {}))

        def set_session(png, sv=sv):
            sv.plot_png = png
            sv.plot = data_uri(png)

        setters.append(set_session)
    if len(report.sessions) > 1:
        labels = [s.label for s in report.sessions]
        panels = []
        asy = [_mean(_num(t.scores.get("asynchrony_mean_ms")) for t in s.record.trials) for s in report.sessions]
        if any(v is not None for v in asy):
            sd = [_mean(_num(t.scores.get("asynchrony_sd_ms")) for t in s.record.trials) for s in report.sessions]
            panels.append({"y": asy, "err": sd, "zero": True, "title": "Asynchrony per visit (mean ± SD)",
                           "ylabel": "asynchrony (ms, − = early)",
                           "groups": _conditions(report.sessions, "asynchrony_mean_ms")})
        for key, title in _LATENCY_KEYS:
            lat = [_mean(_num(t.scores.get(key)) for t in s.record.trials) for s in report.sessions]
            if any(v is not None for v in lat):
                panels.append({"y": lat, "title": f"{title} per visit (mean)", "ylabel": f"{title.lower()} (ms)",
                               "groups": _conditions(report.sessions, key)})
                break
        if panels:
            jobs.append((plots.range_timing_plot, (labels, panels),
                         {"visit_numbers": [s.n for s in report.sessions]}))
            setters.append(lambda png: setattr(report, "timing_plot", data_uri(png)))
        else:
            report.timing_plot = None
    for setter, png in zip(setters, _render(jobs, meanwhile)):
        setter(png)


#: Draw in worker processes from this many plots on (below it, starting the workers costs more).
PARALLEL_PLOTS = 6


def _call(job: tuple[Any, tuple, dict]) -> bytes | None:
    fn, args, kwargs = job
    return fn(*args, **kwargs)


def _render(jobs: list[tuple[Any, tuple, dict]], meanwhile: Callable[[], object] | None = None) -> list[bytes | None]:
    """Run the plot jobs, in forked worker processes when there are enough and more than one core.

    Matplotlib draws on one core; the figures of a report share nothing, so
    a quarterly report's two dozen figures take about half the time on two
    cores. Forking keeps the already imported matplotlib (no start-up cost);
    where fork is missing, or anything goes wrong with the workers, the
    figures are drawn here, one after the other. ``meanwhile`` (e.g. importing
    WeasyPrint, 0.4 s) runs in this process while the workers draw, after they
    were forked (so they do not carry it).
    """
    cores = os.cpu_count() or 1
    if len(jobs) >= PARALLEL_PLOTS and cores > 1 and "fork" in multiprocessing.get_all_start_methods():
        try:
            with ProcessPoolExecutor(max_workers=min(cores, 4), mp_context=multiprocessing.get_context("fork")) as ex:
                results = ex.map(_call, jobs, chunksize=max(1, len(jobs) // (2 * min(cores, 4))))
                if meanwhile is not None:
                    meanwhile()
                    meanwhile = None
                return list(results)
        except Exception:  # noqa: BLE001, S110 - a worker problem must not cost the report: draw them here
            pass
    out = [_call(job) for job in jobs]
    if meanwhile is not None:
        meanwhile()
    return out


# --- writing ------------------------------------------------------------------------------------------


def _note_name(sv: SessionView) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", sv.stem) or "session"
    return f"{sv.started:%Y%m%d-%H%M%S}-{stem}"


def render_html(report: Report, *, only: SessionView | None = None, part: str = "all") -> str:
    """The progress report as one self-contained HTML page (plots embedded); ``only``: one session's note.

    ``part``: ``all`` (the report, then every session's note: report.html) or
    ``report`` (without the notes: report.pdf).
    """
    template = environment().get_template("report.html")  # compiled once (the environment caches it)
    return template.render(r=report, only=only, part=part,
                           status_order=("not started", "in progress", "met", "mastered"))


def build_report(child: str, records: Sequence[SessionRecord], plan: Plan | None, *,
                 date_from: dt.date | None = None, date_to: dt.date | None = None,
                 formats: Iterable[str] = FORMATS, out_dir: str | os.PathLike, names: bool = False,
                 therapist: str | None = None, summary: str | None = None,
                 include_simulated: bool = False, unreadable: Sequence[dict[str, Any]] = (),
                 discharge: bool = False, home_practice: Sequence[str] = ()) -> dict[str, list[Path]]:
    """Write the progress report, session notes and exports; the paths written, by format.

    Parameters
    ----------
    child : str
        The child's pseudonymous id.
    records : sequence of SessionRecord
        The child's sessions (any order; those after ``date_to`` are ignored,
        those before ``date_from`` count toward statuses but are not shown).
        Simulated visits and assessment probes are left out as
        :func:`select_records` says.
    plan : Plan or None
        The child's plan: its objectives are reported besides the scripts' own.
    date_from, date_to : date or None
        The range, both days included (None: open).
    formats : iterable of str
        Any of ``html``, ``pdf``, ``csv``, ``json``.
    out_dir : path
        Created 0700 if missing; files are written 0600.
    names : bool
        Show the plan's ``display_name`` instead of the id.
    therapist : str or None
        Printed in the title block (default: the plan's, else the latest log's).
    summary : str or None
        The therapist's summary and recommendations (plain text; paragraphs
        separated by blank lines), printed after the title block.
    include_simulated : bool
        Also report simulated visits (a simulated child played them), each
        marked *simulated* wherever it shows.
    unreadable : sequence of dict
        The child's visit logs that could not be read at all (listing rows
        with ``path`` and ``damage``): each is named in a warning on the
        report's first page, as is every damaged visit shown.
    discharge : bool
        A discharge summary: the status of each objective at discharge and
        what to carry on with, instead of the plan for the next quarter.
    home_practice : sequence of str
        The family's home-practice recommendations (the homepack's), listed
        among the recommendations.

    Raises
    ------
    ConfigError
        An unknown format, or a range that ends before it starts.
    """
    formats = [f.strip().lower() for f in formats if f.strip()]
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ConfigError(f"Unknown report format {bad[0]!r}; choose from {', '.join(FORMATS)}." if bad else
                          f"Give at least one report format: {', '.join(FORMATS)}.")
    if date_from and date_to and date_to < date_from:
        raise ConfigError(f"The report's range ends ({date_to}) before it starts ({date_from}).")
    out = ensure_private_dir(Path(out_dir))
    wants_pages = "html" in formats or "pdf" in formats
    report = collect(child, records, plan, date_from=date_from, date_to=date_to, names=names,
                     therapist=therapist, plots_wanted=wants_pages, include_simulated=include_simulated,
                     meanwhile=import_weasyprint if "pdf" in formats else None, unreadable=unreadable)
    report.summary = [" ".join(p.split()) for p in re.split(r"\n\s*\n", summary or "") if p.strip()]
    report.discharge, report.home_practice = discharge, list(home_practice)
    report.recommendations, report.next_plan = progress.recommendations(report), progress.next_plan(report)
    written: dict[str, list[Path]] = {f: [] for f in formats}
    if wants_pages:
        html = render_html(report)
        notes = {sv.anchor: render_html(report, only=sv) for sv in report.sessions}
        if "html" in formats:
            written["html"].append(write_private(out / "report.html", html))
            for sv in report.sessions:
                written["html"].append(write_private(out / "notes" / f"{_note_name(sv)}.html", notes[sv.anchor]))
        if "pdf" in formats:
            written["pdf"].extend(_write_pdfs(report, out, notes))
    if "csv" in formats:
        written["csv"].append(write_private(out / "trials.csv", csvjson.trials_csv(report)))
        written["csv"].append(write_private(out / "objectives.csv", csvjson.objectives_csv(report)))
    if "json" in formats:
        written["json"].append(write_private(out / "report.json", csvjson.report_json(report)))
    return written


def build_note(child: str, records: Sequence[SessionRecord], plan: Plan | None, visit: SessionRecord, *,
               out_dir: str | os.PathLike, names: bool = False, formats: Iterable[str] = ("html", "pdf")) -> list[Path]:
    """Write one visit's session note (``<out_dir>/<name>.html`` and ``.pdf``), judged as the report judges it
    (the objectives' statuses count every treatment visit up to it); the paths written.

    A simulated visit's note counts simulated visits too (as ``--include-simulated`` does); a probe no plan
    objective names is a note of its own.
    """
    day = session_date(visit)
    report = collect(child, list(records), plan, date_from=day, date_to=day, names=names,
                     include_simulated=visit.simulated, plots_wanted=False)
    sv = next((s for s in report.sessions if s.record.path == visit.path), None)
    if sv is None:  # a probe no plan objective names
        report = collect(child, [visit], plan, date_from=day, date_to=day, names=names, include_simulated=True,
                         plots_wanted=False)
        sv = report.sessions[0]
    report.sessions = [sv]
    for v in report.objectives:
        v.rows = [row for row in v.rows if row.session is sv]
    _draw(report)
    out = ensure_private_dir(Path(out_dir))
    html = render_html(report, only=sv)
    written = []
    if "html" in formats:
        written.append(write_private(out / f"{_note_name(sv)}.html", html))
    if "pdf" in formats:
        written.append(write_private(out / f"{_note_name(sv)}.pdf", html_to_pdf(html, str(out))))
    return written


#: Laying out the progress report costs about as much as this many session notes (measured: 0.65 s and
#: 0.16 s on this project's 2-core machine), for sharing the notes between two processes.
REPORT_COST_IN_NOTES = 4


def _write_pdfs(report: Report, out: Path, notes: dict[str, str]) -> list[Path]:
    """report.pdf (the progress report) and each session's note as its own PDF (``notes/NAME.pdf``).

    Layout is most of a report's time and runs on one core, so the documents
    are shared between this process and one forked worker (which keeps the
    imported WeasyPrint; nothing is pickled): this one lays out the report and
    the first notes, the worker the rest, about as much work each. Anything
    wrong with the worker, and this process lays out its notes too.
    """
    global _PDF_JOBS
    jobs = [("report.pdf", render_html(report, part="report"))]
    jobs += [(f"notes/{_note_name(sv)}.pdf", notes[sv.anchor]) for sv in report.sessions]
    mine, theirs = jobs, []
    if len(report.sessions) > 1 and (os.cpu_count() or 1) > 1 and "fork" in multiprocessing.get_all_start_methods():
        k = 1 + max(0, (len(report.sessions) - REPORT_COST_IN_NOTES) // 2)
        mine, theirs = jobs[:k], jobs[k:]
    done: dict[str, bytes] = {}
    if theirs:
        _PDF_JOBS = (theirs, str(out))  # the worker, forked at the first submit, finds them here
        try:
            with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork")) as ex:
                pending = ex.submit(_forked_pdfs)
                done.update(_pdfs(mine, str(out)))
                done.update(pending.result())
        except Exception:  # noqa: BLE001, S110 - a worker problem must not cost the notes: lay them out here
            pass
        finally:
            _PDF_JOBS = None
    for name, html in jobs:
        if name not in done:
            done.update(_pdfs([(name, html)], str(out)))
    return [write_private(out / name, done[name]) for name, _ in jobs]


_PDF_JOBS: tuple[list[tuple[str, str]], str] | None = None


def _forked_pdfs() -> dict[str, bytes]:
    assert _PDF_JOBS is not None  # noqa: S101 - set before the fork
    return _pdfs(*_PDF_JOBS)


def _pdfs(jobs: list[tuple[str, str]], base_url: str) -> dict[str, bytes]:
    """Each (name, HTML) laid out and written as PDF bytes."""
    return {name: html_to_pdf(html, base_url) for name, html in jobs}
