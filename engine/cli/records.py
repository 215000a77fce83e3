"""The session-record commands, as functions the command line calls: ``tandem sessions`` and ``tandem rescore``.

Each returns the exit code and prints through ``echo``; bad input is a
:class:`~engine.errors.ConfigError` or :class:`~engine.errors.DataDirError`
with one sentence (the command line prints it and exits 2).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from engine.errors import DataDirError
from engine.paths import data_dir
from engine.records.index import list_sessions
from engine.records.reader import read_header
from engine.records.rescore import rescore
from engine.scoring.judge import objective_label, trial_line

__all__ = ["cmd_rescore", "cmd_sessions", "format_duration"]


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
    """``tandem sessions [CHILD] [--json]``: every session (one child's), oldest first.

    A table of date, child, title, duration, trials and status, or the JSON
    list of :func:`engine.records.index.list_sessions`.
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
    table = [(_date(r["date"]), r["child"], r["title"] or r["script"] or "—", format_duration(r["duration_s"]),
              "—" if r["trials"] is None else str(r["trials"]), r["status"]) for r in rows]
    heads = ("date", "child", "title", "duration", "trials", "status")
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(heads)]
    right = {3, 4}

    def line(cells) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    echo(line(heads))
    for row in table:
        echo(line(row))
    n = len(rows)
    cut = sum(r["status"] == "interrupted" for r in rows)
    echo(f"{n} session{'s' if n != 1 else ''}" + (f", {cut} interrupted" if cut else "") + ".")
    return 0


def cmd_rescore(path: str | Path, as_json: bool, echo: Callable[[str], None] = print) -> int:
    """``tandem rescore LOG [--json]``: recompute a log's trials and objectives; 0 if identical, 1 if not."""
    out = rescore(path)
    if as_json:
        echo(json.dumps(out, indent=2))
        return 0 if out["identical"] else 1
    echo(f"Re-scored {out['path']} ({out['title'] or out['script']}) with engine {out['engine_version']} "
         f"(logged with {out['logged_engine_version']}).")
    kind = None
    try:

        kind = read_header(path).get("intervention")
    except DataDirError:
        pass
    for t in out["trials"]:
        if t["phase"] != "trial":
            continue
        rec = {"n": t["n"], "tempo_bpm": 0.0, **t["recomputed"]}
        shown = trial_line(kind or "", rec).split(": ", 1)[-1]
        mark = "same" if t["identical"] else f"DIFFERS ({', '.join(t['differences']) or 'correct'})"
        echo(f"  trial {t['n']:>2}: {mark}; {shown}")
    for o in out["objectives"]:
        mark = {True: "same", False: "DIFFERS", None: "not stored (interrupted)"}[o["identical"]]
        sentence = o["recomputed"]["sentence"] if o["recomputed"] else "no longer judged (not in the script now)"
        echo(f"  {objective_label(o)}: {mark}; {sentence}")
    if out.get("note"):
        echo(out["note"])
    if out["plan_mismatch"]:
        echo(out["plan_mismatch"])
    extra = []
    if out["abandoned"]:
        extra.append(f"{out['abandoned']} abandoned (pause or stop)")
    if out["open_at_end"]:
        extra.append(f"{out['open_at_end']} open when the log ended")
    if out["skipped_lines"]:
        extra.append(f"{out['skipped_lines']} unreadable line(s) skipped")
    scored = sum(t["phase"] == "trial" for t in out["trials"])
    verdict = "identical to the stored results" if out["identical"] else "NOT identical to the stored results"
    echo(f"{scored} trials{' (' + ', '.join(extra) + ')' if extra else ''}: {verdict}.")
    return 0 if out["identical"] else 1


def sessions(args: argparse.Namespace) -> int:
    return cmd_sessions(data_dir(args.data_dir), args.child, args.json, print)


def rescore_command(args: argparse.Namespace) -> int:
    return cmd_rescore(args.log, args.json, print)
