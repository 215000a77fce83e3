"""The session index: an SQLite file derived from the logs, for listing thousands of sessions quickly.

The logs are the truth; the index (``index.sqlite`` in the data directory)
is a cache of what :func:`engine.records.reader.peek_log` makes of each
one, keyed by the log's path (relative to the data directory), size and
modification time. :func:`list_sessions` walks the session folders (one
``stat`` per log), re-reads only the logs that are new or changed, forgets
the ones that are gone, and answers from the table. Delete the file and it
is rebuilt on the next listing; a file that is not a readable index (a
damaged page found at any query, not only on opening) is deleted and rebuilt
once. The index is a regular file in the data directory, never anything
else: a link there is removed (not followed: its target is never opened,
let alone changed), as is a device or a FIFO. Where the data directory
cannot be written, or the index is busy or cannot be made, it lives in
memory for that listing only.

A log whose header cannot be read is listed with status ``damaged``, no
date, duration or trials, and ``damage`` saying why, so it is seen rather
than silently left out; so is a log that is not whole (its ``damage``
says what is wrong). A session still being written is ``running`` and is
looked at again at each listing.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
from pathlib import Path
from typing import Any

from engine.errors import TandemError
from engine.ids import check_child_id
from engine.paths import PRIVATE_FILE_MODE
from engine.records.model import STATUSES
from engine.records.reader import UnreadableLog, peek_log, read_log

__all__ = ["INDEX_NAME", "list_sessions", "load_records"]

INDEX_NAME = "index.sqlite"
_VERSION = 3  # bump when the table or what peek_log gives changes: the index is rebuilt
_COLUMNS = ("date", "child", "script", "title", "kind", "duration_s", "trials", "status", "activities", "simulated",
            "probe", "damage")


_INSERT = f"INSERT OR REPLACE INTO sessions VALUES ({', '.join('?' * (3 + len(_COLUMNS)))})"


def _connect(root: Path, *, in_memory: bool = False) -> sqlite3.Connection:
    """The index of ``root``: its ``index.sqlite`` (made, or rebuilt when it is not a current index), or one in
    memory (``in_memory``, or when the file cannot be used)."""
    path = root / INDEX_NAME
    for attempt in (0, 1) if not in_memory else ():
        try:
            _regular_index(path)
            db = sqlite3.connect(path, timeout=10.0)
            db.text_factory = _text
            try:
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if version != _VERSION:
                    db.execute("DROP TABLE IF EXISTS sessions")
                    _create(db)
                    db.execute(f"PRAGMA user_version = {_VERSION}")
                    db.commit()
            except BaseException:
                db.close()
                raise
            return db
        except sqlite3.DatabaseError as exc:  # not an index (or a broken one, or a full disk): it is only a cache
            if _busy(exc) or not _remove_index(path) or attempt:
                break
        except OSError:
            break
    db = sqlite3.connect(":memory:")  # an unwritable data directory still lists its sessions
    _create(db)
    return db


def _regular_index(path: Path) -> None:
    """Make sure ``path`` is a regular file, private to the user: made (0600, never through a link) when
    missing, and anything else there (a link, a device, a FIFO) removed first, never followed.

    Raises
    ------
    OSError
        When it cannot be made or what is there cannot be removed (a folder): the index is then in memory.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        os.unlink(path)  # the link itself, never its target (a folder raises: in memory)
        st = None
    if st is None:
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE_MODE))
        except FileExistsError:  # made by another listing meanwhile: look again
            if not stat.S_ISREG(os.lstat(path).st_mode):
                raise
    elif st.st_nlink > 1:
        # A hard link to a file elsewhere (another program's database) would be changed through this name.
        os.unlink(path)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE_MODE))


def _text(raw: bytes) -> str:
    """A text value of the index; text that is not UTF-8 (bytes changed on disk) is a damaged index, rebuilt."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise sqlite3.DatabaseError("the index holds text that is not UTF-8") from None


def _busy(exc: sqlite3.DatabaseError) -> bool:
    """The index is locked by another listing (it is not damaged: not deleted, this listing uses memory)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


