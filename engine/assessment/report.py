"""The baseline report: what an initial assessment found, per domain, as HTML and PDF.

:func:`build_baseline_report` lays out an
:class:`~engine.assessment.results.Assessment` the way a music therapist
attaches it to an assessment report: a title block, an overview of the
tasks, then one section per domain (communication, cognition,
socialization, motor, sensory) with each task's figures (value, definition,
how many observations and their spread, and a *published adult* reference
where the figure has one; never an invented child norm), a task's settings
(the beat's tempo) as its *condition*, never as a measurement, the tasks
skipped or without response with their reasons, the therapist's sensory ratings,
and two plots: mean asynchrony by tempo beside the adult reference, and
the imitation staircase's levels. Saved suggestions
(:mod:`engine.assessment.suggest`) are listed at the end with their states.

It is written the way the progress report is (:mod:`engine.reports.build`):
jinja2 (the same environment, :mod:`engine.reports.render`; template ``baseline.html``), matplotlib
(:mod:`engine.reports.plots`' style) and WeasyPrint; files are 0600 in
folders made 0700; the child is named by the pseudonymous id unless
``names=True``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import engine
from engine.assessment.results import (
    DOMAINS,
    RATINGS,
    Assessment,
    Figure,
    Rating,
    TaskResult,
)
from engine.assessment.suggest import load_suggestions, save_suggestions, suggest_objectives
from engine.errors import ConfigError, DataDirError, TandemError
from engine.fileread import open_regular
from engine.paths import write_private
from engine.records.plan import PlanError, load_plan
from engine.reports import plots, sentences
from engine.reports.render import data_uri, environment, html_to_pdf
from engine.scoring.words import format_half_up

__all__ = [
    "FORMATS",
    "BaselineReport",
    "build_baseline_report",
    "collect_baseline",
    "render_baseline_html",
    "write_baseline",
]

FORMATS = ("html", "pdf")
"""The formats :func:`build_baseline_report` writes."""

DOMAIN_TITLES = {"communication": "Communication", "cognition": "Cognition", "socialization": "Socialization",
                 "motor": "Motor coordination", "sensory": "Sensory processing"}
STATUS_LABELS = {"done": "done", "skipped": "skipped", "no_response": "no response", "stopped": "stopped"}
RATING_LABELS = {"calm": "stays calm", "avoids": "avoids", "seeks": "seeks", None: "not rated"}
FEW_OBSERVATIONS = 10  # fewer than this: the figure is flagged "few observations, read with care"
_SYNC_TASKS = ("sync_own_tempo", "sync_slow", "sync_fast")
_SYNC_SHORT = {"sync_own_tempo": "own tempo", "sync_slow": "slow", "sync_fast": "fast"}
_STAIRCASE_TASKS = ("rhythm_imitation", "melodic_imitation")


@dataclass
class FigureRow:
    """One figure as the report shows it."""

    figure: Figure
    value_text: str
    reliability: str  # "n = 24 · SD of asynchrony 31 ms"
    few: bool
    reference_label: str = ""  # "Adult reference" (or "Published reference" when its population says otherwise)
    reference_value: str = ""  # "−40 ± 21 ms"
    reference_text: str = ""  # its population and source


@dataclass
class TaskView:
    """A task as the report shows it: its measurements (``rows``) and its conditions (``conditions``: settings
    of the task such as the beat's tempo, e.g. "tempo of the beat 80 BPM"; never measurements of the child)."""

    task: TaskResult
    status: str
    rows: list[FigureRow] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)

    @property
    def key_rows(self) -> list[FigureRow]:
        """The figures the overview shows (the first two measurements)."""
        return self.rows[:2]


@dataclass
class DomainView:
    name: str
    title: str
    tasks: list[TaskView] = field(default_factory=list)
    ratings: list[Rating] = field(default_factory=list)
    plots: list[tuple[str, str]] = field(default_factory=list)  # (data URI, caption)

    @property
    def done(self) -> list[TaskView]:
        return [t for t in self.tasks if t.task.status == "done"]

    @property
    def not_done(self) -> list[TaskView]:
        return [t for t in self.tasks if t.task.status != "done"]


