"""``tandem assess CHILD``: the initial assessment battery, live or with a simulated child."""

from __future__ import annotations

import argparse
import json
import sys

from engine.assessment.battery import format_assessment, run_assessment
from engine.assessment.report import write_baseline
from engine.cli.exits import EXIT_INTERRUPTED
from engine.cli.run import check_screen_flags
from engine.errors import ConfigError
from engine.paths import data_dir
from engine.session.terminal import TerminalKeys

__all__ = ["run"]


#: Flags of the live battery, which a simulated one has no use for (it has no devices and no screen).
LIVE_ONLY = (("midi_in", "--midi-in"), ("mic", "--mic"), ("midi_out", "--midi-out"), ("audio", "--audio"),
             ("no_ui", "--no-ui"), ("theme", "--theme"), ("fullscreen", "--fullscreen"),
             ("midi_transport", "--midi-transport"))


def run(args: argparse.Namespace) -> int:
    """``tandem assess CHILD``: the battery, live or ``--simulate MODEL``; the baseline report after it."""
    root = data_dir(args.data_dir)
    echo = None if args.json else print
    options = {"blocksize": args.blocksize, "soundfont": args.soundfont}
    if args.simulate:
        given = [flag for name, flag in LIVE_ONLY if getattr(args, name) not in (None, False)]
        if given:
            raise ConfigError(f"{given[0]} is for a live assessment; a simulated one (--simulate) plays a simulated "
                              f"pad and microphone on no device and no screen, so leave it out.")
        assessment = run_assessment(args.child, root=root, simulate=args.simulate, keyboard=args.keyboard,
                                    echo=echo, seed=0 if args.seed is None else args.seed, tasks=args.tasks,
                                    **options)
    else:
        if args.seed is not None:
            raise ConfigError("--seed seeds the simulated child of `tandem assess --simulate MODEL`; a live "
                              "assessment has none.")
        check_screen_flags(args)
        with TerminalKeys() as keys:
            assessment = run_assessment(
                args.child, root=root, midi_in=args.midi_in, mic=args.mic, keyboard=args.keyboard, echo=echo,
                controls=keys.commands if keys.active else None, tasks=args.tasks, midi_out=args.midi_out,
                audio=args.audio, transport=args.midi_transport or "auto",
                screen="none" if args.no_ui else "window", theme=args.theme or "standard",
                fullscreen=args.fullscreen, status_line=keys.active and args.no_ui and sys.stdout.isatty(),
                **options)
    written = write_baseline(assessment, root=root)
    if args.json:
        print(json.dumps(assessment.to_dict(), indent=2))
    else:
        print("\n".join(format_assessment(assessment)))
    say = (lambda text: print(text, file=sys.stderr)) if args.json else print
    say(f"Baseline report: {written['html'][0]} (and baseline.pdf); suggested objectives: "
        f"`tandem plan suggest {args.child}`.")
    return EXIT_INTERRUPTED if assessment.status == "stopped" else 0
