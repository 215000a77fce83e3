"""One battery task with a simulated child on the offline backend (``tandem assess --simulate MODEL``).

The same machinery as ``tandem demo`` (:mod:`engine.simulation.demo`): an
offline :class:`~engine.audio.engine.AudioEngine` run block by block as fast
as the machine goes, a :class:`~engine.session.runner.ScriptSession` driving
the script, and the behaviour model of :mod:`engine.simulation.models`
playing the child, whose events enter through the input-stamping path and
are logged before they are scored. Differences from the demo:

- the session stops early when the battery's rule says so (``stop_rule``:
  repeated no-response, or a staircase that has seen enough), checked after
  each scored trial and before the next is planned, so no trial is
  abandoned and the log re-scores exactly;
- no ``audio.wav`` (twelve minutes of stereo audio per run would be 140 MB
  of nothing a therapist listens to);
- the kind is built without a seed (``kind_seed`` None), as ``tandem run``
  builds it live, so a simulated and a live battery play the same plans;
- ``controls`` (a queue) takes ``"pause"``, ``"resume"``, ``"toggle"`` and
  ``"stop"`` between blocks, as ``tandem run`` does.

The header names the assessment and the task (``assessment``: ``folder``,
``tasks``), and ``kind`` is ``"demo"`` (a simulated child).
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import engine
from engine.audio.engine import AudioEngine
from engine.audio.soundbank import SoundBank
from engine.events import StatusEvent
from engine.interventions.kinds import TrialResult, make_kind
from engine.interventions.script import Script
from engine.interventions.sounds import feedback_request, script_sounds
from engine.paths import cache_dir
from engine.records.folder import SessionFolder
from engine.scoring.judge import judge_objectives
from engine.session.runner import ScriptSession
from engine.simulation.demo import (
    DEVICE_FEEDBACK,
    FEEDBACK_DELAY_MS,
    LOOKAHEAD_S,
    START_S,
    TAIL_S,
    SimulatedPlayer,
)

__all__ = ["SimOutcome", "run_simulated_task"]

#: Stream seconds a paused simulated session waits for "resume" before it gives up (a test that forgot it).
MAX_PAUSE_S = 3600.0


@dataclass
class SimOutcome:
    """What one simulated task session did: its folder, status, results and why it ended early."""

    folder: Path
    status: str  # "completed" or "stopped" (by the controls)
    results: list[TrialResult]
    stop_reason: str | None  # the battery rule that ended it early, None if it ran its trials


def run_simulated_task(script: Script, *, root: Path, child_id: str, model: str, seed: int,
                       header_extra: dict[str, Any], stop_rule=None, controls: queue.Queue | None = None,
                       blocksize: int = 128, sample_rate: int = 48_000, soundfont: str | None = None,
                       echo: Callable[[str], None] | None = None) -> SimOutcome:
    """Run one task's script with the simulated child ``model``; see the module docstring."""
    kind = make_kind(script)
    bank = SoundBank.load(script_sounds(script, device_sound=DEVICE_FEEDBACK), sample_rate=sample_rate,
                          soundfont=soundfont, cache_dir=cache_dir())
    if echo is not None:
        for w in bank.warnings:
            echo(f"note: {w}")
    feedback_name = feedback_request(script, DEVICE_FEEDBACK)
    feedback = bank[feedback_name] if feedback_name else None
    eng = AudioEngine(backend="offline", sample_rate=sample_rate, blocksize=blocksize,
                      channels_in=1, channels_out=2, ring_s=2.0)
    folder = SessionFolder(root, child_id=child_id, name=f"assess-{script.path.stem}")
    status = "completed"
    try:
        params = eng.open()
        folder.write_header({
            "engine_version": engine.__version__, "kind": "demo", "kind_seed": None,
            "intervention": script.kind, "script": str(script.path), "title": script.title,
            "child_id": child_id, "simulated_child": {"model": model, "seed": seed},
            "started": datetime.now().astimezone().isoformat(timespec="seconds"),
            "backend": "offline", "pace": "fast", "sample_rate": params.sample_rate,
            "blocksize": params.blocksize,
            "latency_frames": {"input": params.input_latency_frames, "output": params.output_latency_frames},
            "sound_source": bank.source, "feedback": feedback_name, "feedback_delay_ms": FEEDBACK_DELAY_MS,
            "max_trials": None, "plan_objectives": [], **header_extra,
        })
        eng.start()
        backend = eng.backend
        rate = eng.sample_rate
        player = SimulatedPlayer(eng, folder.write_event, model, seed, feedback)
        runner = ScriptSession(script, kind, eng, bank, folder.write_event, start_s=START_S,
                               lookahead_s=LOOKAHEAD_S, on_plan=player.plans, stop_when=stop_rule)
        paused_at: int | None = None
        while True:
            now = eng.now_frame
            command = _command(controls)
            if command == "toggle":
                command = "resume" if runner.state == "paused" else "pause"
            if command == "stop":
                runner.stop("stopped by the therapist")
                status = "stopped"
                break
            if command == "pause" and runner.pause():
                player.pending.clear()  # the child stops too; the trial is played again on resume
                paused_at = now
            elif command == "resume" and runner.resume():
                paused_at = None
            if paused_at is not None and now - paused_at > MAX_PAUSE_S * rate:
                runner.stop("paused too long")
                status = "stopped"
                break
            player.deliver(runner)
            runner.step()
            if runner.done:
                break
            backend.run_blocks(1)
        end = eng.now_frame + round(TAIL_S * rate)
        while eng.now_frame < end:
            backend.run_blocks(1)
        eng.stop()
        stats = eng.stats()
        folder.write_event(StatusEvent(frame=eng.now_frame, what="stream_stats", detail=stats))
        results = list(runner.results)
        folder.write_json("summary.json", {
            "script": str(script.path), "title": script.title, "kind": script.kind, "child_id": child_id,
            "child_model": model, "seed": seed, "status": status, "stop_reason": runner.stop_reason,
            "trials": [{"n": i + 1, "tempo_bpm": r.plan.tempo_bpm, "scores": r.scores, "correct": r.correct}
                       for i, r in enumerate(results)],
            "inputs": player.inputs, "stream": stats, "files": {"events": folder.events_path.name},
        })
        folder.write_summary({
            "status": status, "ended": datetime.now().astimezone().isoformat(timespec="seconds"),
            "duration_s": round(eng.now_frame / rate, 3), "trials": len(results),
            "objectives": judge_objectives(script, results),
        })
    finally:
        eng.close()
        folder.close()
    return SimOutcome(folder.path, status, results, runner.stop_reason)


def _command(controls: queue.Queue | None) -> str | None:
    if controls is None:
        return None
    try:
        command = controls.get_nowait()
    except queue.Empty:
        return None
    return command if command in ("pause", "resume", "toggle", "stop") else None
