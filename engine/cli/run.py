"""``tandem run SCRIPT... --child ID``: a live visit on real devices, its activities in order."""

from __future__ import annotations

import argparse
import json
import sys

from engine.cli.exits import EXIT_INTERRUPTED
from engine.errors import ConfigError
from engine.paths import data_dir
from engine.session.live import run_session
from engine.session.terminal import TerminalKeys

__all__ = ["check_screen_flags", "run"]


def check_screen_flags(args: argparse.Namespace) -> None:
    """The session screen's flags need a screen: refused with ``--no-ui`` (``--theme`` is kept for a
    ``--screenshot`` drawn off-screen)."""
    if not args.no_ui:
        return
    if args.fullscreen:
        raise ConfigError("--fullscreen fills the display with the session screen; with --no-ui there is none.")
    if args.theme is not None and not getattr(args, "screenshot", None):
        raise ConfigError("--theme colours the session screen; with --no-ui there is none (add --screenshot PNG "
                          "to draw it off-screen).")


def run(args: argparse.Namespace) -> int:
    """``tandem run SCRIPT... --child ID``: one live visit; exit 130 when it was stopped early."""
    check_screen_flags(args)
    songs = [name for name in args.scripts if name.lower().endswith((".mid", ".midi"))]
    if args.tempo_scale is not None and not songs:
        raise ConfigError(f"--tempo-scale changes the tempo of a MIDI song; {' '.join(args.scripts)} "
                          f"{'is' if len(args.scripts) == 1 else 'are'} not one (a script's tempo is its tempo_bpm).")
    if args.no_wait and not args.scripts[0].lower().endswith(".toml"):
        raise ConfigError("--no-wait starts an intervention script without waiting for the space key; a song or "
                          "free play starts at once anyway.")
    if args.duration is not None and not args.duration > 0:
        raise ConfigError(f"--duration must be a number of seconds above 0, not {args.duration:g}.")
    with TerminalKeys() as keys:
        summary = run_session(args.scripts, root=data_dir(args.data_dir), child_id=args.child,
                              midi_in=args.midi_in, midi_out=args.midi_out, mic=args.mic, audio=args.audio,
                              blocksize=args.blocksize, duration_s=args.duration,
                              tempo_scale=1.0 if args.tempo_scale is None else args.tempo_scale,
                              transport=args.midi_transport or "auto", soundfont=args.soundfont,
                              controls=keys.commands if keys.active else None,
                              screen="none" if args.no_ui else "window", screenshot=args.screenshot,
                              theme=args.theme or "standard", fullscreen=args.fullscreen,
                              wait_for_space=not args.no_wait, default_prompt=args.prompt_default,
                              status_line=keys.active and args.no_ui and sys.stdout.isatty())
    if args.json:
        print(json.dumps(summary, indent=2))
    return EXIT_INTERRUPTED if summary.get("status") == "stopped" else 0
