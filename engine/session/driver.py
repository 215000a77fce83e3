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

import queue
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import engine
from engine.events import CueEvent, InputEvent, StatusEvent
from engine.records.folder import SessionFolder
from engine.scoring.judge import trial_line
from engine.scoring.objectives import SessionResult
from engine.session.activities import Activity
from engine.session.controls import SessionUI
from engine.session.parts import Context, Part, Stream

__all__ = ["MAX_PAUSE_S", "SessionOutcome", "run_session"]

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


def run_session(activity: Activity, *, stream: Stream, kind: str, child_id: str, root: Path | None = None,
                parts: Sequence[Part] = (), ui: SessionUI | None = None, controls: queue.Queue | None = None,
                echo: Callable[[str], None] | None = print, echo_trials: bool = False,
                duration_s: float | None = None, wait_for_space: bool = False, record_audio: bool = False,
                history: dict[str, list[SessionResult]] | None = None, header: dict[str, Any] | None = None,
                on_begin: Callable[[Activity], None] | None = None) -> SessionOutcome:
    """Run one session (see the module docstring) and return what it did.

    Parameters
    ----------
    activity
        What is played (a script, a song, free play).
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
        Commands while the session runs: ``"pause"``, ``"resume"``, ``"toggle"``, ``"stop"``, and
        the terminal's raw keys (handled as the screen's, by ``ui``).
    echo, echo_trials
        Where lines for the therapist go (None: nowhere); ``echo_trials`` prints each trial as it is scored.
    duration_s
        End the session after this many seconds (a script is stopped: "duration reached").
    wait_for_space
        Hold a script until the therapist's space key (needs ``ui`` or ``controls``).
    record_audio
        Write what was played to ``audio.wav`` (an offline stream).
    history
        Earlier sessions' objective results of this run (a demo of several sessions), extended here.
    header
        More fields for the log's header (the assessment's task, the demo's session number).
    on_begin
        Called once the activity started (to print what runs, with its keys).

    Raises
    ------
    TandemError
        A device that fails (the session folder, if made, keeps what was recorded; no summary line).
    """
    say = echo or (lambda line: None)
    folder: SessionFolder | _NoFolder | None = None
    outcome = SessionOutcome(folder=None, status="failed")
    asked_to_stop = False
    stats: dict[str, Any] = {}
    try:
        params = stream.start()
        eng = stream.engine
        folder = SessionFolder(root, child_id=child_id, name=activity.name) if root is not None else _NoFolder()
        parts = list(parts)

        def write(event: Any) -> None:
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
            folder.write_header(_header(activity, stream, parts, ui, controls, kind=kind, child_id=child_id,
                                        params=params, extra=header or {}))
            if record_audio:
                folder.open_audio(sample_rate=params.sample_rate, channels=eng.channels_out)
                stream.on_audio = folder.write_audio
        # Opening devices reorders the JACK graph, which can cost an xrun: those are counted apart.
        stats["xruns_during_setup"] = eng.xruns
        rate = eng.sample_rate

        def on_plan(plan: Any) -> list[dict]:
            return [t for p in parts for t in p.on_plan(plan)]

        activity.begin(ctx, start_s=eng.now_frame / rate + stream.start_delay_s, lookahead_s=stream.lookahead_s,
                       on_plan=on_plan)
        runner = activity.runner
        if runner is not None and wait_for_space and (controls is not None or (ui is not None and ui.screen)):
            runner.pause()  # held until the therapist's space: the child sits down first
        if on_begin is not None:
            on_begin(activity)
        end_frame = eng.now_frame + int(duration_s * rate) if duration_s is not None else None
        shown = 0
        paused_at: int | None = None
        try:
            while end_frame is None or eng.now_frame < end_frame:
                stream.check()
                for p in parts:
                    for event in p.poll():
                        write(event)
                        if isinstance(event, InputEvent):
                            activity.take(event)
                if _obey(controls, activity, ui, parts) == "stop" or (ui is not None and ui.step(runner) == "stop"):
                    asked_to_stop = True
                    break
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
                        asked_to_stop = True
                        break
                for p in parts:
                    p.after_step(runner)
                if activity.done:
                    break
                stream.advance(busy=runner is not None)
            # Every other way out has stopped or completed the script: one still running here ran out of time.
            activity.stop("duration reached")
            status = "completed" if activity.finished and not asked_to_stop else "stopped"
        except KeyboardInterrupt:
            status = "stopped"
            activity.stop("stopped early (Ctrl-C)")
        stream.finish()
        outcome.status = status
    finally:
        screen_stats = None
        if ui is not None and folder is None:  # the stream never ran: no session to show the end of
            if ui.screen is not None:
                ui.screen.close()
        elif ui is not None:
            try:
                screen_stats = ui.close(activity.runner)
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
            outcome = _finish(folder, activity, parts, part_summaries, outcome, stats, history=history,
                              child_id=child_id, rate=rate)
    return outcome


