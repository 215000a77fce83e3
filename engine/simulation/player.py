"""The simulated child as a part of a session: its events enter through the same input path as a pad's.

Two ways to play, both seeded and deterministic:

- :class:`ModelChild` plays a behaviour model of :mod:`engine.simulation.models`
  (``steady``, ``early``, ...) for every kind: when a trial is planned it
  plans the child's events for that trial (a fresh model per trial, with
  the beats heard so far) and logs its intentions as the trial's
  ``child_truth``;
- :class:`TappingChild` taps along causally with a tapping profile of
  :mod:`engine.simulation.tapping` (``typical``, ``adult``, ``motor``, ...):
  it hears each beat cue when the stream reaches the frame it is heard at,
  and plans its next tap from what it has heard, as a person does. It
  only taps along (rhythmic cueing); the metronome demo plays it.

Either way the child plays at a known prompt level (its model's; a tapping
profile is given no help, so ``independent``), recorded in the log's header
(``simulated_child.prompt``) and set as the session's default level, so
every trial is logged at the level the child was actually given.

Either way an event is handed over when the stream reaches its time (as
MIDI would arrive, so an event just before a window closes is in it):
stamped through the input path (host time → clock map → frames,
:func:`engine.midi.stamp.stamp_input`), logged, given to the session, and
answered by the pad's own ``feedback`` sound :data:`FEEDBACK_DELAY_MS`
later, as a pad with no sound of its own is answered live.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from engine.audio.sound import Sound
from engine.events import CueEvent, Event, InputEvent
from engine.midi.stamp import stamp_input
from engine.session.parts import Context, Part
from engine.simulation.models import MODELS, events_for, make_model
from engine.simulation.tapping import SimulatedChild

__all__ = ["DEVICE_FEEDBACK", "FEEDBACK_DELAY_MS", "HEARD_ROLES", "ModelChild", "TappingChild"]

#: A visit's activity k models its trials as trial indices from k × this (each activity its own children).
ACTIVITY_TRIALS = 1000
FEEDBACK_DELAY_MS = 5.0  # pad feedback at input stamp + a fixed delay: constant latency, no jitter
#: The simulated pad's own sound, for ``feedback = "device"``.
DEVICE_FEEDBACK = "drum:low_conga"
#: The cues a tapping child keeps time with (not a lead-in melody, a prompt or its own feedback).
HEARD_ROLES = ("count_in", "downbeat", "beat")


class _SimulatedPad(Part):
    """What both simulated children share: the pad's stamp, its feedback sound and its prompt level."""

    #: The prompt level the child plays at (see the module docstring).
    prompt = "independent"

    def __init__(self, feedback: Sound | None, feedback_name: str | None) -> None:
        self.feedback = feedback
        self.feedback_name = feedback_name
        self.inputs = 0
        self._ctx: Context | None = None
        self._fb_delay = 0

    def start(self, ctx: Context) -> None:
        self._ctx = ctx
        self._fb_delay = ctx.engine.clock.ms_to_frames(FEEDBACK_DELAY_MS)

    def _hit(self, time_s: float, velocity: int, note: int | None) -> Iterator[Event]:
        """One hit at ``time_s`` (seconds on the stream clock): its input event, then its feedback cue."""
        eng = self._ctx.engine
        n = -1 if note is None else int(note)
        ev: InputEvent = stamp_input(eng, source="sim", key="pad1" if note is None else f"note:{n}",
                                     velocity=velocity, arrival_ns=eng.backend.start_ns + round(time_s * 1e9), note=n)
        self.inputs += 1
        yield ev
        if self.feedback is not None:
            fb = self.feedback
            frame = max(ev.frame + self._fb_delay, eng.now_frame)
            gain = round(0.4 + 0.5 * ev.velocity / 127, 4)
            eng.play(fb, frame, gain=gain, pan=0.3)
            yield CueEvent(frame=frame, sound=fb.name, heard_frame=frame + fb.attack_frames
                           + eng.output_latency_frames, gain=gain, pan=0.3, role="feedback", index=self.inputs - 1)

    def header(self) -> dict[str, Any]:
        return {"feedback": self.feedback_name, "feedback_delay_ms": FEEDBACK_DELAY_MS}

    def on_activity(self, index: int, activity: Any) -> None:
        # Before the script's first step: every trial of it is scored at the child's level.
        if activity.runner is not None:
            activity.runner.set_default_prompt(self.prompt)


