"""The session log's writer: JSON lines handed over on a queue, written and fsynced by a thread.

DESIGN.md, "The session log is the truth": the session's own thread never
waits for the disk. :meth:`LogWriter.put` only puts a finished line on a
queue; a writer thread takes whatever lines are waiting (a small batch),
writes them, flushes and fsyncs, and goes back to the queue. A batch is on
disk a few milliseconds after its lines were put (the time of one fsync),
and at most :data:`SYNC_INTERVAL_S` after, so ``kill -9`` or a power cut
loses only the last fraction of a second. Lines are whole before they are
written, so only the very last line of a file can ever be cut (the reader
skips it).

A full disk or a folder that became unwritable stops the writer: what was
written stays, nothing more is written, and the session thread's next
:meth:`LogWriter.put` / :meth:`LogWriter.sync` / :meth:`LogWriter.close`
raises :class:`~engine.errors.DataDirError` with one plain sentence.

:func:`header_fields` fills the header fields every schema-2 log has
(:mod:`engine.records.model`).
"""

from __future__ import annotations

import errno
import hashlib
import os
import queue
import threading
from pathlib import Path
from typing import Any, BinaryIO

from engine.errors import DataDirError
from engine.records.model import SCHEMA

__all__ = ["SYNC_INTERVAL_S", "LogWriter", "disk_error", "file_sha256", "header_fields", "script_fields"]

SYNC_INTERVAL_S = 0.25
"""The longest a line put on the queue waits before it is written and fsynced."""

_MAX_BATCH = 4096  # lines per write (a burst of events is written in several batches)


def disk_error(path: Path, exc: OSError) -> DataDirError:
    """The one-sentence error for a failed write of ``path``."""
    if exc.errno == errno.ENOSPC:
        return DataDirError(f"The disk is full while writing {path}; everything recorded up to now is kept there. "
                            f"Free some space and start a new session.")
    return DataDirError(f"Tandem could not write {path} ({exc.strerror or exc}); everything recorded up to now "
                        f"is kept. Check the folder's permissions.")


def file_sha256(path: str | Path) -> str | None:
    """The SHA-256 (hex) of a file's bytes; None if it cannot be read (``free`` play, a missing file)."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def script_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """An activity's fields (a header's, or a visit's ``activity`` line's) with ``script_sha256`` computed from
    ``script`` (the path) when not given and ``script_resolved``, its absolute path (``script`` stays as given)."""
    out = dict(fields)
    script = out.get("script")
    if "script_sha256" not in out:
        out["script_sha256"] = file_sha256(script) if script and script != "free" else None
    if script and script != "free" and "script_resolved" not in out:
        out["script_resolved"] = str(Path(script).resolve())  # re-scoring from another folder finds it
    return out


def header_fields(header: dict[str, Any]) -> dict[str, Any]:
    """The header with the fields every schema-2 log has (a caller's own values win, except ``schema``).

    ``script_sha256`` is computed from ``script`` (the path) when not given,
    and ``script_resolved`` is its absolute path (``script`` stays as given);
    ``therapist`` comes from the environment variable ``TANDEM_THERAPIST``
    (None when unset); ``kind_seed`` and ``plan_sha256`` default to None.
    """
    out = script_fields(header) if header.get("script") else dict(header)
    out["schema"] = SCHEMA
    if "script" in out:
        out.setdefault("script_sha256", None)
    out.setdefault("therapist", os.environ.get("TANDEM_THERAPIST") or None)
    out.setdefault("kind_seed", None)
    out.setdefault("plan_sha256", None)
    return out


class _Sync:
    """A marker on the queue: set once every line put before it is on disk."""

    def __init__(self) -> None:
        self.done = threading.Event()


_CLOSE = object()


class LogWriter:
    """Appends lines to one file from a writer thread (see the module docstring).

    Parameters
    ----------
    path : Path
        The file (for messages, and opened here unless ``file`` is given).
    file : binary file, optional
        Already open for writing (tests: ``/dev/full``). Otherwise ``path``
        is created, private to the user (``mode``), and must not exist.
    """

    def __init__(self, path: str | Path, *, file: BinaryIO | None = None, mode: int = 0o600) -> None:
        self.path = Path(path)
        if file is None:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, mode)
            except OSError as exc:
                raise disk_error(self.path, exc) from None
            file = os.fdopen(fd, "wb")
        self._file = file
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._error: OSError | None = None
        self._closed = False
        self.lines_written = 0
        self.syncs = 0
        self._thread = threading.Thread(target=self._run, name=f"log-writer {self.path.name}", daemon=True)
        self._thread.start()

    # -- the session's side ------------------------------------------------------

    def put(self, line: str) -> None:
        """Queue one line (no newline); never waits for the disk.

        Raises
        ------
        DataDirError
            When an earlier write failed (the writer has stopped).
        """
        self.check()
        if self._closed:
            raise DataDirError(f"The session log {self.path} is already closed; nothing more can be written to it.")
        self._queue.put(line)

    def check(self) -> None:
        """Raise the writer's failure, if it had one, as one sentence."""
        if self._error is not None:
            raise disk_error(self.path, self._error)

    def sync(self, timeout: float | None = 10.0) -> None:
        """Wait until every line put so far is written and fsynced (the end of a session, not its loop)."""
        self.check()
        if self._closed:
            return
        marker = _Sync()
        self._queue.put(marker)
        marker.done.wait(timeout)
        self.check()

    def close(self) -> None:
        """Write what is queued, fsync, stop the thread and close the file. Safe twice.

        Raises
        ------
        DataDirError
            If a write failed (what was written before is kept).
        """
        if not self._closed:
            self._closed = True
            self._queue.put(_CLOSE)
            self._thread.join()
            try:
                self._file.close()
            except OSError as exc:
                self._error = self._error or exc
        self.check()

    # -- the writer thread ------------------------------------------------------------

    def _run(self) -> None:
        closing = False
        while not closing:
            try:
                item = self._queue.get(timeout=SYNC_INTERVAL_S)
            except queue.Empty:
                continue
            lines: list[str] = []
            markers: list[_Sync] = []
            while True:
                if item is _CLOSE:
                    closing = True
                elif isinstance(item, _Sync):
                    markers.append(item)
                else:
                    lines.append(item)
                if closing or len(lines) >= _MAX_BATCH:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if lines and self._error is None:
                self._write(lines)
            for m in markers:
                m.done.set()

    def _write(self, lines: list[str]) -> None:
        data = ("\n".join(lines) + "\n").encode("utf-8")
        try:
            self._file.write(data)
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            self._error = exc  # stop: keep what is on disk, refuse what comes (the session thread raises)
            return
        self.lines_written += len(lines)
        self.syncs += 1

