"""The intervention kinds as pure planners and scorers, driven by hand-made child events."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import ConfigError
from engine.interventions.kinds import (
    CallAndResponse,
    RhythmicCueing,
    StopAndGo,
    TurnTaking,
    make_kind,
)
from engine.interventions.script import load_cueing_song, load_script
from engine.scoring.objectives import evaluate_session
from engine.simulation.models import events_for, make_model
from tests.fixture_files import objective_text, script_text

SONGS = sorted((Path(__file__).resolve().parent.parent / "content" / "songs").glob("*.toml"))


def script(tmp_path, kind, phrases, *, tempo=90, adapt=None, prompts="count_in_beats = 4", trials=10,
           duration_min=None, objectives="", grid="1/8"):
    """Write and load the minimal script as ``kind`` with ``phrases`` (notations: a melody or a rhythm)."""
    length = {"trials": trials} if duration_min is None else {"trials": None, "duration_min": duration_min}
    text = script_text("minimal", kind=kind, tempo_bpm=tempo, grid=grid, source="midi",
                       phrases=[{"melody" if p[0] in "ABCDEFG" else "rhythm": p} for p in phrases], **length)
    if adapt:
        text += f"[adapt]\n{adapt}\n"
    path = tmp_path / f"{kind}.toml"
    path.write_text(text + f"[prompts]\n{prompts}\n{objectives}\n")
    return load_script(path)


ECHO_ADAPT = "up_after = 3\ndown_after = 2\nlength_step = 1\ntempo_step_pct = 5\nmin_tempo_bpm = 60\nmax_tempo_bpm = 120"


def echo(plan, delay_beats=0.0):
    """A perfect echo: the call shifted to start at the end of its bar (plus a delay)."""
    shift = plan.engine_end_s - plan.engine_start_s + delay_beats * 60.0 / plan.tempo_bpm
    return [t + shift for t in plan.cue_times("call")]


def run(kind, plans, responder, start=5.0):
    """Plan, answer with ``responder(plan)``, score and adapt ``plans`` times; the plans and results."""
    out = []
    t = start
    for _ in range(plans):
        plan = kind.next_trial(t)
        result = kind.score(plan, responder(plan))
        kind.adapt(result)
        out.append((plan, result))
        t = plan.end_s
    return out


# -- call and response -------------------------------------------------------


def test_perfect_echo_is_correct_and_steps_up_exactly_after_up_after(tmp_path):
    s = script(tmp_path, "call_and_response", ["x...x...", "x.x.x...", "x.x.xx.."], adapt=ECHO_ADAPT)
    kind = CallAndResponse.from_script(s)
    trials = run(kind, 4, echo)
    assert all(r.correct for _, r in trials)
    assert all(r.scores["correct"] is True and r.trial.scores["onsets_matched"] == p.pattern.notes
               for p, r in trials)
    # Three correct trials at the first level, then one note more and 5 % faster.
    assert [p.pattern.notes for p, _ in trials] == [2, 2, 2, 3]
    assert [p.tempo_bpm for p, _ in trials] == [90.0, 90.0, 90.0, 90.0 * 1.05]
    assert trials[3][0].pattern.onsets_beats == (0.0, 1.0, 2.0)  # the first phrase with 3 notes


def test_misses_make_it_easier_after_down_after_and_a_pass_resets_the_run(tmp_path):
    s = script(tmp_path, "call_and_response", ["x.x.x...", "x.x.xx.."], adapt=ECHO_ADAPT)
    kind = CallAndResponse.from_script(s)
    answers = iter([[], echo, [], [], None])  # miss, pass, miss, miss, (plan only)
    trials = []
    t = 0.0
    for a in answers:
        plan = kind.next_trial(t)
        trials.append(plan)
        if a is None:
            break
        result = kind.score(plan, a(plan) if callable(a) else a)
        assert result.correct is (a is echo)
        if a == []:
            assert result.scores["response_present"] is False
        kind.adapt(result)
        t = plan.end_s
    # miss, pass (resets), miss: no change; the second miss in a row steps down.
    assert [p.pattern.notes for p in trials] == [3, 3, 3, 3, 2]
    assert [p.tempo_bpm for p in trials[:4]] == [90.0] * 4
    assert trials[4].tempo_bpm == pytest.approx(90.0 / 1.05, rel=1e-12)


def test_up_then_down_returns_exactly_and_tempo_stops_at_the_bound(tmp_path):
    adapt = "up_after = 1\ndown_after = 1\nlength_step = 1\ntempo_step_pct = 10\nmin_tempo_bpm = 60\nmax_tempo_bpm = 100"
    s = script(tmp_path, "call_and_response", ["x.x.x..."], adapt=adapt)
    kind = CallAndResponse.from_script(s)
    plans = [p for p, _ in run(kind, 4, echo)]
    step = 1 + 10 / 100
    assert [p.tempo_bpm for p in plans] == [90.0, 90.0 * step, 100.0, 100.0]  # 90 * 1.1 ** 2 is above the bound
    assert [p.pattern.notes for p in plans] == [3, 4, 5, 6]  # the phrase repeated beyond its 3 notes
    assert plans[2].pattern.onsets_beats == (0.0, 1.0, 2.0, 4.0, 5.0)
    plans = [p for p, _ in run(kind, 3, lambda p: [])]
    # Down from the bound to the last step below it, then exactly back to the script's tempo.
    assert [p.tempo_bpm for p in plans] == [100.0, 90.0 * step, 90.0]
    assert [p.pattern.notes for p in plans] == [6, 5, 4]  # capped at twice the longest phrase (6)


def test_wrong_rhythm_and_wrong_pitches_are_not_correct(tmp_path):
    s = script(tmp_path, "call_and_response", ["C4 E4 G4"], adapt=ECHO_ADAPT)
    kind = make_kind(s)
    plan = kind.next_trial(1.0)
    assert [c.note for c in plan.cues if c.role == "call"] == [60, 64, 67]
    good = kind.score(plan, list(zip(echo(plan), [60, 64, 67])))
    assert good.correct and good.scores["pitch_match"] == 1.0
    bad_pitch = kind.score(plan, list(zip(echo(plan), [60, 62, 67])))
    assert not bad_pitch.correct and "pitch" in bad_pitch.scores["failed"]
    late = echo(plan)
    late[1] += 0.25  # the middle note a third of a beat late: intervals off by 37 %
    bad_rhythm = kind.score(plan, list(zip(late, [60, 64, 67])))
    assert not bad_rhythm.correct and "ioi_error" in bad_rhythm.scores["failed"]
    assert kind.score(plan, echo(plan)).correct  # a microphone echo (no pitches): rhythm only


# -- turn taking -------------------------------------------------------------


def test_child_playing_during_engine_turn_is_not_waited(tmp_path):
    s = script(tmp_path, "turn_taking", ["x.x.x...", "xx.x...."], adapt=ECHO_ADAPT)
    kind = make_kind(s)
    plan = kind.next_trial(0.0)
    assert isinstance(kind, TurnTaking) and plan.engine_start_s == 4 * 60 / 90
    middle = (plan.engine_start_s + plan.engine_end_s) / 2
    hand_over = plan.engine_end_s
    impulsive = kind.score(plan, [middle, hand_over + 0.3, hand_over + 0.8])
    assert impulsive.scores["waited"] is False and impulsive.scores["onsets_during_turn"] == 1
    # Playing after a hand-over it did not wait for is not taking a turn; nothing to answer either.
    assert impulsive.scores["initiated"] is False and impulsive.scores["initiation_latency_ms"] is None
    assert impulsive.scores["first_onset_after_handover_ms"] == pytest.approx(300.0)
    assert impulsive.correct is False and impulsive.answer is None
    polite = kind.score(plan, [hand_over + 0.3, hand_over + 0.8])
    assert polite.scores["waited"] is True and polite.scores["initiated"] is True
    assert polite.scores["turn_length_notes"] == 2 and polite.correct is True
    silent = kind.score(plan, [])
    assert silent.scores["waited"] is None and silent.scores["initiated"] is False and silent.correct is False


def test_engine_answers_the_childs_turn_then_moves_on(tmp_path):
    s = script(tmp_path, "turn_taking", ["x.x.x...", "xx.x...."], tempo=120)
    kind = make_kind(s)
    spb = 0.5
    p0 = kind.next_trial(0.0)
    assert p0.params["answer"] == "phrase" and p0.pattern.onsets_beats == (0.0, 1.0, 2.0)
    # The child plays beats 0, 0.5, 2 (slightly off the grid) after the hand-over.
    child = [p0.engine_end_s + 0.2 + b * spb + d for b, d in ((0, 0), (0.5, 0.03), (2, -0.04))]
    r0 = kind.score(p0, child)
    assert r0.correct and r0.answer.onsets_beats == (0.0, 0.5, 2.0)
    kind.adapt(r0)
    p1 = kind.next_trial(p0.end_s)
    assert p1.params["answer"] == "echo" and p1.pattern.onsets_beats == (0.0, 0.5, 2.0)
    assert p1.cue_times("count_in") == []  # the conversation flows: count-in only before the first turn
    r1 = kind.score(p1, [p1.engine_end_s + 0.1 + b * spb for b in (0, 1, 1.5)])
    kind.adapt(r1)
    p2 = kind.next_trial(p1.end_s)
    assert p2.params["answer"] == "variation" and p2.pattern.onsets_beats == (0.0, 0.5, 1.5)  # intervals reversed
    kind.adapt(kind.score(p2, []))  # silence: the engine plays the song's next phrase
    p3 = kind.next_trial(p2.end_s)
    assert p3.params["answer"] == "phrase" and p3.pattern.onsets_beats == (0.0, 0.5, 1.5)  # "xx.x...."


def test_turn_taking_steps_up_after_passed_turns(tmp_path):
    adapt = "up_after = 3\ndown_after = 2\nlength_step = 2\ntempo_step_pct = 5\nmin_tempo_bpm = 60\nmax_tempo_bpm = 120"
    s = script(tmp_path, "turn_taking", ["x.x.x...", "xx.x...."], adapt=adapt)
    trials = run(make_kind(s), 4, lambda p: [p.engine_end_s + 0.3, p.engine_end_s + 0.8])
    assert [r.correct for _, r in trials[:3]] == [True, True, True]
    assert [p.params["answer"] for p, _ in trials] == ["phrase", "echo", "variation", "next"]
    assert [p.tempo_bpm for p, _ in trials] == [90.0, 90.0, 90.0, 90.0 * 1.05]
    # The song's next phrase, two notes longer (its bar repeated): a longer wait for the child.
    assert trials[3][0].pattern.onsets_beats == (0.0, 0.5, 1.5, 4.0, 4.5)


def test_bars_never_share_a_tap_when_the_tempo_steps_down(tmp_path):
    s = script(tmp_path, "rhythmic_cueing", ["xxxx"], grid="1/4", tempo=80,
               adapt="up_after = 4\ndown_after = 1\ntempo_step_pct = 10\nmin_tempo_bpm = 60", trials=5)
    kind = make_kind(s)
    first = kind.next_trial(0.0)
    kind.adapt(kind.score(first, []))  # a miss: the next bar is 10 % slower
    second = kind.next_trial(first.end_s)
    assert second.tempo_bpm < first.tempo_bpm
    assert second.child_start_s == first.child_end_s


# -- rhythmic cueing ---------------------------------------------------------

CUE_ADAPT = "up_after = 4\ndown_after = 2\ntempo_step_pct = 5\nmin_tempo_bpm = 60\nmax_tempo_bpm = 120"


def beats(plan, offset=0.0):
    return [t + offset for t in plan.cue_times("downbeat", "beat")]


def test_cueing_steps_tempo_by_exactly_the_percent_once_entrained(tmp_path):
    s = script(tmp_path, "rhythmic_cueing", ["xxxx"], grid="1/4", tempo=80, adapt=CUE_ADAPT, duration_min=3)
    kind = make_kind(s)
    trials = run(kind, 6, lambda p: beats(p, 0.010))
    assert all(r.correct and r.scores["within_window_pct"] == 100.0 for _, r in trials)
    assert [p.tempo_bpm for p, _ in trials] == [80.0] * 4 + [84.0, 84.0]
    assert trials[4][0].params["tempo_steps"] == 1


def test_cueing_does_not_step_while_not_entrained_and_steps_down_after_misses(tmp_path):
    s = script(tmp_path, "rhythmic_cueing", ["xxxx"], grid="1/4", tempo=80, adapt=CUE_ADAPT, duration_min=3)
    # Two of four beats within ±80 ms (50 % < 70 %): never entrained.
    off = RhythmicCueing.from_script(s, criterion_pct=70)
    half = run(off, 8, lambda p: [t + (0.02 if i % 2 else 0.15) for i, t in enumerate(beats(p))])
    assert all(r.scores["within_window_pct"] == 50.0 and r.correct is False for _, r in half)
    # Misses step down after down_after = 2 bars (and again after 2 more), never up.
    assert [p.tempo_bpm for p, _ in half][:5] == [80.0, 80.0, 80.0 / 1.05, 80.0 / 1.05, 80.0 / 1.05 ** 2]
    # Three entrained bars then one miss: the run is broken, no step.
    s2 = script(tmp_path, "rhythmic_cueing", ["xxxx"], grid="1/4", tempo=80, adapt=CUE_ADAPT, duration_min=3)
    kind = make_kind(s2)
    pattern = iter([0.0, 0.0, 0.0, 0.2, 0.0, 0.0])
    trials = run(kind, 6, lambda p: beats(p, next(pattern)))
    assert [r.correct for _, r in trials] == [True, True, True, False, True, True]
    assert {p.tempo_bpm for p, _ in trials} == {80.0}


def test_criterion_comes_from_the_scripts_within_window_objective(tmp_path):
    objective = objective_text("beat", "within_window_pct", threshold=50)
    s = script(tmp_path, "rhythmic_cueing", ["xxxx"], grid="1/4", tempo=80, adapt=CUE_ADAPT, trials=8,
               objectives=objective)
    kind = make_kind(s)
    assert kind.criterion_pct == 50.0
    plan = kind.next_trial(0.0)
    assert kind.score(plan, [t + (0.02 if i % 2 else 0.15) for i, t in enumerate(beats(plan))]).correct


def test_free_play_finds_the_childs_tempo_from_the_median_iti(tmp_path):
    s = script(tmp_path, "rhythmic_cueing", ["xxxx"], grid="1/4", tempo=80, adapt=CUE_ADAPT, duration_min=3)
    kind = make_kind(s, free_play=True)
    free = kind.next_trial(0.0)
    assert free.phase == "free_play" and free.cue_times() == []
    taps = [1.0 + 0.6 * k for k in range(10)]
    taps[5] += 0.05  # one uneven tap does not move the median
    result = kind.score(free, taps)
    assert result.trial is None and result.scores["free_tempo_bpm"] == pytest.approx(100.0)
    kind.adapt(result)
    first = kind.next_trial(free.end_s)
    assert first.phase == "trial" and first.index == 0 and first.tempo_bpm == pytest.approx(100.0)
    assert len(first.cue_times("count_in")) == 4
    # Seven taps are too few: cueing starts at the script's tempo.
    kind = make_kind(s, free_play=True)
    free = kind.next_trial(0.0)
    few = kind.score(free, [1.0 + 0.6 * k for k in range(7)])
    assert few.scores["free_tempo_bpm"] is None
    kind.adapt(few)
    assert kind.next_trial(free.end_s).tempo_bpm == 80.0


# -- logical time, determinism, the end --------------------------------------


def test_cue_times_are_logical_time_across_consecutive_bars(tmp_path):
    s = script(tmp_path, "rhythmic_cueing", ["xxxx"], grid="1/4", tempo=70, adapt=CUE_ADAPT, trials=40)
    kind = make_kind(s)
    start = 3.1
    cues = []
    t = start
    for _ in range(30):
        plan = kind.next_trial(t)
        cues += plan.cue_times()
        t = plan.end_s
    # 4 count-in beats then 120 beats: beat k is exactly start + k * 60 / 70.
    assert cues == [start + k * (60.0 / 70) for k in range(124)]
    summed = start
    for _ in range(123):
        summed += 60.0 / 70
    assert summed != cues[-1]  # a sum of intervals would have drifted (the test can tell)


def test_call_cue_times_follow_the_phrase_at_the_tempo(tmp_path):
    s = script(tmp_path, "call_and_response", ["x.x.xx.."], tempo=70)
    plan = make_kind(s).next_trial(2.0)
    spb = 60.0 / 70
    assert plan.cue_times("count_in") == [2.0 + k * spb for k in range(4)]
    assert plan.cue_times("call") == [2.0 + (4 + b) * spb for b in (0, 1, 2, 2.5)]
    assert plan.engine_end_s == 2.0 + 8 * spb and plan.cue_times("your_turn") == []


def test_plans_are_deterministic(tmp_path):
    s = script(tmp_path, "call_and_response", ["x...x...", "x.x.x...", "xx.x....", "x.x.xx.."], adapt=ECHO_ADAPT)
    for seed in (None, 7):
        a = [p for p, _ in run(make_kind(s, seed=seed), 8, echo)]
        b = [p for p, _ in run(make_kind(s, seed=seed), 8, echo)]
        assert a == b
    t = script(tmp_path, "turn_taking", ["x.x.x...", "xx.x...."])
    child = lambda p: [p.engine_end_s + 0.3, p.engine_end_s + 0.8]
    assert [p for p, _ in run(make_kind(t, seed=3), 6, child)] == [p for p, _ in run(make_kind(t, seed=3), 6, child)]


def test_finished_after_the_scripts_trials_or_duration(tmp_path):
    s = script(tmp_path, "call_and_response", ["x.x.x..."], trials=3)
    kind = make_kind(s)
    done = []
    t = 0.0
    while not kind.finished:
        plan = kind.next_trial(t)
        kind.adapt(kind.score(plan, echo(plan)))
        done.append(plan)
        t = plan.end_s
    assert len(done) == 3
    # One minute at 120 bpm, no count-in: 30 bars of 2 s fill exactly 60 s.
    d = script(tmp_path, "rhythmic_cueing", ["xxxx"], grid="1/4", tempo=120, duration_min=1,
               prompts="count_in_beats = 0")
    kind = make_kind(d)
    n, t = 0, 0.0
    while not kind.finished:
        t = kind.next_trial(t).end_s
        n += 1
    assert n == 30 and t == 60.0


@pytest.mark.parametrize("path", SONGS, ids=[p.stem for p in SONGS])
def test_each_shipped_script_builds_its_kind_and_plans_a_trial(path):
    s = load_script(path)
    kind = make_kind(s)
    assert kind.kind == s.kind
    plan = kind.next_trial(0.0)
    assert plan.phase == "trial" and plan.tempo_bpm == s.tempo_bpm
    assert plan.cues and [c.time_s for c in plan.cues] == sorted(c.time_s for c in plan.cues)
    assert plan.child_end_s > plan.child_start_s and plan.end_s >= plan.child_end_s - 1e-9
    sounds = {c.sound for c in plan.cues if c.role not in ("count_in", "lead_in", "your_turn")}
    if "song" in s.options:  # a cueing song plays its own notes
        assert {c.role for c in plan.cues} <= {"count_in", "lead_in", "song"}
        assert sounds <= set(load_cueing_song(s.options["song"], s.tempo_bpm).sounds())
    else:
        assert sounds == {s.instruments.cue}


def test_every_kind_is_built_and_a_class_refuses_another_kind(tmp_path):
    s = script(tmp_path, "stop_and_go", ["xxxx"], grid="1/4")
    assert isinstance(make_kind(s), StopAndGo)
    with pytest.raises(ConfigError, match="not turn_taking"):
        TurnTaking.from_script(script(tmp_path, "call_and_response", ["xxxx"], grid="1/4"))


# -- the kinds' own tables -----------------------------------------------------


def test_make_kind_reads_the_scripts_kind_table_and_keywords_override(tmp_path):
    turns = "[turns]\ngap_s = 1.0\nmax_s = 4\ninitiate_within_s = 2\ngrace_s = 0.1\nanswers = [\"next\"]"
    t = script(tmp_path, "turn_taking", ["x.x.x.x."], objectives=turns)
    kind = make_kind(t)
    assert (kind.turn_gap_s, kind.max_turn_s, kind.initiate_window_s, kind.grace_s, kind.answers) == (
        1.0, 4.0, 2.0, 0.1, ("next",))
    assert make_kind(t, turn_gap_s=2.5).turn_gap_s == 2.5
    c = script(tmp_path, "rhythmic_cueing", ["xxxx"], grid="1/4",
               objectives="[cueing]\nfree_play_s = 12\nwindow_ms = 60\nentrain_pct = 80")
    cue = make_kind(c)
    assert (cue.free_play, cue.free_play_s, cue.window_ms, cue.criterion_pct) == (True, 12.0, 60.0, 80.0)
    assert cue.next_trial(0.0).phase == "free_play"
    off = make_kind(script(tmp_path, "rhythmic_cueing", ["xxxx"], grid="1/4", objectives="[cueing]\nfree_play_s = 0"))
    assert off.free_play is False and off.next_trial(0.0).phase == "trial"
    r = script(tmp_path, "call_and_response", ["x.x.x..."],
               objectives="[response]\nwindow_s = 5\nrequire_pitch = false\ntempo_invariant = true")
    echo_kind = make_kind(r)
    assert (echo_kind.window_s, echo_kind.require_pitch, echo_kind.tempo_invariant) == (5.0, False, True)
    # The window follows: call end + window_s + the call's span + one beat.
    plan = echo_kind.next_trial(0.0)
    assert plan.child_end_s == pytest.approx(plan.engine_end_s + 5.0 + 3 * 60 / 90)


# -- turn-taking: closing the child's window early -----------------------------


@pytest.fixture
def turns(tmp_path):
    """A turn-taking kind at 120 BPM without a count-in: the engine plays 10-12 s, the child's window ends at 18 s."""
    s = script(tmp_path, "turn_taking", ["x.x.x.x."], tempo=120, prompts="count_in_beats = 0",
               objectives="[turns]\ngap_s = 1.0\nmax_s = 4\ninitiate_within_s = 2")
    kind = make_kind(s)
    plan = kind.next_trial(10.0)
    assert (plan.engine_start_s, plan.engine_end_s, plan.child_end_s) == (10.0, 12.0, 18.0)
    return kind, plan


