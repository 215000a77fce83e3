"""The one session driver: every session Tandem runs goes through :func:`run_session`.

A live session on a sound card, a simulated child's session, an assessment
task and a homepack render differ only in what is handed to the driver
(PsychoPy's single ``TrialHandler`` loop, whoever responds):

- the **stream** (:mod:`engine.session.parts`): how the clock runs;
- the **activity** (:mod:`engine.session.activities`): a script, a song,
  free play;
- the **parts**: what plays into the session (the devices, a simulated
  child) and what watches it (an off-screen screenshot);
- the **screen** and the therapist's **controls**: the session screen or
  the terminal's keys (:class:`~engine.session.controls.SessionUI`), a queue
  of commands, or nothing.

The driver does the rest once, the same way for all of them:

1. starts the stream; only then makes the session folder (a device that
   fails leaves no empty session) and starts the parts;
2. writes the log's header: the engine, the child, the stream's rate and
   latencies, and the fields of the activity, the stream and each part;
3. starts the activity :attr:`~engine.session.parts.Stream.start_delay_s`
   after now (held for the therapist's space key when asked);
4. loops: the parts' new events are logged, and the inputs among them go
   to the activity; the therapist's keys and commands are obeyed; the
   activity steps; the parts watch; the stream runs on, until the activity
   is done, the duration is up or the therapist stops;
5. whatever happened: silences and stops everything, writes the stream's
   counters, ``summary.json`` and, for a session that ended (completed or
   stopped, not failed), the log's closing ``summary`` line, and closes the
   folder (:class:`~engine.records.folder.SessionFolder`).

The log is written by the session's thread only; events from device threads
reach it through the parts' :meth:`~engine.session.parts.Part.poll`.
"""

from __future__ import annotations

import functools
import queue
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import engine
from engine.events import CueEvent, InputEvent, StatusEvent
from engine.records.folder import SessionFolder
from engine.records.log import script_fields, script_name
from engine.scoring.judge import judge_visit, trial_line
from engine.session.activities import Activity
from engine.session.controls import SessionUI
from engine.session.parts import Context, Part, Stream

__all__ = ["ACTIVITY_GAP_S", "MAX_PAUSE_S", "SWITCH_INTERVAL_S", "SessionOutcome", "now", "run_session"]

SWITCH_INTERVAL_S = 0.0005
"""The interpreter's thread switch interval while a session runs (default 5 ms).

A MIDI hit's feedback sound passes three threads of the control process
(rtmidi's callback, the router, the mixer's producer) within a 6 ms budget;
with the default interval one thread holding the GIL can make the next wait
5 ms. Half a millisecond bounds that wait; the cost is more switches, which
the control process (no audio callback: that runs in its own process) can
afford. Restored when the session ends."""


