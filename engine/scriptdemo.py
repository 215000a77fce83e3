"""``tandem demo SCRIPT...``: whole sessions of an intervention script with a simulated child.

Everything is the real engine except the devices, as in :mod:`engine.demo`:
the offline backend drives the stream block by block (``pace="fast"``: as
fast as the machine goes), the script's kind (:mod:`engine.interventions.kinds`)
plans each trial, every cue of the plan is scheduled in the engine at its
frame with its sound from the sound bank, and a behaviour model of
:mod:`engine.interventions.childmodels` plays the child. Its events enter
through the same stamping path as MIDI notes (host time → clock map →
frames, :func:`engine.inputs.stamp_input`) when the stream reaches them, are
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

**Timing.** Plan times are seconds on the engine clock (frame / rate). A cue
is heard at its ``time_s``: it is scheduled at that frame minus the sound's
attack and the output latency. Call-and-response and turn-taking trials are
scored when their listening window has closed; the next trial starts then
(at its plan's end, or a moment later if the stream is already past it).
Rhythmic cueing plays bars back to back: the next bar is planned (and
scheduled) a look-ahead before it starts, once the previous bar's window
(half a beat past its last beat) has closed and been scored, so adaptation
takes effect on the very next bar (at tempos up to 300 BPM, where half a
beat is longer than the look-ahead).

Not yet: ``pace="realtime"`` (a clear error), the early end of a
turn-taking trial once the child's turn is over, ``midi_out`` cue instruments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import engine
from engine.audio.engine import AudioEngine
from engine.audio.soundbank import SoundBank
from engine.errors import ConfigError
from engine.events import CueEvent, InputEvent, StatusEvent
from engine.inputs import stamp_input
from engine.interventions.childmodels import make_model
from engine.interventions.kinds import Kind, TrialPlan, TrialResult, make_kind
from engine.interventions.script import Script, load_script
from engine.paths import cache_dir
from engine.recording import SessionFolder
from engine.scoring.objectives import SessionResult, evaluate_session, objective_status

__all__ = ["PACES", "bank_name", "run_script_demo", "script_sounds"]

PACES = ("fast", "realtime")
START_S = 0.5  # the first plan starts this long after the stream
LOOKAHEAD_S = 0.1  # cues are scheduled this long before they are due
TAIL_S = 0.3  # recorded after the last window closes
FEEDBACK_DELAY_MS = 5.0
#: The simulated pad's own sound, for ``feedback = "device"``.
DEVICE_FEEDBACK = "drum:low_conga"
DEFAULT_NOTE = 60  # a pitched instrument asked to play a note it was not given (e.g. an unpitched echo)
YOUR_TURN_TONE = "A5"


def bank_name(sound: str, note: int | None) -> str:
    """The sound-bank request for a cue's (sound, note).

    ``program:N`` and ``tone`` take the note (``DEFAULT_NOTE`` without one);
    every other sound is a request as it is.

    Raises
    ------
    ConfigError
        For ``midi_out``, which the demo cannot play.
    """
    if sound == "midi_out":
        raise ConfigError("This script plays its cues on an external MIDI instrument (midi_out); "
                          "`tandem demo` has no MIDI output yet: use a sound-bank instrument such as "
                          "program:0 or drum:hi_bongo to try it.")
    if sound.startswith("program:") and sound.count(":") == 1:
        return f"{sound}:{DEFAULT_NOTE if note is None else note}"
    if sound == "tone":
        return f"tone:{YOUR_TURN_TONE if note is None else note}"
    return sound


def _feedback_request(script: Script) -> str | None:
    fb = script.instruments.feedback
    if fb == "none":
        return None
    if fb == "device":
        return DEVICE_FEEDBACK
    return bank_name(fb, None)


def script_sounds(script: Script) -> list[str]:
    """Every sound the script's trials can ask for, as sound-bank requests (loaded before the session)."""
    from engine.interventions.kinds import COUNT_IN_SOUNDS, LEAD_IN_SOUND, _pitched

    cue = script.instruments.cue
    names = [*COUNT_IN_SOUNDS]
    pitches = {p for ph in script.phrases for p in ph.pitches}
    if _pitched(cue):
        names += [bank_name(cue, p) for p in sorted(pitches | {DEFAULT_NOTE})]
    else:
        names.append(bank_name(cue, None))
    lead_sound = cue if _pitched(cue) else LEAD_IN_SOUND
    names += [bank_name(lead_sound, note) for note, _ in script.prompts.lead_in]
    if script.prompts.your_turn_sound != "none":
        names.append(bank_name(script.prompts.your_turn_sound, None))
    fb = _feedback_request(script)
    if fb is not None:
        names.append(fb)
    return list(dict.fromkeys(names))