def test_close_when_the_child_does_not_start(turns):
    kind, plan = turns
    assert kind.close_s(plan, [], 13.9) == 18.0  # not known yet
    assert kind.close_s(plan, [], 14.0) == 14.0  # the hand-over + initiate_within_s
    assert kind.close_s(plan, [11.0], 15.0) == 14.0  # playing over the engine is not starting a turn


def test_close_after_the_childs_silence_of_gap_s(turns):
    kind, plan = turns
    child = [12.5, 13.0, 13.5]
    assert kind.close_s(plan, child, 14.0) == 18.0  # silent for 0.5 s only
    assert kind.close_s(plan, child, 14.5) == 14.5  # the last note + gap_s
    assert kind.close_s(plan, [*child, 15.0], 16.0) == 14.5  # a note after the gap is not the turn
    assert kind.close_s(plan, [*child, 14.4], 15.0) == 18.0  # 14.4 continues the turn: until 15.4
    assert kind.close_s(plan, [*child, 14.4], 15.4) == pytest.approx(15.4)


def test_close_at_the_longest_turn(turns):
    kind, plan = turns
    child = [12.5 + 0.5 * k for k in range(11)]  # 12.5 ... 17.5, never a gap
    assert kind.close_s(plan, child, 16.4) == 18.0
    assert kind.close_s(plan, child, 16.6) == 16.5  # first note + max_s


