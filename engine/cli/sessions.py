"""``tandem sessions [CHILD] [--json]``: the recorded sessions, from the index (derived from the logs).

Bad input is a :class:`~engine.errors.DataDirError` with one sentence (the command line prints it and
exits 2).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from engine.errors import DataDirError
from engine.paths import data_dir
from engine.records.index import list_sessions
from engine.text import one_line

__all__ = ["cmd_sessions", "format_duration", "run"]


def format_duration(seconds: float | None) -> str:
    """``m:ss`` (``h:mm:ss`` from an hour); ``—`` for none."""
    if seconds is None:
        return "—"
    s = round(seconds)
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def _date(iso: str) -> str:
    return iso[:16].replace("T", " ") if iso else "—"


def cmd_sessions(root: str | Path, child: str | None, as_json: bool, echo: Callable[[str], None] = print) -> int:
    """``tandem sessions [CHILD] [--json]``: every visit (one child's), in the order they started.

    A table of date, child, activities, duration, trials, status and whether the visit was simulated or an
    assessment probe, then what is wrong with each damaged visit; or the JSON list of
    :func:`engine.records.index.list_sessions`.
    """
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise DataDirError(f"The data directory {root} is a file, not a folder; choose another with --data-dir.")
    rows = list_sessions(root, child)
    if as_json:
        echo(json.dumps(rows, indent=2))
        return 0
    if not rows:
        whose = f" for child {child}" if child else ""
        echo(f"No sessions{whose} in {root}.")
        return 0
    table = [(_date(one_line(r["date"])), one_line(r["child"]), one_line(_activities(r)),
              format_duration(r["duration_s"]),
              "—" if r["trials"] is None else str(r["trials"]), r["status"], _apart(r)) for r in rows]
    heads = ("date", "child", "activities", "duration", "trials", "status", "")
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(heads)]
    right = {3, 4}

    def line(cells) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    echo(line(heads))
    for row in table:
        echo(line(row))
    n = len(rows)
    counts = {status: sum(r["status"] == status for r in rows) for status in ("interrupted", "running", "damaged")}
    sim = sum(bool(r.get("simulated")) for r in rows)
    probes = sum(bool(r.get("probe")) and not r.get("simulated") for r in rows)
    echo(f"{n} visit{'s' if n != 1 else ''}" + "".join(f", {k} {status}" for status, k in counts.items() if k)
         + (f", {sim} simulated (not a child's data)" if sim else "")
         + (f", {probes} assessment {'probes' if probes != 1 else 'probe'}" if probes else "") + ".")
    for r in rows:
        if r["status"] == "damaged":
            where = f"{r['child']}/{r['id']}"
            echo(one_line(f"damaged: {where}: {'; '.join(r.get('damage') or []) or 'its log cannot be read'}."))
    if counts["damaged"]:
        echo("A damaged visit's log is not as it was written: reports show it with a warning, and "
             "`tandem rescore LOG` says what it could not check (docs/visits.md).")
    return 0


def _activities(row: dict) -> str:
    """The visit's activities in order, e.g. "Hello song, Echo drums (stopped), Goodbye song"."""
    acts = row.get("activities") or []
    if not acts:
        return row["title"] or row["script"] or "—"
    shown = []
    for a in acts:
        title = a.get("title") or Path(a.get("script") or "").stem or "—"
        if a.get("status") not in ("completed", None, "") and len(acts) > 1:
            title += f" ({a['status']})"
        shown.append(title)
    return ", ".join(shown)


def _apart(row: dict) -> str:
    if row.get("simulated"):
        return "simulated"
    return "probe" if row.get("probe") else ""


def run(args: argparse.Namespace) -> int:
    return cmd_sessions(data_dir(args.data_dir), args.child, args.json, print)
