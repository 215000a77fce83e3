"""Frame-exact device measurements on a shared machine: run again when the machine dropped out.

Only the device-level measurements use this (the engine's stream, MIDI, the microphone, calibration:
``xrun_free``). Sessions run once, and what a dropout does to one is tested by forcing it
(``VirtualChild.stall``, ``dropout`` in ``test_script_rig`` and ``test_run_rig``); making these
measurements dropout-aware too is the issue "Real time that holds under load".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import pytest

#: Wait this long before trying again: the VM's xrun spells come in bursts of a few seconds,
#: so an attempt straight after one often lands in the same burst.
RETRY_PAUSE_S = 3.0


def stats_xruns(out: tuple) -> dict[str, int]:
    """The xruns of a ``(result, stats)`` measurement: ``stats["xruns"]``."""
    return {"xruns": out[1]["xruns"]}


def xrun_free(measure: Callable[[], object], *, attempts: int = 3,
              xruns: Callable[[object], Mapping[str, int]] = stats_xruns,
              unsteady: tuple[type[Exception], ...] = ()):
    """Run a frame-exact measurement; again (up to ``attempts`` times) while an xrun made it moot.

    Sample-exactness is the engine's promise on a machine that keeps up; an xrun on this shared
    2-core VM is the environment's (the benchmarks count them).

    Parameters
    ----------
    measure
        One attempt; what it returns is returned from the first attempt that counts.
    xruns
        The xruns of an attempt that make its checks moot, by name (``measure``'s result in):
        the attempt counts when all are 0. The default reads ``stats["xruns"]`` of a
        ``(result, stats)`` pair.
    unsteady
        Exceptions of ``measure`` that also mean an xrun hit the attempt: it is discarded.

    Every discarded attempt is printed with its number and its xruns (pytest shows it with
    the test's output); when every attempt is discarded, the test fails saying so plainly.
    """
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            time.sleep(RETRY_PAUSE_S)
        try:
            result = measure()
        except unsteady as exc:
            print(f"rig: attempt {attempt} of {attempts} discarded: {exc}")
            continue
        counts = xruns(result)
        if not any(counts.values()):
            return result
        print(f"rig: attempt {attempt} of {attempts} discarded: "
              + ", ".join(f"{name} {n}" for name, n in counts.items()))
    pytest.fail(f"xruns in {attempts} attempts (each is printed above): the machine is too busy for a "
                "frame-exact check")
