"""Tests of engine.scoring.sync on signals whose answer is known, and on real taps.

The real-data test uses tests/fixtures/tapping_baath_madison_2012_subset.csv,
a few trials of Bååth & Madison (2012), MIT licence (see
tests/fixtures/LICENSE-tapping-baath-madison-2012.txt).
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import csr_array
from scipy.sparse.csgraph import maximum_bipartite_matching

from engine.scoring.sync import CueMatch, SyncSummary, local_ioi_s, match_taps, summarize

FIXTURE = Path(__file__).parent / "fixtures" / "tapping_baath_madison_2012_subset.csv"


def metronome(n: int, ioi_s: float = 0.6, start_s: float = 1.0) -> np.ndarray:
    return start_s + ioi_s * np.arange(n)


def score(cues, taps, **kw) -> tuple[list[CueMatch], SyncSummary]:
    matches = match_taps(cues, taps)
    return matches, summarize(matches, len(taps), tap_s=taps, **kw)


# --- matching -----------------------------------------------------------------


def test_known_offsets_give_exactly_those_asynchronies():
    cues = metronome(8)
    offsets_ms = np.array([-30.0, -10.0, 0.0, 15.0, -45.0, 120.0, -250.0, 5.0])
    taps = cues + offsets_ms / 1000.0
    matches, summary = score(cues, taps)
    assert [m.tap_index for m in matches] == list(range(8))
    got = np.array([m.asynchrony_ms for m in matches])
    np.testing.assert_allclose(got, offsets_ms, rtol=0, atol=1e-9)
    assert summary.asynchrony_mean_ms == pytest.approx(offsets_ms.mean(), abs=1e-9)
    assert summary.asynchrony_sd_ms == pytest.approx(offsets_ms.std(ddof=1), abs=1e-9)
    assert summary.missed == 0 and summary.extra == 0 and summary.matched == 8


def test_missing_taps_are_missed_cues():
    cues = metronome(10)
    taps = np.delete(cues - 0.02, [3, 7])
    matches, summary = score(cues, taps)
    assert [m.cue_index for m in matches if not m.matched] == [3, 7]
    assert all(m.tap_s is None and m.asynchrony_ms is None for m in matches if not m.matched)
    assert summary.missed == 2 and summary.matched == 8 and summary.extra == 0
    assert summary.within_window_pct == pytest.approx(80.0)


def test_double_tap_nearer_is_matched_other_is_extra():
    cues = metronome(6)
    taps = list(cues - 0.01)
    taps.insert(3, cues[2] + 0.09)  # rebound 100 ms after the tap for cue 2
    matches, summary = score(cues, taps)
    assert matches[2].tap_index == 2
    assert matches[2].asynchrony_ms == pytest.approx(-10.0, abs=1e-9)
    assert 3 not in {m.tap_index for m in matches}
    assert summary.extra == 1 and summary.missed == 0 and summary.n_taps == 7


def test_double_tap_where_the_second_is_nearer():
    cues = metronome(4)
    taps = [cues[0], cues[1] - 0.08, cues[1] + 0.01, cues[2], cues[3]]
    matches, summary = score(cues, taps)
    assert matches[1].tap_index == 2
    assert summary.extra == 1


def test_tempo_change_uses_local_ioi():
    # 8 cues 600 ms apart, then 8 cues 400 ms apart.
    cues = np.concatenate([metronome(8, 0.6), metronome(8, 0.4, start_s=1.0 + 0.6 * 7 + 0.4)])
    half = 0.5 * local_ioi_s(cues)
    assert half[0] == pytest.approx(0.3) and half[-1] == pytest.approx(0.2)
    assert half[7] == pytest.approx(0.25)  # the cue at the change: mean of 600 and 400
    offsets_ms = np.tile([-20.0, 10.0, -5.0, 30.0], 4)
    taps = cues + offsets_ms / 1000.0
    matches, summary = score(cues, taps)
    np.testing.assert_allclose([m.asynchrony_ms for m in matches], offsets_ms, atol=1e-9)
    assert summary.tempo_ratio == pytest.approx(1.0, abs=0.02)
    # In the fast part a tap 210 ms early lies outside that cue's ±200 ms window
    # (a global 600 ms IOI would have taken it): the cue is missed, the tap is extra.
    taps[12] = cues[12] - 0.21
    matches, summary = score(cues, taps)
    assert not matches[12].matched
    assert summary.missed == 1 and summary.extra == 1


def _greedy(cues, taps, half):
    """Each cue in turn takes its nearest free tap inside its window."""
    used, out = set(), []
    for c, h in zip(cues, half):
        free = [(abs(t - c), j) for j, t in enumerate(taps) if j not in used and abs(t - c) <= h]
        if free:
            j = min(free)[1]
            used.add(j)
            out.append(j)
        else:
            out.append(None)
    return out


def test_conflict_resolved_optimally_not_greedily():
    # Cue 1 (1.0 s, window ±0.375) and cue 2 (1.5 s, window ±0.625) overlap.
    # The tap at 1.2 s is nearest to cue 1, but only cue 2 can use it if cue 1
    # takes the tap at 0.7 s, which no other cue can use.
    cues = [0.0, 1.0, 1.5, 3.5]
    taps = [1.2, 0.7]
    half = 0.5 * local_ioi_s(cues)
    assert _greedy(cues, taps, half) == [None, 0, None, None]  # greedy: one match
    matches, summary = score(cues, taps)
    assert [m.tap_index for m in matches] == [None, 1, 0, None]
    assert summary.matched == 2 and summary.extra == 0


def test_single_cue_uses_max_window():
    assert match_taps([2.0], [2.4])[0].tap_index == 0
    assert match_taps([2.0], [2.6])[0].tap_index is None
    assert match_taps([2.0], [2.6], max_window_s=0.7)[0].asynchrony_ms == pytest.approx(600.0)


def test_empty_inputs():
    assert match_taps([], [1.0]) == []
    assert [m.matched for m in match_taps([0.0, 0.5], [])] == [False, False]
    summary = summarize([], 0)
    assert not summary.scorable and summary.n_cues == 0


@pytest.mark.parametrize(
    ("cues", "taps"),
    [([0.0, 0.5, 0.5], [0.1]), ([0.0, 1.0, 0.5], [0.1]), ([0.0, math.nan], [0.1]), ([0.0, 1.0], [math.inf])],
)
def test_bad_times_are_rejected(cues, taps):
    with pytest.raises(ValueError):
        match_taps(cues, taps)


# --- summary ------------------------------------------------------------------


def test_constant_asynchrony_has_vector_strength_one():
    cues = metronome(20, 0.5)
    matches, summary = score(cues, cues - 0.05)
    assert summary.vector_strength == pytest.approx(1.0, abs=1e-12)
    assert summary.mean_phase_deg == pytest.approx(-36.0)  # -50 ms of 500 ms
    assert summary.asynchrony_sd_ms == pytest.approx(0.0, abs=1e-9)
    assert summary.rayleigh_p < 1e-8
    assert summary.iti_cv == pytest.approx(0.0, abs=1e-9)
    assert summary.tempo_ratio == pytest.approx(1.0)
    assert summary.scorable and summary.reason is None


def test_uniform_random_phases_have_vector_strength_near_zero():
    rng = np.random.default_rng(20121)
    n = 2000
    cues = metronome(n, 0.5)
    taps = cues + rng.uniform(-0.249, 0.249, n)
    _, summary = score(cues, taps)
    assert summary.matched == n
    # E[R] ≈ sqrt(pi / 4n) ≈ 0.02 for uniform phases; 4/sqrt(n) is far out in the tail.
    assert summary.vector_strength < 4.0 / math.sqrt(n)
    assert summary.rayleigh_p > 0.01


def test_rayleigh_p_small_for_clustered_large_for_spread():
    rng = np.random.default_rng(7)
    cues = metronome(30, 0.6)
    _, clustered = score(cues, cues + rng.normal(-0.03, 0.03, 30))
    _, spread = score(cues, cues + rng.uniform(-0.3, 0.3, 30))
    assert clustered.rayleigh_p < 1e-6
    assert spread.rayleigh_p > clustered.rayleigh_p * 1e6


def test_rayleigh_p_matches_exp_minus_z_for_large_n():
    # For large n, p -> exp(-Z) with Z = n R^2 (Zar 1999, 27.4). Phases 0 and a
    # (half the taps each) give R = |cos(a/2)|; pick a so that Z = 2.
    n = 400
    r = math.sqrt(2.0 / n)
    a = 2.0 * math.acos(r)  # radians
    ioi = 1.0
    cues = metronome(n, ioi)
    offsets = np.where(np.arange(n) % 2 == 0, 0.0, a / (2 * math.pi) * ioi)
    offsets[offsets > 0.5] -= 1.0  # stay within ±½ IOI
    _, summary = score(cues, cues + offsets)
    assert summary.vector_strength == pytest.approx(r, rel=1e-6)
    assert summary.rayleigh_p == pytest.approx(math.exp(-2.0), rel=0.01)


def test_iti_cv_and_tempo_ratio_use_consecutive_matched_taps_only():
    cues = metronome(9, 0.5)
    taps = cues + np.tile([0.0, 0.02], 5)[:9]
    taps = np.delete(taps, 4)  # a missed beat must not make a 1 s interval
    _, summary = score(cues, taps)
    itis = np.array([0.52, 0.48, 0.52, 0.48, 0.52, 0.48])  # pairs 0-1,1-2,2-3, 5-6,6-7,7-8
    assert summary.iti_cv == pytest.approx(itis.std(ddof=1) / itis.mean(), rel=1e-9)
    assert summary.tempo_ratio == pytest.approx(1.0, rel=1e-9)


def test_tempo_ratio_of_a_slower_child():
    cues = metronome(10, 0.5)
    taps = cues[0] + 0.55 * np.arange(10) - 0.2  # drifts from 200 ms early to 250 ms late
    matches, summary = score(cues, taps)
    assert summary.matched == 10
    assert summary.tempo_ratio == pytest.approx(1.1)


def test_within_window_counts_missed_as_not_within():
    cues = metronome(6)
    offsets_ms = [-100.0, -50.0, 0.0, 79.0, 81.0]
    taps = cues[:5] + np.array(offsets_ms) / 1000.0
    _, summary = score(cues, taps, window_ms=80.0)
    assert summary.within_window_pct == pytest.approx(100.0 * 3 / 6)
    _, strict = score(cues, taps, window_ms=15.0)
    assert strict.within_window_pct == pytest.approx(100.0 / 6)


def test_warmup_cues_and_their_taps_are_not_scored():
    cues = metronome(10)
    taps = list(cues + 0.01)
    taps[0] = cues[0] + 0.2  # a late first tap during warm-up
    taps.insert(1, cues[0] + 0.25)  # and an extra tap during warm-up
    _, summary = score(cues, taps, warmup=2)
    assert summary.n_cues == 8 and summary.matched == 8
    assert summary.extra == 0 and summary.n_taps == 8
    assert summary.asynchrony_mean_ms == pytest.approx(10.0)
    _, all_cues = score(cues, taps)
    assert all_cues.extra == 1


def test_without_tap_times_every_unmatched_tap_is_extra():
    cues = metronome(6)
    taps = [*cues - 0.01, cues[-1] + 5.0]  # one tap long after the run
    matches = match_taps(cues, taps)
    assert summarize(matches, len(taps)).extra == 1
    assert summarize(matches, len(taps), tap_s=taps).extra == 0


def test_too_few_matched_taps_is_not_scorable_and_says_why():
    cues = metronome(10)
    _, summary = score(cues, cues[:2] - 0.02)
    assert not summary.scorable
    assert summary.reason == "Only 2 of 10 cues were matched to a tap; at least 3 are needed to score timing."
    assert summary.iti_cv is None  # one interval has no SD
    text = json.dumps(summary.to_dict(), allow_nan=False)  # None, never NaN
    assert '"iti_cv": null' in text


def test_taps_fewer_than_half_the_cues_is_not_scorable():
    cues = metronome(10)
    _, summary = score(cues, cues[:4])
    assert summary.matched == 4 and not summary.scorable
    assert "fewer than half" in summary.reason
    _, ok = score(cues, cues[:5])
    assert ok.scorable


def test_one_matched_tap_gives_none_not_nan():
    cues = metronome(4)
    _, summary = score(cues, [cues[1]])
    d = summary.to_dict()
    assert d["asynchrony_sd_ms"] is None and d["rayleigh_p"] is None and d["tempo_ratio"] is None
    assert d["asynchrony_mean_ms"] == 0.0
    assert "1 of 4 cues was matched" in d["reason"]
    json.dumps(d, allow_nan=False)


def test_summary_rejects_bad_arguments():
    matches = match_taps([0.0, 1.0], [0.0])
    with pytest.raises(ValueError):
        summarize(matches, 2, tap_s=[0.0])
    with pytest.raises(ValueError):
        summarize(matches, 1, warmup=-1)
    with pytest.raises(ValueError):
        summarize(matches, 1, window_ms=0.0)


# --- properties ---------------------------------------------------------------

# Times on a grid of 1/1024 s: sums and differences are exact in binary floating
# point, so shifting a whole run changes nothing, not even the last bit.
TICK_S = 1.0 / 1024.0


@st.composite
def runs(draw):
    iois = draw(st.lists(st.integers(200, 1200), min_size=0, max_size=24))
    first = draw(st.integers(-5000, 5000))
    cue_ticks = np.concatenate([[first], first + np.cumsum(iois, dtype=np.int64)])
    tap_ticks = draw(st.lists(st.integers(int(cue_ticks[0]) - 800, int(cue_ticks[-1]) + 800), max_size=40))
    return cue_ticks * TICK_S, np.array(tap_ticks, dtype=float) * TICK_S


@settings(max_examples=150, deadline=None)
@given(run=runs(), shift=st.integers(-10**6, 10**6))
def test_shifting_everything_changes_nothing(run, shift):
    cues, taps = run
    matches = match_taps(cues, taps)
    shifted = match_taps(cues + shift * TICK_S, taps + shift * TICK_S)
    assert [(m.tap_index, m.asynchrony_ms) for m in matches] == [
        (m.tap_index, m.asynchrony_ms) for m in shifted
    ]
    a = summarize(matches, len(taps), tap_s=taps, warmup=1).to_dict()
    b = summarize(shifted, len(taps), tap_s=taps + shift * TICK_S, warmup=1).to_dict()
    assert a == b


@settings(max_examples=150, deadline=None)
@given(run=runs())
def test_matching_invariants(run):
    cues, taps = run
    matches = match_taps(cues, taps)
    half = 0.5 * local_ioi_s(cues)
    used = [m.tap_index for m in matches if m.matched]
    assert len(used) == len(set(used))  # each tap serves at most one cue
    for m in matches:
        if m.matched:
            assert abs(m.tap_s - m.cue_s) <= half[m.cue_index]
            assert m.tap_s == taps[m.tap_index]
    # As many cues matched as any one-to-one matching inside the windows allows.
    if len(cues) and len(taps):
        allowed = np.abs(taps[None, :] - cues[:, None]) <= half[:, None]
        best = maximum_bipartite_matching(csr_array(allowed.astype(np.int8)), perm_type="column")
        assert len(used) == int(np.count_nonzero(best >= 0))
    summary = summarize(matches, len(taps), tap_s=taps)
    assert summary.matched + summary.missed == summary.n_cues == len(cues)
    assert summary.extra <= summary.n_taps <= len(taps)
    for value in summary.to_dict().values():
        assert not (isinstance(value, float) and math.isnan(value))


# --- real taps ----------------------------------------------------------------


def _fixture_trials() -> dict[tuple[int, int], tuple[int, list[float]]]:
    trials: dict[tuple[int, int], tuple[int, list[float]]] = {}
    with FIXTURE.open(newline="") as f:
        for row in csv.DictReader(f):
            key = (int(row["subject"]), int(row["trial"]))
            isi, asyn = trials.setdefault(key, (int(row["isi"]), []))
            assert isi == int(row["isi"])
            asyn.append(float(row["asynch"]))
    return trials


def test_real_taps_baath_madison_2012():
    trials = _fixture_trials()
    assert {isi for isi, _ in trials.values()} == {600, 1200}
    by_isi = defaultdict(list)
    for (subject, trial), (isi_ms, asyn_ms) in trials.items():
        k = np.arange(len(asyn_ms))
        cues = k * isi_ms / 1000.0
        taps = (k * isi_ms + np.array(asyn_ms)) / 1000.0  # tap = k·isi + asynch
        matches = match_taps(cues, taps)
        summary = summarize(matches, len(taps), tap_s=taps)
        matched = [m for m in matches if m.matched]
        assert all(m.tap_index == m.cue_index for m in matched)  # each tap finds its own click
        expected = np.mean([asyn_ms[m.tap_index] for m in matched])
        assert summary.asynchrony_mean_ms == pytest.approx(expected, abs=1e-9)
        assert summary.scorable and summary.tempo_ratio == pytest.approx(1.0, abs=0.02)
        by_isi[isi_ms].append(summary.asynchrony_mean_ms)
    # Negative mean asynchrony, as the paper reports, at both tempi.
    for isi_ms, means in by_isi.items():
        assert np.mean(means) < 0, isi_ms
