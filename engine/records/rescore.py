"""Re-scoring a session log: every trial and objective recomputed from the raw events with the current code.

The log holds everything a script session decided on (DESIGN.md, "The
session log is the truth"), in the order it happened, so the session can
be replayed without an engine. A visit's log is cut into its activities
(:func:`~engine.records.reader.activity_segments`: from each ``activity``
line to the next), and each activity is replayed from its own lines with
its own script, as below; the visit's objectives are then judged once over
them all (:func:`~engine.scoring.judge.judge_visit`):

- the kind is rebuilt from the script (:func:`~engine.interventions.script.load_script`
  of the header's path, which must still have the header's SHA-256) with the
  header's ``kind_seed`` (a schema-1 demo log: its simulated child's seed,
  which was the kind's) and ``kind_options``;
- each ``plan`` line → ``kind.next_trial(start_s)``, checked against the
  logged plan (index, end, tempo): a different plan means the planning code
  changed and what follows cannot match;
- each ``input`` line the script accepts (:func:`engine.interventions.inputs.accepts_input`)
  joins the child's events as the session took them (:func:`~engine.interventions.inputs.add_child_event`);
- each ``trial`` line → the oldest open plan is scored on the child's events
  taken *before that line*, up to its logged ``close_s`` (the session's own
  cut), with its logged prompt level, and ``kind.adapt`` runs as it did;
- each ``trial_abandoned`` line (a pause, a stop) drops its plan unscored,
  as the session did;
- the objectives are judged on the recomputed trials
  (:func:`engine.scoring.judge.judge_visit`, this visit alone): the
  script's, and the plan's that the header recorded (``plan_objectives``: the
  plan as it was when the session ran, so a plan edited since changes nothing).

Stored and recomputed trials are compared as their JSON (so a NaN equals a
NaN); objectives on ``value`` and ``met`` (their ``status`` and sentence
also depend on the sessions before, which a demo of several sessions
judged together).
"""

from __future__ import annotations

import bisect
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import engine
from engine.errors import ConfigError, DataDirError
from engine.interventions.inputs import accepts_input, add_child_event
from engine.interventions.kinds import make_kind
from engine.records.reader import (
    LogLines,
    _parse_header,
    activity_segments,
    log_damage,
    log_path,
    plan_objectives_of,
    read_log_bytes,
    script_for,
)
from engine.scoring.dropouts import window_has_xrun
from engine.scoring.judge import judge_visit
from engine.scoring.objectives import NOT_RECORDED
from engine.text import tidy_sentence

__all__ = ["rescore"]

EPS_S = 1e-9  # as engine.session.runner


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _key(objective: dict[str, Any], one_script: bool) -> tuple[str, Any, Any]:
    """A judged objective's key: its source (a log before plans were judged has only the script's), its script
    (a script's objective in a visit of several scripts; a log of before visits names none) and id."""
    source = str(objective.get("source") or "script")
    script = objective.get("script") if source == "script" and not one_script else None
    return source, script, objective.get("id")


def _kind_seed(header: dict[str, Any]) -> int | None:
    if "kind_seed" in header:
        return header["kind_seed"]
    sim = header.get("simulated_child")  # schema 1: the demo built its kind with the child's seed
    return sim.get("seed") if isinstance(sim, dict) and header.get("kind") == "demo" else None


