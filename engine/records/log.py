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

A log checks itself: :meth:`LogWriter.put_closing` writes the closing
``summary`` line with the number of lines before it and the SHA-256 of
their bytes (:func:`seal_fields`), so a reader tells a whole log from one
cut or changed afterwards; and the writer holds an exclusive ``flock`` on
the file while the session runs, so a listing tells a session still
running from one that was killed.

:func:`header_fields` fills the header fields every log has, and
:func:`script_fields` puts the script itself (its text and hash, and the
MIDI song it plays) into the header or an ``activity`` line, named
relative to the current folder, never by an absolute path
(:mod:`engine.records.model`).
"""

from __future__ import annotations

import base64
import contextlib
import errno
import fcntl
import hashlib
import json
import os
import queue
import threading
import tomllib
from pathlib import Path
from typing import Any, BinaryIO

from engine.errors import DataDirError, TandemError
from engine.fileread import read_bytes
from engine.records.model import SCHEMA

__all__ = ["MAX_SCRIPT_BYTES", "MAX_SONG_BYTES", "SYNC_INTERVAL_S", "LogWriter", "disk_error", "file_sha256",
           "header_fields", "script_fields", "script_name", "seal_fields", "summary_intact", "summary_line"]

SYNC_INTERVAL_S = 0.25
"""The longest a line put on the queue waits before it is written and fsynced."""

_MAX_BATCH = 4096  # lines per write (a burst of events is written in several batches)

MAX_SCRIPT_BYTES = 1 << 20
"""The largest script a log keeps (1 MiB; Tandem's own are 1-3 KB, and a script checks at most this much)."""

MAX_SONG_BYTES = 1 << 20
"""The largest MIDI song a log keeps with its script (1 MiB; a three-minute song is a few KB)."""


def disk_error(path: Path, exc: OSError) -> DataDirError:
    """The one-sentence error for a failed write of ``path``: what happened, whether what was recorded before is
    still there (it is not when its folder was removed), and what to do."""
    path = Path(path)
    if not path.parent.is_dir():
        return DataDirError(f"The folder {path.parent} was removed or moved while Tandem was writing to it, so what "
                            f"this session recorded there is gone; check the data folder (--data-dir, TANDEM_DATA) "
                            f"and start a new session.")
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        what = "The disk is full" if exc.errno != errno.EFBIG else "A file has reached the largest size allowed"
        return DataDirError(f"{what} while writing {path}; everything written before is kept there. "
                            f"Free some space and start again.")
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return DataDirError(f"Tandem may not write {path} ({exc.strerror or exc}); everything written before is "
                            f"kept. Make the folder {path.parent} writable, or choose another with --data-dir.")
    return DataDirError(f"Tandem could not write {path} ({exc.strerror or exc}); everything written before is "
                        f"kept. Check the disk and the folder's permissions.")


def file_sha256(path: str | Path) -> str | None:
    """The SHA-256 (hex) of a regular file's bytes (at most 16 MiB: a plan or a script); None if it cannot be
    read (``free`` play, a missing file, a FIFO or a device)."""
    data = _read_small(Path(path), 16 << 20)
    return hashlib.sha256(data).hexdigest() if data is not None else None


def script_name(path: str | Path) -> str:
    """The name a log gives a script: relative to the current folder when it is inside it (as typed, e.g.
    ``content/songs/echo-drums.toml``), else the file's name alone. Never an absolute path: a log travels
    (to a report, a supervisor, a server) and must not carry the user's folders or name."""
    p = Path(path)
    if not p.is_absolute() and ".." not in p.parts:
        return p.as_posix()
    try:
        return Path(os.path.abspath(p)).relative_to(Path.cwd()).as_posix()
    except (ValueError, OSError):
        return p.name


def _read_small(path: Path, limit: int) -> bytes | None:
    """A regular file's bytes, at most ``limit`` (None: not a regular file, too large, or unreadable)."""
    try:
        return read_bytes(path, what="file", limit_bytes=limit)
    except TandemError:
        return None


def _song_name(text: str) -> str | None:
    """The MIDI file a rhythmic-cueing script plays (``[cueing] song``), as written in it, or None."""
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError, MemoryError):
        return None
    cueing = data.get("cueing")
    song = cueing.get("song") if isinstance(cueing, dict) else None
    return song if isinstance(song, str) else None


