"""Tests of engine.scoring.turns on hand-worked exchanges and by property.

The engine's turn in the hand-worked cases runs from 10.0 to 14.0 s; with the
defaults (grace 0.2 s, initiation window 3 s, turn gap 1.5 s, longest turn
10 s, a note sounds 0.25 s) the child must wait through [10.2, 13.8) and may
start in [13.8, 17.0].
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.scoring.turns import TurnResult, score_turn

START, END = 10.0, 14.0


# --- hand-worked exchanges ----------------------------------------------------------


def test_child_who_plays_during_the_engines_turn():
    child = [9.0,           # before the engine's turn: ignored
             10.1,          # in the opening grace window: forgiven
             11.0, 11.1, 11.5,  # interruptions
             13.9,          # in the closing grace window, 100 ms early: but the child did not wait
             14.3, 14.8,    # the child plays on (gaps 0.4, 0.5 ≤ 1.5)
             17.0]          # 2.2 s after 14.8 > 1.5
    r = score_turn(START, END, child)
    assert r.waited is False and r.onsets_during_turn == 3
    # [11.0, 11.25] ∪ [11.1, 11.35] ∪ [11.5, 11.75] = 0.35 + 0.25 = 0.6 s
    assert r.overlap_ms == pytest.approx(600.0, abs=1e-9)
    # Initiation is judged only after a wait: playing through the engine's
    # turn and on past the hand-over is not taking a turn.
    assert r.initiated is False and r.initiation_latency_ms is None
    assert r.turn_length_notes == 0 and r.turn_end_s is None and r.turn_capped is False
    # The first onset after the hand-over is kept, uncredited.
    assert r.first_onset_after_handover_ms == pytest.approx(-100.0, abs=1e-9)


def test_child_who_waits_then_starts_in_the_closing_grace_window():
    # The same child without the interruptions: 10.1 is forgiven, so it waited.
    r = score_turn(START, END, [9.0, 10.1, 13.9, 14.3, 14.8, 17.0])
    assert r.waited is True and r.onsets_during_turn == 0 and r.overlap_ms == 0.0
    assert r.initiated is True
    assert r.initiation_latency_ms == pytest.approx(-100.0, abs=1e-9)
    assert r.first_onset_after_handover_ms == r.initiation_latency_ms
    assert r.turn_length_notes == 3  # 13.9, 14.3, 14.8 (gaps 0.4, 0.5 ≤ 1.5); 17.0 is 2.2 s later
    assert r.turn_end_s == pytest.approx(14.8 + 1.5)
    assert r.turn_capped is False


def test_child_who_never_answers():
    r = score_turn(START, END, [])
    # Silence is not waiting: a child who played nothing at all has no "waited" figure.
    assert r == TurnResult(waited=None, onsets_during_turn=0, overlap_ms=0.0, initiated=False,
                           initiation_latency_ms=None, first_onset_after_handover_ms=None,
                           turn_length_notes=0, turn_end_s=None, turn_capped=False)
    # Playing only after the window (17.5 > 14 + 3) is not initiating either.
    r = score_turn(START, END, [17.5, 18.0])
    assert r.initiated is False and r.initiation_latency_ms is None and r.turn_length_notes == 0
    # Nor is playing only before the engine's turn.
    assert score_turn(START, END, [8.0, 9.5]) == score_turn(START, END, [])


def test_child_who_waits_and_answers_at_once():
    r = score_turn(START, END, [14.0, 14.5, 15.0])
    assert r.waited is True and r.overlap_ms == 0.0
    assert r.initiated is True and r.initiation_latency_ms == 0.0
    assert r.turn_length_notes == 3 and r.turn_end_s == 16.5  # 15.0 + 1.5


def test_child_who_plays_along_the_whole_turn():
    # Onsets every 0.125 s from 10.25 to 13.75 (inside the core): notes of
    # 0.25 s overlap, so the child sounds from 10.25 to 13.75 + 0.25 = 14.0.
    child = np.arange(10.25, 13.75 + 1e-9, 0.125)
    r = score_turn(START, END, child)
    assert r.onsets_during_turn == child.size == 29
    assert r.overlap_ms == pytest.approx(3750.0, abs=1e-9)
    assert r.initiated is False


def test_overlap_is_clipped_at_the_hand_over():
    # No grace: 13.875 + 0.25 would reach 14.125; only 125 ms are in the turn.
    r = score_turn(START, END, [13.875], grace_s=0.0)
    assert r.waited is False and r.overlap_ms == 125.0 and r.initiated is False


def test_grace_window_boundaries():
    # Grace 0.25: an onset at exactly start + grace interrupts; one at exactly
    # end − grace initiates with latency −250 ms.
    r = score_turn(START, END, [10.25], grace_s=0.25)
    assert r.waited is False and r.onsets_during_turn == 1 and r.overlap_ms == 250.0
    r = score_turn(START, END, [10.125, 13.75], grace_s=0.25)
    assert r.waited is True and r.initiated is True and r.initiation_latency_ms == -250.0
    # At exactly end + initiate_window_s the child still initiates.
    r = score_turn(START, END, [17.0])
    assert r.initiated and r.initiation_latency_ms == 3000.0


def test_a_gap_of_exactly_turn_gap_continues_the_turn():
    r = score_turn(START, END, [14.5, 16.0, 17.625])
    # 16.0 − 14.5 = 1.5 (continues); 17.625 − 16.0 = 1.625 > 1.5 (ends).
    assert r.turn_length_notes == 2 and r.turn_end_s == 17.5


def test_the_longest_turn_is_capped():
    # Onsets every 1 s from 14.5: the cap is 14.5 + 10 = 24.5, so onsets
    # 14.5 … 23.5 (10 of them) count, and the turn ends at 24.5, not 25.0.
    r = score_turn(START, END, np.arange(14.5, 30.0, 1.0))
    assert r.turn_length_notes == 10 and r.turn_end_s == 24.5 and r.turn_capped
    # A turn whose natural end falls exactly on the cap is not capped: gaps
    # 1.5, 1.5, 1.5, 1.5, 1.5, 1.0; the last onset 23.0 + 1.5 = 24.5 = cap.
    r = score_turn(START, END, [14.5, 16.0, 17.5, 19.0, 20.5, 22.0, 23.0])
    assert r.turn_end_s == 24.5 and r.turn_capped is False and r.turn_length_notes == 7
    # An onset at exactly the cap is cut off.
    r = score_turn(START, END, [14.5, 16.0, 17.5, 19.0, 20.5, 22.0, 23.0, 24.5])
    assert r.turn_end_s == 24.5 and r.turn_capped is True and r.turn_length_notes == 7


def test_to_dict_is_json_ready():
    r = score_turn(START, END, [11.0, 14.5])
    d = r.to_dict()
    assert set(d) == set(TurnResult.__dataclass_fields__)
    assert json.loads(json.dumps(d)) == d
    with pytest.raises(AttributeError):
        r.waited = True  # frozen


# --- bad input ------------------------------------------------------------------


@pytest.mark.parametrize(("child", "match"), [
    ([11.0, 10.5], "strictly increasing"),
    ([11.0, 11.0], "strictly increasing"),
    ([11.0, math.nan], "finite"),
    ([-1.0, 11.0], "negative"),
    ([[11.0]], "one-dimensional"),
])
def test_bad_child_times(child, match):
    with pytest.raises(ValueError, match=match):
        score_turn(START, END, child)


@pytest.mark.parametrize(("start", "end", "match"), [
    (14.0, 14.0, "later than"),
    (14.0, 10.0, "later than"),
    (-1.0, 4.0, "negative"),
    (math.nan, 4.0, "finite"),
    (0.0, math.inf, "finite"),
])
def test_bad_turn_times(start, end, match):
    with pytest.raises(ValueError, match=match):
        score_turn(start, end, [])


def test_a_turn_boundary_that_is_not_a_number():
    with pytest.raises(TypeError, match="time in seconds"):
        score_turn("10", END, [])


@pytest.mark.parametrize(("kw", "match"), [
    ({"grace_s": -0.1}, "grace_s"),
    ({"grace_s": 2.0}, "leaves nothing"),
    ({"initiate_window_s": 0.0}, "initiate_window_s"),
    ({"turn_gap_s": math.nan}, "turn_gap_s"),
    ({"max_turn_s": -1.0}, "max_turn_s"),
    ({"note_s": 0.0}, "note_s"),
])
def test_bad_parameters(kw, match):
    with pytest.raises(ValueError, match=match):
        score_turn(START, END, [], **kw)


def test_grace_zero_is_allowed():
    r = score_turn(START, END, [10.0], grace_s=0.0)
    assert r.waited is False and r.onsets_during_turn == 1


# --- properties -----------------------------------------------------------------

# Times and parameters on a grid of 1/1024 s: shifts are exact in binary
# floating point, so boundary decisions cannot flip with the last bit.
TICK_S = 1.0 / 1024.0
KW = {"grace_s": 0.25, "initiate_window_s": 3.0, "turn_gap_s": 1.5, "max_turn_s": 6.0,
      "note_s": 0.25}


@st.composite
def exchanges(draw):
    start = draw(st.integers(0, 5000))
    length = draw(st.integers(600, 8000))
    gaps = draw(st.lists(st.integers(1, 2500), max_size=25))
    first = draw(st.integers(0, start + length + 4000))
    child = first + np.cumsum(gaps, dtype=np.int64) if gaps else np.array([], dtype=np.int64)
    return start * TICK_S, (start + length) * TICK_S, child * TICK_S


@settings(max_examples=300, deadline=None)
@given(ex=exchanges(), shift=st.integers(0, 10**6))
def test_shifting_everything_changes_only_absolute_times(ex, shift):
    start, end, child = ex
    d = shift * TICK_S
    a = score_turn(start, end, child, **KW).to_dict()
    b = score_turn(start + d, end + d, child + d, **KW).to_dict()
    ta, tb = a.pop("turn_end_s"), b.pop("turn_end_s")
    assert (ta is None and tb is None) or tb == ta + d
    assert a == b


@settings(max_examples=300, deadline=None)
@given(ex=exchanges())
def test_invariants(ex):
    start, end, child = ex
    r = score_turn(start, end, child, **KW)
    assert (r.waited is not False) == (r.onsets_during_turn == 0) == (r.overlap_ms == 0.0)
    assert (r.waited is None) == (r.onsets_during_turn == 0 and not r.initiated)
    assert 0.0 <= r.overlap_ms <= (end - start) * 1000.0
    assert r.overlap_ms <= r.onsets_during_turn * KW["note_s"] * 1000.0 + 1e-9
    assert r.initiated == (r.turn_length_notes >= 1) == (r.turn_end_s is not None)
    # Initiation is judged only after a wait; a silent child never "waited".
    assert r.initiated == (r.waited is True)
    assert r.initiated <= (r.first_onset_after_handover_ms is not None)
    if r.initiated:
        assert r.initiation_latency_ms == r.first_onset_after_handover_ms
        assert -250.0 <= r.initiation_latency_ms <= 3000.0
        first = end + r.initiation_latency_ms / 1000.0
        assert first < r.turn_end_s <= first + KW["max_turn_s"] + 1e-9
    # Onsets before the engine's turn change nothing.
    early = child[child < start]
    if early.size == 0 and start >= 1.0:
        assert score_turn(start, end, np.concatenate([[start - 1.0], child]), **KW) == r
