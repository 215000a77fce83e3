"""Calibration with signals made in code whose answer is known: round trip, MIDI offset, procedure.

Recordings are built sample by sample (fractional delays by a phase shift in
the frequency domain), so every expected latency is exact; asserts are on
frames and counts.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import fftconvolve

from engine.audio.backends import OfflineBackend
from engine.audio.engine import AudioEngine
from engine.calibration.midilatency import (
    analyse_midi_offset,
    find_hit_onset,
    tap_along_offset,
)
from engine.calibration.procedure import (
    CalibrationError,
    calibrate,
    measure_midi_offset,
    measure_roundtrip,
)
from engine.calibration.profiles import applied_latencies
from engine.calibration.roundtrip import analyse_roundtrip
from engine.calibration.signals import probe_sequence

R = 48_000
SEQ = probe_sequence(R)
FIRST = 1000  # the first probe's output frame; recordings start at frame 0


def _delayed(x: np.ndarray, delay: float, n: int) -> np.ndarray:
    """``x`` starting at (fractional) sample ``delay`` of an ``n``-sample signal."""
    size = 1 << int(np.ceil(np.log2(x.size + 64)))
    frac = delay % 1.0
    spec = np.fft.rfft(x, size) * np.exp(-2j * np.pi * np.fft.rfftfreq(size) * frac)
    y = np.fft.irfft(spec, size)
    out = np.zeros(n)
    base = int(np.floor(delay))
    m = min(size, n - base)
    out[base:base + m] = y[:m]
    return out


def room_recording(delay: float, *, gain: float = 0.3, noise: float = 0.002, echo_gain: float = 0.25,
                   echo_frames: float = 200.0, jitter=None, seed: int = 0) -> np.ndarray:
    """The probe sequence as a microphone hears it: ``delay`` frames late, an echo, white noise."""
    n = FIRST + SEQ.frames + R // 2 + 2000
    x = np.zeros(n)
    for k, off in enumerate(SEQ.offsets_frames):
        d = delay + (0.0 if jitter is None else jitter[k])
        x += gain * _delayed(SEQ.probe, FIRST + off + d, n)
        if echo_gain:
            x += gain * echo_gain * _delayed(SEQ.probe, FIRST + off + d + echo_frames, n)
    return x + noise * np.random.default_rng(seed).standard_normal(n)


def analyse(x, **kw):
    return analyse_roundtrip(x, start_frame=0, sequence=SEQ, first_frame=FIRST, **kw)


# ---------------------------------------------------------------------------- signals


def test_the_probe_sequence_aligns_with_itself_at_one_shift_only():
    played = SEQ.rendered().astype(np.float64)
    corr = np.abs(fftconvolve(played, played[::-1]))
    centre = played.size - 1
    assert int(np.argmax(corr)) == centre
    away = np.concatenate([corr[: centre - 2000], corr[centre + 2000:]])
    assert away.max() < 0.11 * corr[centre]  # at most one probe of ten lines up at any other shift
    assert 8 <= SEQ.repetitions <= 12 and SEQ.frames < 5 * R


# ---------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("delay", [0.0, 96.0, 1234.37, 5000.5, 14_400.75])
def test_known_delays_are_found_to_a_tenth_of_a_frame(delay):
    rt = analyse(room_recording(delay))
    assert rt.ok, rt.reason
    assert rt.found == rt.repetitions == SEQ.repetitions
    assert rt.latency_frames == pytest.approx(delay, abs=0.1)
    assert all(v == pytest.approx(delay, abs=0.1) for v in rt.latencies_frames)
    assert rt.spread_ms < 0.01


def test_the_first_arrival_counts_even_when_a_later_reflection_is_louder():
    rt = analyse(room_recording(700.0, echo_gain=1.6, echo_frames=150))
    assert rt.ok and rt.latency_frames == pytest.approx(700.0, abs=0.1)


def test_an_inverted_speaker_gives_the_same_latency():
    rt = analyse(-room_recording(333.3))
    assert rt.ok and rt.latency_frames == pytest.approx(333.3, abs=0.1)


def test_a_noisy_but_measurable_room_is_accepted_with_its_figures():
    rt = analyse(room_recording(2400.0, gain=0.05, noise=0.01))
    assert rt.ok
    assert rt.latency_frames == pytest.approx(2400.0, abs=0.25)
    assert -45 < rt.noise_db < -35 and rt.snr_db > 20


@pytest.mark.parametrize(("kw", "problem", "words"), [
    ({"gain": 0.0, "noise": 0.0}, "silent", "only silence"),
    ({"gain": 0.0, "noise": 0.001}, "nothing_heard", "headphones"),
    ({"gain": 0.00012, "noise": 0.0003}, "too_quiet", "turn the speakers up"),
    ({"gain": 0.0, "noise": 0.05}, "too_noisy", "noise"),
    ({"gain": 0.01, "noise": 0.03}, "too_noisy", "quiet"),
])
def test_a_failed_measurement_says_why_in_one_sentence(kw, problem, words):
    rt = analyse(room_recording(500.0, **kw))
    assert not rt.ok and rt.problem == problem
    assert words in rt.reason
    assert rt.reason.count(". ") == 0 and rt.reason.endswith(".")  # one sentence
    assert rt.latency_frames is None


def test_a_round_trip_that_wanders_between_repetitions_is_rejected():
    jitter = np.array([0, 90, -80, 40, -120, 70, 0, -30, 110, -60], dtype=float)  # up to 2.5 ms
    rt = analyse(room_recording(500.0, jitter=jitter))
    assert not rt.ok and rt.problem == "unsteady"
    assert "varied by" in rt.reason
    assert rt.found == 10
    assert [round(v) for v in rt.latencies_frames] == [round(500 + j) for j in jitter]
    assert rt.spread_ms == pytest.approx(np.std(jitter) * 1000 / R, abs=0.01)


def test_a_recording_that_stops_too_early_is_a_programming_error():
    with pytest.raises(ValueError, match="must cover"):
        analyse(room_recording(0.0)[: FIRST + SEQ.frames])


# ---------------------------------------------------------------------------- MIDI offset


def _hit(seed: int, amp: float = 0.5) -> np.ndarray:
    """A drum-like hit: noise and a low tone, both decaying, full attack at sample 0."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(0.05 * R))
    x = rng.standard_normal(t.size) * np.exp(-t / (0.004 * R)) + np.sin(2 * np.pi * 180 * t / R) * np.exp(-t / (0.012 * R))
    x[0] = 2.0 * np.abs(x).max()
    return amp * x / np.abs(x).max()


