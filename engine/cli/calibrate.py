"""``tandem calibrate``: measure and keep this setup's latencies."""

from __future__ import annotations

import argparse
import json
import sys

from engine.calibration.command import run_calibrate
from engine.cli.exits import EXIT_ERROR
from engine.errors import ConfigError
from engine.paths import data_dir
from engine.session.live import choose_transport

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    """``tandem calibrate``: the round trip, and with ``--midi-in`` the pad's latency; exit 2 if rejected."""
    if not args.midi_in:
        given = next((flag for name, flag in (("midi_transport", "--midi-transport"), ("taps", "--taps"),
                                               ("no_mic", "--no-mic")) if getattr(args, name) not in (None, False)),
                     None)
        if given:
            raise ConfigError(f"{given} is about calibrating a pad; give it with --midi-in NAME.")
    audio = int(args.audio) if args.audio and args.audio.isdigit() else args.audio
    transport = choose_transport(args.midi_transport or "auto", audio) if args.midi_in else "rtmidi"
    say = (lambda text: print(text, file=sys.stderr)) if args.json else print
    result = run_calibrate(root=data_dir(args.data_dir), audio=audio, blocksize=args.blocksize,
                           midi_in=args.midi_in, transport=transport, mic=not args.no_mic,
                           taps=12 if args.taps is None else args.taps,
                           echo=say)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        rt, midi = result["roundtrip"], result["midi"]
        if rt and rt["ok"]:
            print(f"Round trip: {rt['latency_ms']:.2f} ms (spread {rt['spread_ms']:.3f} ms over "
                  f"{rt['found']} test sounds).")
        if midi and midi["ok"]:
            exact = "" if midi["exact"] else ", from tapping along: less exact"
            print(f"MIDI stamp − sound: {midi['offset_ms']:+.2f} ms (spread {midi['spread_ms']:.2f} ms over "
                  f"{midi['used']} hits{exact}).")
        if result["saved"]:
            print(f"Saved the profile in {result['saved']}.")
    for reason in result["reasons"]:
        print(f"tandem: {reason}", file=sys.stderr)
    return 0 if result["ok"] else EXIT_ERROR
