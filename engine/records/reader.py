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

import atexit
import base64
import fcntl
import hashlib
import json
import math
import os
import shutil
import stat
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.errors import ConfigError, DataDirError, TandemError
from engine.fileread import read_bytes
from engine.records.log import MAX_SCRIPT_BYTES, file_sha256, summary_intact
from engine.records.model import (
    ActivityRecord,
    NoteRecord,
    ObjectiveRecord,
    SessionRecord,
    TrialRecord,
    is_probe,
    is_simulated,
)
from engine.scoring.dropouts import window_has_xrun
from engine.scoring.judge import judge_visit
from engine.scoring.objectives import NOT_RECORDED, TRIAL_PROMPTS, Objective, Trial
from engine.text import tidy_sentence

__all__ = [
    "MAX_LINE_BYTES", "MAX_LOG_BYTES", "LogLines", "UnreadableLog", "activity_segments", "is_running", "log_damage",
    "log_path", "peek_log", "read_header", "read_log", "read_log_bytes", "script_for", "todays_scores"]

SUMMARY_JSON = "summary.json"

MAX_LOG_BYTES = 512 << 20
"""The largest log read (512 MiB): an hour's visit with the microphone writes a few MB."""

MAX_SIDECAR_BYTES = 64 << 20
"""The largest ``summary.json`` read (64 MiB: it lists every trial of the visit with its scores)."""

MAX_LINE_BYTES = 8 << 20
"""The longest line read (8 MiB; a header with its scripts is a few KB): a longer one is skipped and counted."""


def log_path(path: str | Path) -> Path:
    """The log file for a session folder or a log path."""
    path = Path(path)
    try:
        return path / "events.jsonl" if path.is_dir() else path
    except (OSError, ValueError):  # a name too long, a NUL: not a folder; reading it says why in a sentence
        return path


class UnreadableLog(DataDirError):
    """A file that is not a readable session log; :attr:`why` says why, in a few words."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"{path} is not a readable session log ({why}); name a session's events.jsonl "
                         f"or its folder.")
        self.why = why


def _bad_header(path: Path, why: str) -> UnreadableLog:
    return UnreadableLog(path, why)


def _parse_header(path: Path, line: bytes | str) -> dict[str, Any]:
    try:
        header = json.loads(line)
    except (ValueError, RecursionError):
        raise _bad_header(path, "its first line is not JSON") from None
    if not isinstance(header, dict) or header.get("type") != "header":
        raise _bad_header(path, "its first line is not a session header")
    for key, want in _HEADER_TYPES.items():
        if key in header and header[key] is not None and not _is(header[key], want):
            raise _bad_header(path, f"its header's {key} is {_kind_of(header[key])}, not {want}")
    rate = header.get("sample_rate")
    if rate is not None and not 1 <= rate <= 1_000_000:
        raise _bad_header(path, f"its header's sample_rate {rate} is not a sample rate")
    return header


_HEADER_TYPES = {"schema": "int", "sample_rate": "int", "started": "str", "child_id": "str", "script": "str",
                 "kind": "str", "title": "str", "activities": "list", "plan_objectives": "list",
                 "script_toml": "str", "script_sha256": "str", "script_files": "list"}


def _is(value: Any, want: str) -> bool:
    if want == "int":
        return isinstance(value, int) and not isinstance(value, bool) and abs(value) < 1 << 53
    if want == "number":  # a 400-digit int is compared as an int: converting it to a float overflows
        return (isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**15
                or isinstance(value, float) and math.isfinite(value) and abs(value) < 1e15)
    return isinstance(value, {"str": str, "list": list, "dict": dict}[want])


def _kind_of(value: Any) -> str:
    return {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list", dict: "a table"}.get(
        type(value), "null" if value is None else type(value).__name__)


def _open_log(path: Path) -> int:
    """An open file descriptor of the log, a regular file (a FIFO, a device or a folder is one sentence)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise DataDirError(f"Tandem cannot read the session log {path} ({exc.strerror or exc}).") from None
    try:
        st = os.fstat(fd)
    except OSError as exc:
        os.close(fd)
        raise DataDirError(f"Tandem cannot read the session log {path} ({exc.strerror or exc}).") from None
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise _bad_header(path, "it is not a regular file")
    if st.st_size > MAX_LOG_BYTES:
        os.close(fd)
        raise _bad_header(path, f"it is larger than {MAX_LOG_BYTES >> 20} MiB, more than any visit writes")
    return fd


