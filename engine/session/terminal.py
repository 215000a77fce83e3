"""The therapist's keys in a terminal session (``tandem run --no-ui``, or where no screen can open).

A thread reads single key presses from standard input in cbreak mode (no
Enter needed, nothing echoed) and puts each on a queue as a raw key,
``{"type": "raw", "key": ch, "text": ch}``; the session loop turns them into
the same events as the session screen's keys (:class:`engine.ui.keys.KeyHandler`:
space, ``n``, ``p``, ``m``, Esc; see :mod:`engine.session.controls`). The terminal's
settings are put back when the reader stops, whatever happened. Without a
terminal (a pipe, a test, a service) there are no keys and no thread.
"""

from __future__ import annotations

import os
import queue
import select
import sys
import threading

__all__ = ["TerminalKeys"]

POLL_S = 0.1  # how often the reader looks whether it should stop


class TerminalKeys:
    """Reads keys into :attr:`commands` while in a ``with`` block (a no-op without a terminal)."""

    def __init__(self, stream=None) -> None:
        self.stream = stream if stream is not None else sys.stdin
        self.commands: queue.Queue[dict] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._saved = None

    @property
    def active(self) -> bool:
        return self._thread is not None

    def __enter__(self) -> TerminalKeys:
        try:
            fd = self.stream.fileno()
            if not os.isatty(fd):
                return self
            import termios  # POSIX only (no termios on Windows: no keys there, the screen has them)
            import tty

            self._saved = termios.tcgetattr(fd)
            tty.setcbreak(fd)
        except (AttributeError, OSError, ValueError, ImportError):
            return self  # no terminal to read keys from
        self._thread = threading.Thread(target=self._read, args=(fd,), name="terminal-keys", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        if self._saved is not None:
            import termios  # POSIX only, as in __enter__

            try:
                termios.tcsetattr(self.stream.fileno(), termios.TCSADRAIN, self._saved)
            except (OSError, ValueError):
                pass  # the terminal went away: nothing to restore

    def _read(self, fd: int) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([fd], [], [], POLL_S)
            if not ready:
                continue
            try:
                data = os.read(fd, 64)
            except OSError:
                return
            if not data:  # end of input
                return
            for ch in data.decode("utf-8", "replace"):
                self.commands.put({"type": "raw", "key": ch, "text": ch})
