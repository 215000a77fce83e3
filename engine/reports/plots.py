"""Report plots: one per objective and a few timing plots, as PNG bytes.

matplotlib's object API with the Agg canvas (no pyplot, so no global figure
registry, nothing to close, safe without a display). Each function draws one
small figure and returns its PNG; plots are calm (muted colours, light grid)
and readable in black and white (markers and line styles differ too).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

__all__ = ["figure", "objective_plot", "png", "range_timing_plot", "session_timing_plot"]

DPI = 110
INK = "#1f3b5a"
ACCENT = "#3c7d7a"
CRITERION = "#b35a2a"
MUTED = "#8a94a0"
GRID = "#e3e7ec"
WIDTH_IN = 6.6

_style_done = False


def _style() -> None:
    global _style_done
    if _style_done:
        return
    import matplotlib  # heavy (0.1–0.3 s): only when a plot is drawn

    matplotlib.rcParams.update({
        "font.family": "DejaVu Sans", "font.size": 7.5, "axes.titlesize": 8, "axes.labelsize": 7.5,
        "axes.edgecolor": MUTED, "axes.linewidth": 0.6, "xtick.color": "#444", "ytick.color": "#444",
        "xtick.major.width": 0.5, "ytick.major.width": 0.5, "axes.spines.top": False,
        "axes.spines.right": False, "svg.fonttype": "none",
    })
    _style_done = True


def figure(ncols: int, height_in: float):
    """A new figure in the reports' style: ``ncols`` axes side by side, the report's width, ``height_in`` inches.

    Returns ``(figure, list of axes)``; draw on the axes, then :func:`png`.
    """
    _style()
    # heavy (0.3 s more than matplotlib itself): only when a plot is drawn
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI)
    FigureCanvasAgg(fig)
    # Fixed margins (tight_layout would draw every figure twice).
    fig.subplots_adjust(left=0.09 if ncols == 1 else 0.075, right=0.985, top=0.86, bottom=0.2,
                        wspace=0.42)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    for ax in axes:
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4))  # few ticks: they are most of the drawing time
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
        ax.grid(True, color=GRID, linewidth=0.6)
        ax.set_axisbelow(True)
    return fig, list(axes)


def png(fig) -> bytes:
    """The figure as PNG bytes (at the reports' resolution)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, pil_kwargs={"compress_level": 1})
    return buf.getvalue()


def objective_plot(labels: Sequence[str], values: Sequence[float | None], met: Sequence[bool | None], *,
                   criterion: float | None, ylabel: str, lower_is_better: bool = False,
                   phase_marks: Sequence[tuple[int, str]] = (), percent: bool = False) -> bytes:
    """Per-session figures of one objective with its criterion line.

    ``labels`` name the sessions (dates) on the x axis; ``values`` are the
    sessions' figures (None: nothing to judge, drawn as a grey cross at the
    axis); filled markers met the criterion, open ones did not.
    ``phase_marks`` are (session position, phase name) where a phase starts.
    """
    fig, (ax,) = figure(1, 2.1)
    x = list(range(len(values)))
    known = [(i, v) for i, v in enumerate(values) if v is not None]
    if known:
        ax.plot([i for i, _ in known], [v for _, v in known], color=INK, linewidth=1.2, zorder=2)
    for i, (v, m) in enumerate(zip(values, met, strict=True)):
        if v is None:
            continue
        ax.plot([i], [v], marker="o", markersize=5.5, zorder=3, markeredgecolor=INK, markeredgewidth=1.1,
                color=INK if m else "white", linestyle="none")
    if criterion is not None:
        ax.axhline(criterion, color=CRITERION, linestyle="--", linewidth=1.1, zorder=1)
        ax.annotate(f"criterion {criterion:g}{' %' if percent else ''}", xy=(1.0, criterion),
                    xycoords=("axes fraction", "data"), xytext=(-2, 3), textcoords="offset points",
                    ha="right", va="bottom", color=CRITERION, fontsize=7)
    lo_hi = [v for v in values if v is not None] + ([criterion] if criterion is not None else [])
    if percent:
        ax.set_ylim(-5, 108)
    elif lo_hi:
        lo, hi = min(lo_hi), max(lo_hi)
        pad = (hi - lo) * 0.15 or max(abs(hi) * 0.2, 1.0)
        ax.set_ylim(min(0.0, lo - pad) if lo >= 0 else lo - pad, hi + pad)
    bottom = ax.get_ylim()[0]
    for i, v in enumerate(values):
        if v is None:
            ax.plot([i], [bottom], marker="x", color=MUTED, markersize=5, clip_on=False, zorder=3)
    for pos, name in phase_marks:
        if 0 < pos < len(values):
            ax.axvline(pos - 0.5, color=MUTED, linestyle=":", linewidth=1)
        ax.annotate(name, xy=(max(pos, 0) - 0.45, 1.0), xycoords=("data", "axes fraction"), xytext=(0, 2),
                    textcoords="offset points", ha="left", va="bottom", fontsize=6.5, color=MUTED)
    ax.set_xticks(x)
    step = -(-len(x) // 10) or 1
    ax.set_xticklabels([lab if i % step == 0 else "" for i, lab in enumerate(labels)], rotation=0)
    ax.set_xlim(-0.6, max(len(x) - 0.4, 0.6))
    ax.set_ylabel(ylabel)
    if lower_is_better:
        ax.set_title("lower is better", loc="right", fontsize=6.5, color=MUTED)
    return png(fig)


def _trial_panel(ax, n: Sequence[int], y: Sequence[float | None], *, title: str, ylabel: str,
                 err: Sequence[float | None] | None = None, band: float | None = None, zero: bool = False,
                 step: bool = False, xlabel: str = "trial") -> None:
    pts = [(i, v, (err[k] if err else None)) for k, (i, v) in enumerate(zip(n, y, strict=True)) if v is not None]
    if band:
        ax.axhspan(-band, band, color=ACCENT, alpha=0.12, linewidth=0)
        ax.annotate(f"shaded: ±{band:.0f} ms window", xy=(0.01, 0.02), xycoords="axes fraction", fontsize=6.5,
                    color=ACCENT, ha="left", va="bottom")
    if zero:
        ax.axhline(0, color=MUTED, linewidth=0.8)
    if pts:
        xs = [p[0] for p in pts]
        ys = [p[1] for p in pts]
        if step:
            ax.step(xs, ys, where="mid", color=INK, linewidth=1.2)
        if err:
            es = [p[2] or 0.0 for p in pts]
            ax.errorbar(xs, ys, yerr=es, fmt="o", markersize=3.5, color=INK, ecolor=MUTED, elinewidth=0.9,
                        capsize=2)
        else:
            ax.plot(xs, ys, marker="o", markersize=3.5, color=INK, linewidth=0 if step else 1.0)
    else:
        ax.text(0.5, 0.5, "no values", transform=ax.transAxes, ha="center", va="center", color=MUTED)
    ax.set_title(title, loc="left")
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    if n:
        ax.set_xlim(min(n) - 0.6, max(n) + 0.6)


def session_timing_plot(panels: Sequence[dict[str, Any]]) -> bytes | None:
    """One session's timing, up to three panels side by side; None when there is nothing to draw.

    Each panel: ``n`` (trial numbers), ``y``, ``title``, ``ylabel`` and
    optionally ``err`` (error bars), ``band`` (a ±window), ``zero``, ``step``.
    """
    panels = [p for p in panels if any(v is not None for v in p["y"])][:3]
    if not panels:
        return None
    fig, axes = figure(len(panels), 1.9)
    for ax, p in zip(axes, panels, strict=True):
        _trial_panel(ax, p["n"], p["y"], title=p["title"], ylabel=p["ylabel"], err=p.get("err"),
                     band=p.get("band"), zero=p.get("zero", False), step=p.get("step", False),
                     xlabel=p.get("xlabel", "trial"))
    return png(fig)


def range_timing_plot(labels: Sequence[str], panels: Sequence[dict[str, Any]]) -> bytes | None:
    """Timing over the report's sessions (one point per session), up to three panels."""
    panels = [p for p in panels if any(v is not None for v in p["y"])][:3]
    if not panels:
        return None
    fig, axes = figure(len(panels), 2.0)
    x = list(range(len(labels)))
    step = -(-len(x) // (8 // len(panels))) or 1
    for ax, p in zip(axes, panels, strict=True):
        _trial_panel(ax, x, p["y"], title=p["title"], ylabel=p["ylabel"], err=p.get("err"),
                     band=p.get("band"), zero=p.get("zero", False))
        ax.set_xlabel("session")
        ax.set_xticks(x)
        ax.set_xticklabels([lab if i % step == 0 else "" for i, lab in enumerate(labels)])
    return png(fig)