@dataclass
class BaselineReport:
    """Everything the template shows."""

    assessment: Assessment
    child: str
    names: bool
    generated: dt.datetime
    engine_version: str
    domains: list[DomainView]
    rating_counts: dict[str, int]
    suggestions: list[Any] = field(default_factory=list)
    suggestion_notes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    music_s: float | None = None  # session time of the battery's tasks (see duration_text)

    @property
    def started(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.assessment.started)

    @property
    def duration_text(self) -> str:
        """The battery's length in session time (the music its tasks played: a simulated battery that ran in
        seconds played minutes); a live one also gives its time on the clock, with the pauses between tasks."""
        if self.music_s is None:
            return "–"
        text = f"{sentences.duration_text(self.music_s)} of music"
        a = self.assessment
        if not a.simulated and a.ended:
            wall_s = (dt.datetime.fromisoformat(a.ended) - self.started).total_seconds()
            if wall_s >= self.music_s + 60:
                text += f" ({sentences.duration_text(wall_s)} with the pauses between tasks)"
        return text

    @property
    def tasks(self) -> list[TaskView]:
        return [t for d in self.domains for t in d.tasks]

    @property
    def rated_by(self) -> str:
        """Who rated the sensory probes: "the therapist", or a simulated assessment's "the simulated model '...'"."""
        by = next((x.rated_by for x in self.assessment.ratings if x.rating and x.rated_by), None)
        return f"the {by}" if by else "the therapist"


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _fmt(value: float, unit: str = "") -> str:
    value = float(value)
    text = format_half_up("{:.0f}", value) if abs(value) >= 20 or value.is_integer() else f"{value:.2g}" \
        if abs(value) < 1 else format_half_up("{:.1f}", value)
    text = text.replace("-", "−")
    return f"{text} {unit}".rstrip() if unit else text


def _value_text(f: Figure) -> str:
    if f.value is None:
        return "not measured"
    if isinstance(f.value, bool):
        return "yes" if f.value else "no"
    return _fmt(float(f.value), f.unit)


def _figure_row(f: Figure) -> FigureRow:
    parts = [f"n = {f.n}"]
    if f.spread is not None:
        parts.append(f"{f.spread_label or 'spread'}: {_fmt(f.spread)}")
    row = FigureRow(figure=f, value_text=_value_text(f), reliability=" · ".join(parts), few=f.n < FEW_OBSERVATIONS)
    ref = f.reference
    if ref is not None:
        adult = "child" not in ref.population.lower()
        row.reference_label = "Adult reference" if adult else "Published reference"
        spread = f" ± {_fmt(ref.spread)}" if ref.spread is not None else ""
        row.reference_value = f"{_fmt(ref.value)}{spread} {f.unit}".rstrip()
        row.reference_text = f"{ref.population}; {ref.source}"
    return row


def collect_baseline(assessment: Assessment, *, names: bool = False, display_name: str | None = None,
                     plots_wanted: bool = True) -> BaselineReport:
    """Lay out the baseline report (no files written)."""
    domains = {d: DomainView(d, DOMAIN_TITLES[d]) for d in DOMAINS}
    for task in assessment.tasks:
        view = TaskView(task, STATUS_LABELS.get(task.status, task.status),
                        [_figure_row(f) for f in task.figures if not f.condition],
                        [f"{f.label[:1].lower()}{f.label[1:]} {_value_text(f)}" for f in task.figures
                         if f.condition and f.value is not None])
        domains.setdefault(task.domain, DomainView(task.domain, task.domain.capitalize())).tasks.append(view)
    domains["sensory"].ratings = list(assessment.ratings)
    counts = {r: sum(1 for x in assessment.ratings if x.rating == r) for r in (*RATINGS, None)}
    report = BaselineReport(
        assessment=assessment, child=display_name if (names and display_name) else assessment.child_id,
        names=bool(names and display_name), generated=dt.datetime.now().astimezone(),
        engine_version=engine.__version__, domains=list(domains.values()),
        rating_counts={RATING_LABELS[k]: v for k, v in counts.items() if v},
        music_s=assessment.music_s if assessment.music_s is not None else _logged_music_s(assessment))
    if assessment.simulated:
        report.notes.append(f"This assessment ran with a simulated child (model '{assessment.simulated}'): its "
                            f"figures describe the model, not a child.")
    if assessment.status != "completed":
        report.notes.append(f"The battery was {assessment.status} before its end; tasks not reached are missing.")
    if assessment.folder:
        try:
            saved = load_suggestions(assessment)
        except (OSError, ValueError):
            saved = None
        if saved:
            report.suggestions, report.suggestion_notes = list(saved), list(saved.notes)
    if plots_wanted:
        _draw(report, domains)
    return report


