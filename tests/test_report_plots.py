"""The report's graphs (engine/reports/plots.py), drawn as ABA data apps draw them.

Each public plot has a private ``_…_figure`` twin returning the laid-out
Figure; these tests draw it and look at what was drawn: nothing clipped, the
data path broken at phase changes, ticks naming each visit, trend, aim,
mastery and prompt levels where given (and only then), legends.
"""

from __future__ import annotations

import itertools
import re

import pytest

pytest.importorskip("matplotlib")

from matplotlib.text import Text

from engine.reports import plots

PNG = b"\x89PNG\r\n\x1a\n"
LONG = "Asynchrony (session mean ± SD, ms, negative = early)"
LEVELS = ("independent", "gestural", "verbal", "model", "physical", "not recorded")


def series(n: int) -> tuple[list[str], list[float | None], list[bool | None]]:
    """``n`` visits, three on each day (dates repeat), one not judged, rising toward 60."""
    labels = [f"{1 + i // 3:02d} Dec" for i in range(n)]
    values: list[float | None] = [20.0 + 40.0 * i / max(n - 1, 1) for i in range(n)]
    if n > 2:
        values[n // 2] = None
    met = [None if v is None else v >= 60 for v in values]
    return labels, values, met


def prompts_for(n: int) -> list[dict[str, int]]:
    out = [{"independent": i % 5, "verbal": 3, "physical": 1 if i % 2 else 0} for i in range(n)]
    out[0] = {"not recorded": 4}
    if n > 1:
        out[1] = {}  # nothing counted: no bar
    return out


def objective(n: int, **kw):
    labels, values, met = series(n)
    args = {"criterion": 60.0, "ylabel": "% of judged trials passed", "percent": True,
            "phase_marks": [(0, "baseline"), (min(2, n - 1), "treatment")]}
    args.update(kw)
    return plots._objective_figure(labels, values, met, **args)


def drawn_texts(fig):
    """Draw ``fig``; every Text it drew (visible, not empty), with the renderer that drew them."""
    drawn = []
    draw = Text.draw

    def record(self, renderer):
        if self.get_visible() and self.get_text().strip():
            drawn.append(self)
        return draw(self, renderer)

    Text.draw = record  # a tick outside the view, or a hidden label, is never drawn: only these count
    try:
        fig.canvas.draw()
    finally:
        Text.draw = draw
    renderer = fig.canvas.get_renderer()
    return list(dict.fromkeys(drawn)), renderer


def assert_nothing_clipped(fig) -> list:
    texts, renderer = drawn_texts(fig)
    box = fig.bbox
    for t in texts:
        e = t.get_window_extent(renderer)
        assert e.x0 >= box.x0 - 1 and e.y0 >= box.y0 - 1 and e.x1 <= box.x1 + 1 and e.y1 <= box.y1 + 1, (
            f"{t.get_text()!r} at {e.bounds} leaves the figure {box.bounds}")
    for leg in [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]:
        e = leg.get_window_extent(renderer)
        assert e.x0 >= -1 and e.y0 >= -1 and e.x1 <= box.x1 + 1 and e.y1 <= box.y1 + 1, "a legend is clipped"
    return texts


def main_axes(fig):
    return next(ax for ax in fig.axes if ax.get_gid() == "main")


def lines(ax, gid: str):
    return [ln for ln in ax.lines if ln.get_gid() == gid]


def legend_texts(fig) -> list[str]:
    return [t.get_text() for leg in fig.legends for t in leg.get_texts()]


# --- nothing clipped ------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [3, 13, 40])
@pytest.mark.parametrize("prompts", [False, True])
def test_objective_plot_clips_nothing(n, prompts):
    fig = objective(n, ylabel=LONG, percent=False, criterion=35.0, lower_is_better=True,
                    visit_numbers=list(range(4, 4 + n)), trends=[(0, 20, 1, 22), (2, 25, n - 1, 60)],
                    aim=(1, 22, n + 3, 60), aim_label="aim: 60 % by 15 Mar 2027", mastered=[n - 1],
                    regressed=[n - 2], prompts=prompts_for(n) if prompts else None)
    texts = assert_nothing_clipped(fig)
    ax = main_axes(fig)
    ylabel = ax.yaxis.label
    assert ylabel in texts and "early" in ylabel.get_text() and "lower is better" in ylabel.get_text()
    renderer = fig.canvas.get_renderer()  # the long label was wrapped, to no taller than its plot
    assert ylabel.get_window_extent(renderer).height <= ax.get_window_extent(renderer).height
    if prompts:
        assert next(ax for ax in fig.axes if ax.get_gid() == "prompts").yaxis.label in texts


def test_objective_plot_as_the_report_calls_it_today_clips_nothing():
    labels, values, met = series(13)
    fig = plots._objective_figure(labels, values, met, criterion=4, ylabel="trials passed",
                                  lower_is_better=False, phase_marks=[(0, "baseline"), (3, "treatment")],
                                  percent=False)
    assert_nothing_clipped(fig)
    assert plots.objective_plot(labels, values, met, criterion=4, ylabel="trials passed").startswith(PNG)


@pytest.mark.parametrize("n", [3, 13, 40])
def test_range_timing_plot_clips_nothing(n):
    labels = [f"{1 + i // 2:02d} Jan" for i in range(n)]
    groups = ["Steady-beat march, 80 BPM" if i % 3 else "Call and response, 100 BPM" for i in range(n)]
    panels = [{"y": [-20.0 + i for i in range(n)], "err": [8.0] * n, "zero": True, "band": 30,
               "title": "Asynchrony (session mean ± SD) over the visits of this report",
               "ylabel": "asynchrony (ms, − = early)", "groups": groups},
              {"y": [700.0 - 5 * i for i in range(n)], "title": "Response latency (session mean)",
               "ylabel": "response latency (ms)", "groups": groups},
              {"y": [0.5] * n, "title": "Rhythm similarity", "ylabel": LONG}]
    fig = plots._range_timing_figure(labels, panels, visit_numbers=list(range(1, n + 1)))
    texts = assert_nothing_clipped(fig)
    assert all(ax.xaxis.label in texts and ax.xaxis.label.get_text().startswith("visit (number and date)")
               for ax in fig.axes)
    assert fig.axes[0].xaxis.label.get_text().endswith("shaded: ±30 ms window")


def test_session_timing_plot_clips_nothing():
    panels = [{"n": list(range(1, 33)), "y": [(-1) ** i * 12.0 for i in range(32)], "band": 40, "zero": True,
               "title": "Steady-beat march with a long activity name", "ylabel": "asynchrony (ms, − = early)",
               "xlabel": "beat"},
              {"n": [1, 2, 3], "y": [800.0, None, 650.0], "title": "Call and response", "ylabel": LONG},
              {"n": [1, 2, 3, 4], "y": [80, 80, 90, 100], "title": "Tempo over the session", "ylabel": "BPM",
               "step": True}]
    texts = assert_nothing_clipped(plots._session_timing_figure(panels))
    assert any("±40 ms window" in t.get_text() for t in texts)
    assert plots.session_timing_plot(panels).startswith(PNG)
    assert plots.session_timing_plot([{"n": [1], "y": [None], "title": "t", "ylabel": "ms"}]) is None


# --- the data path and the phases -------------------------------------------------------------------------


@pytest.mark.parametrize("numbers", [None, [2, 3, 5, 6, 9, 10, 11, 14]])
def test_the_data_path_breaks_at_every_phase_change(numbers):
    values = [10.0, 12, 30, 33, 35, 20, None, 25]
    marks = [(0, "baseline"), (2, "treatment"), (5, "maintenance")]
    fig = plots._objective_figure(["07 Dec"] * 8, values, [False] * 6 + [None, True], criterion=30,
                                  ylabel="session mean (ms)", phase_marks=marks, visit_numbers=numbers,
                                  aim=(1, 11, 9, 30), trends=[(0, 10, 1, 12), (2, 30, 4, 35)])
    ax = main_axes(fig)
    xs = [float(x) for x in numbers] if numbers else [float(i + 1) for i in range(8)]
    changes = [(xs[p - 1] + xs[p]) / 2 for p, _ in marks if p > 0]
    assert sorted(ln.get_xdata()[0] for ln in lines(ax, "phase-change")) == changes
    for ln in ax.lines:
        if ln.get_linestyle() == "None" or ln.get_gid() in ("aim", "criterion"):  # markers only; lines by design
            continue
        x = [float(v) for v in ln.get_xdata()]
        assert not any(min(x) < c < max(x) for c in changes), f"{ln.get_gid()} {x} crosses a phase change"
    # ... and every judged point of a phase with two or more is on the path.
    on_path = sorted(float(x) for ln in lines(ax, "data") for x in ln.get_xdata())
    assert on_path == [xs[i] for i in (0, 1, 2, 3, 4, 5, 7)]
    names = [t.get_text() for t in ax.texts if t.get_gid() == "phase-name"]
    assert names == ["baseline", "treatment", "maintenance"]


def test_points_met_open_and_not_judged_and_the_criterion_with_its_unit():
    fig = plots._objective_figure(["1 Dec", "2 Dec", "3 Dec"], [300.0, None, 200.0], [False, None, True],
                                  criterion=250, ylabel="session mean (ms)", lower_is_better=True)
    ax = main_axes(fig)
    points = {ln.get_label(): ln for ln in lines(ax, "points")}
    assert list(points["criterion met"].get_xdata()) == [3.0]
    assert points["criterion met"].get_markerfacecolor() != "white"
    assert list(points["criterion not met"].get_xdata()) == [1.0]
    assert points["criterion not met"].get_markerfacecolor() == "white"
    assert list(lines(ax, "not-judged")[0].get_xdata()) == [2.0]
    assert lines(ax, "criterion")[0].get_linestyle() == "--"
    assert "criterion 250 ms" in legend_texts(fig)


# --- ticks ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [7, 13, 40])
def test_ticks_name_each_visit_by_number_and_date_and_do_not_overlap(n):
    fig = objective(n, visit_numbers=list(range(1, n + 1)))
    labels = [t for t in fig.axes[0].get_xticklabels() if t.get_text()]
    shown = [t.get_text() for t in labels]
    assert len(shown) == len(set(shown)) and len(shown) >= min(n, 8)
    assert all(re.fullmatch(r"\d+\n\d{1,2} Dec", s) for s in shown), shown
    assert shown[-1] == f"{n}\n{1 + (n - 1) // 3} Dec"  # the latest visit is always named
    texts, renderer = drawn_texts(fig)
    assert set(labels) <= set(texts)
    boxes = sorted((t.get_window_extent(renderer) for t in labels), key=lambda b: b.x0)
    assert all(a.x1 < b.x0 for a, b in itertools.pairwise(boxes)), "tick labels overlap"
    assert fig.axes[0].xaxis.label.get_text() == "visit (number and date)"


def test_ticks_without_visit_numbers_count_from_one():
    fig = objective(3)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["1\n1 Dec", "2\n1 Dec", "3\n1 Dec"]


# --- trend, aim, mastery, regression, legend --------------------------------------------------------------


def test_trend_and_aim_lines_where_given_and_only_then():
    bare = objective(13)
    assert not lines(main_axes(bare), "trend") and not lines(main_axes(bare), "aim")
    assert "trend" not in legend_texts(bare) and not any("aim" in s for s in legend_texts(bare))

    fig = objective(13, visit_numbers=[2 * i + 1 for i in range(13)],
                    trends=[(0, 20, 1, 23), (2, 26, 12, 60)], aim=(1, 23, 15, 60),
                    aim_label="aim: 60 % by 15 Mar 2027")
    ax = main_axes(fig)
    trends = lines(ax, "trend")
    assert [(list(t.get_xdata()), list(t.get_ydata())) for t in trends] == [([1.0, 3.0], [20, 23]),
                                                                            ([5.0, 25.0], [26, 60])]
    assert {t.get_linestyle() for t in trends} == {"-."}
    aim, = lines(ax, "aim")
    # 3 points past the last (25), at the points' spacing (2)
    assert list(aim.get_xdata()) == [3.0, 31.0] and list(aim.get_ydata()) == [23, 60]
    assert ax.get_xlim()[1] >= 31.0  # a target date near enough: the axis reaches it
    texts = legend_texts(fig)
    assert "trend" in texts and "aim line (60 % by 15 Mar 2027)" in texts


def test_an_aim_far_ahead_is_clipped_at_the_edge():
    fig = objective(5, aim=(0, 20, 30, 60))
    aim, = lines(main_axes(fig), "aim")
    assert list(aim.get_xdata()) == [1.0, 31.0]
    assert main_axes(fig).get_xlim()[1] < 7 and aim.get_clip_on()
    assert "aim line" in legend_texts(fig)
    assert_nothing_clipped(fig)


def test_mastered_and_regressed_marks_at_their_points():
    values = series(13)[1]
    fig = objective(13, visit_numbers=list(range(10, 23)), mastered=[9, 11], regressed=[12])
    ax = main_axes(fig)
    star, = lines(ax, "mastered")
    down, = lines(ax, "regressed")
    assert list(star.get_xdata()) == [19.0, 21.0] and list(star.get_ydata()) == [values[9], values[11]]
    assert list(down.get_xdata()) == [22.0] and list(down.get_ydata()) == [values[12]]
    assert star.get_marker() != down.get_marker() and "o" not in (star.get_marker(), down.get_marker())
    assert {"mastered", "regressed"} <= set(legend_texts(fig))
    assert not lines(main_axes(objective(13)), "mastered")


def test_a_legend_names_each_kind_of_mark_drawn():
    fig = objective(13, trends=[(2, 25, 12, 60)], mastered=[12])
    texts = legend_texts(fig)
    assert {"criterion met", "criterion not met", "not judged (no trials)", "criterion 60 %", "trend",
            "mastered"} <= set(texts)
    # Outside the plot: the legend lies below the axes, over no point.
    _, renderer = drawn_texts(fig)
    assert fig.legends[0].get_window_extent(renderer).y1 < main_axes(fig).get_window_extent(renderer).y0


# --- prompt levels --------------------------------------------------------------------------------------


def test_prompt_panel_stacks_a_bar_per_visit_for_each_level_present():
    n = 6
    prompts = prompts_for(n)
    fig = objective(n, prompts=prompts)
    pax = next(ax for ax in fig.axes if ax.get_gid() == "prompts")
    assert "prompt level" in pax.get_ylabel() and "% of trials" in pax.get_ylabel()
    present = [lv for lv in LEVELS if any(p.get(lv) for p in prompts)]
    bars = {c.get_gid().removeprefix("prompt:"): c for c in pax.collections}
    assert list(bars) == present
    assert all(len(c.get_paths()) == n for c in bars.values())
    assert [t.get_text() for t in pax.get_legend().get_texts()] == present
    tops = [max(max(v[:, 1]) for c in bars.values() for v in [c.get_paths()[i].vertices]) for i in range(n)]
    assert tops[0] == pytest.approx(100) and tops[1] == 0 and all(t == pytest.approx(100) for t in tops[2:])
    assert pax.get_xlim() == main_axes(fig).get_xlim()
    assert len(fig.axes) == 2 and len(objective(n).axes) == 1


def test_bad_input_is_refused_plainly():
    labels, values, met = series(4)
    with pytest.raises(ValueError, match="prompts has 3 entries for 4 points"):
        plots.objective_plot(labels, values, met, criterion=1, ylabel="x", prompts=[{}] * 3)
    with pytest.raises(ValueError, match="unknown prompt levels"):
        plots.objective_plot(labels, values, met, criterion=1, ylabel="x", prompts=[{"hand over hand": 1}] * 4)
    with pytest.raises(ValueError, match="mastered positions"):
        plots.objective_plot(labels, values, met, criterion=1, ylabel="x", mastered=[4])


# --- the range timing plot's groups ---------------------------------------------------------------------


def test_range_timing_groups_have_their_own_series_and_a_legend():
    labels = ["07 Dec"] * 3 + ["14 Dec"] * 3
    groups = ["Steady-beat march, 80 BPM", "Steady-beat march, 100 BPM", None] * 2
    panels = [{"y": [-10.0, -20, -30, -5, -15, -25], "err": [5.0] * 6, "zero": True, "groups": groups,
               "title": "Asynchrony (session mean ± SD)", "ylabel": "asynchrony (ms, − = early)"},
              {"y": [600.0, 650, None, 550, 600, 500], "groups": groups,
               "title": "Response latency (session mean)", "ylabel": "latency (ms)"}]
    fig = plots._range_timing_figure(labels, panels, visit_numbers=[3, 4, 5, 6, 7, 8])
    assert legend_texts(fig) == ["Steady-beat march, 80 BPM", "Steady-beat march, 100 BPM", "other"]
    where = {"Steady-beat march, 80 BPM": [3.0, 6.0], "Steady-beat march, 100 BPM": [4.0, 7.0],
             "other": [5.0, 8.0]}
    for ax in fig.axes:
        series_ = {ln.get_gid().removeprefix("group:"): ln for ln in ax.lines if ln.get_gid()}
        for name, ln in series_.items():
            assert set(map(float, ln.get_xdata())) <= set(where[name])  # no line joins two groups
        assert len({(ln.get_marker(), ln.get_linestyle()) for ln in series_.values()}) == len(series_)
        shown = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
        assert len(shown) == len(set(shown)) and shown[0] == "3\n7 Dec"
    assert_nothing_clipped(fig)
    png = plots.range_timing_plot(labels, panels, visit_numbers=[3, 4, 5, 6, 7, 8])
    assert png.startswith(PNG)


def test_range_timing_without_groups_is_one_series_without_a_legend():
    panels = [{"y": [1.0, 2.0, 3.0], "title": "Asynchrony (session mean ± SD)", "ylabel": "ms"}]
    fig = plots._range_timing_figure(["1 Dec", "2 Dec", "3 Dec"], panels)
    assert not fig.legends and [ln.get_gid() for ln in fig.axes[0].lines] == ["data"]
    assert plots.range_timing_plot(["1 Dec", "2 Dec", "3 Dec"], panels).startswith(PNG)
    assert plots.range_timing_plot(["1 Dec"], [{"y": [None], "title": "t", "ylabel": "ms"}]) is None


def test_objective_plot_returns_a_png():
    labels, values, met = series(13)
    png = plots.objective_plot(labels, values, met, criterion=60, ylabel="% of judged trials passed",
                               percent=True, visit_numbers=list(range(1, 14)), trends=[(0, 20, 12, 60)],
                               aim=(0, 20, 15, 60), mastered=[12], prompts=prompts_for(13))
    assert png.startswith(PNG)
