"""The session screen in its own process, so that drawing never holds the engine's GIL.

The audio callback runs in Python in the engine process; a 60 fps pygame
loop in the same process would compete with it for the GIL. So the screen
runs in a child process started with multiprocessing's ``spawn`` context
(a fresh interpreter: pygame is imported there and never in the engine).

Between the two, only small plain data moves:

- **state → screen**: one shared-memory slot holding the latest
  :class:`~engine.ui.state.ScreenState` as JSON, guarded by a sequence
  number (a seqlock: the engine writes, the screen reads and retries on a
  torn read). :meth:`ScreenProcess.update` is a memory copy: it never
  waits, and a state the screen has not drawn yet is simply replaced by
  the newer one (stale states are dropped by construction).
- **screen → engine**: a pipe of event dicts (keys, notes, screenshots
  saved), read without waiting by :meth:`ScreenProcess.poll_events`.
- **commands** (screenshot, close, test keys): the same pipe the other way,
  rare and tiny.

The screen animates the beat itself from the state's beat clock on
``time.monotonic()``, so ~20 updates a second give a smooth 60 fps. It
lowers its own scheduling priority (``nice``) so the audio process wins any
contest for a CPU, exits by itself when the engine process is gone, and
:meth:`ScreenProcess.close` ends it within a bounded time whatever state it
is in: the engine never hangs on the screen.
"""

from __future__ import annotations

import ctypes
import json
import multiprocessing
import os
import select
import signal
import sys
import time
import zlib
from pathlib import Path
from typing import Any, Self

from engine.errors import TandemError
from engine.ui.keys import KeyHandler, from_pygame
from engine.ui.state import THEMES, ScreenState

__all__ = ["ScreenError", "ScreenProcess"]

SLOT_BYTES = 64 * 1024  # a state is ~1 kB; a state larger than this is dropped (and counted)
START_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 2.0
PARENT_CHECK_S = 0.5  # how often the screen looks whether the engine is still there
STATS_S = 2.0  # how often the screen reports its frame counts
NICE = 5  # the screen yields the CPU to the audio process


class ScreenError(TandemError, OSError):
    """The session screen could not be opened."""