@pytest.mark.parametrize("child", [[], [11.0], [12.5, 13.0, 13.5, 15.0], [12.5, 13.0, 14.4, 16.0],
                                   [12.5 + 0.5 * k for k in range(11)], [11.0, 11.9, 12.3, 17.9]])
def test_scores_up_to_close_are_the_scores_of_the_whole_window(turns, child):
    kind, plan = turns
    now = 10.0
    while kind.close_s(plan, [t for t in child if t <= now], now) > now:
        now += 0.05
    close = kind.close_s(plan, [t for t in child if t <= now], now)
    cut = kind.score(plan, [t for t in child if t <= close])
    full = kind.score(plan, child)
    assert cut.scores == full.scores and cut.correct == full.correct


def test_other_kinds_close_at_the_end_of_the_childs_window(tmp_path):
    for kind_name, phrase in (("call_and_response", "x.x.x..."), ("rhythmic_cueing", "x.x.x.x."),
                              ("stop_and_go", "x.x.x.x."), ("fill_in_the_blank", "C4 D4 E4")):
        kind = make_kind(script(tmp_path, kind_name, [phrase]))
        plan = kind.next_trial(0.0)
        assert kind.close_s(plan, [plan.child_start_s + 0.1], plan.child_end_s + 5) == plan.child_end_s


