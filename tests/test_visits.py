"""A session is a visit: one child, one date, its activities in order, in one log and one folder.

Run on the offline backend with a simulated child (the driver is the same one a live visit uses);
every figure checked here is read back from the log.
"""

from __future__ import annotations

import csv
import io
import json
import queue
import threading
from datetime import datetime
from pathlib import Path

import pytest

from engine.audio.soundbank import SoundBank
from engine.interventions.script import load_script
from engine.interventions.sounds import feedback_request, script_sounds
from engine.paths import cache_dir
from engine.records.folder import SessionFolder
from engine.records.index import list_sessions
from engine.records.reader import peek_log, plan_objectives_of, read_log
from engine.records.rescore import rescore
from engine.reports.build import collect
from engine.reports.csvjson import objectives_csv, trials_csv
from engine.session.parts import Part
from engine.simulation import demo
from engine.simulation.demo import run_demo, simulate_session
from engine.simulation.player import DEVICE_FEEDBACK, ModelChild

SONGS = Path("content/songs")
HELLO, ECHO, GOODBYE = SONGS / "hello.toml", SONGS / "echo-drums.toml", SONGS / "goodbye.toml"


@pytest.fixture(autouse=True)
def private_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("TANDEM_CACHE", str(tmp_path / "cache"))


def _lines(folder) -> list[dict]:
    return [json.loads(x) for x in (Path(folder) / "events.jsonl").read_text().splitlines()]


def test_a_demo_of_three_scripts_is_one_visit_in_one_log(tmp_path):
    (visit,) = run_demo([HELLO, ECHO, GOODBYE], root=tmp_path, seed=2, max_trials=3, echo=None)
    folders = list((tmp_path / "sessions" / "C00").iterdir())
    assert folders == [Path(visit["folder"])]  # one folder for the whole visit
    lines = _lines(visit["folder"])
    header = lines[0]
    assert header["schema"] == 4 and header["simulated"] is True and header["probe"] is False
    assert [a["script"] for a in header["activities"]] == [str(HELLO), str(ECHO), str(GOODBYE)]
    assert "script" not in header  # a visit of several activities names them in its activity lines
    begun = [d for d in lines if d["type"] == "activity"]
    ended = [d for d in lines if d["type"] == "activity_end"]
    assert [d["index"] for d in begun] == [0, 1, 2] == [d["index"] for d in ended]
    assert [d["status"] for d in ended] == ["completed"] * 3 and [d["trials"] for d in ended] == [3, 3, 3]
    # Each activity's lines lie between its activity line and its end, and name it.
    for k, (b, e) in enumerate(zip(begun, ended)):
        lo, hi = lines.index(b), lines.index(e)
        trials = [d for d in lines[lo:hi] if d["type"] == "trial"]
        assert [t["activity"] for t in trials] == [k] * 3 and [t["n"] for t in trials] == [1, 2, 3]
    summary = lines[-1]
    assert summary["type"] == "summary" and summary["status"] == "completed" and summary["trials"] == 9
    assert [(a["title"], a["status"], a["trials"]) for a in summary["activities"]] == [
        ("Hello song", "completed", 3), ("Echo drums", "completed", 3), ("Goodbye song", "completed", 3)]
    # The objectives of every activity, each naming its script, judged once for the visit.
    assert [(o["script"], o["id"]) for o in summary["objectives"] if o["source"] == "script"] == [
        (SONGS.joinpath(s).stem, o.id) for s in ("hello.toml", "echo-drums.toml", "goodbye.toml")
        for o in load_script(SONGS / s).objectives]
    # Read back: one visit with three activities of three trials each, and it re-scores identically.
    rec = read_log(visit["folder"])
    assert rec.status == "completed" and rec.simulated and not rec.probe
    assert [(a.index, a.title, a.status, len(a.trials)) for a in rec.activities] == [
        (0, "Hello song", "completed", 3), (1, "Echo drums", "completed", 3), (2, "Goodbye song", "completed", 3)]
    assert [t.activity for t in rec.trials] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert rec.title == "Hello song · Echo drums · Goodbye song"
    out = rescore(visit["folder"])
    assert out["identical"] is True and [a["trials"] for a in out["activities"]] == [3, 3, 3]
    # The listing shows the visit once, with its activities.
    (row,) = list_sessions(tmp_path, "C00")
    assert row["trials"] == 9 and row["simulated"] is True and row["id"] == Path(visit["folder"]).name
    assert [(a["title"], a["trials"], a["status"]) for a in row["activities"]] == [
        ("Hello song", 3, "completed"), ("Echo drums", 3, "completed"), ("Goodbye song", 3, "completed")]