def _short_switch_interval(run: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``run`` with the thread switch interval at most :data:`SWITCH_INTERVAL_S`, restored after."""

    @functools.wraps(run)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        before = sys.getswitchinterval()
        sys.setswitchinterval(min(before, SWITCH_INTERVAL_S))
        try:
            return run(*args, **kwargs)
        finally:
            sys.setswitchinterval(before)

    return wrapper

def now() -> datetime:
    """The wall-clock time a visit starts and ends (local, with its offset); a test fakes the calendar here."""
    return datetime.now().astimezone()


#: Seconds of stream time an offline session waits paused for "resume" before it gives up (a caller that forgot).
MAX_PAUSE_S = 3600.0


@dataclass
class SessionOutcome:
    """What a session did: its folder, how it ended, its trials and objectives, and ``summary.json``."""

    folder: Path | None
    status: str  # "completed", "stopped" (by the therapist, Ctrl-C or --duration); "failed" raises instead
    summary: dict[str, Any] = field(default_factory=dict)
    results: list = field(default_factory=list)
    stop_reason: str | None = None


class _NoFolder:
    """The log of a session that keeps none (a homepack render): every line is dropped."""

    def write_event(self, event: Any) -> None:
        pass

    def close(self) -> None:
        pass


@_short_switch_interval
def run_session(activity: Activity | Sequence[Activity], *, stream: Stream, kind: str, child_id: str,
                root: Path | None = None, parts: Sequence[Part] = (), ui: SessionUI | None = None,
                controls: queue.Queue | None = None, echo: Callable[[str], None] | None = print,
                echo_trials: bool = False, duration_s: float | None = None, wait_for_space: bool = False,
                record_audio: bool = False, history: dict[str, list] | None = None,
                header: dict[str, Any] | None = None,
                on_begin: Callable[[Activity], None] | None = None,
                started: datetime | None = None) -> SessionOutcome:
    """Run one visit (see the module docstring) and return what it did.

    Parameters
    ----------
    activity
        What is played: one activity (a script, a song, free play) or the visit's activities, in order.
    stream
        How the clock runs; started here, closed here.
    kind
        The log's ``kind``: ``"live"`` (a child on real devices) or ``"demo"`` (a simulated child).
    root
        The data folder the session folder goes under; None keeps no log (a render).
    parts
        Inputs and observers, started in this order after the stream.
    ui
        The therapist's screen or terminal (made with the stream's engine); closed here.
    controls
        Commands while the session runs: ``"pause"``, ``"resume"``, ``"toggle"``, ``"next"`` (end this
        activity, go on with the next), ``"stop"`` (end the visit), and the terminal's raw keys (handled as
        the screen's, by ``ui``).
    echo, echo_trials
        Where lines for the therapist go (None: nowhere); ``echo_trials`` prints each trial as it is scored.
    duration_s
        End the visit after this many seconds (a script is stopped: "duration reached").
    wait_for_space
        Hold the first script until the therapist's space key (needs ``ui`` or ``controls``).
    record_audio
        Write what was played to ``audio.wav`` (an offline stream).
    history
        Earlier visits' objective results of this run (a demo of several visits), extended here
        (see :func:`~engine.scoring.judge.judge_visit`).
    header
        More fields for the log's header (the assessment's task, the demo's session number).
    on_begin
        Called once each activity started (to print what runs, with its keys).
    started
        The visit's date and time as logged (default: now); a simulated visit may be dated apart from the
        others of its run (``tandem demo --days-apart``), as a calendar of visits is.

    Raises
    ------
    TandemError
        A device that fails (the session folder, if made, keeps what was recorded; no summary line).
    """
    acts = [activity] if isinstance(activity, Activity) else list(activity)
    if not acts:
        raise ValueError("A visit needs at least one activity.")
    say = echo or (lambda line: None)
    folder: SessionFolder | _NoFolder | None = None
    outcome = SessionOutcome(folder=None, status="failed")
    asked_to_stop = False
    stats: dict[str, Any] = {}
    visit = _Visit(acts, started or now())
    try:
        params = stream.start()
        eng = stream.engine
        visit.engine = eng
        name = acts[0].name if len(acts) == 1 else "visit"
        folder = (SessionFolder(root, child_id=child_id, name=name, started=visit.started_at) if root is not None
                  else _NoFolder())
        parts = list(parts)

        def write(event: Any) -> None:
            if isinstance(event, dict) and event.get("type") in _ACTIVITY_LINES:
                event = {**event, "activity": visit.index}
            folder.write_event(event)
            if isinstance(event, CueEvent):
                for p in parts:
                    p.on_cue(event)

        if ui is not None:
            ui.write = write
            say = ui.echo  # lines printed from here on clear the status line first
        ctx = Context(engine=eng, write=write, echo=say)
        for p in parts:
            p.start(ctx)
        if isinstance(folder, SessionFolder):
            folder.write_header(_header(acts, stream, parts, ui, controls, kind=kind, child_id=child_id,
                                        params=params, extra=header or {}, started=visit.started_at))
            if record_audio:
                folder.open_audio(sample_rate=params.sample_rate, channels=eng.channels_out)
                stream.on_audio = folder.write_audio
        # Opening devices reorders the JACK graph, which can cost an xrun: those are counted apart.
        stats["xruns_during_setup"] = eng.xruns
        rate = eng.sample_rate
        end_frame = eng.now_frame + int(duration_s * rate) if duration_s is not None else None

        def on_plan(plan: Any) -> list[dict]:
            return [t for p in parts for t in p.on_plan(plan)]

        timed_out = False
        try:
            for i, act in enumerate(acts):
                if asked_to_stop or (end_frame is not None and eng.now_frame >= end_frame):
                    break
                visit.index = i
                folder.write_event({"type": "activity", "frame": eng.now_frame, "index": i,
                                    **script_fields(act.header())})
                delay = stream.start_delay_s if i == 0 else ACTIVITY_GAP_S
                act.begin(ctx, start_s=eng.now_frame / rate + delay, lookahead_s=stream.lookahead_s,
                          on_plan=on_plan)
                for p in parts:  # before the activity's first step: nothing is planned or scored yet
                    p.on_activity(i, act)
                if ui is not None:
                    ui.on_activity(act)
                visit.started.append(act)
                runner = act.runner
                if (i == 0 and runner is not None and wait_for_space
                        and (controls is not None or (ui is not None and ui.screen))):
                    runner.pause()  # held until the therapist's space: the child sits down first
                if on_begin is not None:
                    on_begin(act)
                ended = _run_activity(act, stream, parts, ui, controls, write=write, end_frame=end_frame,
                                      echo_trials=echo_trials, say=say)
                asked_to_stop = ended in ("stop", "paused too long")
                if ended is not None:
                    act.stop(_STOP_REASONS[ended])
                # Every other way out has stopped or completed the script: one still running here ran out of time
                # (free play and a song end well that way).
                act.stop("duration reached")
                status = "completed" if act.finished and ended is None else "stopped"
                timed_out = ended is None and status == "stopped"
                visit.statuses.append(status)
                reason = (act.runner.stop_reason if act.runner is not None else None) or _STOP_REASONS.get(ended) or (
                    "duration reached" if timed_out else None)
                folder.write_event({"type": "activity_end", "frame": eng.now_frame, "index": i, "status": status,
                                    "trials": act.runner.trials_done if act.runner is not None else 0,
                                    "stop_reason": reason})
            # A visit is completed when every activity was played (the therapist may have moved on from one):
            # stopped when the therapist stopped it or its time ran out.
            status = "completed" if len(visit.started) == len(acts) and not (asked_to_stop or timed_out) else "stopped"
            if len(acts) == 1:  # one activity: as it ended
                status = visit.statuses[0]
        except KeyboardInterrupt:
            status = "stopped"
            if visit.started and len(visit.statuses) < len(visit.started):
                act = visit.started[-1]
                act.stop("stopped early (Ctrl-C)")
                visit.statuses.append("stopped")
                folder.write_event({"type": "activity_end", "frame": eng.now_frame, "index": len(visit.started) - 1,
                                    "status": "stopped", "trials": act.runner.trials_done if act.runner else 0,
                                    "stop_reason": "stopped early (Ctrl-C)"})
        stream.finish()
        outcome.status = status
    finally:
        screen_stats = None
        last = visit.started[-1] if visit.started else acts[0]
        if ui is not None and folder is None:  # the stream never ran: no session to show the end of
            if ui.screen is not None:
                ui.screen.close()
        elif ui is not None:
            try:
                screen_stats = ui.close(last.runner)
            except Exception as exc:  # noqa: BLE001 - the screen must not cost the session
                say(f"note: the session screen did not close cleanly ({exc}).")
        for p in parts:
            try:
                p.stop()
            except Exception:  # noqa: BLE001 - closing must go on
                pass
        # Read before the engine's memory goes (an output in the audio process counts there).
        stats = {**stream.engine.stats(), "xruns_during_setup": stats.get("xruns_during_setup", 0)}
        for p in parts:
            stats.update(p.stats())
        part_summaries = [p.summary() for p in parts]
        rate = stream.engine.sample_rate
        stream.close()
        if folder is not None:  # None only while an exception propagates (the stream never ran)
            if ui is not None:
                stats["screen"] = screen_stats
            outcome = _finish(folder, visit, parts, part_summaries, outcome, stats, history=history,
                              child_id=child_id, rate=rate)
    return outcome


#: Seconds between one activity's end and the next one's first cue.
ACTIVITY_GAP_S = 1.0
#: Why an activity ended early, as its ``activity_end`` line says.
_STOP_REASONS = {"next": "the therapist moved on to the next activity", "stop": "stopped by the therapist",
                 "paused too long": "paused too long"}
#: The log lines of an activity's trials, which carry the activity's index.
_ACTIVITY_LINES = ("plan", "trial", "trial_abandoned")


class _Visit:
    """The visit's activities as they run: which one runs now, which started and how each ended."""

    def __init__(self, acts: list[Activity], started_at: datetime) -> None:
        self.acts = acts
        self.started_at = started_at
        self.index = 0
        self.engine: Any = None  # the stream's engine, once it started
        self.started: list[Activity] = []
        self.statuses: list[str] = []


