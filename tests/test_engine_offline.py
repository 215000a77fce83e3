"""The audio engine on the offline backend: sample-exact scheduling, counters, every exit silent."""

import numpy as np
import pytest

from engine.audio.backends import OfflineBackend, make_backend
from engine.audio.engine import AudioEngine
from engine.audio.sound import Sound
from engine.errors import ConfigError
from engine.midi.stamp import stamp_input

RATE = 48_000


def impulse(value=0.5, length=32):
    d = np.zeros(length, np.float32)
    d[0] = value
    return Sound("imp", d, RATE)


@pytest.mark.parametrize("blocksize", [64, 128, 256, 512])
def test_scheduled_cues_play_at_their_frames(blocksize):
    with AudioEngine(backend="offline", blocksize=blocksize, channels_out=1, ring_s=120) as eng:
        ioi = 60 * RATE / 137.0  # a tempo whose beats fall anywhere within blocks
        frames = [1000 + round(k * ioi) for k in range(200)]
        scheduled = 0
        while eng.now_frame < frames[-1] + blocksize:
            while scheduled < len(frames) and frames[scheduled] < eng.now_frame + 2400:  # 50 ms ahead
                eng.play(impulse(), frames[scheduled])
                scheduled += 1
            eng.backend.run_blocks(1)
        out = eng.output_ring.read(0, eng.output_ring.written)[:, 0]
        st = eng.stats()
    assert np.flatnonzero(out).tolist() == frames
    assert st["late_sounds"] == 0 and st["callback_errors"] == 0 and st["xruns"] == 0


def test_input_is_kept_in_the_ring_on_the_stream_clock():
    def source(frame, block):
        block[:, 0] = np.arange(frame, frame + block.shape[0], dtype=np.float32)

    eng = AudioEngine(backend=OfflineBackend(input_source=source), blocksize=128)
    with eng:
        eng.backend.run_blocks(10)
        np.testing.assert_array_equal(eng.input_ring.read(300, 5)[:, 0], [300, 301, 302, 303, 304])


def test_a_callback_exception_is_counted_and_the_block_is_silent():
    eng = AudioEngine(backend="offline", blocksize=128, channels_out=1)
    with eng:
        eng.play(Sound("dc", np.full(10_000, 0.25, np.float32), RATE), 0)
        eng.backend.run_blocks(2)

        def boom(out, frame):
            raise RuntimeError("boom")

        real = eng.mixer.render
        eng.mixer.render = boom
        eng.backend.run_blocks(1)
        eng.mixer.render = real
        eng.backend.run_blocks(1)
        out = eng.output_ring.read(0, 512)[:, 0]
        assert eng.callback_errors == 1 and "boom" in eng.last_callback_error
    assert out[:256].min() == pytest.approx(0.25)
    assert not out[256:384].any()  # the failed block went out silent
    assert eng.now_frame >= 512  # the clock kept counting


def test_close_fades_out_whatever_is_sounding():
    eng = AudioEngine(backend="offline", blocksize=128, channels_out=2, fade_ms=10)
    eng.start()
    long = Sound("long", np.full(RATE * 5, 0.3, np.float32), RATE)
    eng.play(long, 0)
    eng.play(long, 200_000)  # not yet started: dropped, never heard
    eng.backend.run_blocks(20)
    stop_at = eng.now_frame
    eng.close()
    eng.close()  # safe twice
    out = eng.output_ring.read(0, eng.output_ring.written)
    tail = out[stop_at:]
    assert tail[0].max() > 0.15 and not tail[480:].any()
    assert np.all(np.diff(np.abs(tail[:480, 0])) <= 1e-6)  # a monotonic fade, no click
    assert eng.mixer.active_voices == 0


def test_stamping_an_input_from_another_thread_maps_host_time_to_frames():
    eng = AudioEngine(backend=OfflineBackend(start_ns=7_000_000_000), blocksize=128)
    with eng:
        eng.backend.run_blocks(100)
        arrival = 7_000_000_000 + round(12_345 / RATE * 1e9)
        ev = stamp_input(eng, source="midi", key="pad1", velocity=90, arrival_ns=arrival, latency_frames=96)
    assert ev.arrival_frame == 12_345 and ev.frame == 12_345 - 96
    assert ev.arrival_ns == arrival and ev.velocity == 90
    with pytest.raises(ValueError):
        stamp_input(eng, source="midi", key="x", velocity=200, arrival_ns=arrival)


def test_settings_that_cannot_work_say_so():
    with pytest.raises(ConfigError, match="blocksize"):
        AudioEngine(blocksize=32)
    with pytest.raises(ConfigError, match="sample rate"):
        AudioEngine(sample_rate=12_345)
    with pytest.raises(ConfigError, match="backend"):
        make_backend("nope")
    eng = AudioEngine(backend="offline")
    with eng, pytest.raises(ConfigError, match="44100 Hz"):
        eng.play(Sound("x", np.zeros(4, np.float32), 44_100), 0)


def test_a_dropout_moves_the_clock_with_the_device():
    """The device ran on 256 frames without a block: frames stay the device's frames."""
    eng = AudioEngine(backend="offline", blocksize=128, channels_out=1)
    core = eng.core
    eng.start()
    eng.play(impulse(), 1000)
    eng.play(impulse(), 100)
    silence_in = np.zeros((128, 1), np.float32)
    out = np.zeros((128, 1), np.float32)
    core.process(silence_in, out, 128, 0, False, 0)  # frames 0..127: the first impulse
    assert out[100, 0] == pytest.approx(0.5)
    core.process(silence_in, out, 128, 2_666_667, True, 256)  # frames 128..383 never played
    assert eng.now_frame == 128 + 256 + 128
    for k in range(4):  # frames 512..1023
        core.process(silence_in, out, 128, 0, False, 0)
    assert out[1000 - 896, 0] == pytest.approx(0.5)  # the cue after the gap, at its own frame
    st = eng.stats()
    assert st["skipped_frames"] == 256 and st["xruns"] == 1
    ring = eng.output_ring.read(0, 1024)[:, 0]
    assert np.flatnonzero(ring).tolist() == [100, 1000]  # the gap reads as silence, frames aligned
    eng.close()