class ScreenProcess:
    """The session screen running in its own process (see the module docstring).

    Parameters
    ----------
    size : (int, int)
        Window size in pixels.
    theme : str
        ``"standard"`` or ``"low_stimulation"``.
    fullscreen : bool
        Fill the screen (the window's size is then the display's).
    headless : bool
        Draw with SDL's dummy video driver (no window): screenshots and tests.
    fps : int
        Frames per second.

    Examples
    --------
    >>> with ScreenProcess(headless=True) as screen:          # doctest: +SKIP
    ...     screen.update(ScreenState(phase="child_turn", bpm=100, beat_origin_s=time.monotonic()))
    ...     events = screen.poll_events()
    """

    def __init__(self, *, size: tuple[int, int] = (1280, 720), theme: str = "standard", fullscreen: bool = False,
                 headless: bool = False, fps: int = 60, title: str = "Tandem") -> None:
        if theme not in THEMES:
            raise ValueError(f"theme must be one of {', '.join(THEMES)}, not {theme!r}.")
        self.options = {"size": (int(size[0]), int(size[1])), "theme": theme, "fullscreen": bool(fullscreen),
                        "headless": bool(headless), "fps": int(fps), "title": title}
        self._ctx = multiprocessing.get_context("spawn")
        self._proc = None
        self._conn = None
        self._slot = self._seq = self._length = None
        self._last_sent: bytes | None = None
        self._backlog: list[dict[str, Any]] = []
        self._exit_reported = False
        self.window_size: tuple[int, int] | None = None
        self.states_sent = 0
        self.states_too_big = 0
        self.stats: dict[str, Any] = {}
        """The screen's own frame counts (``frames``, ``seconds``, ``slow_frames``: longer than two frame
        periods, ``fps``), updated every ``STATS_S`` and at close: for the session log."""

    # -- life -----------------------------------------------------------------

    def start(self, *, timeout_s: float = START_TIMEOUT_S) -> Self:
        """Start the screen and wait (at most ``timeout_s``) until its window is open.

        Raises
        ------
        ScreenError
            The screen could not open a window (no display, SDL error) or did not start in time.
        """
        if self._proc is not None:
            return self
        ours, theirs = self._ctx.Pipe(duplex=True)
        self._slot = self._ctx.RawArray(ctypes.c_ubyte, SLOT_BYTES)
        self._seq = self._ctx.RawValue(ctypes.c_uint64, 0)
        self._length = self._ctx.RawValue(ctypes.c_uint32, 0)
        self._conn = ours
        self._proc = self._ctx.Process(target=_screen_main, name="tandem-screen", daemon=True,
                                       args=(theirs, self._slot, self._seq, self._length, self.options))
        self._proc.start()
        theirs.close()
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            msg = self._recv(min(0.05, max(0.0, left)))
            if msg is not None and msg.get("type") == "ready":
                self.window_size = tuple(msg["size"])
                return self
            if msg is not None and msg.get("type") == "error":
                self.close()
                raise ScreenError(f"The session screen could not open a window ({msg['message']}); "
                                  f"run with --no-ui, or check the display.")
            if msg is not None:
                self._backlog.append(msg)
            if left <= 0 or self._proc is None or not self._proc.is_alive():
                code = self._proc.exitcode
                self.close()
                raise ScreenError("The session screen did not start"
                                  + (f" (it exited with code {code})" if code is not None else f" within {timeout_s:g} s")
                                  + "; run with --no-ui.")

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    def close(self, *, timeout_s: float = CLOSE_TIMEOUT_S) -> None:
        """Close the screen; safe twice and after the screen died. Waits at most ~``timeout_s`` + 2 s."""
        proc, conn = self._proc, self._conn
        if proc is None:
            return
        self._proc = None
        if conn is not None:
            _send(conn, ("close",))
        proc.join(timeout_s)
        self._backlog += list(iter(lambda: self._recv(0.0), None))  # the final counts come last
        if proc.is_alive():
            proc.terminate()
            proc.join(1.0)
        if proc.is_alive():
            proc.kill()
            proc.join(1.0)
        if conn is not None:
            conn.close()
        self._conn = None
        try:
            proc.close()
        except ValueError:
            pass  # still running after kill (should not happen): leave it to the OS

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- engine → screen ------------------------------------------------------

    def update(self, state: ScreenState | dict[str, Any]) -> bool:
        """Show ``state`` from the next frame on; never waits. False if not sent (not running, too big).

        Call it at most ~20 times a second: the screen animates the beat in between.
        """
        if self._proc is None:
            return False
        data = state.to_dict() if isinstance(state, ScreenState) else dict(state)
        raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        if raw == self._last_sent:
            return True
        if len(raw) > SLOT_BYTES:
            self.states_too_big += 1
            return False
        seq = self._seq.value
        self._seq.value = seq + 1  # odd: being written
        self._length.value = len(raw)
        ctypes.memmove(self._slot, raw, len(raw))
        self._seq.value = seq + 2  # even: complete
        self._last_sent = raw
        self.states_sent += 1
        return True

    def screenshot(self, path: str | os.PathLike, *, wait_s: float = 0.0) -> bool | None:
        """Ask the screen to save its next frame as a PNG at ``path``.

        With ``wait_s`` > 0, waits that long for the answer and returns
        whether it was saved; otherwise returns None at once and the answer
        comes later from :meth:`poll_events` as
        ``{"type": "screenshot", "path": ..., "ok": ...}``.
        """
        if self._conn is None or not _send(self._conn, ("screenshot", str(Path(path).absolute()))):
            return False if wait_s > 0 else None
        if wait_s <= 0:
            return None
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            msg = self._recv(0.02)
            if msg is None:
                if not self.alive:
                    return False
                continue
            if msg.get("type") == "screenshot":
                self._backlog.append(msg)
                return bool(msg.get("ok"))
            self._backlog.append(msg)
        return False

    # -- screen → engine ------------------------------------------------------

    def poll_events(self) -> list[dict[str, Any]]:
        """The events since the last call (key presses, notes, screenshots saved); never waits.

        If the screen process ended on its own, one ``{"type": "screen_closed", "exitcode": N}``.
        """
        out, self._backlog = self._backlog, []
        while True:
            msg = self._recv(0.0)
            if msg is None:
                break
            out.append(msg)
        proc = self._proc
        if proc is not None and not proc.is_alive() and not self._exit_reported:
            self._exit_reported = True
            out.append({"type": "screen_closed", "exitcode": proc.exitcode, "t_s": time.monotonic()})
        return out

    def _recv(self, timeout_s: float) -> dict[str, Any] | None:
        conn = self._conn
        if conn is None:
            return None
        while True:
            try:
                if not conn.poll(timeout_s):
                    return None
                msg = conn.recv()
            except (EOFError, OSError):
                return None
            if msg.get("type") != "screen_stats":
                return msg
            self.stats = {k: v for k, v in msg.items() if k != "type"}

    # -- tests ------------------------------------------------------------------

    def _inject_keys(self, keys: list[tuple[str, str]]) -> bool:
        """Post key presses ((pygame key name, typed text), ...) into the screen's event queue (tests)."""
        return self._conn is not None and _send(self._conn, ("keys", list(keys)))


