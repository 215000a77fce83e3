"""``tandem demo``: a real, short rhythmic-cueing session with a simulated child.

Everything is the real engine except the devices: the offline backend drives
the stream block by block (faster than real time), the metronome schedules
GM sounds ahead on the stream clock, the simulated child hears each cue when
the stream reaches it and taps with human-like timing, and its taps enter
through the same stamping path as MIDI notes (host time → DLL clock map →
frames). Each tap also triggers the pad's feedback sound at a fixed delay, as
for a pad with no sound of its own. The session folder gets every event, the
audio that was played (WAV) and a summary; the printed asynchronies come from
the scoring code applied to those events, and are checked against what the
simulated child intended.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import engine
from engine.audio.engine import AudioEngine
from engine.audio.soundbank import SoundBank
from engine.errors import ConfigError
from engine.events import CueEvent, InputEvent, StatusEvent
from engine.interventions.metronome import Metronome, MetronomeSounds
from engine.midi.stamp import stamp_input
from engine.paths import cache_dir
from engine.records.folder import SessionFolder
from engine.scoring.sync import match_taps, summarize
from engine.simulation.tapping import SimulatedChild

__all__ = ["DemoResult", "run_demo", "DEMO_SOUNDS"]

DEMO_SOUNDS = {
    "count_in": "drum:claves",
    "downbeat": "drum:hi_wood_block",
    "beat": "drum:low_wood_block",
    "feedback": "drum:low_conga",
}
FEEDBACK_DELAY_MS = 5.0  # pad feedback at input stamp + a fixed delay: constant latency, no jitter
LOOKAHEAD_MS = 50.0
WINDOW_MS = 80.0


@dataclass
class DemoResult:
    folder: Path
    summary: dict
    cues: list[CueEvent]
    played: list[CueEvent]
    taps: list[InputEvent]
    truth_max_error_ms: float | None


def run_demo(
    *,
    root: Path,
    child_id: str = "C00",
    profile: str = "typical",
    tempo_bpm: float = 100.0,
    beats: int = 32,
    count_in: int = 4,
    seed: int | None = None,
    blocksize: int = 128,
    sample_rate: int = 48_000,
    soundfont: str | None = None,
    echo: Callable[[str], None] = print,
    on_first_sound: Callable[[], None] | None = None,
) -> DemoResult:
    """Run one demo session and write its folder under ``root``."""
    if beats < 4:
        raise ConfigError(f"A demo needs at least 4 beats, not {beats}.")
    bank = SoundBank.load(DEMO_SOUNDS.values(), sample_rate=sample_rate, soundfont=soundfont,
                          cache_dir=cache_dir())
    for w in bank.warnings:
        echo(f"note: {w}")
    sounds = MetronomeSounds(*(bank[DEMO_SOUNDS[k]] for k in ("count_in", "downbeat", "beat")))
    feedback = bank[DEMO_SOUNDS["feedback"]]
    child = SimulatedChild(profile, seed=seed)

    eng = AudioEngine(backend="offline", sample_rate=sample_rate, blocksize=blocksize,
                      channels_in=1, channels_out=2, ring_s=10.0)
    folder = SessionFolder(root, child_id=child_id, name="demo-metronome")
    cues: list[CueEvent] = []  # the metronome's
    played: list[CueEvent] = []  # every sound the engine played, feedback included
    taps: list[InputEvent] = []
    truth: dict[int, tuple[float, int]] = {}  # input frame -> (the child's own tap time s, index of the cue it aimed at)
    try:
        params = eng.open()
        folder.write_header({
            "engine_version": engine.__version__, "kind": "demo",
            "intervention": "rhythmic-cueing (metronome)", "child_id": child_id,
            "simulated_child": {"profile": profile, "seed": seed},
            "started": datetime.now().astimezone().isoformat(timespec="seconds"),
            "backend": "offline", "sample_rate": params.sample_rate, "blocksize": params.blocksize,
            "latency_frames": {"input": params.input_latency_frames, "output": params.output_latency_frames},
            "tempo_bpm": tempo_bpm, "beats": beats, "count_in": count_in,
            "sounds": {k: v for k, v in DEMO_SOUNDS.items()}, "sound_source": bank.source,
            "feedback_delay_ms": FEEDBACK_DELAY_MS,
        })
        folder.open_audio(sample_rate=params.sample_rate, channels=eng.channels_out)
        eng.start()
        backend = eng.backend
        rate = eng.sample_rate
        metro = Metronome(eng, sounds, tempo_bpm=tempo_bpm, beats=beats, count_in=count_in,
                          start_frame=eng.clock.ms_to_frames(200), lookahead_frames=eng.clock.ms_to_frames(LOOKAHEAD_MS),
                          pan=-0.3)
        end_frame = metro.end_frame + eng.clock.ms_to_frames(500)
        fb_delay = eng.clock.ms_to_frames(FEEDBACK_DELAY_MS)
        unheard: list[CueEvent] = []
        written = 0
        first_sound_told = on_first_sound is None
        while eng.now_frame < end_frame:
            now = eng.now_frame
            # Cues reach the child's ears when the stream gets to their heard frame.
            while unheard and unheard[0].heard_frame <= now:
                child.hear_cue(unheard.pop(0).heard_frame / rate)
            # Taps the child made up to now arrive like MIDI: stamped with host time on arrival.
            for tap in child.due_taps(now / rate):
                arrival_ns = backend.start_ns + round(tap.time_s * 1e9)
                ev = stamp_input(eng, source="sim", key="pad1", velocity=tap.velocity, arrival_ns=arrival_ns)
                taps.append(ev)
                folder.write_event(ev)
                if tap.cue_index is not None:
                    truth[ev.frame] = (tap.time_s, tap.cue_index)
                fb = CueEvent(frame=ev.frame + fb_delay, sound=feedback.name,
                              heard_frame=ev.frame + fb_delay + feedback.attack_frames + eng.output_latency_frames,
                              gain=round(0.4 + 0.5 * ev.velocity / 127, 4), pan=0.3, role="feedback", index=len(taps) - 1)
                eng.play(feedback, fb.frame, gain=fb.gain, pan=fb.pan)
                played.append(fb)
                folder.write_event(fb)
            for cue in metro.step():
                cues.append(cue)
                played.append(cue)
                unheard.append(cue)
                folder.write_event(cue)
            backend.run_blocks(1)
            if not first_sound_told and eng.mixer.first_sound_frame >= 0:
                on_first_sound()
                first_sound_told = True
            if eng.output_ring.written - written >= rate // 2:
                folder.write_audio(eng.output_ring.read(written, eng.output_ring.written - written))
                written = eng.output_ring.written
        child.stop()
        eng.stop()  # fades anything still sounding into the recording
        folder.write_audio(eng.output_ring.read(written, eng.output_ring.written - written))
        stats = eng.stats()
        folder.write_event(StatusEvent(frame=eng.now_frame, what="stream_stats", detail=stats))

        beat_cues = [c for c in cues if c.role != "count_in"]
        cue_s = [c.heard_frame / rate for c in beat_cues]
        tap_s = [t.frame / rate for t in taps]
        matches = match_taps(cue_s, tap_s)
        summary = summarize(matches, len(taps), window_ms=WINDOW_MS, tap_s=tap_s)
        # Ground truth: the simulated child's own tap time against the cue it aimed at,
        # before anything went through the engine's stamping, matching and scoring.
        errors = []
        for m in matches:
            if m.tap_index is None or taps[m.tap_index].frame not in truth:
                continue
            tap_time_s, aimed = truth[taps[m.tap_index].frame]
            if cues[aimed].heard_frame / rate == m.cue_s:  # scored against the cue it aimed at
                errors.append(abs(m.asynchrony_ms - 1000.0 * (tap_time_s - m.cue_s)))
        truth_err = max(errors) if errors else None
        result_summary = {
            "child_id": child_id, "profile": profile, "seed": seed, "tempo_bpm": tempo_bpm,
            "cues_scored": len(beat_cues), "taps": len(taps),
            "sync": summary.to_dict(), "window_ms": WINDOW_MS,
            "per_cue": [{"index": c.index, "cue_heard_s": round(c.heard_frame / rate, 6),
                         "tap_s": None if m.tap_s is None else round(m.tap_s, 6),
                         "asynchrony_ms": None if m.asynchrony_ms is None else round(m.asynchrony_ms, 3)}
                        for c, m in zip(beat_cues, matches)],
            "truth_check_max_error_ms": truth_err,
            "stream": stats, "sound_source": bank.source,
            "files": {"events": folder.events_path.name, "audio": folder.audio_path.name},
        }
        folder.write_json("summary.json", result_summary)
        folder.write_summary({
            "status": "completed", "ended": datetime.now().astimezone().isoformat(timespec="seconds"),
            "duration_s": round(eng.now_frame / rate, 3), "trials": 0, "objectives": [],
        })
    finally:
        eng.close()
        folder.close()
    _print_summary(echo, result_summary, folder.path)
    return DemoResult(folder.path, result_summary, cues, played, taps, truth_err)


def _fmt(x, spec=".1f", none="—"):
    return none if x is None else format(x, spec)


def _print_summary(echo, s: dict, path: Path) -> None:
    sync = s["sync"]
    echo(f"Demo session: child {s['child_id']} (simulated, profile '{s['profile']}'), "
         f"metronome at {s['tempo_bpm']:g} BPM, {s['cues_scored']} beats after the count-in.")
    echo("")
    echo("  beat   cue heard (s)   tap (s)    asynchrony (ms)")
    for row in s["per_cue"]:
        echo(f"  {row['index'] + 1:>4}   {row['cue_heard_s']:>12.3f}   {_fmt(row['tap_s'], '8.3f', '     —  ')}   "
             f"{_fmt(row['asynchrony_ms'], '+8.1f', '  missed')}")
    echo("")
    if sync.get("scorable", True):
        echo(f"Asynchrony: mean {_fmt(sync['asynchrony_mean_ms'], '+.1f')} ms, SD {_fmt(sync['asynchrony_sd_ms'])} ms "
             f"(negative = ahead of the beat)")
        echo(f"Within ±{s['window_ms']:g} ms: {_fmt(sync['within_window_pct'])} % of beats; "
             f"missed {sync['missed']}, extra taps {sync['extra']}; "
             f"tempo ratio {_fmt(sync['tempo_ratio'], '.3f')}, vector strength {_fmt(sync['vector_strength'], '.2f')}")
    else:
        echo(f"Not scorable: {sync.get('reason')}")
    st = s["stream"]
    echo(f"Stream: {st['callbacks']} blocks, {st['xruns']} xruns, {st['late_sounds']} late sounds, "
         f"{st['callback_errors']} callback errors.")
    if s["truth_check_max_error_ms"] is not None:
        echo(f"Check: measured asynchronies match the simulated child's own to within "
             f"{s['truth_check_max_error_ms']:.3f} ms.")
    echo(f"Session folder: {path}  (events.jsonl, audio.wav, summary.json)")


def first_sound_tracer() -> Callable[[], None] | None:
    """For the latency benchmark: print the wall-clock time of the first rendered sound to stderr."""
    if not os.environ.get("TANDEM_TRACE_FIRST_SOUND"):
        return None

    def tell() -> None:
        print(f"first_sound_wall_s={time.time():.6f}", file=sys.stderr, flush=True)

    return tell
