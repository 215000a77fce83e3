"""``tandem validate SCRIPT... [--schema]``: check intervention scripts."""

from __future__ import annotations

import argparse
import json
import sys

from engine.cli.exits import EXIT_ERROR
from engine.errors import ConfigError
from engine.interventions.schema import script_schema
from engine.interventions.script import ScriptError, load_script
from engine.text import one_line

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    """`tandem validate SCRIPT... [--schema]`: check scripts, one sentence per problem."""
    if args.schema:
        print(json.dumps(script_schema(), indent=2))
        if not args.scripts:
            return 0
    if not args.scripts:
        raise ConfigError("Name at least one script to check, e.g. `tandem validate content/songs/*.toml`.")
    failed = 0
    for name in args.scripts:
        try:
            script = load_script(name)
        except ScriptError as exc:
            failed += 1
            for problem in exc.problems:
                print(f"tandem: {one_line(problem)}", file=sys.stderr)
            continue
        amount = (f"{script.trials} trial{'' if script.trials == 1 else 's'}" if script.trials is not None
                  else f"{script.duration_min:g} min")
        n_obj = len(script.objectives)
        print(f"ok: {one_line(name)} ({one_line(script.title)}, {script.kind}, {amount}, "
              f"{n_obj} objective{'' if n_obj == 1 else 's'})")
    return EXIT_ERROR if failed else 0