# -- stop and go -----------------------------------------------------------------

STOP_TABLE = "[stop_and_go]\ngo_bars = [2, 3]\nstop_s = 2"


def test_stop_and_go_plans_go_and_stop_spans_exactly(tmp_path):
    s = script(tmp_path, "stop_and_go", ["xxxx"], grid="1/4", tempo=120, objectives=STOP_TABLE)
    kind = make_kind(s)
    p0 = kind.next_trial(1.0)
    assert p0.cue_times("count_in") == [1.0, 1.5, 2.0, 2.5]
    assert p0.cue_times("go") == [3.0 + 0.5 * k for k in range(8)]  # 2 bars of 4 beats
    assert p0.params["stop_at_s"] == 7.0 and p0.params["stop_end_s"] == 9.0 == p0.end_s == p0.child_end_s
    assert p0.child_start_s == 2.75  # half a beat before the first go note
    assert p0.params["stopped_notes_s"] == [7.0, 7.5, 8.0, 8.5]
    assert {c.sound for c in p0.cues if c.role == "go"} == {"drum:hi_bongo"}
    p1 = kind.next_trial(p0.end_s)
    assert p1.cue_times("count_in") == [] and p1.params["go_bars"] == 3  # without a seed: 2, 3, 2, 3, ...
    assert p1.cue_times("go") == [9.0 + 0.5 * k for k in range(12)] and p1.params["stop_at_s"] == 15.0
    assert kind.next_trial(p1.end_s).params["go_bars"] == 2