def pad_session(offsets: list[int], *, noise: float = 0.002, first: int = 4800, ioi: int = 24_000,
                missing: tuple[int, ...] = ()):
    """Hits at known frames (onset e_k) and MIDI stamps at e_k + offsets[k]: (stamps, recording)."""
    n = first + (len(offsets) + 1) * ioi
    x = noise * np.random.default_rng(1).standard_normal(n)
    stamps = []
    for k, d in enumerate(offsets):
        e = first + k * ioi + (37 * k) % 500
        if k not in missing:
            h = _hit(k)
            x[e:e + h.size] += h
        stamps.append(e + d)
    return stamps, x


def test_hit_onset_is_the_first_sample_at_a_tenth_of_the_peak():
    x = np.zeros(1000)
    x[300:310] = np.linspace(0.0, 1.0, 10)
    assert find_hit_onset(x, noise_rms=0.0) == 301  # 1/9 ≥ 0.1 first
    assert find_hit_onset(np.zeros(100), noise_rms=0.0) is None


@pytest.mark.parametrize("offset", [-700, -48, 0, 240, 1500])
def test_the_midi_offset_is_stamp_minus_onset(offset):
    rng = np.random.default_rng(offset & 0xFFFF)
    offsets = [offset + int(v) for v in rng.integers(-64, 65, 12)]  # ±1.3 ms of stamping jitter
    stamps, x = pad_session(offsets)
    m = analyse_midi_offset(stamps, x, start_frame=0, sample_rate=R)
    assert m.ok and m.exact and m.method == "acoustic"
    assert m.used == m.taps == 12
    assert list(m.offsets_frames) == offsets  # each hit's onset found to the sample
    assert m.offset_frames == np.median(offsets)


