"""What the ``tandem`` command prints: terminal-safe, and quiet when the reader went away.

While a command runs, :class:`SafeOutput` stands in for ``sys.stdout`` and
``sys.stderr``. Everything written goes through
:func:`engine.text.terminal_safe`, so a title, note, file name or argument
that holds escape sequences or control characters cannot recolour, clear or
retitle the therapist's terminal (Tandem's own live status line keeps its one
sequence, "return and clear the line"). When the reader of the output is gone
(``tandem sessions | head -1``: a broken pipe), the rest of the output is
dropped quietly, as the Python documentation's note on SIGPIPE advises: the
standard output is pointed at the null device and the command goes on (a
live session keeps recording) and ends normally, with no traceback.
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

from engine.text import terminal_safe

__all__ = ["STATUS_LINE", "SafeOutput"]

#: The one control sequence Tandem writes itself: back to the start of the line and clear it (the status line).
STATUS_LINE = "\r\x1b[K"


class _SafeStream:
    """A text stream whose writes are made terminal-safe and survive a broken pipe (see the module docstring)."""

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream
        self.gone = stream is None  # the reader went away (or there is none: `tandem ... >&-`): nothing is written

    def isatty(self) -> bool:
        return self._stream is not None and not self.gone and self._stream.isatty()

    def write(self, text: str) -> int:
        if self.gone:
            return len(text)
        if text.startswith(STATUS_LINE):
            safe = STATUS_LINE + terminal_safe(text[len(STATUS_LINE):])
        else:
            safe = terminal_safe(text)
        try:
            self._stream.write(safe)  # type: ignore[union-attr]
        except BrokenPipeError:
            self._reader_gone()
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self.gone:
            return
        try:
            self._stream.flush()  # type: ignore[union-attr]
        except BrokenPipeError:
            self._reader_gone()

    def _reader_gone(self) -> None:
        """Point the stream's file descriptor at the null device, so no later flush (at exit too) fails."""
        self.gone = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
        except OSError:
            return
        try:
            os.dup2(devnull, self._stream.fileno())  # type: ignore[union-attr]
        except (OSError, ValueError, AttributeError):  # no file descriptor (a test's capture): nothing to point
            pass
        finally:
            os.close(devnull)

    def __getattr__(self, name: str) -> Any:  # fileno, encoding, buffer, ...: the stream's own
        if self._stream is None:
            raise AttributeError(f"there is no standard stream (it was closed), so it has no {name}")
        return getattr(self._stream, name)


class SafeOutput:
    """A context in which ``sys.stdout`` and ``sys.stderr`` are terminal-safe and broken pipes are quiet.

    Examples
    --------
    >>> with SafeOutput():
    ...     print("\\x1b[2Jtitle")
    title
    """

    def __init__(self) -> None:
        self._saved: tuple[TextIO, TextIO] | None = None
        self.stdout: _SafeStream | None = None

    def __enter__(self) -> SafeOutput:
        self._saved = (sys.stdout, sys.stderr)
        self.stdout = _SafeStream(sys.stdout)
        sys.stdout, sys.stderr = self.stdout, _SafeStream(sys.stderr)
        return self

    def __exit__(self, *exc: object) -> None:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError, AttributeError):  # a closed or vanished stream: nothing more to say
                pass
        if self._saved is not None:
            sys.stdout, sys.stderr = self._saved

    @property
    def reader_gone(self) -> bool:
        """Whether the standard output's reader went away (a broken pipe) while the command ran."""
        return self.stdout is not None and self.stdout.gone
