"""Progress toward a criterion: baseline, current level, trend, aim, and the sentences built on them.

Definitions (docs/reports.md, "Baseline, current level and trend", with a hand-worked example):

* an objective's **session figure** is what its plot shows: the percent of
  judged trials that passed for ``k_of_n`` and ``percent_true`` criteria, the
  aggregate's value (in the metric's unit) for mean/median/min/max/count;
* **baseline**: the plan's ``baseline`` when it has one (written by ``tandem
  plan accept`` from the assessment, in the same unit); else the mean figure
  of the judged visits in the plan's baseline phase and the baseline probes
  the objective names; else the mean of its first three judged visits;
* **current level**: the mean figure of its last three judged visits (fewer
  when it has fewer);
* **trend per visit**: the least-squares slope of the figure against the
  visit's number, over the judged visits of the latest phase shown (at least
  three, else none), in the figure's unit per visit;
* **aim line**: from the baseline to the criterion on the objective's target
  date.

These are pure functions of the rows the report judged; nothing here reads a file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.scoring.objectives import BOOL_AGGREGATES, Objective
from engine.scoring.words import COMPARATOR_WORDS, format_half_up, format_value, metric_display, percent_text

__all__ = ["Level", "aim_positions", "assessment_sentence", "attendance_text", "baseline_level", "criterion_figure",
           "criterion_words", "current_level", "figure_unit", "is_lower_better", "least_squares", "level_text",
           "next_plan", "overview", "recommendations", "trend", "trend_text", "visits_to_criterion"]

CURRENT_VISITS = 3
"""Judged visits the current level is the mean of (the latest ones)."""

BASELINE_VISITS = 3
"""First judged visits a baseline is the mean of, when the plan gives none and no baseline phase was judged."""

MIN_TREND_VISITS = 3
"""Judged visits of a phase needed to fit a trend."""


@dataclass(frozen=True)
class Level:
    """A level of an objective's session figure: its value, in words, and where it comes from."""

    value: float
    text: str
    source: str
    date: dt.date | None = None  # the day it was measured (the last of the visits it is the mean of)
    visits: int = 0  # judged visits it is the mean of (0: from the plan)

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "text": self.text, "source": self.source,
                "date": self.date.isoformat() if self.date else None, "visits": self.visits}


def is_percent(objective: Objective | None) -> bool:
    """Whether the objective's session figure is a percent of trials (k of n, a share of trials)."""
    if objective is None:
        return False
    return objective.criterion != "aggregate" or (objective.aggregate in BOOL_AGGREGATES
                                                   and objective.aggregate != "count_true")


def figure_unit(objective: Objective | None) -> str:
    """The unit of the objective's session figure (``%`` for a percent of trials)."""
    if objective is None:
        return ""
    if is_percent(objective):
        return "%"
    if objective.criterion == "aggregate" and objective.aggregate == "count_true":
        return "trials"
    return metric_display(objective.metric)[1]


def is_lower_better(objective: Objective | None) -> bool:
    return objective is not None and objective.comparator in ("<", "<=")


def criterion_figure(objective: Objective | None) -> float | None:
    """The criterion in the unit of the session figure (for k of n: the percent k/n)."""
    if objective is None:
        return None
    if objective.criterion != "aggregate":
        return 100.0 * objective.k / objective.n
    value = objective.threshold
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def level_text(value: float, objective: Objective | None) -> str:
    """A figure in words with its unit: ``63 %``, ``412 ms``, ``0.05``."""
    unit = figure_unit(objective)
    if unit == "%":
        return percent_text(value)
    if unit == "trials":
        return format_half_up("{:.1f} trials", value)
    return format_value(value, unit)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _judged(rows: Sequence[Any]) -> list[Any]:
    """The rows (visits) with a figure that were judged (a figure to read), oldest first."""
    return [r for r in rows if r.figure is not None and r.met is not None]


