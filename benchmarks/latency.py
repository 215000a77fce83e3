"""Latency benchmark: real PortAudio streams on the JACK dummy server, measured by the virtual child.

Run: ``.venv/bin/python -m benchmarks.latency --json OUT.json``. Starts a
private JACK server (dummy driver, 48 kHz, 128-frame periods) when none is
given with ``--server``, and measures at blocksize 128 and 64:

- ``cue_error_frames_max``: over ≥ 1000 scheduled cues, the largest
  difference between the frame a cue was scheduled for and the frame where
  the virtual child heard it, after subtracting the path's constant latency.
  Goal 0. ``output_latency_frames`` is the stream's constant output latency
  (PortAudio's figure, which the engine adds to every cue's heard time);
  ``rig_path_frames`` is the constant the child measured at the engine's
  port (JACK graph only, without the dummy driver's playback buffer).
- ``xruns`` over the whole run (≥ 2 minutes) with 16 voices sounding: goal 0.
- ``callback_ms_p50``, ``callback_ms_p99``, ``block_ms``: goal p99 < 25 % of the block.
- ``first_sound_s``: from process start of ``tandem demo`` to its first
  scheduled sound being rendered, with the sound bank cached: goal < 2 s.
- ``xruns_forced`` and ``cue_error_frames_max_after_xrun``: the virtual
  child stalls its JACK callback ``--stalls`` times (each an xrun for every
  client) while cues play every ~110 ms; the largest frame error of the cues
  scheduled after a dropout (outside it and a 0.2 s margin): goal 0. The
  other runs force nothing, so their ``xruns`` goal stays 0.
- ``xruns_with_ui``: a live session (`tandem run`'s `run_session`: a
  rhythmic-cueing script, the virtual child tapping along on its MIDI pad)
  of ``--ui-seconds`` (default 120) with the session screen drawing at
  60 fps in its own process (a real X window on Xvfb when ``Xvfb`` is
  installed, else SDL's dummy driver): goal 0. ``xruns_without_ui`` is the
  same session without the screen, measured just before, as the control;
  ``ui_fps`` the frame rate the screen reported.

The top-level keys are for blocksize 128; ``by_blocksize`` holds each.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import jack_rig
from engine.audio.sound import Sound

GOALS = {
    "cue_error_frames_max": "== 0",
    "xruns": "== 0",
    "callback_ms_p99": "< 25 % of block_ms",
    "first_sound_s": "< 2.0",
    "xruns_with_ui": "== 0",
    "cue_error_frames_max_after_xrun": "== 0",
}



def background_voices(rate: int, n: int = 16) -> list[Sound]:
    """n quiet, steady tones (together below the child's onset threshold) to keep 16 voices busy."""
    t = np.arange(rate * 2) / rate
    return [Sound(f"bg{i}", (0.0015 * np.sin(2 * np.pi * (110 + 37 * i) * t)).astype(np.float32), rate) for i in range(n)]


def run_blocksize(child, *, blocksize: int, seconds: float, cues: int, echo) -> dict:
    from tests.rig.measure import click, cue_offsets, open_engine

    rig = open_engine(child, blocksize=blocksize, max_voices=64)
    eng = rig.engine
    rate = eng.sample_rate
    try:
        child.heard_onsets(clear=True)
        child.stats(reset=True)
        cue = click(rate)
        bg = background_voices(rate)
        start = eng.now_frame + rate // 2
        frames, f, k = [], start, 0
        end = start + int(seconds * rate)
        while len(frames) < cues or f < end:
            frames.append(f)
            f += 4800 + (37 * k) % 1000  # 100–121 ms apart, landing on every offset within a block
            k += 1
        bg_next = [start + i * 7 for i in range(len(bg))]
        lookahead = rate // 10
        heard: list[int] = []
        i = 0
        t_start = time.monotonic()
        last_report = t_start
        while eng.now_frame < frames[-1] + rate // 4:
            horizon = eng.now_frame + lookahead
            for v, s in enumerate(bg):  # each background voice restarts where it ends: always sounding
                while bg_next[v] < horizon and bg_next[v] < frames[-1]:
                    eng.play(s, bg_next[v], gain=1.0)
                    bg_next[v] += s.frames
            while i < len(frames) and frames[i] < horizon:
                eng.play(cue, frames[i], gain=1.0, pan=-1.0)
                i += 1
            # The child is not asked anything until the end: each request wakes its command
            # thread, whose GIL the child's own JACK callback needs (the child is Python too).
            eng.check()
            if time.monotonic() - last_report > 15:
                last_report = time.monotonic()
                echo(f"  blocksize {blocksize}: {i}/{len(frames)} cues, {eng.xruns} xruns so far")
            time.sleep(0.01)
        time.sleep(0.1)
        heard += child.heard_onsets(clear=True)
        wall_s = time.monotonic() - t_start
        stats = eng.stats()
        ms = eng.callback_ms()
        child_stats = child.stats()
        jack_xruns = child_stats["xruns"]
        params = eng.params
    finally:
        rig.close()
    offsets = cue_offsets(rig, child, frames, heard=heard)
    found = [o for o in offsets if o is not None]
    path = int(statistics.median(found)) if found else None
    return {
        "blocksize": blocksize,
        "cues": len(frames),
        "cues_heard": len(found),
        "cues_unheard": len(frames) - len(found),
        "cue_error_frames_max": max(abs(o - path) for o in found) if found else None,
        "output_latency_frames": params.output_latency_frames,
        "input_latency_frames": params.input_latency_frames,
        "rig_path_frames": path,
        "duration_s": round(wall_s, 1),
        "voices_background": len(bg),
        "xruns": jack_xruns + stats["xruns"],
        "jack_xruns": jack_xruns,
        "stream_status_xruns": stats["xruns"],
        "skipped_frames": stats["skipped_frames"],
        "cue_offsets_seen": sorted(set(found)),
        "virtual_child_callback_us_max": child_stats.get("max_callback_us"),
        "late_sounds": stats["late_sounds"],
        "callback_errors": stats["callback_errors"],
        "callbacks": stats["callbacks"],
        "callback_ms_p50": round(float(np.percentile(ms, 50)), 4),
        "callback_ms_p99": round(float(np.percentile(ms, 99)), 4),
        "callback_ms_max": round(float(ms.max()), 4),
        "block_ms": round(stats["block_ms"], 4),
    }


def forced_xruns(child, *, blocksize: int = 128, stalls: int = 4, stall_s: float = 0.03, echo) -> dict:
    """Cues every ~110 ms while the virtual child stalls its JACK callback ``stalls`` times (each stall makes
    the server miss its deadlines: an xrun for every client). The engine's clock must follow the device over
    each dropout, so every cue scheduled after one (outside the dropout and a 0.2 s margin) is heard at its
    exact frame: ``cue_error_frames_max_after_xrun`` (goal 0) against the path measured before the first."""
    from tests.rig.measure import click, cue_offsets, open_engine

    rig = open_engine(child, blocksize=blocksize, max_voices=64)
    eng = rig.engine
    rate = eng.sample_rate
    spacing = int(1.5 * rate)
    try:
        child.heard_onsets(clear=True)
        child.stats(reset=True)
        cue = click(rate)
        start = eng.now_frame + rate // 2
        end = start + (stalls + 1) * spacing
        frames, f, k = [], start, 0
        while f < end:
            frames.append(f)
            f += 4800 + (37 * k) % 1000
            k += 1
        stall_frames = [start + (i + 1) * spacing - spacing // 3 for i in range(stalls)]
        lookahead = rate // 10
        i = armed = 0
        while eng.now_frame < frames[-1] + rate // 4:
            # The child holds one stall at a time: each is armed half a second ahead, after the one before
            # happened (in the child's JACK frames: the stream frame + the rig's offset).
            if armed < stalls and eng.now_frame >= stall_frames[armed] - rate // 2:
                child.stall(stall_frames[armed] + rig.t0, stall_s)
                armed += 1
            horizon = eng.now_frame + lookahead
            while i < len(frames) and frames[i] < horizon:
                eng.play(cue, frames[i], gain=1.0, pan=-1.0)
                i += 1
            eng.check()
            time.sleep(0.01)
        time.sleep(0.1)
        heard = child.heard_onsets(clear=True)
        stats = eng.stats()
        xrun_log = eng.pop_xruns()
        child_stats = child.stats()
    finally:
        rig.close()
    offsets = cue_offsets(rig, child, frames, heard=heard)
    margin = int(stall_s * rate) + rate // 5
    before = [o for f, o in zip(frames, offsets) if f < stall_frames[0] and o is not None]
    path = int(statistics.median(before)) if before else None
    after = [o for f, o in zip(frames, offsets) if f >= stall_frames[0]
             and not any(sf <= f < sf + margin for sf in stall_frames)]
    found = [o for o in after if o is not None]
    echo(f"  forced: {child_stats['xruns']} JACK xruns, engine saw {stats['xruns']} "
         f"(skipped {stats['skipped_frames']} frames); {len(found)}/{len(after)} cues after them heard")
    return {
        "xruns_forced": child_stats["xruns"],
        "stalls": stalls,
        "stall_s": stall_s,
        "engine_xruns": stats["xruns"],
        "skipped_frames": stats["skipped_frames"],
        "xrun_log": [list(x) for x in xrun_log],
        "cues_after_xrun": len(after),
        "cues_after_xrun_unheard": len(after) - len(found),
        "cue_error_frames_max_after_xrun": max(abs(o - path) for o in found) if found and path is not None else None,
        "cue_offsets_after_xrun_seen": sorted(set(found)),
        "rig_path_frames": path,
        "late_sounds": stats["late_sounds"],
    }


def ui_session(child, *, seconds: float, screen: str, echo, tapping: bool = True) -> dict:
    """One live session on the rig (the virtual child tapping along); its xruns and the screen's frame rate."""
    from engine.session.live import run_session
    from tests.rig.measure import jack_system_device
    from tests.rig.players import MARCH, EchoingChild

    with tempfile.TemporaryDirectory() as work:
        script = Path(work) / "march.toml"
        script.write_text(MARCH.replace("{length}", f"duration_min = {round(seconds / 60.0, 4)}"))
        with EchoingChild(child, 0.5) if tapping else contextlib.nullcontext():
            summary = run_session(str(script), root=Path(work) / "data", child_id="B1", midi_in="virtual-child",
                                  audio=jack_system_device(), transport="jack", screen=screen,
                                  echo=lambda line: None)
    stream = summary["stream"]
    shown = stream.get("screen") or {}
    out = {"xruns": stream["xruns"] - stream["xruns_during_setup"], "xruns_during_setup": stream["xruns_during_setup"],
           "seconds": round(stream["frames"] / 48_000, 1), "trials": len(summary.get("trials", [])),
           "ui_fps": shown.get("fps"), "ui_frames": shown.get("frames"), "ui_slow_frames": shown.get("slow_frames")}
    echo(f"  session with screen={screen}: {out}")
    return out


@contextlib.contextmanager
def _display(echo):
    """A virtual X display (Xvfb) for the session screen's real window, else SDL's dummy video driver."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        os.environ["SDL_VIDEODRIVER"] = "dummy"
        yield "dummy"
        return
    display = f":{90 + os.getpid() % 50}"
    proc = subprocess.Popen([xvfb, display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    saved = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = display
    try:
        time.sleep(1.0)
        yield f"Xvfb {display}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if saved is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = saved


def first_sound(runs: int, echo) -> dict:
    """Seconds from starting `tandem demo` to its first rendered sound (sound bank cached)."""
    tandem = Path(sys.executable).with_name("tandem")
    cmd = [str(tandem)] if tandem.exists() else [sys.executable, "-m", "engine.cli"]
    times = []
    with tempfile.TemporaryDirectory() as out:
        env = {**os.environ, "TANDEM_TRACE_FIRST_SOUND": "1"}
        for k in range(runs + 1):  # the first run fills the cache and is not counted
            t0 = time.time()
            r = subprocess.run(cmd + ["demo", "--beats", "4", "--seed", "1", "--out", out],
                               capture_output=True, text=True, env=env, timeout=120)
            if r.returncode != 0:
                raise RuntimeError(f"tandem demo failed: {r.stderr.strip()}")
            line = [s for s in r.stderr.splitlines() if s.startswith("first_sound_wall_s=")]
            if not line:
                raise RuntimeError("tandem demo did not report its first sound")
            if k:
                times.append(float(line[0].split("=")[1]) - t0)
    echo(f"  first sound: {', '.join(f'{t:.3f}' for t in times)} s")
    return {"first_sound_s": round(statistics.median(times), 3), "first_sound_s_max": round(max(times), 3),
            "first_sound_runs": [round(t, 3) for t in times]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", metavar="OUT", help="write the results here")
    ap.add_argument("--seconds", type=float, default=120.0, help="run length per blocksize (default 120)")
    ap.add_argument("--cues", type=int, default=1000, help="at least this many cues per blocksize")
    ap.add_argument("--blocksizes", default="128,64")
    ap.add_argument("--first-sound-runs", type=int, default=5)
    ap.add_argument("--server", help="use this running JACK server instead of starting one")
    ap.add_argument("--stalls", type=int, default=4,
                    help="dropouts forced by the virtual child for the xrun run (default 4; 0 skips it)")
    ap.add_argument("--ui-seconds", type=float, default=120.0,
                    help="length of the live sessions with and without the screen (default 120; 0 skips them)")
    args = ap.parse_args(argv)
    echo = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731

    results: dict = {"by_blocksize": {}}
    with jack_rig(args.server, echo) as (server, child):
        for bs in (int(b) for b in args.blocksizes.split(",")):
            echo(f"blocksize {bs}: {args.seconds:g} s, ≥ {args.cues} cues, 16 background voices …")
            results["by_blocksize"][str(bs)] = run_blocksize(child, blocksize=bs, seconds=args.seconds,
                                                             cues=args.cues, echo=echo)
        if args.stalls > 0:
            echo(f"forced xruns: the virtual child stalls {args.stalls} times …")
            forced = forced_xruns(child, stalls=args.stalls, echo=echo)
            results.update({"xruns_forced": forced["xruns_forced"],
                            "cue_error_frames_max_after_xrun": forced["cue_error_frames_max_after_xrun"],
                            "forced_xruns": forced})
        if args.ui_seconds > 0:
            echo(f"live sessions of {args.ui_seconds:g} s without and with the session screen …")
            control = ui_session(child, seconds=args.ui_seconds, screen="none", echo=echo)
            with _display(echo) as display:
                shown = ui_session(child, seconds=args.ui_seconds, screen="window", echo=echo)
            results.update({"xruns_with_ui": shown["xruns"], "xruns_without_ui": control["xruns"],
                            "ui_fps": shown["ui_fps"], "ui_display": display, "ui_session": shown,
                            "no_ui_session": control})
    results.update(first_sound(args.first_sound_runs, echo))
    top = results["by_blocksize"].get("128") or next(iter(results["by_blocksize"].values()))
    for key in ("cue_error_frames_max", "output_latency_frames", "rig_path_frames", "cues", "xruns",
                "callback_ms_p50", "callback_ms_p99", "block_ms", "late_sounds", "callback_errors"):
        results[key] = top[key]
    results["goals"] = GOALS
    results["rig"] = {"server": "jackd -R -d dummy -r 48000 -p 128", "realtime": server.realtime,
                      "machine_cores": os.cpu_count()}

    rows = [("blocksize", "cues", "cue err max", "out lat", "rig path", "xruns", "cb p50 ms", "cb p99 ms", "block ms")]
    for bs, r in results["by_blocksize"].items():
        rows.append((bs, r["cues"], r["cue_error_frames_max"], r["output_latency_frames"], r["rig_path_frames"],
                     r["xruns"], r["callback_ms_p50"], r["callback_ms_p99"], r["block_ms"]))
    for row in rows:
        print("  ".join(f"{str(c):>11}" for c in row))
    print(f"first_sound_s (median of {len(results['first_sound_runs'])}): {results['first_sound_s']}")
    if "xruns_with_ui" in results:
        print(f"xruns_with_ui: {results['xruns_with_ui']} (without: {results['xruns_without_ui']}), "
              f"screen at {results['ui_fps']} fps on {results['ui_display']}")
    if "xruns_forced" in results:
        print(f"xruns_forced: {results['xruns_forced']}, cue_error_frames_max_after_xrun: "
              f"{results['cue_error_frames_max_after_xrun']}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