def _send(conn, msg) -> bool:
    """Send a small message unless the pipe is full or closed (a hung screen never blocks the engine)."""
    try:
        if sys.platform != "win32":
            _, writable, _ = select.select([], [conn.fileno()], [], 0)
            if not writable:
                return False
        conn.send(msg)
        return True
    except (OSError, ValueError, EOFError):
        return False


# -- the screen process ---------------------------------------------------------------


def _read_slot(slot, seq, length, last_seq: int) -> tuple[int, dict[str, Any] | None]:
    """(sequence number, state data) of the shared slot if it holds a complete new state."""
    s1 = seq.value
    if s1 == last_seq or s1 & 1:
        return last_seq, None
    n = length.value
    raw = ctypes.string_at(ctypes.addressof(slot), min(n, SLOT_BYTES))
    if seq.value != s1:
        return last_seq, None  # written while we read: take it next frame
    try:
        return s1, json.loads(raw.decode("utf-8"))
    except ValueError:
        return s1, None


class _Bands:
    """The horizontal bands of a frame that differ from the frame before, as rectangles (runs of bands merged).

    Sending a whole 1280×720 frame to the window system 60 times a second
    cost 4.7 ms a frame under X (Xvfb, measured: about a third of a core);
    the child's picture is mostly still (the beat's dots and the figure's
    gentle swell move), so a checksum per band (CRC-32 over its rows, about
    1 ms a frame for all of them) sends only what changed.
    """

    ROWS = 16

    def __init__(self) -> None:
        self._sums: list[int] | None = None
        self._size = None

    def changed(self, surface) -> list:
        import pygame  # the screen process only: the engine's never imports pygame

        w, h = surface.get_size()
        pitch = surface.get_pitch()
        view = memoryview(surface.get_buffer())
        try:
            sums = [zlib.crc32(view[y * pitch:min(h, y + self.ROWS) * pitch]) for y in range(0, h, self.ROWS)]
        finally:
            view.release()
        last, self._sums = self._sums, sums
        if last is None or self._size != (w, h):
            self._size = (w, h)
            return [pygame.Rect(0, 0, w, h)]
        rects: list = []
        for i, (a, b) in enumerate(zip(sums, last, strict=True)):
            if a == b:
                continue
            y = i * self.ROWS
            if rects and rects[-1].bottom == y:
                rects[-1].height = min(h, y + self.ROWS) - rects[-1].top
            else:
                rects.append(pygame.Rect(0, y, w, min(h, y + self.ROWS) - y))
        return rects