def _span(rows: Sequence[Any]) -> str:
    first, last = rows[0].session.date, rows[-1].session.date
    if first == last:
        return f"{first:%d %b %Y}"
    return f"{first:%d %b} – {last:%d %b %Y}"


def baseline_level(view: Any, entry: Any = None) -> Level | None:
    """The objective's baseline (see the module docstring); ``entry``: its plan objective, if any."""
    obj = view.objective
    if entry is not None and getattr(entry, "baseline", None) is not None:
        source = entry.baseline_source or "the plan"
        return Level(float(entry.baseline), level_text(float(entry.baseline), obj), source,
                     entry.baseline_date, 0)
    judged = _judged(view.rows)
    base = [r for r in judged if r.session.phase == "baseline"]
    if base:
        probes = sum(1 for r in base if r.session.probe)
        what = "baseline probe" if probes == len(base) else "baseline visit"
        n = len(base)
        return Level(_mean([r.figure for r in base]), level_text(_mean([r.figure for r in base]), obj),
                     f"mean of {n} {what}{'s' if n != 1 else ''} ({_span(base)})", base[-1].session.date, n)
    first = judged[:BASELINE_VISITS]
    if not first:
        return None
    n = len(first)
    value = _mean([r.figure for r in first])
    return Level(value, level_text(value, obj),
                 f"mean of the first {n} visit{'s' if n != 1 else ''} ({_span(first)})" if n > 1 else
                 f"the first visit ({_span(first)})", first[-1].session.date, n)


def current_level(view: Any) -> Level | None:
    """The mean figure of the objective's latest judged treatment visits (see the module docstring)."""
    judged = [r for r in _judged(view.rows) if not r.session.probe]
    last = judged[-CURRENT_VISITS:]
    if not last:
        return None
    n = len(last)
    value = _mean([r.figure for r in last])
    return Level(value, level_text(value, view.objective),
                 f"mean of the last {n} visits ({_span(last)})" if n > 1 else f"the last visit ({_span(last)})",
                 last[-1].session.date, n)


def least_squares(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float] | None:
    """(slope, intercept) of the least-squares line through the points; None for fewer than two distinct x."""
    n = len(xs)
    if n < 2:
        return None
    mx, my = _mean(xs), _mean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    return slope, my - slope * mx


def trend(view: Any) -> tuple[float | None, list[tuple[int, float, int, float]]]:
    """The trend per visit over the latest phase (slope in the figure's unit per visit), and the trend segments
    of every phase to draw: (first position, its y, last position, its y) in the rows' positions."""
    rows = list(view.rows)
    phases: list[list[int]] = []
    last_phase: object = object()
    for i, r in enumerate(rows):
        phase = r.session.phase
        if phase != last_phase:
            phases.append([])
            last_phase = phase
        if r.figure is not None and r.met is not None:
            phases[-1].append(i)
    segments = []
    slope_latest = None
    for k, positions in enumerate(phases):
        if len(positions) < MIN_TREND_VISITS:
            continue
        fit = least_squares([rows[i].session.n for i in positions], [rows[i].figure for i in positions])
        if fit is None:
            continue
        slope, icpt = fit
        a, b = positions[0], positions[-1]
        segments.append((a, slope * rows[a].session.n + icpt, b, slope * rows[b].session.n + icpt))
        if k == len(phases) - 1:
            slope_latest = slope
    return slope_latest, segments


def trend_text(slope: float | None, objective: Objective | None) -> str:
    """The trend in words: ``rising 2.1 % per visit (toward the criterion)``."""
    if slope is None:
        return f"no trend yet (fewer than {MIN_TREND_VISITS} judged visits in the latest phase)"
    unit = figure_unit(objective)
    unit_words = "percentage points" if unit == "%" else unit
    size = format_half_up("{:.1f}", abs(slope))
    if size in ("0.0", "0"):
        return "flat (no change per visit)"
    better = (slope < 0) == is_lower_better(objective)
    way = "rising" if slope > 0 else "falling"
    return f"{way} {size}{' ' + unit_words if unit_words else ''} per visit ({'improving' if better else 'worsening'})"


