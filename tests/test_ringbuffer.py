import numpy as np
import pytest

from engine.audio.ringbuffer import FrameRing, RingOverrun


def test_reads_by_absolute_frame_across_the_wrap():
    ring = FrameRing.empty(1000, 2)
    data = np.arange(2 * 2500, dtype=np.float32).reshape(2500, 2)
    for start in range(0, 2500, 128):
        ring.write(data[start : start + 128])
    assert ring.written == 2500 and ring.oldest == 1500
    np.testing.assert_array_equal(ring.read(1500, 1000), data[1500:2500])
    np.testing.assert_array_equal(ring.read(1990, 20), data[1990:2010])  # spans the wrap


def test_overwritten_or_future_frames_are_refused():
    ring = FrameRing.empty(256, 1)
    ring.write(np.ones((300, 1), np.float32))
    with pytest.raises(RingOverrun):
        ring.read(0, 10)
    with pytest.raises(RingOverrun):
        ring.read(290, 20)


def test_bad_sizes():
    with pytest.raises(ValueError):
        FrameRing.empty(0, 1)