def _logged_music_s(assessment: Assessment) -> float | None:
    """An older assessment's session time (it did not store it): the ``duration_s`` of its task sessions'
    summary lines, each session once; None when one cannot be read."""
    sessions = list(dict.fromkeys(t.session for t in assessment.tasks if t.session))
    if not assessment.folder or not sessions:
        return None
    total = 0.0
    try:
        root = Path(assessment.folder).parents[2]  # <root>/assessments/<child>/<started>
        for session in sessions:
            # Only the end of the log, of a regular file inside the data folder (never a device or a FIFO).
            fd, size = open_regular(root / session / "events.jsonl", what="session log", limit_bytes=1 << 40,
                                    root=root, error=DataDirError)
            try:
                os.lseek(fd, max(0, size - _LAST_LINE_BYTES), os.SEEK_SET)
                tail = os.read(fd, _LAST_LINE_BYTES)
            finally:
                os.close(fd)
            duration = json.loads(tail.rstrip().rsplit(b"\n", 1)[-1])["duration_s"]
            if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not 0 <= duration < 1e9:
                return None
            total += float(duration)
    except (TandemError, OSError, ValueError, KeyError, TypeError, IndexError, RecursionError):
        return None
    return total


_LAST_LINE_BYTES = 1 << 16  # a summary line is a few hundred bytes


# --- plots ---------------------------------------------------------------------------------------------


def asynchrony_by_tempo_plot(points: Sequence[dict[str, Any]]) -> bytes | None:
    """Mean asynchrony (± SD) of each synchronisation task by its tempo, beside the adult reference at that tempo.

    Each point: ``tempo_bpm``, ``mean_ms``, ``sd_ms`` (or None), ``label``, and
    optionally ``ref_ms``, ``ref_sd_ms`` (the figure's published adult reference).
    None when no point has a tempo and a mean.
    """
    pts = sorted((p for p in points if _num(p.get("tempo_bpm")) is not None and _num(p.get("mean_ms")) is not None),
                 key=lambda p: p["tempo_bpm"])
    if not pts:
        return None
    fig, (ax,) = plots.figure(1, 2.3)
    ax.axhline(0, color=plots.MUTED, linewidth=0.8)
    xs = [p["tempo_bpm"] for p in pts]
    ax.errorbar(xs, [p["mean_ms"] for p in pts], yerr=[p.get("sd_ms") or 0.0 for p in pts], fmt="o-",
                color=plots.INK, ecolor=plots.INK, elinewidth=0.9, capsize=2.5, markersize=5, linewidth=1.1,
                label="child: mean asynchrony ± SD")
    refs = [p for p in pts if _num(p.get("ref_ms")) is not None]
    if refs:
        ax.errorbar([p["tempo_bpm"] + 1.2 for p in refs], [p["ref_ms"] for p in refs],
                    yerr=[p.get("ref_sd_ms") or 0.0 for p in refs], fmt="s--", color=plots.CRITERION,
                    ecolor=plots.CRITERION, elinewidth=0.8, capsize=2, markersize=4.5, linewidth=0.9,
                    markerfacecolor="white", label="ADULT reference ± its spread, published (not a child norm)")
    for p in pts:
        ax.annotate(p["label"], xy=(p["tempo_bpm"], p["mean_ms"]), xytext=(-5, 0), textcoords="offset points",
                    ha="right", va="center", fontsize=6.5, color=plots.INK,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85})
    lo, hi = min(xs), max(xs)
    pad = max(12.0, 0.2 * (hi - lo))
    ax.set_xlim(lo - pad, hi + pad)
    ys = [p["mean_ms"] + s * (p.get("sd_ms") or 0.0) for p in pts for s in (-1, 1)]
    ys += [p["ref_ms"] + s * (p.get("ref_sd_ms") or 0.0) for p in refs for s in (-1, 1)] + [0.0]
    span = max(ys) - min(ys) or 50.0
    ax.set_ylim(min(ys) - 0.08 * span, max(ys) + 0.08 * span)
    ax.set_xlabel("tempo (BPM)")
    ax.set_ylabel("ms (negative = early)")
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, fontsize=6.5, frameon=False,
              borderaxespad=0.2)
    fig.subplots_adjust(left=0.1, top=0.83)
    return plots.png(fig)