def aim_positions(view: Any, baseline: Level | None) -> tuple[float, float, float, float] | None:
    """The aim line (x0, y0, x1, y1) in the rows' positions: from the baseline to the criterion on the target
    date; positions between and beyond the visits follow their dates (the mean spacing past the last)."""
    obj = view.objective
    crit = criterion_figure(obj)
    if baseline is None or crit is None or view.target_date is None or not view.rows:
        return None
    days = [r.session.date.toordinal() for r in view.rows]

    def position(day: dt.date) -> float:
        d = day.toordinal()
        if len(days) == 1:
            return 0.0 if d <= days[0] else 1.0 + (d - days[0]) / 7.0
        if d <= days[0]:
            return 0.0
        for i in range(1, len(days)):
            if d <= days[i]:
                span = days[i] - days[i - 1]
                return i - 1 + ((d - days[i - 1]) / span if span else 1.0)
        spacing = max((days[-1] - days[0]) / (len(days) - 1), 1.0)
        return len(days) - 1 + (d - days[-1]) / spacing

    start = position(baseline.date) if baseline.date else 0.0
    end = position(view.target_date)
    if end <= start:
        return None
    return start, baseline.value, end, crit


def criterion_words(objective: Objective | None) -> str:
    """The criterion's figure in words: ``at least 60 %``, ``at most 2000 ms``."""
    crit = criterion_figure(objective)
    if objective is None or crit is None:
        return "its criterion"
    comp = ">=" if objective.criterion != "aggregate" else objective.comparator
    return f"{COMPARATOR_WORDS.get(comp, comp)} {level_text(crit, objective)}"


def assessment_sentence(row: Any) -> str:
    """One sentence on a visit's progress toward an objective's criterion, for the note's Assessment part
    (docs/notes.md): ``waits-for-turn: 6/7 (86 %) this visit against at least 60 %: met (1 of 3 visits in a
    row needed for mastery).``"""
    view = row.objective
    if row.met is None:
        why = row.summary.rstrip(".")
        return f"{view.id}: not judged this visit ({why[:1].lower() + why[1:]})."
    text = f"{view.id}: {row.figure_text} this visit against {criterion_words(view.objective)}: "
    if not row.met:
        return text + "not met."
    need = view.objective.sessions if view.objective is not None else 0
    if row.status == "mastered":
        return text + f"met; mastered (met on {row.consecutive} visits in a row)."
    if need and row.consecutive:
        return text + f"met ({row.consecutive} of {need} visits in a row needed for mastery)."
    return text + "met."

def _fmt_day(iso: str | None) -> str:
    try:
        return f"{dt.date.fromisoformat(str(iso)[:10]):%d %b %Y}"
    except ValueError:
        return str(iso)


def visits_to_criterion(view: Any) -> int | None:
    """At the current trend, about how many more visits until the current level reaches the criterion;
    None when the trend does not lead there (flat, away from it, or none)."""
    slope, crit, current = view.trend_per_session, criterion_figure(view.objective), view.current
    if slope is None or crit is None or current is None or slope == 0:
        return None
    gap = crit - current.value
    if is_lower_better(view.objective):
        gap = -gap
        slope = -slope
    if gap <= 0:
        return 0
    if slope <= 0:
        return None
    return max(1, round(gap / slope))


def attendance_text(report: Any) -> str:
    """Visits held and cancelled in the range, in a sentence."""
    held = len(report.treatment_sessions)
    cancelled = report.cancelled
    text = f"{held} visit{'s' if held != 1 else ''} held"
    if cancelled:
        reasons = "; ".join(f"{c.date:%d %b}" + (f": {c.reason}" if c.reason else "") for c in cancelled)
        text += f", {len(cancelled)} cancelled ({reasons}); {held} of {held + len(cancelled)} planned visits took place"
    elif report.plan is not None:
        text += ", none recorded as cancelled"
    return text + "."


