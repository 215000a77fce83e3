"""The one session driver on the offline backend: what it writes, how it ends, and that every log re-scores."""

from __future__ import annotations

import json
import queue
import sys
from pathlib import Path

import pytest

from engine.audio.soundbank import SoundBank
from engine.errors import AudioDeviceError
from engine.events import InputEvent
from engine.interventions.kinds import make_kind
from engine.interventions.script import load_script
from engine.interventions.sounds import feedback_request, script_sounds
from engine.paths import cache_dir
from engine.records.reader import read_log
from engine.records.rescore import rescore
from engine.session import driver
from engine.session.activities import FreePlay, ScriptActivity
from engine.session.driver import run_session
from engine.session.parts import OfflineStream, Part
from engine.simulation.demo import METRONOME, run_demo, simulate_task
from engine.simulation.player import DEVICE_FEEDBACK, ModelChild

SONGS = Path("content/songs")
ECHO = SONGS / "echo-drums.toml"


@pytest.fixture(autouse=True)
def private_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("TANDEM_CACHE", str(tmp_path / "cache"))


def _lines(folder) -> list[dict]:
    return [json.loads(x) for x in (Path(folder) / "events.jsonl").read_text().splitlines()]


def _echo_session(tmp_path, *, parts=(), **kw):
    script = load_script(ECHO)
    bank = SoundBank.load(script_sounds(script, device_sound=DEVICE_FEEDBACK), sample_rate=48_000,
                          cache_dir=cache_dir())
    fb = feedback_request(script, DEVICE_FEEDBACK)
    child = ModelChild("steady", 1, feedback=bank[fb], feedback_name=fb)
    activity = ScriptActivity(script, make_kind(script, seed=1), bank, kind_seed=1, **kw.pop("activity", {}))
    stream = kw.pop("stream", None) or OfflineStream()
    return run_session(activity, stream=stream, kind="demo", child_id="C1", root=tmp_path,
                       parts=[child, *parts], echo=None, **kw)


@pytest.mark.parametrize("script", sorted(SONGS.glob("*.toml")), ids=lambda p: p.stem)
def test_every_shipped_script_demo_re_scores_identically(script, tmp_path):
    """A demo session of every script Tandem ships (the metronome among them) re-scores to the same trials
    and objectives from its log alone."""
    (entry,) = run_demo(script, root=tmp_path, seed=3, max_trials=3, echo=None)
    out = rescore(entry["folder"])
    assert out["identical"] is True, [t for t in out["trials"] if not t["identical"]]
    assert sum(t["phase"] == "trial" for t in out["trials"]) == len(entry["trials"]) >= 1


def test_the_metronome_with_a_tapping_child_re_scores_identically(tmp_path):
    (entry,) = run_demo(None, root=tmp_path, seed=4, beats=12, echo=None)
    assert entry["script"] == str(METRONOME) and len(entry["trials"]) == 3
    assert rescore(entry["folder"])["identical"] is True


def test_assessment_tasks_re_score_identically(tmp_path):
    script = load_script(SONGS / "drum-conversation.toml")
    outcome = simulate_task(script, root=tmp_path, child_id="C2", model="impulsive", seed=5,
                            header={"assessment": {"folder": "x", "tasks": ["turn_taking"]}},
                            stop_when=lambda results: "enough" if len(results) >= 2 else None)
    assert outcome.status == "completed" and outcome.stop_reason == "enough" and len(outcome.results) == 2
    header = _lines(outcome.folder)[0]
    assert header["kind_seed"] is None and header["assessment"]["tasks"] == ["turn_taking"]
    assert not (outcome.folder / "audio.wav").exists()
    assert rescore(outcome.folder)["identical"] is True


def test_the_header_holds_the_stream_activity_and_every_part(tmp_path):
    class Tagged(Part):
        def header(self):
            return {"latency_frames": {"tag": 7}, "tagged": True}

    outcome = _echo_session(tmp_path, parts=[Tagged()], activity={"max_trials": 2}, header={"session": 9})
    header = _lines(outcome.folder)[0]
    assert header["kind"] == "demo" and header["script"] == str(ECHO) and header["kind_seed"] == 1
    assert header["backend"] == "offline" and header["pace"] == "fast" and header["session"] == 9
    assert header["simulated_child"] == {"model": "steady", "seed": 1, "prompt": "independent"}
    assert header["tagged"] is True
    # A part's latencies join the stream's instead of replacing them.
    assert header["latency_frames"] == {"input": 0, "output": 0, "tag": 7}
    assert outcome.status == "completed" and len(outcome.results) == 2


def test_a_stop_command_ends_the_session_with_its_trials_kept(tmp_path):
    controls: queue.Queue = queue.Queue()

    class StopAfterTwo(Part):
        def after_step(self, runner):
            if runner is not None and runner.trials_done == 2 and controls.empty():
                controls.put("stop")

    outcome = _echo_session(tmp_path, parts=[StopAfterTwo()], controls=controls)
    assert outcome.status == "stopped" and len(outcome.results) == 2
    lines = _lines(outcome.folder)
    assert any(d.get("what") == "session_stopped" and d["detail"]["reason"] == "stopped by the therapist"
               for d in lines)
    assert lines[-1]["type"] == "summary" and lines[-1]["status"] == "stopped" and lines[-1]["trials"] == 2
    assert rescore(outcome.folder)["identical"] is True


