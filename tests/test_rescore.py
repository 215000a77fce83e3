"""Re-scoring a log from its raw events reproduces the stored results exactly (and notices when it does not)."""

import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest

import engine
from engine.audio.engine import AudioEngine
from engine.audio.soundbank import SoundBank
from engine.cli.rescore import cmd_rescore
from engine.errors import ConfigError
from engine.events import InputEvent
from engine.interventions.kinds import make_kind
from engine.interventions.script import load_script
from engine.interventions.sounds import script_sounds
from engine.paths import cache_dir
from engine.records import rescore as rescore_module
from engine.records.folder import SessionFolder
from engine.records.reader import read_log
from engine.records.rescore import rescore
from engine.scoring.judge import judge_objectives
from engine.session.runner import ScriptSession
from engine.simulation.demo import run_demo
from engine.simulation.models import events_for, make_model

SONGS = sorted(Path("content/songs").glob("*.toml"))
MODELS = ["learning", "impulsive", "drifting", "double", "early", "slow", "steady"]


@pytest.fixture(autouse=True)
def private_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("TANDEM_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("TANDEM_CACHE", str(tmp_path / "cache"))


def demo(script, tmp_path, **kw):
    kw.setdefault("max_trials", 4)
    return run_demo(script, root=tmp_path / "out", echo=None, **kw)


@pytest.mark.parametrize("song", SONGS, ids=lambda p: p.stem)
def test_demo_sessions_of_every_song_rescore_identically(song, tmp_path):
    model = MODELS[SONGS.index(song) % len(MODELS)]
    sessions = demo(song, tmp_path, model=model, seed=SONGS.index(song), sessions=2)
    for s in sessions:
        out = rescore(s["folder"])
        assert out["identical"] is True, (model, [t for t in out["trials"] if not t["identical"]])
        assert out["status"] == "ended" and out["plan_mismatch"] is None and out["open_at_end"] == 0
        scored = [t for t in out["trials"] if t["phase"] == "trial"]
        assert [t["recomputed"]["scores"] for t in scored] == json.loads(json.dumps([t["scores"] for t in s["trials"]]))
        assert [o["recomputed"]["value"] for o in out["objectives"]] == [o["value"] for o in s["objectives"]]
        assert all(o["identical"] is True for o in out["objectives"])


@pytest.mark.parametrize("model", ["impulsive", "learning", "silent"])
def test_turn_taking_with_early_closes_rescore_identically(model, tmp_path):
    s = demo(Path("content/songs/drum-conversation.toml"), tmp_path, model=model, seed=2, max_trials=6)[0]
    assert rescore(s["folder"])["identical"] is True


def _log_lines(folder):
    log = Path(folder) / "events.jsonl"
    return log, [json.loads(x) for x in log.read_text().splitlines()]


def _write(log, lines):
    log.write_text("".join(json.dumps(x, sort_keys=True) + "\n" for x in lines))


def test_a_changed_score_or_plan_in_the_log_is_found(tmp_path):
    s = demo(Path("content/songs/echo-drums.toml"), tmp_path, model="learning", seed=1)[0]
    log, lines = _log_lines(s["folder"])
    trial = next(x for x in lines if x["type"] == "trial" and x["n"] == 2)
    key = next(k for k, v in trial["scores"].items() if isinstance(v, int) and not isinstance(v, bool))
    trial["scores"][key] += 1
    _write(log, lines)
    out = rescore(log)
    assert out["identical"] is False
    assert [t["n"] for t in out["trials"] if not t["identical"]] == [2]
    assert out["trials"][1]["differences"] == [key]
    assert cmd_rescore(log, False, (shown := []).append) == 1 and "NOT identical" in shown[-1]
    trial["scores"][key] -= 1
    plan = next(x for x in lines if x["type"] == "plan" and x["index"] == 3)
    plan["end_s"] += 0.5
    _write(log, lines)
    out = rescore(log)
    assert out["identical"] is False and "index 3" in out["plan_mismatch"]
    plan["end_s"] -= 0.5
    _write(log, lines)
    assert rescore(log)["identical"] is True
    shown = []
    assert cmd_rescore(log, False, shown.append) == 0
    assert shown[-1] == "4 trials: identical to the stored results."
    assert sum("trial " in x and "same" in x for x in shown) == 4
    shown = []
    assert cmd_rescore(log, True, shown.append) == 0 and json.loads(shown[0])["identical"] is True


def test_a_log_rescores_from_its_own_script_and_a_damaged_copy_is_one_sentence(tmp_path, monkeypatch):
    script = tmp_path / "echo.toml"
    shutil.copy("content/songs/echo-drums.toml", script)
    s = demo(script, tmp_path, max_trials=1)[0]
    script.write_text(script.read_text().replace("min_trials", "# min_trials") + "\n# edited after the session\n")
    assert rescore(s["folder"])["identical"] is True  # the log's own copy, not the edited file
    script.unlink()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert rescore(s["folder"])["identical"] is True
    log = Path(s["folder"]) / "events.jsonl"
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    for d in lines:
        if "script_toml" in d:
            d["script_toml"] += "\n# changed in the log\n"  # the copy no longer has its hash
    log.write_text("".join(json.dumps(d) + "\n" for d in lines))
    with pytest.raises(ConfigError, match="does not match the script's SHA-256") as exc:
        rescore(s["folder"])
    assert "\n" not in str(exc.value)
    folder = SessionFolder(tmp_path / "metronome", child_id="C00", name="metronome")
    folder.write_header({"kind": "demo", "intervention": "rhythmic-cueing (metronome)", "sample_rate": 48000})
    folder.close()
    out = rescore(folder.path)  # a metronome log of before the metronome was a script: no trials to recompute
    assert out["identical"] is True and out["trials"] == [] and "rhythmic-cueing (metronome)" in out["note"]
    with open(folder.events_path, "a") as f:  # ... but trials it cannot judge are refused
        f.write(json.dumps({"type": "trial", "frame": 0, "index": 0, "scores": {}}) + "\n")
    with pytest.raises(ConfigError, match="names no intervention script"):
        rescore(folder.path)


def _live_like(script_path: Path, root: Path, *, seed: int, model: str, pause_after: int, stop_after: int,
               late_s: float = 0.03, next_after: int | None = None, prompt_at: int | None = None) -> Path:
    """A session as `tandem run` drives it, on the offline backend: MIDI pads, note-offs, stray keys and
    the microphone (an onset and the voice confirming it at the same frame, delivered late and out of
    order), a pause in the middle of a trial, and a stop by the therapist. ``next_after``: after that many
    trials the therapist moves on (key n) in the middle of the child's window; ``prompt_at``: after that
    many, the therapist gives a verbal prompt (key p) for the trial scored next."""
    script = load_script(script_path)
    kind = make_kind(script, seed=seed)
    rate = 48_000
    bank = SoundBank.load(script_sounds(script, feedback=False), sample_rate=rate, cache_dir=cache_dir())
    eng = AudioEngine(backend="offline", sample_rate=rate, blocksize=128, channels_in=1, channels_out=2, ring_s=10.0)
    folder = SessionFolder(root, child_id="C05", name=script_path.stem)
    params = eng.open()
    folder.write_header({"engine_version": engine.__version__, "kind": "live", "script": str(script_path),
                         "title": script.title, "intervention": script.kind, "kind_seed": seed, "child_id": "C05",
                         "started": datetime.now().astimezone().isoformat(timespec="seconds"),
                         "sample_rate": params.sample_rate, "blocksize": params.blocksize})
    eng.start()
    pad = script.inputs.pads[0] if script.inputs.pads else 38
    late = round(late_s * rate)
    due: list[tuple[int, InputEvent]] = []  # (frame it is delivered, event)
    history: list[float] = []
    count = 0

    def child_plays(plan):
        nonlocal count
        # Beats of a trial cut short (a pause, the therapist moving on) that never came are not the child's past.
        history[:] = [t for t in history if t < plan.start_s]
        for sim in events_for(plan, make_model(model, seed=seed, trial_index=plan.index), history):
            f = round(sim.time_s * rate)
            count += 1
            if count % 3 == 0:  # the microphone: an onset and its voice, delivered late (after later MIDI notes)
                for key in ("onset", "voice"):
                    due.append((f + late, InputEvent(frame=f, source="mic", key=key, velocity=80)))
            else:
                note = pad if sim.note is None else int(sim.note)
                due.append((f, InputEvent(frame=f, source="midi", key=f"note:{note}", note=note)))
            due.append((f + rate // 10, InputEvent(frame=f + rate // 10, source="midi-off", key="off", note=pad)))
            if count % 4 == 0:  # a key outside the script's pads
                due.append((f + 200, InputEvent(frame=f + 200, source="midi", key="note:99", note=99)))
        due.sort(key=lambda d: d[0])
        return []

    runner = ScriptSession(script, kind, eng, bank, folder.write_event, start_s=0.5, lookahead_s=0.25,
                           on_plan=child_plays)
    paused_at = None
    moved = prompted = False
    for _ in range(400_000):
        now = eng.now_frame
        while due and due[0][0] <= now:
            ev = due.pop(0)[1]
            folder.write_event(ev)
            runner.child_event(ev)
        runner.step()
        if paused_at is None and runner.trials_done == pause_after and runner._open \
                and now / rate > runner._open[0].plan.start_s + 0.3:
            runner.pause()
            paused_at = now
            due.clear()  # the child stops too
        if runner.state == "paused" and now - paused_at > 1.5 * rate:
            runner.resume()
        if (next_after is not None and not moved and runner.state == "running" and runner.trials_done == next_after
                and runner._open and now / rate > runner._open[0].plan.child_start_s + 0.2):
            moved = runner.next_trial()
        if prompt_at is not None and not prompted and runner.trials_done == prompt_at:
            runner.set_prompt("verbal")
            prompted = True
        if runner.trials_done >= stop_after and runner.state == "running":
            runner.stop("stopped by the therapist")
        if runner.done:
            break
        eng.backend.run_blocks(1)
    eng.stop()
    eng.close()
    folder.write_summary({"status": "stopped", "ended": datetime.now().astimezone().isoformat(timespec="seconds"),
                          "duration_s": round(eng.now_frame / rate, 3), "trials": runner.trials_done,
                          "objectives": judge_objectives(script, runner.results)})
    folder.close()
    assert paused_at is not None and runner.abandoned >= 1
    assert moved == (next_after is not None) and prompted == (prompt_at is not None)
    return folder.events_path


@pytest.mark.parametrize(("song", "model", "late_s"), [
    ("echo-drums", "learning", 0.03), ("drum-conversation", "impulsive", 0.03),
    ("drum-conversation", "impulsive", 1.0), ("stop-and-go", "early", 0.03), ("steady-beat-march", "drifting", 0.03)])
def test_a_live_like_session_with_a_pause_and_a_stop_rescores_identically(song, model, late_s, tmp_path, monkeypatch):
    log = _live_like(Path(f"content/songs/{song}.toml"), tmp_path, seed=4, model=model, pause_after=2, stop_after=5,
                     late_s=late_s)
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    if late_s >= 1.0:
        # Some of the child's events reached the session after the trial they belong to was scored:
        # the session did not count them, and re-scoring must not either.
        closes: list[float] = []
        late = 0
        for x in lines:
            if x["type"] == "input" and x["source"] == "mic":
                late += any(x["frame"] / 48_000 <= c for c in closes)
            closes += [x["close_s"]] if x["type"] == "trial" else []
        assert late > 0
    kinds = [x["type"] for x in lines]
    assert "trial_abandoned" in kinds and kinds[-1] == "summary"
    assert any(x["type"] == "input" and x["source"] == "midi-off" for x in lines)
    rec = read_log(log)
    assert rec.status == "stopped" and len(rec.trials) == 5
    out = rescore(log)
    assert out["identical"] is True, [t for t in out["trials"] if not t["identical"]]
    assert out["abandoned"] >= 1 and len([t for t in out["trials"] if t["phase"] == "trial"]) == 5
    if song == "echo-drums":
        # The acceptance rule matters: counting every input (note-offs, stray keys) changes the scores.
        monkeypatch.setattr(rescore_module, "accepts_input", lambda *a: True)
        assert rescore(log)["identical"] is False


@pytest.mark.parametrize("song", ["echo-drums", "drum-conversation", "steady-beat-march"])
def test_moving_on_scores_the_trial_so_far_and_a_prompt_holds_for_one_trial(song, tmp_path):
    log = _live_like(Path(f"content/songs/{song}.toml"), tmp_path, seed=4, model="learning", pause_after=1,
                     stop_after=6, next_after=3, prompt_at=4)
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    trials = [x for x in lines if x["type"] == "trial" and x["phase"] == "trial"]
    moved = next(i for i, x in enumerate(lines) if x["type"] == "status" and x["what"] == "moved_on")
    # The trial in the child's window when the therapist moved on was scored right then, its window cut short.
    cut = [x for x in lines[:moved] if x["type"] == "trial"][-1]
    plan = next(x for x in lines if x["type"] == "plan" and x["index"] == cut["index"])
    assert cut["close_s"] < plan["child_end_s"] and cut["frame"] == lines[moved]["frame"]
    assert cut["close_s"] == (lines[moved]["frame"] - 1) / 48_000
    # The prompt was given for one trial: the fifth carries it; nobody marked the others (a live-like session
    # with no default chosen), so they are "not recorded", never taken as independent.
    assert [t["prompt"] for t in trials] == (["not recorded"] * 4 + ["verbal"]
                                             + ["not recorded"] * (len(trials) - 5))
    out = rescore(log)
    assert out["identical"] is True, [t for t in out["trials"] if not t["identical"]]