@dataclass
class _Pending:
    """A planned trial waiting for its window to close."""

    plan: TrialPlan
    truth: list[dict] = field(default_factory=list)


def _model_events(kind: Kind, plan: TrialPlan, model, beat_history: list[float]) -> list:
    if plan.kind == "call_and_response":
        pitches = list(plan.pattern.pitches) if plan.pattern and plan.pattern.pitches else None
        return model.respond(plan.cue_times("call"), pitches, plan.engine_end_s)
    if plan.kind == "turn_taking":
        return model.take_turn(plan.engine_start_s, plan.engine_end_s)
    if plan.kind == "rhythmic_cueing":
        beat_history.extend(plan.cue_times("count_in", "downbeat", "beat"))
        if plan.phase == "free_play":
            return []
        lo, hi = plan.child_start_s, plan.child_end_s
        return [e for e in model.tap_along(beat_history) if lo <= e.time_s < hi]
    raise ConfigError(f"`tandem demo` cannot run the kind '{plan.kind}' yet.")


def _run_session(script: Script, *, root: Path, child_id: str, model_name: str, session: int,
                 seed: int, bank: SoundBank, blocksize: int, sample_rate: int,
                 max_trials: int | None, kind_options: dict[str, Any]) -> tuple[dict, list[TrialResult], Path]:
    kind = make_kind(script, seed=seed + session, **kind_options)
    feedback_name = _feedback_request(script)
    feedback = bank[feedback_name] if feedback_name else None
    eng = AudioEngine(backend="offline", sample_rate=sample_rate, blocksize=blocksize,
                      channels_in=1, channels_out=2, ring_s=10.0)
    folder = SessionFolder(root, child_id=child_id, name=f"demo-{script.path.stem}")
    results: list[TrialResult] = []
    try:
        params = eng.open()
        folder.write_header({
            "schema": 1, "engine_version": engine.__version__, "kind": "demo",
            "intervention": script.kind, "script": str(script.path), "title": script.title,
            "child_id": child_id, "session": session,
            "simulated_child": {"model": model_name, "seed": seed + session},
            "started": datetime.now().astimezone().isoformat(timespec="seconds"),
            "backend": "offline", "pace": "fast", "sample_rate": params.sample_rate,
            "blocksize": params.blocksize,
            "latency_frames": {"input": params.input_latency_frames, "output": params.output_latency_frames},
            "sound_source": bank.source, "feedback": feedback_name, "feedback_delay_ms": FEEDBACK_DELAY_MS,
            "max_trials": max_trials,
        })
        folder.open_audio(sample_rate=params.sample_rate, channels=eng.channels_out)
        eng.start()
        backend = eng.backend
        rate = eng.sample_rate
        look = eng.clock.ms_to_frames(LOOKAHEAD_S * 1000.0)
        fb_delay = eng.clock.ms_to_frames(FEEDBACK_DELAY_MS)
        latency = eng.output_latency_frames

        cue_queue: list[tuple[int, Any]] = []  # (schedule frame, kinds.Cue)
        input_queue: list[Any] = []  # SimEvents, by time
        logged: list[tuple[float, int | None]] = []  # (time_s as logged, note or None)
        open_plans: list[_Pending] = []
        beat_history: list[float] = []
        next_start = START_S
        planned = 0  # trials (and phases) planned
        trials_done = 0
        written = 0

        def can_plan() -> bool:
            if kind.finished or (max_trials is not None and planned >= max_trials):
                return False
            # Plans whose window closes before the next start are scored first (their result adapts the kind).
            return not any(p.plan.child_end_s <= next_start + 1e-9 for p in open_plans)

        def plan_next() -> None:
            nonlocal next_start, planned
            start = max(next_start, (eng.now_frame + look) / rate)
            plan = kind.next_trial(start)
            for cue in plan.cues:
                name = bank_name(cue.sound, cue.note)
                if name not in bank:
                    raise ConfigError(f"{script.path}: the cue sound '{name}' ({cue.role}) was not loaded; "
                                      f"the sounds loaded are {', '.join(bank.names)}.")
                snd = bank[name]
                cue_queue.append((round(cue.time_s * rate) - snd.attack_frames - latency, cue))
            cue_queue.sort(key=lambda fc: fc[0])
            model = make_model(model_name, seed=seed + session, trial_index=plan.index)
            events = _model_events(kind, plan, model, beat_history)
            input_queue.extend(events)
            input_queue.sort(key=lambda e: e.time_s)
            folder.write_event({"type": "plan", "frame": eng.now_frame, "index": plan.index, "phase": plan.phase,
                                "start_s": plan.start_s, "end_s": plan.end_s, "tempo_bpm": plan.tempo_bpm,
                                "child_start_s": plan.child_start_s, "child_end_s": plan.child_end_s,
                                "engine_start_s": plan.engine_start_s, "engine_end_s": plan.engine_end_s,
                                "params": plan.params})
            open_plans.append(_Pending(plan, [e.truth for e in events]))
            next_start = plan.end_s
            planned += 1

        def score_due() -> None:
            nonlocal trials_done
            while open_plans and eng.now_frame >= round(open_plans[0].plan.child_end_s * rate) + 1:
                pending = open_plans.pop(0)
                plan = pending.plan
                result = kind.score(plan, list(logged))
                kind.adapt(result)
                if plan.phase == "trial":
                    results.append(result)
                    trials_done += 1
                folder.write_event({"type": "trial", "frame": eng.now_frame, "index": plan.index,
                                    "phase": plan.phase, "start_s": plan.start_s, "tempo_bpm": plan.tempo_bpm,
                                    "scores": result.scores, "correct": result.correct,
                                    "child_truth": pending.truth})

        if can_plan():
            plan_next()
        while open_plans or cue_queue or input_queue:
            now = eng.now_frame
            score_due()
            while can_plan() and (not open_plans or (now + look) / rate >= next_start):
                plan_next()
            # Cues within the look-ahead go to the mixer, at their frame.
            while cue_queue and cue_queue[0][0] < now + look:
                frame, cue = cue_queue.pop(0)
                snd = bank[bank_name(cue.sound, cue.note)]
                eng.play(snd, frame, gain=0.8, pan=-0.3)
                folder.write_event(CueEvent(frame=frame, sound=snd.name, heard_frame=frame + snd.attack_frames
                                            + latency, gain=0.8, pan=-0.3, role=cue.role, index=cue.index))
            # The child's events arrive like MIDI once the stream has reached them.
            while input_queue and input_queue[0].time_s * rate <= now:
                sim = input_queue.pop(0)
                arrival_ns = backend.start_ns + round(sim.time_s * 1e9)
                note = -1 if sim.note is None else int(sim.note)
                ev: InputEvent = stamp_input(eng, source="sim", key="pad1" if sim.note is None else f"note:{note}",
                                             velocity=sim.velocity, arrival_ns=arrival_ns, note=note)
                folder.write_event(ev)
                logged.append((ev.frame / rate, None if ev.note < 0 else ev.note))
                if feedback is not None:
                    fb_frame = max(ev.frame + fb_delay, now)
                    eng.play(feedback, fb_frame, gain=round(0.4 + 0.5 * ev.velocity / 127, 4), pan=0.3)
                    folder.write_event(CueEvent(frame=fb_frame, sound=feedback.name,
                                                heard_frame=fb_frame + feedback.attack_frames + latency,
                                                gain=round(0.4 + 0.5 * ev.velocity / 127, 4), pan=0.3,
                                                role="feedback", index=len(logged) - 1))
            if not (open_plans or cue_queue or input_queue):
                break
            backend.run_blocks(1)
            if eng.output_ring.written - written >= rate // 2:
                folder.write_audio(eng.output_ring.read(written, eng.output_ring.written - written))
                written = eng.output_ring.written
        end = eng.now_frame + round(TAIL_S * rate)
        while eng.now_frame < end:
            backend.run_blocks(1)
            if eng.output_ring.written - written >= rate // 2:
                folder.write_audio(eng.output_ring.read(written, eng.output_ring.written - written))
                written = eng.output_ring.written
        eng.stop()
        folder.write_audio(eng.output_ring.read(written, eng.output_ring.written - written))
        stats = eng.stats()
        folder.write_event(StatusEvent(frame=eng.now_frame, what="stream_stats", detail=stats))
        summary = {
            "script": str(script.path), "title": script.title, "kind": script.kind, "session": session,
            "child_id": child_id, "child_model": model_name, "seed": seed + session,
            "trials": [{"n": r.plan.index + 1, "tempo_bpm": r.plan.tempo_bpm, "scores": r.scores,
                        "correct": r.correct} for r in results],
            "inputs": len(logged), "stream": stats, "sound_source": bank.source,
            "files": {"events": folder.events_path.name, "audio": folder.audio_path.name},
        }
        folder.write_json("summary.json", summary)
    finally:
        eng.close()
        folder.close()
    return summary, results, folder.path


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
) -> list[dict]:
    """Run ``sessions`` sessions of one script with the simulated child ``model``; one dict per session.

    Each dict: ``script``, ``session`` (1-based), ``child_model``, ``folder``,
    ``trials`` (``n``, ``scores``, ``correct``) and ``objectives`` (``id``,
    ``status``, ``sentence``, ``value``: the status over this run's sessions
    up to this one, the value this session's). ``echo`` prints a readable
    summary of each session (None: quiet). ``max_trials`` stops a session
    early (for tests and quick looks).
    """
    if pace not in PACES:
        raise ConfigError(f"The pace must be one of {', '.join(PACES)}, not {pace!r}.")
    if pace == "realtime":
        raise ConfigError("`--pace realtime` is not built yet; run the demo with `--pace fast`.")
    if sessions < 1:
        raise ConfigError(f"A demo needs at least one session, not {sessions}.")
    if max_trials is not None and max_trials < 1:
        raise ConfigError(f"max_trials must be at least 1, not {max_trials}.")
    make_model(model)  # an unknown model is one sentence before anything runs
    script = load_script(script_path)
    make_kind(script)  # a kind that cannot run yet, likewise
    bank = SoundBank.load(script_sounds(script), sample_rate=sample_rate, soundfont=soundfont,
                          cache_dir=cache_dir())
    if echo is not None:
        for w in bank.warnings:
            echo(f"note: {w}")
    out: list[dict] = []
    history: dict[str, list[SessionResult]] = {o.id: [] for o in script.objectives}
    for s in range(1, sessions + 1):
        summary, results, folder = _run_session(
            script, root=root, child_id=child_id, model_name=model, session=s, seed=seed, bank=bank,
            blocksize=blocksize, sample_rate=sample_rate, max_trials=max_trials, kind_options=kind_options or {})
        trials = [r.trial for r in results if r.trial is not None]
        objectives = []
        for obj in script.objectives:
            res = evaluate_session(obj, trials)
            history[obj.id].append(res)
            st = objective_status(obj, history[obj.id])
            objectives.append({"id": obj.id, "status": st.status, "sentence": st.sentence, "value": res.value,
                               "met": res.met})
        entry = {"script": str(script.path), "title": script.title, "kind": script.kind, "session": s,
                 "child_id": child_id, "child_model": model, "folder": str(folder),
                 "trials": summary["trials"], "objectives": objectives}
        out.append(entry)
        if echo is not None:
            _print_session(echo, entry)
    return out


