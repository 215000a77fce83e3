"""Tests of engine.simulation.tapping: determinism, causality, timing against the norms."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from engine.errors import ConfigError
from engine.scoring.sync import match_taps, summarize
from engine.simulation.tapping import PROFILES, SimulatedChild, Tap, noise_sds_ms, norms_at

# Statistical tests use fixed seeds; their tolerances are this many standard errors.
Z = 4.0


def run(child: SimulatedChild, cues_s, *, step_s: float | None = None) -> list[Tap]:
    """Feed cues in time order, collecting taps as a clock advancing to each cue would."""
    taps: list[Tap] = []
    for t in cues_s:
        if step_s is not None:
            # Advance the clock in small blocks up to the cue, as the engine does.
            last = taps[-1].time_s if taps else -math.inf
            now = max(last, t - 10 * step_s)
            while now < t:
                taps += child.due_taps(now)
                now += step_s
        taps += child.due_taps(t)
        child.hear_cue(t)
    child.stop()
    taps += child.due_taps(math.inf)
    return taps


def metronome(n: int, ioi_s: float, start_s: float = 1.0) -> np.ndarray:
    return start_s + ioi_s * np.arange(n)


def main_taps(taps: list[Tap]) -> dict[int, Tap]:
    return {t.cue_index: t for t in taps if t.cue_index is not None}


def test_profiles():
    assert SimulatedChild.profiles() == ["adult", "typical", "motor", "sensory-seeking"]
    assert SimulatedChild().profile.name == "typical"
    with pytest.raises(ConfigError, match="choose one of"):
        SimulatedChild("toddler")
    with pytest.raises(ValueError):
        SimulatedChild("toddler")  # ConfigError is also a ValueError


@pytest.mark.parametrize("name", list(PROFILES))
def test_same_seed_same_taps(name):
    cues = metronome(60, 0.5)
    a = run(SimulatedChild(name, seed=3), cues)
    b = run(SimulatedChild(name, seed=3), cues)
    c = run(SimulatedChild(name, seed=4), cues)
    assert a == b
    assert a != c


def test_no_tap_before_the_tempo_is_known():
    child = SimulatedChild("adult", seed=0)
    child.hear_cue(1.0)
    assert child.due_taps(math.inf) == []
    child.hear_cue(1.6)
    (tap,) = child.due_taps(math.inf)
    assert tap.cue_index == 2 and tap.time_s >= 1.6
    # The first tap is partly reactive: it aims later than the adult target.
    assert tap.intended_asynchrony_ms > norms_at(600).mean_asynchrony_ms


def test_due_taps_returns_each_tap_once_in_order():
    child = SimulatedChild("sensory-seeking", seed=5)
    taps = run(child, metronome(80, 0.5), step_s=0.0027)
    times = [t.time_s for t in taps]
    assert times == sorted(times)
    assert len(set(map(id, taps))) == len(taps)
    assert child.due_taps(math.inf) == []


@pytest.mark.parametrize("name", list(PROFILES))
def test_interleaved_feeding_gives_the_same_taps(name):
    cues = metronome(50, 0.45)
    all_at_once = SimulatedChild(name, seed=11)
    for t in cues:
        all_at_once.hear_cue(t)
    expected = all_at_once.due_taps(math.inf)
    got = run(SimulatedChild(name, seed=11), cues, step_s=0.0027)
    assert got == expected


@pytest.mark.parametrize("name", list(PROFILES))
def test_future_cues_do_not_change_past_taps(name):
    # Two runs agree up to cue k and differ after it (a tempo step vs none):
    # every tap the child could have planned by cue k must be identical.
    k = 20
    steady = metronome(40, 0.6)
    stepped = steady.copy()
    stepped[k + 1:] = steady[k] + 0.5 * np.arange(1, 40 - k)
    a = run(SimulatedChild(name, seed=2), steady)
    b = run(SimulatedChild(name, seed=2), stepped)
    planned_by_k = [t for t in a if t.time_s <= steady[k]]
    assert planned_by_k == [t for t in b if t.time_s <= steady[k]]
    assert main_taps(a)[k + 1] == main_taps(b)[k + 1]
    assert main_taps(a)[k + 2] != main_taps(b)[k + 2]


@pytest.mark.parametrize("name", list(PROFILES))
def test_no_tap_before_what_it_depends_on(name):
    # Fast beat and a very noisy child, so that some taps would be planned in the
    # past and must be pushed to the moment they were planned.
    profile = dataclasses.replace(PROFILES[name], sd_scale=6.0)
    cues = metronome(300, 0.3)
    taps = main_taps(run(SimulatedChild(profile, seed=9), cues))
    for j, tap in taps.items():
        assert tap.time_s >= cues[j - 1]  # planned only after cue j-1 was heard
        previous = taps.get(j - 1)
        if previous is not None:
            assert tap.time_s >= previous.time_s  # ... and after its own last tap
    # Extra taps are also never before the cue they follow.
    assert all(t.time_s >= cues[0] for t in run(SimulatedChild(profile, seed=9), cues))


def _asynchronies_ms(taps: list[Tap], cues_s: np.ndarray, *, warmup: int):
    tap_s = [t.time_s for t in taps]
    matches = match_taps(cues_s, tap_s)
    return matches, summarize(matches, len(tap_s), tap_s=tap_s, warmup=warmup)


def test_adult_matches_the_norms_over_a_long_run():
    n, warmup, isi_ms = 200, 10, 600.0
    cues = metronome(n, isi_ms / 1000.0)
    _, summary = _asynchronies_ms(run(SimulatedChild("adult", seed=2012), cues), cues, warmup=warmup)
    norm = norms_at(isi_ms)
    m = summary.n_cues
    assert summary.matched == m
    sd, r1 = norm.within_trial_sd_ms, norm.lag1_autocorr
    # Standard errors for an autocorrelated (AR(1)-like) series of m values.
    se_mean = sd / math.sqrt(m) * math.sqrt((1 + r1) / (1 - r1))
    se_sd = sd / math.sqrt(2 * (m - 1)) * math.sqrt((1 + r1 * r1) / (1 - r1 * r1))
    assert abs(summary.asynchrony_mean_ms - norm.mean_asynchrony_ms) < Z * se_mean
    assert abs(summary.asynchrony_sd_ms - sd) < Z * se_sd


def test_noise_sds_reproduce_sd_and_autocorrelation():
    # Check the closed form by simulating the model's recursion directly.
    alpha, sd, r1 = 0.4, 37.5, 0.4
    sd_t, sd_m = noise_sds_ms(sd_ms=sd, lag1_autocorr=r1, alpha=alpha)
    rng = np.random.default_rng(0)
    n = 200_000
    t_noise, m_noise = rng.normal(0, sd_t, n), rng.normal(0, sd_m, n + 1)
    a = np.empty(n)
    a[0] = 0.0
    for k in range(n - 1):
        a[k + 1] = (1 - alpha) * a[k] + t_noise[k] + m_noise[k + 1] - m_noise[k]
    a = a[100:]
    d = a - a.mean()
    assert a.std() == pytest.approx(sd, rel=0.02)
    assert (d[:-1] @ d[1:]) / (d @ d) == pytest.approx(r1, abs=0.02)


def test_motor_profile_misses_and_double_taps_at_the_set_rates():
    profile = PROFILES["motor"]
    n = 2000
    cues = metronome(n, 0.6)
    taps = run(SimulatedChild("motor", seed=8), cues)
    planned = range(2, n)  # the child taps from the third cue on
    made = main_taps(taps)
    miss_rate = sum(1 for j in planned if j not in made) / len(planned)
    p = profile.miss_prob
    assert abs(miss_rate - p) < Z * math.sqrt(p * (1 - p) / len(planned))
    extras = [t for t in taps if t.cue_index is None]
    q = profile.double_tap_prob
    assert abs(len(extras) / len(made) - q) < Z * math.sqrt(q * (1 - q) / len(made))
    assert all(t.intended_asynchrony_ms is None for t in extras)
    # Each double tap follows a tap by 60–120 ms.
    lo, hi = profile.double_tap_gap_ms
    main_times = np.array(sorted(t.time_s for t in made.values()))
    for extra in extras:
        before = main_times[np.searchsorted(main_times, extra.time_s) - 1]
        assert lo / 1000 <= extra.time_s - before <= hi / 1000 + 1e-12
    # The scoring sees them as missed cues and extra taps.
    _, summary = _asynchronies_ms(taps, cues, warmup=2)
    assert summary.missed >= n - 2 - len(made)
    assert summary.extra >= 0.5 * len(extras)


@pytest.mark.parametrize("factor", [1.1, 0.9])
def test_follows_a_tempo_step_of_ten_percent(factor):
    ioi_s = 0.6
    first = metronome(100, ioi_s)
    second = first[-1] + ioi_s * factor * np.arange(1, 101)
    cues = np.concatenate([first, second])
    matches, summary = _asynchronies_ms(run(SimulatedChild("adult", seed=21), cues), cues, warmup=5)
    assert summary.missed == 0
    asyn = np.array([m.asynchrony_ms for m in matches[100:]])
    norm = norms_at(ioi_s * factor * 1000)
    # Bounded right after the step (the step itself is 60 ms) ...
    assert np.max(np.abs(asyn - norm.mean_asynchrony_ms)) < abs(factor - 1) * ioi_s * 1000 + Z * norm.within_trial_sd_ms
    # ... and back at the norm once the child has adapted.
    settled = asyn[20:]
    r1 = norm.lag1_autocorr
    se = norm.within_trial_sd_ms / math.sqrt(settled.size) * math.sqrt((1 + r1) / (1 - r1))
    assert abs(settled.mean() - norm.mean_asynchrony_ms) < Z * se
    assert summary.tempo_ratio == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("name", list(PROFILES))
def test_intended_asynchrony_is_the_true_asynchrony_on_a_steady_beat(name):
    cues = metronome(100, 0.5)
    taps = run(SimulatedChild(name, seed=17), cues)
    matches = match_taps(cues, [t.time_s for t in taps])
    checked = 0
    for m in matches:
        if m.matched and taps[m.tap_index].cue_index == m.cue_index:
            assert taps[m.tap_index].intended_asynchrony_ms == pytest.approx(m.asynchrony_ms, abs=1e-6)
            checked += 1
    assert checked > 80


@pytest.mark.parametrize("name", list(PROFILES))
def test_velocities_are_human_like(name):
    profile = PROFILES[name]
    taps = run(SimulatedChild(name, seed=1), metronome(300, 0.5))
    vel = np.array([t.velocity for t in taps if t.cue_index is not None])
    assert vel.dtype.kind == "i" and vel.min() >= 1 and vel.max() <= 127
    assert abs(vel.mean() - profile.velocity_mean) < Z * profile.velocity_sd / math.sqrt(vel.size) + 1
    assert vel.std() > 0


def test_stop_plans_no_further_taps_and_a_new_start_needs_two_cues():
    child = SimulatedChild("typical", seed=4)
    for t in metronome(10, 0.5):
        child.hear_cue(t)
    child.stop()
    taps = child.due_taps(math.inf)
    assert max(t.cue_index for t in taps if t.cue_index is not None) <= 10  # only what was committed
    assert child.due_taps(math.inf) == []
    child.hear_cue(20.0)
    assert child.due_taps(math.inf) == []
    child.hear_cue(20.5)
    (tap,) = [t for t in child.due_taps(math.inf) if t.cue_index is not None]
    assert tap.cue_index == 12 and tap.time_s >= 20.5


def test_cues_must_move_forward():
    child = SimulatedChild("adult", seed=0)
    child.hear_cue(1.0)
    with pytest.raises(ValueError):
        child.hear_cue(1.0)
    with pytest.raises(ValueError):
        child.hear_cue(math.nan)
