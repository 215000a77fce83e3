"""Simulated visits and assessment probes stay out of a child's record (issue 17, item 5), and durations and
counts are session time and what the note's table shows (item 6). Numbers are worked by hand in the comments."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import html as html_text
import io
import json
from pathlib import Path

import pypdf
import pytest

from engine.assessment.battery import format_assessment, run_assessment
from engine.assessment.report import collect_baseline, render_baseline_html
from engine.assessment.results import Assessment, Figure, TaskResult, load_assessment, save_assessment
from engine.cli.plan import cmd_plan_suggest
from engine.cli.report import cmd_report
from engine.errors import ConfigError
from engine.homepack import make_homepack
from engine.records.index import load_records
from engine.records.model import SessionRecord, TrialRecord
from engine.records.plan import PlanError, load_plan, parse_plan
from engine.records.reader import read_log
from engine.reports import build, build_report, collect
from engine.reports.sentences import session_sentences
from engine.simulation.demo import run_demo
from tests.fixture_files import plan_text, write_plan
from tests.test_assess_report import make_assessment

SONGS = Path(__file__).resolve().parents[1] / "content" / "songs"
ECHO, STOP, MARCH = SONGS / "echo-drums.toml", SONGS / "stop-and-go.toml", SONGS / "steady-beat-march.toml"
TZ = dt.timezone(dt.timedelta(hours=1))
D = dt.date(2026, 9, 1)

# The shared plan without its phases: "imitate" mastered in 2 visits, and a stop-and-go objective in place of the
# steady beat (each judged from 1 counted trial on, so the hand-made visits' few trials are judged).
PLAN = plan_text("C07", phases={"baseline": None, "intervention": None}, objectives={
    "imitate": {"sessions": 2, "min_trials": 1, "max_prompt": None}, "quick": None,
    "steady-beat": {"id": "stops", "metric": "stopped", "aggregate": "percent_true", "threshold": 75,
                    "scripts": ["stop-and-go"], "min_trials": 1}})


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TANDEM_CACHE", str(tmp_path / "cache"))


def visit(script: Path, day: dt.date, scores: list[dict], *, simulated: bool = False, probe: str | None = None,
          hour: int = 10) -> SessionRecord:
    """A visit's record as the reader makes one: a script, its trials' scores, and what its header says."""
    started = dt.datetime.combine(day, dt.time(hour), tzinfo=TZ)
    kind = {"echo-drums": "call_and_response", "stop-and-go": "stop_and_go"}[script.stem]
    header = {"child_id": "C07", "intervention": kind, "kind": "demo" if simulated else "live",
              "simulated": simulated, "probe": probe is not None}
    if simulated:
        header["simulated_child"] = {"model": "steady", "seed": 0}
    if probe is not None:
        header["assessment"] = {"folder": "assessments/C07/20260901-093000", "tasks": [probe]}
        script = Path(f"/data/assessments/C07/20260901-093000/scripts/{script.name}")  # the battery's own
    trials = tuple(TrialRecord(n=i + 1, index=i, start_s=2.0 + 7.5 * i, tempo_bpm=100.0, scores=s,
                               correct=s.get("correct", s.get("stopped")), prompt="independent",
                               close_s=8.0 + 7.5 * i) for i, s in enumerate(scores))
    return SessionRecord(path=Path(f"/data/sessions/C07/{started:%Y%m%d-%H%M%S}-{script.stem}/events.jsonl"),
                         header=header, trials=trials, objectives=(), status="completed", started=started.isoformat(),
                         duration_s=12.0 + 7.5 * len(trials), child_id="C07", script=str(script),
                         title=script.stem, kind=header["kind"])


def echo(*correct: bool) -> list[dict]:
    return [{"correct": c, "response_present": True, "response_latency_ms": 800.0} for c in correct]


def stops(*stopped: bool) -> list[dict]:
    return [{"stopped": s, "played_during_go": True, "stop_latency_ms": 0.0 if s else 900.0} for s in stopped]


def pdf_pages(path: Path) -> list[str]:
    return [" ".join(p.extract_text().split()) for p in pypdf.PdfReader(str(path)).pages]


@pytest.fixture
def plan(tmp_path):
    write_plan(tmp_path, "C07", PLAN)
    return load_plan(tmp_path, "C07")


# --- simulated visits in a child's report ------------------------------------------------------------------


def three_visits() -> list[SessionRecord]:
    # 3/5 correct (60 %, not met), a simulated 5/5 (100 %, met), 4/5 (80 %, met).
    return [visit(ECHO, D, echo(True, False, True, False, True)),
            visit(ECHO, D + dt.timedelta(days=7), echo(*[True] * 5), simulated=True),
            visit(ECHO, D + dt.timedelta(days=14), echo(True, True, True, True, False))]


def test_a_childs_report_leaves_simulated_visits_out_unless_asked(plan, tmp_path):
    plain = collect("C07", three_visits(), plan, plots_wanted=False)
    imitate = plain.objectives[0]
    # Without the simulated visit: 60 % not met, then 80 % met: "met", one visit in a row.
    assert [s.date for s in plain.sessions] == [D, D + dt.timedelta(days=14)]
    assert [r.figure_text for r in imitate.rows] == ["3/5 (60 %)", "4/5 (80 %)"]
    assert (imitate.status, imitate.consecutive_met) == ("met", 1)
    assert (plain.left_out_simulated, plain.left_out_probes, plain.simulated_shown) == (1, 0, 0)

    asked = collect("C07", three_visits(), plan, plots_wanted=False, include_simulated=True)
    imitate = asked.objectives[0]
    # With it: 60 % not met, 100 % met, 80 % met: mastered (2 visits in a row, as the plan asks).
    assert [r.figure_text for r in imitate.rows] == ["3/5 (60 %)", "5/5 (100 %)", "4/5 (80 %)"]
    assert (imitate.status, imitate.consecutive_met) == ("mastered", 2)
    assert [s.simulated for s in asked.sessions] == [False, True, False] and asked.simulated_shown == 1
    assert asked.sessions[1].sentences[1] == ("This was a simulated visit, not a child's data: a simulated child "
                                              "(model 'steady') played it (shown because simulated visits were "
                                              "asked for).")
    assert [s.label for s in asked.sessions] == ["01 Sep", "08 Sep (sim.)", "15 Sep"]

    out = tmp_path / "out"
    build_report("C07", three_visits(), plan, formats=["csv", "json"], out_dir=out, include_simulated=True)
    trials = list(csv.DictReader(io.StringIO((out / "trials.csv").read_text("utf-8-sig"))))
    assert [r["simulated"] for r in trials] == ["false"] * 5 + ["true"] * 5 + ["false"] * 5
    objectives = list(csv.DictReader(io.StringIO((out / "objectives.csv").read_text("utf-8-sig"))))
    assert [(r["objective_id"], r["simulated"]) for r in objectives if r["objective_source"] == "plan"] == [
        ("imitate", "false"), ("imitate", "true"), ("imitate", "false")]
    doc = json.loads((out / "report.json").read_text("utf-8"))
    assert [s["simulated"] for s in doc["sessions"]] == [False, True, False]
    assert doc["include_simulated"] is True and doc["left_out"] == {"simulated": 0, "probes": 0}

    build_report("C07", three_visits(), plan, formats=["csv", "json"], out_dir=tmp_path / "plain")
    doc = json.loads((tmp_path / "plain" / "report.json").read_text("utf-8"))
    assert [s["date"] for s in doc["sessions"]] == ["2026-09-01", "2026-09-15"]
    assert doc["left_out"] == {"simulated": 1, "probes": 0} and doc["include_simulated"] is False


def test_every_page_that_shows_a_simulated_visit_marks_it(plan, tmp_path):
    out = tmp_path / "out"
    written = build_report("C07", three_visits(), plan, formats=["html", "pdf"], out_dir=out, include_simulated=True)
    notes = sorted(p for p in written["pdf"] if p.parent.name == "notes")
    real, simulated = pdf_pages(notes[0]), pdf_pages(notes[1])
    assert all("SIMULATED VISIT — not a child’s data" in page for page in simulated)
    assert "Simulated visit — Session note" in simulated[0]
    assert "Simulated visit — not a child's data: no therapist signs this note." in " ".join(simulated)
    assert "Therapist: J. Rivera" not in " ".join(simulated)
    assert not any("SIMULATED" in page or "simulated" in page for page in real)
    assert "Therapist: J. Rivera, MT-BC" in " ".join(real)
    report = pdf_pages(out / "report.pdf")
    assert all("Includes simulated visits, marked “simulated”: not a child’s data" in page for page in report)
    assert "This report includes 1 simulated visit" in report[0] and "1 simulated" in report[0]
    html = (out / "report.html").read_text("utf-8")
    # Every objective's row of the simulated visit is badged, and so is its note's title.
    rows = sum(1 for v in collect("C07", three_visits(), plan, plots_wanted=False, include_simulated=True).objectives
               for r in v.rows if r.session.simulated)
    assert rows == 3  # the plan's imitate, the script's echo-rhythm and responds-quickly
    assert html.count('<span class="badge ss-simulated">simulated</span>') == rows + 1
    assert html.count('class="note simulated"') == 1 and html.count('class="note draft"') == 2  # unsigned


def test_the_command_says_what_it_left_out(plan, tmp_path):
    lines: list[str] = []
    assert cmd_report(tmp_path, "C07", lambda root, child: three_visits(), None, None, "json", tmp_path / "r",
                      False, lines.append) == 0
    assert lines[0] == f"Report for C07: 2 sessions, written to {tmp_path / 'r'}"
    assert lines[-1] == ("note: 1 simulated visit was left out (a simulated child, not C07); --include-simulated "
                         "shows it, marked.")
    lines.clear()
    cmd_report(tmp_path, "C07", lambda root, child: three_visits(), None, None, "json", tmp_path / "s", False,
               lines.append, include_simulated=True)
    assert lines[0] == f"Report for C07: 3 sessions (1 simulated, marked), written to {tmp_path / 's'}"


# --- assessment probes ----------------------------------------------------------------------------------------


def probe_and_treatment() -> list[SessionRecord]:
    # The battery's stop-and-go probe stopped 6 of 6 (100 %); then two treatment visits of the song:
    # 2 of 4 (50 %, not met) and 3 of 4 (75 %, met).
    return [visit(STOP, D, stops(*[True] * 6), probe="stop_and_go", hour=9),
            visit(STOP, D + dt.timedelta(days=7), stops(True, False, True, False)),
            visit(STOP, D + dt.timedelta(days=14), stops(True, True, True, False))]


def test_the_batterys_stop_and_go_probe_is_not_a_data_point_of_the_songs_objectives(plan):
    report = collect("C07", probe_and_treatment(), plan, plots_wanted=False)
    views = {v.key: v for v in report.objectives}
    assert [r.figure for r in views["plan:stops"].rows] == [50.0, 75.0]  # the probe's 100 % is not the first
    assert [r.session.date for r in views["script:stop-and-go:freezes"].rows] == [D + dt.timedelta(days=7),
                                                                                  D + dt.timedelta(days=14)]
    assert len(report.sessions) == 2 and report.left_out_probes == 1
    assert views["plan:stops"].status == "met"


def test_a_probe_the_plan_names_is_a_baseline_point_that_does_not_count_toward_the_status(tmp_path, monkeypatch):
    write_plan(tmp_path, "C07", PLAN.replace('scripts = ["stop-and-go"]',
                                             'scripts = ["stop-and-go"]\nprobes = ["stop-and-go"]'))
    plan = load_plan(tmp_path, "C07")
    assert plan.objectives[1].probes == ("stop_and_go",)
    drawn = []

    def objective_plot(labels, values, met, **kw):
        drawn.append((list(labels), list(values), kw["phase_marks"]))
        return b""

    monkeypatch.setattr(build.plots, "objective_plot", objective_plot)
    monkeypatch.setattr(build, "PARALLEL_PLOTS", 10 ** 6)  # drawn here, so the stand-in sees them
    report = collect("C07", probe_and_treatment(), plan)
    stops_view = next(v for v in report.objectives if v.key == "plan:stops")
    assert [r.figure for r in stops_view.rows] == [100.0, 50.0, 75.0]
    assert [r.session.phase for r in stops_view.rows] == ["baseline", None, None]
    # The status counts the treatment visits only: 50 % not met, 75 % met -> met, 1 in a row.
    assert (stops_view.status, stops_view.consecutive_met) == ("met", 1)
    assert stops_view.rows[0].status == "not started"
    assert stops_view.notes == [("1 assessment probe (01 Sep 2026) is shown as a baseline point (the plan's probes: "
                                 "stop_and_go); the status counts treatment visits only.")]
    # The song's own objectives still never see the probe; the probe's note says what it is.
    assert all(r.session.date != D for v in report.objectives if v.source == "script" for r in v.rows)
    assert report.sessions[0].probe and "an assessment probe (stop_and_go)" in report.sessions[0].sentences[1]
    assert (["01 Sep", "08 Sep", "15 Sep"], [100.0, 50.0, 75.0], [(0, "baseline"), (1, "treatment")]) in drawn


def test_a_plans_probes_are_checked():
    def plan_with(probes: str) -> str:
        return PLAN.replace('scripts = ["stop-and-go"]', f'scripts = ["stop-and-go"]\nprobes = {probes}')

    assert parse_plan(plan_with('["Stop-And-Go", "stop_and_go"]').encode(), "C07.toml").objectives[1].probes == (
        "stop_and_go",)
    with pytest.raises(PlanError, match="cannot name the sensory probes: they are rated by the therapist"):
        parse_plan(plan_with('["sensory"]').encode(), "C07.toml")
    with pytest.raises(PlanError, match="probes must be a list of assessment task ids"):
        parse_plan(plan_with('"stop_and_go"').encode(), "C07.toml")


def test_real_logs_the_simulated_batterys_probe_never_joins_the_song(tmp_path):
    """The issue's case from real logs: `tandem assess --simulate` then `tandem demo stop-and-go.toml`."""
    root = tmp_path / "data"
    run_assessment("C07", root=root, simulate="steady", tasks=["stop_and_go"], echo=None)
    run_demo(STOP, root=root, child_id="C07", model="steady", max_trials=5, echo=None)
    records = load_records(root, "C07")
    assert sorted((r.probe, r.simulated) for r in records) == [(False, True), (True, True)]
    report = collect("C07", records, None, plots_wanted=False, include_simulated=True)
    assert [s.record.probe for s in report.sessions] == [False] and report.left_out_probes == 1
    freezes = next(v for v in report.objectives if v.id == "freezes")
    assert len(freezes.rows) == 1 and not freezes.rows[0].session.probe
    assert collect("C07", records, None, plots_wanted=False).sessions == []  # both simulated: a child has none