def staircase_plot(levels: Sequence[float], correct: Sequence[bool | None] | None, *, title: str,
                   span: float | None = None, ylabel: str = "pattern length (notes)") -> bytes | None:
    """The imitation staircase: each trial's level, filled when imitated correctly, open when not; the span dashed."""
    lv = [_num(v) for v in levels]
    if not any(v is not None for v in lv):
        return None
    fig, (ax,) = plots.figure(1, 2.0)
    n = list(range(1, len(lv) + 1))
    known = [(i, v) for i, v in zip(n, lv, strict=True) if v is not None]
    ax.step([i for i, _ in known], [v for _, v in known], where="mid", color=plots.MUTED, linewidth=1.0, zorder=1)
    ok = list(correct) + [None] * (len(lv) - len(correct)) if correct is not None else [None] * len(lv)
    for i, v in known:
        c = ok[i - 1]
        ax.plot([i], [v], marker="o", markersize=5.5, linestyle="none", markeredgecolor=plots.INK,
                markeredgewidth=1.1, color=plots.INK if c else "white", zorder=3)
    if span is not None:
        ax.axhline(span, color=plots.CRITERION, linestyle="--", linewidth=1.0)
        ax.annotate(f"span {span:g}", xy=(1.0, span), xycoords=("axes fraction", "data"), xytext=(-2, 3),
                    textcoords="offset points", ha="right", va="bottom", color=plots.CRITERION, fontsize=7)
    vals = [v for _, v in known]
    ax.set_ylim(min(vals) - 0.7, max(vals + ([span] if span is not None else [])) + 0.9)
    ax.set_xlim(0.4, len(lv) + 0.6)
    from matplotlib.ticker import MaxNLocator  # heavy (matplotlib): only when a plot is drawn

    ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
    ax.set_title(title + ("   ● correct  ○ not correct" if correct is not None else ""), loc="left")
    ax.set_xlabel("trial")
    ax.set_ylabel(ylabel)
    return plots.png(fig)


def _staircase(task: TaskResult) -> tuple[list[Any], list[Any] | None]:
    """(levels, correct) from the task's details: ``levels`` (and ``correct``), or ``staircase`` as a list of
    ``{"level"|"length": ..., "correct": ...}``."""
    d = task.details or {}
    if isinstance(d.get("levels"), list):
        correct = d.get("correct") if isinstance(d.get("correct"), list) else None
        return list(d["levels"]), correct
    steps = d.get("staircase")
    if isinstance(steps, list) and all(isinstance(s, dict) for s in steps):
        return ([s.get("level", s.get("length")) for s in steps],
                [s.get("correct") for s in steps] if any("correct" in s for s in steps) else None)
    return [], None