def rescore(path: str | Path) -> dict[str, Any]:
    """Recompute a visit log's trials and objectives (see the module docstring).

    Returns ``path``, ``script`` (the first activity's), ``engine_version`` (now) and
    ``logged_engine_version``, ``status`` (``ended`` or ``interrupted``:
    whether the log has its summary line), ``trials`` (per trial: ``activity``, ``n``,
    ``index``, ``phase``, ``stored`` and ``recomputed`` scores and
    ``correct``, ``differences`` (score keys), ``identical``),
    ``objectives`` (per objective of the visit: ``id``, ``source``, ``stored`` (None without a
    summary), ``recomputed``, ``identical`` (None when nothing is stored)),
    ``activities`` (per activity with a script: ``index``, ``script``, ``title``, ``intervention``, ``trials``),
    ``abandoned`` (trials abandoned by a pause or stop), ``open_at_end``
    (planned, never scored: an interrupted log), ``plan_mismatch`` (a
    sentence, or None), ``skipped_lines``, ``damage`` (what is wrong with a damaged log: :func:`read_log`;
    then ``damage_note`` says what could not be checked, and ``identical`` is false) and ``identical``
    (everything).

    A visit whose activities ran no intervention script (a MIDI song, free play, a
    metronome demo of before the metronome was a script) has no trials and
    no objectives: it re-scores as identical when its log holds none, with
    ``note`` saying so.

    Raises
    ------
    DataDirError
        The log cannot be read.
    ConfigError
        A script is missing or changed, or an activity without a script has trials.
    """
    path = log_path(path)
    raw_lines = read_log_bytes(path).split(b"\n")
    if not raw_lines[0].strip():
        raise DataDirError(f"{path} is not a readable session log (it is empty); name a session's events.jsonl "
                           f"or its folder.")
    header = _parse_header(path, raw_lines[0])
    records = LogLines(raw_lines[1:])
    parsed = list(records)
    damage = log_damage(path, header, raw_lines, records, parsed)
    out = _rescore(path, header, parsed, records.skipped)
    out["damage"] = damage
    if damage:
        out["identical"] = False
        out["damage_note"] = (f"The log is damaged: {'; '.join(damage)}. Only the lines it has were re-scored, so "
                              f"what was lost or changed cannot be checked against what the session did.")
    return out


def _rescore(path: Path, header: dict[str, Any], parsed: list[dict[str, Any]], unreadable: int) -> dict[str, Any]:
    kept = [d for d in parsed if _replayable(d)]
    skipped = unreadable + len(parsed) - len(kept)
    segments = activity_segments(header, kept)
    summary = next((d for seg in segments for _, d in seg[1] if d.get("type") == "summary"), None)
    if not any(str(h.get("script") or "").endswith(".toml") for h, _ in segments):
        return _no_script(path, [h for h, _ in segments], [d for _, lines in segments for _, d in lines], summary,
                          skipped)
    rate = header.get("sample_rate")
    # The audio dropouts the session logged: the trials they touched are left out of the objectives, as live.
    xruns = [(d["frame"], d.get("frames", 0)) for d in parsed if d.get("type") == "xrun"
             and _is_int(d.get("frame")) and _is_int(d.get("frames", 0))]
    trials: list[dict[str, Any]] = []
    judging = []
    activities = []
    abandoned = open_at_end = 0
    mismatch: str | None = None
    for i, (act_header, lines) in enumerate(segments):
        if not str(act_header.get("script") or "").endswith(".toml"):
            if any(d.get("type") in ("trial", "plan") for _, d in lines):
                raise ConfigError(f"{path} cannot be re-scored: it has trials but names no intervention script.")
            continue
        script, why = script_for(act_header)
        if script is None:
            raise ConfigError(f"{path} cannot be re-scored: {why}.")
        if not rate:
            raise ConfigError(f"{path} cannot be re-scored: its header has no sample rate.")
        try:
            got = _rescore_activity(script, act_header, [d for _, d in lines], rate, xruns)
        except ConfigError as exc:
            raise ConfigError(f"{path} cannot be re-scored: activity {i + 1}: {exc}.") from None
        except (ValueError, TypeError, KeyError, AttributeError, IndexError, ArithmeticError, RecursionError) as exc:
            # The lines were checked as a session writes them; what is left is a header whose kind settings no
            # kind takes (kind_seed, kind_options): said, not raised.
            said = tidy_sentence(str(exc))  # a library's message, on one line
            raise ConfigError(f"{path} cannot be re-scored: activity {i + 1}'s settings or lines do not fit its "
                              f"script ({type(exc).__name__}: {said}).") from None
        trials += [{"activity": i, **t} for t in got["trials"]]
        judging.append((script, got["results"], plan_objectives_of(act_header)))
        abandoned += got["abandoned"]
        open_at_end += got["open"]
        mismatch = mismatch or got["mismatch"]
        activities.append({"index": i, "script": act_header.get("script"), "title": act_header.get("title"),
                           "intervention": act_header.get("intervention"), "trials": len(got["results"])})

    judged = json.loads(json.dumps(judge_visit(judging)))
    one_script = len({str(j[0].path) for j in judging}) == 1
    logged = (summary or {}).get("objectives")
    stored_obj = {_key(o, one_script): o for o in (logged if isinstance(logged, list) else []) if isinstance(o, dict)}
    objectives = []
    for o in judged:
        s = stored_obj.get(_key(o, one_script)) if summary is not None else None
        same = None if s is None else (_same(s.get("value"), o["value"]) and _same(s.get("met"), o["met"]))
        objectives.append({"id": o["id"], "source": o["source"], "stored": s, "recomputed": o, "identical": same})
    if summary is not None:
        keys = {_key(o, one_script) for o in judged}
        objectives += [{"id": k[2], "source": k[0], "stored": stored_obj[k], "recomputed": None, "identical": False}
                       for k in stored_obj if k not in keys]
    scored = sum(a["trials"] for a in activities)
    identical = (mismatch is None and all(t["identical"] for t in trials)
                 and all(o["identical"] is not False for o in objectives)
                 and (summary is None or summary.get("trials") in (None, scored)))
    first = segments[0][0]
    return {
        "path": str(path), "script": first.get("script"), "title": first.get("title"),
        "engine_version": engine.__version__, "logged_engine_version": header.get("engine_version"),
        "status": "ended" if summary is not None else "interrupted",
        "trials": trials, "objectives": objectives, "activities": activities, "abandoned": abandoned,
        "open_at_end": open_at_end, "plan_mismatch": mismatch, "skipped_lines": skipped,
        "identical": identical,
    }