def _header(activity: Activity, stream: Stream, parts: Sequence[Part], ui: SessionUI | None,
            controls: queue.Queue | None, *, kind: str, child_id: str, params, extra: dict) -> dict[str, Any]:
    header: dict[str, Any] = {
        "engine_version": engine.__version__, "kind": kind, "kind_seed": None, "child_id": child_id,
        "started": datetime.now().astimezone().isoformat(timespec="seconds"),
        "sample_rate": params.sample_rate, "blocksize": params.blocksize,
        "latency_frames": {"input": params.input_latency_frames, "output": params.output_latency_frames},
        "plan_objectives": [],
        **activity.header(), **stream.header(),
    }
    if kind == "live":
        header["ui"] = "screen" if ui is not None and ui.screen is not None else (
            "terminal" if controls is not None else "none")
    for p in parts:
        fields = p.header()
        header["latency_frames"].update(fields.pop("latency_frames", {}))
        header.update(fields)
    header.update(extra)
    return header


def _obey(controls: queue.Queue | None, activity: Activity, ui: SessionUI | None, parts: Sequence[Part]) -> str | None:
    """Apply the therapist's commands and keys waiting in ``controls``; returns "stop" when asked to stop."""
    runner = activity.runner
    while controls is not None:
        try:
            command = controls.get_nowait()
        except queue.Empty:
            return None
        if isinstance(command, dict):  # a key from the terminal
            if ui is not None and ui.take(command, runner) == "stop":
                return "stop"
            continue
        if command == "stop":
            activity.stop("stopped by the therapist")
            if ui is not None:
                ui.echo("Stopping: the trials scored so far are kept.")
            return "stop"
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


def _finish(folder, activity: Activity, parts: Sequence[Part], part_summaries: list[dict], outcome: SessionOutcome,
            stats: dict, *, history, child_id: str, rate: int) -> SessionOutcome:
    """The last events, the stream's counters and the summary; the folder is closed whatever happens."""
    try:
        for p in parts:  # what arrived after the last step: not the activity's any more
            for event in p.poll():
                folder.write_event(event)
        folder.write_event(StatusEvent(frame=stats["frames"], what="stream_stats", detail=stats))
        runner = activity.runner
        results = list(runner.results) if runner is not None else []
        if not isinstance(folder, SessionFolder):
            return SessionOutcome(folder=None, status=outcome.status, results=results)
        summary: dict[str, Any] = {"child_id": child_id, "script": activity.header().get("script"),
                                   "status": outcome.status, "stream": stats,
                                   "files": {"events": folder.events_path.name}, "folder": str(folder.path)}
        if folder.audio_path.exists():
            summary["files"]["audio"] = folder.audio_path.name
        if outcome.status != "failed" or activity.runner is not None:
            summary.update(activity.summary(history))
        for fields in part_summaries:
            summary.update(fields)
        folder.write_json("summary.json", summary)
        if outcome.status in ("completed", "stopped"):  # a session that failed has no summary line: it was cut off
            folder.write_summary({
                "status": outcome.status, "ended": datetime.now().astimezone().isoformat(timespec="seconds"),
                "duration_s": round(stats["frames"] / rate, 3) if rate else None,
                "trials": len(summary.get("trials", [])), "objectives": summary.get("objectives", []),
            })
        outcome = SessionOutcome(folder=folder.path, status=outcome.status, summary=summary, results=results,
                                 stop_reason=runner.stop_reason if runner is not None else None)
    finally:
        folder.close()
    return outcome
