"""The causal onset detector on signals made in code, whose onsets are known to the sample."""

from __future__ import annotations

import numpy as np
import pytest

from engine.audio.onsets import OnsetDetector

R = 48_000


def _hit(rng, kind: str, n: int = 2400) -> np.ndarray:
    t = np.arange(n)
    if kind == "noise":  # a drum-like burst
        return 0.5 * rng.standard_normal(n) * np.exp(-t / (0.010 * R))
    return 0.5 * np.sin(2 * np.pi * 800 * t / R) * np.exp(-t / (0.020 * R))  # a wood block


def _signal(seed: int = 0, seconds: float = 4.0, snr_db: float | None = None, min_gap_ms: float = 80.0):
    """Hits at known samples (alternating bursts and tones, gaps from 80 ms up), optional white noise."""
    rng = np.random.default_rng(seed)
    x = np.zeros(int(seconds * R))
    truth, pos, k = [], 4800, 0
    while pos < x.size - 4800:
        h = _hit(rng, "noise" if k % 2 else "tone")
        x[pos:pos + h.size] += h
        truth.append(pos)
        pos += int(R * min_gap_ms / 1000) + (k * 977) % 9000
        k += 1
    if snr_db is not None:
        ref = np.sqrt(np.mean(np.concatenate([_hit(rng, "noise") for _ in range(3)]) ** 2))
        x += rng.standard_normal(x.size) * ref / 10 ** (snr_db / 20)
    return x, truth


def _run(x: np.ndarray, blocksize: int = 128, **kw):
    det = OnsetDetector(R, **kw)
    out = []
    for i in range(0, x.size, blocksize):
        out += det.process(x[i:i + blocksize])
    return out


def _errors(onsets, truth, within: int = 480) -> list[int]:
    """Signed error of the nearest detection for each true onset (None if none within ``within``)."""
    found = np.array([o.sample for o in onsets])
    errs = []
    for t in truth:
        j = int(np.argmin(np.abs(found - t))) if found.size else None
        errs.append(None if j is None or abs(found[j] - t) > within else int(found[j] - t))
    return errs


def test_clean_hits_are_found_to_the_sample():
    x, truth = _signal()
    onsets = _run(x)
    assert len(onsets) == len(truth)
    errs = _errors(onsets, truth)
    assert None not in errs and max(abs(e) for e in errs) <= 2


@pytest.mark.parametrize("snr_db, max_err", [(20, 12), (10, 24)])
def test_hits_in_room_noise_are_found_within_half_a_millisecond(snr_db, max_err):
    x, truth = _signal(seed=1, snr_db=snr_db)
    onsets = _run(x)
    errs = _errors(onsets, truth)
    assert None not in errs, errs
    assert len(onsets) == len(truth), "no false onsets from the noise"
    assert max(abs(e) for e in errs) <= max_err


def test_the_result_does_not_depend_on_the_blocksize():
    """Causal and per sample: the same onsets, to the sample, however the signal is cut."""
    x, _ = _signal(seed=2, snr_db=15)
    results = {bs: _run(x, bs) for bs in (64, 100, 128, 512)}
    assert results[64] and all(r == results[64] for r in results.values())


def test_onsets_are_reported_after_they_happen_and_soon():
    x, truth = _signal(seed=3, snr_db=20)
    for o in _run(x):
        assert o.sample <= o.detected_at <= o.sample + 480  # never before; within 10 ms


def test_a_double_hit_within_the_minimum_interval_counts_once():
    rng = np.random.default_rng(4)
    x = np.zeros(R)
    for at in (9600, 9600 + 1920):  # 40 ms apart: a tremor's double hit
        h = _hit(rng, "noise")
        x[at:at + h.size] += h
    assert [o.sample for o in _run(x, min_ioi_ms=50)] == pytest.approx([9600], abs=2)
    assert [o.sample for o in _run(x, min_ioi_ms=30)] == pytest.approx([9600, 11520], abs=2)


def test_silence_noise_and_dc_give_no_onsets():
    rng = np.random.default_rng(5)
    assert _run(np.zeros(R)) == []
    assert _run(0.01 * rng.standard_normal(2 * R)) == []
    assert _run(np.full(R, 0.3)) == []  # a DC offset is taken out by the high-pass, even as it starts


def test_clipped_hits_are_still_found():
    x, truth = _signal(seed=6)
    errs = _errors(_run(np.clip(4 * x, -1, 1)), truth)
    assert None not in errs and max(abs(e) for e in errs) <= 2


def test_level_follows_the_hit():
    rng = np.random.default_rng(7)
    h = _hit(rng, "noise")
    x = np.zeros(R)
    x[9600:9600 + h.size] += h
    x[30000:30000 + h.size] += 0.1 * h
    loud, soft = _run(x)
    # The same burst at a tenth of the amplitude: 20 dB softer, whatever the blocksize.
    assert loud.level_db - soft.level_db == pytest.approx(20.0, abs=0.5)
