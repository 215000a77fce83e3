"""Stop-and-go scoring with constructed times: stopped or not, latency figures exact."""

from __future__ import annotations

import math

import pytest

from engine.scoring.inhibition import MIN_GO_ONSETS, STOP_GRACE_MS, score_stop

GO, STOP, END = 10.0, 14.0, 17.0
ALONG = [10.0, 10.5, 11.0, 11.5, 12.0, 12.5, 13.0, 13.5]


def test_played_along_and_froze():
    r = score_stop(GO, STOP, END, ALONG)
    assert (r.correct, r.stopped, r.played_during_go) == (True, True, True)
    assert (r.go_onsets, r.onsets_during_stop, r.stop_latency_ms) == (8, 0, 0.0)
    assert r.grace_ms == STOP_GRACE_MS == 400.0


def test_a_hit_within_the_grace_is_forgiven_and_timed():
    r = score_stop(GO, STOP, END, [*ALONG, 14.25])
    assert r.stopped and r.correct and r.onsets_during_stop == 0
    assert r.stop_latency_ms == pytest.approx(250.0, abs=1e-9)


def test_playing_on_past_the_grace_is_not_stopped():
    r = score_stop(GO, STOP, END, [*ALONG, 14.0, 14.5, 15.0, 15.25])
    assert not r.stopped and not r.correct
    assert r.onsets_during_stop == 3  # 14.5, 15.0, 15.25: 14.0 is within the grace
    assert r.stop_latency_ms == pytest.approx(1250.0, abs=1e-9)


def test_the_grace_boundary_is_half_open():
    # 14.4 is exactly stop + 400 ms: it is in the stop span, not the grace.
    assert not score_stop(GO, STOP, END, [*ALONG, 14.4]).stopped
    assert score_stop(GO, STOP, END, [*ALONG, 14.399]).stopped
    assert score_stop(GO, STOP, END, [*ALONG, 14.4], grace_ms=500).stopped


def test_onsets_outside_the_trial_are_ignored_and_order_does_not_matter():
    r = score_stop(GO, STOP, END, [17.0, 9.9, *reversed(ALONG), 20.0])
    assert (r.go_onsets, r.onsets_during_stop, r.stopped) == (8, 0, True)


def test_silent_child_did_not_play_and_says_nothing_about_stopping():
    r = score_stop(GO, STOP, END, [])
    assert (r.stopped, r.played_during_go, r.correct, r.go_onsets) == (None, False, False, 0)
    assert r.stop_latency_ms is None
    d = r.to_dict()
    assert d["stop_latency_ms"] is None and not any(isinstance(v, float) and math.isnan(v) for v in d.values())


def test_one_stray_hit_is_not_playing_along():
    assert MIN_GO_ONSETS == 2
    r = score_stop(GO, STOP, END, [12.0])
    assert not r.played_during_go and r.stopped and not r.correct and r.stop_latency_ms == 0.0
    assert score_stop(GO, STOP, END, [12.0, 12.5]).correct


def test_playing_only_in_the_stop():
    r = score_stop(GO, STOP, END, [15.0, 16.0])
    assert (r.go_onsets, r.onsets_during_stop, r.played_during_go, r.stopped) == (0, 2, False, False)
    assert r.stop_latency_ms == pytest.approx(2000.0)


@pytest.mark.parametrize(("args", "kw", "says"), [
    ((14.0, 10.0, 17.0, []), {}, "in order"),
    ((10.0, 14.0, 14.0, []), {}, "in order"),
    ((10.0, 14.0, 14.3, []), {}, "leaves nothing"),
    ((10.0, 14.0, 17.0, []), {"grace_ms": -1}, "grace_ms"),
    ((10.0, 14.0, 17.0, [float("nan")]), {}, "finite"),
])
def test_bad_arguments(args, kw, says):
    with pytest.raises(ValueError, match=says):
        score_stop(*args, **kw)
    with pytest.raises(TypeError):
        score_stop("10", 14.0, 17.0, [])