def _draw(report: BaselineReport, domains: dict[str, DomainView]) -> None:
    a = report.assessment
    points = []
    for tid in _SYNC_TASKS:
        t = a.task(tid)
        if t is None or t.status != "done":
            continue
        mean, tempo = t.figure("asynchrony_mean_ms"), t.figure("tempo_bpm")
        if mean is None or tempo is None:
            continue
        sd = t.figure("asynchrony_sd_ms")
        ref = mean.reference
        points.append({"tempo_bpm": _num(tempo.value), "mean_ms": _num(mean.value),
                       "sd_ms": _num(sd.value) if sd is not None else None,
                       "label": _SYNC_SHORT.get(tid, t.title), "ref_ms": ref.value if ref else None,
                       "ref_sd_ms": ref.spread if ref else None})
    png = asynchrony_by_tempo_plot(points)
    if png is not None:
        caption = ("Mean asynchrony (± SD of asynchrony) at each tempo of the synchronisation tasks; open squares: "
                   "the ADULT reference at that tempo (not a child norm).")
        domains["motor"].plots.append((data_uri(png), caption))
    for tid in _STAIRCASE_TASKS:
        t = a.task(tid)
        if t is None or t.status != "done":
            continue
        levels, correct = _staircase(t)
        span_fig = t.figure("imitation_span" if tid == "rhythm_imitation" else "melodic_span")
        png = staircase_plot(levels, correct, title=t.title,
                             span=_num(span_fig.value) if span_fig is not None else None)
        if png is not None:
            caption = (f"{t.title}: the pattern length of each trial (up after a correct imitation, down after a "
                       f"miss) and the span measured.")
            domains.setdefault(t.domain, DomainView(t.domain, t.domain)).plots.append((data_uri(png), caption))


# --- writing -------------------------------------------------------------------------------------------


def render_baseline_html(report: BaselineReport) -> str:
    """The baseline report as one self-contained HTML page (plots embedded)."""
    return environment().get_template("baseline.html").render(r=report, rating_labels=RATING_LABELS,
                                                              status_labels=STATUS_LABELS)


def build_baseline_report(assessment: Assessment, *, out_dir: str | os.PathLike,
                          formats: Iterable[str] = FORMATS, names: bool = False,
                          display_name: str | None = None) -> dict[str, list[Path]]:
    """Write ``baseline.html`` and/or ``baseline.pdf``; the paths written, by format.

    Parameters
    ----------
    assessment : Assessment
        The assessment to report.
    out_dir : path
        Created 0700 if missing; files are written 0600.
    formats : iterable of str
        Any of ``html``, ``pdf``.
    names : bool
        Show ``display_name`` instead of the pseudonymous id (the id when no name is given).
    display_name : str or None
        The child's name, e.g. the plan's ``display_name``.

    Raises
    ------
    ConfigError
        An unknown format.
    """
    wanted = [f.strip().lower() for f in formats if f.strip()]
    bad = [f for f in wanted if f not in FORMATS]
    if bad or not wanted:
        raise ConfigError(f"Unknown baseline report format {bad[0]!r}; choose from {', '.join(FORMATS)}." if bad
                          else f"Give at least one baseline report format: {', '.join(FORMATS)}.")
    out = Path(out_dir)
    report = collect_baseline(assessment, names=names, display_name=display_name)
    html = render_baseline_html(report)
    written: dict[str, list[Path]] = {f: [] for f in wanted}
    if "html" in wanted:
        written["html"].append(write_private(out / "baseline.html", html))
    if "pdf" in wanted:
        written["pdf"].append(write_private(out / "baseline.pdf", html_to_pdf(html, str(out))))
    return written


def write_baseline(assessment: Assessment, *, root: str | os.PathLike | None = None, names: bool = False,
                   formats: Iterable[str] = FORMATS, out_dir: str | os.PathLike | None = None) -> dict[str, list[Path]]:
    """What ``tandem assess`` writes when the battery ends: the suggestions (made and saved once) and the baseline
    report, both in the assessment's folder (or ``out_dir``). With ``names``, the name is the plan's
    ``display_name`` (``root``: the data directory holding the plan)."""
    if not assessment.folder:
        raise ConfigError("This assessment has not been saved yet; save it with save_assessment first.")
    if load_suggestions(assessment) is None:
        save_suggestions(assessment, suggest_objectives(assessment))
    display_name = None
    if names and root is not None:
        try:
            display_name = load_plan(root, assessment.child_id).display_name
        except PlanError:
            display_name = None
    return build_baseline_report(assessment, out_dir=out_dir or assessment.folder, formats=formats, names=names,
                                 display_name=display_name)
