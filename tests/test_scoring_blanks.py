"""Fill-in-the-blank scoring with constructed times: filled or not, asynchrony exact, extras counted."""

from __future__ import annotations

import pytest

from engine.scoring.blanks import DEFAULT_WINDOW_BEATS, score_blank


def test_filled_on_time():
    r = score_blank(5.0, [5.0], beat_s=0.6)
    assert (r.correct, r.filled, r.blank_asynchrony_ms, r.extra_onsets) == (True, True, 0.0, 0)
    assert r.window_ms == pytest.approx(300.0)  # half of a 600 ms beat
    assert DEFAULT_WINDOW_BEATS == 0.5


def test_early_and_late_within_the_window():
    assert score_blank(5.0, [4.88], beat_s=0.6).blank_asynchrony_ms == pytest.approx(-120.0)
    assert score_blank(5.0, [5.3], beat_s=0.6).filled  # the edge counts
    assert score_blank(5.0, [5.3], beat_s=0.6).blank_asynchrony_ms == pytest.approx(300.0)


def test_outside_the_window_is_not_filled():
    r = score_blank(5.0, [5.31, 4.5], beat_s=0.6)
    assert (r.filled, r.correct, r.blank_asynchrony_ms, r.extra_onsets) == (False, False, None, 2)


def test_nearest_onset_fills_and_the_rest_are_extras():
    r = score_blank(5.0, [3.2, 4.9, 5.05, 5.2], beat_s=0.6)
    assert r.filled and r.blank_asynchrony_ms == pytest.approx(50.0) and r.extra_onsets == 3


def test_explicit_window_overrides_the_beat():
    assert not score_blank(5.0, [5.1], window_ms=80).filled
    assert score_blank(5.0, [5.08], window_ms=80, beat_s=10.0).filled


def test_silent_child():
    r = score_blank(5.0, [], beat_s=0.5)
    assert r.to_dict() == {"correct": False, "filled": False, "blank_asynchrony_ms": None, "extra_onsets": 0,
                           "window_ms": 250.0}


@pytest.mark.parametrize(("kw", "says"), [({}, "give window_ms"), ({"beat_s": 0}, "give window_ms"),
                                          ({"window_ms": 0}, "positive"), ({"window_ms": float("inf")}, "positive")])
def test_bad_windows(kw, says):
    with pytest.raises(ValueError, match=says):
        score_blank(5.0, [5.0], **kw)
