"""Baseline report: known assessments give known figures per domain, in HTML and PDF; adult references are
labelled; tasks not done show their reasons; private files; pseudonymous id unless names."""

from __future__ import annotations

import os
import re
import stat
from html import escape as html_escape
from pathlib import Path

import pypdf
import pytest

from engine.assessment.report import (
    asynchrony_by_tempo_plot,
    build_baseline_report,
    collect_baseline,
    render_baseline_html,
    staircase_plot,
)
from engine.assessment.results import (
    Assessment,
    Figure,
    Rating,
    Reference,
    TaskResult,
    save_assessment,
)
from engine.errors import ConfigError

BAATH = "Bååth & Madison (2012), tapping_norms.json"


def fig(fid: str, label: str, value, unit: str, n: int, spread=None, spread_label=None, ref=None) -> Figure:
    return Figure(id=fid, label=label, value=value, unit=unit, definition=f"Definition of {label.lower()}.", n=n,
                  spread=spread, spread_label=spread_label, reference=ref)


def sync_task(tid: str, title: str, tempo: float, within: float, mean: float, sd: float, ref_mean: float,
              ref_sd: float) -> TaskResult:
    return TaskResult(tid, "motor", title, "done", trials=4, session=f"sessions/C07/{tid}", figures=(
        fig("tempo_bpm", "Tempo", tempo, "BPM", 4),
        fig("within_window_pct", "Beats within ±80 ms", within, "%", 32),
        fig("asynchrony_mean_ms", "Mean asynchrony", mean, "ms", 32, sd, "SD of asynchrony, ms",
            Reference(ref_mean, ref_sd, f"30 adults, metronome at {60000 / tempo:.0f} ms", BAATH)),
        fig("asynchrony_sd_ms", "Asynchrony SD", sd, "ms", 32),
    ))


def make_assessment(*, within_own: float = 35.0, folder: str | None = None, **overrides) -> Assessment:
    """A known assessment: every task of the battery, some done, one skipped, one without response."""
    tasks = {
        "spontaneous_tempo": TaskResult("spontaneous_tempo", "motor", "Spontaneous motor tempo", "done", trials=1,
                                        figures=(fig("smt_bpm", "Spontaneous tempo", 104.0, "BPM", 27, 38.0,
                                                     "SD of the inter-tap intervals, ms"),
                                                 fig("smt_iti_cv_pct", "Evenness (ITI CV)", 6.6, "%", 26))),
        "sync_own_tempo": sync_task("sync_own_tempo", "Synchronisation at own tempo", 104.0, within_own, -23.0,
                                    61.0, -40.1, 37.5),
        "sync_slow": sync_task("sync_slow", "Synchronisation, slow", 60.0, 22.0, -71.0, 94.0, -48.6, 67.8),
        "sync_fast": sync_task("sync_fast", "Synchronisation, fast", 120.0, 41.0, -12.0, 48.0, -40.1, 37.5),
        "sync_continuation": TaskResult("sync_continuation", "motor", "Synchronisation–continuation", "done",
                                        trials=3, figures=(
                                            fig("continuation_tempo_drift_pct", "Tempo drift", 4.2, "%", 3),
                                            fig("continuation_iti_cv_pct", "Evenness alone (ITI CV)", 12.0, "%",
                                                24))),
        "rhythm_imitation": TaskResult("rhythm_imitation", "cognition", "Rhythm imitation", "done", trials=9,
                                       figures=(fig("imitation_span", "Imitation span", 3, "notes", 9),
                                                fig("imitation_correct_pct", "Imitated correctly", 44.4, "%", 9)),
                                       details={"levels": [2, 3, 4, 3, 4, 3, 3, 4, 3],
                                                "correct": [True, True, False, True, False, False, True, False,
                                                            False]}),
        "melodic_imitation": TaskResult("melodic_imitation", "cognition", "Melodic imitation", "skipped",
                                        reason="No keyboard was connected."),
        "turn_taking": TaskResult("turn_taking", "socialization", "Turn-taking", "done", trials=8, figures=(
            fig("waited_pct", "Waited during the music's turn", 62.5, "%", 8),
            fig("initiated_pct", "Started a turn", 87.5, "%", 8),
            fig("initiation_latency_ms", "Initiation latency", 1380.0, "ms", 7, 420.0, "SD, ms"))),
        "stop_and_go": TaskResult("stop_and_go", "cognition", "Stop and go", "done", trials=6, figures=(
            fig("stopped_pct", "Stopped when the music stopped", 50.0, "%", 6),
            fig("stop_latency_ms", "Stopping latency", 640.0, "ms", 3, 150.0, "SD, ms"),
            fig("played_during_go_pct", "Played while the music played", 100.0, "%", 6))),
        "vocal_fill": TaskResult("vocal_fill", "communication", "Vocal fill-in", "no_response", trials=3,
                                 reason="No response in 3 trials in a row."),
        "sensory": TaskResult("sensory", "sensory", "Sensory probes", "done", trials=4),
    }
    for k, v in overrides.items():
        tasks[k] = v
    return Assessment(child_id="C07", started="2026-09-02T10:15:00+02:00", ended="2026-09-02T10:29:30+02:00",
                      status="completed", simulated=None, devices={"midi_in": "Pad", "keyboard": False, "mic": True},
                      tasks=tuple(t for t in tasks.values() if t is not None),
                      ratings=(Rating("loud_drum", "Loud drum", "avoids", 12.0), Rating("soft_chime", "Soft chime",
                                                                                       "calm", 30.0),
                               Rating("rain_stick", "Rain stick", "seeks", 51.0),
                               Rating("buzz", "Buzzing synth", None)),
                      engine_version="test", folder=folder)


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(str(path)).pages)


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("baseline") / "reports" / "C07"
    written = build_baseline_report(make_assessment(), out_dir=out)
    return out, written


