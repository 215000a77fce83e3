"""The therapist's side of a session without the screen: raw terminal keys → marks and actions; the status line."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.audio.engine import AudioEngine
from engine.audio.soundbank import SoundBank
from engine.events import MarkEvent, StatusEvent
from engine.interventions.kinds import make_kind
from engine.interventions.script import load_script
from engine.interventions.sounds import script_sounds
from engine.paths import cache_dir
from engine.session.controls import SessionUI
from engine.session.runner import ScriptSession


@pytest.fixture(autouse=True)
def private_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("TANDEM_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def session():
    script = load_script(Path("content/songs/echo-drums.toml"))
    eng = AudioEngine(backend="offline", sample_rate=48_000, blocksize=128, channels_in=1, channels_out=2)
    eng.open()
    eng.start()
    bank = SoundBank.load(script_sounds(script, feedback=False), sample_rate=48_000, cache_dir=cache_dir())
    log: list = []
    runner = ScriptSession(script, make_kind(script, seed=1), eng, bank, log.append, start_s=0.5, lookahead_s=0.1)
    said: list[str] = []
    ui = SessionUI(engine=eng, write=log.append, echo=said.append, script=script)
    yield eng, runner, ui, log, said
    eng.close()


def press(ui, runner, keys: str):
    return [ui.take({"type": "raw", "key": ch, "text": ch}, runner) for ch in keys]


def test_keys_become_marks_and_actions(session):
    eng, runner, ui, log, said = session
    runner.pause()  # a session waiting for the therapist's space
    press(ui, runner, " ")
    assert runner.state == "running"
    while runner.trials_done < 1:
        runner.step()
        eng.backend.run_blocks(1)
    press(ui, runner, "pp")  # from "not recorded" (no default chosen): independent, then gestural
    assert runner.prompt == "gestural"
    press(ui, runner, "mLooked away\r")
    while runner.trials_done < 2:
        runner.step()
        eng.backend.run_blocks(1)
    assert runner.prompt == "not recorded"  # it held for the one trial
    assert press(ui, runner, "\x1bx") == [None, None]  # Esc asks, any other key goes on
    assert runner.state == "running"
    assert press(ui, runner, "\x1by") == [None, "stop"]
    assert runner.state == "stopped"
    marks = [(m.key, m.action, m.text, m.trial) for m in log if isinstance(m, MarkEvent)]
    assert marks == [("space", "resume", "", -1), ("p", "prompt", "independent", 2), ("p", "prompt", "gestural", 2),
                     ("m", "note_started", "", 2), ("m", "note", "Looked away", 2),
                     ("escape", "stop_asked", "", -1), ("x", "stop_cancelled", "", -1), ("escape", "stop_asked", "", -1),
                     ("y", "stop_confirmed", "", -1)]
    trials = [e for e in log if isinstance(e, dict) and e.get("type") == "trial"]
    assert [t["prompt"] for t in trials] == ["not recorded", "gestural"]
    assert "Stop the session? Esc again or y stops; any other key goes on." in said


def test_n_moves_on_and_is_logged(session):
    eng, runner, ui, log, _ = session
    while not (runner.open_plans and runner.now_s > runner.open_plans[0].child_start_s + 0.3):
        runner.step()
        eng.backend.run_blocks(1)
    press(ui, runner, "n")
    assert runner.trials_done == 1
    assert [e.what for e in log if isinstance(e, StatusEvent)][-1] == "moved_on"
    assert [(m.key, m.action) for m in log if isinstance(m, MarkEvent)] == [("n", "next")]


def test_a_moves_on_to_the_visits_next_activity(session):
    """Key ``a``: the activity playing stops (its trials kept), the mark is logged, and the driver is told "next"."""
    eng, runner, ui, log, said = session
    while runner.trials_done < 1:
        runner.step()
        eng.backend.run_blocks(1)
    assert press(ui, runner, "a") == ["next"]
    assert runner.state == "stopped" and runner.trials_done == 1
    assert [(m.key, m.action) for m in log if isinstance(m, MarkEvent)] == [("a", "next_activity")]
    assert "Moving on to the next activity: the trials scored so far are kept." in said


def test_the_status_line_says_where_the_session_is(session):
    eng, runner, ui, _, _ = session
    while not runner.open_plans or runner.now_s < runner.open_plans[0].engine_start_s + 0.05:
        runner.step()
        eng.backend.run_blocks(1)
    assert ui.status_text(runner) == "Echo drums · trial 1/10 · engine's turn · prompt not recorded"
    press(ui, runner, "mHi")
    assert ui.status_text(runner).endswith("· note (Enter saves, Esc cancels): Hi_")
    runner.pause()
    press(ui, runner, "\r")
    assert ui.status_text(runner) == "Echo drums · trial 1/10 · paused · prompt not recorded"