def read_log_bytes(path: Path) -> bytes:
    """A log's bytes: a regular file of at most :data:`MAX_LOG_BYTES` (else one sentence, never a hang)."""
    fd = _open_log(path)
    try:
        with os.fdopen(fd, "rb") as f:
            # Read what the file holds (a session may still be appending to it), never a buffer of the limit's
            # size up front: read(n) allocates n bytes before it knows how many there are.
            chunks, total = [], 0
            while total <= MAX_LOG_BYTES:
                chunk = f.read(min(MAX_LOG_BYTES + 1 - total, max(os.fstat(fd).st_size - total, 0) + 65536))
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
    except OSError as exc:
        raise DataDirError(f"Tandem cannot read the session log {path} ({exc.strerror or exc}).") from None
    if total > MAX_LOG_BYTES:  # it grew past the limit while being read
        raise _bad_header(path, f"it is larger than {MAX_LOG_BYTES >> 20} MiB, more than any visit writes")
    return b"".join(chunks)


def read_header(path: str | Path) -> dict[str, Any]:
    """The header line of a log (one sentence if the file is missing or has none)."""
    path = log_path(path)
    fd = _open_log(path)
    try:
        with os.fdopen(fd, "rb") as f:
            first = f.readline(MAX_LINE_BYTES + 1)
    except OSError as exc:
        raise DataDirError(f"Tandem cannot read the session log {path} ({exc.strerror or exc}).") from None
    if not first.strip():
        raise _bad_header(path, "it is empty")
    if len(first) > MAX_LINE_BYTES:
        raise _bad_header(path, "its first line is too long to be a header")
    return _parse_header(path, first)