def test_known_figures_per_domain_in_html_and_pdf(built):
    out, written = built
    assert written == {"html": [out / "baseline.html"], "pdf": [out / "baseline.pdf"]}
    html = (out / "baseline.html").read_text("utf-8")
    sections = {m.group(1): m.group(2) for m in re.finditer(
        r'<section class="domain" id="domain-(\w+)">(.*?)</section>', html, re.DOTALL)}
    assert list(sections) == ["communication", "cognition", "socialization", "motor", "sensory"]
    motor = sections["motor"]
    for text in ("Synchronisation at own tempo", "Beats within ±80 ms", "<td class=\"num\">35 %</td>",
                 "<td class=\"num\">−23 ms</td>", "Spontaneous tempo", "<td class=\"num\">104 BPM</td>",
                 "n = 27 · SD of the inter-tap intervals, ms: 38", "<td class=\"num\">6.6 %</td>"):
        assert text in motor, text
    assert "Imitation span" in sections["cognition"] and "<td class=\"num\">3 notes</td>" in sections["cognition"]
    assert "<td class=\"num\">50 %</td>" in sections["cognition"]  # stopped
    assert "<td class=\"num\">63 %</td>" in sections["socialization"]  # 62.5 % (5 of 8), rounded half up
    assert "Imitation span" not in motor and "Mean asynchrony" not in sections["cognition"]
    # the therapist's ratings, in the sensory section only
    sensory = sections["sensory"]
    assert re.search(r"Loud drum</td><td><b>avoids", sensory) and re.search(r"Rain stick</td><td><b>seeks", sensory)
    assert "Buzzing synth</td><td><span class=\"muted\">not rated" in sensory
    assert "Loud drum" not in motor
    pdf = _flat(pdf_text(out / "baseline.pdf"))
    for text in ("Music therapy assessment: baseline", "Communication", "Cognition", "Socialization",
                 "Motor coordination", "Sensory processing", "Synchronisation at own tempo", "Rhythm imitation",
                 "Loud drum", "avoids", "Imitation span"):
        assert text in pdf, text
    assert "35 %" in pdf and "−23 ms" in pdf and "104 BPM" in pdf