def test_the_music_stops_where_its_next_note_would_have_sounded(tmp_path):
    s = script(tmp_path, "stop_and_go", [".x.x.x.x"], tempo=120, prompts="count_in_beats = 0",
               objectives="[stop_and_go]\ngo_bars = 1\nstop_s = 3")
    plan = make_kind(s).next_trial(0.0)
    assert plan.cue_times("go") == [0.25, 0.75, 1.25, 1.75]
    assert plan.params["stop_at_s"] == 2.25 and plan.end_s == 5.25


def test_stop_and_go_with_a_seed_draws_within_the_ranges_and_repeats(tmp_path):
    s = script(tmp_path, "stop_and_go", ["xxxx"], grid="1/4", tempo=120,
               objectives="[stop_and_go]\ngo_bars = [1, 6]\nstop_s = [2, 5]")
    plans = [p for p, _ in run(make_kind(s, seed=4), 12, lambda p: [])]
    assert all(1 <= p.params["go_bars"] <= 6 and 2.0 <= p.params["stop_span_s"] <= 5.0 for p in plans)
    assert len({p.params["go_bars"] for p in plans}) > 1 and len({p.params["stop_span_s"] for p in plans}) > 1
    assert plans == [p for p, _ in run(make_kind(s, seed=4), 12, lambda p: [])]