class _Therapist(Part):
    """Sends ``command`` once activity ``index`` has scored ``after`` trials (as the key would)."""

    def __init__(self, controls: queue.Queue, command: str, index: int, after: int) -> None:
        self.controls, self.command, self.index, self.after = controls, command, index, after
        self.current = -1
        self.sent = False

    def on_activity(self, index, activity) -> None:
        self.current = index

    def after_step(self, runner) -> None:
        if not self.sent and self.current == self.index and runner is not None and runner.trials_done >= self.after:
            self.controls.put(self.command)
            self.sent = True


def _visit_with_therapist(tmp_path, monkeypatch, command: str, index: int, after: int):
    """Hello song, echo game, goodbye song (3 trials each); the therapist sends ``command`` once activity
    ``index`` scored ``after`` trials."""
    scripts = [load_script(p) for p in (HELLO, ECHO, GOODBYE)]
    names = sorted({n for s in scripts for n in script_sounds(s, device_sound=DEVICE_FEEDBACK)})
    bank = SoundBank.load(names, sample_rate=48_000, cache_dir=cache_dir())
    fb = feedback_request(scripts[0], DEVICE_FEEDBACK)
    controls: queue.Queue = queue.Queue()
    child = ModelChild("steady", 1, feedback=bank[fb], feedback_name=fb)
    real = demo.run_session

    def with_therapist(acts, *, parts, **kw):
        return real(acts, parts=[*parts, _Therapist(controls, command, index, after)], **kw)

    monkeypatch.setattr(demo, "run_session", with_therapist)
    return simulate_session(scripts, root=tmp_path, child_id="C1", child=child, bank=bank, kind_seed=1,
                            max_trials=3, controls=controls, record_audio=False)


def test_the_therapist_moves_on_and_the_visit_goes_on(tmp_path, monkeypatch):
    run = _visit_with_therapist(tmp_path, monkeypatch, "next", 1, 1)  # moves on from the echo game after 1 trial
    rec = read_log(run.folder)
    # Every activity was played: the visit is completed; the echo game says it was cut short.
    assert run.status == "completed" and rec.status == "completed"
    assert [(a.status, len(a.trials)) for a in rec.activities] == [("completed", 3), ("stopped", 1),
                                                                   ("completed", 3)]
    ends = [d for d in _lines(run.folder) if d["type"] == "activity_end"]
    assert ends[1]["stop_reason"] == "the therapist moved on to the next activity"
    assert rescore(run.folder)["identical"] is True


def test_the_therapist_ends_the_visit_early(tmp_path, monkeypatch):
    run = _visit_with_therapist(tmp_path, monkeypatch, "stop", 1, 2)  # stops during the echo game
    rec = read_log(run.folder)
    assert run.status == "stopped" and rec.status == "stopped"
    assert [(a.status, len(a.trials)) for a in rec.activities] == [("completed", 3), ("stopped", 2),
                                                                   ("not started", 0)]
    info = peek_log(run.folder)
    assert info["trials"] == 5 and [a["status"] for a in info["activities"]] == ["completed", "stopped",
                                                                                   "not started"]
    assert rescore(run.folder)["identical"] is True


def test_an_interrupted_visit_reads_with_the_activities_it_reached(tmp_path):
    (visit,) = run_demo([HELLO, ECHO, GOODBYE], root=tmp_path, seed=2, max_trials=3, echo=None)
    log = Path(visit["folder"]) / "events.jsonl"
    lines = log.read_text().splitlines()
    # Cut the log as a power cut would: in the middle of the second activity (after its first trial).
    second = next(k for k, x in enumerate(lines) if json.loads(x)["type"] == "activity"
                  and json.loads(x)["index"] == 1)
    first_trial = next(k for k in range(second, len(lines)) if json.loads(lines[k])["type"] == "trial")
    log.write_text("\n".join(lines[:first_trial + 1]) + "\n" + lines[first_trial + 1][:20])
    (log.parent / "summary.json").unlink()  # written at the end: a power cut leaves none
    rec = read_log(log)
    assert rec.status == "interrupted" and rec.skipped_lines == 1
    assert [(a.status, len(a.trials)) for a in rec.activities] == [("completed", 3), ("interrupted", 1),
                                                                   ("not started", 0)]
    # Its objectives are judged from what it has, over both activities' scripts.
    assert {o.id for o in rec.objectives} == {o.id for s in (HELLO, ECHO) for o in load_script(s).objectives}