def test_references_are_labelled_adult_and_come_only_from_figures(built):
    out, _ = built
    html = (out / "baseline.html").read_text("utf-8")
    rows = re.findall(r'<tr class="has-ref">\s*<td>Mean asynchrony</td>.*?</tr>\s*<tr class="ref">(.*?)</tr>', html,
                      re.DOTALL)
    assert len(rows) == 3
    for row in rows:
        assert re.search(r'<span class="adult">ADULT</span>Adult reference: <b>−(40 ± 38|49 ± 68) ms</b>', row), row
        assert "30 adults" in row and html_escape(BAATH) in row
    # a figure without a reference never gets one
    within = re.findall(r"<tr>\s*<td>Beats within ±80 ms</td>.*?</tr>\s*(<tr[^>]*>)", html, re.DOTALL)
    assert len(within) == 3 and all('class="ref"' not in r for r in within)
    assert "child norm" in html and html.count('<span class="adult">ADULT</span>Adult reference') == 3
    pdf = _flat(pdf_text(out / "baseline.pdf"))
    assert pdf.count("ADULT") >= 4 and "Adult reference: −40 ± 38 ms (30 adults" in pdf


def test_tasks_not_done_show_their_status_and_reason(built):
    out, _ = built
    html = (out / "baseline.html").read_text("utf-8")
    assert re.search(r"Melodic imitation: <span class=\"badge ts-skipped\">skipped</span> No keyboard was connected",
                     html)
    assert re.search(r"Vocal fill-in: <span class=\"badge ts-no_response\">no response</span> No response in 3 "
                     r"trials in a row", html)
    pdf = _flat(pdf_text(out / "baseline.pdf"))
    assert "No keyboard was connected." in pdf and "No response in 3 trials in a row." in pdf
    assert "Not measured" in pdf


def test_reliability_and_few_observations(built):
    out, _ = built
    html = (out / "baseline.html").read_text("utf-8")
    span_row = re.search(r"<td>Imitation span</td>(.*?)</tr>", html, re.DOTALL).group(1)
    assert "n = 9" in span_row and "few observations" in span_row
    own = re.search(r"<td>Mean asynchrony</td>(.*?)</tr>", html, re.DOTALL).group(1)
    assert "n = 32 · SD of asynchrony, ms: 61" in own and "few observations" not in own


def test_plots_are_embedded_and_self_contained(built):
    out, _ = built
    html = (out / "baseline.html").read_text("utf-8")
    assert html.count('src="data:image/png;base64,') == 2  # asynchrony by tempo, rhythm staircase
    assert "ADULT reference at that tempo" in html
    assert not re.search(r'src="(?!data:)', html) and "<link" not in html


def test_files_private_and_folders_0700(built):
    out, written = built
    for paths in written.values():
        for path in paths:
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(out.parent).st_mode) == 0o700


def test_pseudonymous_id_unless_names(tmp_path):
    a = make_assessment()
    build_baseline_report(a, out_dir=tmp_path / "anon", formats=("html",), display_name="Sam")
    anon = (tmp_path / "anon" / "baseline.html").read_text("utf-8")
    assert "Sam" not in anon and "C07" in anon and "pseudonymous id" in anon
    build_baseline_report(a, out_dir=tmp_path / "named", formats=["html"], names=True, display_name="Sam")
    named = (tmp_path / "named" / "baseline.html").read_text("utf-8")
    assert "Sam" in named and "pseudonymous id" not in named


def test_simulated_and_saved_suggestions_are_shown(tmp_path):
    from engine.assessment.suggest import save_suggestions, suggest_objectives

    root = tmp_path / "data"
    a = make_assessment()
    a = Assessment(**{**a.__dict__, "simulated": "steady", "folder": None})
    path = save_assessment(a, root)
    from engine.assessment.results import load_assessment

    a = load_assessment(path)
    report = collect_baseline(a, plots_wanted=False)
    assert report.suggestions == [] and "simulated child (model 'steady')" in report.notes[0]
    save_suggestions(a, suggest_objectives(a, songs_dir=Path("content/songs")))
    html = render_baseline_html(collect_baseline(a, plots_wanted=False))
    assert "Suggested objectives" in html and "<td><b>S1</b></td>" in html and "simulated child" in html