def test_taps_on_a_click_are_left_out_and_unheard_hits_are_counted():
    stamps, x = pad_session([240] * 10, missing=(3, 7))
    busy = [(stamps[0] - 3000, stamps[0] + 3000)]
    m = analyse_midi_offset(stamps, x, start_frame=0, sample_rate=R, busy_frames=busy)
    assert m.ok and m.taps == 9 and m.used == 7
    assert m.offsets_frames.count(None) == 2 and m.offset_frames == 240


def test_too_few_hits_heard_is_rejected_with_a_reason():
    stamps, x = pad_session([240] * 8, missing=(0, 1, 2, 3, 4))
    m = analyse_midi_offset(stamps, x, start_frame=0, sample_rate=R)
    assert not m.ok and m.used == 3 and "Only 3 of 8 pad hits" in m.reason


def test_no_pad_hits_at_all_says_to_check_the_pad():
    _, x = pad_session([240] * 3)
    m = analyse_midi_offset([], x, start_frame=0, sample_rate=R)
    assert not m.ok and m.taps == 0 and "No pad hits came in" in m.reason


def test_a_wandering_pad_latency_is_rejected():
    offsets = [240, 240 + 400, 240 - 400, 240 + 300, 240 - 300, 240, 240 + 350, 240 - 350]
    stamps, x = pad_session(offsets)
    m = analyse_midi_offset(stamps, x, start_frame=0, sample_rate=R)
    assert not m.ok and "varied by" in m.reason and m.spread_ms > 3.0


def test_a_stray_double_hit_is_left_out_with_a_warning():
    offsets = [240] * 9 + [240 + 1500]
    stamps, x = pad_session(offsets)
    m = analyse_midi_offset(stamps, x, start_frame=0, sample_rate=R)
    assert m.ok and m.used == 9 and m.offset_frames == 240 and m.warnings


def test_tap_along_pairs_each_tap_with_its_click_and_is_marked_less_exact():
    clicks = [10_000 + k * 24_000 for k in range(10)]
    roundtrip = 600.0
    d = [300 + 48 * ((k % 3) - 1) for k in range(8)]
    stamps = [c + roundtrip + dd for c, dd in zip(clicks[2:], d)]  # no taps on the first two clicks
    m = tap_along_offset(stamps + [clicks[-1] + 12_500], clicks, roundtrip_frames=roundtrip, sample_rate=R)
    assert m.ok and not m.exact and m.method == "tap-along"
    assert m.used == 8 and m.taps == 9 and m.offset_frames == 300


# ---------------------------------------------------------------------------- on a live (offline) engine


class OfflineRoom:
    """An offline engine's input: its own output ``delay`` frames later (plus noise), and pad hits.

    ``plan`` is called by the MIDI procedure: it schedules one hit half a beat into each tap slot
    and the MIDI stamp ``midi_after`` frames after the hit's onset.
    """

    def __init__(self, delay: int, *, midi_after: int = 0, noise: float = 0.001) -> None:
        self.delay, self.midi_after, self.noise = delay, midi_after, noise
        self.engine: AudioEngine | None = None
        self.hits: list[tuple[int, np.ndarray]] = []
        self.stamps: list[int] = []
        self.rng = np.random.default_rng(5)

    def source(self, frame: int, block: np.ndarray) -> None:
        n = block.shape[0]
        block.fill(0.0)
        if block.shape[1] == 0:
            return
        ring = self.engine.output_ring
        a = frame - self.delay
        lo, hi = max(a, ring.oldest), min(a + n, ring.written)
        if hi > lo:
            block[lo - a: hi - a, 0] = ring.read(lo, hi - lo).sum(axis=1)
        for at, h in self.hits:
            s0, s1 = max(at, frame), min(at + h.size, frame + n)
            if s1 > s0:
                block[s0 - frame: s1 - frame, 0] += h[s0 - at: s1 - at]
        block[:, 0] += self.noise * self.rng.standard_normal(n)

    def plan(self, plan) -> None:
        for k in range(plan.taps):
            e = plan.taps_from_frame + plan.ioi_frames // 2 + k * plan.ioi_frames + 13 * k
            self.hits.append((e, _hit(k)))
            self.stamps.append(e + self.midi_after)


