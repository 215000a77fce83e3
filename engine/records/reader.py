"""Reading a session log back: :func:`read_log` gives a :class:`~engine.records.model.SessionRecord`.

A log is one visit: its activities (``ActivityRecord``, from the header's
``activities`` and each ``activity`` line; a log of before visits is one
activity, its header's script) and every activity's trials. A log written
before today's definitions is read under them, from what it holds
(:func:`todays_scores`; unmarked trials of an old live log are "not
recorded"): the file itself is never changed.

A log is read whatever became of its session:

- **ended** (completed or stopped): its last line is the ``summary``, which
  gives the status, the duration and each objective's result as judged
  when the session ended;
- **interrupted** (killed, power cut, a failed device): no summary line.
  Every complete line is read; a line cut off by the crash (only ever the
  last) is skipped and counted in ``skipped_lines``. The objectives are
  judged from the trials it has with each activity's script's objectives
  (:func:`engine.scoring.judge.judge_visit`, this visit alone, no
  history), taken from the script file named in the activity's line **if it is
  still there and its SHA-256 is the one in the header** (a schema-1 log
  has no hash: the file as it is). Otherwise the objectives are left empty
  and ``summary["objectives_note"]`` says why: judging a session by a
  script it did not run would be wrong, and the trials themselves are kept;
- **schema 1** (logs written before the session records): no summary line,
  but a ``summary.json`` beside the log when the session ended; its
  ``status`` (``completed`` when it has none: it was only written at the
  end; ``interrupted`` for a live session that ``failed``) and
  ``objectives`` are used, else as interrupted. The same holds for
  a schema-2 log without a summary line with a ``summary.json`` beside it
  (the built-in metronome demo).

A file that is missing, or whose first line is not a readable header, is
one :class:`~engine.errors.DataDirError` sentence.

:func:`peek_log` is the index's quick look: the header line and the last
line only, when that is the summary (the whole log otherwise).
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.errors import ConfigError, DataDirError
from engine.records.log import file_sha256
from engine.records.model import (
    ActivityRecord,
    NoteRecord,
    ObjectiveRecord,
    SessionRecord,
    TrialRecord,
    is_probe,
    is_simulated,
)
from engine.scoring.judge import judge_visit
from engine.scoring.objectives import NOT_RECORDED, Objective, Trial

__all__ = [
    "LogLines", "activity_segments", "log_path", "peek_log", "read_header", "read_log", "script_for",
    "todays_scores"]

SUMMARY_JSON = "summary.json"
_TAIL_BYTES = 256 * 1024  # a summary line with many objectives fits easily


def log_path(path: str | Path) -> Path:
    """The log file for a session folder or a log path."""
    path = Path(path)
    return path / "events.jsonl" if path.is_dir() else path


def _bad_header(path: Path, why: str) -> DataDirError:
    return DataDirError(f"{path} is not a readable session log ({why}); name a session's events.jsonl "
                        f"or its folder.")


def _parse_header(path: Path, line: bytes | str) -> dict[str, Any]:
    try:
        header = json.loads(line)
    except ValueError:
        raise _bad_header(path, "its first line is not JSON") from None
    if not isinstance(header, dict) or header.get("type") != "header":
        raise _bad_header(path, "its first line is not a session header")
    return header


def read_header(path: str | Path) -> dict[str, Any]:
    """The header line of a log (one sentence if the file is missing or has none)."""
    path = log_path(path)
    try:
        with open(path, "rb") as f:
            first = f.readline()
    except OSError as exc:
        raise DataDirError(f"Tandem cannot read the session log {path} ({exc.strerror or exc}).") from None
    if not first.strip():
        raise _bad_header(path, "it is empty")
    return _parse_header(path, first)


def _sidecar(path: Path) -> dict[str, Any] | None:
    """The ``summary.json`` beside a log (written when a session ended), or None."""
    try:
        data = json.loads((path.parent / SUMMARY_JSON).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def script_for(header: dict[str, Any]) -> tuple[Any, str | None]:
    """The script a log was run with, loaded from the header's path: ``(script, None)``, or ``(None, why)``.

    The file (``script``, else ``script_resolved``: the same, absolute) must
    still be there and, when the header has ``script_sha256``,
    have that hash (a changed script is not the one that ran). The changes
    the session ran it with (``script_overrides``: ``tandem demo --tempo``,
    ``--beats``) are applied to it (:func:`~engine.interventions.overrides.apply_overrides`).
    """
    name = header.get("script")
    if not name or name == "free" or not str(name).endswith(".toml"):
        return None, "the session did not run an intervention script"
    path = Path(name)
    if not path.is_file() and header.get("script_resolved"):
        path = Path(header["script_resolved"])
    if not path.is_file():
        return None, f"its script {name} is not there any more"
    want = header.get("script_sha256")
    if want is not None and file_sha256(path) != want:
        return None, f"its script {name} has changed since the session (its SHA-256 differs)"
    # Loaded here, not at the top: the script checker brings numpy and the sound bank's tables (~0.15 s),
    # which `tandem sessions` (headers and summary lines only) must not pay for.
    from engine.interventions.overrides import apply_overrides
    from engine.interventions.script import load_script

    try:
        script = load_script(path)
    except Exception as exc:  # noqa: BLE001 - a script that no longer loads is a reason, not a crash
        return None, f"its script {name} does not load any more ({exc})"
    try:
        return apply_overrides(script, header.get("script_overrides")), None
    except ConfigError as exc:
        return None, f"its header's script_overrides cannot be applied ({exc})"


def _objective(d: dict[str, Any]) -> ObjectiveRecord:
    return ObjectiveRecord(id=str(d.get("id")), status=str(d.get("status", "")), sentence=str(d.get("sentence", "")),
                           value=d.get("value"), met=d.get("met"), source=str(d.get("source") or "script"),
                           script=d.get("script") if isinstance(d.get("script"), str) else None)


def plan_objectives_of(header: dict[str, Any]) -> list:
    """The plan objectives a session judged, as its header recorded them (a log without them: none).

    Raises
    ------
    ConfigError
        A recorded objective does not check (a damaged header).
    """
    out = []
    old = int(header.get("schema") or 1) < 3
    for d in header.get("plan_objectives") or []:
        if old and isinstance(d, dict) and d.get("min_trials") == 1:
            # Before aggregates needed enough counted trials, every objective was written with min_trials 1
            # (the default then): judged again, it takes today's default (docs/definitions.md).
            d = {k: v for k, v in d.items() if k != "min_trials"}
        try:
            out.append(Objective.from_dict(d))
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"The session log's header has a plan objective that does not check ({exc}).") from None
    return out


def todays_scores(scores: dict[str, Any], tempo_bpm: Any, plan_params: dict[str, Any] | None) -> dict[str, Any]:
    """A logged trial's scores read under today's definitions (``docs/definitions.md``), for a log written
    before them; a log of today is returned as it is. Everything is derived from what the log holds:

    - turn-taking (scores without ``first_onset_after_handover_ms``): a child who did not wait did not take a
      turn at the hand-over: ``initiated`` false, no latency, a turn of 0 notes; the first onset after the
      hand-over is kept, uncredited, as ``first_onset_after_handover_ms`` (the old latency);
    - the trial's difficulty (``tempo_bpm``; ``pattern_length``: the notes of its call or of the engine's
      turn, from its ``plan`` line), which an objective's ``level`` reads.
    """
    out = dict(scores)
    if "initiated" in out and "waited" in out and "first_onset_after_handover_ms" not in out:
        out["first_onset_after_handover_ms"] = out.get("initiation_latency_ms")
        if out["initiated"] and out["waited"] is not True:
            out.update(initiated=False, initiation_latency_ms=None, turn_length_notes=0, turn_end_s=None,
                       turn_capped=False)
    if "tempo_bpm" not in out and isinstance(tempo_bpm, (int, float)) and not isinstance(tempo_bpm, bool):
        out["tempo_bpm"] = float(tempo_bpm)
    onsets = (plan_params or {}).get("onsets_beats")
    if "pattern_length" not in out and isinstance(onsets, list):
        out["pattern_length"] = len(onsets)
    return out


def _trial(d: dict[str, Any], activity: int = 0, plan_params: dict[str, Any] | None = None) -> TrialRecord:
    act = d.get("activity")
    scores = dict(d.get("scores") or {})
    if "first_onset_after_handover_ms" not in scores or "tempo_bpm" not in scores:  # written before today's
        scores = todays_scores(scores, d.get("tempo_bpm"), plan_params)
    return TrialRecord(n=int(d.get("n", 0)), index=int(d.get("index", 0)), start_s=float(d.get("start_s", 0.0)),
                       tempo_bpm=float(d.get("tempo_bpm", 0.0)), scores=scores,
                       correct=d.get("correct"), prompt=str(d.get("prompt") or NOT_RECORDED),
                       close_s=d.get("close_s"), phase=str(d.get("phase", "trial")),
                       activity=act if isinstance(act, int) else activity)


def judge_logged(header: dict[str, Any], trials: list[TrialRecord],
                 activities: tuple[ActivityRecord, ...] | None = None) -> tuple[list[dict], str | None]:
    """A visit's objectives judged on its logged trials (:func:`~engine.scoring.judge.judge_visit`, this visit
    alone): ``(objectives, None)``, or ``(what could be judged, why not all)``. ``activities`` default: one,
    the header's script."""
    if activities is None:
        activities = (ActivityRecord(0, str(header.get("script") or ""), "", "", header, "", tuple(trials)),)

    class _Logged:  # what judge_visit reads of a TrialResult
        def __init__(self, t: TrialRecord) -> None:
            self.trial = Trial(t.scores, prompt=t.prompt)

    judging = []
    why = None
    for act in activities:
        if not act.script.endswith(".toml") or act.status == "not started":
            continue  # a song, free play, the metronome of old, an activity never reached: nothing to judge
        script, reason = script_for(act.header)
        if script is None:
            why = why or f"The objectives were not judged: {reason}."
            continue
        try:
            judging.append((script, [_Logged(t) for t in act.trials if t.phase == "trial"],
                            plan_objectives_of(act.header)))
        except ConfigError as exc:
            why = why or f"The objectives were not judged: {exc}"
    if why is not None and len(activities) == 1:
        return [], why
    try:
        return judge_visit(judging), why
    except ConfigError as exc:
        return [], f"The objectives were not judged: {exc}"
    except (ValueError, TypeError, KeyError) as exc:  # scores the script's objectives cannot read
        return [], f"The objectives were not judged: the logged trials do not fit the script's objectives ({exc})."


