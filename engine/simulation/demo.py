"""``tandem demo SCRIPT...``: whole sessions of an intervention script with a simulated child.

Everything is the real engine except the devices, as in :mod:`engine.simulation.metronome`:
the offline backend drives the stream block by block (``pace="fast"``: as
fast as the machine goes), the script's kind (:mod:`engine.interventions.kinds`)
plans each trial, every cue of the plan is scheduled in the engine at its
frame with its sound from the sound bank, and a behaviour model of
:mod:`engine.simulation.models` plays the child. Its events enter
through the same stamping path as MIDI notes (host time → clock map →
frames, :func:`engine.midi.stamp.stamp_input`) when the stream reaches them, are
logged as input events, and the trial is scored by the kind from the times
*as logged* (frames back to seconds on the engine clock): the log is the
truth, and a test recomputes every score from ``events.jsonl``.

Per trial the situation of the kind decides what the model is asked:
call-and-response → :meth:`respond` (the call's cue times and pitches, the
call's end); turn-taking → :meth:`take_turn` (the engine's turn start and
hand-over); rhythmic cueing → :meth:`tap_along` (every beat cue of the
session so far, count-in included, keeping the taps in this bar's window:
the model taps a run, not bar by bar). A new model per trial
(``make_model(name, seed=seed + session, trial_index=trial)``).

**Timing** is :mod:`engine.session.runner`'s (shared with ``tandem run``):
plan times are seconds on the engine clock, cues are heard at their plan
times, a trial is scored when its window closes (a turn-taking trial as soon
as the child's turn is over), and rhythmic cueing plays its bars back to back.
``pace="realtime"`` keeps the offline stream to the wall clock (as a sound
card would), for watching a session; ``fast`` runs as fast as the machine goes.

Not yet: ``midi_out`` cue instruments (a clear error).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import engine
from engine.audio.engine import AudioEngine
from engine.audio.soundbank import SoundBank
from engine.errors import ConfigError
from engine.events import CueEvent, InputEvent, StatusEvent
from engine.interventions.kinds import TrialPlan, TrialResult, make_kind
from engine.interventions.script import Script, load_script
from engine.interventions.sounds import feedback_request, script_sounds
from engine.midi.stamp import stamp_input
from engine.paths import cache_dir
from engine.records.folder import SessionFolder
from engine.records.plan import objective_data, session_plan_objectives
from engine.scoring.judge import judge_objectives, objective_label, trial_line
from engine.scoring.objectives import Objective, SessionResult
from engine.session.runner import ScriptSession
from engine.simulation.models import events_for, make_model

__all__ = ["DEVICE_FEEDBACK", "FEEDBACK_DELAY_MS", "PACES", "SimulatedPlayer", "run_script_demo"]

PACES = ("fast", "realtime")
START_S = 0.5  # the first plan starts this long after the stream
LOOKAHEAD_S = 0.1  # cues are scheduled this long before they are due
TAIL_S = 0.3  # recorded after the last window closes
FEEDBACK_DELAY_MS = 5.0
#: The simulated pad's own sound, for ``feedback = "device"``.
DEVICE_FEEDBACK = "drum:low_conga"


def _run_session(script: Script, *, root: Path, child_id: str, model_name: str, session: int,
                 seed: int, bank: SoundBank, blocksize: int, sample_rate: int, pace: str,
                 max_trials: int | None, kind_options: dict[str, Any],
                 history: dict[str, list[SessionResult]] | None = None,
                 plan_objectives: Sequence[Objective] = (),
                 screenshot: Path | None = None,
                 ) -> tuple[dict, list[TrialResult], Path, list[dict]]:
    kind = make_kind(script, seed=seed + session, **kind_options)
    feedback_name = feedback_request(script, DEVICE_FEEDBACK)
    feedback = bank[feedback_name] if feedback_name else None
    eng = AudioEngine(backend="offline", sample_rate=sample_rate, blocksize=blocksize,
                      channels_in=1, channels_out=2, ring_s=10.0)
    folder = SessionFolder(root, child_id=child_id, name=f"demo-{script.path.stem}")
    try:
        params = eng.open()
        folder.write_header({
            "engine_version": engine.__version__, "kind": "demo",
            "intervention": script.kind, "script": str(script.path), "title": script.title,
            "child_id": child_id, "session": session, "kind_seed": seed + session,
            **({"kind_options": kind_options} if kind_options else {}),
            "simulated_child": {"model": model_name, "seed": seed + session},
            "started": datetime.now().astimezone().isoformat(timespec="seconds"),
            "backend": "offline", "pace": pace, "sample_rate": params.sample_rate,
            "blocksize": params.blocksize,
            "latency_frames": {"input": params.input_latency_frames, "output": params.output_latency_frames},
            "sound_source": bank.source, "feedback": feedback_name, "feedback_delay_ms": FEEDBACK_DELAY_MS,
            "max_trials": max_trials, "plan_objectives": [objective_data(o) for o in plan_objectives],
        })
        folder.open_audio(sample_rate=params.sample_rate, channels=eng.channels_out)
        eng.start()
        backend = eng.backend
        rate = eng.sample_rate
        player = SimulatedPlayer(eng, folder.write_event, model_name, seed + session, feedback)
        runner = ScriptSession(script, kind, eng, bank, folder.write_event, start_s=START_S,
                               lookahead_s=LOOKAHEAD_S, max_trials=max_trials, on_plan=player.plans)
        written = 0
        wall0 = time.monotonic()
        shot = _Screenshot(screenshot, eng, folder.write_event, script, plan_objectives) if screenshot else None

        def advance() -> None:
            nonlocal written
            backend.run_blocks(1)
            if pace == "realtime":  # the stream keeps to the wall clock, as a sound card would
                ahead = eng.now_frame / rate - (time.monotonic() - wall0)
                if ahead > 0:
                    time.sleep(ahead)
            if eng.output_ring.written - written >= rate // 2:
                folder.write_audio(eng.output_ring.read(written, eng.output_ring.written - written))
                written = eng.output_ring.written

        while True:
            player.deliver(runner)
            runner.step()
            if shot is not None:
                shot.step(runner)
            if runner.done:
                # Events the child would still play after the last window are not asked for.
                break
            advance()
        end = eng.now_frame + round(TAIL_S * rate)
        while eng.now_frame < end:
            advance()
        eng.stop()
        folder.write_audio(eng.output_ring.read(written, eng.output_ring.written - written))
        stats = eng.stats()
        folder.write_event(StatusEvent(frame=eng.now_frame, what="stream_stats", detail=stats))
        results = runner.results
        summary = {
            "script": str(script.path), "title": script.title, "kind": script.kind, "session": session,
            "child_id": child_id, "child_model": model_name, "seed": seed + session,
            "trials": [{"n": i + 1, "tempo_bpm": r.plan.tempo_bpm, "scores": r.scores,
                        "correct": r.correct} for i, r in enumerate(results)],
            "inputs": player.inputs, "stream": stats, "sound_source": bank.source,
            "files": {"events": folder.events_path.name, "audio": folder.audio_path.name},
        }
        if shot is not None:
            summary["screenshot"] = shot.finish(runner)
        folder.write_json("summary.json", summary)
        objectives = judge_objectives(script, results, history, plan_objectives)
        folder.write_summary({
            "status": "completed", "ended": datetime.now().astimezone().isoformat(timespec="seconds"),
            "duration_s": round(eng.now_frame / rate, 3), "trials": len(results), "objectives": objectives,
        })
    finally:
        eng.close()
        folder.close()
    return summary, results, folder.path, objectives


class SimulatedPlayer:
    """The simulated child playing into a script session on the offline engine (the demo's and the battery's).

    :meth:`plans` is the session's ``on_plan``: the behaviour model plans the
    child's events for each trial (fresh per trial, seeded, with the beats
    heard so far). :meth:`deliver`, called before each step of the session,
    hands over the events whose time the stream has reached, as MIDI would
    arrive (so an event just before a window closes is in it): stamped
    through the input path, logged, given to the session, and answered by
    the pad's own ``feedback`` sound ``FEEDBACK_DELAY_MS`` later.
    """

    def __init__(self, eng: AudioEngine, write: Callable[[Any], None], model: str, seed: int | None,
                 feedback=None) -> None:
        self.eng = eng
        self.write = write
        self.model = model
        self.seed = seed
        self.feedback = feedback
        self.inputs = 0
        self.pending: list[Any] = []  # SimEvents not delivered yet, by time
        self._beats: list[float] = []
        self._fb_delay = eng.clock.ms_to_frames(FEEDBACK_DELAY_MS)

    def plans(self, plan: TrialPlan) -> list[dict]:
        events = events_for(plan, make_model(self.model, seed=self.seed, trial_index=plan.index), self._beats)
        self.pending.extend(events)
        self.pending.sort(key=lambda e: e.time_s)
        return [e.truth for e in events]

    def deliver(self, runner: ScriptSession) -> None:
        eng = self.eng
        now = eng.now_frame
        while self.pending and self.pending[0].time_s * eng.sample_rate <= now:
            sim = self.pending.pop(0)
            note = -1 if sim.note is None else int(sim.note)
            ev: InputEvent = stamp_input(eng, source="sim", key="pad1" if sim.note is None else f"note:{note}",
                                         velocity=sim.velocity, arrival_ns=eng.backend.start_ns
                                         + round(sim.time_s * 1e9), note=note)
            self.write(ev)
            runner.child_event(ev)
            self.inputs += 1
            if self.feedback is not None:
                fb = self.feedback
                frame = max(ev.frame + self._fb_delay, now)
                gain = round(0.4 + 0.5 * ev.velocity / 127, 4)
                eng.play(fb, frame, gain=gain, pan=0.3)
                self.write(CueEvent(frame=frame, sound=fb.name, heard_frame=frame + fb.attack_frames
                                    + eng.output_latency_frames, gain=gain, pan=0.3, role="feedback",
                                    index=self.inputs - 1))


class _Screenshot:
    """The session screen drawn off-screen (in this process: the offline stream has no deadline) and saved as
    a PNG at the first moment the simulated child plays; at the session's end if it never did."""

    def __init__(self, path: Path, eng, write, script: Script, plan_objectives) -> None:
        from engine.session.controls import SessionUI

        self.path = Path(path)
        self.ui = SessionUI(engine=eng, write=write, echo=lambda line: None, script=script,
                            devices="simulated child", latency="offline stream: no device latency",
                            plan_objectives=plan_objectives)
        self.saved: dict | None = None

    def step(self, runner: ScriptSession) -> None:
        from engine.session.controls import SCREENSHOT_PHASES

        if self.saved is None:
            state = self.ui.state(runner)
            if state.phase in SCREENSHOT_PHASES:
                self._save(state)

    def finish(self, runner: ScriptSession) -> dict | None:
        if self.saved is None:
            self._save(self.ui.state(runner))
        return self.saved

    def _save(self, state) -> None:
        from engine.ui.screen import SessionScreen

        screen = SessionScreen()
        screen.render(state, time.monotonic())
        self.path.parent.mkdir(parents=True, exist_ok=True)
        screen.save(self.path)
        self.saved = {"path": str(self.path), "phase": state.phase}


