"""Validation of engine.scoring against references, beyond tests/test_sync_scoring.py.

- Circular statistics of :func:`engine.scoring.sync.summarize` against
  ``scipy.stats`` (circmean, circvar, directional_stats) and the Rayleigh p
  against first principles (Monte Carlo of uniform phases; the
  Greenwood–Durand series as given by Fisher 1993).
- Onset F-measure (:mod:`engine.scoring.onsets_eval`) against mir_eval's own
  fixtures (tests/fixtures/mir_eval_onset, MIT, see LICENSE.txt there).
- Real drumming: Groove MIDI files (tests/fixtures/groove_midi, CC BY 4.0,
  Gillick et al. 2019) against the click grid rebuilt from their tempo.
- Hypothesis properties not in test_sync_scoring.py.
- Synchronisation–continuation (:mod:`engine.scoring.continuation`).
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import mir_eval
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from engine.midi.midifile import load_midi
from engine.scoring.continuation import MIN_CONTINUATION_TAPS, score_continuation
from engine.scoring.onsets_eval import f_measure, match_count
from engine.scoring.sync import local_ioi_s, match_taps, summarize
from engine.scoring.timefile import read_times

FIXTURES = Path(__file__).parent / "fixtures"
MIR_EVAL = FIXTURES / "mir_eval_onset"
GROOVE = FIXTURES / "groove_midi"


def _summary_of_phases(phases_rad: np.ndarray, ioi_s: float = 1.0):
    """A metronome whose k-th tap sits at relative phase phases_rad[k] (radians in (−π, π))."""
    phases_rad = np.asarray(phases_rad, dtype=float)
    cues = 1.0 + ioi_s * np.arange(phases_rad.size)
    taps = cues + phases_rad / (2.0 * np.pi) * ioi_s
    matches = match_taps(cues, taps)
    assert all(m.tap_index == m.cue_index for m in matches)  # each tap stays with its cue
    return summarize(matches, len(taps), tap_s=taps)


def _angle_diff_deg(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


def _rayleigh_p_series(n: int, r: float) -> float:
    """Rayleigh p from the Greenwood–Durand expansion (Fisher 1993, eq. 4.37 form)."""
    z = n * r * r
    return math.exp(-z) * (1 + (2 * z - z * z) / (4 * n) - (24 * z - 132 * z**2 + 76 * z**3 - 9 * z**4) / (288 * n * n))


def _rayleigh_p_monte_carlo(n: int, r: float, rng, sims: int = 200_000) -> float:
    """P(R ≥ r) for n independent uniform phases, by simulation (first principles)."""
    theta = rng.uniform(-np.pi, np.pi, (sims, n))
    r_null = np.hypot(np.cos(theta).mean(axis=1), np.sin(theta).mean(axis=1))
    return float(np.mean(r_null >= r))


# --- circular statistics ------------------------------------------------------


@pytest.mark.parametrize(("n", "kappa", "loc", "seed"),
                         [(5, 1.0, 0.3, 1), (8, 0.5, -2.0, 2), (12, 0.8, 2.8, 3), (30, 0.3, -0.7, 4),
                          (50, 4.0, 0.1, 5), (200, 0.1, -3.0, 6)])
def test_random_phases_match_scipy_circular_statistics(n, kappa, loc, seed):
    rng = np.random.default_rng(seed)
    phases = np.clip(stats.vonmises.rvs(kappa, loc=loc, size=n, random_state=rng), -np.pi + 1e-6, np.pi - 1e-6)
    s = _summary_of_phases(phases)
    ref_r = stats.directional_stats(np.c_[np.cos(phases), np.sin(phases)]).mean_resultant_length
    assert s.vector_strength == pytest.approx(ref_r, abs=1e-12)
    assert s.vector_strength == pytest.approx(1.0 - stats.circvar(phases, high=np.pi, low=-np.pi), abs=1e-12)
    ref_mean = math.degrees(stats.circmean(phases, high=np.pi, low=-np.pi))
    assert _angle_diff_deg(s.mean_phase_deg, ref_mean) < 1e-9
    assert -180.0 < s.mean_phase_deg <= 180.0
    p_mc = _rayleigh_p_monte_carlo(n, s.vector_strength, rng)
    assert s.rayleigh_p == pytest.approx(p_mc, abs=0.01), (s.rayleigh_p, p_mc)
    if n >= 30:
        assert s.rayleigh_p == pytest.approx(_rayleigh_p_series(n, s.vector_strength), rel=0.005, abs=1e-6)


def test_rayleigh_p_better_than_plain_exp_minus_z_for_small_n():
    # For n = 5 the Monte Carlo p and exp(−nR²) differ by more than the tolerance
    # used above, so that test would catch the cruder formula.
    rng = np.random.default_rng(11)
    phases = np.array([-1.2, -0.3, 0.2, 0.9, 2.5])
    s = _summary_of_phases(phases)
    p_mc = _rayleigh_p_monte_carlo(5, s.vector_strength, rng)
    assert abs(math.exp(-5 * s.vector_strength**2) - p_mc) > 0.015
    assert s.rayleigh_p == pytest.approx(p_mc, abs=0.008)


@pytest.mark.parametrize("phase_deg", [-150.0, -36.0, 0.0, 12.5, 170.0])
def test_all_phases_equal(phase_deg):
    phases = np.full(20, math.radians(phase_deg))
    s = _summary_of_phases(phases)
    assert s.vector_strength == pytest.approx(1.0, abs=1e-12)
    assert stats.circvar(phases, high=np.pi, low=-np.pi) == pytest.approx(0.0, abs=1e-12)
    assert s.mean_phase_deg == pytest.approx(phase_deg, abs=1e-9)
    assert math.degrees(stats.circmean(phases, high=np.pi, low=-np.pi)) == pytest.approx(phase_deg, abs=1e-9)
    assert s.rayleigh_p < 1e-8


@pytest.mark.parametrize("n", [4, 12, 36])
def test_uniform_phases_have_r_zero_and_p_one(n):
    phases = -np.pi + (np.arange(n) + 0.5) * 2.0 * np.pi / n  # evenly spread round the circle
    s = _summary_of_phases(phases)
    assert s.vector_strength == pytest.approx(0.0, abs=1e-12)
    assert stats.circvar(phases, high=np.pi, low=-np.pi) == pytest.approx(1.0, abs=1e-12)
    assert s.rayleigh_p == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("phases", [-np.pi + (np.arange(12) + 0.5) * np.pi / 6,
                                    np.r_[np.full(10, -np.pi / 2), np.full(10, np.pi / 2)]],
                         ids=["uniform", "opposite-clusters"])
def test_mean_phase_is_none_when_r_is_zero(phases):
    s = _summary_of_phases(phases)
    assert s.vector_strength == pytest.approx(0.0, abs=1e-12)
    assert s.mean_phase_deg is None


@pytest.mark.parametrize(("a_deg", "n_a", "b_deg", "n_b"),
                         [(60.0, 10, -60.0, 10), (20.0, 15, -120.0, 5), (170.0, 6, -170.0, 6), (-90.0, 3, 45.0, 9)])
def test_two_clusters(a_deg, n_a, b_deg, n_b):
    phases = np.radians(np.r_[np.full(n_a, a_deg), np.full(n_b, b_deg)])
    s = _summary_of_phases(phases)
    ref_r = stats.directional_stats(np.c_[np.cos(phases), np.sin(phases)]).mean_resultant_length
    ref_mean = math.degrees(stats.circmean(phases, high=np.pi, low=-np.pi))
    assert s.vector_strength == pytest.approx(ref_r, abs=1e-12)
    assert _angle_diff_deg(s.mean_phase_deg, ref_mean) < 1e-9
    if n_a == n_b:  # symmetric clusters: R = |cos(half the angle between them)|, mean half-way
        assert s.vector_strength == pytest.approx(abs(math.cos(math.radians(a_deg - b_deg) / 2)), abs=1e-12)


# --- onset matching against mir_eval's fixtures -------------------------------

FIXTURE_IDS = sorted(p.stem[3:] for p in MIR_EVAL.glob("ref*.txt"))


def test_mir_eval_fixtures_are_all_there():
    assert FIXTURE_IDS == [f"{i:02d}" for i in range(10)]
    assert (MIR_EVAL / "LICENSE.txt").read_text().startswith("The MIT License")


@pytest.mark.parametrize("fid", FIXTURE_IDS)
def test_onset_f_measure_matches_mir_eval_fixtures(fid):
    ref = np.loadtxt(MIR_EVAL / f"ref{fid}.txt", comments="#", ndmin=1)
    est = np.loadtxt(MIR_EVAL / f"est{fid}.txt", comments="#", ndmin=1)
    expected = json.loads((MIR_EVAL / f"output{fid}.json").read_text())
    f, p, r = f_measure(ref, est, window_s=0.05)
    assert f == pytest.approx(expected["F-measure"], abs=1e-12)
    assert p == pytest.approx(expected["Precision"], abs=1e-12)
    assert r == pytest.approx(expected["Recall"], abs=1e-12)
    # The same files through tandem's own time-file reader give the same times.
    np.testing.assert_array_equal(read_times(MIR_EVAL / f"ref{fid}.txt", "reference"), ref)
    np.testing.assert_array_equal(read_times(MIR_EVAL / f"est{fid}.txt", "estimate"), est)


def test_f_measure_needs_a_maximum_matching_not_a_greedy_one():
    # Greedy (each reference takes its nearest free estimate) pairs 1.00 with
    # 1.04 and leaves 1.09 without partner; the maximum matching pairs both.
    ref, est = [1.00, 1.09], [0.96, 1.04]
    assert match_count(ref, est, 0.05) == 2
    assert f_measure(ref, est) == (1.0, 1.0, 1.0)
    assert f_measure([], [1.0]) == (0.0, 0.0, 0.0)
    assert f_measure([1.0], [2.0]) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError):
        f_measure([1.0], [1.0], window_s=0.0)


@settings(max_examples=200, deadline=None)
@given(ref=st.lists(st.integers(0, 400), max_size=30, unique=True),
       est=st.lists(st.integers(0, 400), max_size=30, unique=True))
def test_f_measure_equals_mir_eval_on_random_onsets(ref, est):
    ref_s, est_s = np.sort(np.array(ref) * 0.01), np.sort(np.array(est) * 0.01)  # many exact-window ties
    assume(ref_s.size and est_s.size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = mir_eval.onset.f_measure(ref_s, est_s, window=0.05)
    assert f_measure(ref_s, est_s, 0.05) == pytest.approx(expected, abs=1e-12)


# --- real drumming: Groove MIDI -----------------------------------------------

# (file, bpm in the file name). The fill drummer7_34_hiphop_100_fill_4-4.mid is
# left out: a 2.3 s fill of sixteenths has no steady beat to hold the tempo of.
GROOVE_BEATS = [("drummer6_3_rock_80_beat_6-8.mid", 80.0), ("drummer3_10_rock_105_beat_4-4.mid", 105.0)]


def _drum_onsets(notes, merge_s: float = 0.03) -> np.ndarray:
    """Strokes: note starts, a stroke within merge_s of the previous one is the same hit (flam/chord)."""
    out: list[float] = []
    for t in sorted(n.start_s for n in notes):
        if not out or t - out[-1] > merge_s:
            out.append(t)
    return np.array(out)


@pytest.mark.parametrize(("name", "bpm"), GROOVE_BEATS)
def test_groove_midi_against_its_click_grid(name, bpm):
    song = load_midi(GROOVE / name)
    assert song.tempo_bpm_initial == pytest.approx(bpm, abs=0.01)  # the file's tempo is the named one
    taps = _drum_onsets(song.notes)
    beat_s = 60.0 / song.tempo_bpm_initial
    cues = np.arange(0.0, song.duration_s, beat_s)  # the click the drummer played to, from t = 0
    matches = match_taps(cues, taps)
    s = summarize(matches, len(taps), tap_s=taps)
    assert s.scorable and s.missed == 0  # a drummer plays on every beat of a groove
    assert s.tempo_ratio == pytest.approx(1.0, abs=0.02)
    # Sensible for professional drummers on an e-kit against a click: mean
    # asynchrony within ±30 ms, SD 5–40 ms (these files: about +6/+16 ms and
    # 20/25 ms); nearly all beats within ±80 ms; strongly phase-locked.
    assert -30.0 < s.asynchrony_mean_ms < 30.0
    assert 5.0 < s.asynchrony_sd_ms < 40.0
    assert s.within_window_pct >= 90.0
    assert s.vector_strength > 0.9 and s.rayleigh_p < 1e-6
    # Against a click only 1 % too slow the same strokes fail these ranges (SD
    # about 60-77 ms, 52-80 % within ±80 ms). The tempo ratio does not show it:
    # with several strokes per beat each cue finds one near it, so for dense
    # playing the ratio is ≈ 1 whatever the grid; it is meaningful for one tap per beat.
    slow = summarize(match_taps(cues * 1.01, taps), len(taps), tap_s=taps)
    assert slow.asynchrony_sd_ms > 40.0 and slow.within_window_pct < 90.0


# --- properties ---------------------------------------------------------------

TICK_S = 1.0 / 1024.0


@st.composite
def runs(draw):
    iois = draw(st.lists(st.integers(200, 1200), min_size=1, max_size=20))
    first = draw(st.integers(0, 5000))
    cue_ticks = np.concatenate([[first], first + np.cumsum(iois, dtype=np.int64)])
    taps = draw(st.lists(st.integers(first - 800, int(cue_ticks[-1]) + 800), max_size=30, unique=True))
    return cue_ticks * TICK_S, np.array(taps, dtype=float) * TICK_S


def _by_time(matches):
    return [(m.cue_s, m.tap_s, m.asynchrony_ms) for m in matches]


@settings(max_examples=300, deadline=None)
@given(run=runs(), data=st.data())
def test_permuting_the_taps_changes_nothing(run, data):
    # Times on a 1/1024 s grid make exact ties (a tap equally near two cues, two
    # taps equally near one cue) common: even then the order of the input must
    # not decide which tap a cue gets.
    cues, taps = run
    perm = np.array(data.draw(st.permutations(range(taps.size))), dtype=np.intp)
    a = match_taps(cues, taps)
    b = match_taps(cues, taps[perm])
    assert _by_time(a) == _by_time(b)
    for m in b:
        if m.matched:
            assert taps[perm][m.tap_index] == m.tap_s
    sa = summarize(a, len(taps), tap_s=taps, warmup=1).to_dict()
    sb = summarize(b, len(taps), tap_s=taps[perm], warmup=1).to_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        if isinstance(sa[k], float):
            assert sb[k] == pytest.approx(sa[k], rel=1e-12, abs=1e-12), k
        else:
            assert sb[k] == sa[k], k


@settings(max_examples=200, deadline=None)
@given(run=runs())
def test_a_tap_far_from_every_cue_is_one_more_extra(run):
    cues, taps = run
    half = 0.5 * local_ioi_s(cues)
    lo, hi = cues[0] - half[0], cues[-1] + half[-1]
    grid = np.arange(math.ceil(lo / TICK_S), math.floor(hi / TICK_S) + 1) * TICK_S
    outside = np.all(np.abs(grid[:, None] - cues[None, :]) > half[None, :] + 1e-9, axis=1)
    free = grid[outside & ~np.isin(grid, taps)]
    assume(free.size)  # a gap between windows (they do not tile when the tempo changes)
    far = free[free.size // 2]
    before = match_taps(cues, taps)
    after = match_taps(cues, np.append(taps, far))
    assert [(m.tap_index, m.asynchrony_ms) for m in before] == [(m.tap_index, m.asynchrony_ms) for m in after]
    s0 = summarize(before, len(taps), tap_s=taps).to_dict()
    s1 = summarize(after, len(taps) + 1, tap_s=np.append(taps, far)).to_dict()
    assert s1.pop("extra") == s0.pop("extra") + 1
    assert s1.pop("n_taps") == s0.pop("n_taps") + 1
    reason0, reason1 = s0.pop("reason"), s1.pop("reason")
    scorable0, scorable1 = s0.pop("scorable"), s1.pop("scorable")
    assert s0 == s1
    assert scorable1 >= scorable0 and (reason1 is None or reason1 == reason0 or not scorable0)


@settings(max_examples=150, deadline=None)
@given(ioi_ticks=st.lists(st.integers(300, 1000), min_size=3, max_size=20),
       offsets=st.data(), shift=st.integers(-40, 40))
def test_shifting_the_taps_shifts_the_mean_and_keeps_the_sd(ioi_ticks, offsets, shift):
    cues = np.concatenate([[0], np.cumsum(ioi_ticks)]) * TICK_S
    off = np.array(offsets.draw(st.lists(st.integers(-60, 60), min_size=cues.size, max_size=cues.size))) * TICK_S
    taps = cues + off  # |offset| + |shift| < 100 ticks < a quarter of the shortest IOI: same pairs
    base = summarize(match_taps(cues, taps), len(taps), tap_s=taps)
    moved = summarize(match_taps(cues, taps + shift * TICK_S), len(taps), tap_s=taps + shift * TICK_S)
    assert moved.matched == base.matched == cues.size
    assert moved.asynchrony_mean_ms == pytest.approx(base.asynchrony_mean_ms + shift * TICK_S * 1000, abs=1e-9)
    assert moved.asynchrony_sd_ms == pytest.approx(base.asynchrony_sd_ms, abs=1e-9)


# --- synchronisation–continuation ---------------------------------------------


def test_continuation_steady_tapper():
    cues = 0.5 * np.arange(8)  # 500 ms, last cue at 3.5 s
    sync_taps = cues - 0.02
    cont = 3.5 + 0.52 * np.arange(1, 11)  # 10 taps, 520 ms apart, after the cues stop
    r = score_continuation(cues, np.r_[sync_taps, cont])
    assert r.paced_ioi_ms == pytest.approx(500.0)
    assert r.continuation_start_s == pytest.approx(3.75)
    assert r.n_taps == 10 and r.n_intervals == 9
    assert r.iti_mean_ms == pytest.approx(520.0)
    assert r.iti_sd_ms == pytest.approx(0.0, abs=1e-9) and r.iti_cv == pytest.approx(0.0, abs=1e-12)
    assert r.tempo_ratio == pytest.approx(1.04)
    assert r.drift_ms_per_interval == pytest.approx(0.0, abs=1e-9)
    assert r.lag1_autocorrelation is None  # no variance, no correlation
    assert r.scorable and r.reason is None and r.irregular == 0
    json.dumps(r.to_dict(), allow_nan=False)


def test_continuation_drift_hand_worked():
    # ITIs 600, 610, 620, 630, 640 ms: slope 10 ms per interval = 2 % of the 500 ms paced IOI.
    cues = [0.0, 0.5, 1.0, 1.5]
    taps = 2.0 + np.cumsum([0.0, 0.6, 0.61, 0.62, 0.63, 0.64])
    r = score_continuation(cues, taps)
    assert r.n_intervals == 5
    itis = np.array([600.0, 610.0, 620.0, 630.0, 640.0])
    assert r.iti_mean_ms == pytest.approx(620.0)
    assert r.iti_sd_ms == pytest.approx(itis.std(ddof=1))
    assert r.iti_cv == pytest.approx(itis.std(ddof=1) / 620.0)
    assert r.drift_ms_per_interval == pytest.approx(10.0)
    assert r.drift_pct_per_interval == pytest.approx(2.0)
    assert r.tempo_ratio == pytest.approx(1.24)
    assert r.irregular == 0
    # Speeding up is negative drift.
    fast = score_continuation(cues, 2.0 + np.cumsum([0.0, 0.5, 0.49, 0.48, 0.47, 0.46]))
    assert fast.drift_ms_per_interval == pytest.approx(-10.0)


def test_continuation_paced_ioi_is_the_final_tempo():
    cues = np.r_[0.6 * np.arange(6), 3.0 + 0.4 * np.arange(1, 6)]  # 600 ms then 400 ms; last cue 5.0 s
    r = score_continuation(cues, 5.0 + 0.4 * np.arange(1, 8))
    assert r.paced_ioi_ms == pytest.approx(400.0)
    assert r.tempo_ratio == pytest.approx(1.0)
    assert score_continuation(cues, 5.0 + 0.4 * np.arange(1, 8), reference_intervals=10).paced_ioi_ms == \
        pytest.approx((5.0 - 0.0) / 10 * 1000)


def test_continuation_wing_kristofferson_recovers_clock_and_motor_variance():
    # Simulated two-level timer: ITI_j = C_j + M_{j+1} − M_j, clock SD 20 ms, motor SD 10 ms.
    rng = np.random.default_rng(1973)
    n = 20000
    clock = rng.normal(500.0, 20.0, n)
    motor = rng.normal(0.0, 10.0, n + 1)
    onsets = 10.0 + np.cumsum(np.r_[0.0, clock]) / 1000.0 + motor / 1000.0
    r = score_continuation([8.0, 8.5, 9.0, 9.5], onsets)
    assert r.n_intervals == n
    assert r.wk_clock_sd_ms == pytest.approx(20.0, rel=0.05)
    assert r.wk_motor_sd_ms == pytest.approx(10.0, rel=0.05)
    # Theory: lag-1 autocorrelation = −σM² / (σC² + 2σM²) = −100 / 600.
    assert r.lag1_autocorrelation == pytest.approx(-1 / 6, abs=0.02)
    assert r.drift_ms_per_interval == pytest.approx(0.0, abs=0.01)


def test_continuation_wk_is_none_when_the_model_does_not_fit():
    # Alternating long/short ITIs: lag-1 autocorrelation near −1, outside the model's [−0.5, 0].
    taps = 2.0 + np.cumsum(np.r_[0.0, np.tile([0.4, 0.6], 6)])
    r = score_continuation([0.0, 0.5, 1.0, 1.5], taps)
    assert r.lag1_autocorrelation < -0.5
    assert r.wk_clock_sd_ms is None and r.wk_motor_sd_ms is None
    assert r.scorable and r.iti_mean_ms == pytest.approx(500.0)


def test_continuation_pauses_and_double_taps_are_counted_not_removed():
    taps = 2.0 + np.cumsum([0.0, 0.5, 0.5, 1.0, 0.5, 0.1, 0.4])  # a skipped beat and a double tap
    r = score_continuation([0.0, 0.5, 1.0, 1.5], taps)
    assert r.irregular == 2  # 1000 ms and 100 ms
    assert r.iti_mean_ms == pytest.approx(3000.0 / 6)


def test_continuation_too_few_taps_says_why_and_gives_no_numbers():
    cues = [0.0, 0.5, 1.0, 1.5]
    taps = [1.49, 1.7, 2.0, 2.5, 3.0]  # 1.49 and 1.7 belong to the last cue (within 250 ms)
    r = score_continuation(cues, taps)
    assert r.n_taps == 3 and not r.scorable
    assert r.reason == ("Only 3 taps came after the cues stopped, giving 2 intervals; at least "
                        f"{MIN_CONTINUATION_TAPS} taps are needed to score the continuation.")
    assert all(getattr(r, k) is None for k in ("iti_mean_ms", "iti_sd_ms", "iti_cv", "drift_ms_per_interval",
                                               "tempo_ratio", "wk_clock_sd_ms"))
    assert score_continuation(cues, taps, min_taps=3).scorable
    one_cue = score_continuation([1.0], [2.0, 3.0, 4.0])
    assert not one_cue.scorable and "at least 2 are needed" in one_cue.reason
    skipped = score_continuation(cues, 2.0 + 0.5 * np.arange(6), skip_intervals=4)
    assert not skipped.scorable and "(4 skipped)" in skipped.reason
    json.dumps(r.to_dict(), allow_nan=False)


def test_continuation_skip_intervals_drops_the_transition():
    taps = 2.0 + np.cumsum([0.0, 0.8, 0.5, 0.5, 0.5, 0.5, 0.5])
    assert score_continuation([0.0, 0.5, 1.0, 1.5], taps).iti_mean_ms == pytest.approx(550.0)
    assert score_continuation([0.0, 0.5, 1.0, 1.5], taps, skip_intervals=1).iti_mean_ms == pytest.approx(500.0)


@pytest.mark.parametrize(("cues", "taps", "kw"), [
    ([0.0, 0.5, 0.5], [2.0], {}),
    ([0.0, math.nan], [2.0], {}),
    ([0.0, 0.5], [2.0, 2.0, 3.0], {}),
    ([0.0, 0.5], [2.0, math.inf], {}),
    ([0.0, 0.5], [2.0], {"min_taps": 2}),
    ([0.0, 0.5], [2.0], {"skip_intervals": -1}),
    ([0.0, 0.5], [2.0], {"reference_intervals": 0}),
])
def test_continuation_rejects_bad_input(cues, taps, kw):
    with pytest.raises(ValueError):
        score_continuation(cues, taps, **kw)


@settings(max_examples=100, deadline=None)
@given(itis=st.lists(st.integers(200, 1500), min_size=MIN_CONTINUATION_TAPS - 1, max_size=30),
       data=st.data())
def test_continuation_ignores_tap_order(itis, data):
    taps = 2.0 + np.cumsum(np.r_[0, itis]) * TICK_S * 4
    perm = data.draw(st.permutations(range(taps.size)))
    a = score_continuation([0.0, 0.5, 1.0, 1.5], taps).to_dict()
    b = score_continuation([0.0, 0.5, 1.0, 1.5], taps[list(perm)]).to_dict()
    assert a == b
    assert a["scorable"] and a["iti_mean_ms"] == pytest.approx(np.mean(itis) * TICK_S * 4000)


def test_a_tap_equally_near_a_cue_on_both_sides_goes_the_same_way_in_any_order():
    # Found by the property test above: taps 21.484375 ms either side of the cue at
    # 0.2197265625 s (exact in binary), with a second cue competing for the later one.
    cues = np.array([0.2197265625, 0.4150390625, 0.9111328125])
    taps = np.array([0.0, 0.0009765625, -0.0009765625, 0.2421875, 0.1982421875, 0.2412109375])
    a = match_taps(cues, taps)
    b = match_taps(cues, taps[[0, 1, 2, 3, 5, 4]])
    assert _by_time(a) == _by_time(b)
    assert a[0].tap_s == 0.1982421875  # the earlier of the two