# Scores shown per kind in the readable summary: (key, label, format).
_KEY_SCORES = {
    "call_and_response": (("response_latency_ms", "latency", "{:.0f} ms"),
                          ("onsets_matched", "notes matched", "{}"), ("onsets_missed", "missed", "{}"),
                          ("ioi_error_ms", "rhythm error", "{:.0f} ms")),
    "turn_taking": (("waited", "waited", "{}"), ("initiated", "initiated", "{}"),
                    ("initiation_latency_ms", "latency", "{:.0f} ms"), ("turn_length_notes", "notes", "{}")),
    "rhythmic_cueing": (("within_window_pct", "on the beat", "{:.0f} %"),
                        ("asynchrony_mean_ms", "asynchrony", "{:+.0f} ms"), ("missed", "missed", "{}")),
}


def _fmt_score(value: Any, spec: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    try:
        return spec.format(value)
    except (TypeError, ValueError):
        return str(value)


def _print_session(echo: Callable[[str], None], s: dict) -> None:
    echo(f"{s['title']} ({s['kind'].replace('_', '-')}), session {s['session']}: child {s['child_id']} "
         f"(simulated, model '{s['child_model']}'), {len(s['trials'])} trials.")
    keys = _KEY_SCORES.get(s["kind"], ())
    for t in s["trials"]:
        shown = [f"{label} {_fmt_score(t['scores'].get(k), spec)}" for k, label, spec in keys if k in t["scores"]]
        correct = "—" if t["correct"] is None else ("correct" if t["correct"] else "not correct")
        echo(f"  trial {t['n']:>2} at {t['tempo_bpm']:.0f} BPM: {', '.join(shown)}; {correct}")
    if s["objectives"]:
        echo("Objectives:")
    for o in s["objectives"]:
        echo(f"  {o['id']}: {o['status']}. {o['sentence']}")
    echo(f"Session folder: {s['folder']}  (events.jsonl, audio.wav, summary.json)")
