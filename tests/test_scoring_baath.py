"""Synchronisation scoring reproduces real tapping data exactly, at all five ISIs.

Fixture: tests/fixtures/tapping_baath_madison_2012_isis_subset.csv, every row
of subjects 1, 12 and 30 of Bååth & Madison (2012) (4 trials at each ISI of
600, 1200, 1800, 2400 and 3000 ms), MIT licence (see
tests/fixtures/LICENSE-tapping-baath-madison-2012.txt). The full set is
scored by ``benchmarks/scoring.py``.

The data have no click times: the k-th row of a trial (k = 0, 1, …) is
rebuilt as cue ``k·ISI`` and tap ``k·ISI + asynch``. A tap is a candidate for
cue k only if ``|tap − cue| <= ISI/2`` (inclusive), so with the rebuilt grid
a tap is unmatched exactly when ``|asynch| > ISI/2`` (none in the data), and a
tap at exactly ``±ISI/2`` (subject 12, trial 17, tap 0: +300 ms at 600 ms)
is matched to its own cue.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from engine.scoring.sync import match_taps, summarize

FIXTURE = Path(__file__).parent / "fixtures" / "tapping_baath_madison_2012_isis_subset.csv"
ISIS = {600, 1200, 1800, 2400, 3000}


def _trials() -> dict[tuple[int, int], tuple[int, list[int]]]:
    trials: dict[tuple[int, int], tuple[int, list[int]]] = {}
    with FIXTURE.open(newline="") as f:
        for row in csv.DictReader(f):
            key = (int(row["subject"]), int(row["trial"]))
            isi, asyn = trials.setdefault(key, (int(row["isi"]), []))
            assert isi == int(row["isi"])
            asyn.append(int(row["asynch"]))
    return trials


def _score(isi_ms: int, asyn_ms) -> tuple[list, object, np.ndarray]:
    a = np.asarray(asyn_ms, dtype=float)
    k = np.arange(a.size)
    cues = k * isi_ms / 1000.0
    taps = (k * isi_ms + a) / 1000.0  # tap = k·isi + asynch
    matches = match_taps(cues, taps)
    return matches, summarize(matches, len(taps), tap_s=taps), a


def _pooled(parts):
    """Count, mean and sample SD of the union of groups given as (n, mean, sd)."""
    n = sum(p[0] for p in parts)
    mean = sum(p[0] * p[1] for p in parts) / n
    ss = sum((p[0] - 1) * p[2] ** 2 + p[0] * (p[1] - mean) ** 2 for p in parts)
    return n, mean, math.sqrt(ss / (n - 1))


def test_fixture_covers_all_isis():
    trials = _trials()
    per = defaultdict(int)
    for (subject, _), (isi, _) in trials.items():
        per[(subject, isi)] += 1
    assert {s for s, _ in per} == {1, 12, 30}
    assert {i for _, i in per} == ISIS
    assert set(per.values()) == {4}


def test_each_subject_and_isi_mean_and_sd_reproduced_exactly():
    groups = defaultdict(list)  # (subject, isi) → [(summary, matched asynchronies)]
    boundary = 0
    for (subject, trial), (isi, asyn) in _trials().items():
        matches, summary, a = _score(isi, asyn)
        matched = [m for m in matches if m.matched]
        unmatched = sorted(set(range(a.size)) - {m.tap_index for m in matched})
        # The exact rule: unmatched ⟺ |asynch| > ISI/2 (the window is inclusive).
        assert unmatched == np.flatnonzero(2 * np.abs(a) > isi).tolist(), (subject, trial)
        assert all(m.tap_index == m.cue_index for m in matched), (subject, trial)
        on_edge = np.flatnonzero(2 * np.abs(a) == isi)
        assert set(on_edge.tolist()) <= {m.tap_index for m in matched}
        boundary += on_edge.size
        direct = a[[m.tap_index for m in matched]]
        np.testing.assert_allclose([m.asynchrony_ms for m in matched], direct, rtol=0, atol=1e-9)
        assert summary.scorable, (subject, trial, summary.reason)
        assert summary.asynchrony_mean_ms == pytest.approx(direct.mean(), abs=1e-9)
        assert summary.asynchrony_sd_ms == pytest.approx(direct.std(ddof=1), abs=1e-9)
        groups[(subject, isi)].append((summary, direct))
    assert boundary == 1  # subject 12, trial 17: the boundary case is exercised

    by_isi = defaultdict(list)
    for (subject, isi), rs in groups.items():
        n, mean, sd = _pooled([(s.matched, s.asynchrony_mean_ms, s.asynchrony_sd_ms) for s, _ in rs])
        direct = np.concatenate([d for _, d in rs])
        assert n == direct.size
        assert mean == pytest.approx(direct.mean(), abs=1e-9), (subject, isi)
        assert sd == pytest.approx(direct.std(ddof=1), abs=1e-9), (subject, isi)
        by_isi[isi].append((n, mean, sd, direct))
    means = {}
    for isi, parts in by_isi.items():
        n, mean, sd = _pooled([p[:3] for p in parts])
        direct = np.concatenate([p[3] for p in parts])
        assert mean == pytest.approx(direct.mean(), abs=1e-9)
        assert sd == pytest.approx(direct.std(ddof=1), abs=1e-9)
        means[isi] = mean
    # Negative mean asynchrony at every ISI, most negative at the slowest beat, as published.
    assert all(m < 0 for m in means.values())
    assert means[3000] < means[600]


def test_half_isi_boundary_is_inclusive():
    # A real trial (subject 1, trial 1, ISI 2400 ms) with one mid-trial tap moved to the window's edge.
    isi, asyn = _trials()[(1, 1)]
    assert isi == 2400
    asyn = list(asyn)
    k = len(asyn) // 2
    assert max(abs(x) for x in asyn[k - 1:k + 2]) < isi / 2 - 1
    for a_k, unmatched in ((isi // 2, []), (-isi // 2, []), (isi // 2 + 1, [k]), (-isi // 2 - 1, [k])):
        asyn[k] = a_k
        matches, summary, _ = _score(isi, asyn)
        got = sorted(set(range(len(asyn))) - {m.tap_index for m in matches if m.matched})
        assert got == unmatched, a_k
        assert all(m.tap_index == m.cue_index for m in matches if m.matched)
        assert summary.extra == len(unmatched) and summary.missed == len(unmatched)