class ModelChild(_SimulatedPad):
    """A behaviour model playing every trial (see the module docstring)."""

    def __init__(self, model: str, seed: int | None, *, feedback: Sound | None = None,
                 feedback_name: str | None = None) -> None:
        make_model(model)  # an unknown model is one sentence before anything runs
        super().__init__(feedback, feedback_name)
        self.model = model
        self.seed = seed
        self.prompt = MODELS[model].prompt
        self.pending: list[Any] = []  # SimEvents not delivered yet, by time
        self._beats: list[float] = []
        self._trial_base = 0

    def header(self) -> dict[str, Any]:
        return {**super().header(), "simulated_child": {"model": self.model, "seed": self.seed,
                                                        "prompt": self.prompt}}

    def on_activity(self, index: int, activity: Any) -> None:
        super().on_activity(index, activity)
        # Each activity of a visit plays fresh trials (its own trial indices from 0): a fresh series of models.
        self._trial_base = ACTIVITY_TRIALS * index
        self._beats = []

    def on_plan(self, plan: Any) -> list[dict]:
        model = make_model(self.model, seed=self.seed, trial_index=self._trial_base + plan.index)
        events = events_for(plan, model, self._beats)
        self.pending.extend(events)
        self.pending.sort(key=lambda e: e.time_s)
        return [e.truth for e in events]

    def poll(self) -> Iterator[Event]:
        now = self._ctx.engine.now_frame
        rate = self._ctx.rate
        while self.pending and self.pending[0].time_s * rate <= now:
            sim = self.pending.pop(0)
            yield from self._hit(sim.time_s, sim.velocity, sim.note)

    def pause(self) -> None:
        self.pending.clear()  # the child stops too; the trial is played again on resume

    def summary(self) -> dict[str, Any]:
        return {"child_model": self.model, "seed": self.seed, "inputs": self.inputs}


class TappingChild(_SimulatedPad):
    """A child tapping along causally with a tapping profile (see the module docstring).

    ``truth`` maps each tap's input frame to the child's own tap time
    (seconds) and the index of the cue it aimed at in :attr:`heard_s`
    (the heard times of every cue it kept time with, count-in included).
    """

    def __init__(self, profile: str, seed: int | None, *, feedback: Sound | None = None,
                 feedback_name: str | None = None) -> None:
        self.child = SimulatedChild(profile, seed=seed)  # an unknown profile is one sentence here
        super().__init__(feedback, feedback_name)
        self.profile = profile
        self.seed = seed
        self.heard_s: list[float] = []
        self.truth: dict[int, tuple[float, int]] = {}
        self._unheard: list[int] = []  # heard frames of cues scheduled, not heard yet

    def header(self) -> dict[str, Any]:
        return {**super().header(), "simulated_child": {"profile": self.profile, "seed": self.seed,
                                                        "prompt": self.prompt}}

    def on_cue(self, cue: CueEvent) -> None:
        if cue.role in HEARD_ROLES:
            self._unheard.append(cue.heard_frame)
            self._unheard.sort()

    def poll(self) -> Iterator[Event]:
        now = self._ctx.engine.now_frame
        rate = self._ctx.rate
        while self._unheard and self._unheard[0] <= now:  # cues reach the child's ears when the stream gets there
            t = self._unheard.pop(0) / rate
            self.heard_s.append(t)
            self.child.hear_cue(t)
        for tap in self.child.due_taps(now / rate):
            hit = self._hit(tap.time_s, tap.velocity, None)
            ev = next(hit)
            if tap.cue_index is not None:
                self.truth[ev.frame] = (tap.time_s, tap.cue_index)
            yield ev
            yield from hit

    def stop(self) -> None:
        self.child.stop()

    def summary(self) -> dict[str, Any]:
        return {"child_profile": self.profile, "seed": self.seed, "inputs": self.inputs}