# --- what a note counts, and in which time ------------------------------------------------------------------


def test_a_metronome_notes_trials_are_its_tables_rows_and_it_says_the_beats(tmp_path):
    run = run_demo(None, root=tmp_path / "data", child_id="C07", seed=1, echo=None)[0]
    assert len(run["beats"]) == 32  # what `tandem demo` prints: one asynchrony per beat
    rec = read_log(Path(run["folder"]))
    view = collect("C07", [rec], None, plots_wanted=False, include_simulated=True).sessions[0]
    # 8 bars of 4 beats (the table's 8 rows); 0.5 s lead-in + 4 count-in beats + 32 beats at 100 BPM
    # (0.6 s each) = 22.1 s of session time, 22 s rounded.
    assert len(view.trial_rows) == 8
    assert view.sentences[0].startswith("Metronome ran for 22 s with 8 trials (32 beats, one bar a trial)")
    assert rec.duration_s == pytest.approx(22.1, abs=0.1)
    panel = build._session_panels(rec)[0]
    assert panel["title"] == "Asynchrony per beat" and len(panel["y"]) == 32


def test_a_note_without_trials_says_so_instead_of_zero_trials():
    assert session_sentences(title="March song", status="completed", duration_s=180.2, n_trials=0, prompts={},
                             played="a MIDI song") == ["March song ran for 3 min (a MIDI song), with no trials to score."]
    assert session_sentences(title="Echo drums", status="stopped", duration_s=14.6, n_trials=0, prompts={})[0] == \
        "Echo drums ran for 15 s with no trials."


