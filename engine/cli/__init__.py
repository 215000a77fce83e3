"""The ``tandem`` command line: :mod:`engine.cli.main` parses and dispatches, one module per command group."""

from engine.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