def test_a_pause_that_is_never_resumed_ends_an_offline_session(tmp_path, monkeypatch):
    monkeypatch.setattr(driver, "MAX_PAUSE_S", 0.5)
    controls: queue.Queue = queue.Queue()
    controls.put("pause")
    outcome = _echo_session(tmp_path, controls=controls)
    assert outcome.status == "stopped" and outcome.results == []
    reasons = [d["detail"]["reason"] for d in _lines(outcome.folder) if d.get("what") == "session_stopped"]
    assert reasons == ["paused too long"]


def test_duration_stops_a_script_and_ends_free_play(tmp_path):
    outcome = _echo_session(tmp_path / "script", duration_s=3.0)
    assert outcome.status == "stopped"
    stopped = [d for d in _lines(outcome.folder) if d.get("what") == "session_stopped"]
    assert [d["detail"]["reason"] for d in stopped] == ["duration reached"]
    assert stopped[0]["frame"] == pytest.approx(3.0 * 48_000, abs=128)

    free = run_session(FreePlay(), stream=OfflineStream(), kind="demo", child_id="C1", root=tmp_path / "free",
                       echo=None, duration_s=2.0)
    lines = _lines(free.folder)
    assert free.status == "completed" and lines[0]["script"] == "free" and lines[-1]["trials"] == 0
    out = rescore(free.folder)  # nothing to recompute, and it says so
    assert out["identical"] is True and out["trials"] == [] and "free play" in out["note"]
    assert read_log(free.folder).status == "completed"


def test_a_stream_that_does_not_start_leaves_no_session(tmp_path):
    class Broken(OfflineStream):
        def start(self):
            raise AudioDeviceError("The audio device went away.")

    script = load_script(ECHO)
    bank = SoundBank.load(script_sounds(script, feedback=False), sample_rate=48_000, cache_dir=cache_dir())
    with pytest.raises(AudioDeviceError):
        run_session(ScriptActivity(script, make_kind(script), bank), stream=Broken(), kind="demo", child_id="C1",
                    root=tmp_path, echo=None)
    assert not (tmp_path / "sessions").exists()


def test_a_part_that_fails_mid_session_leaves_a_readable_interrupted_log(tmp_path):
    class Fails(Part):
        steps = 0

        def poll(self):
            self.steps += 1
            if self.steps == 8000:  # about 21 s of stream: some trials are scored by then
                raise RuntimeError("the device thread died")
            return ()

    with pytest.raises(RuntimeError):
        _echo_session(tmp_path, parts=[Fails()])
    (folder,) = (tmp_path / "sessions" / "C1").iterdir()
    lines = _lines(folder)
    assert lines[-1]["type"] != "summary" and any(d["type"] == "trial" for d in lines)
    assert json.loads((folder / "summary.json").read_text())["status"] == "failed"
    assert read_log(folder).status == "interrupted"
    assert rescore(folder)["identical"] is True


def test_inputs_reach_the_activity_in_the_order_they_are_logged(tmp_path):
    seen: list[int] = []

    class Spy(Part):
        def start(self, ctx):
            self.write = ctx.write

    class Recording(ScriptActivity):
        def take(self, event: InputEvent) -> None:
            seen.append(event.frame)
            super().take(event)

    script = load_script(ECHO)
    bank = SoundBank.load(script_sounds(script, device_sound=DEVICE_FEEDBACK), sample_rate=48_000,
                          cache_dir=cache_dir())
    child = ModelChild("steady", 2)
    outcome = run_session(Recording(script, make_kind(script, seed=2), bank, kind_seed=2, max_trials=3),
                          stream=OfflineStream(), kind="demo", child_id="C1", root=tmp_path, parts=[child, Spy()],
                          echo=None)
    logged = [d["frame"] for d in _lines(outcome.folder) if d["type"] == "input"]
    assert seen == logged and len(seen) == child.inputs > 0


def test_a_session_runs_with_a_short_switch_interval_and_restores_it(tmp_path):
    """The control process's threads (rtmidi's callback, the router, the mixer's producer) share a 6 ms feedback
    budget: while a session runs the interpreter switches threads every 0.5 ms, not every 5 ms."""

    class Watches(Part):
        def __init__(self) -> None:
            self.seen: list[float] = []

        def poll(self):
            if not self.seen:
                self.seen.append(sys.getswitchinterval())
            return ()

    before = sys.getswitchinterval()
    watch = Watches()
    _echo_session(tmp_path, parts=[watch], activity={"max_trials": 1})
    assert watch.seen == [pytest.approx(driver.SWITCH_INTERVAL_S)] and driver.SWITCH_INTERVAL_S < before
    assert sys.getswitchinterval() == before
    with pytest.raises(RuntimeError):  # restored on the way out of a failing session too

        class Fails(Part):
            def poll(self):
                raise RuntimeError("the device thread died")

        _echo_session(tmp_path / "failing", parts=[Fails()])
    assert sys.getswitchinterval() == before
