"""``tandem demo [SCRIPT...]``: whole sessions with a simulated child, no hardware."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from engine.errors import TandemError
from engine.paths import data_dir
from engine.simulation.demo import run_demo

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    """`tandem demo [SCRIPT...]`: visits with a simulated child (the scripts in order: one visit's
    activities); without a script, the metronome."""
    root = Path(args.out) if args.out else data_dir(args.data_dir)
    if args.sessions < 1:
        raise TandemError(f"--sessions must be at least 1, not {args.sessions}.")
    # A script's child and kind are seeded (0 unless asked); the metronome's child is a new one each time.
    seed = args.seed if args.seed is not None or not args.scripts else 0
    # Several scripts are one visit: its activities in order (hello song, interventions, goodbye song).
    everything = run_demo(
        args.scripts or None, root=root, child_id=args.child, model=args.child_model, profile=args.profile,
        sessions=args.sessions, seed=seed, pace=args.pace, blocksize=args.blocksize, soundfont=args.soundfont,
        echo=None if args.json else print, max_trials=args.max_trials, screenshot=args.screenshot,
        tempo_bpm=args.tempo, beats=args.beats, days_apart=args.days_apart)
    if args.json:
        print(json.dumps(everything, indent=2))
    return 0
