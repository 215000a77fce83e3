"""``tandem onsets AUDIO``: the live onset detector over a recording."""

from __future__ import annotations

import argparse
import json
import sys

from engine.audio.onsetfile import detect_file

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    result = detect_file(args.audio, played=args.played, blocksize=args.blocksize)
    for warning in result["warnings"]:
        print(f"tandem: warning: {warning}", file=sys.stderr)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['file']}: {result['format']} {result['subtype']}, {result['sample_rate']} Hz, "
          f"{result['duration_s']:.2f} s, {result['channels_used']}, blocks of {result['blocksize']}"
          + (f", played: {result['played']}" if result["played"] else ""))
    onsets = result["onsets"]
    if onsets:
        print(f"{'time (s)':>10}  {'latency (ms)':>12}  {'level (dB)':>10}  kind")
    for o in onsets:
        latency_ms = (o["detected_at_s"] - o["time_s"]) * 1000
        extra = f" ({o['duration_s']:.2f} s)" if o["duration_s"] is not None else ""
        print(f"{o['time_s']:>10.4f}  {latency_ms:>12.1f}  {o['level_db']:>10.1f}  {o['kind']}{extra}")
    print(f"{len(onsets)} onset{'' if len(onsets) == 1 else 's'}")
    return 0