def along(plan, after_stop=()):
    """Hits on every go note, plus hits ``after_stop`` seconds after the music stopped."""
    return plan.cue_times("go") + [plan.params["stop_at_s"] + d for d in after_stop]


def test_stop_and_go_scores_through_the_kind(tmp_path):
    kind = make_kind(script(tmp_path, "stop_and_go", ["xxxx"], grid="1/4", tempo=120, objectives=STOP_TABLE))
    plan = kind.next_trial(1.0)
    good = kind.score(plan, along(plan, [0.1]))
    assert good.correct and good.scores["stopped"] and good.scores["go_onsets"] == 8
    assert good.scores["stop_latency_ms"] == pytest.approx(100.0)
    late = kind.score(plan, along(plan, [0.5, 1.0]))
    assert not late.correct and late.scores["onsets_during_stop"] == 2
    assert late.scores["stop_latency_ms"] == pytest.approx(1000.0)
    assert late.trial.scores == late.scores
    # Events of the next trial (from the stop's end) are not this trial's.
    assert kind.score(plan, [*along(plan), plan.end_s, plan.end_s + 0.5]).correct


def test_stop_and_go_harder_is_faster_with_shorter_less_predictable_go_spans(tmp_path):
    adapt = "up_after = 2\ndown_after = 1\ntempo_step_pct = 10\nmin_tempo_bpm = 60\nmax_tempo_bpm = 200"
    s = script(tmp_path, "stop_and_go", ["xxxx"], grid="1/4", tempo=100, adapt=adapt, objectives=STOP_TABLE)
    kind = make_kind(s)
    outcomes = [True, True, True, True, False, False, False]
    seen = []
    t = 0.0
    for ok in outcomes:
        plan = kind.next_trial(t)
        seen.append((plan.tempo_bpm, tuple(plan.params["go_range_bars"])))
        kind.adapt(kind.score(plan, along(plan, () if ok else [1.0])))
        t = plan.end_s
    seen.append((kind.tempo_bpm, kind.go_range))
    assert seen == [(100.0, (2, 3)), (100.0, (2, 3)),
                    (pytest.approx(110.0), (1, 3)), (pytest.approx(110.0), (1, 3)),
                    (pytest.approx(121.0), (1, 3)),  # the range stops at 1 bar; the tempo still steps
                    (pytest.approx(110.0), (2, 3)),  # easier: the bar taken off comes back ...
                    (100.0, (2, 3)),                 # ... and the range never goes beyond the script's
                    (pytest.approx(100 / 1.1), (2, 3))]