def _log_xruns(eng: Any, write: Callable[[Any], None]) -> None:
    """Each xrun since the last call as a log line: ``{"type": "xrun", "frame": F, "frames": N}``, where F is
    the stream frame of the first block after it and N the frames the device ran on without a block (the
    clock jumped over them; 0: the xrun cost no frames). docs/visits.md, "Xruns"."""
    for frame, frames in eng.pop_xruns():
        write({"type": "xrun", "frame": frame, "frames": frames})


def _run_activity(activity: Activity, stream: Stream, parts: Sequence[Part], ui: SessionUI | None,
                  controls: queue.Queue | None, *, write: Callable[[Any], None], end_frame: int | None,
                  echo_trials: bool, say: Callable[[str], None]) -> str | None:
    """Step one activity until it is done, the visit's time is up, or the therapist moves on (``"next"``)
    or stops the visit (``"stop"``; an offline visit nobody resumes: ``"paused too long"``); returns which
    of those, or None."""
    eng = stream.engine
    rate = eng.sample_rate
    runner = activity.runner
    shown = 0
    paused_at: int | None = None
    while end_frame is None or eng.now_frame < end_frame:
        stream.check()
        _log_xruns(eng, write)
        for p in parts:
            for event in p.poll():
                write(event)
                if isinstance(event, InputEvent):
                    activity.take(event)
        asked = _obey(controls, activity, ui, parts)
        if asked is None and ui is not None:
            asked = ui.step(runner)
        if asked in ("stop", "next"):
            return asked
        activity.step()
        if runner is not None:
            if echo_trials:
                shown = _echo_trials(runner, say, shown)
            if stream.live or runner.state != "paused":
                paused_at = None
            elif paused_at is None:
                paused_at = eng.now_frame
            elif eng.now_frame - paused_at > MAX_PAUSE_S * rate:  # an offline session nobody resumes
                runner.stop("paused too long")
                return "paused too long"
        for p in parts:
            p.after_step(runner)
        if activity.done:
            return None
        stream.advance(busy=runner is not None)
    return None


