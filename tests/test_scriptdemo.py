"""`tandem demo SCRIPT...`: whole sessions of a script with a simulated child, scored from the log."""

import json
import os
import stat
from pathlib import Path

import pygame
import pytest

from engine.cli import main
from engine.interventions.kinds import make_kind
from engine.interventions.script import load_script
from engine.simulation.demo import run_demo

SONGS = sorted(Path("content/songs").glob("*.toml"))

TURN_SCRIPT = """\
title = "Drum conversation (test)"
kind = "turn_taking"
tempo_bpm = 100
meter = "4/4"
grid = "1/8"
trials = 3

[instruments]
cue = "drum:hi_bongo"
feedback = "drum:low_bongo"

[input]
source = "midi"

[[phrases]]
rhythm = "x.x.x.x."

[prompts]
count_in_beats = 2
your_turn_sound = "click:high"

[[objectives]]
id = "waits"
metric = "waited"
criterion = "k_of_n"
k = 2
n = 3
comparator = "=="
threshold = true
"""


@pytest.fixture(autouse=True)
def private_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("TANDEM_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("TANDEM_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def turn_script(tmp_path):
    path = tmp_path / "conversation.toml"
    path.write_text(TURN_SCRIPT)
    return path


def run(script, tmp_path, model="steady", **kw):
    kw.setdefault("max_trials", 3)
    return run_demo(script, root=tmp_path / "out", model=model, echo=None, **kw)


def read_log(folder):
    lines = [json.loads(line) for line in (Path(folder) / "events.jsonl").read_text().splitlines()]
    assert lines[0]["type"] == "header"
    return lines[0], lines[1:]


def test_there_are_shipped_songs():
    assert len(SONGS) >= 2


@pytest.mark.parametrize("song", SONGS, ids=lambda p: p.stem)
def test_each_shipped_song_runs_to_the_end_with_a_steady_child(song, tmp_path):
    script = load_script(song)
    out = run(song, tmp_path)
    assert len(out) == 1
    s = out[0]
    assert {"script", "session", "child_model", "trials", "objectives"} <= set(s)
    assert s["script"] == str(song) and s["session"] == 1 and s["child_model"] == "steady"
    assert [t["n"] for t in s["trials"]] == [1, 2, 3]
    for t in s["trials"]:
        assert {"n", "scores", "correct"} <= set(t)
        assert t["correct"] is True, t  # a steady child passes every trial of the shipped songs
    assert [o["id"] for o in s["objectives"]] == [o.id for o in script.objectives]
    for o in s["objectives"]:
        assert {"id", "status", "sentence", "value"} <= set(o)
        assert o["sentence"] and o["status"] in ("met this session", "mastered", "in progress")
        # A steady child never fails an objective; with too few trials it has nothing to judge yet.
        assert o["met"] is not False, o
        assert (o["status"] == "in progress") == (o["met"] is None)
    _, events = read_log(s["folder"])
    assert sum(e["type"] == "trial" for e in events) == 3
    assert any(e["type"] == "input" and e["source"] == "sim" for e in events)
    cues = [e for e in events if e["type"] == "cue" and e["role"] != "feedback"]
    assert cues and all(c["frame"] >= 0 for c in cues)
    assert json.loads((Path(s["folder"]) / "summary.json").read_text())["trials"] == json.loads(
        json.dumps(s["trials"]))


def test_a_whole_session_of_a_trial_count_script_ends_by_itself(tmp_path):
    song = Path("content/songs/echo-drums.toml")
    out = run(song, tmp_path, max_trials=None)
    assert len(out[0]["trials"]) == load_script(song).trials


def test_silent_child_gives_no_responses_and_no_crash(tmp_path, turn_script):
    for script in [*SONGS, turn_script]:
        s = run(script, tmp_path, model="silent", max_trials=2)[0]
        _, events = read_log(s["folder"])
        assert not [e for e in events if e["type"] == "input"]
        assert len(s["trials"]) == 2
        for t in s["trials"]:
            assert t["correct"] is False
            sc = t["scores"]
            if "response_present" in sc:
                assert sc["response_present"] is False
            if "initiated" in sc:
                assert sc["initiated"] is False and sc["turn_length_notes"] == 0
            if "matched" in sc:
                assert sc["matched"] == 0


def test_impulsive_child_is_scored_as_not_waiting(tmp_path, turn_script):
    s = run(turn_script, tmp_path, model="impulsive")[0]
    assert [t["scores"]["waited"] for t in s["trials"]] == [False, False, False]
    assert all(t["scores"]["onsets_during_turn"] > 0 for t in s["trials"])
    # ... which is what the model did (its own record of it, in the log)
    _, events = read_log(s["folder"])
    truths = [e["child_truth"] for e in events if e["type"] == "trial"]
    assert all(tr and not tr[0]["waited"] for tr in truths)
    waits = s["objectives"][0]
    assert waits["id"] == "waits" and waits["status"] == "in progress"
    # A steady child waits on the same script.
    steady = run(turn_script, tmp_path, model="steady")[0]
    assert [t["scores"]["waited"] for t in steady["trials"]] == [True, True, True]


@pytest.mark.parametrize("model", ["steady", "impulsive", "learning"])
@pytest.mark.parametrize("which", [*[p.stem for p in SONGS], "turn"])
def test_scores_are_the_kinds_scores_of_the_logged_events(which, model, tmp_path, turn_script):
    """Replay the kind on the log alone (its plans' start times, its input events): same scores."""
    path = turn_script if which == "turn" else Path(f"content/songs/{which}.toml")
    s = run(path, tmp_path, model=model, max_trials=3, seed=11)[0]
    header, events = read_log(s["folder"])
    rate = header["sample_rate"]
    inputs = [(e["frame"] / rate, None if e["note"] < 0 else e["note"]) for e in events if e["type"] == "input"]
    assert inputs  # these models play
    kind = make_kind(load_script(path), seed=header["simulated_child"]["seed"])
    plans = [e for e in events if e["type"] == "plan"]
    trials = [e for e in events if e["type"] == "trial"]
    assert len(plans) == len(trials) == len(s["trials"]) == 3
    for logged_plan, logged_trial, out in zip(plans, trials, s["trials"]):
        plan = kind.next_trial(logged_plan["start_s"])
        assert plan.end_s == logged_plan["end_s"] and plan.tempo_bpm == logged_plan["tempo_bpm"]
        # A trial is scored on the events up to the moment its window closed (the log says when).
        result = kind.score(plan, [e for e in inputs if e[0] <= logged_trial["close_s"] + 1e-9])
        kind.adapt(result)
        expected = json.loads(json.dumps(result.scores))
        assert logged_trial["scores"] == expected
        assert out["scores"] == result.scores and out["correct"] == result.correct


def test_cues_are_heard_at_the_planned_times(tmp_path):
    song = Path("content/songs/steady-beat-march.toml")
    s = run(song, tmp_path, max_trials=2)[0]
    header, events = read_log(s["folder"])
    rate = header["sample_rate"]
    kind = make_kind(load_script(song), seed=header["simulated_child"]["seed"])
    plans = [e for e in events if e["type"] == "plan"]
    planned = []
    for p in plans:
        plan = kind.next_trial(p["start_s"])
        planned += [(round(c.time_s * rate), c.role) for c in plan.cues]
    heard = [(c["heard_frame"], c["role"]) for c in events if c["type"] == "cue" and c["role"] != "feedback"]
    assert heard == planned


def test_sessions_and_objective_status_carry_over(tmp_path):
    """Visits dated a week apart count toward mastery one after the other; two the same day do not."""
    out = run(Path("content/songs/echo-drums.toml"), tmp_path, sessions=2, max_trials=5, days_apart=7)
    assert [s["session"] for s in out] == [1, 2]
    assert out[0]["folder"] != out[1]["folder"]
    # responds-quickly: the median latency of 5 trials (echo-rhythm counts only calls of 3 notes or more)
    echo = next(o for o in out[1]["objectives"] if o["id"] == "responds-quickly")
    assert "2nd consecutive visit on separate days" in echo["sentence"]
    same_day = run(Path("content/songs/echo-drums.toml"), tmp_path / "b", sessions=2, max_trials=5)
    echo = next(o for o in same_day[1]["objectives"] if o["id"] == "responds-quickly")
    assert "on the same day as" in echo["sentence"] and "(1 of 3 visits on separate days so far)" in echo["sentence"]


def test_demo_command_with_a_script_prints_json(tmp_path, capsys):
    song = "content/songs/echo-drums.toml"
    assert main(["demo", song, "--child-model", "steady", "--max-trials", "2", "--json",
                 "--out", str(tmp_path / "o")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out) == 1 and out[0]["script"] == song and out[0]["child_model"] == "steady"
    assert [t["n"] for t in out[0]["trials"]] == [1, 2]
    assert {o["id"] for o in out[0]["objectives"]} == {"echo-rhythm", "responds-quickly"}


def test_demo_command_with_a_script_prints_a_readable_summary(tmp_path, capsys):
    assert main(["demo", "content/songs/steady-beat-march.toml", "--max-trials", "2",
                 "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "model 'steady'" in out and "trial  1 at 80 BPM" in out and "on the beat" in out
    assert "on-the-beat:" in out and "steady-taps:" in out


def test_bad_requests_are_one_sentence(tmp_path, capsys):
    song = "content/songs/echo-drums.toml"
    for args, word in ([["--child-model", "nonsense"], "nonsense"], [["--max-trials", "0"], "--max-trials"],
                       [["--sessions", "0"], "sessions"]):
        assert main(["demo", song, *args, "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert word in err and err.count("\n") == 1 and "Traceback" not in err


def test_realtime_pace_keeps_to_the_wall_clock_and_changes_no_score(tmp_path):
    import time

    path = tmp_path / "quick.toml"
    path.write_text(Path("content/songs/echo-drums.toml").read_text()
                    .replace("tempo_bpm = 90", "tempo_bpm = 110").replace("count_in_beats = 4", "count_in_beats = 0")
                    + "\n[response]\nwindow_s = 1.0\n")
    fast = run(path, tmp_path, max_trials=1, seed=3)[0]
    t0 = time.monotonic()
    real = run(path, tmp_path, max_trials=1, seed=3, pace="realtime")[0]
    wall = time.monotonic() - t0
    header, events = read_log(real["folder"])
    assert header["pace"] == "realtime"
    assert real["trials"] == fast["trials"]
    # A lower bound only (a busy machine makes it slower, never faster): the stream took as
    # long as the audio it made.
    stats = next(e for e in events if e["type"] == "status" and e["what"] == "stream_stats")["detail"]
    assert wall >= stats["frames"] / header["sample_rate"] - 0.05


def _kind_of(song: Path) -> str:
    return load_script(song).kind


# What the distinctive models must show in every kind's scores (per trial).
_IMPULSIVE = {
    "turn_taking": lambda s: s["waited"] is False and s["onsets_during_turn"] > 0,
    "stop_and_go": lambda s: s["stopped"] is False and s["onsets_during_stop"] > 0,
    "call_and_response": lambda s: s["onsets_during_call"] > 0,
}


@pytest.mark.parametrize("model", ["steady", "early", "drifting", "impulsive", "slow", "silent", "double",
                                   "learning"])
@pytest.mark.parametrize("song", SONGS, ids=lambda p: p.stem)
def test_every_song_runs_with_every_child_model_and_scores_what_it_did(song, model, tmp_path):
    s = run(song, tmp_path, model=model, max_trials=2, seed=5)[0]
    _, events = read_log(s["folder"])
    assert len(s["trials"]) == 2 and all(t["scores"] for t in s["trials"])
    inputs = [e for e in events if e["type"] == "input"]
    kind = _kind_of(song)
    if model == "silent":
        assert not inputs and all(t["correct"] is False for t in s["trials"])
    else:
        assert inputs
    if model == "impulsive" and kind in _IMPULSIVE:
        assert all(_IMPULSIVE[kind](t["scores"]) for t in s["trials"]), s["trials"]
    if model == "steady":
        assert all(t["correct"] is True for t in s["trials"]), s["trials"]
    if model == "double" and kind == "turn_taking":
        # Every hit doubled: twice the notes a steady child plays in its turn.
        steady = run(song, tmp_path, model="steady", max_trials=2, seed=5)[0]
        assert [t["scores"]["turn_length_notes"] for t in s["trials"]] == [
            2 * t["scores"]["turn_length_notes"] for t in steady["trials"]]


def test_screenshot_of_the_session_screen_as_the_child_plays(tmp_path):
    shot = tmp_path / "shots" / "echo.png"
    out = run_demo(Path("content/songs/echo-drums.toml"), root=tmp_path / "out", echo=None, max_trials=2,
                   sessions=2, screenshot=shot)
    summary = json.loads((Path(out[0]["folder"]) / "summary.json").read_text())
    assert summary["screenshot"] == {"path": str(shot), "phase": "child_turn"}
    assert "screenshot" not in json.loads((Path(out[1]["folder"]) / "summary.json").read_text())
    assert pygame.image.load(str(shot)).get_size() == (1280, 720)
    assert stat.S_IMODE(os.stat(shot).st_mode) == 0o600
