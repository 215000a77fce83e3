"""Frame-exact measurements on a shared machine: run again when the machine dropped out."""

from __future__ import annotations

import pytest


def xrun_free(measure, attempts: int = 3):
    """Run a frame-exact measurement; again (up to ``attempts`` times) if an xrun happened meanwhile.

    Sample-exactness is the engine's promise on a machine that keeps up; an
    xrun on this shared 2-core VM is the environment's (the benchmarks count
    them). ``measure()`` returns ``(result, stats)`` with ``stats["xruns"]``;
    when every attempt had xruns, the test fails saying so plainly.
    """
    for _ in range(attempts):
        result, stats = measure()
        if stats["xruns"] == 0:
            return result, stats
    pytest.fail(f"xruns in {attempts} attempts ({stats}): the machine is too busy for a frame-exact check")