def _number(value: Any) -> bool:
    """A finite number a session writes (an int is compared as it is: a 400-digit one overflows a float)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and -1e15 < value < 1e15


def _replayable(d: dict[str, Any]) -> bool:
    """Whether a line has the types a session writes where the replay reads it (a line that does not is
    skipped and counted, as an unreadable one)."""
    kind = d.get("type")
    if kind == "input":
        return (isinstance(d.get("frame"), int) and not isinstance(d["frame"], bool) and abs(d["frame"]) < 1 << 53
                and isinstance(d.get("note", -1), int) and isinstance(d.get("source", ""), str)
                and isinstance(d.get("key", ""), str))
    if kind == "plan":
        return _number(d.get("start_s")) and isinstance(d.get("index"), (int, type(None)))
    if kind == "trial":
        return (isinstance(d.get("index"), (int, type(None))) and isinstance(d.get("phase", "trial"), str)
                and (d.get("close_s") is None or _number(d.get("close_s")))
                and isinstance(d.get("prompt", NOT_RECORDED), str) and isinstance(d.get("scores") or {}, dict))
    if kind == "trial_abandoned":
        return isinstance(d.get("phase", "trial"), str)
    return True


def _rescore_activity(script: Any, header: dict[str, Any], lines: list[dict], rate: float,
                      xruns: list[tuple[int, int]] = ()) -> dict[str, Any]:
    """One activity's trials replayed from its lines (see the module docstring)."""
    seed, options = _kind_seed(header), header.get("kind_options") or {}
    if not (seed is None or isinstance(seed, int) and not isinstance(seed, bool)) or not isinstance(options, dict):
        raise ConfigError("its kind_seed is not a whole number or its kind_options not a table, as a session "
                          "writes them")
    kind = make_kind(script, seed=seed, **options)
    events: list[tuple[float, int | None]] = []
    open_plans: list[tuple[dict, Any]] = []
    trials: list[dict[str, Any]] = []
    results = []
    abandoned = 0
    mismatch: str | None = None
    for d in lines:
        kind_of = d.get("type")
        if kind_of == "input":
            if accepts_input(script, d.get("source", ""), d.get("key", ""), d.get("note", -1)):
                add_child_event(events, d["frame"] / rate, d.get("note", -1))
        elif kind_of == "plan":
            plan = kind.next_trial(d["start_s"])
            if mismatch is None and (plan.index != d.get("index") or plan.end_s != d.get("end_s")
                                     or plan.tempo_bpm != d.get("tempo_bpm") or plan.phase != d.get("phase")):
                mismatch = (f"The plan of trial index {d.get('index')} at {d['start_s']:.3f} s differs from the "
                            f"logged one (now ends at {plan.end_s:.3f} s at {plan.tempo_bpm:g} BPM, logged "
                            f"{d.get('end_s')} s at {d.get('tempo_bpm')} BPM): the planning has changed.")
            open_plans.append((d, plan))
        elif kind_of == "trial":
            k = next((i for i, (p, _) in enumerate(open_plans) if p.get("index") == d.get("index")
                      and p.get("phase") == d.get("phase")), 0 if open_plans else None)
            if k is None:
                mismatch = mismatch or f"The log has a trial (index {d.get('index')}) without a plan before it."
                continue
            _, plan = open_plans.pop(k)
            close = d.get("close_s", plan.child_end_s)
            # As the session did: the events from the window's start to its close (a slice, not a scan).
            lo = bisect.bisect_left(events, plan.child_start_s - EPS_S, key=lambda e: e[0])
            upto = bisect.bisect_right(events, close + EPS_S, key=lambda e: e[0])
            result = kind.score(plan, events[lo:upto], prompt=d.get("prompt", NOT_RECORDED))
            kind.adapt(result)
            if result.trial is not None and window_has_xrun(xruns, plan.start_s, close, rate):
                result = replace(result, trial=replace(result.trial, dropout=True))
            if plan.phase == "trial":
                results.append(result)
            stored = {"scores": d.get("scores"), "correct": d.get("correct")}
            again = json.loads(json.dumps({"scores": result.scores, "correct": result.correct}))
            diffs = [] if _same(stored["scores"], again["scores"]) else sorted(
                key for key in set(stored["scores"] or {}) | set(again["scores"])
                if not _same((stored["scores"] or {}).get(key), again["scores"].get(key)))
            trials.append({"n": d.get("n"), "index": d.get("index"), "phase": d.get("phase", "trial"),
                           "stored": stored, "recomputed": again, "differences": diffs,
                           "identical": not diffs and _same(stored["correct"], again["correct"])})
        elif kind_of == "trial_abandoned":
            k = next((i for i, (p, _) in enumerate(open_plans) if p.get("index") == d.get("index")
                      and p.get("start_s") == d.get("start_s")), None)
            if k is not None:
                open_plans.pop(k)
            abandoned += d.get("phase", "trial") == "trial"
    return {"trials": trials, "results": results, "abandoned": abandoned, "open": len(open_plans),
            "mismatch": mismatch}


