"""The session index: an SQLite file derived from the logs, for listing thousands of sessions quickly.

The logs are the truth; the index (``index.sqlite`` in the data directory)
is a cache of what :func:`engine.records.reader.peek_log` makes of each
one, keyed by the log's path (relative to the data directory), size and
modification time. :func:`list_sessions` walks the session folders (one
``stat`` per log), re-reads only the logs that are new or changed, forgets
the ones that are gone, and answers from the table. Delete the file and it
is rebuilt on the next listing; a file that is not a readable index is
replaced. Where the data directory cannot be written, the index lives in
memory for that listing only.

A log whose header cannot be read is listed with status ``unreadable``
(and no duration or trials), so it is seen rather than silently left out.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
from pathlib import Path
from typing import Any

from engine.errors import TandemError
from engine.paths import PRIVATE_FILE_MODE
from engine.records.reader import peek_log, read_log

__all__ = ["INDEX_NAME", "list_sessions", "load_records"]

INDEX_NAME = "index.sqlite"
_VERSION = 2  # bump when the table or what peek_log gives changes: the index is rebuilt
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")  # as engine.records.folder names a child's folder
_COLUMNS = ("date", "child", "script", "title", "kind", "duration_s", "trials", "status", "activities", "simulated",
            "probe")


_INSERT = f"INSERT OR REPLACE INTO sessions VALUES ({', '.join('?' * (3 + len(_COLUMNS)))})"


def _connect(root: Path) -> sqlite3.Connection:
    path = root / INDEX_NAME
    for attempt in (0, 1):
        try:
            if not path.exists():
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE))
            db = sqlite3.connect(path, timeout=10.0)
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version != _VERSION:
                db.execute("DROP TABLE IF EXISTS sessions")
                _create(db)
                db.execute(f"PRAGMA user_version = {_VERSION}")
                db.commit()
            return db
        except sqlite3.DatabaseError:  # not an index (or a broken one): it is only a cache
            with contextlib.suppress(OSError):
                path.unlink()
            if attempt:
                break
        except OSError:
            break
    db = sqlite3.connect(":memory:")  # an unwritable data directory still lists its sessions
    _create(db)
    return db


def _create(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS sessions (rel TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, "
               "date TEXT, child TEXT, script TEXT, title TEXT, kind TEXT, duration_s REAL, trials INTEGER, "
               "status TEXT, activities TEXT, simulated INTEGER, probe INTEGER)")
    db.execute("CREATE INDEX IF NOT EXISTS sessions_child ON sessions (child)")


def _logs(root: Path, child: str | None) -> dict[str, os.stat_result]:
    """Every session log under ``root/sessions`` (one child's folder when ``child``): relative path → stat."""
    base = root / "sessions"
    children = [base / _SAFE.sub("_", child)] if child is not None else []
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
    visit), ``status`` (``completed``, ``stopped``, ``interrupted``;
    ``unreadable`` for a log without a readable header), ``activities``
    (``script``, ``title``, ``trials``, ``status`` each), ``simulated``,
    ``probe``, ``id`` (the visit's folder name) and ``path`` (the log).
    """
    root = Path(root)
    found = _logs(root, child)
    if not root.is_dir():
        return []
    db = _connect(root)
    try:
        prefix = None if child is None else os.path.join("sessions", _SAFE.sub("_", child), "")
        rows = db.execute("SELECT rel, size, mtime_ns FROM sessions").fetchall()
        known = {rel: (size, mtime) for rel, size, mtime in rows if prefix is None or rel.startswith(prefix)}
        gone = [rel for rel in known if rel not in found]
        fresh = []
        for rel, st in found.items():
            if known.get(rel) == (st.st_size, st.st_mtime_ns):
                continue
            try:
                info = peek_log(root / rel)
            except TandemError:
                info = {"date": "", "child": child or Path(rel).parts[1], "script": "", "title": "", "kind": "",
                        "duration_s": None, "trials": None, "status": "unreadable", "activities": [],
                        "simulated": False, "probe": False}
            info = {**info, "activities": json.dumps(info["activities"]), "simulated": int(info["simulated"]),
                    "probe": int(info["probe"])}
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
        for rel, *values in db.execute(query + " ORDER BY date, rel", args):
            row = dict(zip(_COLUMNS, values))
            row["activities"] = json.loads(row["activities"] or "[]")
            row["simulated"], row["probe"] = bool(row["simulated"]), bool(row["probe"])
            if child is not None and row["status"] != "unreadable" and row["child"] != child:
                continue  # another child whose id maps to the same folder name
            row["id"] = Path(rel).parent.name  # the visit's folder: unique per child, even within one second
            row["path"] = str(root / rel)
            out.append(row)
        return out
    finally:
        db.close()


def load_records(root: str | Path, child: str) -> list:
    """Every readable session of ``child`` under ``root``, read back (oldest first), for reports."""
    return [read_log(s["path"]) for s in list_sessions(root, child) if s["status"] != "unreadable"]
