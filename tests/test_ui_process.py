"""The session screen in its own process: state in, keys out, screenshots, and it never hangs the engine."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from engine.ui.process import ScreenError, ScreenProcess
from engine.ui.state import ObjectiveLine, ScreenState

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _wait_events(screen: ScreenProcess, want: int, timeout_s: float = 5.0) -> list[dict]:
    got: list[dict] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < want and time.monotonic() < deadline:
        got += screen.poll_events()
        time.sleep(0.01)
    return got


def _png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _strip_pixels(path, state: ScreenState) -> tuple[bytes, bytes]:
    """The strip in a saved screenshot and as the in-process screen draws ``state`` (pygame: the test's)."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    import pygame

    from engine.ui.screen import SessionScreen

    img = pygame.image.load(str(path))
    ref = SessionScreen(img.get_size())
    ref.render(state, 0.0)
    rect = ref.strip_rect
    return pygame.image.tobytes(img.subsurface(rect), "RGB"), pygame.image.tobytes(ref.surface.subsurface(rect), "RGB")


def test_screen_process_draws_states_saves_screenshots_and_sends_keys(tmp_path):
    t0 = time.monotonic()
    screen = ScreenProcess(size=(800, 600), headless=True)
    try:
        screen.start(timeout_s=15.0)
        assert screen.alive and screen.window_size == (800, 600)
        state = ScreenState(phase="child_turn", bpm=120, beat_origin_s=time.monotonic(), script="Echo drums",
                            trial=2, trials_total=5, prompt="independent",
                            objectives=(ObjectiveLine("steady-beat", "70 %", "in progress"),))
        t = time.perf_counter()
        for i in range(200):  # far more than the engine's ~20 a second: each is a memory copy
            assert screen.update(state.replace(last_score=f"update {i}"))
        assert time.perf_counter() - t < 1.0
        assert screen.states_sent == 200

        assert screen.screenshot(tmp_path / "mid.png", wait_s=5.0) is True
        assert _png_size(tmp_path / "mid.png") == (800, 600)
        shot = [e for e in screen.poll_events() if e["type"] == "screenshot"]
        assert shot and shot[0]["ok"] and shot[0]["path"].endswith("mid.png")
        # The newest state is the one drawn: its strip is the in-process screen's, pixel for pixel.
        strip = _strip_pixels(tmp_path / "mid.png", state.replace(last_score="update 199"))
        assert strip[0] == strip[1]

        # Keys go through the screen's own pygame event queue and come back as log events.
        assert screen._inject_keys([("space", " "), ("p", "p"), ("m", "m"), ("o", "o"), ("k", "k"),
                                    ("return", "\r"), ("escape", "\x1b"), ("y", "y")])
        events = _wait_events(screen, 6)
        kinds = [(e["type"], e.get("action"), e.get("prompt"), e.get("text")) for e in events]
        assert kinds == [("key", "toggle", None, None), ("key", "prompt", "gestural", None),
                         ("key", "note_started", None, None), ("note", None, None, "ok"),
                         ("key", "stop_asked", None, None), ("stop_confirmed", None, None, None)]
        assert all(e["trial"] == 2 for e in events if e["type"] == "note" or e.get("action") == "prompt")
        assert all(abs(e["t_s"] - time.monotonic()) < 10 for e in events)  # stamped on the shared clock
    finally:
        t = time.monotonic()
        screen.close()
        assert time.monotonic() - t < 5.0
    assert not screen.alive
    assert screen.stats["frames"] > 0 and screen.stats["fps"] > 0  # its own counts, sent as it closed
    screen.close()  # safe twice
    assert screen.update(ScreenState()) is False and screen.poll_events() == []
    assert time.monotonic() - t0 < 20.0


def test_a_screen_that_died_is_reported_and_closes_at_once():
    screen = ScreenProcess(size=(640, 480), headless=True).start(timeout_s=15.0)
    try:
        os.kill(screen._proc.pid, 9)  # our own child: a crash in the screen process
        screen._proc.join(5.0)
        events = screen.poll_events()
        assert [e["type"] for e in events] == ["screen_closed"] and events[0]["exitcode"] == -9
        assert screen.poll_events() == []  # reported once
        screen.update(ScreenState(phase="reward"))  # still never raises nor waits
        assert screen.screenshot("/nonexistent/x.png", wait_s=0.5) is False
    finally:
        t = time.monotonic()
        screen.close()
        assert time.monotonic() - t < 2.0


def test_a_screen_that_cannot_open_says_so():
    screen = ScreenProcess(size=(640, 480), headless=True)
    screen.options["size"] = (10**6, 10**6)  # SDL refuses a window this large
    with pytest.raises(ScreenError, match="could not open a window|did not start"):
        screen.start(timeout_s=15.0)
    assert not screen.alive


def test_the_engine_side_never_imports_pygame():
    code = ("import sys, time; import engine.ui as ui; "
            "s = ui.ScreenState(phase='count_in', bpm=90, beat_origin_s=time.monotonic()); "
            "ui.ScreenProcess(headless=True).update(s); "
            "assert 'pygame' not in sys.modules, 'pygame imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