def is_running(path: str | Path) -> bool:
    """Whether a session is writing this log now (its writer holds the log's lock:
    :class:`~engine.records.log.LogWriter`)."""
    try:
        fd = os.open(log_path(path), os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # closing drops a lock taken here
    return False


def _sidecar(path: Path) -> dict[str, Any] | None:
    """The ``summary.json`` beside a log (written when a session ended), or None."""
    try:
        data = json.loads(read_bytes(path.parent / SUMMARY_JSON, what="summary", limit_bytes=MAX_SIDECAR_BYTES))
    except (TandemError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def script_for(header: dict[str, Any]) -> tuple[Any, str | None]:
    """The script an activity ran: ``(script, None)``, or ``(None, why)``.

    A log of today holds the script itself (``script_toml``, its ``script_sha256`` and the MIDI song it
    plays in ``script_files``: :func:`engine.records.log.script_fields`): it is checked against its hash
    and loaded from there, wherever the log is read and whatever became of the file. An older log names a
    file (``script``, else ``script_resolved``), which must still be there and, when the header has
    ``script_sha256``, have that hash (a changed script is not the one that ran). The changes the session
    ran it with (``script_overrides``: ``tandem demo --tempo``, ``--beats``) are applied to it
    (:func:`~engine.interventions.overrides.apply_overrides`).
    """
    name = header.get("script")
    if not isinstance(name, str) or not name or name == "free" or not name.endswith(".toml"):
        return None, "the session did not run an intervention script"
    # Loaded here, not at the top: the script checker brings numpy and the sound bank's tables (~0.15 s),
    # which `tandem sessions` (headers and summary lines only) must not pay for.
    from engine.interventions.overrides import apply_overrides
    from engine.interventions.script import load_script

    if "script_toml" in header:
        got = _embedded_script(header)
        if isinstance(got, str):
            return None, got
        path, shown, text = got
    else:
        path = Path(name)
        if not _regular(path) and isinstance(header.get("script_resolved"), str):
            path = Path(header["script_resolved"])
        if not _regular(path):
            return None, f"its script {name} is not there any more"
        want = header.get("script_sha256")
        if want is not None and file_sha256(path) != want:
            return None, f"its script {name} has changed since the session (its SHA-256 differs)"
        shown = text = None
    try:
        script = load_script(path, check_samples=False, text=text)
    except Exception as exc:  # noqa: BLE001 - a script that no longer loads is a reason, not a crash
        return None, f"its script {name} does not load any more ({str(exc).splitlines()[0] if str(exc) else exc})"
    if shown is not None:
        script = replace(script, path=Path(shown))
    overrides = header.get("script_overrides")
    if overrides is not None and not isinstance(overrides, dict):
        return None, "its header's script_overrides is not a table"
    try:
        return apply_overrides(script, overrides), None
    except (ConfigError, ValueError, TypeError) as exc:
        return None, f"its header's script_overrides cannot be applied ({exc})"


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode) and os.stat(path).st_size <= MAX_SCRIPT_BYTES
    except (OSError, ValueError):
        return False


_MATERIALISED: dict[str, Path] = {}  # an embedded script's key → its file, written once per process
_TEMP: list[str] = []


def _embedded_script(header: dict[str, Any]) -> tuple[Path, str, str | None] | str:
    """Where to load the log's own copy of a script from, the name the log gives it, and its text (None: read
    the file); or why it cannot be used. A script that plays a MIDI song is written out, with its song, to a
    private temporary folder, because the song is read by path; any other is checked from its text."""
    name = str(header["script"])
    text = header.get("script_toml")
    files = header.get("script_files") or []
    if not isinstance(text, str) or not isinstance(files, list):
        return "its header's copy of the script is damaged"
    digest = hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()
    if digest != header.get("script_sha256"):
        return "its copy of the script does not match the script's SHA-256 (the log was changed)"
    blobs = []
    for f in files:
        fname = f.get("name") if isinstance(f, dict) else None
        if (not isinstance(fname, str) or not fname or len(fname) > 255 or Path(fname).is_absolute()
                or ".." in Path(fname).parts or not isinstance(f.get("base64"), str)):
            return "its copy of the script's song is damaged"
        try:
            raw = base64.b64decode(f["base64"], validate=True)
        except ValueError:
            return "its copy of the script's song is damaged"
        if hashlib.sha256(raw).hexdigest() != f.get("sha256"):
            return f"its copy of the song {fname} does not match its SHA-256 (the log was changed)"
        blobs.append((fname, raw))
    stem = Path(name).name if Path(name).name.endswith(".toml") else "script.toml"
    if not blobs:
        return Path(stem), name, text
    key = hashlib.sha256(json.dumps([name, digest, sorted(f.get("sha256") for f in files)]).encode()).hexdigest()
    if key not in _MATERIALISED:
        try:
            if not _TEMP:
                _TEMP.append(tempfile.mkdtemp(prefix="tandem-scripts-"))  # 0700, removed when the process ends
                atexit.register(shutil.rmtree, _TEMP[0], True)
            folder = Path(_TEMP[0]) / key[:32]
            for fname, raw in blobs:
                (folder / fname).parent.mkdir(parents=True, exist_ok=True)
                (folder / fname).write_bytes(raw)
            (folder / stem).write_text(text, "utf-8", errors="surrogatepass")
        except (OSError, UnicodeError) as exc:  # no temporary folder, a full disk
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            return f"its copy of the script and its song could not be written out to be read ({why})"
        _MATERIALISED[key] = folder / stem
    return _MATERIALISED[key], name, None


def _objective(d: dict[str, Any]) -> ObjectiveRecord:
    value = d.get("value")
    if not (value is None or isinstance(value, bool) or _is(value, "number")
            or isinstance(value, float) and math.isnan(value)):
        value = None  # a value no judging gives (a damaged summary): not shown as a figure
    return ObjectiveRecord(id=str(d.get("id"))[:200], status=str(d.get("status", ""))[:200],
                           sentence=str(d.get("sentence", ""))[:2000], value=value,
                           met=d.get("met") if d.get("met") in (True, False, None) else None,
                           source=str(d.get("source") or "script")[:20],
                           script=d.get("script") if isinstance(d.get("script"), str) else None)


def plan_objectives_of(header: dict[str, Any]) -> list:
    """The plan objectives a session judged, as its header recorded them (a log without them: none).

    Raises
    ------
    ConfigError
        A recorded objective does not check (a damaged header).
    """
    out = []
    schema = header.get("schema")
    old = not (isinstance(schema, int) and schema >= 3)
    recorded = header.get("plan_objectives") or []
    if not isinstance(recorded, list):
        raise ConfigError("The session log's header has plan_objectives that are not a list of objectives.")
    for d in recorded:
        if old and isinstance(d, dict) and d.get("min_trials") == 1:
            # Before aggregates needed enough counted trials, every objective was written with min_trials 1
            # (the default then): judged again, it takes today's default (docs/definitions.md).
            d = {k: v for k, v in d.items() if k != "min_trials"}
        try:
            out.append(Objective.from_dict(d))
        except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError, RecursionError) as exc:
            raise ConfigError(f"The session log's header has a plan objective that does not check "
                              f"({tidy_sentence(str(exc))}).") from None
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


