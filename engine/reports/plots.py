"""Report plots: one per objective and a few timing plots, as PNG bytes.

matplotlib's object API with the Agg canvas (no pyplot, so no global figure
registry, nothing to close, safe without a display). Each public function draws
one small figure and returns its PNG; a private ``_…_figure`` twin returns the
Figure itself (for tests). Plots are calm (muted colours, light grid) and
readable in black and white (markers and line styles differ too).

The objective plot is drawn the way ABA data apps (Catalyst, CentralReach) and
the single-case design literature draw a graph: one point per visit, x = the
visit's number (its date under it), phase-change lines that break the data
path, trend and aim lines, mastery and regression marked on the graph, and the
prompt levels in a small panel under it.

Layout: the plotting areas have fixed heights; the margins around them (tick
labels, wrapped axis labels, phase names, legends) are measured once, without
drawing (:func:`_layout`), and the figure's height follows: nothing is clipped,
and every objective's graph is as high as the next. No ``tight_layout``.
"""

from __future__ import annotations

import functools
import io
import itertools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from engine.scoring.objectives import TRIAL_PROMPTS

__all__ = ["figure", "objective_plot", "png", "range_timing_plot", "session_timing_plot"]

DPI = 110
INK = "#1f3b5a"
ACCENT = "#3c7d7a"
CRITERION = "#b35a2a"
MUTED = "#8a94a0"
GRID = "#e3e7ec"
TREND = "#5d6b7a"  # a darker MUTED: a thin trend line must still show on paper
LABEL = "#55606c"  # phase names: quieter than the ink, darker than the grid
WIDTH_IN = 6.6

#: Prompt levels' fills, from the least help (darkest: what should grow) to the most; their greys differ
#: by clear steps, so the stack reads on paper too; "not recorded" is hatched.
PROMPT_FILLS = {"independent": INK, "gestural": ACCENT, "verbal": "#7fa9c4", "model": "#b9d3d0",
                "physical": "#edf1f4", "not recorded": "white"}
PROMPT_HATCH = {"not recorded": "/////"}

#: Series styles for groups (e.g. script and tempo) in the range timing plot: colour, marker, line style.
GROUP_STYLES = ((INK, "o", "-"), (ACCENT, "s", "--"), (CRITERION, "^", ":"), ("#6a5d8c", "D", "-."),
                (MUTED, "v", (0, (6, 2))), ("#7a6a3a", "P", (0, (2, 1, 2, 4))))

MAIN_IN = 1.45  # the objective plot's plotting area (inches high)
PROMPT_IN = 0.62  # the prompt-level panel under it
PANEL_IN = 1.2  # a timing plot's panels
PAD_PX = 5  # space kept around everything the layout measures
TICK_GAP_PX = 5  # least space between two tick labels
TICK_PT = 6.5  # the x tick labels' size (number over date)
TITLE_PT = 8  # a panel's title (the reports' axes.titlesize)
LEGEND = {"fontsize": 6.8, "handlelength": 2.2, "handletextpad": 0.8, "columnspacing": 1.4, "frameon": False}

_style_done = False


def _style() -> None:
    global _style_done
    if _style_done:
        return
    import matplotlib  # heavy (0.1–0.3 s): only when a plot is drawn

    matplotlib.rcParams.update({
        "font.family": "DejaVu Sans", "font.size": 7.5, "axes.titlesize": TITLE_PT, "axes.labelsize": 7.5,
        "axes.edgecolor": MUTED, "axes.linewidth": 0.6, "xtick.color": "#444", "ytick.color": "#444",
        "xtick.major.width": 0.5, "ytick.major.width": 0.5, "axes.spines.top": False,
        "axes.spines.right": False, "svg.fonttype": "none",
    })
    _style_done = True


def figure(ncols: int, height_in: float):
    """A new figure in the reports' style: ``ncols`` axes side by side, the report's width, ``height_in`` inches.

    Returns ``(figure, list of axes)``; draw on the axes, then :func:`png`.
    Margins are fixed (for other modules' simple plots); this module's own
    plots measure theirs (:func:`_layout`).
    """
    fig = _new_figure(height_in)
    # Fixed margins (tight_layout would draw every figure twice).
    fig.subplots_adjust(left=0.09 if ncols == 1 else 0.075, right=0.985, top=0.86, bottom=0.2,
                        wspace=0.42)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    for ax in axes:
        _axes_style(ax)
    return fig, list(axes)