def script_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """An activity's fields (a header's, or a visit's ``activity`` line's) with the script itself in them.

    ``script`` (the path the session loaded) becomes :func:`script_name` of it, and the log gets what
    scoring needs, so it never depends on files outside it (docs/visits.md, "A log is self-contained"):
    ``script_toml`` (the script's text), ``script_sha256`` (of those bytes, UTF-8) and ``script_files``
    (the MIDI song a cueing script plays: ``name`` as the script writes it, ``sha256`` and ``base64``;
    samples are sounds only and are not kept). ``free`` play and MIDI songs keep ``script`` as their name.
    """
    out = dict(fields)
    out.pop("script_resolved", None)
    script = out.get("script")
    if not script or script == "free":
        return out
    path = Path(script)
    out["script"] = script_name(path)
    if not str(script).endswith(".toml"):
        if "script_sha256" not in out:
            data = _read_small(path, MAX_SONG_BYTES)
            out["script_sha256"] = hashlib.sha256(data).hexdigest() if data is not None else None
        return out
    data = _read_small(path, MAX_SCRIPT_BYTES)
    if data is None:
        out.setdefault("script_sha256", None)
        return out
    text = data.decode("utf-8", errors="replace")
    out["script_toml"] = text
    out["script_sha256"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    files = []
    song = _song_name(text)
    if song and not Path(song).is_absolute() and ".." not in Path(song).parts:
        raw = _read_small(path.parent / song, MAX_SONG_BYTES)
        if raw is not None:
            files.append({"name": song, "sha256": hashlib.sha256(raw).hexdigest(),
                          "base64": base64.b64encode(raw).decode("ascii")})
    out["script_files"] = files
    return out


def header_fields(header: dict[str, Any]) -> dict[str, Any]:
    """The header with the fields every log of this schema has (a caller's own values win, except ``schema``).

    A header naming a script gets it as :func:`script_fields` does; ``therapist`` comes from the
    environment variable ``TANDEM_THERAPIST`` (None when unset); ``kind_seed`` and ``plan_sha256`` default
    to None.
    """
    out = script_fields(header) if header.get("script") else dict(header)
    out["schema"] = SCHEMA
    if "script" in out:
        out.setdefault("script_sha256", None)
    out.setdefault("therapist", os.environ.get("TANDEM_THERAPIST") or None)
    out.setdefault("kind_seed", None)
    out.setdefault("plan_sha256", None)
    return out


def seal_fields(lines: int, digest: str) -> dict[str, Any]:
    """What the closing ``summary`` line says of the log before it: ``log_lines`` (lines, the header
    included) and ``log_sha256`` (of their bytes, newlines included). A reader that finds other figures
    knows the log was changed or cut after it was written."""
    return {"log_lines": lines, "log_sha256": digest}


def summary_line(fields: dict[str, Any]) -> str:
    """The closing ``summary`` line of ``fields`` (its seal among them), with ``summary_sha256``: the SHA-256
    of the line as it is without that field (``json.dumps(..., sort_keys=True)``), so a change to the summary
    itself is found too (:func:`summary_intact`)."""
    body = {"type": "summary", **fields}
    body.pop("summary_sha256", None)
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()
    return json.dumps({**body, "summary_sha256": digest}, sort_keys=True)


def summary_intact(summary: dict[str, Any]) -> bool:
    """Whether a summary line read back is as :func:`summary_line` wrote it (its own SHA-256 matches)."""
    body = {k: v for k, v in summary.items() if k != "summary_sha256"}
    try:
        text = json.dumps(body, sort_keys=True)
    except (TypeError, ValueError, RecursionError):
        return False
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest() == summary.get("summary_sha256")


class _Sync:
    """A marker on the queue: set once every line put before it is on disk."""

    def __init__(self) -> None:
        self.done = threading.Event()


class _Closing:
    """A marker on the queue: the closing ``summary`` line, sealed by the writer thread with the count and
    SHA-256 of every line written before it (:func:`seal_fields`)."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields


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
        # Held while the session runs, so a listing can tell a log being written ("running") from one whose
        # writer was killed ("interrupted"): the kernel drops the lock with the process.
        with contextlib.suppress(OSError, ValueError):
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._digest = hashlib.sha256()
        self._count = 0
        self._removed: DataDirError | None = None
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

    def put_closing(self, fields: dict[str, Any]) -> None:
        """Queue the closing ``summary`` line: ``fields`` with :func:`seal_fields` of every line before it.
        Nothing should be put after it (a reader takes lines after the seal as damage)."""
        self.check()
        if self._closed:
            raise DataDirError(f"The session log {self.path} is already closed; nothing more can be written to it.")
        self._queue.put(_Closing(dict(fields)))

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
        self._check_linked()

    def _check_linked(self) -> None:
        """Raise when the log file was removed while it was written (its folder deleted): writes to it still
        succeed, into a file no one can open again, so the session must not say it kept them."""
        try:
            linked = os.fstat(self._file.fileno()).st_nlink > 0
        except (OSError, ValueError):
            return
        if not linked:
            raise disk_error(self.path, OSError(errno.ENOENT, "removed"))

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
                self._check_linked()
            except DataDirError as exc:
                self._removed = exc
            try:
                self._file.close()
            except OSError as exc:
                self._error = self._error or exc
        self.check()
        if self._removed is not None:
            raise self._removed

    # -- the writer thread ------------------------------------------------------------

    def _run(self) -> None:
        closing = False
        while not closing:
            try:
                item = self._queue.get(timeout=SYNC_INTERVAL_S)
            except queue.Empty:
                continue
            lines: list[bytes] = []
            markers: list[_Sync] = []
            while True:
                if item is _CLOSE:
                    closing = True
                elif isinstance(item, _Sync):
                    markers.append(item)
                else:
                    if isinstance(item, _Closing):
                        item = summary_line({**item.fields, **seal_fields(self._count, self._digest.hexdigest())})
                    raw = (item + "\n").encode("utf-8")
                    self._digest.update(raw)
                    self._count += 1
                    lines.append(raw)
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

    def _write(self, lines: list[bytes]) -> None:
        data = b"".join(lines)
        try:
            self._file.write(data)
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            self._error = exc  # stop: keep what is on disk, refuse what comes (the session thread raises)
            return
        self.lines_written += len(lines)
        self.syncs += 1