def activity_segments(header: dict[str, Any], lines: list[dict]) -> list[tuple[dict[str, Any], list[tuple[int, dict]]]]:
    """The log's lines cut into its activities: ``(the activity's header, its lines)`` each, in order. A log
    of before visits is one activity (its header's script); the lines before a visit's first ``activity``
    line go with the first."""
    if not isinstance(header.get("activities"), list) or not header["activities"]:
        return [(header, list(enumerate(lines)))]
    out: list[tuple[dict[str, Any], list[tuple[int, dict]]]] = []
    before: list[tuple[int, dict]] = []
    for k, d in enumerate(lines):
        if d.get("type") == "activity":
            fields = {key: v for key, v in d.items() if key not in ("type", "frame", "index")}
            out.append(({**header, **fields}, before))
            before = []
        elif out:
            out[-1][1].append((k, d))
        else:
            before.append((k, d))
    if not out:  # interrupted before its first activity began
        return [(header, before)]
    return out


class LogLines:
    """The records (JSON objects) of a log's lines, in order; a line that is not one (the line a crash
    cut off, or garbage) is skipped and counted in :attr:`skipped`. Empty lines are not records."""

    def __init__(self, raw_lines: list[bytes] | list[str]) -> None:
        self.raw_lines = raw_lines
        self.skipped = 0

    def __iter__(self):
        for raw in self.raw_lines:
            if not raw.strip():
                continue
            try:
                d = json.loads(raw)
            except ValueError:
                self.skipped += 1
                continue
            if not isinstance(d, dict):
                self.skipped += 1
                continue
            yield d