def _header(acts: list[Activity], stream: Stream, parts: Sequence[Part], ui: SessionUI | None,
            controls: queue.Queue | None, *, kind: str, child_id: str, params, extra: dict,
            started: datetime) -> dict[str, Any]:
    """The visit's header. Its ``activities`` list each activity's fields (as its ``activity`` line has
    them); a one-activity visit also has them at the top level, as a schema-2 log did."""
    header: dict[str, Any] = {
        "engine_version": engine.__version__, "kind": kind, "kind_seed": None, "child_id": child_id,
        # To the millisecond: visits started in the same second still list in the order they started.
        "started": started.isoformat(timespec="milliseconds"),
        "sample_rate": params.sample_rate, "blocksize": params.blocksize,
        "latency_frames": {"input": params.input_latency_frames, "output": params.output_latency_frames},
        "plan_objectives": [],
        **(acts[0].header() if len(acts) == 1 else {}), **stream.header(),
        "activities": [_planned(a) for a in acts],
    }
    if kind == "live":
        header["ui"] = "screen" if ui is not None and ui.screen is not None else (
            "terminal" if controls is not None else "none")
    for p in parts:
        fields = p.header()
        header["latency_frames"].update(fields.pop("latency_frames", {}))
        header.update(fields)
    header.update(extra)
    # Kept apart from the child's treatment data: a simulated child's visit, and an assessment task (a probe).
    header["simulated"] = kind == "demo"
    header["probe"] = bool(header.get("assessment"))
    return header


def _planned(activity: Activity) -> dict[str, Any]:
    fields = activity.header()
    script = fields.get("script")
    return {"script": script_name(script) if script and script != "free" else script, "title": fields.get("title"),
            "intervention": fields.get("intervention")}


