"""The mixer plays every sound at its exact frame: checked to the sample on the offline path."""

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.audio.mixer import Mixer
from engine.audio.shared import C
from engine.audio.sound import Sound

RATE = 48_000


def impulse(name="imp", length=64, value=0.5):
    data = np.zeros(length, np.float32)
    data[0] = value
    return Sound(name, data, RATE)


def render(mixer, total, blocksize, channels=2):
    out = np.zeros((total, channels), np.float32)
    block = np.zeros((blocksize, channels), np.float32)
    for start in range(0, total, blocksize):
        mixer.render(block, start)
        n = min(blocksize, total - start)
        out[start : start + n] = block[:n]
    return out


@pytest.mark.parametrize("blocksize", [64, 128, 256, 512])
def test_impulses_land_on_their_frames(blocksize):
    m = Mixer(channels=1)
    frames = [0, 1, blocksize - 1, blocksize, 3 * blocksize + 7, 10_000, 10_001]
    for f in frames:
        m.play(impulse(), f)
    out = render(m, 12_000, blocksize, channels=1)
    assert np.flatnonzero(out[:, 0]).tolist() == frames
    assert m.late == 0 and m.dropped == 0


@settings(max_examples=60, deadline=None)
@given(
    frames=st.lists(st.integers(0, 20_000), min_size=1, max_size=40, unique=True),
    blocksize=st.sampled_from([64, 100, 128, 256, 512]),
)
def test_any_schedule_is_sample_exact(frames, blocksize):
    m = Mixer(channels=1, max_voices=64)
    for f in frames:
        m.play(impulse(length=8), f)
    out = render(m, 20_100, blocksize, channels=1)
    assert np.flatnonzero(out[:, 0]).tolist() == sorted(frames)


def test_sound_across_block_boundaries_is_copied_exactly():
    rng = np.random.default_rng(1)
    data = (rng.uniform(-0.5, 0.5, 1000)).astype(np.float32)
    m = Mixer(channels=1)
    m.play(Sound("noise", data, RATE), 300, gain=0.5)
    out = render(m, 2048, 128, channels=1)
    np.testing.assert_array_equal(out[300:1300, 0], data * np.float32(0.5))
    assert not out[:300].any() and not out[1300:].any()


def test_overlapping_voices_sum():
    rng = np.random.default_rng(2)
    sounds = [Sound(f"s{i}", rng.uniform(-0.05, 0.05, 500).astype(np.float32), RATE) for i in range(16)]
    starts = rng.integers(0, 2000, 16)
    m = Mixer(channels=1)
    expected = np.zeros(3000, np.float32)
    for s, f in zip(sounds, starts):
        m.play(s, int(f))
        expected[f : f + 500] += s.data
    out = render(m, 3000, 128, channels=1)
    np.testing.assert_allclose(out[:, 0], expected, atol=1e-6)


def test_pan_is_constant_power():
    m = Mixer(channels=2)
    m.play(impulse(value=1.0), 10, pan=-1.0)
    m.play(impulse(value=1.0), 20, pan=1.0)
    m.play(impulse(value=1.0), 30, pan=0.0)
    out = render(m, 128, 128)
    assert out[10, 0] == pytest.approx(1.0) and out[10, 1] == pytest.approx(0.0, abs=1e-7)
    assert out[20, 0] == pytest.approx(0.0, abs=1e-7) and out[20, 1] == pytest.approx(1.0)
    assert out[30, 0] ** 2 + out[30, 1] ** 2 == pytest.approx(1.0)


def test_late_sound_is_played_now_and_counted():
    m = Mixer(channels=1)
    block = np.zeros((128, 1), np.float32)
    m.render(block, 0)
    m.render(block, 128)
    vid = m.play(impulse(), 100)  # frame 100 has already gone out
    m.render(block, 256)
    assert block[0, 0] == pytest.approx(0.5)
    assert m.late == 1 and m.late_max_frames == 156
    assert m.pop_late() == [(vid, 100, 256)]
    assert m.pop_late() == []


def test_cancel_before_start_plays_nothing():
    m = Mixer(channels=1)
    vid = m.play(impulse(), 1000)
    m.cancel(vid)
    out = render(m, 2048, 128, channels=1)
    assert not out.any()
    assert m.active_voices == 0


def test_cancel_while_sounding_fades_without_click():
    tone = Sound("tone", (0.5 * np.sin(2 * np.pi * 440 * np.arange(48_000) / RATE)).astype(np.float32), RATE)
    m = Mixer(channels=1, fade_frames=480)
    vid = m.play(tone, 0)
    block = np.zeros((128, 1), np.float32)
    chunks = []
    for i in range(10):
        m.render(block, i * 128)
        chunks.append(block.copy())
    m.cancel(vid)
    for i in range(10, 20):
        m.render(block, i * 128)
        chunks.append(block.copy())
    out = np.concatenate(chunks)[:, 0]
    assert not out[1280 + 480 :].any()  # silent once the fade is done
    assert np.abs(out[1280 : 1280 + 480]).max() > 0.1  # it faded, not cut
    step_max = np.abs(np.diff(out)).max()
    assert step_max < 0.5 * 2 * np.pi * 440 / RATE + 1e-3  # never a step larger than the sine's own
    assert m.active_voices == 0


