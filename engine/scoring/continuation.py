"""Synchronisation–continuation: keeping the beat after the cues stop.

In the synchronisation–continuation paradigm (Wing & Kristofferson 1973;
reviewed in Repp 2005, section 2) the child taps with a metronome, the
metronome stops, and the child keeps tapping. What is measured is how well the
internal beat holds: the inter-tap intervals (ITIs) of the continuation phase,
their variability and their drift.

Definitions (all computed by :func:`score_continuation`)
---------------------------------------------------------
paced IOI
    The reference tempo: the mean of the last ``reference_intervals`` (default
    4) inter-cue intervals, in ms, i.e. the tempo in force when the cues
    stopped (a run whose tempo changed is compared with its final tempo).
continuation taps
    Taps later than the last cue plus half the paced IOI (a tap up to half an
    interval after the last cue still answers that cue). The whole tap list of
    a run may therefore be passed: synchronisation taps are ignored. The first
    ``skip_intervals`` continuation intervals may be dropped (the transition
    from paced to unpaced tapping, often excluded in the literature).
ITI
    Difference of consecutive continuation taps, in ms. Every interval is kept:
    a pause or a double tap is not removed, because any rule for removing it
    (e.g. relative to the paced IOI) would also remove genuine slowing or
    speeding; instead ``irregular`` counts the ITIs outside 0.5–1.5 × the paced
    IOI so that such a run can be recognised.
``iti_mean_ms``, ``iti_sd_ms``, ``iti_cv``
    Mean, sample SD (ddof=1) and coefficient of variation (SD / mean, no unit)
    of the ITIs.
``tempo_ratio``
    ``iti_mean_ms / paced_ioi_ms`` (1 = kept the tempo, > 1 = slowed down).
``tempo_error_pct``
    ``|tempo_ratio − 1| × 100``: how far the mean interval was from the beat's, in
    percent of the beat, whichever the side (rushing to 0.9 and dragging to 1.1
    both give 10). An objective "within 10 % of the beat" is ``tempo_error_pct
    <= 10``; on ``tempo_ratio`` alone a one-sided rule would pass the other side.
``drift_ms_per_interval``
    The least-squares slope of ITI against interval number (0, 1, 2, …), in ms
    per interval: +5 means each interval is 5 ms longer than the one before,
    i.e. the child slows down. Interval number rather than time is used so
    that the slope's unit does not depend on the tempo itself.
``drift_pct_per_interval``
    The same slope as a percentage of the paced IOI per interval, comparable
    across tempi (+1 = slowing by 1 % of the paced interval per interval).
``lag1_autocorrelation``
    Lag-1 autocorrelation of the linearly detrended ITIs (drift removed first,
    as drift would otherwise make it positive).
``wk_clock_sd_ms``, ``wk_motor_sd_ms``
    Wing–Kristofferson (1973) two-level model: ITI_j = C_j + M_{j+1} − M_j with
    independent clock intervals C and motor delays M gives
    ``var(M) = −acov(1)`` and ``var(C) = var(ITI) − 2 var(M)``, from the
    detrended ITIs (autocovariance with divisor n, as usual for this model).
    The model predicts −0.5 ≤ lag-1 autocorrelation ≤ 0; outside that range
    the estimates would be negative variances and both are None.

A run with fewer than ``min_taps`` continuation taps (default
:data:`MIN_CONTINUATION_TAPS`) is not scorable: ``scorable`` is False,
``reason`` says why in one sentence, and every metric is None (never NaN).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.scoring.times import as_times

__all__ = ["MIN_CONTINUATION_TAPS", "ContinuationResult", "score_continuation"]

#: Fewer continuation taps than this (i.e. fewer than 4 intervals) and the run is not scored.
MIN_CONTINUATION_TAPS = 5
#: ITIs outside this range of multiples of the paced IOI are counted as irregular.
IRREGULAR_RANGE = (0.5, 1.5)


@dataclass(frozen=True, slots=True)
class ContinuationResult:
    """Continuation-phase metrics of one run; see the module docstring for definitions.

    Attributes
    ----------
    n_cues : int
        Cues of the paced phase.
    paced_ioi_ms : float or None
        Reference inter-cue interval, ms (None with fewer than two cues).
    continuation_start_s : float or None
        Taps after this time count as continuation taps, seconds.
    n_taps : int
        Continuation taps found.
    n_intervals : int
        ITIs used (after ``skip_intervals``).
    iti_mean_ms, iti_sd_ms : float or None
        Mean and sample SD of the ITIs, ms.
    iti_cv : float or None
        SD / mean of the ITIs.
    tempo_ratio : float or None
        Mean ITI / paced IOI.
    tempo_error_pct : float or None
        ``|tempo_ratio − 1| × 100``: distance from the beat's tempo, % of the beat, either side.
    drift_ms_per_interval : float or None
        OLS slope of ITI over interval number, ms per interval (+ = slowing).
    drift_pct_per_interval : float or None
        The slope as a percentage of the paced IOI per interval.
    lag1_autocorrelation : float or None
        Of the detrended ITIs.
    wk_clock_sd_ms, wk_motor_sd_ms : float or None
        Wing–Kristofferson clock and motor SD, ms; None if the model does not fit.
    irregular : int
        ITIs outside 0.5–1.5 × the paced IOI (kept in every metric).
    scorable : bool
    reason : str or None
        Why not scorable, one sentence; None if scorable.
    """

    n_cues: int
    paced_ioi_ms: float | None
    continuation_start_s: float | None
    n_taps: int
    n_intervals: int
    iti_mean_ms: float | None
    iti_sd_ms: float | None
    iti_cv: float | None
    tempo_ratio: float | None
    tempo_error_pct: float | None
    drift_ms_per_interval: float | None
    drift_pct_per_interval: float | None
    lag1_autocorrelation: float | None
    wk_clock_sd_ms: float | None
    wk_motor_sd_ms: float | None
    irregular: int
    scorable: bool
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        """The result as a plain JSON-ready dict."""
        return dataclasses.asdict(self)


def _int_arg(value: int, name: str, minimum: int) -> int:
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer of at least {minimum}")
    return int(value)


def score_continuation(
    cue_s: Sequence[float],
    taps_s: Sequence[float],
    *,
    min_taps: int = MIN_CONTINUATION_TAPS,
    skip_intervals: int = 0,
    reference_intervals: int = 4,
) -> ContinuationResult:
    """Score the continuation phase of a synchronisation–continuation run.

    Parameters
    ----------
    cue_s : sequence of float
        Cue times of the paced phase, seconds, strictly increasing, at least two.
    taps_s : sequence of float
        Tap times, seconds, in any order; taps up to half a paced IOI after
        the last cue are ignored (they belong to the paced phase).
    min_taps : int
        Fewest continuation taps for a score (at least 3, so that an SD of two
        intervals exists; default 5).
    skip_intervals : int
        Leading continuation intervals to drop (default 0).
    reference_intervals : int
        How many of the last inter-cue intervals define the paced IOI (default 4).

    Returns
    -------
    ContinuationResult

    Raises
    ------
    ValueError
        If times are not finite, cues not strictly increasing, two taps share
        a time, or an argument is out of range.

    Examples
    --------
    >>> r = score_continuation([0.0, 0.5, 1.0, 1.5], [2.0, 2.5, 3.0, 3.5, 4.0])
    >>> r.iti_mean_ms, r.drift_ms_per_interval, r.scorable
    (500.0, 0.0, True)
    """
    cues = as_times(cue_s, "cue_s")
    taps = np.sort(as_times(taps_s, "taps_s"))
    min_taps = _int_arg(min_taps, "min_taps", 3)
    skip_intervals = _int_arg(skip_intervals, "skip_intervals", 0)
    reference_intervals = _int_arg(reference_intervals, "reference_intervals", 1)
    if cues.size > 1 and not np.all(np.diff(cues) > 0):
        raise ValueError("cue_s must be strictly increasing")
    if taps.size > 1 and not np.all(np.diff(taps) > 0):
        raise ValueError("taps_s must not contain the same time twice")

    empty = {"iti_mean_ms": None, "iti_sd_ms": None, "iti_cv": None, "tempo_ratio": None, "tempo_error_pct": None,
             "drift_ms_per_interval": None, "drift_pct_per_interval": None, "lag1_autocorrelation": None,
             "wk_clock_sd_ms": None, "wk_motor_sd_ms": None, "irregular": 0}
    if cues.size < 2:
        return ContinuationResult(
            n_cues=int(cues.size), paced_ioi_ms=None, continuation_start_s=None, n_taps=0, n_intervals=0,
            scorable=False, reason=(f"The paced phase has {cues.size} cue{'' if cues.size == 1 else 's'}; "
                                    "at least 2 are needed to know the tempo to keep."), **empty)

    paced_ioi_s = float(np.mean(np.diff(cues)[-reference_intervals:]))
    start_s = float(cues[-1] + 0.5 * paced_ioi_s)
    cont = taps[taps > start_s]
    iti_ms = np.diff(cont)[skip_intervals:] * 1000.0
    paced_ms = paced_ioi_s * 1000.0
    base = {"n_cues": int(cues.size), "paced_ioi_ms": paced_ms, "continuation_start_s": start_s,
            "n_taps": int(cont.size), "n_intervals": int(iti_ms.size)}

    if cont.size < min_taps or iti_ms.size < 2:
        skipped = f" ({skip_intervals} skipped)" if skip_intervals else ""
        reason = (f"Only {cont.size} tap{'' if cont.size == 1 else 's'} came after the cues stopped, giving "
                  f"{iti_ms.size} interval{'' if iti_ms.size == 1 else 's'}{skipped}; at least {min_taps} taps "
                  "are needed to score the continuation.")
        return ContinuationResult(**base, scorable=False, reason=reason, **empty)

    n = iti_ms.size
    mean = float(iti_ms.mean())
    sd = float(iti_ms.std(ddof=1))
    k = np.arange(n, dtype=float)
    kc, yc = k - k.mean(), iti_ms - mean
    slope = float(np.dot(kc, yc) / np.dot(kc, kc))  # ordinary least squares
    resid = yc - slope * kc
    acov0 = float(np.dot(resid, resid) / n)
    acov1 = float(np.dot(resid[:-1], resid[1:]) / n)
    lag1 = acov1 / acov0 if acov0 > 1e-12 * mean * mean else None
    clock_sd = motor_sd = None
    if lag1 is not None and -0.5 <= lag1 <= 0.0:
        motor_var = -acov1
        clock_var = max(acov0 - 2.0 * motor_var, 0.0)
        motor_sd, clock_sd = math.sqrt(motor_var), math.sqrt(clock_var)
    lo, hi = IRREGULAR_RANGE
    irregular = int(np.count_nonzero((iti_ms < lo * paced_ms) | (iti_ms > hi * paced_ms)))

    return ContinuationResult(
        **base,
        iti_mean_ms=mean,
        iti_sd_ms=sd,
        iti_cv=sd / mean,
        tempo_ratio=mean / paced_ms,
        tempo_error_pct=100.0 * abs(mean - paced_ms) / paced_ms,
        drift_ms_per_interval=slope,
        drift_pct_per_interval=100.0 * slope / paced_ms,
        lag1_autocorrelation=lag1,
        wk_clock_sd_ms=clock_sd,
        wk_motor_sd_ms=motor_sd,
        irregular=irregular,
        scorable=True,
        reason=None,
    )