def read_log(path: str | Path, *, judge: bool = True) -> SessionRecord:
    """Read one session log (a session folder or its ``events.jsonl``); see the module docstring.

    ``judge=False`` leaves an interrupted log's objectives empty (a listing does not need them).

    Raises
    ------
    DataDirError
        The file cannot be read, or its first line is not a session header.
    """
    path = log_path(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise DataDirError(f"Tandem cannot read the session log {path} ({exc.strerror or exc}).") from None
    lines = data.split(b"\n")
    if not lines[0].strip():
        raise _bad_header(path, "it is empty")
    header = _parse_header(path, lines[0])
    events = 0
    last_frame = 0
    trials: list[TrialRecord] = []
    notes: list[NoteRecord] = []
    summary: dict[str, Any] | None = None
    begun: dict[int, dict[str, Any]] = {}
    ended: dict[int, str] = {}
    marked: set[tuple[int, int]] = set()  # (activity, trial number) the therapist gave a prompt level for
    plans: dict[tuple, Any] = {}  # (activity, index, phase) → the plan's params, for a trial's difficulty
    current = 0
    records = LogLines(lines[1:])
    for d in records:
        kind = d.get("type")
        if kind == "summary":
            summary = d
            continue
        events += 1
        frame = d.get("frame")
        if isinstance(frame, int) and frame > last_frame:
            last_frame = frame
        if kind == "activity" and isinstance(d.get("index"), int):
            current = d["index"]
            begun[current] = d
        elif kind == "activity_end" and isinstance(d.get("index"), int):
            ended[d["index"]] = str(d.get("status") or "stopped")
        elif kind == "plan":
            plans[(current, d.get("index"), d.get("phase"))] = d.get("params")
        elif kind == "trial" and d.get("phase", "trial") == "trial":
            trials.append(_trial(d, current, plans.get((current, d.get("index"), d.get("phase", "trial")))))
        elif kind == "mark" and d.get("action") == "prompt" and isinstance(d.get("trial"), int):
            marked.add((current, d["trial"]))
        elif kind == "mark" and d.get("action") == "note" and d.get("text"):
            rate = header.get("sample_rate") or 0
            notes.append(NoteRecord(t_s=round(frame / rate, 3) if rate and isinstance(frame, int) else 0.0,
                                    trial=int(d.get("trial", -1)), text=str(d["text"])))
    if _guessed_prompts(header):
        trials = [t if t.prompt != "independent" or (t.activity, t.n) in marked else replace(t, prompt=NOT_RECORDED)
                  for t in trials]
    return _record(path, header, trials, summary, skipped=records.skipped, events=events, last_frame=last_frame,
                   judge=judge, notes=notes, begun=begun, ended=ended)


def _guessed_prompts(header: dict[str, Any]) -> bool:
    """A live log of before prompt levels were never guessed (schema 1 and 2): it logged a trial nobody
    marked as ``independent``. Read, such a trial is ``not recorded`` unless a ``p`` key mark gave its level.
    (A simulated child's trials were independent by construction: its model played unprompted.)"""
    return int(header.get("schema") or 1) < 3 and header.get("kind") == "live"


_NOT_FIELDS = ("type", "frame", "index")


def _activities(header: dict[str, Any], trials: list[TrialRecord], begun: dict[int, dict[str, Any]],
                ended: dict[int, str], status: str) -> tuple[ActivityRecord, ...]:
    """The visit's activities: the header's ``activities`` with each one's ``activity`` line (schema 3), or
    the one script of an older log (ended as the visit did: ``status``)."""
    planned = header.get("activities")
    if not isinstance(planned, list) or not planned:
        return (_activity(0, header, status, trials),)
    out = []
    for i, plan in enumerate(planned):
        fields = begun.get(i) or (plan if isinstance(plan, dict) else {})
        merged = {**header, **{k: v for k, v in fields.items() if k not in _NOT_FIELDS}}
        status = ended.get(i) or ("interrupted" if i in begun else "not started")
        out.append(_activity(i, merged, status, [t for t in trials if t.activity == i]))
    return tuple(out)


def _activity(index: int, header: dict[str, Any], status: str, trials: list[TrialRecord]) -> ActivityRecord:
    script = str(header.get("script") or "")
    title = header.get("title") or (Path(script).stem if script else "") or str(header.get("intervention") or "")
    return ActivityRecord(index=index, script=script, title=str(title), intervention=str(header.get("intervention")
                                                                                          or ""),
                          header=header, status=status, trials=tuple(trials))


def _record(path: Path, header: dict[str, Any], trials: list[TrialRecord], summary: dict[str, Any] | None, *,
            skipped: int, events: int, last_frame: int, judge: bool = True,
            notes: list[NoteRecord] | None = None, begun: dict[int, dict[str, Any]] | None = None,
            ended: dict[int, str] | None = None) -> SessionRecord:
    rate = header.get("sample_rate") or 0
    run_to_last = round(last_frame / rate, 3) if rate else 0.0
    objectives: list[dict] | None = None
    extra: dict[str, Any] = {}
    if summary is not None:
        status = summary.get("status") if summary.get("status") in ("completed", "stopped") else "stopped"
        objectives = summary.get("objectives") or []
        duration = summary.get("duration_s")
        extra = {k: v for k, v in summary.items() if k != "type"}
    else:
        side = _sidecar(path)
        if side is not None:  # ended, but before summary lines (schema 1) or without one (metronome demo)
            # Written at the end: no status means it ended normally; a live session that failed says so.
            status = side.get("status") or "completed"
            status = status if status in ("completed", "stopped") else "interrupted"
            objectives = side.get("objectives")
            frames = (side.get("stream") or {}).get("frames")
            duration = round(frames / rate, 3) if frames and rate else None
            extra = {"from": SUMMARY_JSON}
        else:
            status = "interrupted"
            duration = None
    if objectives is None and not judge:
        objectives = []
    activities = _activities(header, trials, begun or {}, ended or {}, status)
    if objectives is None:
        objectives, why = judge_logged(header, trials, activities)
        if why:
            extra["objectives_note"] = why
    script = activities[0].script
    title = " · ".join(a.title for a in activities if a.title)
    return SessionRecord(
        path=path, header=header, trials=tuple(trials),
        objectives=tuple(_objective(o) for o in objectives if isinstance(o, dict)), status=status,
        started=str(header.get("started") or ""),
        duration_s=float(duration) if duration is not None else run_to_last,
        child_id=str(header.get("child_id") or ""), script=script, title=str(title),
        kind=str(header.get("kind") or ""), skipped_lines=skipped, events=events, summary=extra,
        notes=tuple(notes or ()), activities=activities,
    )


def _last_line(path: Path, size: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(max(0, size - _TAIL_BYTES))
        tail = f.read()
    lines = [x for x in tail.split(b"\n") if x.strip()]
    return lines[-1] if lines else b""


def peek_log(path: str | Path) -> dict[str, Any]:
    """What a listing shows of one log (a visit), reading as little as it can.

    An ended log is read as its header line and its last line (the summary);
    an interrupted one (or an old one) is read whole, for its trials. Returns
    ``date`` (the start, ISO 8601), ``child``, ``script`` (the first
    activity's), ``title`` (every activity's), ``kind``, ``duration_s``,
    ``trials`` (over the visit), ``status``, ``path`` (the log),
    ``activities`` (per activity: ``script``, ``title``, ``trials``,
    ``status``), ``simulated`` and ``probe``.
    """
    path = log_path(path)
    header = read_header(path)
    summary = None
    try:
        size = os.path.getsize(path)
        last = _last_line(path, size)
        d = json.loads(last) if last else None
        if isinstance(d, dict) and d.get("type") == "summary":
            summary = d
    except (OSError, ValueError):
        summary = None
    apart = {"simulated": is_simulated(header), "probe": is_probe(header)}
    if summary is not None and isinstance(summary.get("trials"), int):
        status = summary.get("status") if summary.get("status") in ("completed", "stopped") else "stopped"
        logged = summary.get("activities")
        if isinstance(logged, list) and logged and all(isinstance(a, dict) for a in logged):
            acts = [{"script": str(a.get("script") or ""), "title": str(a.get("title") or _stem(a.get("script"))),
                     "trials": int(a.get("trials") or 0), "status": str(a.get("status") or "")} for a in logged]
        else:  # one script per log (schema 2)
            one = _activity(0, header, status, [])
            acts = [{"script": one.script, "title": one.title, "trials": summary["trials"], "status": status}]
        return {"date": str(header.get("started") or ""), "child": str(header.get("child_id") or ""),
                "script": acts[0]["script"], "title": " · ".join(a["title"] for a in acts if a["title"]),
                "kind": str(header.get("kind") or ""), "duration_s": summary.get("duration_s"),
                "trials": summary["trials"], "status": status, "path": str(path), "activities": acts, **apart}
    rec = read_log(path, judge=False)
    return {"date": rec.started, "child": rec.child_id, "script": rec.script, "title": rec.title, "kind": rec.kind,
            "duration_s": rec.duration_s, "trials": len(rec.trials), "status": rec.status, "path": str(path),
            "activities": [{"script": a.script, "title": a.title, "trials": len(a.trials), "status": a.status}
                           for a in rec.activities], **apart}


def _stem(script: Any) -> str:
    return Path(str(script)).stem if script else ""