def _remove_index(path: Path) -> bool:
    """Delete a broken index (and its journal); False when it cannot be deleted (then it is not used)."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        return False
    with contextlib.suppress(OSError):
        Path(f"{path}-journal").unlink(missing_ok=True)
    return True


def _create(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS sessions (rel TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, "
               "date TEXT, child TEXT, script TEXT, title TEXT, kind TEXT, duration_s REAL, trials INTEGER, "
               "status TEXT, activities TEXT, simulated INTEGER, probe INTEGER, damage TEXT)")
    db.execute("CREATE INDEX IF NOT EXISTS sessions_child ON sessions (child)")


def _logs(root: Path, child: str | None) -> dict[str, os.stat_result]:
    """Every session log under ``root/sessions`` (one child's folder when ``child``): relative path → stat."""
    base = root / "sessions"
    children = [base / check_child_id(child)] if child is not None else []
    if child is None:
        try:
            children = [Path(e.path) for e in os.scandir(base) if e.is_dir()]
        except OSError:
            return {}
    out: dict[str, os.stat_result] = {}
    for cdir in children:
        try:
            folders = [e.path for e in os.scandir(cdir) if e.is_dir()]
        except OSError:
            continue
        for folder in folders:
            log = os.path.join(folder, "events.jsonl")
            try:
                st = os.stat(log)
            except OSError:
                continue
            out[os.path.relpath(log, root)] = st
    return out


def list_sessions(root: str | Path, child: str | None = None) -> list[dict[str, Any]]:
    """The visits under the data directory ``root`` (one child's with ``child``), in the order they started.

    Each: ``date`` (the start, ISO 8601), ``child``, ``script`` (the first
    activity's), ``title`` (every activity's), ``kind``
    (``live``/``demo``), ``duration_s``, ``trials`` (scored, over the
    visit), ``status`` (``completed``, ``stopped``, ``interrupted``, ``running``, ``damaged``: not
    whole, or without a readable header), ``activities``
    (``script``, ``title``, ``trials``, ``status`` each), ``simulated``,
    ``probe``, ``damage`` (what is wrong with a ``damaged`` log, one phrase each; else empty), ``id`` (the
    visit's folder name) and ``path`` (the log).
    """
    root = Path(root)
    found = _logs(root, child)
    if not root.is_dir():
        return []
    # A damaged index may open well and fail at any later query ("database disk image is malformed"): it is
    # deleted and rebuilt from the logs once; if that fails too (or the index is busy), the listing uses memory.
    in_memory = False
    for attempt in (0, 1, 2):
        db = _connect(root, in_memory=in_memory)
        try:
            return _listing(db, root, child, found)
        except sqlite3.DatabaseError as exc:
            if in_memory:
                raise
            in_memory = _busy(exc) or not _remove_index(root / INDEX_NAME) or attempt == 1
        finally:
            db.close()
    raise AssertionError("unreachable: the last attempt is in memory")


def _listing(db: sqlite3.Connection, root: Path, child: str | None,
             found: dict[str, os.stat_result]) -> list[dict[str, Any]]:
    """What :func:`list_sessions` answers, from ``db`` brought up to date with the logs ``found``.

    Raises
    ------
    sqlite3.DatabaseError
        When the index is damaged (at whichever query finds it).
    """
    try:
        prefix = None if child is None else os.path.join("sessions", check_child_id(child), "")
        rows = db.execute("SELECT rel, size, mtime_ns, status FROM sessions").fetchall()
        if not all(isinstance(rel, str) for rel, *_ in rows):
            raise sqlite3.DatabaseError("a row of the index has no log path")
        known = {rel: (size, mtime) for rel, size, mtime, _ in rows if prefix is None or rel.startswith(prefix)}
        # A session still running is looked at again each time: when it is killed its log stays the same
        # size, but it is interrupted now (its writer's lock is gone).
        running = {rel for rel, _, _, status in rows if status == "running"}
        gone = [rel for rel in known if rel not in found]
        fresh = []
        for rel, st in found.items():
            if known.get(rel) == (st.st_size, st.st_mtime_ns) and rel not in running:
                continue
            try:
                info = peek_log(root / rel)
            except TandemError as exc:
                info = {"date": "", "child": child or Path(rel).parts[1], "script": "", "title": "", "kind": "",
                        "duration_s": None, "trials": None, "status": "damaged", "activities": [],
                        "simulated": False, "probe": False, "damage": [_why(exc)]}
            info = {**info, "activities": json.dumps(info["activities"]), "simulated": int(info["simulated"]),
                    "probe": int(info["probe"]), "damage": json.dumps(info.get("damage") or [])}
            fresh.append((rel, st.st_size, st.st_mtime_ns, *(info[c] for c in _COLUMNS)))
        if gone:
            db.executemany("DELETE FROM sessions WHERE rel = ?", [(rel,) for rel in gone])
        if fresh:
            db.executemany(_INSERT, fresh)
        if gone or fresh:
            with contextlib.suppress(sqlite3.DatabaseError):  # a read-only index still answers
                db.commit()
        query = "SELECT rel, " + ", ".join(_COLUMNS) + " FROM sessions"
        args: tuple = ()
        if prefix is not None:
            query += " WHERE substr(rel, 1, ?) = ?"
            args = (len(prefix), prefix)
        out = []
        seen: set[str] = set()
        for rel, *values in db.execute(query + " ORDER BY date, rel", args):
            row = _checked_row(rel, dict(zip(_COLUMNS, values)))
            if rel in seen:  # two rows for one log: the table's own index is damaged (quick_check misses it)
                raise sqlite3.DatabaseError("the index has two rows for one log")
            seen.add(rel)
            if child is not None and row["date"] and row["child"] != child:
                continue  # another child whose id maps to the same folder name
            row["id"] = Path(rel).parent.name  # the visit's folder: unique per child, even within one second
            row["path"] = str(root / rel)
            out.append(row)
        return out
    finally:
        db.close()


def _checked_row(rel: Any, row: dict[str, Any]) -> dict[str, Any]:
    """A row of the index as :func:`list_sessions` gives it, with the types peek_log wrote; an index whose row
    does not have them was changed or damaged (it is only a cache): :class:`sqlite3.DatabaseError`, and it
    is rebuilt from the logs."""
    try:
        row["activities"] = json.loads(row["activities"] or "[]")
        row["damage"] = json.loads(row["damage"] or "[]")
    except (TypeError, ValueError, RecursionError):
        raise sqlite3.DatabaseError("a row of the index does not read back") from None
    ok = (isinstance(rel, str) and all(isinstance(row[c], str) for c in ("date", "child", "script", "title", "kind"))
          and row["status"] in STATUSES
          and (row["duration_s"] is None or isinstance(row["duration_s"], (int, float)))
          and (row["trials"] is None or isinstance(row["trials"], int))
          and isinstance(row["activities"], list) and all(
              isinstance(a, dict) and all(isinstance(a.get(k), str) for k in ("script", "title", "status"))
              and isinstance(a.get("trials"), int) for a in row["activities"])
          and isinstance(row["damage"], list) and all(isinstance(d, str) for d in row["damage"])
          and row["simulated"] in (0, 1) and row["probe"] in (0, 1))
    if not ok:
        raise sqlite3.DatabaseError("a row of the index has values the engine never writes")
    row["simulated"], row["probe"] = bool(row["simulated"]), bool(row["probe"])
    return row


def _why(exc: Exception) -> str:
    """What is wrong with a log that cannot be read, in a few words."""
    return exc.why if isinstance(exc, UnreadableLog) else str(exc)


def load_records(root: str | Path, child: str, *, unreadable: list[dict[str, Any]] | None = None) -> list:
    """Every readable session of ``child`` under ``root``, read back (oldest first), for reports.

    A log with no readable header cannot be read back: it is left out, and appended to ``unreadable``
    (its listing row: ``path``, ``damage``) when that list is given, so a report can say so on its page.
    """
    out = []
    for s in list_sessions(root, child):
        if s["status"] == "damaged" and not s["date"]:
            if unreadable is not None:
                unreadable.append(s)
            continue
        try:
            out.append(read_log(s["path"]))
        except TandemError as exc:  # changed since it was listed
            if unreadable is not None:
                unreadable.append({**s, "status": "damaged", "damage": [_why(exc)]})
    return out