# --- the assessment: durations in session time, sensory probes rated -------------------------------------------


def test_a_simulated_batterys_duration_is_the_music_it_played_not_the_wall_clock(tmp_path):
    a = run_assessment("C07", root=tmp_path, simulate="impulsive", tasks=["sensory"], echo=None)
    (t,) = a.tasks
    summary = json.loads((tmp_path / t.session / "events.jsonl").read_text().splitlines()[-1])
    # 5 probes x 3 bars x 4 beats at 60 BPM = 60 s of probes after a 0.5 s lead-in: the log's own clock.
    assert t.duration_s == summary["duration_s"] and 60.0 <= t.duration_s < 61.0
    assert a.music_s == t.duration_s
    wall_s = (dt.datetime.fromisoformat(a.ended) - dt.datetime.fromisoformat(a.started)).total_seconds()
    assert wall_s < 30  # the simulated run took seconds; the report must not say so
    report = collect_baseline(a, plots_wanted=False)
    assert report.duration_text == "1 min of music"
    assert format_assessment(a)[0].startswith(f"Assessment of C07 ({a.started[:16]}, completed, 1 min of music")
    # An older assessment without the durations: read from its sessions' summary lines.
    folder = Path(a.folder)
    doc = json.loads((folder / "assessment.json").read_text())
    for task in doc["tasks"]:
        del task["duration_s"]
    (folder / "assessment.json").write_text(json.dumps(doc))
    old = load_assessment(folder)
    assert old.music_s is None and collect_baseline(old, plots_wanted=False).duration_text == "1 min of music"


