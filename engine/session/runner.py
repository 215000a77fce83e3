"""One session of an intervention script on a running stream: plans, cues, the child's events, scores.

Shared by ``tandem demo SCRIPT`` (offline backend, a simulated child) and
``tandem run SCRIPT`` (real devices): the caller owns the stream, the
devices and the session folder; it hands every child event it logged to
:meth:`ScriptSession.child_event` and calls :meth:`ScriptSession.step`
often (every block in the demo, every few milliseconds live). ``step``
does, in order:

1. **Score** each open trial whose listening window has closed: at the
   plan's ``child_end_s``, or earlier when the kind says the child is done
   (``kind.close_s``: a turn that ended on a silence). Only the child's
   events up to that moment are scored; the kind then adapts.
2. **Plan** the next trial once the stream is within the look-ahead of its
   start, and only after every trial whose window closes before that start
   has been scored (so adaptation takes effect on the very next trial).
3. **Schedule** every cue due within the look-ahead at its frame: a cue is
   *heard* at its plan time, so it is played at that frame minus the
   sound's attack and the output latency. The mixer starts it on that exact
   frame whatever the loop's jitter; the look-ahead only has to cover how
   late ``step`` can run.

Plan times are seconds on the stream clock (frame / rate), as are the
child's events (their stamped ``frame`` / rate), so planning, playing and
scoring share one clock.

**An external instrument.** Cues whose instrument is ``midi_out`` go to
the session's MIDI output (a keyboard or synth) at the same frames, as
note-on/note-off pairs: melodies on channel 1 with their pitches, rhythms
on the General MIDI drum channel as ``MIDI_OUT_DRUM``. Their heard time is
the synth's own latency after that, which Tandem cannot know until
calibration (issue 8) measures it.

**Pause, resume, stop.** :meth:`pause` cancels every cue not yet finished
(nothing is left sounding), logs the open trials as ``abandoned`` (they are
not scored and do not count), and holds the session; :meth:`resume` plans
the next trial a look-ahead from now. :meth:`stop` ends the session early
the same way. The number of trials a script asks for counts scored trials,
so a paused trial is played again; a session of ``duration_min`` counts the
minutes it was running, not paused.

**Prompt levels.** Each trial is logged and scored with the therapist's
prompt level for it (:meth:`set_prompt`, key ``p``), else the visit's
default (``default_prompt``): ``"not recorded"`` unless the therapist chose
one at the start or a simulated child's model plays at a known level. An
unmarked trial is never taken to be independent.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from engine.audio.engine import AudioEngine
from engine.audio.soundbank import SoundBank
from engine.errors import ConfigError
from engine.events import CueEvent, InputEvent, StatusEvent
from engine.interventions.inputs import accepts_input, add_child_event
from engine.interventions.kinds import Kind, TrialPlan, TrialResult
from engine.interventions.script import Script
from engine.interventions.sounds import bank_name, script_sounds
from engine.scoring.dropouts import window_has_xrun
from engine.scoring.objectives import NOT_RECORDED, PROMPT_LEVELS, TRIAL_PROMPTS

__all__ = ["CUE_GAIN", "CUE_PAN", "ScriptSession"]

CUE_GAIN = 0.8
CUE_PAN = -0.3  # the engine's music a little left, the child's feedback a little right
EPS_S = 1e-9
MIDI_OUT_CHANNEL = 0
MIDI_OUT_DRUM_CHANNEL = 9  # General MIDI percussion (channel 10)
MIDI_OUT_DRUM = 76  # hi wood block: short and clear on every GM drum kit
MIDI_OUT_VELOCITY = 100
MIDI_OUT_NOTE_S = 0.2  # a cue note's length on the external instrument (shorter for fast notes)


@dataclass
class _Open:
    """A planned trial whose window has not closed yet."""

    plan: TrialPlan
    truth: list[dict] = field(default_factory=list)


class ScriptSession:
    """Drives one script's trials on a running engine (see the module docstring).

    Parameters
    ----------
    script, kind
        The checked script and the kind built from it.
    engine : AudioEngine
        Started; its ``now_frame`` is the session's clock.
    bank : SoundBank
        Holds every sound the script's cues can ask for (:func:`~engine.interventions.sounds.script_sounds`).
    write : callable
        Writes one event or record to the session log (``SessionFolder.write_event``).
    start_s : float
        When the first plan starts, seconds on the stream clock.
    lookahead_s : float
        How far ahead cues are scheduled and plans made.
    max_trials : int, optional
        Stop after this many scored trials (tests, quick looks).
    on_plan : callable, optional
        Called with each new plan; returns ground-truth records to log with
        the trial (the demo's simulated child plans its events here).
    midi_out : ScheduledOutput, optional
        Started; plays the cues whose instrument is ``midi_out``.
    stop_when : callable, optional
        Called with the scored trials (:class:`TrialResult`, oldest first)
        after each one, before the next is planned; a reason (one phrase)
        ends the session there, as if its trials were done (the assessment
        battery's early ends: no response, a staircase that has seen enough).
        The reason is kept in :attr:`stop_reason`.
    default_prompt : str
        The visit's prompt level for a trial the therapist does not mark (key
        ``p``): ``"not recorded"`` (the default: never guessed) unless the
        therapist chose one at the start, or the simulated child's model
        plays at a known level (:meth:`set_default_prompt`).
    """

    def __init__(self, script: Script, kind: Kind, engine: AudioEngine, bank: SoundBank,
                 write: Callable[[Any], None], *, start_s: float, lookahead_s: float,
                 max_trials: int | None = None,
                 on_plan: Callable[[TrialPlan], list[dict] | None] | None = None,
                 midi_out: Any = None,
                 stop_when: Callable[[list[TrialResult]], str | None] | None = None,
                 default_prompt: str = NOT_RECORDED) -> None:
        self.script = script
        self.stop_when = stop_when
        self.stop_reason: str | None = None
        self._stop_checked = -1
        self.kind = kind
        self.engine = engine
        self.bank = bank
        self.write = write
        self.rate = engine.sample_rate
        self.lookahead_s = lookahead_s
        self.max_trials = max_trials
        self.on_plan = on_plan
        self.midi_out = midi_out
        if script.instruments.cue == "midi_out" and midi_out is None:
            raise ConfigError(f"{script.path}: this script plays its cues on an external MIDI instrument "
                              f"(cue = \"midi_out\"); give --midi-out NAME (see `tandem devices`).")
        self.latency = engine.output_latency_frames
        self.events: list[tuple[float, int | None]] = []  # the child's accepted events (time_s, note)
        self.results: list[TrialResult] = []
        self.abandoned = 0
        self.default_prompt = _prompt_level(default_prompt)
        self._given_prompt: str | None = None  # the therapist's level for the trial scored next (key p)
        self.state = "running"  # running, paused, stopped, completed
        self._open: list[_Open] = []
        self._cues: list[tuple[int, Any]] = []  # (play frame, kinds.Cue), by frame
        self._voices: list[tuple[int, int, int]] = []  # (start frame, end frame, voice id) of cues playing or due
        self._next_start = start_s
        self._active_s = 0.0  # running time (not paused) before the current running spell
        self._spell_start_s = start_s
        self._close_now_s: float | None = None  # set while the therapist moves on (see next_trial)
        self.last_close_s: float | None = None  # when the last trial's window closed (stream seconds)
        self._check_sounds()

    # -- the child's events -----------------------------------------------

    def accepts(self, event: InputEvent) -> bool:
        """Whether an input event is the child playing into this script's inputs (see :func:`~engine.interventions.inputs.accepts_input`)."""
        return accepts_input(self.script, event.source, event.key, event.note)

    def child_event(self, event: InputEvent) -> bool:
        """Take one logged input event; returns whether it counts as the child playing (see :meth:`accepts`)."""
        if not self.accepts(event):
            return False
        return add_child_event(self.events, event.frame / self.rate, event.note)

    # -- progress -----------------------------------------------------------

    @property
    def now_s(self) -> float:
        return self.engine.now_frame / self.rate

    @property
    def open_plans(self) -> list[TrialPlan]:
        """The trials planned and not yet scored, oldest first (what the child sees now)."""
        return [o.plan for o in self._open]

    @property
    def trials_done(self) -> int:
        return len(self.results)

    @property
    def running_s(self) -> float:
        """Seconds the session has been running (not paused) since its first plan."""
        extra = max(0.0, self.now_s - self._spell_start_s) if self.state == "running" else 0.0
        return self._active_s + extra

    @property
    def enough(self) -> bool:
        """The script's trials are scored, or its minutes are filled (or ``max_trials`` reached)."""
        if self.max_trials is not None and self.trials_done >= self.max_trials:
            return True
        if self.stop_when is not None and self._stop_checked != len(self.results):
            self._stop_checked = len(self.results)
            self.stop_reason = self.stop_when(self.results)
        if self.stop_reason is not None:
            return True
        if self.script.trials is not None:
            return self.trials_done >= self.script.trials
        if self.script.duration_min is not None:
            return self.running_s >= self.script.duration_min * 60.0
        return False

    @property
    def done(self) -> bool:
        """Nothing more to plan, score or play."""
        if self.state in ("stopped", "completed"):
            return True
        if self.state == "paused":
            return False
        return self.enough and not self._open and not self._cues

    def _can_plan(self) -> bool:
        if self.state != "running" or self.enough:
            return False
        if self.max_trials is not None and self._planned_trials() >= self.max_trials:
            return False
        if self.script.trials is not None and self._planned_trials() >= self.script.trials:
            return False
        # Plans whose window closes before the next start are scored first (their result adapts the kind).
        return not any(o.plan.child_end_s <= self._next_start + EPS_S for o in self._open)

    def _planned_trials(self) -> int:
        return self.trials_done + sum(o.plan.phase == "trial" for o in self._open)

    def step(self) -> None:
        """Score what has closed, plan what is due, schedule the cues within the look-ahead."""
        if self.state != "running":
            return
        now = self.engine.now_frame
        self._score_due(now)
        while self._can_plan() and (not self._open or (now / self.rate + self.lookahead_s) >= self._next_start):
            self._plan_next(now)
        look = round(self.lookahead_s * self.rate)
        while self._cues and self._cues[0][0] < now + look:
            frame, cue = self._cues.pop(0)
            if cue.sound == "midi_out":
                self._send_midi(frame, cue)
                continue
            snd = self._sound(cue)
            gain = CUE_GAIN * cue.gain
            vid = self.engine.play(snd, frame, gain=gain, pan=CUE_PAN)
            if vid:
                self._voices.append((frame, frame + snd.frames, vid))
            self.write(CueEvent(frame=frame, sound=snd.name, heard_frame=frame + snd.attack_frames + self.latency,
                                gain=gain, pan=CUE_PAN, role=cue.role, index=cue.index))
            if not vid:
                self.write(StatusEvent(frame=now, what="cue_dropped", detail={"role": cue.role,
                                                                               "reason": "mixer queue full"}))
        self._voices = [v for v in self._voices if v[1] > now]
        if self.enough and not self._open and not self._cues:
            self.state = "completed"

    def _send_midi(self, frame: int, cue: Any) -> None:
        """One cue as a note on the external instrument (see the module docstring)."""
        drum = cue.note is None
        channel = MIDI_OUT_DRUM_CHANNEL if drum else MIDI_OUT_CHANNEL
        note = MIDI_OUT_DRUM if drum else int(cue.note)
        beat_frames = round(60.0 / self.kind.tempo_bpm * self.rate)
        length = min(round(MIDI_OUT_NOTE_S * self.rate), beat_frames // 2)
        self.midi_out.note(frame, note, velocity=MIDI_OUT_VELOCITY, channel=channel, duration_frames=length)
        self.write(CueEvent(frame=frame, sound=f"midi_out:{channel + 1}:{note}", heard_frame=frame + self.latency,
                            gain=MIDI_OUT_VELOCITY / 127, pan=0.0, role=cue.role, index=cue.index))

    def _sound(self, cue: Any):
        name = bank_name(cue.sound, cue.note)
        return self.bank[name] if name in self.bank else None  # noqa: SIM401 - a SoundBank, not a dict

    def _plan_next(self, now: int) -> None:
        start = max(self._next_start, now / self.rate + self.lookahead_s)
        plan = self.kind.next_trial(start)
        for cue in plan.cues:
            if cue.sound == "midi_out":
                self._cues.append((round(cue.time_s * self.rate) - self.latency, cue))
                continue
            snd = self._sound(cue)
            if snd is None:
                self.write(StatusEvent(frame=now, what="cue_missing", detail={
                    "role": cue.role, "sound": bank_name(cue.sound, cue.note), "reason": "not loaded"}))
                continue
            self._cues.append((round(cue.time_s * self.rate) - snd.attack_frames - self.latency, cue))
        self._cues.sort(key=lambda fc: fc[0])
        truth = self.on_plan(plan) if self.on_plan is not None else None
        self.write({"type": "plan", "frame": now, "index": plan.index, "phase": plan.phase,
                    "start_s": plan.start_s, "end_s": plan.end_s, "tempo_bpm": plan.tempo_bpm,
                    "child_start_s": plan.child_start_s, "child_end_s": plan.child_end_s,
                    "engine_start_s": plan.engine_start_s, "engine_end_s": plan.engine_end_s,
                    "params": plan.params})
        self._open.append(_Open(plan, list(truth or [])))
        self._next_start = plan.end_s

    def _window(self, lo_s: float, hi_s: float) -> list[tuple[float, int | None]]:
        """The child's events in ``[lo_s, hi_s]`` (the list is in time order: a slice, not a scan)."""
        lo = bisect.bisect_left(self.events, lo_s - EPS_S, key=lambda e: e[0])
        hi = bisect.bisect_right(self.events, hi_s + EPS_S, key=lambda e: e[0])
        return self.events[lo:hi]

    def _close_s(self, plan: TrialPlan, now_s: float) -> float:
        if self._close_now_s is not None and plan.child_start_s <= self._close_now_s:
            return min(plan.child_end_s, self._close_now_s)  # the therapist moved on: the window ends now
        if type(self.kind).close_s is Kind.close_s:  # the window never closes early for this kind
            return plan.child_end_s
        heard = self._window(plan.child_start_s, now_s)
        return min(plan.child_end_s, self.kind.close_s(plan, heard, now_s))

    def _score_due(self, now: int) -> None:
        now_s = now / self.rate
        while self._open:
            pending = self._open[0]
            plan = pending.plan
            closes = self._close_s(plan, now_s)
            if now < round(closes * self.rate) + 1:
                break
            self._open.pop(0)
            # Every kind scores only the events from its window's start: the rest need not be passed.
            events = self._window(plan.child_start_s, closes)
            result = self.kind.score(plan, events, prompt=self.prompt)
            self.kind.adapt(result)
            # An audio dropout within the window: the trial is left out of the objectives (engine.scoring.dropouts).
            dropout = window_has_xrun(self.engine.xrun_history(), plan.start_s, closes, self.rate)
            if dropout and result.trial is not None:
                result = replace(result, trial=replace(result.trial, dropout=True))
            self.last_close_s = closes
            if plan.phase == "trial":
                self.results.append(result)
            if closes < plan.child_end_s - EPS_S and not self._open:
                # The child's turn is over before the window's end: the next trial may start now.
                self._next_start = closes
            self.write({"type": "trial", "frame": now, "index": plan.index, "n": self.trials_done,
                        "phase": plan.phase, "start_s": plan.start_s, "tempo_bpm": plan.tempo_bpm,
                        "close_s": closes, "scores": result.scores, "correct": result.correct,
                        "prompt": self.prompt, "child_truth": pending.truth,
                        **({"dropout": True} if dropout else {})})
            if plan.phase == "trial":
                self._given_prompt = None  # a prompt level is given for one trial

    # -- the therapist's controls ---------------------------------------------

    def _silence(self, reason: str) -> None:
        now = self.engine.now_frame
        live = [v for v in self._voices if v[1] > now]
        for _, _, vid in live:
            self.engine.cancel(vid)  # fades out a sounding cue, drops one not started
        self._voices.clear()
        if self.midi_out is not None:
            self.midi_out.clear()  # drop the cue notes not yet sent, turn off those sounding
        if live:
            self.write(StatusEvent(frame=now, what="cues_cancelled", detail={
                "not_started": sum(start >= now for start, _, _ in live),
                "sounding": sum(start < now for start, _, _ in live), "reason": reason}))
        self._cues.clear()
        for o in self._open:
            self.abandoned += o.plan.phase == "trial"
            self.write({"type": "trial_abandoned", "frame": now, "index": o.plan.index, "phase": o.plan.phase,
                        "start_s": o.plan.start_s, "reason": reason})
        self._open.clear()

    def pause(self) -> bool:
        """Hold the session: silence its cues and abandon the open trials. False if not running."""
        if self.state != "running":
            return False
        self._active_s = self.running_s
        self._silence("paused")
        self.state = "paused"
        self.write(StatusEvent(frame=self.engine.now_frame, what="paused", detail={"trials_done": self.trials_done}))
        return True

    def resume(self) -> bool:
        """Go on after :meth:`pause`: the next trial starts a look-ahead from now. False if not paused."""
        if self.state != "paused":
            return False
        self.state = "running"
        self._spell_start_s = self.now_s
        self._next_start = self.now_s + self.lookahead_s
        self.write(StatusEvent(frame=self.engine.now_frame, what="resumed", detail={"trials_done": self.trials_done}))
        return True

    def next_trial(self) -> bool:
        """The therapist moves on (key ``n``): the trial in the child's window is scored on what the child
        played so far (not playing is a result too), one not yet in it is abandoned, and the next trial
        starts a look-ahead from now. False if not running."""
        if self.state != "running":
            return False
        now = self.engine.now_frame
        self._close_now_s = (now - 1) / self.rate  # the last frame heard: a window closing there is due now
        try:
            self._score_due(now)
        finally:
            self._close_now_s = None
        self._silence("next")
        self._next_start = now / self.rate + self.lookahead_s
        self.write(StatusEvent(frame=now, what="moved_on", detail={"trials_done": self.trials_done}))
        return True

    @property
    def prompt(self) -> str:
        """The prompt level of the trial scored next: the therapist's for it (:meth:`set_prompt`), else the
        visit's default (:attr:`default_prompt`)."""
        return self._given_prompt if self._given_prompt is not None else self.default_prompt

    def set_prompt(self, level: str) -> None:
        """The prompt level the therapist gave for the trial scored next (key ``p``); it holds for that trial.
        ``"not recorded"`` takes back a level given by mistake."""
        self._given_prompt = _prompt_level(level)

    def set_default_prompt(self, level: str) -> None:
        """The prompt level of every trial the therapist does not mark, from now on (the visit's default,
        or the level a simulated child's model plays at)."""
        self.default_prompt = _prompt_level(level)

    def stop(self, reason: str = "stopped") -> None:
        """End the session now: silence, abandon the open trials, log why."""
        if self.state in ("stopped", "completed"):
            return
        if self.state == "running":
            self._active_s = self.running_s
        self._silence(reason)
        self.state = "stopped"
        self.write(StatusEvent(frame=self.engine.now_frame, what="session_stopped",
                               detail={"reason": reason, "trials_done": self.trials_done}))

    # -- set-up ---------------------------------------------------------------

    def _check_sounds(self) -> None:
        """Fail before the first sound if a cue the script can play was not loaded."""
        missing = [n for n in script_sounds(self.script, feedback=False) if n not in self.bank]
        if missing:
            raise ConfigError(f"{self.script.path}: the sounds {', '.join(missing)} were not loaded; "
                              f"the sounds loaded are {', '.join(self.bank.names)}.")


def _prompt_level(level: str) -> str:
    """``level`` checked: one of the prompt levels, or "not recorded"."""
    if level not in TRIAL_PROMPTS:
        raise ValueError(f"{level!r} is not a prompt level; the levels are {', '.join(PROMPT_LEVELS)}, "
                         f"or {NOT_RECORDED!r}.")
    return level
