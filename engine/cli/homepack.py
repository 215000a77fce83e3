"""``tandem homepack CHILD``: songs at the child's working tempo and one page for the family."""

from __future__ import annotations

import argparse

from engine.homepack import cmd_homepack
from engine.paths import data_dir

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    return cmd_homepack(data_dir(args.data_dir), args.child, out=args.out, note=args.note, names=args.names,
                        minutes=args.minutes, echo=print, include_simulated=args.include_simulated)