def offline_engine(room: OfflineRoom, *, latency=(64, 96), channels_in=1) -> AudioEngine:
    eng = AudioEngine(backend=OfflineBackend(input_source=room.source, latency_frames=latency),
                      blocksize=128, channels_in=channels_in, ring_s=20.0)
    room.engine = eng
    eng.start()
    return eng


def test_the_procedure_measures_the_round_trip_of_a_running_engine():
    room = OfflineRoom(1500)
    eng = offline_engine(room)
    try:
        rt = measure_roundtrip(eng)
    finally:
        eng.close()
    assert rt.ok, rt.reason
    assert rt.latency_frames == pytest.approx(1500, abs=0.05)


def test_calibrate_makes_a_profile_with_both_parts():
    room = OfflineRoom(2000, midi_after=300)
    eng = offline_engine(room, latency=(64, 96))
    try:
        cal = calibrate(eng, stamps=lambda: room.stamps, midi_device="Rig pad",
                        midi_options={"on_plan": room.plan, "taps": 8})
    finally:
        eng.close()
    assert cal.ok, cal.reasons
    assert cal.midi.offset_frames == 300 and cal.midi.used == 8
    p = cal.profile
    assert p.setup.midi_device == "Rig pad" and p.setup.blocksize == 128 and p.setup.sample_rate == R
    assert p.roundtrip_ms == pytest.approx(2000 / 48, abs=0.01)
    assert p.mic_extra_latency_ms == pytest.approx((2000 - 64 - 96) / 48, abs=0.01)
    assert p.midi_offset_ms == pytest.approx(300 / 48) and p.midi_exact


def test_without_a_microphone_the_tap_along_estimate_is_used():
    clicks_seen = []
    eng = offline_engine(OfflineRoom(2000), latency=(64, 96), channels_in=0)

    def plan(p):
        clicks_seen.extend(p.click_frames)

    try:
        # Taps 100 frames after each click is heard (round trip = the reported 160 frames).
        def stamps():
            return [c + 160 + 100 for c in clicks_seen[4:]]
        m = measure_midi_offset(eng, stamps, microphone=False, on_plan=plan, taps=8)
    finally:
        eng.close()
    assert len(clicks_seen) == 12  # count-in and taps: the clicks go on
    assert m.ok and not m.exact and m.offset_frames == 100


def test_calibrate_without_a_microphone_keeps_a_less_exact_midi_profile():
    clicks_seen = []
    eng = offline_engine(OfflineRoom(0), latency=(64, 96), channels_in=0)
    said = []
    try:
        cal = calibrate(eng, stamps=lambda: [c + 160 - 48 for c in clicks_seen], microphone=False,
                        midi_device="Rig pad", midi_options={"on_plan": lambda p: clicks_seen.extend(p.click_frames)},
                        echo=said.append)
    finally:
        eng.close()
    assert cal.ok and cal.roundtrip is None and len(said) == 1 and "exactly along" in said[0]
    p = cal.profile
    assert p.roundtrip_ms is None and p.midi_method == "tap-along" and not p.midi_exact
    assert p.midi_offset_ms == pytest.approx(-1.0)
    a = applied_latencies(p, input_latency_ms=64 / 48)
    assert a.mic_extra_latency_ms == 0.0 and a.midi_latency_ms == pytest.approx(-1.0 + 64 / 48)
    assert not a.calibrated_audio and "less exact" in a.note


def test_calibration_without_an_input_says_so():
    eng = offline_engine(OfflineRoom(0), channels_in=0)
    try:
        with pytest.raises(CalibrationError, match="no input channel"):
            measure_roundtrip(eng)
    finally:
        eng.close()


def test_an_interrupted_calibration_leaves_nothing_sounding():
    eng = offline_engine(OfflineRoom(1000))

    def boom(plan):
        raise KeyboardInterrupt  # the therapist pressed Ctrl-C right after the clicks were scheduled

    try:
        with pytest.raises(KeyboardInterrupt):
            measure_midi_offset(eng, list, on_plan=boom)
        start = eng.now_frame
        eng.backend.run_blocks(3 * R // 128)  # the clicks were due within these 3 s
        out = eng.output_ring.read(start, eng.now_frame - start)
    finally:
        eng.close()
    assert not np.any(out)
