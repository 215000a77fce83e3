"""``tandem analyze sync|imitation``: score time files recorded anywhere."""

from __future__ import annotations

import argparse
import json
import math

from engine.errors import ConfigError
from engine.scoring.imitation import score_imitation
from engine.scoring.sync import match_taps, summarize
from engine.scoring.timefile import read_times
from engine.scoring.words import format_half_up

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    """`tandem analyze sync|imitation`: score time files recorded anywhere (one time in seconds per line)."""
    if args.kind == "imitation":

        result = score_imitation(read_times(args.call, "call"), read_times(args.response, "response")).to_dict()
        if args.json:
            print(json.dumps(result, indent=2, allow_nan=False))
            return 0
        print(f"call: {args.call}, response: {args.response}")
        for key, value in result.items():
            print(f"{key}: {'-' if value is None else value}")
        return 0


    if not (math.isfinite(args.window_ms) and args.window_ms > 0):
        raise ConfigError(f"The window must be a positive number of milliseconds (e.g. --window-ms 80), "
                          f"not {args.window_ms:g}.")
    if args.warmup < 0:
        raise ConfigError(f"The warm-up must be a number of cues, 0 or more, not {args.warmup}.")
    cues = read_times(args.cues, "cue")
    taps = read_times(args.taps, "tap")
    matches = match_taps(cues, taps)
    summary = summarize(matches, len(taps), window_ms=args.window_ms, warmup=args.warmup, tap_s=taps).to_dict()
    per_cue = [{"cue_s": m.cue_s, "tap_s": m.tap_s, "asynchrony_ms": m.asynchrony_ms,
                "warmup": m.cue_index < args.warmup} for m in matches]
    if args.json:
        out = {**summary, "cues": int(cues.size), "taps": int(taps.size), "warmup": args.warmup,
               "cues_file": str(args.cues), "taps_file": str(args.taps), "per_cue": per_cue}
        print(json.dumps(out, indent=2, allow_nan=False))
        return 0

    def num(value, fmt: str) -> str:
        return "-" if value is None else format_half_up(f"{{:{fmt}}}", value)  # halves up, as every figure

    print(f"cues: {args.cues} ({cues.size}), taps: {args.taps} ({taps.size})"
          + (f", first {args.warmup} cues warm-up (not scored)" if args.warmup else ""))
    print(f"{'cue':>5}  {'cue (s)':>10}  {'tap (s)':>10}  {'asynchrony (ms)':>15}")
    for i, c in enumerate(per_cue):
        note = "  warm-up" if c["warmup"] else ("  missed" if c["tap_s"] is None else "")
        print(f"{i:>5}  {c['cue_s']:>10.4f}  {num(c['tap_s'], '10.4f'):>10}  "
              f"{num(c['asynchrony_ms'], '15.1f'):>15}{note}")
    s = summary
    print(f"scored cues: {s['n_cues']}, taps: {s['n_taps']}, matched: {s['matched']}, missed: {s['missed']}, "
          f"extra: {s['extra']}")
    print(f"asynchrony: mean {num(s['asynchrony_mean_ms'], '.1f')} ms, SD {num(s['asynchrony_sd_ms'], '.1f')} ms "
          f"(negative = early); within ±{s['window_ms']:g} ms: {num(s['within_window_pct'], '.1f')} %")
    print(f"vector strength: {num(s['vector_strength'], '.3f')}, mean phase: {num(s['mean_phase_deg'], '.1f')}°, "
          f"Rayleigh p: {num(s['rayleigh_p'], '.3g')}")
    print(f"inter-tap interval CV: {num(s['iti_cv'], '.3f')}, tempo ratio: {num(s['tempo_ratio'], '.3f')}")
    print("scorable: yes" if s["scorable"] else f"not scorable: {s['reason']}")
    return 0