def test_stop_all_silences_everything_within_the_fade():
    m = Mixer(channels=2, fade_frames=240)
    long = Sound("long", np.full(100_000, 0.1, np.float32), RATE)
    for f in (0, 50, 90, 5000):
        m.play(long, f)
    block = np.zeros((128, 2), np.float32)
    for i in range(4):
        m.render(block, i * 128)
    m.stop_all()
    out = render_from(m, 512, 2048, 128)
    assert not out[240:].any()
    assert m.active_voices == 0


def test_stop_all_is_never_dropped_by_a_full_queue_and_spares_what_comes_after():
    m = Mixer(channels=2, fade_frames=240, queue_size=8)
    long = Sound("long", np.full(100_000, 0.1, np.float32), RATE)
    m.play(long, 0)
    block = np.zeros((128, 2), np.float32)
    m.render(block, 0)  # sounding
    for i in range(8):  # the queue is full: 8 sounds queued for later in its 8 slots
        assert m.play(long, 1000 + i)
    assert m.play(long, 2000) == 0 and m.queue_full == 1
    m.stop_all()  # the exit path's fade: with a full queue it used to be dropped
    assert m.queue_full == 1
    out = render_from(m, 128, 4096, 128)
    assert not out[240:].any() and m.active_voices == 0  # the sounding voice faded; the queued ones never started
    # A sound queued after the stop plays.
    after = m.play(long, 4096 + 128 + 100)
    assert after
    out = render_from(m, 4096 + 128, 512, 128)
    assert not out[:100].any() and out[100:].any() and m.active_voices == 1


def render_from(m, start, total, blocksize):
    out = np.zeros((total, 2), np.float32)
    block = np.zeros((blocksize, 2), np.float32)
    for off in range(0, total, blocksize):
        m.render(block, start + off)
        out[off : off + blocksize] = block
    return out


def test_voice_and_queue_limits_are_counted():
    m = Mixer(channels=1, max_voices=4, queue_size=8)
    for i in range(8):
        m.play(impulse(length=10_000), 100 + i)
    assert m.play(impulse(), 5) == 0  # queue full
    assert m.queue_full == 1
    render(m, 256, 128, channels=1)
    assert m.dropped == 4 and m.voices_started == 4


def test_clipping_is_counted():
    m = Mixer(channels=1)
    for _ in range(4):
        m.play(impulse(value=0.9), 10)
    out = render(m, 128, 128, channels=1)
    assert out[10, 0] == 1.0
    assert m.clipped_blocks == 1


def test_bad_arguments():
    m = Mixer(channels=2)
    with pytest.raises(ValueError):
        m.play(impulse(), 0, pan=2.0)
    with pytest.raises(ValueError):
        m.play(impulse(), 0, gain=float("nan"))
    with pytest.raises(ValueError):
        Mixer(channels=3)


def _render_peak_bytes(blocksize):
    m = Mixer(channels=2, max_voices=32, max_block=4096)
    s = Sound("long", np.full(2_000_000, 0.01, np.float32), RATE)
    for i in range(16):
        m.play(s, i * 7)
    block = np.zeros((blocksize, 2), np.float32)
    for i in range(5):  # warm up: voices started
        m.render(block, i * blocksize)
    tracemalloc.start()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    for i in range(5, 105):
        m.render(block, i * blocksize)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return current - base, peak - base


def test_render_allocates_no_arrays_in_steady_state():
    """16 voices sounding: nothing is kept, and no buffer grows with the block.

    Python itself allocates small objects (slice views, scalars) per voice;
    what must not happen is an array temporary, whose size would follow the
    block size: 4096-frame blocks would then need 32 times the memory of
    128-frame blocks.
    """
    kept_small, peak_small = _render_peak_bytes(128)
    kept_big, peak_big = _render_peak_bytes(4096)
    assert kept_small < 256 and kept_big < 256
    assert peak_big - peak_small < 256, (peak_small, peak_big)
    assert peak_small < 2 * 128 * 4  # below one stereo block of float32


def test_a_sound_queued_after_stop_all_is_spared_even_if_read_before_the_request():
    """The race stop_all's two counters leave open: the mark is written, a new sound is queued and read by the
    audio side, and only then does the request show. The new sound (after the mark) keeps playing."""
    m = Mixer(channels=1, fade_frames=64)
    long = Sound("long", np.full(50_000, 0.1, np.float32), RATE)
    block = np.zeros((128, 1), np.float32)
    m.play(long, 0)
    m.render(block, 0)  # A sounds
    c = m.state.counters
    c[C.STOP_MARK] = c[C.Q_WRITE]  # stop_all, first half: the mark
    m.play(long, 200)  # B, queued after the request...
    m.render(block, 128)  # ...and read by the audio side before the request shows
    c[C.STOP_REQ] += 1  # stop_all, second half
    out = np.zeros((1024, 1), np.float32)
    for off in range(0, 1024, 128):
        m.render(block, 256 + off)
        out[off : off + 128] = block
    assert m.active_voices == 1 and np.allclose(out[200:, 0], 0.1)  # A faded out; B plays on alone