# -- fill in the blank -------------------------------------------------------------


def fill_script(tmp_path, table=""):
    text = script_text("minimal", kind="fill_in_the_blank", tempo_bpm=120, trials=4, cue="program:0",
                       phrases=[{"melody": "C4 D4 E4 F4:2", "blank": 3}, {"rhythm": "x.x.x.x."}])
    path = tmp_path / "fill.toml"
    path.write_text(f"{text}{table}\n")
    return load_script(path)


def test_fill_in_the_blank_leaves_out_the_blank_note(tmp_path):
    s = fill_script(tmp_path)
    assert [p.blank for p in s.phrases] == [2, 3]  # 0-based; the rhythm's default is its last hit
    kind = make_kind(s)
    p0 = kind.next_trial(1.0)
    assert p0.cue_times("count_in") == [1.0, 1.5, 2.0, 2.5]
    assert [(c.time_s, c.note) for c in p0.cues if c.role == "phrase"] == [(3.0, 60), (3.5, 62), (4.5, 65)]
    assert p0.params["blank_s"] == 4.0 and p0.params["blank"] == 3 and p0.params["blank_pitch"] == 64
    assert (p0.child_start_s, p0.child_end_s, p0.end_s) == (2.75, 5.5, 5.5)  # the phrase ends after F4:2
    assert p0.params["window_ms"] == 250.0
    p1 = kind.next_trial(p0.end_s)
    assert p1.cue_times("count_in") == [5.5, 6.0, 6.5, 7.0]  # a count-in before every phrase
    assert p1.cue_times("phrase") == [7.5, 8.0, 8.5] and p1.params["blank_s"] == 9.0
    assert p1.child_end_s == 9.5


