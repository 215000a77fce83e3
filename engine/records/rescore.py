"""Re-scoring a session log: every trial and objective recomputed from the raw events with the current code.

The log holds everything a script session decided on (DESIGN.md, "The
session log is the truth"), in the order it happened, so the session can
be replayed without an engine:

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
  (:func:`engine.scoring.judge.judge_objectives`, this session alone): the
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
from pathlib import Path
from typing import Any

import engine
from engine.errors import ConfigError, DataDirError
from engine.interventions.inputs import accepts_input, add_child_event
from engine.interventions.kinds import make_kind
from engine.records.reader import LogLines, _parse_header, log_path, plan_objectives_of, script_for
from engine.scoring.judge import judge_objectives

__all__ = ["rescore"]

EPS_S = 1e-9  # as engine.session.runner


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _key(objective: dict[str, Any]) -> tuple[str, Any]:
    """A judged objective's key: its source (a log before plans were judged has only the script's) and id."""
    return str(objective.get("source") or "script"), objective.get("id")


def _kind_seed(header: dict[str, Any]) -> int | None:
    if "kind_seed" in header:
        return header["kind_seed"]
    sim = header.get("simulated_child")  # schema 1: the demo built its kind with the child's seed
    return sim.get("seed") if isinstance(sim, dict) and header.get("kind") == "demo" else None


def rescore(path: str | Path) -> dict[str, Any]:
    """Recompute a session log's trials and objectives (see the module docstring).

    Returns ``path``, ``script``, ``engine_version`` (now) and
    ``logged_engine_version``, ``status`` (``ended`` or ``interrupted``:
    whether the log has its summary line), ``trials`` (per trial: ``n``,
    ``index``, ``phase``, ``stored`` and ``recomputed`` scores and
    ``correct``, ``differences`` (score keys), ``identical``),
    ``objectives`` (per objective: ``id``, ``stored`` (None without a
    summary), ``recomputed``, ``identical`` (None when nothing is stored)),
    ``abandoned`` (trials abandoned by a pause or stop), ``open_at_end``
    (planned, never scored: an interrupted log), ``plan_mismatch`` (a
    sentence, or None), ``skipped_lines`` and ``identical`` (everything).

    A session that ran no intervention script (a MIDI song, free play, a
    metronome demo of before the metronome was a script) has no trials and
    no objectives: it re-scores as identical when its log holds none, with
    ``note`` saying so.

    Raises
    ------
    DataDirError
        The log cannot be read.
    ConfigError
        Its script is missing or changed, or a log without a script has trials.
    """
    path = log_path(path)
    try:
        raw_lines = path.read_bytes().split(b"\n")
    except OSError as exc:
        raise DataDirError(f"Tandem cannot read the session log {path} ({exc.strerror or exc}).") from None
    if not raw_lines[0].strip():
        raise DataDirError(f"{path} is not a readable session log (it is empty); name a session's events.jsonl "
                           f"or its folder.")
    header = _parse_header(path, raw_lines[0])
    if not str(header.get("script") or "").endswith(".toml"):
        return _no_script(path, header, raw_lines)
    script, why = script_for(header)
    if script is None:
        raise ConfigError(f"{path} cannot be re-scored: {why}.")
    rate = header.get("sample_rate")
    if not rate:
        raise ConfigError(f"{path} cannot be re-scored: its header has no sample rate.")
    kind = make_kind(script, seed=_kind_seed(header), **(header.get("kind_options") or {}))

    events: list[tuple[float, int | None]] = []
    open_plans: list[tuple[dict, Any]] = []
    trials: list[dict[str, Any]] = []
    results = []
    summary = None
    abandoned = 0
    mismatch: str | None = None
    records = LogLines(raw_lines[1:])
    for d in records:
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
            result = kind.score(plan, events[lo:upto], prompt=d.get("prompt", "independent"))
            kind.adapt(result)
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
        elif kind_of == "summary":
            summary = d

    judged = json.loads(json.dumps(judge_objectives(script, results, plan_objectives=plan_objectives_of(header))))
    stored_obj = {_key(o): o for o in (summary or {}).get("objectives") or [] if isinstance(o, dict)}
    objectives = []
    for o in judged:
        s = stored_obj.get(_key(o)) if summary is not None else None
        same = None if s is None else (_same(s.get("value"), o["value"]) and _same(s.get("met"), o["met"]))
        objectives.append({"id": o["id"], "source": o["source"], "stored": s, "recomputed": o, "identical": same})
    if summary is not None:
        missing = [k for k in stored_obj if k not in {_key(o) for o in judged}]
        objectives += [{"id": k[1], "source": k[0], "stored": stored_obj[k], "recomputed": None, "identical": False}
                       for k in missing]
    identical = (mismatch is None and all(t["identical"] for t in trials)
                 and all(o["identical"] is not False for o in objectives)
                 and (summary is None or summary.get("trials") in (None, len(results))))
    return {
        "path": str(path), "script": header.get("script"), "title": header.get("title"),
        "engine_version": engine.__version__, "logged_engine_version": header.get("engine_version"),
        "status": "ended" if summary is not None else "interrupted",
        "trials": trials, "objectives": objectives, "abandoned": abandoned, "open_at_end": len(open_plans),
        "plan_mismatch": mismatch, "skipped_lines": records.skipped, "identical": identical,
    }


def _no_script(path: Path, header: dict[str, Any], raw_lines: list[bytes]) -> dict[str, Any]:
    """The re-score of a session that ran no intervention script: nothing to recompute, nothing stored."""
    records = LogLines(raw_lines[1:])
    summary = None
    scored = 0
    for d in records:
        if d.get("type") in ("trial", "plan"):
            scored += 1
        elif d.get("type") == "summary":
            summary = d
    if scored or (summary is not None and summary.get("trials") not in (None, 0)):
        raise ConfigError(f"{path} cannot be re-scored: it has trials but names no intervention script.")
    name = str(header.get("script") or "")
    what = ("a MIDI song" if name.lower().endswith((".mid", ".midi")) else "free play" if name == "free"
            else str(header.get("intervention") or "no script"))
    return {
        "path": str(path), "script": header.get("script"), "title": header.get("title"),
        "engine_version": engine.__version__, "logged_engine_version": header.get("engine_version"),
        "status": "ended" if summary is not None else "interrupted",
        "trials": [], "objectives": [], "abandoned": 0, "open_at_end": 0, "plan_mismatch": None,
        "skipped_lines": records.skipped, "identical": True,
        "note": f"The session ran {what}, not an intervention script: it has no trials or objectives to re-score.",
    }
