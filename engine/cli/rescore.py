"""``tandem rescore LOG [--json]``: recompute a session log's trials and objectives and compare them.

Exit 0 when identical, 1 when not (a damaged log is never identical: what it lost cannot be checked); a
log that cannot be read or re-scored is one sentence (exit 2).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from engine.records.rescore import rescore
from engine.scoring.judge import objective_label, trial_line

__all__ = ["cmd_rescore", "run"]


def cmd_rescore(path: str | Path, as_json: bool, echo: Callable[[str], None] = print) -> int:
    """``tandem rescore LOG [--json]``: recompute a log's trials and objectives; 0 if identical, 1 if not."""
    out = rescore(path)
    if as_json:
        echo(json.dumps(out, indent=2))
        return 0 if out["identical"] else 1
    what = " · ".join(a.get("title") or a.get("script") or "" for a in out.get("activities") or []) or (
        out["title"] or out["script"])
    echo(f"Re-scored {out['path']} ({what}) with engine {out['engine_version']} "
         f"(logged with {out['logged_engine_version']}).")
    acts = {a["index"]: a for a in out.get("activities") or []}
    shown_act = None
    for t in out["trials"]:
        if t["phase"] != "trial":
            continue
        act = acts.get(t.get("activity", 0), {})
        if len(acts) > 1 and t.get("activity") != shown_act:
            shown_act = t.get("activity")
            echo(f"  {act.get('title') or act.get('script')}:")
        rec = {"n": t["n"], "tempo_bpm": 0.0, **t["recomputed"]}
        shown = trial_line(act.get("intervention") or "", rec).split(": ", 1)[-1]
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
    if out.get("damage_note"):
        echo(out["damage_note"])
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


def run(args: argparse.Namespace) -> int:
    return cmd_rescore(args.log, args.json, print)