def overview(report: Any) -> list[str]:
    """The report's generated summary: attendance, then one sentence per domain of the plan's objectives."""
    out = [attendance_text(report)]
    by_domain: dict[str, list[Any]] = {}
    for v in report.plan_objectives:
        by_domain.setdefault(v.domain or "other", []).append(v)
    for domain, views in by_domain.items():
        parts = []
        for v in views:
            what = v.status
            if v.status == "mastered" and v.mastered_on:
                what = f"mastered on {_fmt_day(v.mastered_on)}"
            elif v.regressed_on:
                what = f"mastered on {_fmt_day(v.mastered_on)}, not met since {_fmt_day(v.regressed_on)}"
            level = ""
            if v.baseline and v.current:
                level = f", from {v.baseline.text} to {v.current.text} ({v.criterion_level} needed)"
            elif v.current:
                level = f", now {v.current.text} ({v.criterion_level} needed)"
            parts.append(f"{v.id} {what}{level}")
        mastered = sum(1 for v in views if v.status == "mastered")
        out.append(f"{domain[0].upper() + domain[1:]}: {mastered} of {len(views)} objective"
                   f"{'s' if len(views) != 1 else ''} mastered — " + "; ".join(parts) + ".")
    return out


def recommendations(report: Any) -> list[str]:
    """One recommendation per plan objective, from its status and trend (the family's home practice is
    listed beside them: :attr:`Report.home_practice`)."""
    out = []
    for v in report.plan_objectives:
        if v.regressed_on:
            out.append(f"{v.id}: mastered on {_fmt_day(v.mastered_on)} but not met since "
                       f"{_fmt_day(v.regressed_on)}; review it (prompting, tempo, the child's state on those days) "
                       f"before moving on.")
        elif v.status == "mastered":
            out.append(f"{v.id}: mastered on {_fmt_day(v.mastered_on)}; keep it in maintenance (check it every few "
                       f"visits) and write the next step of its goal.")
        elif v.status == "not started" or not v.rows:
            scripts = ", ".join(v.entry.scripts) if v.entry is not None and v.entry.scripts else "none named"
            out.append(f"{v.id}: not measured in this period; plan an activity that measures it (its scripts: "
                       f"{scripts}).")
        else:
            eta = visits_to_criterion(v)
            if eta == 0:
                out.append(f"{v.id}: the current level ({v.current.text}) is at the criterion; continue until it "
                           f"is met on {v.objective.sessions} visits in a row on separate days.")
            elif eta is not None:
                out.append(f"{v.id}: {v.trend_text}; continue — at this rate the criterion is reached in about "
                           f"{eta} more visit{'s' if eta != 1 else ''}.")
            elif v.trend_per_session is None:
                out.append(f"{v.id}: too few visits for a trend; continue and review it next period.")
            else:
                out.append(f"{v.id}: {v.trend_text}, so the criterion is not coming closer; review the approach "
                           f"(a smaller step, more support or prompting, another activity).")
    return out


def next_plan(report: Any) -> list[str]:
    """The plan for the next quarter (or, for a discharge summary, after discharge), from each objective's state."""
    keep = [v.id for v in report.plan_objectives if v.status != "mastered" or v.regressed_on]
    done = [v.id for v in report.plan_objectives if v.status == "mastered" and not v.regressed_on]
    out = []
    if report.discharge:
        if done:
            out.append("Skills mastered, to keep up at home and at school: " + ", ".join(done) + ".")
        if keep:
            out.append("Not yet mastered at discharge, to carry on with the family or a later service: "
                       + ", ".join(keep) + ".")
        return out
    if keep:
        out.append("Continue: " + ", ".join(keep) + ".")
    if done:
        out.append("Maintain (mastered, checked every few visits), and write each goal's next step: "
                   + ", ".join(done) + ".")
    return out
