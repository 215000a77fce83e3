"""The therapist's side of a live session: the session screen or the terminal, the keys and what they do.

:class:`SessionUI` sits in the session loop of :func:`engine.session.live.run_session`
(the loop's thread, never the audio callback). Each step it

- takes the therapist's key presses: from the session screen (its own
  process, :class:`engine.ui.process.ScreenProcess`, which turns keys into
  events itself) or from the terminal (raw keys from
  :class:`engine.session.terminal.TerminalKeys`, turned into the same events
  here by :class:`engine.ui.keys.KeyHandler`);
- writes every key press into the session log as a ``mark`` event
  (:class:`engine.events.MarkEvent`: key, action, the note or prompt level,
  the trial), stamped on the stream clock at the moment it was pressed, and
  does what it asks: space pauses and resumes (and starts a session that
  waits for it), ``n`` moves on to the next trial, ``p`` sets the prompt level
  of the trial scored next, ``m`` adds a note, Esc asks to stop and a second
  Esc (or ``y``) stops;
- shows the session: a :class:`~engine.ui.state.ScreenState` to the screen
  at most :data:`UPDATE_S` apart (the screen animates the beat between
  updates), or a status line in the terminal;
- takes the screenshot asked for (``--screenshot``), at the first moment
  the child plays.

A screen that dies or is closed is logged and the session goes on with the
terminal's keys: the session never depends on its screen.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.events import MarkEvent, StatusEvent
from engine.interventions.script import Script
from engine.scoring.judge import judge_objectives, trial_line
from engine.scoring.objectives import objective_figure
from engine.session.runner import ScriptSession
from engine.ui.keys import KeyHandler, prompt_label
from engine.ui.session import objective_lines, session_view
from engine.ui.state import ScreenState, beat_origin_on_screen_clock

__all__ = ["UPDATE_S", "SessionUI"]

UPDATE_S = 0.05  # at most 20 states a second to the screen
STATUS_S = 0.25  # the terminal's status line is redrawn this often
SCREENSHOT_PHASES = ("child_turn", "together")  # the screenshot shows the child playing
_PHASE_WORDS = {"count_in": "get ready", "engine_turn": "engine's turn", "child_turn": "child's turn",
                "together": "playing together", "wait": "waiting (music stopped)", "reward": "well done",
                "paused": "paused", "device_lost": "device lost", "done": "done"}


class SessionUI:
    """Keys, marks and the session's picture for one live session (see the module docstring).

    Parameters
    ----------
    engine : AudioEngine
        The running engine (its stream clock stamps the marks).
    write : callable
        Writes one event to the session log.
    echo : callable
        Prints one line for the therapist.
    script : Script or None
        The intervention script (None: a song or free play, which know only stop).
    screen : ScreenProcess or None
        A started session screen; None: the terminal.
    status_line : bool
        Draw a live status line on standard output (a terminal without a screen).
    screenshot : path or None
        Save a PNG of the screen once the child plays (needs ``screen``).
    devices, latency : str
        The therapist strip's device and latency lines.
    plan_objectives : sequence of Objective
        The child's plan objectives the script measures (shown with the script's own).
    """

    def __init__(self, *, engine, write: Callable[[Any], None], echo: Callable[[str], None],
                 script: Script | None, screen=None, status_line: bool = False, screenshot: Path | None = None,
                 devices: str = "", latency: str = "", plan_objectives=()) -> None:
        self.engine = engine
        self.write = write
        self._echo = echo
        self.script = script
        self.screen = screen
        self.status_line = status_line
        self.screenshot_path = screenshot
        self.screenshot_taken = False
        self.devices = devices
        self.latency = latency
        self.plan_objectives = tuple(plan_objectives)
        self.keys = KeyHandler()
        self.device_lost = False
        self._next_update = 0.0
        self._next_status = 0.0
        self._status_shown = False
        self._objectives_at = -1
        self._objectives: tuple = ()
        self._last_score = ""

    def on_activity(self, activity: Any) -> None:
        """The visit's next activity starts: show its script and its plan objectives (a song or free play: none)."""
        self.script = getattr(activity, "script", None)
        self.plan_objectives = tuple(getattr(activity, "plan_objectives", ()))
        self._objectives_at = -1
        self._objectives = ()
        self._last_score = ""

    # -- printing ---------------------------------------------------------------

    def echo(self, line: str) -> None:
        """Print a line above the status line (which is redrawn at the next step)."""
        if self._status_shown:
            sys.stdout.write("\r\x1b[K")
            self._status_shown = False
        self._echo(line)

    # -- keys -------------------------------------------------------------------

    def take(self, item: Any, runner: ScriptSession | None) -> str | None:
        """One item from the terminal: a raw key (``{"type": "raw", "key": ..., "text": ...}``); returns "stop"
        when the therapist confirmed stopping."""
        if isinstance(item, dict) and item.get("type") == "raw":
            if runner is not None:
                self.keys.sync(runner.prompt, runner.trials_done + 1)
            result = None
            for event in self.keys.handle(str(item.get("key", "")), str(item.get("text", ""))):
                result = self.apply(event, runner) or result
            return result
        return None

    def apply(self, event: dict[str, Any], runner: ScriptSession | None) -> str | None:
        """Log one key event (from the screen or :class:`KeyHandler`) and do what it asks; "stop" to stop."""
        kind = event.get("type")
        if kind == "screen_closed":
            self.write(StatusEvent(frame=self.engine.now_frame, what="screen_closed",
                                   detail={"exitcode": event.get("exitcode")}))
            self.echo("The session screen closed; the session goes on (keys in the terminal: space, n, p, m, Esc).")
            self.screen = None
            return None
        if kind == "screenshot":
            self.echo(f"Screenshot saved: {event.get('path')}." if event.get("ok")
                      else f"The screenshot could not be saved to {event.get('path')}.")
            return None
        if kind not in ("key", "note", "stop_confirmed"):
            return None
        frame = self._frame_of(event)
        trial = int(event.get("trial", -1)) if event.get("trial") is not None else -1
        if runner is not None and trial != -1:
            trial = runner.trials_done + 1  # what a prompt or note applies to: the trial scored next
        key = str(event.get("key", "m" if kind == "note" else ""))
        action = "note" if kind == "note" else "stop_confirmed" if kind == "stop_confirmed" else str(event["action"])
        text = ""
        result = None
        if action == "note":
            text = str(event.get("text", ""))
            self.echo(f"Note saved (trial {trial}): {text}" if trial > 0 else f"Note saved: {text}")
        elif action == "stop_confirmed":
            if runner is not None:
                runner.stop("stopped by the therapist")
            self.echo("Stopping: the trials scored so far are kept.")
            result = "stop"
        elif action == "stop_asked":
            self.echo("Stop the session? Esc again or y stops; any other key goes on.")
        elif action == "stop_cancelled":
            self.echo("Going on.")
        elif runner is not None and action == "toggle":
            if runner.state == "paused":
                if runner.resume():
                    action = "resume"
                    self.echo("Resumed." if runner.trials_done or runner.results else "Started.")
            elif runner.pause():
                action = "pause"
                self.echo(f"Paused after {runner.trials_done} trials; the trial that was playing will be played "
                          f"again. Space resumes.")
        elif action == "next_activity":
            if runner is not None:
                runner.stop("the therapist moved on to the next activity")
            self.echo("Moving on to the next activity: the trials scored so far are kept.")
            result = "next"
        elif runner is not None and action == "next":
            if runner.next_trial():
                self.echo(f"Moving on: {runner.trials_done} trials scored.")
            else:
                action = "next_ignored"
        elif runner is not None and action == "prompt":
            text = str(event.get("prompt", ""))
            runner.set_prompt(text)
            self.echo(f"Prompt level for trial {runner.trials_done + 1}: {text}.")
        self.write(MarkEvent(frame=frame, key=key, action=action, text=text, trial=trial))
        return result

    def _frame_of(self, event: dict[str, Any]) -> int:
        """The stream frame at which a key was pressed (``t_s`` on ``time.monotonic()``), at most now."""
        now = self.engine.now_frame
        t_s = event.get("t_s")
        if not isinstance(t_s, (int, float)):
            return now
        back = max(0, round((time.monotonic() - float(t_s)) * self.engine.sample_rate))
        return max(0, now - back)

    # -- each step of the session loop -----------------------------------------------

    def step(self, runner: ScriptSession | None) -> str | None:
        """Take the screen's events and show the session; "stop" when the therapist stopped it."""
        result = None
        if self.screen is not None:
            for event in self.screen.poll_events():
                result = self.apply(event, runner) or result
        mono = time.monotonic()
        if self.screen is not None and mono >= self._next_update:
            self._next_update = mono + UPDATE_S
            state = self.state(runner)
            self.screen.update(state)
            if (self.screenshot_path is not None and not self.screenshot_taken
                    and state.phase in SCREENSHOT_PHASES):
                self.take_screenshot()
        if self.status_line and self.screen is None and mono >= self._next_status:
            self._next_status = mono + STATUS_S
            sys.stdout.write("\r\x1b[K" + self.status_text(runner))
            sys.stdout.flush()
            self._status_shown = True
        if runner is not None:
            self.keys.sync(runner.prompt, runner.trials_done + 1)
        return result

    def take_screenshot(self, *, wait_s: float = 0.0) -> None:
        if self.screen is None or self.screenshot_path is None or self.screenshot_taken:
            return
        self.screenshot_taken = True
        self.screen.screenshot(self.screenshot_path, wait_s=wait_s)

    def state(self, runner: ScriptSession | None) -> ScreenState:
        """The session as the screen shows it now."""
        mono = time.monotonic()
        if runner is None:  # a song or free play: the child plays along
            return ScreenState(phase="device_lost" if self.device_lost else "together", devices=self.devices,
                               latency=self.latency, script=self.script.title if self.script else "",
                               message=self._message())
        script = runner.script
        now_s = runner.now_s
        view = session_view(runner.open_plans, now_s, kind=script.kind, session_state=runner.state,
                            device_lost=self.device_lost, last_close_s=runner.last_close_s,
                            last_correct=runner.results[-1].correct if runner.results else None)
        if runner.trials_done != self._objectives_at:
            self._objectives_at = runner.trials_done
            judged = judge_objectives(script, runner.results, plan_objectives=self.plan_objectives)
            # judge_objectives answers the script's objectives, then the plan's, in order: each with its figure.
            defs = [*script.objectives, *self.plan_objectives]
            self._objectives = objective_lines([
                {**o, "id": ("plan: " if o["source"] == "plan" else "") + o["id"],
                 "figure": objective_figure(obj, o["value"])}
                for o, obj in zip(judged, defs, strict=True) if o["status"] != "not_measured"])
            if runner.results:
                r = runner.results[-1]
                self._last_score = trial_line(script.kind, {"n": runner.trials_done, "tempo_bpm": r.plan.tempo_bpm,
                                                            "scores": r.scores, "correct": r.correct})
        total = script.trials or 0
        return ScreenState(
            phase=view.phase, bpm=view.bpm,
            beat_origin_s=beat_origin_on_screen_clock(view.beat_origin_s, now_s, mono) if view.bpm > 0 else 0.0,
            beats_per_bar=max(1, min(16, int(script.meter[0]))), count_in_remaining=view.count_in_remaining,
            script=script.title, trial=min(runner.trials_done + 1, total) if total else runner.trials_done + 1,
            trials_total=total, last_score=self._last_score, objectives=self._objectives,
            devices=self.devices, latency=self.latency, prompt=runner.prompt, default_prompt=runner.default_prompt,
            message=self._message())

    def _message(self) -> str:
        return "An input device was unplugged: plug it back in." if self.device_lost else ""

    def status_text(self, runner: ScriptSession | None) -> str:
        """The terminal's status line."""
        if runner is None:
            parts = [self.script.title if self.script else "free play", "device lost" if self.device_lost else "playing"]
        else:
            view = session_view(runner.open_plans, runner.now_s, kind=runner.script.kind, session_state=runner.state,
                                device_lost=self.device_lost, last_close_s=runner.last_close_s,
                                last_correct=runner.results[-1].correct if runner.results else None)
            total = runner.script.trials
            n = runner.trials_done + 1
            parts = [runner.script.title, f"trial {min(n, total) if total else n}" + (f"/{total}" if total else ""),
                     _PHASE_WORDS.get(view.phase, view.phase),
                     f"prompt {prompt_label(runner.prompt, runner.default_prompt)}"]
        if self.keys.mode == "note":
            parts.append(f"note (Enter saves, Esc cancels): {self.keys.note_text}_")
        elif self.keys.mode == "confirm_stop":
            parts.append("stop? Esc or y")
        return " · ".join(parts)

    def close(self, runner: ScriptSession | None, *, done_s: float = 1.0) -> dict[str, Any] | None:
        """Show the end, take a screenshot still owed, close the screen; its frame counts (None without one)."""
        if self._status_shown:
            sys.stdout.write("\r\x1b[K")
            sys.stdout.flush()
            self._status_shown = False
        if self.screen is None:
            return None
        try:
            self.screen.update(self.state(runner))
            self.take_screenshot(wait_s=5.0)  # the session ended before the child's turn: the last picture
            deadline = time.monotonic() + done_s
            while time.monotonic() < deadline:
                for event in self.screen.poll_events():
                    self.apply(event, None)
                time.sleep(0.05)
            stats = dict(self.screen.stats)
        finally:
            self.screen.close()
        return stats