def test_visits_started_in_the_same_second_get_their_own_folders(tmp_path):
    started = datetime(2026, 3, 4, 10, 0, 0).astimezone()
    made: list[Path] = []
    lock = threading.Lock()

    def one() -> None:
        f = SessionFolder(tmp_path, child_id="C1", name="visit", started=started)
        with lock:
            made.append(f.path)
        f.close()

    threads = [threading.Thread(target=one) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 12 == len(set(made))
    assert sorted(p.name for p in made) == sorted(["20260304-100000-visit"] + [f"20260304-100000-visit-{n}"
                                                                              for n in range(2, 13)])


def test_visits_list_in_the_order_they_started(tmp_path):
    first, second = (run_demo(ECHO, root=tmp_path, child_id="C2", seed=s, max_trials=1, echo=None)[0]
                     for s in (1, 2))
    rows = list_sessions(tmp_path, "C2")
    assert [r["path"] for r in rows] == [str(Path(first["folder"]) / "events.jsonl"),
                                         str(Path(second["folder"]) / "events.jsonl")]
    starts = [r["date"] for r in rows]
    assert starts == sorted(starts) and all("." in d for d in starts)  # to the millisecond


def test_an_old_logs_plan_objectives_take_todays_minimum_of_trials():
    """Schema-2 headers wrote min_trials = 1 for every objective (the default then): judged again they take
    today's default (5); a schema-3 header's 1 was asked for and is kept."""
    d = {"id": "quick", "metric": "response_latency_ms", "aggregate": "median", "comparator": "<=",
         "threshold": 2000, "min_trials": 1}
    assert [o.min_trials for o in plan_objectives_of({"schema": 2, "plan_objectives": [d]})] == [5]
    assert [o.min_trials for o in plan_objectives_of({"schema": 3, "plan_objectives": [d]})] == [1]


def test_a_calendar_of_visits_on_separate_days_gives_a_mastery_date(tmp_path, monkeypatch):
    """Four simulated visits a week apart from Monday 2 March 2026 (a faked clock). The steady child answers
    every echo call well under 2 s, so "median response latency at most 2000 ms over at least 5 trials" is met
    in every visit: by hand, the third visit (16 March) completes 3 consecutive visits on separate days."""
    monkeypatch.setattr(demo, "now", lambda: datetime(2026, 3, 2, 10, 0).astimezone())
    visits = run_demo(ECHO, root=tmp_path, child_id="C5", seed=4, sessions=4, days_apart=7, max_trials=5, echo=None)
    quick = [next(o for o in v["objectives"] if o["id"] == "responds-quickly") for v in visits]
    assert [q["met"] for q in quick] == [True] * 4
    assert [q["status"] for q in quick] == ["met this session", "met this session", "mastered", "mastered"]
    assert quick[2]["sentence"].endswith("criterion met for the 3rd consecutive visit on separate days: "
                                         "mastered on 16 March 2026.")
    rows = list_sessions(tmp_path, "C5")
    assert [r["date"][:10] for r in rows] == ["2026-03-02", "2026-03-09", "2026-03-16", "2026-03-23"]
    # The report over the quarter, from the logs (simulated visits shown because asked for), agrees.
    report = collect("C5", [read_log(r["path"]) for r in rows], None, plots_wanted=False, include_simulated=True)
    view = next(v for v in report.objectives if v.id == "responds-quickly")
    assert view.status == "mastered" and view.mastered_on == "2026-03-16" and view.regressed_on is None
    # The same four visits on one day (today) are one day of data: not mastered.
    same = run_demo(ECHO, root=tmp_path / "b", child_id="C5", seed=4, sessions=4, max_trials=5, echo=None)
    assert {next(o for o in v["objectives"] if o["id"] == "responds-quickly")["status"] for v in same} == {
        "met this session"}


def test_a_visits_note_shows_each_activity_and_the_csv_names_it(tmp_path):
    (v,) = run_demo([HELLO, ECHO, GOODBYE], root=tmp_path, child_id="C6", seed=2, max_trials=3, echo=None)
    report = collect("C6", [read_log(v["folder"])], None, plots_wanted=False, include_simulated=True)
    (sv,) = report.sessions
    assert sv.stem == "visit"
    assert [(t["title"], len(t["rows"])) for t in sv.trial_tables] == [("Hello song", 3), ("Echo drums", 3),
                                                                       ("Goodbye song", 3)]
    # Each table has its own kind's score columns: turns for the songs, the echo's for the echo game.
    assert "Started a turn" in [label for _, label in sv.trial_tables[0]["columns"]]
    assert "Notes matched" in [label for _, label in sv.trial_tables[1]["columns"]]
    rows = list(csv.DictReader(io.StringIO(trials_csv(report))))
    assert [(r["script"], r["activity"], r["trial_n"]) for r in rows] == [
        (stem, str(k + 1), str(n)) for k, stem in enumerate(("hello", "echo-drums", "goodbye")) for n in (1, 2, 3)]
    by_objective = {(r["script"], r["objective_id"]) for r in csv.DictReader(io.StringIO(objectives_csv(report)))}
    assert ("echo-drums", "responds-quickly") in by_objective and ("hello", "waits-for-hello") in by_objective


class _CtrlC(Part):
    """Ctrl-C once activity ``index`` scored a trial."""

    def __init__(self, index: int) -> None:
        self.index, self.current = index, -1

    def on_activity(self, index, activity) -> None:
        self.current = index

    def after_step(self, runner) -> None:
        if self.current == self.index and runner is not None and runner.trials_done >= 1:
            raise KeyboardInterrupt


def test_ctrl_c_ends_the_visit_and_keeps_every_activity_line(tmp_path, monkeypatch):
    real = demo.run_session
    monkeypatch.setattr(demo, "run_session", lambda acts, *, parts, **kw: real(acts, parts=[*parts, _CtrlC(1)], **kw))
    (v,) = run_demo([HELLO, ECHO, GOODBYE], root=tmp_path, seed=2, max_trials=3, echo=None)
    ends = [d for d in _lines(v["folder"]) if d["type"] == "activity_end"]
    assert [(d["index"], d["status"], d["trials"], d["stop_reason"]) for d in ends] == [
        (0, "completed", 3, None), (1, "stopped", 1, "stopped early (Ctrl-C)")]
    rec = read_log(v["folder"])
    assert rec.status == "stopped" and [a.status for a in rec.activities] == ["completed", "stopped", "not started"]
    assert rescore(v["folder"])["identical"] is True


def test_a_plan_objective_is_judged_once_over_every_activity_that_measures_it(tmp_path):
    """docs/visits.md, [V2]: the plan's "takes a turn" names the hello and the goodbye song. Alone, neither has
    the 5 counted trials a share needs (4 and 3); over the visit the objective has 7, judged once."""
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "C8.toml").write_text(
        'id = "C8"\n\n[[goals]]\ndomain = "socialization"\ndescription = "Takes turns in music."\n\n'
        '[[goals.objectives]]\nid = "takes-a-turn"\nmetric = "initiated"\naggregate = "percent_true"\n'
        'comparator = ">="\nthreshold = 80\nscripts = ["hello", "goodbye"]\n')
    (v,) = run_demo([HELLO, ECHO, GOODBYE], root=tmp_path, child_id="C8", seed=2, echo=None)
    assert [len(a["trials"]) for a in v["activities"]] == [4, 10, 3]
    (plan,) = [o for o in v["objectives"] if o["source"] == "plan"]
    assert plan["met"] is True and plan["value"] == 100.0
    assert plan["sentence"].startswith("Waited, then started a turn on 7 of 7 trials (100 %)")
    # Read back and re-scored, the same.
    assert [o.value for o in read_log(v["folder"]).objectives if o.source == "plan"] == [100.0]
    assert rescore(v["folder"])["identical"] is True