def png(fig) -> bytes:
    """The figure as PNG bytes (at the reports' resolution)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, pil_kwargs={"compress_level": 1})
    return buf.getvalue()


# --- the objective plot ---------------------------------------------------------------------------------


def objective_plot(labels: Sequence[str], values: Sequence[float | None], met: Sequence[bool | None],
                   **options: Any) -> bytes:
    """One objective's figure per visit, with its criterion line, as PNG bytes: :func:`_objective_figure`'s
    figure drawn (the parameters are its)."""
    return png(_objective_figure(labels, values, met, **options))


def _objective_figure(labels: Sequence[str], values: Sequence[float | None], met: Sequence[bool | None], *,
                      criterion: float | None, ylabel: str, lower_is_better: bool = False,
                      phase_marks: Sequence[tuple[int, str]] = (), percent: bool = False,
                      visit_numbers: Sequence[int] | None = None,
                      trends: Sequence[tuple[float, float, float, float]] = (),
                      aim: tuple[float, float, float, float] | None = None, aim_label: str | None = None,
                      mastered: Sequence[int] = (), regressed: Sequence[int] = (),
                      prompts: Sequence[Mapping[str, int]] | None = None, unit_label: str | None = None):
    """One objective's figure per visit, with its criterion line, laid out, not yet drawn
    (:func:`objective_plot` draws it as PNG).

    Parameters
    ----------
    labels
        The visits' dates as shown ("21 Dec"), one per point.
    values
        The visits' figures; None: nothing to judge (a grey cross at the axis).
    met
        Per point: criterion met (filled marker), not met (open), None (no judgement).
    criterion
        The criterion line's value (dashed), in the y axis' unit; None: no line.
    ylabel
        The y axis' label, with its unit; wrapped to fit.
    lower_is_better
        Said under the y label.
    phase_marks
        ``(position, name)`` where a phase starts (position 0 names the first
        phase). A vertical line between the visits breaks the data path.
    percent
        A 0–100 % axis.
    visit_numbers
        The x of each point: the visit's number in the report (ticks show the
        number over the date). Default: 1, 2, … N.
    trends
        Trend segments ``(x0, y0, x1, y1)``, x in point positions (0-based), one per phase.
    aim
        The aim line ``(x0, y0, x1, y1)`` in point positions; x1 may lie past the
        last point (a target date ahead): the x axis reaches it when x1 ≤ 2 N,
        otherwise the line is clipped at the right edge.
    aim_label
        What the aim is, e.g. "aim: 60 % by 15 Mar 2027" (the legend's entry).
    mastered, regressed
        Point positions where mastery was reached (a star) or a mastered
        objective fell back (a down-triangle), marked above the point.
    prompts
        Per point: counted trials per prompt level (:data:`engine.scoring.objectives.TRIAL_PROMPTS`),
        drawn as shares in a panel under the plot.
    unit_label
        The y unit, when ``ylabel`` does not name it.

    Returns
    -------
    Figure
        The matplotlib figure.

    Raises
    ------
    ValueError
        Per-point sequences of different lengths, a position out of range, an unknown prompt level.
    """
    from matplotlib.transforms import offset_copy  # matplotlib is heavy: imported only when a plot is drawn

    n = len(values)
    _check_lengths(n, labels=labels, met=met, visit_numbers=visit_numbers, prompts=prompts)
    for name, positions in (("mastered", mastered), ("regressed", regressed)):
        if any(not 0 <= p < n for p in positions):
            raise ValueError(f"{name} positions must lie between 0 and {n - 1}: {list(positions)}")
    xs = [float(v) for v in visit_numbers] if visit_numbers is not None else [float(i + 1) for i in range(n)]
    at = _position_to_x(xs)
    if unit_label and unit_label not in ylabel:
        ylabel = f"{ylabel} ({unit_label})"
    unit = " %" if percent else f" {unit_label or _unit_of(ylabel) or ''}".rstrip()

    fig = _new_figure(3.0)
    ax = _own_axes(fig, "main")
    pax = _own_axes(fig, "prompts") if prompts is not None else None
    bottom_ax = pax or ax
    est_width_px = WIDTH_IN * DPI - 70  # the plotting area's width (at most), before the layout measures it

    # x range: the points, and the aim's target when it is near enough to show.
    left = (xs[0] if xs else 1.0) - 0.6
    right = (xs[-1] if xs else 1.0) + 0.6
    aim_shown = aim is not None and aim[2] <= 2 * max(n, 1)  # further ahead, the line is clipped at the edge
    if aim_shown:
        right = max(right, at(aim[2]) + 0.6)
    ax.set_xlim(left, right)

    # The data path, broken at every phase change; one Line2D per phase.
    starts = sorted({0, n} | {p for p, _ in phase_marks if 0 < p < n})
    for a, b in itertools.pairwise(starts):
        seg = [(xs[i], values[i]) for i in range(a, b) if values[i] is not None]
        if len(seg) > 1:
            ax.plot([s[0] for s in seg], [s[1] for s in seg], color=INK, linewidth=1.2, zorder=2, gid="data")

    handles: list[Any] = []  # the legend's entries, in reading order: points, marks, lines
    kinds = (("criterion met", lambda m: m is True, INK), ("criterion not met", lambda m: m is False, "white"),
             ("no judgement", lambda m: m is None, MUTED))
    for label, chosen, face in kinds:
        pts = [(xs[i], v) for i, (v, m) in enumerate(zip(values, met, strict=True)) if v is not None and chosen(m)]
        if pts:
            line, = ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", markersize=5.5, zorder=3,
                            markeredgecolor=INK if face != MUTED else MUTED, markeredgewidth=1.1,
                            markerfacecolor=face, linestyle="none", gid="points", label=label)
            handles.append(line)

    lo_hi = [v for v in values if v is not None] + ([criterion] if criterion is not None else [])
    lo_hi += [y for t in trends for y in (t[1], t[3])] + ([aim[1], aim[3]] if aim is not None else [])
    marks = bool(mastered or regressed)
    if percent:
        ax.set_ylim(-5, 115 if marks else 108)
        ax.set_yticks([0, 25, 50, 75, 100])
    elif lo_hi:
        lo, hi = min(lo_hi), max(lo_hi)
        pad = (hi - lo) * 0.15 or max(abs(hi) * 0.2, 1.0)
        lo = 0.0 if lo >= 0 else lo - pad  # counts and durations from 0
        pad = (hi - lo) * 0.1 or 1.0
        ax.set_ylim(lo, hi + pad * (2 if marks else 1))
        if all(float(v).is_integer() for v in lo_hi):
            ax.yaxis.get_major_locator().set_params(integer=True)  # trials passed: no "1.5 trials"
    ylo = ax.get_ylim()[0]

    unjudged = [xs[i] for i, v in enumerate(values) if v is None]
    if unjudged:
        line, = ax.plot(unjudged, [ylo] * len(unjudged), marker="x", color=MUTED, markersize=5, clip_on=False,
                        zorder=3, linestyle="none", gid="not-judged", label="not judged (no trials)")
        handles.append(line)

    # Mastery and regression: a mark just above the point (the point stays readable).
    above = offset_copy(ax.transData, fig=fig, y=9, units="points")
    for name, positions, marker, colour, size in (("mastered", mastered, "*", ACCENT, 10),
                                                  ("regressed", regressed, "v", CRITERION, 7)):
        if positions:
            ys = [values[p] if values[p] is not None else ylo for p in positions]
            line, = ax.plot([xs[p] for p in positions], ys, marker=marker, markersize=size, color=colour,
                            markeredgecolor=INK, markeredgewidth=0.5, linestyle="none", transform=above,
                            clip_on=False, zorder=4, gid=name, label=name)
            handles.append(line)

    if criterion is not None:
        handles.append(ax.axhline(criterion, color=CRITERION, linestyle="--", linewidth=1.1, zorder=1,
                                  gid="criterion", label=f"criterion {criterion:g}{unit}"))
    for k, (x0, y0, x1, y1) in enumerate(trends):
        line, = ax.plot([at(x0), at(x1)], [y0, y1], color=TREND, linestyle="-.", linewidth=0.9, zorder=1.5,
                        gid="trend", label="trend")
        if k == 0:
            handles.append(line)
    if aim is not None:
        x0, y0, x1, y1 = aim
        line, = ax.plot([at(x0), at(x1)], [y0, y1], color=ACCENT, linestyle=(0, (1, 1.6)), linewidth=1.5,
                        marker="D" if aim_shown else None, markevery=[1], markersize=3.5, zorder=1.5, gid="aim",
                        label=_aim_text(aim_label))
        handles.append(line)

    # Phase changes: a line between two visits, the phase's name over its part.
    names = []
    for pos, name in phase_marks:
        if 0 < pos < n:
            x = (xs[pos - 1] + xs[pos]) / 2
            for a in (ax, pax) if pax is not None else (ax,):  # through the prompt panel too
                a.axvline(x, color=MUTED, linewidth=0.9, zorder=1 if a is ax else 3, gid="phase-change")
        elif pos <= 0 or n == 0:
            x = left
        else:
            continue
        names.append((x, name))
    _phase_names(ax, names, est_width_px)

    if pax is not None:
        # The same visits as the plot over it. Not a shared axis: the plot's own ticks, unlabelled over the
        # panel's, would cost a fifth of the drawing time and tell nothing the panel's do not.
        pax.set_xlim(left, right)
        _prompt_panel(pax, xs, prompts)
        ax.set_xticks([])
    _visit_ticks(bottom_ax, xs, labels, est_width_px)
    bottom_ax.set_xlabel("visit (number and date)")
    text = _wrap(ylabel, MAIN_IN * DPI * 0.95, 7.5)
    ax.set_ylabel(text + ("\n(lower is better)" if lower_is_better else ""))

    below = []
    if handles:
        below.append(_legend_row(fig, handles, [h.get_label() for h in handles]))
    rows = [[ax], [pax]] if pax is not None else [[ax]]
    _layout(fig, rows, [MAIN_IN, PROMPT_IN] if pax is not None else [MAIN_IN], below)
    _visit_ticks(bottom_ax, xs, labels, bottom_ax.get_window_extent().width)
    return fig


def _prompt_panel(pax, xs: list[float], prompts: Sequence[Mapping[str, int]]) -> None:
    """Stacked bars per visit: the share of its counted trials at each prompt level."""
    from matplotlib.collections import PolyCollection  # matplotlib is heavy: imported only when a plot is drawn
    from matplotlib.patches import Rectangle

    unknown = {k for p in prompts for k in p} - set(TRIAL_PROMPTS)
    if unknown:
        raise ValueError(f"unknown prompt levels {sorted(unknown)}; the levels are {', '.join(TRIAL_PROMPTS)}")
    totals = [sum(max(int(c), 0) for c in p.values()) for p in prompts]
    base = [0.0] * len(xs)
    handles = []
    half = 0.36  # half a bar's width (visits apart: 1)
    for level in TRIAL_PROMPTS:
        counts = [max(int(p.get(level, 0)), 0) for p in prompts]
        if not any(counts):
            continue
        shares = [100.0 * c / t if t else 0.0 for c, t in zip(counts, totals, strict=True)]
        # One collection per level, a bar per visit (height 0 where none): one draw call, not one per bar.
        bars = [((x - half, b), (x - half, b + h), (x + half, b + h), (x + half, b))
                for x, b, h in zip(xs, base, shares, strict=True)]
        style = {"facecolor": PROMPT_FILLS[level], "edgecolor": MUTED, "linewidth": 0.4,
                 "hatch": PROMPT_HATCH.get(level)}
        pax.add_collection(PolyCollection(bars, gid=f"prompt:{level}", zorder=2, **style), autolim=False)
        handles.append(Rectangle((0, 0), 1, 1, label=level, **style))
        base = [b + h for b, h in zip(base, shares, strict=True)]
    pax.set_ylim(0, 100)
    pax.set_yticks([0, 50, 100])
    if handles:
        # A header over the panel: its own legend, next to the panel it explains.
        pax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=len(handles),
                   borderaxespad=0.3, **{**LEGEND, "handlelength": 1.2, "columnspacing": 1.2, "fontsize": 6.5},
                   handleheight=0.9)
    pax.set_ylabel("prompt level\n(% of trials)", fontsize=6.5)


def _aim_text(aim_label: str | None) -> str:
    if not aim_label:
        return "aim line"
    what = re.sub(r"^aim\s*:?\s*", "", aim_label)  # "aim: 60 % by …" -> "aim line (60 % by …)"
    return f"aim line ({what})"


def _unit_of(ylabel: str) -> str | None:
    """The unit a y label's closing parenthesis names, e.g. "ms" in "session mean (ms)" or in
    "asynchrony (mean, ms, negative = early)"; None when it names none plainly."""
    m = re.search(r"\(([^()]*)\)\s*$", ylabel)
    parts = [part.strip() for part in m.group(1).split(",")] if m else []
    return next((part for part in parts if re.fullmatch(r"[A-Za-z%/]{1,6}", part)), None)


def _position_to_x(xs: Sequence[float]) -> Callable[[float], float]:
    """Point position (0-based, fractional) -> x (the visit's number): between two points, in proportion;
    before the first or past the last (a target date ahead), at the points' mean spacing."""
    step = (xs[-1] - xs[0]) / (len(xs) - 1) if len(xs) > 1 else 1.0

    def at(p: float) -> float:
        if not xs:
            return p + 1.0
        if p <= 0:
            return xs[0] + p * step
        if p >= len(xs) - 1:
            return xs[-1] + (p - (len(xs) - 1)) * step
        i = math.floor(p)
        return xs[i] + (xs[i + 1] - xs[i]) * (p - i)

    return at


def _phase_names(ax, names: list[tuple[float, str]], width_px: float) -> None:
    """Each phase's name over its part of the graph, raised a row where it would touch the one before."""
    x0, x1 = ax.get_xlim()
    ends = [-math.inf]  # per row: where its last name ends (px)
    for x, name in names:
        start = (x - x0) / (x1 - x0) * width_px + 3
        width = _text_width(name, 6.8)
        row = next((r for r, end in enumerate(ends) if start > end + 4), len(ends))
        if row == len(ends):
            ends.append(-math.inf)
        ends[row] = start + width
        ax.annotate(name, xy=(x, 1.0), xycoords=("data", "axes fraction"), xytext=(3, 2 + 10 * row),
                    textcoords="offset points", ha="left", va="bottom", fontsize=6.8, color=LABEL,
                    gid="phase-name")


# --- the timing plots -------------------------------------------------------------------------------------


def session_timing_plot(panels: Sequence[dict[str, Any]]) -> bytes | None:
    """One session's timing, up to three panels side by side; None when there is nothing to draw.

    Each panel: ``n`` (trial numbers), ``y``, ``title``, ``ylabel`` (with its
    unit) and optionally ``err`` (error bars), ``band`` (a ± window, ms),
    ``zero``, ``step``, ``xlabel`` (default "trial").
    """
    fig = _session_timing_figure(panels)
    return None if fig is None else png(fig)


def _session_timing_figure(panels: Sequence[dict[str, Any]]):
    panels = [p for p in panels if any(v is not None for v in p["y"])][:3]
    if not panels:
        return None
    fig, axes = _panel_figure(len(panels))
    for ax, p in zip(axes, panels, strict=True):
        _trial_panel(ax, p["n"], p["y"], title=p["title"], ylabel=p["ylabel"], err=p.get("err"),
                     band=p.get("band"), zero=p.get("zero", False), step=p.get("step", False),
                     xlabel=p.get("xlabel", "trial"), ncols=len(panels))
    _layout(fig, [axes], [PANEL_IN])
    return fig


def range_timing_plot(labels: Sequence[str], panels: Sequence[dict[str, Any]], *,
                      visit_numbers: Sequence[int] | None = None) -> bytes | None:
    """Timing over the report's visits (one point per visit), up to three panels; None when nothing to draw.

    ``labels`` are the visits' dates; ``visit_numbers`` their numbers in the
    report (default 1 … N; ticks show the number over the date). Each panel:
    ``y``, ``title``, ``ylabel`` (with its unit, e.g. "asynchrony (ms, − = early)")
    and optionally ``err``, ``band``, ``zero`` and ``groups``: per point, what
    it was measured on (e.g. "Steady-beat march, 80 BPM") or None. Each group
    has its own marker, colour and line (no line joins two groups), named in a
    legend under the panels.
    """
    fig = _range_timing_figure(labels, panels, visit_numbers=visit_numbers)
    return None if fig is None else png(fig)


def _range_timing_figure(labels: Sequence[str], panels: Sequence[dict[str, Any]], *,
                         visit_numbers: Sequence[int] | None = None):
    panels = [p for p in panels if any(v is not None for v in p["y"])][:3]
    if not panels:
        return None
    per_point = {f"panel {k + 1}'s {key}": p[key] for k, p in enumerate(panels) for key in ("y", "err", "groups")
                 if p.get(key) is not None}
    _check_lengths(len(labels), visit_numbers=visit_numbers, **per_point)
    xs = [float(v) for v in visit_numbers] if visit_numbers is not None else [float(i + 1) for i in range(len(labels))]
    order: list[str | None] = []  # every group, in order of first appearance, so a group looks alike in every panel
    for p in panels:
        for g in p.get("groups") or ():
            if g not in order:
                order.append(g)
    grouped = len(order) > 1 or (len(order) == 1 and order[0] is not None)
    styles = {g: GROUP_STYLES[k % len(GROUP_STYLES)] for k, g in enumerate(order)}
    fig, axes = _panel_figure(len(panels))
    width_px = (WIDTH_IN * DPI - 50 * len(panels)) / len(panels)  # at most, before the layout measures it
    for ax, p in zip(axes, panels, strict=True):
        groups = p.get("groups") if grouped else None
        _trial_panel(ax, xs, p["y"], title=p["title"], ylabel=p["ylabel"], err=p.get("err"), band=p.get("band"),
                     zero=p.get("zero", False), xlabel="visit (number and date)",
                     ncols=len(panels), groups=groups, styles=styles)
        _visit_ticks(ax, xs, labels, width_px)
    below = []
    if grouped:
        handles = [_group_handle(styles[g], _group_name(g)) for g in order]
        below.append(_legend_row(fig, handles, [h.get_label() for h in handles]))
    _layout(fig, [axes], [PANEL_IN], below)
    for ax in axes:
        _visit_ticks(ax, xs, labels, ax.get_window_extent().width)
    return fig


def _group_name(group: str | None) -> str:
    return group if group is not None else "other"


def _group_handle(style, label: str):
    from matplotlib.lines import Line2D  # matplotlib is heavy: imported only when a plot is drawn

    colour, marker, ls = style
    return Line2D([], [], color=colour, marker=marker, linestyle=ls, markersize=4, linewidth=1.0, label=label)


def _trial_panel(ax, n: Sequence[float], y: Sequence[float | None], *, title: str, ylabel: str,
                 err: Sequence[float | None] | None = None, band: float | None = None, zero: bool = False,
                 step: bool = False, xlabel: str = "trial", ncols: int = 1,
                 groups: Sequence[str | None] | None = None, styles: Mapping[str | None, tuple] | None = None) -> None:
    pts = [(i, v, (err[k] if err else None), (groups[k] if groups else None))
           for k, (i, v) in enumerate(zip(n, y, strict=True)) if v is not None]
    if band:
        ax.axhspan(-band, band, color=ACCENT, alpha=0.12, linewidth=0)
        xlabel += f"\nshaded: ±{band:.0f} ms window"  # under the axis, where it covers no point
    if zero:
        ax.axhline(0, color=MUTED, linewidth=0.8)
    series: dict[str | None, list[tuple]] = {}
    for p in pts:
        series.setdefault(p[3], []).append(p)
    for g, ps in series.items():
        xs = [p[0] for p in ps]
        ys = [p[1] for p in ps]
        colour, marker, ls = styles[g] if groups and styles else (INK, "o", "-")
        gid = f"group:{_group_name(g)}" if groups else "data"
        if step:
            ax.step(xs, ys, where="mid", color=colour, linewidth=1.2)
        if err:
            bars = ax.errorbar(xs, ys, yerr=[p[2] or 0.0 for p in ps], fmt=marker, markersize=3.5, color=colour,
                               ecolor=MUTED, elinewidth=0.9, capsize=2, linestyle="none" if step else ls,
                               linewidth=1.0)
            bars.lines[0].set_gid(gid)  # the series' own line (not its caps)
        else:
            ax.plot(xs, ys, marker=marker, markersize=3.5, color=colour, linestyle="none" if step else ls,
                    linewidth=1.0, gid=gid)
    if not pts:
        ax.text(0.5, 0.5, "no values", transform=ax.transAxes, ha="center", va="center", color=MUTED)
    width_px = (WIDTH_IN * DPI - 60 * ncols) / ncols * 0.98
    ax.set_title(_wrap(title, width_px, TITLE_PT), loc="left")
    ax.set_ylabel(_wrap(ylabel, PANEL_IN * DPI * 0.95, 7.5))
    ax.set_xlabel(xlabel)
    if n:
        ax.set_xlim(min(n) - 0.6, max(n) + 0.6)


# --- building blocks ------------------------------------------------------------------------------------


def _new_figure(height_in: float):
    _style()
    # heavy (0.3 s more than matplotlib itself): only when a plot is drawn
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _axes_style(ax) -> None:
    from matplotlib.ticker import MaxNLocator  # matplotlib is heavy: imported only when a plot is drawn

    ax.yaxis.set_major_locator(MaxNLocator(nbins=4))  # few ticks: they are most of the drawing time
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    ax.grid(True, color=GRID, linewidth=0.6)
    ax.set_axisbelow(True)


def _own_axes(fig, gid: str | None = None):
    """An axes of this module's plots (placed later by :func:`_layout`): the reports' style, smaller ticks."""
    ax = fig.add_axes((0.1, 0.2, 0.8, 0.6), gid=gid)
    _axes_style(ax)
    ax.tick_params(axis="x", labelsize=TICK_PT)
    ax.tick_params(axis="y", labelsize=7)
    return ax


def _panel_figure(ncols: int):
    """A figure with ``ncols`` timing panels side by side (placed later by :func:`_layout`)."""
    fig = _new_figure(2.0)
    return fig, [_own_axes(fig) for _ in range(ncols)]


def _check_lengths(n: int, **per_point: Sequence[Any] | None) -> None:
    for name, seq in per_point.items():
        if seq is not None and len(seq) != n:
            raise ValueError(f"{name} has {len(seq)} entries for {n} points")


_measuring: list[Any] = []


def _measurer():
    """The renderer that measures text before a figure's size is known (the figure's own renderer is made
    for its final size). Text sizes do not depend on the canvas, and matplotlib caches them per renderer:
    one for the process lets every figure it draws share them (the report's dates, axis labels, ticks)."""
    if not _measuring:
        from matplotlib.backends.backend_agg import (
            RendererAgg,  # matplotlib is heavy: imported only when a plot is drawn
        )

        _measuring.append(RendererAgg(1, 1, DPI))
    return _measuring[0]


@functools.lru_cache(maxsize=1024)
def _text_width(text: str, size_pt: float) -> float:
    """The width (px) of one line of text in the reports' font."""
    from matplotlib.font_manager import FontProperties  # matplotlib is heavy: imported only when a plot is drawn

    font = FontProperties(family="DejaVu Sans", size=size_pt)
    return _measurer().get_text_width_height_descent(text, font, ismath=False)[0]


def _wrap(text: str, width_px: float, size_pt: float) -> str:
    """``text`` broken at spaces into lines no wider than ``width_px`` (a longer word keeps its own line)."""
    out = []
    for para in text.split("\n"):
        head, sep, rest = para.partition(" (")
        if sep and _text_width(para, size_pt) > width_px >= _text_width(head, size_pt):
            # "asynchrony (ms, − = early)": the parenthesis on its own line(s) rather than split inside
            out.append(head)
            para = "(" + rest
        line = ""
        for word in para.split(" "):
            trial = f"{line} {word}" if line else word
            if line and _text_width(trial, size_pt) > width_px:
                out.append(line)
                line = word
            else:
                line = trial
        out.append(line)
    return "\n".join(out)


def _visit_ticks(ax, xs: Sequence[float], labels: Sequence[str], width_px: float) -> None:
    """Ticks at every visit; as many labelled "number over date" as fit side by side in ``width_px``
    (always the first and, as far as it fits, the last).

    Called before the layout (with a guess of the width: the labels it measures) and after it (with the
    axes' own width). Every label has as many lines as the tallest, so which are shown does not change the
    height the layout measured; the first and last, which reach furthest out, are always the same.
    """
    if not xs:
        ax.set_xticks([])
        return
    # "07 Dec (sim.)" -> "7 Dec" over "(sim.)": no wider than a date, so more of them fit
    texts = [f"{x:g}\n" + re.sub(r"^0(?=\d)", "", lab).replace(" (", "\n(") for x, lab in zip(xs, labels, strict=True)]
    lines = max(t.count("\n") for t in texts)
    texts = [t + "\n" * (lines - t.count("\n")) for t in texts]
    label_px = max(_text_width(line, TICK_PT) for t in texts for line in t.split("\n")) + TICK_GAP_PX
    x0, x1 = ax.get_xlim()
    need = label_px / width_px * (x1 - x0)  # least distance between two labelled ticks, in x units
    shown = [0]
    for i in range(1, len(xs)):
        if xs[i] - xs[shown[-1]] >= need:
            shown.append(i)
    if shown[-1] != len(xs) - 1:  # the latest visit is the one most often looked for
        if len(shown) > 1 and xs[-1] - xs[shown[-1]] < need:
            shown.pop()
        if not shown or xs[-1] - xs[shown[-1]] >= need:
            shown.append(len(xs) - 1)
    keep = set(shown)
    # One tick per visit, the unlabelled ones empty (minor ticks would double the ticks, which are most of
    # the drawing time).
    ax.set_xticks(list(xs), [t if i in keep else "" for i, t in enumerate(texts)])
    ax.grid(False, axis="x")


def _legend_row(fig, handles: list[Any], labels: list[str]):
    """A figure legend in as few rows as fit the figure's width (placed under the plots by :func:`_layout`).

    The rows are first worked out from the labels' widths, then the legend is measured (a legend costs a
    layout each time it is tried, so it is tried once unless the estimate was short).
    """
    em = LEGEND["fontsize"] * DPI / 72
    labels = [_wrap(lab, 190, LEGEND["fontsize"]) for lab in labels]
    entry = [(LEGEND["handlelength"] + LEGEND["handletextpad"]) * em
             + max(_text_width(line, LEGEND["fontsize"]) for line in lab.split("\n")) for lab in labels]
    avail = WIDTH_IN * DPI - 2 * PAD_PX
    n = len(handles)
    for rows in range(1, n + 1):
        ncol = -(-n // rows)
        # As matplotlib fills them: the first n % ncol columns hold one entry more.
        sizes = [n // ncol + (c < n % ncol) for c in range(ncol)]
        starts = [sum(sizes[:c]) for c in range(ncol)]
        width = sum(max(entry[a:a + k]) for a, k in zip(starts, sizes, strict=True))
        if ncol > 1 and width + (ncol - 1) * LEGEND["columnspacing"] * em + 2 * em > avail:
            continue
        leg = fig.legend(handles, labels, loc="upper center", ncol=ncol, borderaxespad=0, borderpad=0.2, **LEGEND)
        if ncol == 1 or leg.get_window_extent(_measurer()).width <= avail:
            return leg
        leg.remove()
    raise AssertionError("a one-column legend is always returned")


def _layout(fig, rows: list[list[Any]], heights_in: list[float], below: Sequence[Any] = (), *,
            retry: bool = True) -> None:
    """Place the axes (a grid of ``rows``, each row ``heights_in`` high) and the figure legends ``below``
    them, with margins measured from what hangs outside each axes (tick labels, axis labels, titles, phase
    names, axes legends); the figure's height follows. One measuring pass (two when a title had to be
    wrapped again to its panel's final width), no drawing."""
    W = WIDTH_IN * DPI
    renderer = _measurer()
    ncols = len(rows[0])
    # First near their final size: what hangs out at an edge (the last tick's label) depends on the scale.
    H0 = fig.bbox.height
    est_width = (W - 70 - 70 * (ncols - 1)) / ncols
    for r, row in enumerate(rows):
        for c, ax in enumerate(row):
            ax.set_position(((60 + c * (est_width + 70)) / W, 0.0, est_width / W, heights_in[r] * DPI / H0))
    over = {}  # axes -> (left, right, top, bottom) overhang, px
    for row in rows:
        for ax in row:
            box, tight = ax.get_window_extent(renderer), ax.get_tightbbox(renderer)
            over[ax] = (max(box.x0 - tight.x0, 0), max(tight.x1 - box.x1, 0), max(tight.y1 - box.y1, 0),
                        max(box.y0 - tight.y0, 0))
    lefts = [max(over[r[c]][0] for r in rows) for c in range(ncols)]
    rights = [max(over[r[c]][1] for r in rows) for c in range(ncols)]
    tops = [max(over[ax][2] for ax in r) for r in rows]
    bottoms = [max(over[ax][3] for ax in r) for r in rows]
    col_gaps = [rights[c] + lefts[c + 1] + 2 * PAD_PX for c in range(ncols - 1)]
    row_gaps = [bottoms[r] + tops[r + 1] + PAD_PX for r in range(len(rows) - 1)]
    x_left = lefts[0] + PAD_PX
    width = (W - x_left - rights[-1] - PAD_PX - sum(col_gaps)) / ncols
    if retry:
        # A panel's title was wrapped to a guess of its width; the neighbours' labels may have left it less.
        titles = [(ax, ax.get_title(loc="left")) for row in rows for ax in row]
        long = [(ax, t) for ax, t in titles if t and max(_text_width(ln, TITLE_PT) for ln in t.split("\n")) > width]
        for ax, t in long:
            ax.set_title(_wrap(t.replace("\n", " "), width, TITLE_PT), loc="left")
        if long:
            return _layout(fig, rows, heights_in, below, retry=False)
    legend_h = [leg.get_window_extent(renderer).height for leg in below]
    heights = [h * DPI for h in heights_in]
    H = tops[0] + PAD_PX + sum(heights) + sum(row_gaps) + bottoms[-1] + PAD_PX + sum(h + PAD_PX for h in legend_h)
    fig.set_size_inches(WIDTH_IN, H / DPI)
    y = H - tops[0] - PAD_PX  # the top of the current row, px from the bottom
    for r, row in enumerate(rows):
        y -= heights[r]
        x = x_left
        for c, ax in enumerate(row):
            ax.set_position((x / W, y / H, width / W, heights[r] / H))
            x += width + (col_gaps[c] if c < ncols - 1 else 0)
        if r < len(rows) - 1:
            y -= row_gaps[r]
    y -= bottoms[-1] + PAD_PX
    centre = (x_left + (W - rights[-1] - PAD_PX)) / 2  # under the plots' middle, as far as the legend fits
    for leg, h in zip(below, legend_h, strict=True):
        half = leg.get_window_extent(renderer).width / 2
        x = min(max(centre, half + PAD_PX), W - half - PAD_PX)
        leg.set_bbox_to_anchor((x / W, y / H), transform=fig.transFigure)
        y -= h + PAD_PX