def _trial(d: dict[str, Any], activity: int = 0, plan_params: dict[str, Any] | None = None) -> TrialRecord | None:
    """A logged trial line as a record; None when a field has a type or size no trial has (the line is
    skipped and counted, as an unreadable one)."""
    n, index, start = d.get("n", 0), d.get("index", 0), d.get("start_s", 0.0)
    tempo, close, act = d.get("tempo_bpm", 0.0), d.get("close_s"), d.get("activity")
    raw_scores = d.get("scores") or {}
    if not (_is(n, "int") and _is(index, "int") and _is(start, "number") and _is(tempo, "number")
            and (close is None or _is(close, "number")) and (act is None or _is(act, "int"))
            and d.get("correct") in (True, False, None) and isinstance(raw_scores, dict)
            and all(isinstance(k, str) and _score_value(v) for k, v in raw_scores.items())
            and isinstance(d.get("prompt", ""), (str, type(None))) and isinstance(d.get("phase", ""), str)):
        return None
    scores = dict(raw_scores)
    if "first_onset_after_handover_ms" not in scores or "tempo_bpm" not in scores:  # written before today's
        scores = todays_scores(scores, tempo, plan_params if isinstance(plan_params, dict) else None)
    prompt = d.get("prompt") or NOT_RECORDED
    return TrialRecord(n=n, index=index, start_s=float(start), tempo_bpm=float(tempo), scores=scores,
                       correct=d.get("correct"), prompt=prompt if prompt in TRIAL_PROMPTS else NOT_RECORDED,
                       close_s=close, phase=d.get("phase", "trial"), activity=act if act is not None else activity)


def _score_value(value: Any, depth: int = 0) -> bool:
    """Whether a logged score is one a trial can have: a number (NaN: not measured), text, true/false, none,
    or a list of those (onset times)."""
    if value is None or isinstance(value, (bool, str)) and len(str(value)) <= 1000:
        return True
    if isinstance(value, float):
        return not math.isinf(value) and (math.isnan(value) or abs(value) < 1e15)
    if isinstance(value, int):
        return abs(value) < 1 << 53
    if isinstance(value, list) and depth == 0 and len(value) <= 100_000:
        return all(_score_value(v, 1) for v in value)
    return False


