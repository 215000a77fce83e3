"""Asynchrony per beat of a rhythmic-cueing session, from its log (for the report's timing plots).

A trial's scores keep its summary (mean and SD of the asynchrony); the
asynchrony of each beat is in the raw events. This reads them back the way
the session scored them: each cueing plan's beats (``params["beats_s"]``, or
its beat cues), the child's accepted inputs in the trial's window (from the
plan's ``child_start_s`` to the trial's ``close_s``, half-open as the kind
scores a bar), matched with :func:`engine.scoring.sync.match_taps`.
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.errors import TandemError
from engine.interventions.inputs import accepts_input
from engine.records.reader import LogLines, activity_segments, log_path, read_log_bytes, script_for
from engine.scoring.sync import match_taps

__all__ = ["beat_asynchronies"]


def beat_asynchronies(path: str | Path, activity: int | None = None) -> list[float | None] | None:
    """Every scored beat's asynchrony (ms, negative = early; None = missed) in session order.

    ``activity``: the visit's activity (0-based) to read; None: the log's only one. None when that is not
    a rhythmic-cueing activity, the log cannot be read, or its script is no longer the one that ran (its
    inputs cannot be told apart).
    """
    path = log_path(path)
    try:
        lines = read_log_bytes(path).split(b"\n")
        header = json.loads(lines[0])
    except (TandemError, ValueError, IndexError, RecursionError):
        return None
    if not isinstance(header, dict):
        return None
    segments = activity_segments(header, list(LogLines(lines[1:])))  # a cut last line is left out
    if activity is None and len(segments) != 1:
        return None
    k = 0 if activity is None else activity
    if not 0 <= k < len(segments):
        return None
    header, records = segments[k]
    if header.get("intervention") != "rhythmic_cueing" or not header.get("sample_rate"):
        return None
    script, _ = script_for(header)
    if script is None:
        return None
    rate = float(header["sample_rate"])
    taps: list[float] = []
    plans: dict[tuple, dict] = {}
    out: list[float | None] = []
    for _, d in records:
        kind = d.get("type")
        if kind == "input":
            if accepts_input(script, d.get("source", ""), d.get("key", ""), d.get("note", -1)):
                taps.append(d["frame"] / rate)
        elif kind == "plan" and d.get("phase") == "trial":
            plans[(d.get("index"), d.get("start_s"))] = d
        elif kind == "trial" and d.get("phase") == "trial":
            plan = plans.pop((d.get("index"), d.get("start_s")), None)
            if plan is None:
                continue
            beats = (plan.get("params") or {}).get("beats_s")
            if not beats:
                continue
            lo, hi = plan["child_start_s"], min(plan["child_end_s"], d.get("close_s") or plan["child_end_s"])
            window = sorted(t for t in taps if lo <= t < hi)
            out += [m.asynchrony_ms for m in match_taps(beats, window)]
    return out or None
