"""Calibration benchmark: `tandem calibrate`'s measurements against a virtual room whose truth is known.

Run: ``.venv/bin/python -m benchmarks.calibration --json OUT.json``. Starts a
private JACK server (dummy driver, 48 kHz, 128-frame periods) unless
``--server`` names a running one, and the virtual room
(:mod:`tests.rig.room`): a JACK client that returns the engine's output to
its input after a known delay, with white noise and a −12 dB reflection,
and plays a pad whose note-on leaves K frames before its hit sounds.

For each known delay (and each MIDI transport) an engine is opened in the
room, the truth is measured with the rig's frame-exact tools, and the
calibration procedures run as `tandem calibrate` runs them:

- ``roundtrip_error_ms_max``: the largest |measured − true| round trip
  (true = output path + room delay + input path). Goal ≤ 0.25 ms.
- ``midi_latency_error_ms_max``: the largest |measured − true| MIDI offset
  (stamp − acoustic onset; true = the note's own frame − its hit's frame in
  the input), so it includes how the engine stamps MIDI: exact on the
  frame-exact JACK transport, within a period (±2.7 ms at 128 frames,
  mostly less in the median) through rtmidi. Goal ≤ 1.5 ms.

``rows`` has every run in full (the per-repetition round trips, the per-tap
offsets, the stamps, the xruns counted meanwhile).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from benchmarks.common import skipped

GOALS = {"roundtrip_error_ms_max": "<= 0.25", "midi_latency_error_ms_max": "<= 1.5"}

# (room delay frames, pad's sound after its MIDI in frames, room noise RMS): 5 ms, 50 ms, 200 ms
# (a Bluetooth speaker's order); the pad's MIDI 2, 5 and 10 ms ahead of its sound.
CASES = [(240, 96, 0.003), (2400, 240, 0.01), (9600, 480, 0.003)]


def run(server_name: str | None, *, transports: list[str], echo, attempts: int = 3) -> dict:
    from tests.rig.room import RigUnsteady, VirtualRoom, calibrate_in_room
    from tests.rig.server import JackServer, reinit_portaudio

    server = JackServer(server_name or f"tandem-bench-cal-{os.getpid()}")
    server.start()
    rows = []
    try:
        reinit_portaudio()
        echo(f"JACK server {server.name!r}: dummy driver, {server.rate} Hz, period {server.period}")
        with VirtualRoom(server.name) as room:
            for transport in transports:
                for delay, k, noise in CASES:
                    for attempt in range(attempts):
                        t = time.monotonic()
                        try:
                            row = calibrate_in_room(room, delay_frames=delay, transport=transport,
                                                    sound_after_frames=k, noise_rms=noise)
                        except RigUnsteady as exc:  # the truth itself was hit by an xrun: measure again
                            echo(f"  delay {delay:>5} frames, {transport:>6}: {exc}; again")
                            # If every attempt ends so, the row stays a miss (None errors), never a pass.
                            row = {"delay_frames": delay, "sound_after_frames": k, "transport": transport,
                                   "xruns": None, "truth_error": str(exc), "roundtrip_truth_frames": None,
                                   "roundtrip": {"ok": False, "spread_ms": None, "latency_frames": None},
                                   "roundtrip_error_ms": None, "midi_latency_error_ms": None, "attempt": attempt + 1}
                            continue
                        row["attempt"] = attempt + 1
                        row["wall_s"] = round(time.monotonic() - t, 1)
                        echo(f"  delay {delay:>5} frames, pad K {k:>3}, {transport:>6}: round trip error "
                             f"{_fmt(row.get('roundtrip_error_ms'))} ms, MIDI error "
                             f"{_fmt(row.get('midi_latency_error_ms'))} ms, xruns {row['xruns']}")
                        # A run with xruns that misses a goal is the machine's doing: measure again.
                        if row["xruns"] == 0 or _meets_goals(row):
                            break
                    rows.append(row)
        server_realtime = server.realtime
    finally:
        server.stop()
    return {"rows": rows, "realtime": server_realtime}


def _fmt(v) -> str:
    return "—" if v is None else f"{v:.4f}"


def _meets_goals(row: dict) -> bool:
    rt, md = row.get("roundtrip_error_ms"), row.get("midi_latency_error_ms")
    return rt is not None and rt <= 0.25 and md is not None and md <= 1.5


def summarise(rows: list[dict]) -> dict:
    rt = [r.get("roundtrip_error_ms") for r in rows]
    md = [r.get("midi_latency_error_ms") for r in rows]
    onset = [r.get("midi_onset_error_ms") for r in rows if r.get("midi_onset_error_ms") is not None]
    by_transport = {}
    for r in rows:
        t = by_transport.setdefault(r["transport"], {"roundtrip_error_ms_max": 0.0, "midi_latency_error_ms_max": 0.0})
        for key, src in (("roundtrip_error_ms_max", "roundtrip_error_ms"), ("midi_latency_error_ms_max", "midi_latency_error_ms")):
            v = r.get(src)
            t[key] = None if v is None or t[key] is None else max(t[key], v)
    return {
        # A run that measured nothing counts as a miss (None), never as 0.
        "roundtrip_error_ms_max": None if None in rt else max(rt),
        "midi_latency_error_ms_max": None if None in md else max(md),
        "midi_onset_error_ms_max": max(onset) if onset else None,
        "roundtrip_spread_ms_max": max((r["roundtrip"]["spread_ms"] or 0.0) for r in rows),
        "midi_spread_ms_max": max(((r.get("midi") or {}).get("spread_ms") or 0.0) for r in rows),
        "delays_frames": sorted({r["delay_frames"] for r in rows}),
        "runs": len(rows),
        "runs_rejected": sum(1 for r in rows if not r["roundtrip"]["ok"] or not (r.get("midi") or {}).get("ok")),
        "xruns": sum(r["xruns"] or 0 for r in rows),
        "runs_truth_unmeasured": sum(1 for r in rows if "truth_error" in r),
        "by_transport": by_transport,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", metavar="OUT", help="write the results here")
    ap.add_argument("--server", help="use this running JACK server instead of starting one")
    ap.add_argument("--transports", default="jack,rtmidi", help="MIDI transports to measure (default jack,rtmidi)")
    args = ap.parse_args(argv)
    echo = lambda s: print(s, file=sys.stderr, flush=True)

    from tests.rig.server import jackd_path

    if jackd_path() is None:
        return skipped("jackd is not installed: the calibration benchmark needs the JACK rig.", args.json)
    out = run(args.server, transports=args.transports.split(","), echo=echo)
    results = summarise(out["rows"])
    results["goals"] = GOALS
    results["met"] = {k: (results[k] is not None and results[k] <= float(g.split()[-1])) for k, g in GOALS.items()}
    results["rig"] = {"server": "jackd -R -d dummy -r 48000 -p 128", "realtime": out["realtime"],
                      "machine_cores": os.cpu_count()}
    results["rows"] = out["rows"]

    header = ("delay", "K", "transport", "rt truth", "rt measured", "rt err ms", "midi truth", "midi meas", "midi err ms", "xruns")
    print("  ".join(f"{h:>11}" for h in header))
    for r in out["rows"]:
        vals = (r["delay_frames"], r["sound_after_frames"], r["transport"], r["roundtrip_truth_frames"],
                _fmt(r["roundtrip"]["latency_frames"]), _fmt(r.get("roundtrip_error_ms")),
                r.get("midi_offset_truth_frames"), r.get("midi_offset_frames"), _fmt(r.get("midi_latency_error_ms")),
                r["xruns"])
        print("  ".join(f"{v!s:>11}" for v in vals))
    print(f"roundtrip_error_ms_max {_fmt(results['roundtrip_error_ms_max'])} (goal ≤ 0.25), "
          f"midi_latency_error_ms_max {_fmt(results['midi_latency_error_ms_max'])} (goal ≤ 1.5)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
