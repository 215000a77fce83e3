"""Tests of engine.simulation.models: the scores report what each model did."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from engine.errors import ConfigError
from engine.scoring.blanks import score_blank
from engine.scoring.imitation import score_imitation
from engine.scoring.inhibition import score_stop
from engine.scoring.sync import match_taps, summarize
from engine.scoring.turns import score_turn
from engine.simulation.models import MODELS, STOP_REACTION_S, SimEvent, make_model
from engine.simulation.tapping import norms_at

CUES = 1.0 + 0.6 * np.arange(16)  # 100 BPM metronome
WARMUP = 3  # the child needs two cues to find the tempo; the third is its first tap
CALL = [0.0, 0.5, 1.0, 1.25, 1.5, 2.0, 2.5, 2.75]
PITCHES = [60, 62, 64, 62, 60, 64, 67, 60]
CALL_END = 3.25
TURN = (10.0, 14.0)
SEEDS = range(10)


def times(events: list[SimEvent]) -> list[float]:
    return [e.time_s for e in events]


def sync(name: str, seed: int, **kw):
    taps = times(make_model(name, seed=seed, **kw).tap_along(CUES))
    return summarize(match_taps(CUES, taps), len(taps), tap_s=taps, warmup=WARMUP, window_ms=80.0)


def echo(name: str, seed: int, **kw):
    events = make_model(name, seed=seed, **kw).respond(CALL, PITCHES, CALL_END)
    score = score_imitation(CALL, times(events), call_pitches=PITCHES,
                            response_pitches=[e.note for e in events], call_end_s=CALL_END)
    return events, score


def turn(name: str, seed: int, **kw):
    events = make_model(name, seed=seed, **kw).take_turn(*TURN)
    return events, score_turn(*TURN, times(events))


def test_models_and_unknown_name():
    assert list(MODELS) == ["steady", "early", "drifting", "impulsive", "slow", "silent",
                            "double", "learning"]
    with pytest.raises(ConfigError, match="choose one of"):
        make_model("sleepy")
    with pytest.raises(ValueError):
        make_model("steady", trial_index=-1)


@pytest.mark.parametrize("name", list(MODELS))
def test_deterministic_with_a_seed(name):
    def run(seed):
        m = make_model(name, seed=seed, trial_index=2)
        return m.tap_along(CUES), m.respond(CALL, PITCHES, CALL_END), m.take_turn(*TURN)

    assert run(5) == run(5)
    if name != "silent":
        assert run(5) != run(6)


@pytest.mark.parametrize("name", list(MODELS))
def test_events_are_well_formed(name):
    m = make_model(name, seed=1)
    for events in (m.tap_along(CUES), m.respond(CALL, PITCHES, CALL_END), m.take_turn(*TURN)):
        t = times(events)
        assert t == sorted(t) and len(set(t)) == len(t)
        assert all(1 <= e.velocity <= 127 for e in events)
        assert all(isinstance(e.truth, dict) and e.truth["situation"] for e in events)


# -- steady ---------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_steady_taps_in_time(seed):
    s = sync("steady", seed)
    assert s.scorable and s.missed == 0 and s.extra == 0
    assert s.within_window_pct >= 90.0
    assert abs(s.asynchrony_mean_ms) < 20.0
    assert abs(s.tempo_ratio - 1.0) < 0.02


@pytest.mark.parametrize("seed", SEEDS)
def test_steady_echoes_correctly_and_waits(seed):
    events, r = echo("steady", seed)
    assert r.correct and r.pitch_match == 1.0 and r.contour_match == 1.0
    assert r.response_latency_ms == pytest.approx(events[0].truth["latency_s"] * 1000.0)
    assert 200.0 <= r.response_latency_ms <= 600.0
    events, t = turn("steady", seed)
    assert t.waited and t.overlap_ms == 0.0 and t.initiated
    assert t.initiation_latency_ms == pytest.approx(events[0].truth["latency_s"] * 1000.0)
    assert t.turn_length_notes == 4


def test_intended_asynchrony_is_what_the_scorer_measures():
    events = make_model("steady", seed=3).tap_along(CUES)
    taps = times(events)
    for m in match_taps(CUES, taps):
        if m.matched:
            truth = events[m.tap_index].truth
            assert truth["cue_index"] == m.cue_index
            assert m.asynchrony_ms == pytest.approx(truth["intended_asynchrony_ms"])


# -- early ----------------------------------------------------------------


def test_early_taps_ahead_like_the_norms():
    norm = norms_at(600.0)
    summaries = [sync("early", seed) for seed in SEEDS]
    means = [s.asynchrony_mean_ms for s in summaries]
    sds = [s.asynchrony_sd_ms for s in summaries]
    assert all(s.scorable for s in summaries)
    # Pooled over 10 runs of 13 scored taps: mean within ±15 ms of the norm (−40 ms).
    assert np.mean(means) == pytest.approx(norm.mean_asynchrony_ms, abs=15.0)
    assert np.mean(means) < -20.0
    # Within-run SD like the norm's within-trial SD (37 ms), within 40 %.
    assert np.mean(sds) == pytest.approx(norm.within_trial_sd_ms, rel=0.4)
    steady_sd = np.mean([sync("steady", seed).asynchrony_sd_ms for seed in SEEDS])
    assert np.mean(sds) > 1.5 * steady_sd


def test_early_comes_in_early_but_echoes_correctly():
    latencies = []
    for seed in SEEDS:
        events, r = echo("early", seed)
        assert r.response_present
        assert r.response_latency_ms == pytest.approx(events[0].truth["latency_s"] * 1000.0)
        assert r.ioi_error_rel < 0.2
        latencies.append(r.response_latency_ms)
    assert np.mean(latencies) < 0.0
    turns = [turn("early", seed)[1] for seed in SEEDS]
    assert all(t.waited and t.initiated for t in turns)
    assert np.mean([t.initiation_latency_ms for t in turns]) < 0.0


# -- drifting -------------------------------------------------------------


def test_drifting_misses_what_steady_meets():
    for seed in SEEDS:
        d, s = sync("drifting", seed), sync("steady", seed)
        assert d.tempo_ratio > 1.03  # 1.5 % per beat, slowing
        assert d.within_window_pct < s.within_window_pct
        assert d.within_window_pct < 70.0


def test_drifting_intervals_are_the_intended_ones():
    events = make_model("drifting", seed=2).tap_along(CUES)
    intended = [e.truth["intended_iti_s"] for e in events[1:]]
    assert intended == pytest.approx([0.6 * 1.015 ** k for k in range(1, len(events))])
    assert all(e.truth["drift_pct_per_beat"] == 1.5 for e in events)


@pytest.mark.parametrize("seed", SEEDS)
def test_drifting_echo_drifts(seed):
    events, r = echo("drifting", seed)
    intended = sum(e.truth["intended_ioi_s"] for e in events[1:])
    assert r.tempo_ratio == pytest.approx(intended / (CALL[-1] - CALL[0]), abs=0.03)
    assert r.tempo_ratio > 1.03


# -- impulsive ------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_impulsive_plays_over_the_engine(seed):
    events, t = turn("impulsive", seed)
    over = [e for e in events if e.truth["phase"] == "engine_turn"]
    assert len(over) == events[0].truth["interruptions"] >= 2
    assert events[0].truth["waited"] is False
    assert t.waited is False
    assert t.onsets_during_turn == len(over)
    assert t.overlap_ms > 0.0
    # It never waited, so its playing after the hand-over is not a turn (docs/definitions.md, T2) ...
    assert not t.initiated and t.initiation_latency_ms is None and t.turn_length_notes == 0
    # ... though it came in at once, as the model intended.
    assert t.first_onset_after_handover_ms == pytest.approx(events[0].truth["latency_s"] * 1000.0)


@pytest.mark.parametrize("seed", SEEDS)
def test_impulsive_jumps_in_before_the_call_ends(seed):
    events, r = echo("impulsive", seed)
    latency_s = events[0].truth["latency_s"]
    assert -0.8 <= latency_s <= -0.4
    assert events[0].time_s < CALL_END
    # Counting everything from the call's start, the scorer sees the early start.
    wide = score_imitation(CALL, times(events), call_end_s=CALL_END, early_s=CALL_END)
    assert wide.response_latency_ms == pytest.approx(latency_s * 1000.0)
    # Scored as usual, onsets played during the call do not count.
    assert r.n_response < len(events)


def test_impulsive_rushes_and_adds_taps():
    summaries = [sync("impulsive", seed) for seed in SEEDS]
    assert np.mean([s.asynchrony_mean_ms for s in summaries]) < -30.0
    assert sum(s.extra for s in summaries) > 0


# -- slow -----------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_slow_answers_late(seed):
    events, r = echo("slow", seed)
    assert 1500.0 <= r.response_latency_ms <= 3000.0
    assert r.response_latency_ms == pytest.approx(events[0].truth["latency_s"] * 1000.0)
    events, t = turn("slow", seed)
    assert t.waited and t.initiated
    assert 1500.0 <= t.initiation_latency_ms <= 3000.0
    assert t.initiation_latency_ms == pytest.approx(events[0].truth["latency_s"] * 1000.0)


@pytest.mark.parametrize("seed", SEEDS)
def test_slow_starts_tapping_late(seed):
    events = make_model("slow", seed=seed).tap_along(CUES)
    latency_s = events[0].truth["start_latency_s"]
    assert 1.5 <= latency_s <= 3.0
    first_cue = min(e.truth["cue_index"] for e in events)
    # It hears its first cue after the latency, then needs two cues to find the tempo.
    assert CUES[first_cue - 2] >= CUES[0] + latency_s
    assert sync("slow", seed).missed >= first_cue - WARMUP


# -- silent ---------------------------------------------------------------


def test_silent_never_responds():
    m = make_model("silent", seed=0)
    assert m.tap_along(CUES) == [] and m.respond(CALL, PITCHES, CALL_END) == [] and m.take_turn(*TURN) == []
    s = summarize(match_taps(CUES, []), 0, tap_s=[], warmup=WARMUP)
    assert not s.scorable and s.matched == 0
    r = score_imitation(CALL, [], call_end_s=CALL_END)
    assert r.response_present is False and not r.correct
    t = score_turn(*TURN, [])
    assert t.initiated is False and t.waited is None  # played nothing: nothing to say about waiting


# -- double ---------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_double_hits_are_extra_taps(seed):
    events = make_model("double", seed=seed).tap_along(CUES)
    doubles = [e for e in events if e.truth["kind"] == "double"]
    assert len(doubles) == len(events) // 2
    assert all(20.0 <= e.truth["double_gap_ms"] <= 40.0 for e in doubles)
    s = sync("double", seed)
    # Every scored beat is hit twice: one hit is matched, the other is extra.
    assert s.matched == s.n_cues and s.extra == s.matched
    assert s.within_window_pct >= 90.0


@pytest.mark.parametrize("seed", SEEDS)
def test_double_in_echo_and_turn(seed):
    events, r = echo("double", seed)
    hits = [e for e in events if e.truth["kind"] == "double"]
    assert len(hits) == len(CALL)
    assert r.onsets_matched == len(CALL) and r.onsets_extra == len(hits)
    assert not r.correct and "onsets_extra" in r.failed
    _, t = turn("double", seed)
    assert t.waited and t.turn_length_notes == 2 * MODELS["double"].turn_notes


# -- learning -------------------------------------------------------------


def test_learning_error_factor():
    factors = [make_model("learning", trial_index=k).error_factor for k in range(12)]
    assert factors[0] == 1.0
    assert all(a > b for a, b in itertools.pairwise(factors))
    assert factors[-1] == pytest.approx(0.15 + 0.85 * np.exp(-11 / 3))
    assert make_model("steady", trial_index=9).error_factor == 1.0


def test_learning_echo_error_shrinks():
    def mean_error(trials):
        return np.mean([echo("learning", seed, trial_index=k)[1].ioi_error_rel
                        for k in trials for seed in SEEDS])

    early, late = mean_error(range(3)), mean_error(range(8, 11))
    assert late < 0.5 * early
    assert early > 0.15 and late < 0.08


def test_learning_tapping_and_waiting_improve():
    def sd(trials):
        return np.mean([sync("learning", seed, trial_index=k).asynchrony_sd_ms
                        for k in trials for seed in SEEDS])

    assert sd(range(8, 11)) < 0.6 * sd(range(3))

    def interruptions(trials):
        return sum(turn("learning", seed, trial_index=k)[1].onsets_during_turn
                   for k in trials for seed in SEEDS)

    assert interruptions(range(8, 11)) < 0.5 * interruptions(range(3))


# -- the call end default -------------------------------------------------


def test_respond_defaults_to_the_scorers_call_end():
    events = make_model("steady", seed=4).respond(CALL)
    r = score_imitation(CALL, times(events))
    assert r.call_end_s == pytest.approx(CALL[-1] + (CALL[-1] - CALL[-2]))
    assert r.response_latency_ms == pytest.approx(events[0].truth["latency_s"] * 1000.0)
    assert all(e.note is None for e in events)


# -- stop-and-go and fill-in-the-blank -----------------------------------------

GO = [20.0 + 0.6 * k for k in range(8)]  # two bars at 100 BPM
STOP, STOP_END = 24.8, 28.8
STOPPED_NOTES = [24.8 + 0.6 * k for k in range(7)]
BLANK, BEAT = 40.0, 0.6
PHRASE = [37.6, 38.2, 38.8, 39.4]  # the engine's notes before the blank


def stop_go(name: str, seed: int, cued: bool = True, **kw):
    events = make_model(name, seed=seed, **kw).play_stop_go(GO, STOP, STOP_END, stopped_notes_s=STOPPED_NOTES,
                                                             cued=cued)
    return events, score_stop(GO[0] - 0.3, STOP, STOP_END, times(events))


def fill(name: str, seed: int, **kw):
    events = make_model(name, seed=seed, **kw).fill_blank(BLANK, BEAT, phrase_s=PHRASE)
    return events, score_blank(BLANK, times(events), beat_s=BEAT)


@pytest.mark.parametrize("name", list(MODELS))
def test_new_situations_are_deterministic_and_well_formed(name):
    for call in (lambda s: stop_go(name, s)[0], lambda s: fill(name, s)[0]):
        assert call(5) == call(5)
        if name != "silent":
            assert call(5) != call(6)
        events = call(1)
        t = times(events)
        assert t == sorted(t) and len(set(t)) == len(t) and all(1 <= e.velocity <= 127 for e in events)
        assert all(e.truth["situation"] in ("stop_go", "fill_blank") for e in events)
        assert all(t < STOP_END for t in times(stop_go(name, 1)[0]))


@pytest.mark.parametrize("seed", SEEDS)
def test_steady_plays_along_and_stops_within_its_reaction_time(seed):
    events, r = stop_go("steady", seed)
    # The 8 go notes and the note the music would have played at the stop (already prepared),
    # which may land a moment before the stop: 8 or 9 go onsets.
    assert len(events) == 9 and r.go_onsets in (8, 9)
    assert r.correct and r.stopped and r.played_during_go
    kept = events[0].truth["kept_going_s"]
    assert STOP_REACTION_S[0] <= kept <= STOP_REACTION_S[1]
    assert all(e.time_s < STOP + kept for e in events)
    assert r.stop_latency_ms < 300.0
    # Without a count-in it needs the first note to hear the music start.
    assert len(stop_go("steady", seed, cued=False)[0]) == 8


@pytest.mark.parametrize("seed", SEEDS)
def test_impulsive_keeps_going_into_the_stop(seed):
    events, r = stop_go("impulsive", seed)
    overrun = events[-1].truth["kept_going_s"]
    assert 0.5 <= overrun <= 1.5 and events[-1].truth["kind"] == "last"
    assert not r.stopped and not r.correct and r.played_during_go and r.onsets_during_stop >= 1
    assert r.stop_latency_ms == pytest.approx(overrun * 1000.0)
    assert [e.truth["phase"] for e in events if e.time_s >= STOP] and all(
        e.truth["phase"] == ("go" if e.time_s < STOP else "stop") for e in events)


@pytest.mark.parametrize("seed", SEEDS)
def test_slow_joins_late_and_stops_late(seed):
    events, r = stop_go("slow", seed)
    assert events[0].time_s >= GO[0] + 1.5 - 0.1 and r.go_onsets < 8
    assert not r.stopped and r.stop_latency_ms >= 1500.0 - 1e-6


def test_silent_plays_nothing_and_scoring_copes():
    events, r = stop_go("silent", 0)
    assert events == [] and r.stopped is None and not r.played_during_go and not r.correct
    assert r.stop_latency_ms is None
    events, b = fill("silent", 0)
    assert events == [] and not b.filled and b.extra_onsets == 0


@pytest.mark.parametrize("seed", SEEDS)
def test_double_stops_with_every_hit_twice(seed):
    events, r = stop_go("double", seed)
    assert r.stopped and r.correct and len(events) == 18 and r.go_onsets in (16, 17, 18)
    assert sum(e.truth["kind"] == "double" for e in events) == len(events) // 2


def test_early_plays_ahead_and_drifting_falls_behind():
    offsets = [stop_go("early", seed)[0][0].time_s - GO[0] for seed in range(40)]
    assert np.mean(offsets) == pytest.approx(norms_at(600.0).mean_asynchrony_ms / 1000.0, abs=0.015)
    for seed in SEEDS:
        early = stop_go("early", seed)[0]
        assert early[0].time_s - GO[0] == pytest.approx(early[0].truth["start_offset_s"]) and stop_go("early", seed)[1].stopped
        drifting = [e for e in stop_go("drifting", seed)[0] if e.time_s < STOP]
        lags = [e.time_s - GO[k] for k, e in enumerate(drifting)]
        assert lags[-1] > lags[1] + 0.1  # 1.5 % per beat adds up to ~0.3 s over 8 beats
        assert stop_go("drifting", seed)[1].stopped


def test_learning_stops_once_it_has_learned():
    first = [stop_go("learning", seed, trial_index=0)[1].stopped for seed in SEEDS]
    later = [stop_go("learning", seed, trial_index=12)[1].stopped for seed in SEEDS]
    assert not any(first) and all(later)


@pytest.mark.parametrize("seed", SEEDS)
def test_steady_early_double_and_impulsive_fill_the_blank(seed):
    events, r = fill("steady", seed)
    assert r.filled and r.extra_onsets == 0 and abs(r.blank_asynchrony_ms) < 100
    assert events[0].truth["intended_offset_ms"] == 0.0
    events, r = fill("early", seed)
    assert r.filled and r.blank_asynchrony_ms == pytest.approx(events[0].truth["intended_offset_ms"])
    _, r = fill("double", seed)
    assert r.filled and r.extra_onsets == 1
    events, r = fill("impulsive", seed)
    fills = [e for e in events if e.truth["kind"] == "fill"]
    assert r.filled and -150.0 <= fills[0].truth["intended_offset_ms"] <= 0.0
    assert 2 <= r.extra_onsets <= 4 == len(PHRASE)


def test_early_fills_early_on_average():
    asyncs = [fill("early", seed)[1].blank_asynchrony_ms for seed in range(40)]
    assert np.mean(asyncs) == pytest.approx(norms_at(BEAT * 1000).mean_asynchrony_ms, abs=15.0)


def test_slow_fills_late_and_sometimes_misses():
    results = [fill("slow", seed) for seed in range(40)]
    late = [ev[0].truth["intended_offset_ms"] for ev, _ in results]
    assert all(0.2 * BEAT * 1000 <= x <= 0.8 * BEAT * 1000 for x in late)
    filled = [r.filled for _, r in results]
    assert 5 < sum(filled) < 35  # about half: late by more than half a beat in 0.3 / 0.6 of draws


def test_drifting_fills_late_by_its_drift():
    events, r = fill("drifting", 0)
    beats = round((BLANK - PHRASE[0]) / BEAT)  # 4 beats from the phrase's first note
    expected = BEAT * sum(1.015 ** k - 1 for k in range(1, beats + 1)) * 1000.0
    assert events[0].truth["intended_offset_ms"] == pytest.approx(expected) and r.filled


def test_learning_fills_later_at_first_than_after_practice():
    first = [fill("learning", seed, trial_index=0)[1].filled for seed in range(20)]
    later = [fill("learning", seed, trial_index=12)[1].filled for seed in range(20)]
    assert sum(first) < 15 and all(later)
