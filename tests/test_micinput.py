"""Microphone onsets enter as input events on the stream clock (offline engine, known input)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.audio.backends import OfflineBackend
from engine.audio.engine import AudioEngine
from engine.audio.micinput import MicInput

R = 48_000


def _burst(n: int = 2400, amp: float = 0.5, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return amp * rng.standard_normal(n) * np.exp(-np.arange(n) / (0.01 * R))


def _engine(signal: np.ndarray, *, latency_in: int = 0, blocksize: int = 128, ring_s: float = 2.0) -> AudioEngine:
    def source(frame: int, block: np.ndarray) -> None:
        n = block.shape[0]
        chunk = signal[frame:frame + n]
        block.fill(0.0)
        block[:chunk.size, 0] = chunk

    eng = AudioEngine(backend=OfflineBackend(input_source=source, latency_frames=(latency_in, 0)),
                      blocksize=blocksize, channels_in=1, ring_s=ring_s)
    eng.start()
    return eng


def _signal(hits: list[int], seconds: float = 3.0) -> np.ndarray:
    x = np.zeros(int(seconds * R))
    for k, at in enumerate(hits):
        b = _burst(seed=k)
        x[at:at + b.size] += b
    return x


@pytest.mark.parametrize("blocksize", [64, 128, 512])
def test_hits_become_mic_events_at_their_stream_frames(blocksize):
    hits = [9600, 30_000, 47_777, 80_001]
    eng = _engine(_signal(hits), latency_in=96, blocksize=blocksize)
    mic = MicInput(eng)
    mic.start()
    mic._stop_thread()  # drive it by hand: poll after each stretch of blocks
    events = []
    for _ in range(0, 3 * R, 4 * blocksize):
        eng.backend.run_blocks(4)
        events += mic.poll()
    eng.close()
    assert [e.source for e in events] == ["mic"] * len(hits)
    # The ring's frames are stream frames: onsets land on the hits' frames (± 2 samples),
    # and the physical time is that minus the input latency.
    assert [e.arrival_frame for e in events] == pytest.approx(hits, abs=2)
    assert [e.arrival_frame - e.frame for e in events] == [96] * len(hits)
    assert mic.overruns == 0


def test_the_thread_delivers_events_to_the_listener():
    hits = [9600, 40_000]
    eng = _engine(_signal(hits), ring_s=10.0)  # the offline stream runs far ahead of the thread
    got = []
    mic = MicInput(eng, on_event=got.append).start()
    eng.backend.run_blocks(3 * R // 128)
    mic.stop()  # analyses what is left
    eng.close()
    assert [e.arrival_frame for e in got] == pytest.approx(hits, abs=2)
    assert list(mic.events) == got


def test_falling_behind_the_ring_is_counted_and_analysis_goes_on():
    hits = [R // 2, int(2.7 * R)]  # the first is lost with the overrun, the second after it is found
    eng = _engine(_signal(hits, seconds=3.0))
    mic = MicInput(eng)
    mic.start()
    mic._stop_thread()
    eng.backend.run_blocks(int(2.2 * R) // 128)  # more than the 2 s ring before the first poll
    assert mic.poll() == [] and mic.overruns == 1
    eng.backend.run_blocks(int(0.8 * R) // 128)
    events = mic.poll()
    eng.close()
    assert [e.arrival_frame for e in events] == pytest.approx([hits[1]], abs=2)


def test_velocity_follows_the_level():
    assert MicInput.level_to_velocity(0.0) == 127
    assert MicInput.level_to_velocity(6.0) == 127
    assert MicInput.level_to_velocity(-40.0) == 13
    assert MicInput.level_to_velocity(-200.0) == 1


def test_an_engine_without_input_is_refused():
    eng = AudioEngine(backend="offline", channels_in=0)
    with pytest.raises(ValueError, match="input channel"):
        MicInput(eng)


def _room_engine(child: np.ndarray, *, latency=(64, 128), delay: int = 96, gain: float = 0.4):
    """An offline engine whose microphone hears its own output through a small 'room' (a delay of
    the stream's round trip plus ``delay`` frames, a reflection, a gain) plus the child's ``child``."""
    h = np.zeros(delay + 200)
    h[delay], h[delay + 150] = gain, -0.4 * gain
    rt = latency[0] + latency[1]
    holder = {}

    def source(frame: int, block: np.ndarray) -> None:
        n = block.shape[0]
        ring = holder["eng"].output_ring
        lo = frame - rt - h.size + 1  # output frames that reach these input frames
        out = np.zeros(n + h.size - 1)
        a, b = max(lo, 0), min(frame - rt + n, ring.written)
        if b > a:
            out[a - lo: b - lo] = ring.read(a, b - a).sum(axis=1)
        leak = np.convolve(out, h)[h.size - 1: h.size - 1 + n]
        block.fill(0.0)
        chunk = child[frame:frame + n]
        block[:chunk.size, 0] = chunk
        block[:, 0] += leak

    eng = AudioEngine(backend=OfflineBackend(input_source=source, latency_frames=latency),
                      blocksize=128, channels_in=1, channels_out=1, ring_s=4.0)
    holder["eng"] = eng
    eng.start()
    return eng


@pytest.mark.parametrize("suppress", [True, False])
def test_the_engines_own_cues_are_not_the_childs_onsets(suppress):
    """Clicks the engine plays come back through the 'room'; the child's hits between the cues and
    right on them (10 ms after a cue's arrival) are found, the cues themselves are not."""
    from engine.audio.sound import Sound

    t = np.arange(2400)
    click = Sound("click", 0.5 * np.sin(2 * np.pi * 1500 * t / R) * np.exp(-t / (0.008 * R)), R)
    cues = list(range(R // 2, int(5.5 * R), R // 2))  # every 500 ms from 0.5 s: 10 cues
    arrive = [c + 64 + 128 + 96 for c in cues]  # where each reaches the microphone
    child_at = [arrive[k] + 240 for k in (3, 5, 7, 9)] + [arrive[k] + R // 4 for k in (4, 6, 8)]
    child = _signal(sorted(child_at), seconds=6.0) * 0.6
    eng = _room_engine(child)
    for c in cues:
        eng.play(click, c)
    mic = MicInput(eng, suppress=suppress)
    mic.start()
    mic._stop_thread()
    events = []
    for _ in range(0, 6 * R - 1024, 1024):
        eng.backend.run_blocks(8)
        events += mic.poll()
    eng.close()
    found = [e.arrival_frame for e in events if e.key == "onset"]
    # The first two cues teach the canceller (nothing is reported while the speakers sound until then).
    taught = [a for a in arrive if a >= arrive[2]]
    near_cue = [f for f in found if any(0 <= f - a < 200 for a in taught)]
    if suppress:
        assert sorted(found) == pytest.approx(sorted(child_at), abs=24)
        assert near_cue == []
    else:  # without suppression the cues are taken for the child's (what the test guards against)
        assert len(near_cue) >= 6
