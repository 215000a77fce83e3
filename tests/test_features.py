"""Onset features and the voice tracker on signals made in code, whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.audio.features import VoiceEvent, VoiceTracker, onset_features

R = 48_000
RATES = (48_000, 44_100, 16_000)


def _sung(rate: int, dur_s: float, f0: float, rng, *, amp: float = 0.1, attack_s: float = 0.02,
          release_s: float = 0.02, formants=((700, 150, 3.0), (1200, 200, 2.0))) -> np.ndarray:
    """A sung vowel: harmonics of ``f0`` (up to 5 kHz) under a formant envelope, 5.5 Hz vibrato of
    +-3 %, linear attack and release ramps; RMS ``amp`` between the ramps."""
    n = round(dur_s * rate)
    t = np.arange(n) / rate
    inst = f0 * (1 + 0.03 * np.sin(2 * np.pi * 5.5 * t + rng.uniform(0, 2 * np.pi)))
    phase = 2 * np.pi * np.cumsum(inst) / rate
    x = np.zeros(n)
    h = 1
    while h * f0 < min(5000, 0.45 * rate):
        gain = 1 + sum(g * math.exp(-(((h * f0) - f) / bw) ** 2) for f, bw, g in formants)
        x += gain / h * np.sin(h * phase + rng.uniform(0, 2 * np.pi))
        h += 1
    x *= np.minimum(1.0, np.minimum(t / attack_s, (dur_s - t) / release_s))
    steady = x[int(attack_s * rate): n - int(release_s * rate)]
    return amp * x / np.sqrt(np.mean(steady ** 2))


def _hit(rate: int, kind: str, rng, amp: float = 0.5) -> np.ndarray:
    """A percussive hit (0.6 s): a decaying noise burst, an 800 Hz wood block (20 ms decay),
    or a low tom (120 Hz-ish sine, 80 ms decay, pitch falling from 140 to 110 Hz)."""
    t = np.arange(int(0.6 * rate)) / rate
    if kind == "noise":
        return amp * rng.standard_normal(t.size) * np.exp(-t / 0.010)
    if kind == "wood":
        return amp * np.sin(2 * np.pi * 800 * t) * np.exp(-t / 0.020)
    f = 110 + 30 * np.exp(-t / 0.05)
    return amp * np.sin(2 * np.pi * np.cumsum(f) / rate) * np.exp(-t / 0.080)


def _place(x: np.ndarray, at: int, s: np.ndarray) -> None:
    s = s[: x.size - at]
    x[at: at + s.size] += s


def _run(x: np.ndarray, rate: int = R, blocksize: int = 128, **kw) -> list[VoiceEvent]:
    tracker = VoiceTracker(rate, **kw)
    out = []
    for i in range(0, x.size, blocksize):
        out += tracker.process(x[i: i + blocksize])
    return out + tracker.flush()


def _segments(events: list[VoiceEvent]) -> list[tuple[VoiceEvent, VoiceEvent]]:
    """Pairs (start, end); fails unless the events alternate start, end, each end closing its start."""
    assert [e.kind for e in events] == ["start", "end"] * (len(events) // 2), [e.kind for e in events]
    pairs = list(zip(events[::2], events[1::2]))
    for start, end in pairs:
        assert end.start_sample == start.start_sample
        assert end.duration == end.end_sample - end.start_sample > 0
    return pairs


def _tones(rate: int, seed: int = 0, noise: float = 0.001):
    """Three sung vowels (300, 800, 500 ms; 200, 300, 400 Hz) in light white noise (-60 dBFS)."""
    rng = np.random.default_rng(seed)
    x = noise * rng.standard_normal(4 * rate)
    truth = []
    for at_s, dur_s, f0 in ((0.5, 0.3, 200.0), (1.3, 0.8, 300.0), (2.6, 0.5, 400.0)):
        s = _sung(rate, dur_s, f0, rng)
        _place(x, int(at_s * rate), s)
        truth.append((int(at_s * rate), s.size, f0))
    return x, truth


# -- onset_features ------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", RATES)
def test_a_sine_has_its_frequency_as_centroid_and_no_noise(rate):
    t = np.arange(int(0.030 * rate)) / rate
    f = onset_features(0.5 * np.sin(2 * np.pi * 800 * t), rate)
    assert f["centroid_hz"] == pytest.approx(800, rel=0.05)
    assert f["noisiness"] < 1e-3
    assert f["brightness"] < 0.01
    high = onset_features(0.5 * np.sin(2 * np.pi * 3000 * t), rate)
    assert high["centroid_hz"] == pytest.approx(3000, rel=0.05)
    assert high["brightness"] > 0.99


@pytest.mark.parametrize("rate", RATES)
def test_a_noise_burst_is_noisy_and_bright_a_sung_tone_is_tonal(rate):
    rng = np.random.default_rng(1)
    n = int(0.030 * rate)
    burst = _hit(rate, "noise", rng)[:n]
    tone = _sung(rate, 0.3, 220.0, rng)[int(0.05 * rate):][:n] + 0.001 * rng.standard_normal(n)
    fb, ft = onset_features(burst, rate), onset_features(tone, rate)
    assert fb["noisiness"] > 0.4 and ft["noisiness"] < 0.01
    assert fb["brightness"] > 0.7 and ft["brightness"] < 0.1
    # White noise: the centroid is mid-band, between 100 Hz and the Nyquist frequency.
    assert fb["centroid_hz"] == pytest.approx((100 + rate / 2) / 2, rel=0.15)
    assert 400 < ft["centroid_hz"] < 900  # the tone's energy sits at its first formants


def test_onset_features_look_at_the_first_2048_samples_only():
    rng = np.random.default_rng(2)
    t = np.arange(2048) / R
    sine = 0.5 * np.sin(2 * np.pi * 800 * t)
    longer = np.concatenate([sine, rng.standard_normal(4000)])
    assert onset_features(longer, R) == onset_features(sine, R)
    assert onset_features(longer, R, max_n=6048)["noisiness"] > 0.1  # the noise, once let in, shows


def test_silence_has_no_features():
    f = onset_features(np.zeros(1440), R)
    assert all(math.isnan(v) for v in f.values()) and set(f) == {"centroid_hz", "noisiness", "brightness"}


# -- VoiceTracker --------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", RATES)
def test_sung_tones_start_within_10_ms_and_last_within_30_ms(rate):
    x, truth = _tones(rate)
    pairs = _segments(_run(x, rate))
    assert len(pairs) == len(truth)
    for (start, end), (at, n, f0) in zip(pairs, truth):
        assert abs(start.start_sample - at) <= 0.010 * rate
        assert abs(end.duration - n) <= 0.030 * rate
        assert start.f0_hz == pytest.approx(f0, rel=0.03) and end.f0_hz == pytest.approx(f0, rel=0.03)
        assert end.level_db == pytest.approx(-20.0, abs=1.0)  # RMS 0.1
        # Confirmed after min_voiced_ms (80) plus a frame (~37 ms), not much later.
        assert 0.080 * rate < start.detected_at - at < 0.150 * rate
        assert end.detected_at > end.end_sample


def test_sung_tones_in_noise_20_db_down_are_still_found():
    x, truth = _tones(R, seed=3, noise=0.01)
    pairs = _segments(_run(x))
    assert len(pairs) == len(truth)
    for (start, end), (at, n, _) in zip(pairs, truth):
        assert abs(start.start_sample - at) <= 480 and abs(end.duration - n) <= 1440


def test_events_come_out_of_the_block_that_holds_detected_at():
    x, _ = _tones(R)
    tracker = VoiceTracker(R)
    seen = 0
    for i in range(0, x.size, 128):
        for e in tracker.process(x[i: i + 128]):
            assert i <= e.detected_at < i + 128
            seen += 1
    assert seen == 6


@pytest.mark.parametrize("consonant_ms", [40, 60, 90])
def test_a_spoken_word_with_a_consonant_in_it_is_one_segment(consonant_ms):
    """Vowel, a noise consonant (-10 dB), another vowel: one segment, from the first vowel to the last."""
    rng = np.random.default_rng(4)
    word = np.concatenate([
        _sung(R, 0.20, 220.0, rng, release_s=0.01),
        0.03 * rng.standard_normal(int(consonant_ms / 1000 * R)),
        _sung(R, 0.25, 200.0, rng, attack_s=0.01, formants=((400, 150, 3.0), (2000, 300, 2.0))),
    ])
    x = 0.001 * rng.standard_normal(2 * R)
    _place(x, 24_000, word)
    pairs = _segments(_run(x))
    assert len(pairs) == 1
    start, end = pairs[0]
    assert abs(start.start_sample - 24_000) <= 480
    assert abs(end.duration - word.size) <= 1440


@pytest.mark.parametrize("rate", [48_000, 16_000])
@pytest.mark.parametrize("kind", ["noise", "wood", "tom"])
def test_percussive_hits_are_not_voice(rate, kind):
    rng = np.random.default_rng(5)
    x = 0.001 * rng.standard_normal(4 * rate)
    for amp, at_s in zip((0.5, 0.1, 0.9, 0.03, 0.3), (0.3, 1.0, 1.7, 2.4, 3.1)):
        _place(x, int(at_s * rate), _hit(rate, kind, rng, amp))
    assert _run(x, rate) == []
    if kind != "noise":
        # The wood block and the tom ring periodically for longer than min_voiced_ms: it is the
        # sustain test (their level falls fast) that rejects them.
        assert len(_run(x, rate, max_decay_db=math.inf)) >= 6


def test_silence_noise_dc_and_a_steady_hum_give_nothing():
    rng = np.random.default_rng(6)
    t = np.arange(3 * R) / R
    assert _run(np.zeros(3 * R)) == []
    assert _run(0.01 * rng.standard_normal(3 * R)) == []
    assert _run(np.full(3 * R, 0.3)) == []
    # A hum (100 Hz with harmonics) there from the start is the room, not a voice: it sets the floor.
    hum = 0.02 * (np.sin(2 * np.pi * 100 * t) + 0.5 * np.sin(2 * np.pi * 200 * t))
    assert _run(hum + 0.001 * rng.standard_normal(t.size)) == []


def test_the_result_does_not_depend_on_the_blocksize():
    """Same events, to the sample and the bit, however the stream is cut."""
    x, _ = _tones(R, seed=7, noise=0.003)
    rng = np.random.default_rng(7)
    for kind, at in (("tom", 3.3), ("wood", 2.2), ("noise", 0.2)):
        _place(x, int(at * R), _hit(R, kind, rng))
    results = {bs: _run(x, R, bs) for bs in (64, 128, 500, x.size)}
    assert len(results[64]) == 6
    assert all(r == results[64] for r in results.values())


def test_flush_ends_a_segment_still_open_at_the_end_of_input():
    rng = np.random.default_rng(8)
    x = 0.001 * rng.standard_normal(R)
    tone = _sung(R, 0.6, 250.0, rng, release_s=0.001)
    _place(x, 24_000, tone)  # still sounding at the end
    tracker = VoiceTracker(R)
    events = []
    for i in range(0, x.size, 128):
        events += tracker.process(x[i: i + 128])
    assert [e.kind for e in events] == ["start"]
    tail = tracker.flush()
    assert [e.kind for e in tail] == ["end"]
    assert abs(tail[0].end_sample - x.size) <= 480


def test_level_follows_the_voice():
    rng = np.random.default_rng(9)
    x = 0.0001 * rng.standard_normal(3 * R)
    _place(x, 24_000, _sung(R, 0.4, 300.0, rng))
    _place(x, 96_000, _sung(R, 0.4, 300.0, rng, amp=0.01))
    (_, loud), (_, soft) = _segments(_run(x))
    assert loud.level_db - soft.level_db == pytest.approx(20.0, abs=0.5)


def test_a_pitch_range_the_analysis_rate_cannot_hold_is_refused():
    with pytest.raises(ValueError):
        VoiceTracker(16_000, max_f0=5000.0)
