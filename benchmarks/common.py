"""What the benchmarks share: where the workplace's data is, how a benchmark says it skipped,
and the JACK rig the device benchmarks run on."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

# The workplace's shared data sits beside the repository (../shared/data); TANDEM_SHARED_DATA moves it.
SHARED_DATA = Path(os.environ.get("TANDEM_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def skipped(msg: str, json_path: str | None) -> int:
    """Say why the benchmark did not run (stdout, and ``{"skipped": msg}`` in the JSON file); exit 0."""
    print(msg)
    if json_path:
        Path(json_path).write_text(json.dumps({"skipped": msg}, indent=2) + "\n")
    return 0


@contextmanager
def jack_rig(server_name: str | None, echo: Callable[[str], None]) -> Iterator[tuple]:
    """A JACK dummy server (``server_name`` if one runs, else a private one) and the virtual child on it;
    yields ``(server, child)`` and stops what it started."""
    from tests.rig.child import VirtualChild
    from tests.rig.server import JackServer, reinit_portaudio

    server = JackServer(server_name or f"tandem-bench-{os.getpid()}")
    server.start()
    try:
        reinit_portaudio()
        echo(f"JACK server {server.name!r}: dummy driver, {server.rate} Hz, period {server.period}"
             f"{'' if server.owned else ' (already running)'}")
        with VirtualChild(server.name) as child:
            yield server, child
    finally:
        server.stop()