def run_script_demo(
    script_path: str | Path,
    *,
    root: Path,
    child_id: str = "C00",
    model: str = "steady",
    sessions: int = 1,
    seed: int = 0,
    pace: str = "fast",
    blocksize: int = 128,
    sample_rate: int = 48_000,
    soundfont: str | None = None,
    echo: Callable[[str], None] | None = print,
    max_trials: int | None = None,
    kind_options: dict[str, Any] | None = None,
    screenshot: str | Path | None = None,
) -> list[dict]:
    """Run ``sessions`` sessions of one script with the simulated child ``model``; one dict per session.

    Each dict: ``script``, ``session`` (1-based), ``child_model``, ``folder``,
    ``trials`` (``n``, ``scores``, ``correct``) and ``objectives`` (``id``,
    ``status``, ``sentence``, ``value``: the status over this run's sessions
    up to this one, the value this session's). ``echo`` prints a readable
    summary of each session (None: quiet). ``max_trials`` stops a session
    early (for tests and quick looks). ``screenshot`` saves a PNG of the
    session screen as the child plays in the first session.
    """
    if pace not in PACES:
        raise ConfigError(f"The pace must be one of {', '.join(PACES)}, not {pace!r}.")
    if sessions < 1:
        raise ConfigError(f"A demo needs at least one session, not {sessions}.")
    if max_trials is not None and max_trials < 1:
        raise ConfigError(f"max_trials must be at least 1, not {max_trials}.")
    make_model(model)  # an unknown model is one sentence before anything runs
    script = load_script(script_path)
    make_kind(script)  # a kind that cannot run yet, likewise
    if "midi_out" in (script.instruments.cue, script.prompts.your_turn_sound):
        raise ConfigError(f"{script.path}: this script plays its cues on an external MIDI instrument (midi_out), "
                          f"and `tandem demo` has no MIDI output; try it with a sound-bank instrument such as "
                          f"program:0 or drum:hi_bongo, or run it with `tandem run --midi-out NAME`.")
    bank = SoundBank.load(script_sounds(script, device_sound=DEVICE_FEEDBACK), sample_rate=sample_rate,
                          soundfont=soundfont,
                          cache_dir=cache_dir())
    if echo is not None:
        for w in bank.warnings:
            echo(f"note: {w}")
    plan_objectives, warning = session_plan_objectives(root, child_id, script.path)
    if warning and echo is not None:
        echo(f"note: {warning}")
    out: list[dict] = []
    history: dict[str, list[SessionResult]] = {}
    for s in range(1, sessions + 1):
        summary, _results, folder, objectives = _run_session(
            script, root=root, child_id=child_id, model_name=model, session=s, seed=seed, bank=bank,
            blocksize=blocksize, sample_rate=sample_rate, pace=pace, max_trials=max_trials,
            kind_options=kind_options or {}, history=history, plan_objectives=plan_objectives,
            screenshot=Path(screenshot) if screenshot and s == 1 else None)
        entry = {"script": str(script.path), "title": script.title, "kind": script.kind, "session": s,
                 "child_id": child_id, "child_model": model, "folder": str(folder),
                 "trials": summary["trials"], "objectives": objectives}
        out.append(entry)
        if echo is not None:
            _print_session(echo, entry)
    return out


def _print_session(echo: Callable[[str], None], s: dict) -> None:
    echo(f"{s['title']} ({s['kind'].replace('_', '-')}), session {s['session']}: child {s['child_id']} "
         f"(simulated, model '{s['child_model']}'), {len(s['trials'])} trials.")
    for t in s["trials"]:
        echo("  " + trial_line(s["kind"], t))
    if s["objectives"]:
        echo("Objectives:")
    for o in s["objectives"]:
        echo(f"  {objective_label(o)}: {o['status']}. {o['sentence']}")
    echo(f"Session folder: {s['folder']}  (events.jsonl, audio.wav, summary.json)")