def _no_script(path: Path, headers: list[dict[str, Any]], lines: list[dict], summary: dict[str, Any] | None,
               skipped: int) -> dict[str, Any]:
    """The re-score of a visit that ran no intervention script: nothing to recompute, nothing stored."""
    scored = sum(1 for d in lines if d.get("type") in ("trial", "plan"))
    if scored or (summary is not None and summary.get("trials") not in (None, 0)):
        raise ConfigError(f"{path} cannot be re-scored: it has trials but names no intervention script.")

    def what(header: dict[str, Any]) -> str:
        name = str(header.get("script") or "")
        return ("a MIDI song" if name.lower().endswith((".mid", ".midi")) else "free play" if name == "free"
                else str(header.get("intervention") or "no script"))

    ran = " then ".join(what(h) for h in headers)
    first = headers[0]
    return {
        "path": str(path), "script": first.get("script"), "title": first.get("title"),
        "engine_version": engine.__version__, "logged_engine_version": first.get("engine_version"),
        "status": "ended" if summary is not None else "interrupted",
        "trials": [], "objectives": [], "activities": [], "abandoned": 0, "open_at_end": 0, "plan_mismatch": None,
        "skipped_lines": skipped, "identical": True,
        "note": f"The session ran {ran}, not an intervention script: it has no trials or objectives to re-score.",
    }


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
