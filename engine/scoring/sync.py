"""Synchronisation scoring: how well taps line up with the cues of a beat.

Pure functions of cue and tap times (seconds on the engine clock, physical
"heard" cue times and physical tap times), so any session can be re-scored
from its log. Two steps:

1. :func:`match_taps` pairs each cue with at most one tap and each tap with at
   most one cue. A tap may serve a cue only if it lies within ±½ of the cue's
   *local* inter-onset interval (IOI), so tempo changes are handled cue by cue.
   Where windows overlap and taps compete, the pairing is solved optimally
   (most cues matched, then least total ``|asynchrony|``) with
   :func:`scipy.optimize.linear_sum_assignment`, not greedily.
2. :func:`summarize` turns the matches into the metrics named in DESIGN.md
   ("Metrics"): asynchrony mean and SD, share of cues within a window, vector
   strength and mean phase, Rayleigh p, inter-tap-interval CV, tempo ratio,
   missed cues and extra taps, plus whether the run can be scored at all.

Asynchrony is ``tap − cue`` in milliseconds: negative means early, as in the
sensorimotor-synchronisation literature (Repp 2005; REPP, Anglada-Tort et al.
2022; BAASTA, Dalla Bella et al. 2017).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.scoring.times import as_times
from engine.scoring.words import plural

__all__ = [
    "CueMatch",
    "SyncSummary",
    "local_ioi_s",
    "match_taps",
    "summarize",
    "MIN_MATCHED_TAPS",
    "MIN_TAP_SHARE",
]

#: A resultant length below this is zero: the mean phase is undefined, not rounding noise's angle.
_R_ZERO = 1e-12
#: Fewer matched taps than this and a run is not scorable.
MIN_MATCHED_TAPS = 3
#: Fewer taps than this share of the cues and a run is not scorable (REPP's rule).
MIN_TAP_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class CueMatch:
    """One cue and the tap matched to it, if any.

    Attributes
    ----------
    cue_index : int
        Position of the cue in the cue sequence given to :func:`match_taps`.
    cue_s : float
        Time the cue was heard, in seconds.
    tap_index : int or None
        Position of the matched tap in the tap sequence, or None if missed.
    tap_s : float or None
        Time of the matched tap, in seconds, or None if missed.
    asynchrony_ms : float or None
        ``tap_s − cue_s`` in milliseconds (negative = early), or None if missed.
    """

    cue_index: int
    cue_s: float
    tap_index: int | None
    tap_s: float | None
    asynchrony_ms: float | None

    @property
    def matched(self) -> bool:
        """True if a tap was matched to this cue."""
        return self.tap_index is not None


@dataclass(frozen=True, slots=True)
class SyncSummary:
    """Synchronisation metrics of one run (the scored cues, after warm-up).

    Every number that cannot be computed (too few taps) is None, never NaN.

    Attributes
    ----------
    n_cues : int
        Cues scored (after the warm-up).
    n_taps : int
        Taps in the scored part of the run (see :func:`summarize`).
    matched : int
        Scored cues with a matched tap.
    missed : int
        Scored cues without a tap (``n_cues − matched``).
    extra : int
        Taps of the scored part matched to no cue.
    asynchrony_mean_ms, asynchrony_sd_ms : float or None
        Mean and sample SD (ddof=1) of the matched asynchronies, ms.
    within_window_pct : float or None
        Percentage (0–100) of scored cues whose tap lies within ±``window_ms``;
        missed cues count as not within.
    window_ms : float
        The window used for ``within_window_pct``.
    vector_strength : float or None
        Length R (0–1) of the mean unit vector of the relative phases.
    mean_phase_deg : float or None
        Circular mean of the relative phases, degrees in (−180, 180];
        negative = early. None if R is 0.
    rayleigh_p : float or None
        Rayleigh-test p-value for "phases are uniform" (Zar's approximation).
    iti_cv : float or None
        Coefficient of variation (SD/mean) of the inter-tap intervals between
        taps matched to consecutive cues.
    tempo_ratio : float or None
        Mean of those inter-tap intervals over the mean of the corresponding
        cue intervals (1 = same tempo, > 1 = slower than the cues).
    scorable : bool
        False if the run has too few taps to be scored.
    reason : str or None
        Why the run is not scorable, as one plain sentence; None if scorable.
    """

    n_cues: int
    n_taps: int
    matched: int
    missed: int
    extra: int
    asynchrony_mean_ms: float | None
    asynchrony_sd_ms: float | None
    within_window_pct: float | None
    window_ms: float
    vector_strength: float | None
    mean_phase_deg: float | None
    rayleigh_p: float | None
    iti_cv: float | None
    tempo_ratio: float | None
    scorable: bool
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        """The summary as a plain dict (JSON-ready: ints, floats, None, str, bool)."""
        return dataclasses.asdict(self)


def local_ioi_s(cue_s: Sequence[float], *, max_window_s: float = 0.5) -> np.ndarray:
    """Local inter-onset interval of each cue, in seconds.

    For an inner cue the mean of the intervals to its two neighbours; for the
    first and last cue the single interval they have. A lone cue has no
    interval: it gets ``2 * max_window_s`` so that its window is
    ±``max_window_s``.

    Parameters
    ----------
    cue_s : sequence of float
        Cue times in seconds, strictly increasing.
    max_window_s : float
        Half-window for a lone cue, seconds.

    Returns
    -------
    numpy.ndarray
        One interval per cue, seconds.

    Raises
    ------
    ValueError
        If the cue times are not finite and strictly increasing.
    """
    cues = as_times(cue_s, "cue_s")
    if cues.size > 1 and not np.all(np.diff(cues) > 0):
        raise ValueError("cue_s must be strictly increasing")
    if cues.size == 0:
        return np.empty(0)
    if cues.size == 1:
        if not max_window_s > 0:
            raise ValueError("max_window_s must be positive")
        return np.array([2.0 * max_window_s])
    d = np.diff(cues)
    ioi = np.empty(cues.size)
    ioi[0] = d[0]
    ioi[-1] = d[-1]
    ioi[1:-1] = 0.5 * (d[:-1] + d[1:])
    return ioi


def match_taps(
    cue_s: Sequence[float],
    tap_s: Sequence[float],
    *,
    max_window_s: float = 0.5,
) -> list[CueMatch]:
    """Match cues to taps one to one, each within ±½ of the cue's local IOI.

    A tap is a candidate for cue *k* if ``|tap − cue_k| <= ioi_k / 2`` (see
    :func:`local_ioi_s`). Among all one-to-one pairings of candidates the one
    with the most pairs and, among those, the least total ``|asynchrony|`` is
    chosen; it is solved per group of cues whose windows share taps, with
    :func:`scipy.optimize.linear_sum_assignment`. Where windows do not overlap
    this is simply "each cue takes its nearest tap".

    Parameters
    ----------
    cue_s : sequence of float
        Cue times (heard), seconds, strictly increasing.
    tap_s : sequence of float
        Tap times (physical), seconds, in any order; ``tap_index`` refers to
        this order.
    max_window_s : float
        Half-window for a run of a single cue (which has no IOI), seconds.

    Returns
    -------
    list of CueMatch
        One per cue, in cue order.

    Raises
    ------
    ValueError
        If times are not finite, or cues not strictly increasing.

    Examples
    --------
    >>> matches = match_taps([0.0, 0.5, 1.0], [-0.02, 0.51])
    >>> [m.tap_index for m in matches], matches[0].asynchrony_ms
    ([0, 1, None], -20.0)
    """
    cues = as_times(cue_s, "cue_s")
    taps = as_times(tap_s, "tap_s")
    half_s = 0.5 * local_ioi_s(cues, max_window_s=max_window_s)
    n_cues, n_taps = cues.size, taps.size
    tap_of_cue = np.full(n_cues, -1, dtype=np.intp)

    if n_cues and n_taps:
        order = np.argsort(taps, kind="stable")
        sorted_taps = taps[order]
        # Candidate ranges from a binary search, widened by one on each side so
        # that rounding in cue ± half never drops a tap the exact test keeps.
        lo = np.maximum(np.searchsorted(sorted_taps, cues - half_s, "left") - 1, 0)
        hi = np.minimum(np.searchsorted(sorted_taps, cues + half_s, "right") + 1, n_taps)
        # Taps are handled by their place in time order, so that on a tie (two taps
        # equally near a cue) the order they were given in cannot decide.
        rows, cols = [], []
        for k in range(n_cues):
            ps = np.arange(lo[k], hi[k])
            ps = ps[np.abs(sorted_taps[ps] - cues[k]) <= half_s[k]]
            rows.extend([k] * ps.size)
            cols.extend(ps.tolist())
        if rows:
            _assign(cues, sorted_taps, np.asarray(rows), np.asarray(cols), tap_of_cue)
            matched = tap_of_cue >= 0
            tap_of_cue[matched] = order[tap_of_cue[matched]]

    matches = []
    for k in range(n_cues):
        j = int(tap_of_cue[k])
        if j < 0:
            matches.append(CueMatch(k, float(cues[k]), None, None, None))
        else:
            asyn_ms = (float(taps[j]) - float(cues[k])) * 1000.0
            matches.append(CueMatch(k, float(cues[k]), j, float(taps[j]), asyn_ms))
    return matches


def _assign(
    cues: np.ndarray,
    taps: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    tap_of_cue: np.ndarray,
) -> None:
    """Solve the assignment per connected group of candidate pairs (in place)."""
    # scipy is imported here, when there is something to match: importing it costs a third of a
    # second, which every command that only reads scores (sessions, reports) would pay.
    from scipy.optimize import linear_sum_assignment
    from scipy.sparse import coo_array
    from scipy.sparse.csgraph import connected_components

    n_cues = cues.size
    # Bipartite graph: nodes 0..n_cues-1 are cues, n_cues.. are taps.
    graph = coo_array(
        (np.ones(rows.size), (rows, cols + n_cues)),
        shape=(n_cues + taps.size, n_cues + taps.size),
    )
    _, label = connected_components(graph, directed=False)
    edge_label = label[rows]
    for lab in np.unique(edge_label):
        sel = edge_label == lab
        r, c = rows[sel], cols[sel]
        ur, ri = np.unique(r, return_inverse=True)
        uc, ci = np.unique(c, return_inverse=True)
        if ur.size == 1 or uc.size == 1:
            # No competition: the nearest candidate wins (the earlier tap on a tie).
            cost = np.abs(taps[c] - cues[r])
            best = int(np.argmin(cost))
            tap_of_cue[r[best]] = c[best]
            continue
        cost = np.abs(taps[c] - cues[r])
        # A forbidden pair costs more than all allowed pairs together, so the
        # optimum first maximises the number of allowed pairs.
        big = 1.0 + float(cost.sum())
        matrix = np.full((ur.size, uc.size), big)
        matrix[ri, ci] = cost
        allowed = np.zeros(matrix.shape, dtype=bool)
        allowed[ri, ci] = True
        rr, cc = linear_sum_assignment(matrix)
        for i, j in zip(rr, cc):
            if allowed[i, j]:
                tap_of_cue[ur[i]] = uc[j]


def summarize(
    matches: Sequence[CueMatch],
    taps_count: int,
    *,
    window_ms: float = 80.0,
    warmup: int = 0,
    tap_s: Sequence[float] | None = None,
    max_window_s: float = 0.5,
) -> SyncSummary:
    """Synchronisation metrics of a run from its cue–tap matches.

    The first ``warmup`` cues are not scored. The scored span runs from half a
    local IOI before the first scored cue to half a local IOI after the last
    cue; extra taps are the unmatched taps inside it.

    Relative phase of a matched tap is ``2π · asynchrony / local IOI`` (so a
    tap half an IOI early is at −180°). Vector strength is the length of the
    mean unit phase vector, the mean phase its angle, and the Rayleigh p uses
    Zar's (1999, eq. 27.4) approximation
    ``p = exp(sqrt(1 + 4n + 4(n² − (nR)²)) − (1 + 2n))``.
    Inter-tap intervals are taken only between taps matched to consecutive
    cues, so a missed beat does not count as a doubled interval.

    Parameters
    ----------
    matches : sequence of CueMatch
        All cues of the run, as returned by :func:`match_taps`.
    taps_count : int
        Number of taps given to :func:`match_taps`.
    window_ms : float
        Half-width of the "hit" window for ``within_window_pct``, ms.
    warmup : int
        Number of leading cues not scored.
    tap_s : sequence of float, optional
        The tap times given to :func:`match_taps`. With them, ``n_taps`` and
        ``extra`` count only taps inside the scored span; without them every
        tap not matched to a cue counts as extra and ``n_taps`` is
        ``taps_count`` minus the taps matched to warm-up cues.
    max_window_s : float
        Half-window of a lone cue, as in :func:`match_taps`, seconds.

    Returns
    -------
    SyncSummary

    Raises
    ------
    ValueError
        If an argument is out of range or ``tap_s`` disagrees with
        ``taps_count``.
    """
    if isinstance(taps_count, bool) or int(taps_count) != taps_count or taps_count < 0:
        raise ValueError("taps_count must be a non-negative integer")
    if isinstance(warmup, bool) or int(warmup) != warmup or warmup < 0:
        raise ValueError("warmup must be a non-negative integer")
    if not (math.isfinite(window_ms) and window_ms > 0):
        raise ValueError("window_ms must be a positive number of milliseconds")
    taps_count, warmup = int(taps_count), int(warmup)
    taps = None
    if tap_s is not None:
        taps = as_times(tap_s, "tap_s")
        if taps.size != taps_count:
            raise ValueError(f"tap_s has {taps.size} taps but taps_count is {taps_count}")

    ordered = sorted(matches, key=lambda m: m.cue_index)
    cue_times = np.array([m.cue_s for m in ordered], dtype=float)
    ioi_s = local_ioi_s(cue_times, max_window_s=max_window_s)
    scored = ordered[warmup:]
    scored_ioi_s = ioi_s[warmup:]
    n_cues = len(scored)
    used = {m.tap_index for m in ordered if m.tap_index is not None}
    used_in_warmup = sum(1 for m in ordered[:warmup] if m.tap_index is not None)

    matched_pos = [i for i, m in enumerate(scored) if m.tap_index is not None]
    matched = len(matched_pos)
    missed = n_cues - matched

    if taps is not None and n_cues:
        start_s = scored[0].cue_s - 0.5 * scored_ioi_s[0]
        end_s = scored[-1].cue_s + 0.5 * scored_ioi_s[-1]
        in_span = np.flatnonzero((taps >= start_s) & (taps <= end_s))
        n_taps = int(in_span.size)
        extra = sum(1 for j in in_span.tolist() if j not in used)
    elif taps is not None:
        n_taps, extra = 0, 0
    else:
        n_taps = taps_count - used_in_warmup
        extra = taps_count - len(used)

    asyn_ms = np.array([scored[i].asynchrony_ms for i in matched_pos], dtype=float)
    mean_ms = float(asyn_ms.mean()) if matched >= 1 else None
    sd_ms = float(asyn_ms.std(ddof=1)) if matched >= 2 else None
    within = None
    if n_cues:
        within = 100.0 * int(np.count_nonzero(np.abs(asyn_ms) <= window_ms)) / n_cues

    vector_strength = mean_phase_deg = rayleigh_p = None
    if matched >= 1:
        phase = 2.0 * np.pi * (asyn_ms / 1000.0) / scored_ioi_s[matched_pos]
        c, s = float(np.mean(np.cos(phase))), float(np.mean(np.sin(phase)))
        vector_strength = min(1.0, math.hypot(c, s))
        if vector_strength < _R_ZERO:  # evenly spread phases: no mean direction (rounding leaves ~1e-16)
            vector_strength = 0.0
        else:
            mean_phase_deg = math.degrees(math.atan2(s, c))
        if matched >= 2:
            n = matched
            rn = n * vector_strength
            z = math.sqrt(1.0 + 4.0 * n + 4.0 * (n * n - rn * rn)) - (1.0 + 2.0 * n)
            rayleigh_p = min(1.0, max(0.0, math.exp(z)))

    iti_s, ioi_pair_s = [], []
    for a, b in zip(matched_pos, matched_pos[1:]):
        if b == a + 1:
            iti_s.append(scored[b].tap_s - scored[a].tap_s)
            ioi_pair_s.append(scored[b].cue_s - scored[a].cue_s)
    iti_cv = tempo_ratio = None
    if iti_s:
        iti = np.array(iti_s)
        tempo_ratio = float(iti.mean() / np.mean(ioi_pair_s))
        if iti.size >= 2 and iti.mean() > 0:
            iti_cv = float(iti.std(ddof=1) / iti.mean())

    reason = None
    if n_cues == 0:
        reason = (f"No cues were scored: the run had {plural(len(ordered), 'cue')} "
                  f"and the first {warmup} were warm-up.")
    elif matched < MIN_MATCHED_TAPS:
        verb = "was" if matched == 1 else "were"
        reason = (f"Only {matched} of {plural(n_cues, 'cue')} {verb} matched to a tap; "
                  f"at least {MIN_MATCHED_TAPS} are needed to score timing.")
    elif n_taps < MIN_TAP_SHARE * n_cues:
        reason = (f"There were {plural(n_taps, 'tap')} for {plural(n_cues, 'cue')}, "
                  "fewer than half, so the timing cannot be scored.")

    return SyncSummary(
        n_cues=n_cues,
        n_taps=n_taps,
        matched=matched,
        missed=missed,
        extra=extra,
        asynchrony_mean_ms=mean_ms,
        asynchrony_sd_ms=sd_ms,
        within_window_pct=within,
        window_ms=float(window_ms),
        vector_strength=vector_strength,
        mean_phase_deg=mean_phase_deg,
        rayleigh_p=rayleigh_p,
        iti_cv=iti_cv,
        tempo_ratio=tempo_ratio,
        scorable=reason is None,
        reason=reason,
    )