def _screen_main(conn, slot, seq, length, options: dict[str, Any]) -> None:
    """The screen process: draw at ``fps``, turn keys into events, obey commands."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the engine's to handle: it closes us
    if options["headless"]:
        os.environ["SDL_VIDEODRIVER"] = "dummy"
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    try:
        os.nice(NICE)
    except (AttributeError, OSError):
        pass  # no nice (Windows) or not allowed: run at the normal priority
    parent = os.getppid()
    try:
        # pygame here only: the engine's process never imports it, and SDL reads the settings made above
        import pygame

        from engine.ui.screen import SessionScreen  # draws with pygame

        pygame.display.init()  # display and fonts only: pygame.init() would grab the sound device
        pygame.font.init()
        flags = pygame.FULLSCREEN if options["fullscreen"] else pygame.RESIZABLE
        window = pygame.display.set_mode((0, 0) if options["fullscreen"] else options["size"], flags)
        pygame.display.set_caption(options["title"])
        screen = SessionScreen(window.get_size(), options["theme"])
    except Exception as exc:  # noqa: BLE001 - any failure to open is reported, not raised into nowhere
        _send(conn, {"type": "error", "message": f"{type(exc).__name__}: {exc}"})
        conn.close()
        return
    keys = KeyHandler()
    bands = _Bands()
    outbox: list[dict[str, Any]] = []  # events not sent yet (the pipe was full: the engine is busy)
    state = ScreenState(phase="paused")
    last_seq = 0
    shots: list[str] = []
    clock = pygame.time.Clock()
    next_check = time.monotonic() + PARENT_CHECK_S
    frames = slow = 0
    started = last_frame = time.monotonic()
    next_stats = started + STATS_S
    slow_s = 2.0 / options["fps"]

    def stats() -> dict[str, Any]:
        secs = time.monotonic() - started
        return {"type": "screen_stats", "frames": frames, "seconds": round(secs, 3), "slow_frames": slow,
                "fps": round(frames / secs, 1) if secs > 0 else 0.0}

    _send(conn, {"type": "ready", "size": list(window.get_size())})
    try:
        while True:
            # Commands from the engine.
            while conn.poll(0):
                cmd = conn.recv()
                if cmd[0] == "close":
                    for msg in [*outbox, stats()]:  # keys pressed just before the close still count
                        _send(conn, msg)
                    return
                if cmd[0] == "screenshot":
                    shots.append(cmd[1])
                elif cmd[0] == "keys":
                    for name, text in cmd[1]:
                        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.key.key_code(name),
                                                             unicode=text, mod=0, scancode=0))
            # The newest state.
            last_seq, data = _read_slot(slot, seq, length, last_seq)
            if data is not None:
                try:
                    state = ScreenState.from_dict(data)
                    keys.sync(state.prompt, state.trial)
                except (TypeError, ValueError):
                    pass  # a state this screen cannot show: keep the last one
            # Keys and the window.
            for ev in pygame.event.get():
                if ev.type == pygame.VIDEORESIZE and not options["fullscreen"]:
                    screen.resize((max(320, ev.w), max(240, ev.h)))
                    continue
                pressed = from_pygame(ev)
                if pressed is not None:
                    outbox.extend(keys.handle(*pressed))
            frame = screen.render(state, time.monotonic(), keys=keys)
            changed = bands.changed(frame)
            if changed:  # only the bands that changed go to the window system (see _Bands)
                display = pygame.display.get_surface()
                for rect in changed:
                    display.blit(frame, rect, rect)
                pygame.display.update(changed)
            for path in shots:
                try:
                    screen.save(path)
                    outbox.append({"type": "screenshot", "path": path, "ok": True, "size": list(screen.size),
                                   "t_s": time.monotonic()})
                except (OSError, pygame.error) as exc:
                    outbox.append({"type": "screenshot", "path": path, "ok": False, "error": str(exc),
                                   "t_s": time.monotonic()})
            shots.clear()
            while outbox and _send(conn, outbox[0]):
                outbox.pop(0)
            now = time.monotonic()
            frames += 1
            slow += now - last_frame > slow_s
            last_frame = now
            if now >= next_stats:
                next_stats = now + STATS_S
                outbox.append(stats())
            if now >= next_check:
                next_check = now + PARENT_CHECK_S
                if os.getppid() != parent:
                    return  # the engine process ended without closing us
            clock.tick(options["fps"])
    except (EOFError, OSError):
        return  # the engine closed the pipe: just go
    finally:
        pygame.display.quit()
        conn.close()