def test_fill_in_the_blank_scores_and_adapts_the_tempo(tmp_path):
    s = fill_script(tmp_path, table="[fill_in_the_blank]\nwindow_beats = 0.25")
    kind = make_kind(s)
    plan = kind.next_trial(1.0)
    filled = kind.score(plan, [(3.0, 60), (4.1, 64)])
    assert filled.correct and filled.scores["blank_asynchrony_ms"] == pytest.approx(100.0)
    assert filled.scores["extra_onsets"] == 1 and filled.scores["window_ms"] == 125.0
    missed = kind.score(plan, [4.2])  # 200 ms late: outside a quarter-beat window at 120 BPM
    assert not missed.correct and missed.scores["blank_asynchrony_ms"] is None
    adapt = "\n[adapt]\nup_after = 1\ndown_after = 1\ntempo_step_pct = 10\nmax_tempo_bpm = 200"
    kind = make_kind(fill_script(tmp_path, table=adapt))
    tempos, t = [], 0.0
    for ok in (True, True, False):
        plan = kind.next_trial(t)
        tempos.append(plan.tempo_bpm)
        kind.adapt(kind.score(plan, [plan.params["blank_s"]] if ok else []))
        t = plan.end_s
    assert tempos == [120.0, pytest.approx(132.0), pytest.approx(145.2)] and kind.tempo_bpm == pytest.approx(132.0)


# -- a motor objective over a whole simulated session ---------------------------------


def test_a_steady_child_meets_the_motor_objective_that_a_drifting_child_misses(tmp_path):
    objective = objective_text("beat", "within_window_pct")
    s = script(tmp_path, "rhythmic_cueing", ["xxxx"], grid="1/4", tempo=100, trials=8,
               objectives=objective)
    met = {}
    for name in ("steady", "drifting"):
        for seed in range(3):
            kind = make_kind(s, seed=seed)
            history: list[float] = []
            trials, t = [], 0.0
            while not kind.finished:
                plan = kind.next_trial(t)
                events = events_for(plan, make_model(name, seed=seed, trial_index=plan.index), history)
                # A simulated child plays unprompted: its trials are independent (as tandem demo logs them).
                result = kind.score(plan, [(e.time_s, e.note) for e in events], prompt="independent")
                kind.adapt(result)
                trials.append(result.trial)
                t = plan.end_s
            met[name, seed] = evaluate_session(s.objectives[0], trials)
    assert all(met["steady", k].met is True for k in range(3)), met
    assert all(met["drifting", k].met is False for k in range(3)), met
    assert all(met["steady", k].value >= 90 and met["drifting", k].value <= 40 for k in range(3)), met


def test_echo_with_accompaniment_keeps_a_soft_pulse_through_the_window(tmp_path):
    path = tmp_path / "groove.toml"
    path.write_text(Path("content/songs/echo-drums.toml").read_text().replace("tempo_bpm = 90", "tempo_bpm = 100")
                    + '\n[response]\naccompaniment = "drum:closed_hi_hat"\nwindow_s = 2\n')
    kind = make_kind(load_script(path))
    spb = 0.6
    plan = kind.next_trial(10.0)
    acc = [c for c in plan.cues if c.role == "accompaniment"]
    calls = plan.cue_times("call")
    # Every beat from the call's first (after the 4-beat count-in) to the window's end, softer than the call.
    assert [c.time_s for c in acc] == pytest.approx([10.0 + (4 + k) * spb for k in range(len(acc))])
    assert acc[0].time_s == calls[0] and acc[-1].time_s <= plan.child_end_s < acc[-1].time_s + spb
    assert all(c.sound == "drum:closed_hi_hat" and c.gain < 1.0 for c in acc)
    assert [c.time_s for c in plan.cues] == sorted(c.time_s for c in plan.cues)
    # The next trial starts on the beat, so the pulse goes on; scoring ignores the accompaniment.
    beats = (plan.end_s - 10.0) / spb
    assert beats == pytest.approx(round(beats)) and plan.end_s >= plan.child_end_s
    echo = [t + (plan.engine_end_s - calls[0]) + 0.3 for t in calls]
    result = kind.score(plan, echo)
    assert result.correct is True and result.scores["onsets_matched"] == len(calls)
    # Without the table there is no accompaniment.
    plain = make_kind(load_script(Path("content/songs/echo-drums.toml"))).next_trial(10.0)
    assert not [c for c in plain.cues if c.role == "accompaniment"]