def _obey(controls: queue.Queue | None, activity: Activity, ui: SessionUI | None, parts: Sequence[Part]) -> str | None:
    """Apply the therapist's commands and keys waiting in ``controls``; returns "stop" when asked to stop."""
    runner = activity.runner
    while controls is not None:
        try:
            command = controls.get_nowait()
        except queue.Empty:
            return None
        if isinstance(command, dict):  # a key from the terminal
            asked = ui.take(command, runner) if ui is not None else None
            if asked in ("stop", "next"):
                return asked
            continue
        if command == "stop":
            activity.stop("stopped by the therapist")
            if ui is not None:
                ui.echo("Stopping: the trials scored so far are kept.")
            return "stop"
        if command == "next":
            activity.stop("the therapist moved on to the next activity")
            if ui is not None:
                ui.echo("Moving on: the trials scored so far are kept.")
            return "next"
        if runner is None:
            continue
        if command == "toggle":
            command = "resume" if runner.state == "paused" else "pause"
        if command == "pause" and runner.pause():
            for p in parts:
                p.pause()  # a simulated child stops too; the trial is played again on resume
            if ui is not None:
                ui.echo(f"Paused after {runner.trials_done} trials; the trial that was playing will be played "
                        f"again. Space resumes.")
        elif command == "resume" and runner.resume() and ui is not None:
            ui.echo("Resumed.")
    return None


def _echo_trials(runner, echo: Callable[[str], None], shown: int) -> int:
    """Print the trials scored since the first ``shown``; returns how many are shown now."""
    for i in range(shown, runner.trials_done):
        r = runner.results[i]
        echo("  " + trial_line(runner.script.kind, {"n": i + 1, "tempo_bpm": r.plan.tempo_bpm,
                                                     "scores": r.scores, "correct": r.correct}))
    return runner.trials_done


def _finish(folder, visit: _Visit, parts: Sequence[Part], part_summaries: list[dict], outcome: SessionOutcome,
            stats: dict, *, history, child_id: str, rate: int) -> SessionOutcome:
    """The last events, the stream's counters and the summary; the folder is closed whatever happens."""
    try:
        for p in parts:  # what arrived after the last step: not the activity's any more
            for event in p.poll():
                folder.write_event(event)
        if visit.engine is not None:
            _log_xruns(visit.engine, folder.write_event)
        folder.write_event(StatusEvent(frame=stats["frames"], what="stream_stats", detail=stats))
        runners = [a.runner for a in visit.started if a.runner is not None]
        results = [r for runner in runners for r in runner.results]
        last = visit.started[-1].runner if visit.started else None
        if not isinstance(folder, SessionFolder):
            return SessionOutcome(folder=None, status=outcome.status, results=results)
        acts = visit.acts
        summary: dict[str, Any] = {"child_id": child_id, "script": _planned(acts[0])["script"] if len(acts) == 1
                                   else None, "status": outcome.status, "stream": stats,
                                   "files": {"events": folder.events_path.name}, "folder": str(folder.path)}
        if folder.audio_path.exists():
            summary["files"]["audio"] = folder.audio_path.name
        activities = []
        for i, act in enumerate(acts):
            entry = {"index": i, **_planned(act), "status": "not started", "trials": []}
            if i < len(visit.started) and (outcome.status != "failed" or act.runner is not None):
                entry.update(act.summary())
                entry["trials"] = [{**t, "activity": i} for t in entry.get("trials", [])]
            if i < len(visit.statuses):
                entry["status"] = visit.statuses[i]
            elif i < len(visit.started):
                entry["status"] = "interrupted"
            activities.append(entry)
        summary["activities"] = activities
        if len(acts) == 1 and activities[0]["status"] != "not started":
            summary.update({k: v for k, v in activities[0].items() if k not in ("index", "status", "intervention")})
            summary["trials"] = activities[0]["trials"]
        else:
            summary["trials"] = [t for a in activities for t in a["trials"]]
        summary["objectives"] = judge_visit([a.judging() for a in visit.started if a.judging() is not None],
                                            history, date=visit.started_at.date()) if (
            outcome.status != "failed" or runners) else []
        for fields in part_summaries:
            summary.update(fields)
        if outcome.status in ("completed", "stopped"):  # a session that failed has no summary line: it was cut off
            folder.write_summary({
                "status": outcome.status, "ended": now().isoformat(timespec="seconds"),
                "duration_s": round(stats["frames"] / rate, 3) if rate else None,
                "trials": len(summary["trials"]), "objectives": summary["objectives"],
                "activities": [{"index": a["index"], "script": a["script"], "title": a["title"],
                                "status": a["status"], "trials": len(a["trials"])} for a in activities],
            })
        # After the summary line, never before: a summary.json beside a log without its summary line means
        # the log lost its end (damaged), not that the process was killed between the two.
        folder.write_json("summary.json", summary)
        outcome = SessionOutcome(folder=folder.path, status=outcome.status, summary=summary, results=results,
                                 stop_reason=last.stop_reason if last is not None else None)
    finally:
        folder.close()
    return outcome
