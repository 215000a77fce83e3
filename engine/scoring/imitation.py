"""Imitation scoring: how well a child's response reproduces the engine's call.

A pure function of onset times (seconds on the engine clock) and, on a
keyboard, MIDI pitches, so any call-and-response trial can be re-scored from
its log. :func:`score_imitation` compares the response with the call in two
complementary ways:

* **In order** (the rhythm and the melody): the response's *k*-th onset is
  taken to answer the call's *k*-th onset. Inter-onset intervals (IOIs),
  pitch contour and tempo ratio are compared interval by interval, so a
  badly timed note can never drop out of the error.
* **In time** (which notes landed): after aligning the first response onset
  with the first call onset (and, with ``tempo_invariant``, stretching the
  response to the call's duration), each call onset is matched to at most one
  response onset lying within ``±ioi_tolerance`` of the shorter IOI next to
  it. Windows never overlap, so the matching is unambiguous.

A child who does not answer is a valid, *incorrect* trial, not an error:
``response_present`` is False and every pattern metric is None.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.scoring.times import as_times
from engine.scoring.words import format_half_up, percent_text, plural

__all__ = ["ImitationResult", "score_imitation"]


@dataclass(frozen=True, slots=True)
class ImitationResult:
    """Scores of one call-and-response trial.

    Numbers that cannot be computed are None, never NaN.

    Attributes
    ----------
    n_call : int
        Onsets in the call.
    n_response : int
        Onsets counted as the response: those at or after
        ``call_end_s − early_s`` (earlier ones were played during the call).
    onsets_during_call : int
        Onsets from the call's first onset to ``call_end_s − early_s``: the
        child playing over the call (not waiting for it), which the response
        scores never count. A child who starts the echo before the call is
        over has these, and its response latency is that of the first onset
        it played after them.
    call_end_s : float
        End of the call used for the latency, seconds (given, or the default
        rule of :func:`score_imitation`).
    response_present : bool
        True if the first response onset lies no later than ``window_s``
        after the end of the call.
    response_latency_ms : float or None
        First response onset − ``call_end_s``, ms (negative = started up to
        ``early_s`` before the call's nominal end). None if no response.
    onsets_matched : int
        Call onsets matched one-to-one to a response onset in time (see the
        module docstring); 0 if no response.
    onsets_missed : int
        Call onsets without a matched response onset (``n_call − onsets_matched``).
    onsets_extra : int
        Response onsets matched to no call onset (0 if no response).
    tempo_ratio : float or None
        Response duration over call duration, measured from the first to the
        *m*-th onset of each, ``m = min(n_call, n_response)`` (> 1 = slower).
        None if ``m < 2``.
    ioi_error_ms : float or None
        Mean ``|response IOI − call IOI|`` over the first ``m − 1`` intervals
        in order, ms; with ``tempo_invariant`` the response IOIs are first
        multiplied by ``1 / tempo_ratio``. None if ``m < 2``.
    ioi_error_rel : float or None
        Mean of ``|response IOI − call IOI| / call IOI`` over the same
        intervals (0.1 = intervals off by 10 % on average). None if ``m < 2``.
    rhythm_similarity : float or None
        0–1: ``Σ_k max(0, 1 − |response IOI_k − call IOI_k| / call IOI_k)``
        over the compared intervals, divided by the larger of the call's and
        the response's number of IOIs, so a missing or an extra interval
        scores 0. A one-note call answered by one note scores 1. None if no
        response.
    pitch_match : float or None
        Share (0–1) of matched onsets whose response pitch equals the call
        pitch. None without pitches or without a response.
    contour_match : float or None
        0–1: consecutive intervals, in order, whose direction (up, down, same)
        agrees with the call's, divided by the larger of the two numbers of
        intervals; 1 for a one-note call answered by one note. None without
        pitches or without a response.
    correct : bool
        The trial meets every tolerance; see :func:`score_imitation`.
    failed : tuple of str
        Names of the criteria the trial failed, in a fixed order (empty if
        correct; a list in :meth:`to_dict`): ``"no_response"``, ``"onsets_missed"``, ``"onsets_extra"``,
        ``"ioi_error"``, ``"pitch"``, ``"contour"``.
    reason : str or None
        Why the trial is not correct, as one plain sentence; None if correct.
    """

    n_call: int
    n_response: int
    onsets_during_call: int
    call_end_s: float
    response_present: bool
    response_latency_ms: float | None
    onsets_matched: int
    onsets_missed: int
    onsets_extra: int
    tempo_ratio: float | None
    ioi_error_ms: float | None
    ioi_error_rel: float | None
    rhythm_similarity: float | None
    pitch_match: float | None
    contour_match: float | None
    correct: bool
    failed: tuple[str, ...]
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        """The result as a plain dict (JSON-ready: ints, floats, None, str, bool, list)."""
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        out["failed"] = list(self.failed)
        return out


def _pitches(values: Sequence[int], n: int, name: str, times_name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.size != n:
        raise ValueError(f"{name} must give one MIDI pitch per onset of {times_name} ({n})")
    if arr.size and not (np.issubdtype(arr.dtype, np.number)
                         and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr))
                         and arr.min() >= 0 and arr.max() <= 127):
        raise ValueError(f"{name} must be whole MIDI note numbers from 0 to 127")
    return arr.astype(np.int64)


def _positive(value: float, name: str, unit: str = "seconds") -> float:
    if isinstance(value, bool) or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number of {unit}")
    return float(value)


def score_imitation(
    call_s: Sequence[float],
    response_s: Sequence[float],
    *,
    call_pitches: Sequence[int] | None = None,
    response_pitches: Sequence[int] | None = None,
    call_end_s: float | None = None,
    window_s: float = 3.0,
    early_s: float = 0.25,
    ioi_tolerance: float = 0.25,
    tempo_invariant: bool = False,
    max_ioi_error_rel: float = 0.2,
    max_extra_onsets: int = 0,
    require_pitch: bool = False,
    require_contour: bool = False,
) -> ImitationResult:
    """Score a child's response to a rhythmic (and melodic) call.

    **End of the call.** ``call_end_s`` if given (the engine knows when its
    last note stopped). Otherwise the last call onset plus the call's last
    IOI, i.e. the last note is taken to last one beat, so a response in tempo
    that starts on the next beat has latency 0. A one-note call without
    ``call_end_s`` ends at its onset.

    **The response** is the onsets of ``response_s`` at or after
    ``call_end_s − early_s``; earlier onsets were played during the call and
    are not counted. It is *present* if its first onset lies no later than
    ``call_end_s + window_s``.

    **Matching in time.** Response times relative to the first response onset
    (times ``1 / tempo_ratio`` with ``tempo_invariant``) are compared with
    call times relative to the first call onset. Call onset *i* may take the
    nearest free response onset within ``±ioi_tolerance × d_i``, where
    ``d_i`` is the shorter of the call IOIs next to onset *i* (a one-note call
    has no window limit). With ``ioi_tolerance <= 0.5`` the windows do not
    overlap; at an exact tie the earlier call onset takes the onset.

    **Tempo invariance.** ``tempo_ratio`` aligns the response's *m*-th onset
    with the call's *m*-th (``m = min(n_call, n_response)``); with ``m = n_call``
    this scales the response to the call's total duration. If the child
    omits notes, the missing ones are assumed to be the last.

    **Correct** means all of:

    1. the response is present;
    2. every call onset is matched (``onsets_missed == 0``);
    3. ``onsets_extra <= max_extra_onsets``;
    4. for a call of two or more onsets, ``ioi_error_rel <= max_ioi_error_rel``;
    5. with ``require_pitch``, ``pitch_match == 1`` (every note the right pitch);
    6. with ``require_contour``, ``contour_match == 1``.

    Latency is reported but is no criterion beyond ``window_s``.

    Parameters
    ----------
    call_s : sequence of float
        Onsets of the call, seconds, strictly increasing, at least one.
    response_s : sequence of float
        Onsets of the child during the response phase, seconds, strictly
        increasing; may be empty (no answer).
    call_pitches, response_pitches : sequence of int, optional
        MIDI note numbers, one per onset of ``call_s`` / ``response_s``.
        Give both or neither.
    call_end_s : float, optional
        End of the call, seconds, not before its last onset.
    window_s : float
        How long after the end of the call a response may start, seconds.
    early_s : float
        How long before the end of the call a response may start, seconds
        (children often come in a little early on the beat).
    ioi_tolerance : float
        Matching window as a fraction of the neighbouring call IOI, in (0, 0.5].
    tempo_invariant : bool
        Compare the rhythm after scaling the response to the call's tempo.
    max_ioi_error_rel : float
        Largest ``ioi_error_rel`` of a correct trial (0.2 = 20 %).
    max_extra_onsets : int
        Most response onsets matched to no call onset in a correct trial.
    require_pitch, require_contour : bool
        Make the right pitches / the right melodic contour part of "correct";
        need the pitches.

    Returns
    -------
    ImitationResult

    Raises
    ------
    ValueError
        If the call is empty, any times are unsorted, duplicated, negative or
        not finite, pitches do not fit their onsets, or a parameter is out of
        range.

    Examples
    --------
    >>> r = score_imitation([0.0, 0.5, 1.0], [1.625, 2.125, 2.625])
    >>> r.response_present, r.response_latency_ms, r.onsets_matched, r.correct
    (True, 125.0, 3, True)
    """
    call = as_times(call_s, "call_s", increasing=True)
    if call.size == 0:
        raise ValueError("call_s is empty: a call needs at least one onset to be imitated")
    resp_all = as_times(response_s, "response_s", increasing=True)
    window_s = _positive(window_s, "window_s")
    if isinstance(early_s, bool) or not (math.isfinite(early_s) and early_s >= 0):
        raise ValueError("early_s must be zero or a positive number of seconds")
    if isinstance(ioi_tolerance, bool) or not (math.isfinite(ioi_tolerance)
                                               and 0 < ioi_tolerance <= 0.5):
        raise ValueError("ioi_tolerance must be a fraction of the IOI above 0 and at most 0.5")
    if isinstance(max_ioi_error_rel, bool) or not (math.isfinite(max_ioi_error_rel)
                                                   and max_ioi_error_rel >= 0):
        raise ValueError("max_ioi_error_rel must be zero or a positive fraction")
    if (isinstance(max_extra_onsets, bool) or int(max_extra_onsets) != max_extra_onsets
            or max_extra_onsets < 0):
        raise ValueError("max_extra_onsets must be a non-negative whole number")
    if (call_pitches is None) != (response_pitches is None):
        raise ValueError("give both call_pitches and response_pitches, or neither")
    has_pitch = call_pitches is not None
    if (require_pitch or require_contour) and not has_pitch:
        raise ValueError("require_pitch and require_contour need call_pitches and response_pitches")
    if has_pitch:
        call_p = _pitches(call_pitches, call.size, "call_pitches", "call_s")
        resp_p_all = _pitches(response_pitches, resp_all.size, "response_pitches", "response_s")

    call_ioi = np.diff(call)
    if call_end_s is None:
        end_s = float(call[-1] + call_ioi[-1]) if call_ioi.size else float(call[-1])
    else:
        end_s = float(call_end_s)
        if not math.isfinite(end_s) or end_s < call[-1]:
            raise ValueError("call_end_s must be a finite time not before the call's last onset")

    keep = resp_all >= end_s - early_s
    resp = resp_all[keep]
    during = int(np.count_nonzero((resp_all >= call[0]) & ~keep))
    n_call, n_resp = int(call.size), int(resp.size)
    present = n_resp > 0 and resp[0] <= end_s + window_s

    if not present:
        if n_resp:
            late = format_half_up("{:.2f}", float(resp[0] - end_s))
            reason = (f"The first response onset came {late} s after the end of "
                      f"the call, later than the {window_s:g} s allowed.")
        else:
            reason = "The child did not respond after the call."
        return ImitationResult(
            n_call=n_call, n_response=n_resp, onsets_during_call=during, call_end_s=end_s, response_present=False,
            response_latency_ms=None, onsets_matched=0, onsets_missed=n_call,
            onsets_extra=0, tempo_ratio=None, ioi_error_ms=None, ioi_error_rel=None,
            rhythm_similarity=None, pitch_match=None, contour_match=None,
            correct=False, failed=("no_response",), reason=reason,
        )

    latency_ms = (float(resp[0]) - end_s) * 1000.0
    m = min(n_call, n_resp)
    tempo_ratio = None
    stretch = 1.0  # response times are divided by this before comparison
    if m >= 2:
        tempo_ratio = float((resp[m - 1] - resp[0]) / (call[m - 1] - call[0]))
        if tempo_invariant:
            stretch = tempo_ratio

    # Interval comparison in order.
    resp_ioi = np.diff(resp) / stretch
    k = m - 1
    ioi_error_ms = ioi_error_rel = None
    if k >= 1:
        err = np.abs(resp_ioi[:k] - call_ioi[:k])
        ioi_error_ms = float(err.mean() * 1000.0)
        ioi_error_rel = float(np.mean(err / call_ioi[:k]))
        scores = np.clip(1.0 - err / call_ioi[:k], 0.0, 1.0)
        rhythm_similarity = float(scores.sum() / max(n_call - 1, n_resp - 1))
    else:
        # m == 1: one side has a single onset; similarity 1 only if both do.
        rhythm_similarity = 1.0 if n_call == n_resp == 1 else 0.0

    # Matching in time, first onsets aligned.
    call_rel = call - call[0]
    resp_rel = (resp - resp[0]) / stretch
    if call_ioi.size:
        gaps = np.concatenate([[np.inf], call_ioi, [np.inf]])
        half_s = ioi_tolerance * np.minimum(gaps[:-1], gaps[1:])
    else:
        half_s = np.array([np.inf])
    taken = np.zeros(n_resp, dtype=bool)
    match = np.full(n_call, -1, dtype=np.intp)
    for i in range(n_call):
        dist = np.abs(resp_rel - call_rel[i])
        dist[taken | (dist > half_s[i])] = np.inf
        j = int(np.argmin(dist))
        if math.isfinite(dist[j]):
            match[i] = j
            taken[j] = True
    matched = int(np.count_nonzero(match >= 0))

    pitch_match = contour_match = None
    if has_pitch:
        resp_p = resp_p_all[keep]
        pairs = match >= 0
        pitch_match = float(np.mean(call_p[pairs] == resp_p[match[pairs]]))
        if k >= 1:
            same = np.sign(np.diff(call_p)[:k]) == np.sign(np.diff(resp_p)[:k])
            contour_match = float(np.count_nonzero(same) / max(n_call - 1, n_resp - 1))
        else:
            contour_match = 1.0 if n_call == n_resp == 1 else 0.0

    extra = n_resp - matched
    failed = []
    reasons = []
    if matched < n_call:
        failed.append("onsets_missed")
        reasons.append(f"{n_call - matched} of the call's {plural(n_call, 'note')} "
                       "had no response note in time")
    if extra > max_extra_onsets:
        failed.append("onsets_extra")
        reasons.append(f"the response had {plural(extra, 'extra note')}")
    if ioi_error_rel is not None and ioi_error_rel > max_ioi_error_rel:
        failed.append("ioi_error")
        reasons.append(f"its intervals were off by {percent_text(100 * ioi_error_rel)} on average "
                       f"(at most {100 * max_ioi_error_rel:g} % allowed)")
    if require_pitch and pitch_match != 1.0:
        failed.append("pitch")
        reasons.append("not every matched note had the call's pitch")
    if require_contour and contour_match != 1.0:
        failed.append("contour")
        reasons.append("the melody did not move up and down like the call")
    reason = None
    if reasons:
        reason = "; ".join(reasons)
        reason = reason[0].upper() + reason[1:] + "."

    return ImitationResult(
        n_call=n_call,
        n_response=n_resp,
        onsets_during_call=during,
        call_end_s=end_s,
        response_present=True,
        response_latency_ms=latency_ms,
        onsets_matched=matched,
        onsets_missed=n_call - matched,
        onsets_extra=extra,
        tempo_ratio=tempo_ratio,
        ioi_error_ms=ioi_error_ms,
        ioi_error_rel=ioi_error_rel,
        rhythm_similarity=rhythm_similarity,
        pitch_match=pitch_match,
        contour_match=contour_match,
        correct=not failed,
        failed=tuple(failed),
        reason=reason,
    )
