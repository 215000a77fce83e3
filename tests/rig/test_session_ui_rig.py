"""The therapist's keys in a live session on the rig, from the terminal and from the session screen.

Every key press is a ``mark`` event in the log; space starts a session that
waits for it, ``p`` sets the prompt level of the trial scored next (a trial
nobody marks is "not recorded"), ``m``
adds a note, Esc then ``y`` stops, ``n`` moves on. The screen runs headless
(SDL's dummy video driver) in its own process, as it does under ``--no-ui
--screenshot``. Nothing checked here depends on the timing.
"""

from __future__ import annotations

import queue

import pygame
import pytest

from engine.session import live as run_module
from tests.fixture_files import script_text
from tests.rig.test_script_rig import _run

pytestmark = pytest.mark.rig

SCRIPT = script_text("rig-echo", trials=6)


def _marks(log):
    return [(e["key"], e["action"], e["text"], e["trial"]) for e in log if e["type"] == "mark"]


def _keys_after_trials(press):
    """An ``on_line`` that presses space when a session starts (each attempt: a retry after an xrun is a new
    session) and keys once trials 1 and 2 are printed (``press(keys)`` sends them)."""
    done: set[int] = set()

    def on_line(line: str) -> None:
        if line.startswith("Running "):
            done.clear()
            press(" ")
        for n, keys in ((1, "pp" + "m" + "Calm today" + "\r"), (2, "\x1by")):
            if line.strip().startswith(f"trial  {n} at") and n not in done:
                done.add(n)
                press(keys)
    return on_line


def _check(summary, log):
    assert summary["status"] == "stopped"
    trials = summary["trials"]
    assert len(trials) == 2  # stopped (Esc, y) once the second trial was scored
    marks = _marks(log)
    # space started it; two p's gave "gestural" for trial 2 (from "not recorded": independent, then gestural);
    # the note; Esc asked and y confirmed.
    assert marks == [("space", "resume", "", -1), ("p", "prompt", "independent", 2), ("p", "prompt", "gestural", 2),
                     ("m", "note_started", "", 2), ("m", "note", "Calm today", 2), ("escape", "stop_asked", "", -1),
                     ("y", "stop_confirmed", "", -1)], marks
    logged = [e for e in log if e["type"] == "trial"]
    # Trial 1 was not marked: its level is not recorded (never guessed as independent).
    assert [t["prompt"] for t in logged] == ["not recorded", "gestural"]
    # Nothing was planned before the therapist's space.
    start = next(e["frame"] for e in log if e["type"] == "mark")
    assert min(e["frame"] for e in log if e["type"] == "plan") >= start


def test_terminal_keys_start_prompt_note_and_stop(virtual_child, tmp_path):
    controls: queue.Queue = queue.Queue()

    def press(keys: str) -> None:
        for ch in keys:
            controls.put({"type": "raw", "key": ch, "text": ch})

    summary, log, _, lines = _run(virtual_child, tmp_path, SCRIPT, 2.0, controls=controls,
                                  on_line=_keys_after_trials(press), wait_for_space=True)
    _check(summary, log)
    assert any(x.startswith("Stop the session?") for x in lines)
    assert log[0]["ui"] == "terminal"


def test_screen_keys_and_a_screenshot_mid_session(virtual_child, tmp_path, monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    screens = []
    real_open = run_module._open_screen

    def open_screen(*args):
        screens.append(real_open(*args))
        return screens[-1]

    monkeypatch.setattr(run_module, "_open_screen", open_screen)

    def press(keys: str) -> None:
        names = {" ": "space", "\x1b": "escape", "\r": "return"}
        screens[-1]._inject_keys([(names.get(ch, ch), ch) for ch in keys])

    shot = tmp_path / "screen.png"
    summary, log, _, _ = _run(virtual_child, tmp_path, SCRIPT, 2.0, on_line=_keys_after_trials(press),
                              wait_for_space=True, screen="headless", screenshot=str(shot))
    _check(summary, log)
    assert log[0]["ui"] == "screen"
    image = pygame.image.load(str(shot))
    assert image.get_size() == (1280, 720)
    # The screen drew frames on its own clock while the session ran.
    assert summary["stream"]["screen"]["frames"] > 30