def test_a_live_batterys_duration_gives_the_music_and_the_time_with_pauses():
    a = make_assessment()  # 10:15:00 to 10:29:30 on the clock
    tasks = tuple(dataclasses.replace(t, session=f"sessions/C07/{t.id}", duration_s=60.0) for t in a.tasks[:8])
    a = dataclasses.replace(a, tasks=tasks)
    # 8 sessions of 60 s: 8 min of music; 14 min 30 s on the clock with the pauses between tasks.
    assert collect_baseline(a, plots_wanted=False).duration_text == \
        "8 min of music (14 min 30 s with the pauses between tasks)"


@pytest.mark.parametrize(("model", "rating"), [("impulsive", "seeks"), ("steady", "calm")])
def test_sensory_probes_are_rated_by_the_model_not_scored_as_tapping(tmp_path, model, rating):
    a = run_assessment("C07", root=tmp_path, simulate=model, tasks=["sensory"], echo=None)
    t = a.task("sensory")
    bars = [x for x in (tmp_path / t.session / "events.jsonl").read_text().splitlines() if '"type": "trial"' in x]
    assert len(bars) == 15  # the player's bars (5 probes x 3 bars) ...
    assert t.trials == 5 and t.figures == ()  # ... are not the task's trials, and nothing is scored
    assert t.status == "done" and t.details == {"probes_played": 5, "probes_rated": 5,
                                                "rated_by": f"simulated model '{model}'"}
    assert [(r.rating, r.rated_by) for r in a.ratings] == [(rating, f"simulated model '{model}'")] * 5
    html = html_text.unescape(render_baseline_html(collect_baseline(a, plots_wanted=False)))
    assert f"Ratings during the sound probes, by the simulated model '{model}'" in html
    assert "they are the simulated model's own ratings (no one watched)" in html
    assert "Simulated assessment — not a child's data: no therapist signs this report." in html
    assert "SIMULATED ASSESSMENT — not a child’s data" in html  # every page's header
    assert f"Sensory probe Soft shaker (maracas): {rating} (rated by the simulated model '{model}')" in \
        format_assessment(a)


