"""Tests of engine.scoring.imitation on hand-worked trials and by property.

Hand-worked numbers are derived in the comments. Most times are multiples of
1/4 or 1/8 s, which binary floating point holds exactly.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.scoring.imitation import ImitationResult, score_imitation

# Call: IOIs 0.5, 0.5, 0.25, 0.25 s ("ta ta ti-ti ta"). Default end of call =
# last onset + last IOI = 2.5 + 0.25 = 2.75 s.
CALL = [1.0, 1.5, 2.0, 2.25, 2.5]


# --- hand-worked trials ---------------------------------------------------------


def test_child_who_never_answers():
    r = score_imitation(CALL, [])
    assert r.response_present is False
    assert r.correct is False
    assert r.response_latency_ms is None
    assert r.failed == ("no_response",)
    assert r.reason == "The child did not respond after the call."
    assert (r.n_call, r.n_response, r.onsets_matched, r.onsets_missed, r.onsets_extra) == (5, 0, 0, 5, 0)
    for name in ("tempo_ratio", "ioi_error_ms", "ioi_error_rel", "rhythm_similarity",
                 "pitch_match", "contour_match"):
        assert getattr(r, name) is None
    assert r.call_end_s == 2.75


def test_answer_after_the_window_is_no_response():
    # First onset 6.5 s: 6.5 − 2.75 = 3.75 s after the end, window 3 s.
    r = score_imitation(CALL, [6.5, 7.0])
    assert r.response_present is False and r.correct is False
    assert r.response_latency_ms is None and r.n_response == 2
    assert "3.75 s" in r.reason and "3 s" in r.reason
    # At exactly end + window (2.75 + 3.0 = 5.75 s) the answer still counts.
    r = score_imitation(CALL, [5.75])
    assert r.response_present is True and r.response_latency_ms == 3000.0
    # Window 4 s: now present, latency 3750 ms.
    r = score_imitation(CALL, [6.5, 7.0], window_s=4.0)
    assert r.response_present is True and r.response_latency_ms == 3750.0


def test_exact_copy_is_correct():
    # Same IOIs, first onset 3.0 s: latency (3.0 − 2.75)·1000 = 250 ms.
    r = score_imitation(CALL, [3.0, 3.5, 4.0, 4.25, 4.5])
    assert r.response_present and r.correct and r.failed == () and r.reason is None
    assert r.response_latency_ms == 250.0
    assert (r.onsets_matched, r.onsets_missed, r.onsets_extra) == (5, 0, 0)
    assert r.tempo_ratio == 1.0
    assert r.ioi_error_ms == 0.0 and r.ioi_error_rel == 0.0 and r.rhythm_similarity == 1.0


# Right rhythm, 1.5 times slower: IOIs 0.75, 0.75, 0.375, 0.375 from 3.0 s.
SLOW = [3.0, 3.75, 4.5, 4.875, 5.25]


def test_right_rhythm_at_a_slower_tempo_without_tempo_invariance_is_wrong():
    r = score_imitation(CALL, SLOW)
    # tempo ratio = (5.25 − 3.0) / (2.5 − 1.0) = 2.25 / 1.5 = 1.5
    assert r.tempo_ratio == 1.5
    # |IOI errors| = 0.25, 0.25, 0.125, 0.125 s → mean 0.1875 s = 187.5 ms;
    # relative 0.25/0.5, 0.25/0.5, 0.125/0.25, 0.125/0.25 = 0.5 each → 0.5.
    assert r.ioi_error_ms == pytest.approx(187.5, abs=1e-9)
    assert r.ioi_error_rel == pytest.approx(0.5, abs=1e-12)
    # similarity = Σ(1 − 0.5) over 4 IOIs / max(4, 4) = 0.5
    assert r.rhythm_similarity == pytest.approx(0.5, abs=1e-12)
    # Aligned at the first onset: response at 0, .75, 1.5, 1.875, 2.25 against
    # the call at 0, .5, 1.0, 1.25, 1.5; windows ±0.25·(shorter IOI) =
    # ±.125, ±.125, ±.0625, ±.0625, ±.0625. Only 0↔0 and 1.5↔1.5 fall inside.
    assert (r.onsets_matched, r.onsets_missed, r.onsets_extra) == (2, 3, 3)
    assert r.correct is False
    assert r.failed == ("onsets_missed", "onsets_extra", "ioi_error")
    assert r.reason.startswith("3 of the call's 5 notes had no response note in time")
    assert "50 %" in r.reason


def test_right_rhythm_at_a_slower_tempo_with_tempo_invariance_is_correct():
    r = score_imitation(CALL, SLOW, tempo_invariant=True)
    assert r.tempo_ratio == 1.5  # still reported
    # Divided by 1.5 the response IOIs are 0.5, 0.5, 0.25, 0.25: no error.
    assert r.ioi_error_ms == pytest.approx(0.0, abs=1e-9)
    assert r.ioi_error_rel == pytest.approx(0.0, abs=1e-12)
    assert r.rhythm_similarity == pytest.approx(1.0, abs=1e-12)
    assert r.onsets_matched == 5 and r.correct is True
    assert r.response_latency_ms == 250.0  # latency is not rescaled


def test_one_late_note_within_tolerance():
    # Call 0, .5, 1.0, 1.5 → end 2.0. Response IOIs .5, .6, .4:
    # errors 0, .1, .1 s → 200/3 ms; relative 0, .2, .2 → mean 0.4/3.
    call = [0.0, 0.5, 1.0, 1.5]
    resp = [2.0, 2.5, 3.1, 3.5]
    r = score_imitation(call, resp)
    assert r.response_latency_ms == 0.0
    assert r.ioi_error_ms == pytest.approx(200.0 / 3.0, abs=1e-9)
    assert r.ioi_error_rel == pytest.approx(0.4 / 3.0, abs=1e-12)
    # similarity (1 + 0.8 + 0.8) / 3
    assert r.rhythm_similarity == pytest.approx(2.6 / 3.0, abs=1e-12)
    # The late note is 0.1 s off, inside ±0.25·0.5 = ±0.125 s.
    assert r.onsets_matched == 4 and r.correct is True
    # A stricter objective (10 %) fails it on the interval error alone.
    strict = score_imitation(call, resp, max_ioi_error_rel=0.1)
    assert strict.correct is False and strict.failed == ("ioi_error",)
    # A tighter matching window (±0.15·0.5 = ±0.075 s) misses that note.
    tight = score_imitation(call, resp, ioi_tolerance=0.15)
    assert (tight.onsets_matched, tight.onsets_extra) == (3, 1)


def test_missing_last_note():
    # Three correct intervals of the call's... two: errors 0, but one of the
    # call's 3 IOIs has no answer → similarity (1 + 1 + 0) / 3.
    r = score_imitation([0.0, 0.5, 1.0, 1.5], [2.0, 2.5, 3.0])
    assert r.ioi_error_ms == 0.0 and r.ioi_error_rel == 0.0
    assert r.rhythm_similarity == pytest.approx(2.0 / 3.0)
    assert (r.onsets_matched, r.onsets_missed, r.onsets_extra) == (3, 1, 0)
    assert r.correct is False and r.failed == ("onsets_missed",)


def test_extra_note_in_the_middle():
    # Response 2.0, 2.25, 2.5, 3.0, 3.5: 2.25 is 0.25 s from call time 0.5
    # (window ±0.125) → extra. In order the IOIs .25, .25, .5 against .5, .5,
    # .5 give relative errors .5, .5, 0 → mean 1/3 > 0.2, and similarity
    # (.5 + .5 + 1) / max(3, 4) = 0.5.
    r = score_imitation([0.0, 0.5, 1.0, 1.5], [2.0, 2.25, 2.5, 3.0, 3.5], max_extra_onsets=1)
    assert (r.onsets_matched, r.onsets_missed, r.onsets_extra) == (4, 0, 1)
    assert r.ioi_error_rel == pytest.approx(1.0 / 3.0)
    assert r.rhythm_similarity == pytest.approx(0.5)
    assert r.failed == ("ioi_error",)
    r0 = score_imitation([0.0, 0.5, 1.0, 1.5], [2.0, 2.25, 2.5, 3.0, 3.5])
    assert r0.failed == ("onsets_extra", "ioi_error")
    assert "1 extra note" in r0.reason


def test_early_start_and_notes_during_the_call():
    # End 1.5 s; onsets before 1.5 − 0.25 = 1.25 s were played along with the
    # call and are not the response. 1.375 is 125 ms early.
    r = score_imitation([0.0, 0.5, 1.0], [0.5, 1.0, 1.375, 1.875, 2.375])
    assert r.n_response == 3
    assert r.response_latency_ms == -125.0
    assert r.onsets_matched == 3 and r.correct
    # With early_s = 0 the 1.375 onset is during the call too.
    r = score_imitation([0.0, 0.5, 1.0], [1.375, 1.875, 2.375], early_s=0.0)
    assert r.n_response == 2 and r.response_latency_ms == 375.0


def test_explicit_call_end():
    r = score_imitation([0.0, 0.5, 1.0], [1.5, 2.0, 2.5], call_end_s=1.25)
    assert r.call_end_s == 1.25 and r.response_latency_ms == 250.0


def test_one_note_call():
    # No IOI: the call ends at its onset; one note back is a perfect copy.
    r = score_imitation([2.0], [2.5])
    assert r.call_end_s == 2.0 and r.response_latency_ms == 500.0
    assert r.onsets_matched == 1 and r.rhythm_similarity == 1.0 and r.correct
    assert r.tempo_ratio is None and r.ioi_error_ms is None and r.ioi_error_rel is None
    # Two notes back: one extra, no interval of the call → similarity 0 / 1.
    r = score_imitation([2.0], [2.5, 2.75])
    assert r.onsets_extra == 1 and r.rhythm_similarity == 0.0 and r.failed == ("onsets_extra",)


CALL_P = [60, 62, 64, 62, 60]  # up, up, down, down
ON_TIME = [3.0, 3.5, 4.0, 4.25, 4.5]


def test_pitch_and_contour():
    # One wrong note (65 for 64), same directions: pitch 4/5, contour 4/4.
    r = score_imitation(CALL, ON_TIME, call_pitches=CALL_P, response_pitches=[60, 62, 65, 62, 60])
    assert r.pitch_match == pytest.approx(0.8) and r.contour_match == 1.0
    assert r.correct  # pitch not required by default
    r = score_imitation(CALL, ON_TIME, call_pitches=CALL_P,
                        response_pitches=[60, 62, 65, 62, 60], require_pitch=True)
    assert r.correct is False and r.failed == ("pitch",)
    r = score_imitation(CALL, ON_TIME, call_pitches=CALL_P,
                        response_pitches=[60, 62, 65, 62, 60], require_contour=True)
    assert r.correct is True
    # 59 for 62: down, up, down, down against up, up, down, down → 3/4.
    r = score_imitation(CALL, ON_TIME, call_pitches=CALL_P,
                        response_pitches=[60, 59, 64, 62, 60], require_contour=True)
    assert r.pitch_match == pytest.approx(0.8) and r.contour_match == pytest.approx(0.75)
    assert r.failed == ("contour",)


def test_pitch_match_counts_matched_onsets_only():
    # Slow response without tempo invariance: the matched pairs are call 0 ↔
    # response 0 and call 4 (1.5 s after the first) ↔ response 2 (also 1.5 s
    # after), see the slow-tempo test. Call pitches there: 60, 60.
    # Response pitches 60, 62, 64, ...: 60 = 60, 64 ≠ 60 → 1/2.
    r = score_imitation(CALL, SLOW, call_pitches=CALL_P, response_pitches=CALL_P)
    assert r.pitch_match == 0.5
    # The contour is compared in order over all 4 intervals: CALL_P against
    # itself → 4/4, although only 2 onsets matched in time.
    assert r.contour_match == 1.0
    # 60, 62, 60, 62, 60: both matched pairs right → 1; directions up, down,
    # up, down against up, up, down, down → 2/4.
    r = score_imitation(CALL, SLOW, call_pitches=CALL_P, response_pitches=[60, 62, 60, 62, 60])
    assert r.pitch_match == 1.0 and r.contour_match == 0.5


def test_onsets_during_the_call_drop_their_pitches():
    r = score_imitation([0.0, 0.5, 1.0], [0.5, 1.5, 2.0, 2.5], call_pitches=[60, 64, 67],
                        response_pitches=[40, 60, 64, 67], require_pitch=True)
    assert r.n_response == 3 and r.pitch_match == 1.0 and r.correct


def test_to_dict_is_json_ready():
    r = score_imitation(CALL, SLOW, call_pitches=CALL_P, response_pitches=CALL_P)
    d = r.to_dict()
    assert set(d) == set(ImitationResult.__dataclass_fields__)
    assert d["failed"] == ["onsets_missed", "onsets_extra", "ioi_error"]
    assert json.loads(json.dumps(d)) == d
    with pytest.raises(AttributeError):
        r.correct = True  # frozen


# --- bad input ------------------------------------------------------------------


def test_empty_call_is_an_error_with_a_sentence():
    with pytest.raises(ValueError, match=r"^call_s is empty: a call needs at least one onset"):
        score_imitation([], [1.0])


@pytest.mark.parametrize("which", ["call", "response"])
@pytest.mark.parametrize(("times", "match"), [
    ([1.0, 0.5, 2.0], "strictly increasing"),
    ([0.5, 0.5, 2.0], "strictly increasing"),
    ([0.5, math.nan, 2.0], "finite"),
    ([0.5, math.inf], "finite"),
    ([-0.5, 1.0], "negative"),
    ([[0.5, 1.0]], "one-dimensional"),
])
def test_bad_times(which, times, match):
    call, resp = ([0.0, 0.5], [1.0, 1.5]) if which == "response" else (None, [5.0])
    if which == "call":
        call = times
    else:
        resp = times
    with pytest.raises(ValueError, match=match):
        score_imitation(call, resp)


def test_empty_response_is_valid():
    r = score_imitation([0.0, 0.5], np.array([]))
    assert r.response_present is False and r.n_response == 0


@pytest.mark.parametrize(("kw", "match"), [
    ({"window_s": 0.0}, "window_s"),
    ({"window_s": math.nan}, "window_s"),
    ({"early_s": -0.1}, "early_s"),
    ({"ioi_tolerance": 0.0}, "ioi_tolerance"),
    ({"ioi_tolerance": 0.6}, "ioi_tolerance"),
    ({"max_ioi_error_rel": -0.1}, "max_ioi_error_rel"),
    ({"max_extra_onsets": 1.5}, "max_extra_onsets"),
    ({"max_extra_onsets": -1}, "max_extra_onsets"),
    ({"call_end_s": 0.25}, "call_end_s"),
    ({"call_end_s": math.nan}, "call_end_s"),
    ({"call_pitches": [60, 62]}, "both"),
    ({"require_pitch": True}, "need call_pitches"),
    ({"call_pitches": [60], "response_pitches": [60, 62]}, "one MIDI pitch per onset"),
    ({"call_pitches": [60, 128], "response_pitches": [60, 62]}, "0 to 127"),
    ({"call_pitches": [60, 61.5], "response_pitches": [60, 62]}, "whole MIDI"),
])
def test_bad_parameters(kw, match):
    with pytest.raises(ValueError, match=match):
        score_imitation([0.0, 0.5], [1.0, 1.5], **kw)


# --- properties -----------------------------------------------------------------

# Times on a grid of 1/1024 s: shifts are exact in binary floating point.
TICK_S = 1.0 / 1024.0


@st.composite
def trials(draw):
    call_iois = draw(st.lists(st.integers(100, 1200), min_size=0, max_size=10))
    call = np.concatenate([[0], np.cumsum(call_iois, dtype=np.int64)])
    gap = draw(st.integers(-200, 3500))  # first response onset relative to the call's end
    end = call[-1] + (call_iois[-1] if call_iois else 0)
    resp_iois = draw(st.lists(st.integers(50, 1500), min_size=0, max_size=12))
    n_resp = draw(st.integers(0, len(resp_iois) + 1))
    resp = (end + gap + np.concatenate([[0], np.cumsum(resp_iois, dtype=np.int64)]))[:n_resp]
    resp = resp[resp >= 0]
    offset = draw(st.integers(0, 5000))
    pitches = draw(st.lists(st.integers(55, 70), min_size=call.size + resp.size,
                            max_size=call.size + resp.size))
    return ((call + offset) * TICK_S, (resp + offset) * TICK_S,
            pitches[:call.size], pitches[call.size:])


def _kw(call, resp, cp, rp, **kw):
    return score_imitation(call, resp, call_pitches=cp, response_pitches=rp, **kw)


@settings(max_examples=200, deadline=None)
@given(trial=trials(), shift=st.integers(0, 10**6), invariant=st.booleans())
def test_shifting_everything_changes_only_absolute_times(trial, shift, invariant):
    call, resp, cp, rp = trial
    a = _kw(call, resp, cp, rp, tempo_invariant=invariant).to_dict()
    b = _kw(call + shift * TICK_S, resp + shift * TICK_S, cp, rp, tempo_invariant=invariant).to_dict()
    assert b.pop("call_end_s") == a.pop("call_end_s") + shift * TICK_S
    assert a == b


@settings(max_examples=200, deadline=None)
@given(trial=trials(), shift=st.integers(0, 1000))
def test_delaying_the_response_adds_only_latency(trial, shift):
    call, resp, cp, rp = trial
    a = _kw(call, resp, cp, rp, window_s=10.0).to_dict()
    b = _kw(call, resp + shift * TICK_S, cp, rp, window_s=10.0).to_dict()
    if a["response_present"] and b["response_present"]:
        # gap >= -200 ticks > -early_s: delaying never drops an onset.
        assert b.pop("response_latency_ms") == pytest.approx(
            a.pop("response_latency_ms") + shift * TICK_S * 1000.0, abs=1e-6)
        assert a == b


@settings(max_examples=200, deadline=None)
@given(trial=trials(), factor=st.integers(40, 250).map(lambda x: x / 100.0))
def test_changing_the_tempo_changes_nothing_with_tempo_invariance(trial, factor):
    call, resp, cp, rp = trial
    # Thresholds off the 1/1024 grid, so no result sits exactly on one and
    # flips with the last bit of a rescaled time.
    kw = {"tempo_invariant": True, "ioi_tolerance": 0.2437, "max_ioi_error_rel": 0.2113,
          "window_s": 10.0}
    a = _kw(call, resp, cp, rp, **kw).to_dict()
    scaled = resp[0] + factor * (resp - resp[0]) if resp.size else resp
    b = _kw(call, scaled, cp, rp, **kw).to_dict()
    if a["tempo_ratio"] is not None:
        assert b.pop("tempo_ratio") == pytest.approx(a.pop("tempo_ratio") * factor, rel=1e-9)
    for key in ("ioi_error_ms", "ioi_error_rel", "rhythm_similarity"):
        if a[key] is None:
            assert b.pop(key) is None
            a.pop(key)
        else:
            assert b.pop(key) == pytest.approx(a.pop(key), rel=1e-9, abs=1e-9)
    assert a == b


@settings(max_examples=200, deadline=None)
@given(trial=trials())
def test_invariants(trial):
    call, resp, cp, rp = trial
    r = _kw(call, resp, cp, rp)
    assert r.onsets_matched + r.onsets_missed == r.n_call == len(call)
    if r.response_present:
        assert r.onsets_matched + r.onsets_extra == r.n_response
        assert r.onsets_matched >= 1  # the aligned first onsets always match
        assert 0.0 <= r.rhythm_similarity <= 1.0
        assert 0.0 <= r.pitch_match <= 1.0 and 0.0 <= r.contour_match <= 1.0
    assert r.correct == (r.failed == ()) == (r.reason is None)
    for value in r.to_dict().values():
        assert not (isinstance(value, float) and math.isnan(value))


@settings(max_examples=200, deadline=None)
@given(trial=trials(), gap=st.integers(-200, 3000), factor=st.integers(50, 200))
def test_a_copy_is_correct_and_a_stretched_copy_with_tempo_invariance(trial, gap, factor):
    call, _, cp, _ = trial
    call = call + 1.0  # room for a response that starts early
    end = call[-1] + (call[-1] - call[-2] if call.size > 1 else 0.0)
    copy = end + gap * TICK_S + (call - call[0])
    r = score_imitation(call, copy, call_pitches=cp, response_pitches=cp,
                        require_pitch=True, require_contour=True)
    assert r.correct and r.onsets_matched == len(call)
    assert r.rhythm_similarity == 1.0 and r.response_latency_ms == pytest.approx(gap * TICK_S * 1000)
    stretched = end + gap * TICK_S + (call - call[0]) * (factor / 100.0)
    r = score_imitation(call, stretched, tempo_invariant=True)
    assert r.correct and r.rhythm_similarity == pytest.approx(1.0)


def test_onsets_played_over_the_call_are_counted_apart_from_the_response():
    # Call at 0, 0.5, 1.0 s ending at 1.5 s; early_s 0.25 s lets a response start at 1.25 s.
    # The child plays at 0.6 and 1.1 s (over the call), then 1.3, 1.8, 2.3 s.
    r = score_imitation([0.0, 0.5, 1.0], [0.6, 1.1, 1.3, 1.8, 2.3], call_end_s=1.5, early_s=0.25)
    assert r.onsets_during_call == 2 and r.n_response == 3
    assert r.response_latency_ms == pytest.approx(-200.0)
    # A child who waits has none, and one who never plays has none.
    assert score_imitation([0.0, 0.5, 1.0], [1.6, 2.1, 2.6], call_end_s=1.5).onsets_during_call == 0
    assert score_imitation([0.0, 0.5, 1.0], [], call_end_s=1.5).onsets_during_call == 0
    # Onsets before the call began are not the child playing over it.
    assert score_imitation([1.0, 1.5], [0.2, 2.5, 3.0], call_end_s=2.0).onsets_during_call == 0