def test_an_assessment_with_nothing_done_still_renders(tmp_path):
    a = Assessment(child_id="C09", started="2026-09-02T10:15:00+02:00", ended=None, status="stopped",
                   simulated="silent", devices={}, tasks=(
                       TaskResult("spontaneous_tempo", "motor", "Spontaneous motor tempo", "no_response",
                                  reason="No taps in 30 s."),), ratings=())
    written = build_baseline_report(a, out_dir=tmp_path, formats=("html",))
    html = written["html"][0].read_text("utf-8")
    assert "No taps in 30 s." in html and "No task of this battery assessed this domain." in html
    assert "stopped before its end" in html and "data:image/png" not in html


def test_unknown_format_is_one_sentence(tmp_path):
    with pytest.raises(ConfigError, match="Unknown baseline report format 'csv'"):
        build_baseline_report(make_assessment(), out_dir=tmp_path, formats=("csv",))
    assert not (tmp_path / "baseline.html").exists()


def test_plot_helpers_draw_known_points_and_nothing_without_data():
    assert asynchrony_by_tempo_plot([]) is None
    assert asynchrony_by_tempo_plot([{"tempo_bpm": None, "mean_ms": 3.0, "label": "x"}]) is None
    png = asynchrony_by_tempo_plot([{"tempo_bpm": 90.0, "mean_ms": -20.0, "sd_ms": 30.0, "label": "own",
                                     "ref_ms": -40.0, "ref_sd_ms": 37.0}])
    assert png is not None and png.startswith(b"\x89PNG")
    assert staircase_plot([], None, title="t") is None
    assert staircase_plot([2, 3, 2], [True, False, None], title="t", span=2).startswith(b"\x89PNG")


def test_write_baseline_puts_report_and_suggestions_in_the_assessment_folder(tmp_path):
    from engine.assessment.report import write_baseline
    from engine.assessment.results import load_assessment
    from engine.records.plan import plan_path

    a = load_assessment(save_assessment(make_assessment(), tmp_path))
    with pytest.raises(ConfigError, match="not been saved"):
        write_baseline(make_assessment())
    path = plan_path(tmp_path, "C07")
    path.parent.mkdir(parents=True)
    path.write_text('id = "C07"\ndisplay_name = "Sam"\n', "utf-8")
    written = write_baseline(a, root=tmp_path, names=True, formats=("html",))
    folder = Path(a.folder)
    assert written == {"html": [folder / "baseline.html"]} and (folder / "suggestions.json").is_file()
    html = written["html"][0].read_text("utf-8")
    assert "Sam" in html and "<td><b>S1</b></td>" in html
    assert stat.S_IMODE(os.stat(folder / "suggestions.json").st_mode) == 0o600


def test_a_tasks_setting_is_its_condition_never_a_measurement_nor_few_observations(built):
    out, _ = built
    html = (out / "baseline.html").read_text("utf-8")
    # the beat's tempo (n = 4 bars) is what the task played: the task's condition, not a figure of the child
    assert "<td>Tempo</td>" not in html
    assert html.count("Condition of the task: tempo ") == 3 and "Condition of the task: tempo 60 BPM" in html
    own = re.search(r"Synchronisation at own tempo <span.*?</table>", html, re.DOTALL).group(0)
    assert "few observations" not in own  # every measurement of it rests on 32 beats
    report = collect_baseline(make_assessment(), plots_wanted=False)
    slow = next(t for t in report.tasks if t.task.id == "sync_slow")
    assert slow.conditions == ["tempo 60 BPM"] and not any(r.figure.condition for r in slow.rows)
    assert [r.figure.id for r in slow.key_rows] == ["within_window_pct", "asynchrony_mean_ms"]
    pdf = _flat(pdf_text(out / "baseline.pdf"))
    assert "Condition of the task: tempo 104 BPM (set by the task, not a measurement of the child)" in pdf
    from engine.assessment.battery import format_assessment

    lines = format_assessment(make_assessment())
    assert "  Condition: tempo 60 BPM (set by the task)" in lines and not any(x.startswith("  Tempo:") for x in lines)