def judge_logged(header: dict[str, Any], trials: list[TrialRecord],
                 activities: tuple[ActivityRecord, ...] | None = None) -> tuple[list[dict], str | None]:
    """A visit's objectives judged on its logged trials (:func:`~engine.scoring.judge.judge_visit`, this visit
    alone): ``(objectives, None)``, or ``(what could be judged, why not all)``. ``activities`` default: one,
    the header's script."""
    if activities is None:
        activities = (ActivityRecord(0, str(header.get("script") or ""), "", "", header, "", tuple(trials)),)

    class _Logged:  # what judge_visit reads of a TrialResult
        def __init__(self, t: TrialRecord) -> None:
            self.trial = Trial(t.scores, prompt=t.prompt, dropout=t.dropout)

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
            fields = {key: v for key, v in d.items() if key not in _NOT_FIELDS}
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
    cut off, garbage, a line longer than :data:`MAX_LINE_BYTES`) is skipped and counted in :attr:`skipped`,
    and :attr:`skipped_at` holds the 0-based positions of those lines among ``raw_lines``. Empty lines are
    not records."""

    def __init__(self, raw_lines: list[bytes] | list[str]) -> None:
        self.raw_lines = raw_lines
        self.skipped = 0
        self.skipped_at: list[int] = []

    def __iter__(self):
        for k, raw in enumerate(self.raw_lines):
            if not raw.strip():
                continue
            d = None
            if len(raw) <= MAX_LINE_BYTES:
                try:
                    d = json.loads(raw)
                except (ValueError, RecursionError):
                    d = None
            if not isinstance(d, dict):
                self.skipped += 1
                self.skipped_at.append(k)
                continue
            yield d


def read_log(path: str | Path, *, judge: bool = True) -> SessionRecord:
    """Read one session log (a session folder or its ``events.jsonl``); see the module docstring.

    ``judge=False`` leaves an interrupted log's objectives empty (a listing does not need them).

    Raises
    ------
    DataDirError
        The file cannot be read, is not a regular file, or its first line is not a session header.
    """
    path = log_path(path)
    data = read_log_bytes(path)
    lines = data.split(b"\n")
    if not lines[0].strip():
        raise _bad_header(path, "it is empty")
    if len(lines[0]) > MAX_LINE_BYTES:
        raise _bad_header(path, "its first line is too long to be a header")
    header = _parse_header(path, lines[0])
    events = 0
    last_frame = 0
    trials: list[TrialRecord] = []
    notes: list[NoteRecord] = []
    summary: dict[str, Any] | None = None
    after_summary = 0  # records after it (a whole log has none)
    begun: dict[int, dict[str, Any]] = {}
    ended: dict[int, str] = {}
    marked: set[tuple[int, int]] = set()  # (activity, trial number) the therapist gave a prompt level for
    plans: dict[tuple, Any] = {}  # (activity, index, phase) → the plan's params, for a trial's difficulty
    bad_trials = 0
    current = 0
    rate = header.get("sample_rate") or 0
    xruns: list[tuple[int, int]] = []
    records = LogLines(lines[1:])
    for d in records:
        kind = d.get("type")
        if summary is not None:
            after_summary += 1
        if kind == "summary":
            summary = d
            continue
        events += 1
        frame = d.get("frame")
        if _is(frame, "int") and frame > last_frame:
            last_frame = frame
        if kind == "activity" and _is(d.get("index"), "int") and 0 <= d["index"] < 1000:
            current = d["index"]
            begun[current] = d
        elif kind == "activity_end" and _is(d.get("index"), "int"):
            ended[d["index"]] = str(d.get("status") or "stopped")
        elif kind == "plan":
            plans[(current, _hashable(d.get("index")), _hashable(d.get("phase")))] = d.get("params")
        elif kind == "trial" and d.get("phase", "trial") == "trial":
            t = _trial(d, current, plans.get((current, _hashable(d.get("index")), _hashable(d.get("phase", "trial")))))
            if t is None:
                bad_trials += 1
            else:
                trials.append(t)
        elif kind == "xrun" and _is(frame, "int") and _is(d.get("frames", 0), "int"):
            xruns.append((frame, d.get("frames", 0)))
        elif kind == "mark" and d.get("action") == "prompt" and _is(d.get("trial"), "int"):
            marked.add((current, d["trial"]))
        elif kind == "mark" and d.get("action") == "note" and isinstance(d.get("text"), str) and d["text"]:
            trial = d.get("trial", -1)
            notes.append(NoteRecord(t_s=round(frame / rate, 3) if rate and _is(frame, "int") else 0.0,
                                    trial=trial if _is(trial, "int") else -1, text=d["text"][:10_000]))
    if xruns and _is(rate, "number") and rate > 0:  # the trials an audio dropout touched (engine.scoring.dropouts)
        trials = [replace(t, dropout=True) if window_has_xrun(xruns, t.start_s, t.close_s, rate) else t
                  for t in trials]
    if _guessed_prompts(header):
        trials = [t if t.prompt != "independent" or (t.activity, t.n) in marked else replace(t, prompt=NOT_RECORDED)
                  for t in trials]
    damage = _damage(path, header, lines, records, summary, after_summary, bad_trials, len(trials))
    return _record(path, header, trials, summary, skipped=records.skipped + bad_trials, events=events,
                   last_frame=last_frame, judge=judge, notes=notes, begun=begun, ended=ended, damage=damage)


def _hashable(value: Any) -> Any:
    return value if isinstance(value, (int, str, type(None))) else repr(value)[:100]


def _damage(path: Path, header: dict[str, Any], lines: list[bytes], records: LogLines,
            summary: dict[str, Any] | None, after_summary: int, bad_trials: int, trials: int) -> list[str]:
    """What a log lacks or has wrong, one phrase each (docs/visits.md, "A log checks itself"); empty: whole.

    - the closing ``summary`` line's seal (``log_lines``, ``log_sha256``: schema 4) differs from the lines
      before it: lines were changed, added or removed after it was written;
    - records after the summary line; a trial line a session never writes (wrong types or sizes);
    - an unreadable line other than the last (a crash cuts only the last line);
    - no summary line, though ``summary.json`` beside the log says the visit ended (schema 3 and later:
      it is written after the summary line): the log lost its end;
    - a summary whose count of trials differs from the trial lines.
    """
    damage: list[str] = []
    schema = header.get("schema") or 1
    last = max((k for k, raw in enumerate(lines) if raw.strip()), default=0)
    middle = [k for k in records.skipped_at if k + 1 != last]
    if middle:
        damage.append(f"{len(middle)} line{'s' if len(middle) != 1 else ''} in the middle cannot be read")
    if bad_trials:
        damage.append(f"{bad_trials} trial line{'s' if bad_trials != 1 else ''} with values no session writes, "
                      f"left out")
    if summary is not None:
        if after_summary:
            damage.append(f"{after_summary} line{'s' if after_summary != 1 else ''} after its closing summary")
        if not isinstance(schema, int) or schema < 2:
            damage.append("its header names no log format that ends in a closing summary (its schema is missing or "
                          "changed)")
        if (isinstance(schema, int) and schema >= 4) or "log_sha256" in summary or "log_lines" in summary:
            # Sealed (a log of today): checked whatever its header now says it is.
            at = next((k for k in range(last, -1, -1) if _is_summary_line(lines[k])), None)
            want_lines, want_sha = summary.get("log_lines"), summary.get("log_sha256")
            if not summary_intact(summary):
                damage.append("its closing summary was changed after it was written: its own SHA-256 does not "
                              "match")
            if at is None or not _is(want_lines, "int") or not isinstance(want_sha, str):
                damage.append("its closing summary has no seal: no count and SHA-256 of the lines before it")
            else:
                before = b"\n".join(lines[:at]) + b"\n"
                if want_lines != at:
                    damage.append(f"it has {at} lines before its closing summary, which counted {want_lines}")
                elif hashlib.sha256(before).hexdigest() != want_sha:
                    damage.append("its lines differ from what was written: the SHA-256 in its closing summary "
                                  "does not match")
        logged = summary.get("trials")
        if _is(logged, "int") and logged != trials + bad_trials and not damage:
            damage.append(f"its summary counts {logged} trials but {trials + bad_trials} are in the log")
    elif schema >= 3:
        side = _sidecar(path)
        if side is not None and side.get("status") in ("completed", "stopped"):
            logged = side.get("trials")
            count = f"; {trials} of its {len(logged)} trials are in it" if isinstance(logged, list) else ""
            damage.append(f"its end is missing: the visit {side['status']}, says summary.json, but the log has "
                          f"no closing summary{count}")
    return damage


def log_damage(path: Path, header: dict[str, Any], lines: list[bytes], records: LogLines,
               parsed: list[dict[str, Any]]) -> list[str]:
    """What :func:`read_log` finds wrong with a log, from a caller's own reading of it (``lines``: its raw lines;
    ``parsed``: the records of ``records``, in order), without reading it again: re-scoring uses it."""
    summary = None
    after = trials = bad = 0
    for d in parsed:
        if summary is not None:
            after += 1
        if d.get("type") == "summary":
            summary = d
        elif d.get("type") == "trial" and d.get("phase", "trial") == "trial":
            if _trial(d) is None:
                bad += 1
            else:
                trials += 1
    return _damage(path, header, lines, records, summary, after, bad, trials)


def _is_summary_line(raw: bytes) -> bool:
    if b'"summary"' not in raw:
        return False
    try:
        d = json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return isinstance(d, dict) and d.get("type") == "summary"


def _guessed_prompts(header: dict[str, Any]) -> bool:
    """A live log of before prompt levels were never guessed (schema 1 and 2): it logged a trial nobody
    marked as ``independent``. Read, such a trial is ``not recorded`` unless a ``p`` key mark gave its level.
    (A simulated child's trials were independent by construction: its model played unprompted.)"""
    return int(header.get("schema") or 1) < 3 and header.get("kind") == "live"


_NOT_FIELDS = ("type", "frame", "index", "schema")  # an activity line's own, or the header's alone


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
            ended: dict[int, str] | None = None, damage: list[str] | None = None) -> SessionRecord:
    rate = header.get("sample_rate") or 0
    run_to_last = round(last_frame / rate, 3) if rate else 0.0
    objectives: list[dict] | None = None
    extra: dict[str, Any] = {}
    damage = list(damage or ())
    schema = header.get("schema") or 1
    duration = None
    if summary is not None:
        status = summary.get("status") if summary.get("status") in ("completed", "stopped") else "stopped"
        objectives = summary.get("objectives") if isinstance(summary.get("objectives"), list) else []
        duration = summary.get("duration_s")
        extra = {k: v for k, v in summary.items() if k != "type"}
    else:
        side = _sidecar(path) if schema < 3 else None
        if side is not None:  # ended, but before summary lines (schema 1) or without one (metronome demo)
            # Written at the end: no status means it ended normally; a live session that failed says so.
            status = side.get("status") or "completed"
            status = status if status in ("completed", "stopped") else "interrupted"
            objectives = side.get("objectives") if isinstance(side.get("objectives"), list) else None
            stream = side.get("stream")
            frames = stream.get("frames") if isinstance(stream, dict) else None
            duration = round(frames / rate, 3) if _is(frames, "int") and rate else None
            extra = {"from": SUMMARY_JSON}
        else:
            status = "running" if is_running(path) else "interrupted"
    if damage:
        # What the summary says cannot be trusted of a log that is not whole: judged again from what it has.
        extra["damage"] = damage
        objectives = None
        status = "damaged"
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
        duration_s=float(duration) if _is(duration, "number") else run_to_last,
        child_id=str(header.get("child_id") or ""), script=script, title=str(title),
        kind=str(header.get("kind") or ""), skipped_lines=skipped, events=events, summary=extra,
        notes=tuple(notes or ()), activities=activities, damage=tuple(damage),
    )


