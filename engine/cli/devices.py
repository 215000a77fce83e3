"""``tandem devices [--json]``: the audio and MIDI devices seen, and the calibration profiles."""

from __future__ import annotations

import argparse
import json
import sys

from engine.calibration.profiles import load_profiles
from engine.midi.devices import list_devices
from engine.paths import data_dir

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    found = list_devices()
    skipped: list[str] = []
    found["calibration_profiles"] = [p.to_dict() for p in load_profiles(data_dir(args.data_dir), skipped)]
    found["skipped_profiles"] = skipped
    for sentence in skipped:  # a damaged profile is left out, and said so (the setup is uncalibrated)
        print(f"tandem: warning: {sentence}", file=sys.stderr)
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    print("Audio devices:")
    if not found["audio"]:
        print("  (none found)")
    for d in found["audio"]:
        mark = "*" if d["default"] else " "
        print(f" {mark} [{d['index']}] {d['name']} ({d['hostapi']}): {d['inputs']} in, {d['outputs']} out, "
              f"{d['default_samplerate']:g} Hz")
    for kind in ("midi_inputs", "midi_outputs"):
        print(f"MIDI {'inputs' if kind == 'midi_inputs' else 'outputs'}:")
        if not found[kind]:
            print("  (none found)")
        for p in found[kind]:
            profile = f", profile '{p['profile']}'" if "profile" in p else ""
            print(f"   {p['name']} ({p['api']}{profile})")
    print("Calibration profiles:")
    if not found["calibration_profiles"]:
        print("  (none: run `tandem calibrate`)")
    for prof in found["calibration_profiles"]:
        s = prof["setup"]
        rt = "—" if prof["roundtrip_ms"] is None else f"{prof['roundtrip_ms']:.2f} ± {prof['roundtrip_spread_ms']:.2f} ms"
        midi = ("—" if prof["midi_offset_ms"] is None else
                f"{prof['midi_offset_ms']:+.2f} ± {prof['midi_spread_ms']:.2f} ms ({prof['midi_method']})")
        print(f"   {s['audio_device']}, {s['blocksize']} frames, {s['sample_rate']} Hz, MIDI {s['midi_device'] or 'none'}: "
              f"round trip {rt}, MIDI − input {midi}, measured {prof['measured_at'][:10]}")
    for note in found["notes"]:
        print(f"note: {note}")
    return 0
