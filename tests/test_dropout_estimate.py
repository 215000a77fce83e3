"""The sounddevice backend's dropout estimate, fed PortAudio-like stream times in logical time."""

from types import SimpleNamespace

import numpy as np
import pytest

from engine.audio.backends import SoundDeviceBackend

RATE = 48_000


def run(blocks, *, blocksize, period, dropout_at=None, dropout_periods=0, false_xrun_at=None, seed=0):
    """Feed `blocks` callbacks; the device's cycle is `period` frames; PortAudio's "now" lags
    the cycle start by a jittery wake-up (up to 1.5 ms). Returns the skips the backend reported."""
    rng = np.random.default_rng(seed)
    be = SoundDeviceBackend()
    be._rate = RATE
    skips = []
    be._process = lambda i, o, frames, host_ns, xrun, skipped: skips.append(skipped)
    device_frame = 0  # the device's own frame clock at the start of the block we are called for
    per_cycle = period // blocksize
    for k in range(blocks):
        status = False
        if k == dropout_at:
            device_frame += dropout_periods * period  # cycles we were not called for
            status = True
        if k == false_xrun_at:
            status = True  # an xrun somewhere else in the graph: nothing skipped for us
        cycle_start = (device_frame // period) * period
        wake = rng.uniform(0, 0.0015 * RATE) if k % per_cycle == 0 else rng.uniform(0, 10)
        now_s = (cycle_start + wake) / RATE + 1.0
        be._callback(None, None, blocksize, SimpleNamespace(outputBufferDacTime=0.0, currentTime=now_s), status)
        device_frame += blocksize
    return skips


@pytest.mark.parametrize("blocksize", [64, 128, 256])
def test_a_dropout_is_measured_in_whole_periods(blocksize):
    skips = run(400, blocksize=blocksize, period=max(128, blocksize), dropout_at=200, dropout_periods=11)
    assert sum(skips) == 11 * max(128, blocksize)
    assert [i for i, s in enumerate(skips) if s] == [200 + 32]  # decided after watching 32 blocks


@pytest.mark.parametrize("seed", range(5))
def test_jitter_and_foreign_xruns_never_move_the_clock(seed):
    skips = run(2000, blocksize=64, period=128, false_xrun_at=500, seed=seed)
    assert sum(skips) == 0