# --- the homepack and the suggestions -------------------------------------------------------------------------

HOMEPACK_PLAN = plan_text("C07", objectives={"imitate": None, "quick": None})  # the steady-beat march only


def _smt_assessment(simulated: str | None, started: str) -> Assessment:
    task = TaskResult("spontaneous_tempo", "motor", "Free tapping", "done", trials=1, figures=(
        Figure("smt_bpm", "Spontaneous motor tempo", 104.0, "BPM", "60 / the median inter-tap interval", 24),))
    return Assessment(child_id="C07", started=started, ended=started, status="completed", simulated=simulated,
                      devices={}, tasks=(task,))


def test_the_homepacks_tempo_never_comes_from_demo_runs(tmp_path):
    root = tmp_path / "data"
    (root / "plans").mkdir(parents=True)
    (root / "plans" / "C07.toml").write_text(HOMEPACK_PLAN)
    # The steady simulated child speeds the march up from 80 BPM (5 % after 4 good bars): 80 -> 84 -> 88.2.
    demo = run_demo(MARCH, root=root, child_id="C07", model="steady", max_trials=10, echo=None)[0]
    save_assessment(_smt_assessment("steady", "2026-11-10T10:00:00+00:00"), root)

    plain = make_homepack(root, "C07", minutes=0.05, today=dt.date(2026, 11, 20))
    (song,) = plain["songs"]
    assert (song["tempo_source"], song["tempo_bpm"]) == ("script", 80.0)  # the script's own, not the demo's 88.2
    assert plain["left_out"] == {"simulated_sessions": 1, "simulated_assessments": 1}
    assert plain["notes"] == [
        ("1 simulated session and 1 simulated assessment (a simulated child, not C07) were left out; "
         "--include-simulated uses them."),
        ("There is no real data for C07 yet (no session or assessment with the child): every tempo is the "
         "script's own, not a tempo C07 has worked at.")]
    sheet = " ".join(pypdf.PdfReader(Path(plain["folder"]) / "music-at-home.pdf").pages[0].extract_text().split())
    assert "comfortable with right now" not in sheet and "their own calm speed" in sheet

    asked = make_homepack(root, "C07", minutes=0.05, today=dt.date(2026, 11, 20), include_simulated=True)
    (song,) = asked["songs"]
    assert song["tempo_source"] == "session" and song["tempo_bpm"] == pytest.approx(demo["trials"][-1]["tempo_bpm"])
    assert song["tempo_bpm"] == pytest.approx(88.2)
    assert asked["notes"] == ["Simulated visits or a simulated assessment were used (--include-simulated): the "
                              "family's sheet does not call these tempi the child's own."]
    sheet = " ".join(pypdf.PdfReader(Path(asked["folder"]) / "music-at-home.pdf").pages[0].extract_text().split())
    assert "comfortable with right now" not in sheet  # a simulated child's tempo is not the child's

    (root / "plans" / "C07.toml").unlink()
    with pytest.raises(ConfigError, match=r"no plan and only simulated sessions \(1, a simulated child, not C07\)"):
        make_homepack(root, "C07", minutes=0.05)


def test_plan_suggest_uses_the_latest_real_assessment(tmp_path):
    real = dataclasses.replace(make_assessment(), started="2026-09-02T10:15:00+02:00")
    simulated = dataclasses.replace(make_assessment(), started="2026-09-20T10:15:00+02:00", simulated="steady")
    save_assessment(simulated, tmp_path)
    lines: list[str] = []
    with pytest.raises(ConfigError, match=r"'C07' has only simulated assessment \(1\): a simulated child played it"):
        cmd_plan_suggest(tmp_path, "C07", True, lines.append)
    save_assessment(real, tmp_path)
    assert cmd_plan_suggest(tmp_path, "C07", True, lines.append) == 0
    doc = json.loads(lines[-1])
    assert doc["assessment"].endswith("20260902-101500") and doc["simulated"] is None and doc["suggestions"]
    lines.clear()
    assert cmd_plan_suggest(tmp_path, "C07", False, lines.append, include_simulated=True) == 0
    assert lines[0] == ("note: this assessment ran with a simulated child (model 'steady'), not C07: its "
                        "suggestions describe the model.")
    assert "20260920-101500" in lines[1]