def _sealed_summary(data: bytes) -> dict[str, Any] | None:
    """The summary line of a whole log of today (its last line, sealed with the count and SHA-256 of the lines
    before it, both right), or of an older log (its last line, which has no seal); else None."""
    body = data.rstrip(b"\n")
    cut = body.rfind(b"\n")
    if cut < 0:
        return None
    try:
        d = json.loads(body[cut + 1:])
    except (ValueError, RecursionError):
        return None
    if not isinstance(d, dict) or d.get("type") != "summary":
        return None
    if "log_sha256" not in d:
        return d
    if not summary_intact(d):
        return None
    before = data[:cut + 1]
    if d.get("log_lines") != before.count(b"\n") or hashlib.sha256(before).hexdigest() != d.get("log_sha256"):
        return None
    return d


def peek_log(path: str | Path) -> dict[str, Any]:
    """What a listing shows of one log (a visit), reading as little as it can.

    A whole ended log is read as its header line and its last line (the
    summary; a log of today: after checking the summary's seal against the
    lines before it); any other (interrupted, running, damaged, old) is read
    whole (:func:`read_log`). Returns ``date`` (the start, ISO 8601),
    ``child``, ``script`` (the first activity's), ``title`` (every
    activity's), ``kind``, ``duration_s``, ``trials`` (over the visit),
    ``status``, ``path`` (the log), ``activities`` (per activity:
    ``script``, ``title``, ``trials``, ``status``), ``simulated``,
    ``probe`` and ``damage`` (what is wrong with a damaged log; else empty).
    """
    path = log_path(path)
    data = read_log_bytes(path)
    first = data.split(b"\n", 1)[0]
    if not first.strip():
        raise _bad_header(path, "it is empty")
    header = _parse_header(path, first[:MAX_LINE_BYTES + 1])
    summary = _sealed_summary(data)
    apart = {"simulated": is_simulated(header), "probe": is_probe(header)}
    if (summary is not None and _is(summary.get("trials"), "int")
            and isinstance(header.get("schema"), int) and header["schema"] >= 2  # logs that end in a summary
            and (header["schema"] < 4 or "log_sha256" in summary)):
        status = summary.get("status") if summary.get("status") in ("completed", "stopped") else "stopped"
        logged = summary.get("activities")
        if isinstance(logged, list) and logged and all(isinstance(a, dict) for a in logged):
            acts = [{"script": str(a.get("script") or ""), "title": str(a.get("title") or _stem(a.get("script"))),
                     "trials": a.get("trials") if _is(a.get("trials"), "int") else 0,
                     "status": str(a.get("status") or "")} for a in logged]
        else:  # one script per log (schema 2)
            one = _activity(0, header, status, [])
            acts = [{"script": one.script, "title": one.title, "trials": summary["trials"], "status": status}]
        duration = summary.get("duration_s")
        return {"date": str(header.get("started") or ""), "child": str(header.get("child_id") or ""),
                "script": acts[0]["script"], "title": " · ".join(a["title"] for a in acts if a["title"]),
                "kind": str(header.get("kind") or ""), "duration_s": duration if _is(duration, "number") else None,
                "trials": summary["trials"], "status": status, "path": str(path), "activities": acts,
                "damage": [], **apart}
    rec = read_log(path, judge=False)
    return {"date": rec.started, "child": rec.child_id, "script": rec.script, "title": rec.title, "kind": rec.kind,
            "duration_s": rec.duration_s, "trials": len(rec.trials), "status": rec.status, "path": str(path),
            "activities": [{"script": a.script, "title": a.title, "trials": len(a.trials), "status": a.status}
                           for a in rec.activities], "damage": list(rec.damage), **apart}


def _stem(script: Any) -> str:
    return Path(str(script)).stem if script else ""
