"""Microphone onsets on the JACK rig: the virtual child plays hits into the engine's input."""

from __future__ import annotations

import numpy as np
import pytest

from engine.audio.micinput import MicInput
from tests.rig.measure import measure_input_offsets, open_engine, wait_until_stream_frame
from tests.rig.retry import xrun_free

pytestmark = pytest.mark.rig


def test_hits_into_the_microphone_become_events_at_a_constant_offset(virtual_child):
    """Bursts at known JACK frames: each becomes one 'mic' event, all at the input path's own offset."""
    rng = np.random.default_rng(0)

    def measure():
        rig = open_engine(virtual_child, blocksize=128)
        try:
            path = measure_input_offsets(rig, virtual_child, impulses=4)  # where the ring has JACK frame J
            got = []
            mic = MicInput(rig.engine, on_event=got.append).start()
            start = virtual_child.frame_time() + 9600
            js = [start + k * 7000 + 37 * k for k in range(12)]
            for k, j in enumerate(js):
                n = 2400
                burst = (0.4 * rng.standard_normal(n) * np.exp(-np.arange(n) / 480)).astype(np.float32)
                burst[0] = 0.4  # a sharp first sample, as the impulse the path was measured with
                virtual_child.play_audio(j, burst)
            wait_until_stream_frame(rig, js[-1] - rig.t0 + 4800)
            mic.stop()
            offsets = [e.arrival_frame - (j - rig.t0) for e, j in zip(got, js)]
            return (path, offsets, len(got), len(js)), rig.engine.stats()
        finally:
            rig.close()

    (path, offsets, n_got, n_sent), _ = xrun_free(measure)
    assert n_got == n_sent
    assert None not in path and len(set(path)) == 1
    # Each onset is found where the ring has its first sample, to the sample or two.
    assert all(abs(o - path[0]) <= 2 for o in offsets), (offsets, path[0])
