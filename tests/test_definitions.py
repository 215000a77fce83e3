"""The worked examples of docs/definitions.md, by their names there ([T1], [M1], [P1], [L1], ...).

Each figure and sentence below is the one the document shows; if a definition changes, the
document and this file change together.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest

from engine.assessment.figures import turn_figures
from engine.audio.soundbank import SoundBank
from engine.errors import ConfigError
from engine.interventions.script import load_script
from engine.interventions.sounds import feedback_request, script_sounds
from engine.paths import cache_dir
from engine.records.plan import load_plan
from engine.records.reader import read_log
from engine.reports import collect
from engine.reports.csvjson import cell, objectives_csv
from engine.scoring.display import format_score
from engine.scoring.objectives import (
    DEFAULT_MIN_TRIALS,
    Objective,
    Trial,
    evaluate_session,
    level_phrase,
    objective_figure,
    objective_status,
)
from engine.scoring.turns import score_turn
from engine.scoring.words import format_half_up, format_value, percent_text, round_half_up
from engine.simulation.demo import simulate_session
from engine.simulation.player import DEVICE_FEEDBACK, ModelChild
from engine.ui.session import objective_lines
from tests.fixture_files import plan_text, write_plan
from tests.test_reports import ECHO, echo, record

SONGS = Path(__file__).resolve().parents[1] / "content" / "songs"
DOC = Path(__file__).resolve().parents[1] / "docs" / "definitions.md"
START, END = 10.0, 14.0  # the engine's turn of the turn-taking examples


def independent(scores_list) -> list[Trial]:
    return [Trial(dict(s), prompt="independent") for s in scores_list]


def test_the_document_names_every_example():
    text = DOC.read_text("utf-8")
    for name in ("T1", "T2", "T3", "T4", "T-session", "M1", "M2", "P1", "P2", "L1", "L2", "L3"):
        assert f"**[{name}]**" in text, name


# --- 1. Turn-taking ----------------------------------------------------------------------------------


T2_NOTES = [11.0, 12.0, 13.0, 14.004, 14.126, 14.5, 15.0]


@pytest.mark.parametrize(("name", "notes", "waited", "initiated", "latency_ms", "first_ms", "length"), [
    ("T1", [14.5, 15.0, 15.5], True, True, 500.0, 500.0, 3),
    ("T2", T2_NOTES, False, False, None, 4.0, 0),
    ("T3", [], None, False, None, None, 0),
    ("T4", [10.1, 13.9, 14.3], True, True, -100.0, -100.0, 2),
])
def test_turn_examples(name, notes, waited, initiated, latency_ms, first_ms, length):
    r = score_turn(START, END, notes)
    assert r.waited is waited and r.initiated is initiated and r.turn_length_notes == length, name
    assert r.initiation_latency_ms == (None if latency_ms is None else pytest.approx(latency_ms, abs=1e-6))
    assert r.first_onset_after_handover_ms == (None if first_ms is None else pytest.approx(first_ms, abs=1e-6))
    # a trial passes when the child took a turn (TurnTaking.score: correct = initiated)
    shown = [format_score(r.waited), format_score(r.initiated)]
    assert shown == [{True: "yes", False: "no", None: "–"}[waited], "yes" if initiated else "no"]


def test_t2_plays_over_the_engine_for_750_ms():
    r = score_turn(START, END, T2_NOTES)
    assert r.onsets_during_turn == 3 and r.overlap_ms == pytest.approx(750.0)


def t2_session():
    return independent([score_turn(START, END, T2_NOTES).to_dict()] * 8)


def test_t_session_an_impulsive_child_meets_no_turn_taking_objective():
    script = load_script(SONGS / "drum-conversation.toml")
    now = {o.id: evaluate_session(o, t2_session()) for o in script.objectives}
    assert now["takes-a-turn"].summary == "Waited, then started a turn on 0 of 8 trials (0 %); criterion not met."
    assert now["says-something"].summary == "Over 8 trials, the median turn length was 0 notes; criterion not met."
    assert now["waits-for-the-drum"].summary == ("Waited for the music's turn to end on 0 of the first 5 trials "
                                                 "(0 %); criterion not met.")
    # Before: the same onsets scored as a turn (4 ms after the hand-over, 4 notes long).
    before = [dict(t.scores, initiated=True, initiation_latency_ms=4.0, turn_length_notes=4) for t in t2_session()]
    old = {o.id: evaluate_session(o, independent(before)) for o in script.objectives}
    assert old["takes-a-turn"].summary == "Waited, then started a turn on 8 of 8 trials (100 %); criterion met."
    assert old["says-something"].summary == "Over 8 trials, the median turn length was 4 notes; criterion met."


def test_t_session_the_baseline_figure_is_0_and_reads_old_logs_the_same_way():
    new = [{"scores": t.scores} for t in t2_session()]
    old = [{"scores": dict(t["scores"], initiated=True, initiation_latency_ms=4.0)} for t in new]
    for trials in (new, old):
        figures = {f.id: f for f in turn_figures(trials)[0]}
        assert figures["initiated_pct"].value == 0.0 and figures["initiation_latency_ms"].value is None


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TANDEM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TANDEM_DATA", str(tmp_path / "data"))


def simulated_drum_conversation(model: str, seed: int, root: Path):
    script = load_script(SONGS / "drum-conversation.toml")
    bank = SoundBank.load(script_sounds(script, device_sound=DEVICE_FEEDBACK), sample_rate=48_000,
                          cache_dir=cache_dir())
    feedback = feedback_request(script, DEVICE_FEEDBACK)
    child = ModelChild(model, seed, feedback=bank[feedback] if feedback else None, feedback_name=feedback)
    outcome = simulate_session(script, root=root, child_id="C01", child=child, bank=bank, kind_seed=seed,
                               record_audio=False)
    return script, outcome


@pytest.mark.parametrize("seed", [1, 2])
def test_t_session_the_simulated_impulsive_child_never_meets_a_turn_taking_objective(cache, tmp_path, seed):
    script, outcome = simulated_drum_conversation("impulsive", seed, tmp_path / "out")
    scores = [r.scores for r in outcome.results]
    assert len(scores) == script.trials == 8
    # It plays over every engine turn and comes in just after the hand-over: never a turn.
    assert all(s["waited"] is False and s["initiated"] is False for s in scores)
    assert all(0.0 <= s["first_onset_after_handover_ms"] <= 200.0 for s in scores)
    assert not any(r.correct for r in outcome.results)
    # Whatever prompt level the trials carry, counted as independent not one objective is met ...
    judged = {o.id: evaluate_session(o, independent(scores)) for o in script.objectives}
    assert [j.met for j in judged.values()] == [False, False, False]
    # ... and the session's own verdicts never say met.
    assert all(o["met"] is not True for o in outcome.summary["objectives"])
    # A steady child on the same script takes its turns.
    _, steady = simulated_drum_conversation("steady", seed, tmp_path / "steady")
    steady_scores = [r.scores for r in steady.results]
    assert all(s["waited"] is True and s["initiated"] is True for s in steady_scores)
    assert {o.id: evaluate_session(o, independent(steady_scores)).met for o in script.objectives} == {
        "waits-for-the-drum": True, "takes-a-turn": True, "says-something": True}


# --- 2. Minimum counted trials -------------------------------------------------------------------------


def responds_quickly() -> Objective:
    return next(o for o in load_script(ECHO).objectives if o.id == "responds-quickly")


def latencies(values) -> list[Trial]:
    return independent({"response_latency_ms": v} for v in values)


def test_the_default_minimum_is_5_for_aggregates_only():
    assert DEFAULT_MIN_TRIALS == 5 and responds_quickly().min_trials == 5
    k_of_n = Objective.from_dict({"id": "k", "metric": "correct", "criterion": "k_of_n", "k": 2, "n": 3,
                                  "comparator": "==", "threshold": True})
    assert k_of_n.min_trials is None  # it needs its n trials
    # A log written before the default kept min_trials = 1 on every objective; it still reads.
    assert Objective.from_dict({**k_of_n.to_dict(), "min_trials": 1}) == k_of_n
    with pytest.raises(ValueError, match="applies only to the aggregate"):
        Objective.from_dict({**k_of_n.to_dict(), "min_trials": 3})


def test_m1_two_counted_trials_of_ten_give_no_verdict_and_no_mastery():
    o = responds_quickly()
    session = evaluate_session(o, latencies([850.0, 1200.0] + [None] * 8))
    assert session.met is None and session.counted == 2 and session.value == 1025.0
    assert session.summary == "Only 2 of 10 trials were counted (8 could not be scored); the criterion needs 5."
    status = objective_status(o, [session] * 3)
    assert status.status == "in progress" and status.consecutive_met == 0
    # Before (min_trials 1): met, and mastered after three such visits.
    old = Objective.from_dict({**o.to_dict(), "min_trials": 1})
    before = evaluate_session(old, latencies([850.0, 1200.0] + [None] * 8))
    assert before.summary == ("Over 2 trials, the median response latency was 1025 ms; criterion met. 8 trials "
                              "were left out because they could not be scored.")
    assert objective_status(old, [before] * 3).sentence.startswith(
        "Over 2 trials, the median response latency was 1025 ms; criterion met for the 3rd consecutive visit: "
        "mastered.")


def test_m2_five_counted_trials_are_judged():
    session = evaluate_session(responds_quickly(), latencies([850.0, 1200.0, 1400.0, 1600.0, 2600.0] + [None] * 5))
    assert session.met is True
    assert session.summary == ("Over 5 trials, the median response latency was 1400 ms; criterion met. 5 trials "
                               "were left out because they could not be scored.")


def test_the_shipped_scripts_allow_their_minimum():
    for path in sorted(SONGS.glob("*.toml")):
        script = load_script(path)
        for o in script.objectives:
            if script.trials is not None:
                assert (o.n if o.min_trials is None else o.min_trials) <= script.trials, (path.name, o.id)
    hello = {o.id: o for o in load_script(SONGS / "hello.toml").objectives}
    assert hello["answers-promptly"].min_trials == 3  # 4 hellos: it says otherwise


def test_a_script_that_could_never_be_judged_is_refused(tmp_path):
    text = (SONGS / "hello.toml").read_text("utf-8").replace("min_trials = 3 ", "min_trials = 6 ")
    path = tmp_path / "hello.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(ConfigError, match="needs 6 counted trials, but the script has 4"):
        load_script(path)


# --- 3. Rounding ---------------------------------------------------------------------------------------


PERCENT_CORRECT = {"id": "echoes", "metric": "correct", "aggregate": "percent_true", "comparator": ">=",
                   "threshold": 60}


def eight(passed: int) -> list[Trial]:
    return independent({"correct": k < passed} for k in range(8))


@pytest.mark.parametrize(("passed", "exact", "shown"), [(5, 62.5, "63 %"), (3, 37.5, "38 %"), (1, 12.5, "13 %")])
def test_p1_percentages_round_half_up_in_the_sentence(passed, exact, shown):
    result = evaluate_session(Objective.from_dict(PERCENT_CORRECT), eight(passed))
    assert result.value == exact and percent_text(exact) == shown
    assert result.summary.startswith(f"Responded correctly on {passed} of 8 trials ({shown});")


def test_p1_the_report_and_the_csv_print_the_same_figure(tmp_path):
    plan_toml = plan_text("C07", objectives={"imitate": {
        "criterion": None, "k": None, "n": None, "comparator": ">=", "threshold": 60, "max_prompt": None,
        "aggregate": "percent_true"}, "quick": None})
    write_plan(tmp_path, "C07", plan_toml)
    plan = load_plan(tmp_path, "C07")
    day = dt.date(2026, 9, 1)
    sessions = [record(ECHO, day, echo([True] * 5 + [False] * 3)),
                record(ECHO, day + dt.timedelta(days=7), echo([True] * 3 + [False] * 5))]
    report = collect("C07", sessions, plan, plots_wanted=False)
    imitate = next(v for v in report.objectives if v.key == "plan:imitate")
    assert [r.figure_text for r in imitate.rows] == ["5/8 (63 %)", "3/8 (38 %)"]
    assert imitate.rows[0].summary == "Imitated correctly on 5 of 8 trials (63 %); criterion met."
    assert imitate.rows[1].summary == "Imitated correctly on 3 of 8 trials (38 %); criterion not met."
    rows = [r for r in csv.DictReader(io.StringIO(objectives_csv(report).lstrip("\ufeff")))
            if r["objective_id"] == "imitate"]
    assert [(r["value"], r["figure"]) for r in rows] == [("62.5", "62.5"), ("37.5", "37.5")]  # exact values
    assert [r["summary"] for r in rows] == [imitate.rows[0].summary, imitate.rows[1].summary]


def test_p2_other_figures_round_half_up_too():
    assert format_value(1412.5, "ms") == "1413 ms"
    assert format_score(-12.5, "{:+.0f} ms") == "-13 ms" and format_score(12.5, "{:.0f} ms") == "13 ms"
    assert format_score(-0.4, "{:+.0f} ms") == "+0 ms" and format_half_up("{:.1f}", -0.04) == "0.0"
    assert format_score(62.5, "{:.0f} %") == "63 %"
    assert round_half_up(2.675, 2) == 2.68 and round_half_up(-2.5) == -3.0  # as written, away from zero
    assert format_half_up("{:.4g} and {}", 1234.5, 3.0) == "1234 and 3.0"  # only fixed-point fields change
    assert cell(62.5) == "62.5" and cell(0.0000005) == "0.000001" and cell(-0.0000004) == "0"


# --- 4. Levels -----------------------------------------------------------------------------------------


# The echo-drums session of [L1]: calls of 2, 2, 2, 3, 3, 3, 4, 4, 4, 5 notes, 5 % faster every 3 trials.
L1_TRIALS = independent({"correct": True, "pattern_length": n, "tempo_bpm": bpm} for n, bpm in zip(
    [2, 2, 2, 3, 3, 3, 4, 4, 4, 5], [90.0] * 3 + [94.5] * 3 + [99.225] * 3 + [104.18625], strict=True))
ECHO_4_OF_5 = {"id": "echoes-long-rhythms", "metric": "correct", "criterion": "k_of_n", "k": 4, "n": 5,
               "comparator": "==", "threshold": True}


def test_l1_without_a_level_the_easy_calls_decide():
    result = evaluate_session(Objective.from_dict(ECHO_4_OF_5), L1_TRIALS)
    assert result.summary == "Responded correctly on 5 of the first 5 trials (100 %); criterion met."


def test_l1_with_a_level_only_the_long_calls_count():
    o = Objective.from_dict({**ECHO_4_OF_5, "level": {"pattern_length_min": 4}})
    assert o.level == (("pattern_length_min", 4.0),) and level_phrase(o) == "on patterns of 4 notes or more"
    result = evaluate_session(o, L1_TRIALS)
    assert result.met is None and result.counted == 4 and result.other_difficulty == 6
    assert result.summary == ("Only 4 of 10 trials were counted; the criterion needs 5. 6 trials at another "
                              "difficulty were not counted (the objective counts only trials on patterns of 4 "
                              "notes or more).")
    assert [t.status for t in result.trials][:6] == ["other difficulty"] * 6


def test_l2_judged_on_the_long_calls():
    o = Objective.from_dict({**ECHO_4_OF_5, "k": 3, "n": 3, "level": {"pattern_length_min": 4}})
    result = evaluate_session(o, L1_TRIALS)
    assert result.summary == ("Responded correctly on 3 of the first 3 trials on patterns of 4 notes or more "
                              "(100 %); criterion met. 6 trials at another difficulty were not counted (the "
                              "objective counts only trials on patterns of 4 notes or more).")
    assert objective_status(o, [result]).sentence.startswith(
        "Responded correctly on 3 of the first 3 trials on patterns of 4 notes or more (100 %); criterion met")


def test_l3_a_tempo_range():
    o = Objective.from_dict({**ECHO_4_OF_5, "level": {"tempo_bpm_min": 80, "tempo_bpm_max": 95}})
    result = evaluate_session(o, L1_TRIALS)
    assert result.counted == 6 and result.judged == 5
    assert result.summary == ("Responded correctly on 5 of the first 5 trials at 80–95 BPM (100 %); criterion met. "
                              "4 trials at another difficulty were not counted (the objective counts only trials "
                              "at 80–95 BPM).")


@pytest.mark.parametrize(("level", "phrase"), [
    ({"pattern_length_min": 4, "pattern_length_max": 4}, "on 4-note patterns"),
    ({"pattern_length_max": 3}, "on patterns of at most 3 notes"),
    ({"pattern_length_min": 3, "pattern_length_max": 5, "tempo_bpm_max": 100},
     "on patterns of 3–5 notes at 100 BPM or slower"),
    ({"tempo_bpm_min": 80}, "at 80 BPM or faster"),
])
def test_level_phrases(level, phrase):
    assert level_phrase(Objective.from_dict({**ECHO_4_OF_5, "level": level})) == phrase


def test_no_level_keeps_every_trial_and_a_trial_without_the_score_is_not_at_the_level():
    plain = Objective.from_dict(ECHO_4_OF_5)
    assert plain.level == () and "level" not in plain.to_dict()
    old_log = independent([{"correct": True}] * 5)  # scored before trials carried their difficulty
    assert evaluate_session(plain, old_log).met is True
    o = Objective.from_dict({**ECHO_4_OF_5, "level": {"pattern_length_min": 4}})
    assert evaluate_session(o, old_log).reason == (
        "None of the 5 trials were on patterns of 4 notes or more, the difficulty this objective is about.")


def test_the_kinds_scores_carry_their_difficulty_and_scripts_check_the_level(tmp_path, cache):
    from engine.interventions.kinds import make_kind

    kind = make_kind(load_script(ECHO))
    plan = kind.next_trial(0.0)
    scores = kind.score(plan, []).scores
    assert scores["pattern_length"] == plan.pattern.notes == 2 and scores["tempo_bpm"] == plan.tempo_bpm == 90.0
    text = (SONGS / "stop-and-go.toml").read_text("utf-8") + (
        '\n[[objectives]]\nid = "long"\nmetric = "stopped"\ncriterion = "k_of_n"\nk = 1\nn = 1\n'
        'comparator = "=="\nthreshold = true\nlevel = {pattern_length_min = 4}\n')
    path = tmp_path / "stop.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(ConfigError, match="'pattern_length_min' is not a difficulty a stop_and_go script"):
        load_script(path)


@pytest.mark.parametrize(("level", "match"), [
    ({"length": 4}, "unknown bound 'length'"),
    ({"pattern_length_min": 2.5}, "whole number"),
    ({"tempo_bpm_min": 100, "tempo_bpm_max": 80}, "is more than"),
    ({"tempo_bpm_min": 0}, "positive number"),
    ("long", "must be a table"),
])
def test_bad_levels(level, match):
    with pytest.raises(ValueError, match=match):
        Objective.from_dict({**ECHO_4_OF_5, "level": level})


# --- logs written before these definitions are read under them ----------------------------------------------


def test_an_old_log_is_read_under_todays_definitions(tmp_path):
    """A schema-2 turn-taking log: trial 1 the child played over the engine's turn and then 4 ms after the
    hand-over (logged then as "started a turn", latency 4 ms, 4 notes); trial 2 it waited and started 350 ms
    after. Read today: trial 1 did not start a turn (its 4 ms kept, uncredited), trial 2 did; both know their
    difficulty (the call's 3 notes, from its plan line; the tempo)."""
    old = {"waited": False, "initiated": True, "initiation_latency_ms": 4.0, "turn_length_notes": 4,
           "turn_end_s": 16.5, "turn_capped": False, "overlap_ms": 900.0, "onsets_during_turn": 3}
    good = {"waited": True, "initiated": True, "initiation_latency_ms": 350.0, "turn_length_notes": 3,
            "turn_end_s": 33.0, "turn_capped": False, "overlap_ms": 0.0, "onsets_during_turn": 0}
    lines = [{"type": "header", "schema": 2, "kind": "demo", "script": "free", "intervention": "turn_taking",
              "child_id": "C1", "sample_rate": 48000, "started": "2026-01-05T10:00:00+00:00"}]
    for n, scores in ((1, old), (2, good)):
        lines.append({"type": "plan", "index": n - 1, "phase": "trial",
                      "params": {"onsets_beats": [0.0, 1.0, 2.0]}})
        lines.append({"type": "trial", "n": n, "index": n - 1, "phase": "trial", "start_s": 10.0 * n,
                      "tempo_bpm": 84, "scores": scores, "correct": scores["waited"], "prompt": "independent"})
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    first, second = (t.scores for t in read_log(tmp_path).trials)
    assert (first["initiated"], first["initiation_latency_ms"], first["turn_length_notes"]) == (False, None, 0)
    assert first["first_onset_after_handover_ms"] == 4.0 and first["turn_end_s"] is None
    assert (second["initiated"], second["initiation_latency_ms"], second["turn_length_notes"]) == (True, 350.0, 3)
    assert second["first_onset_after_handover_ms"] == 350.0
    assert first["pattern_length"] == second["pattern_length"] == 3 and first["tempo_bpm"] == 84.0


def test_the_session_screen_shows_an_objectives_figure_as_the_reports_do():
    """The therapist's strip: 5/8 is "63 %" (not 62.5), 1412.5 ms is "1413 ms" (not 1.41e+03)."""
    share = Objective.from_dict({"id": "s", "metric": "correct", "aggregate": "percent_true", "comparator": ">=",
                                 "threshold": 80})
    latency = Objective.from_dict({"id": "l", "metric": "response_latency_ms", "aggregate": "median",
                                   "comparator": "<=", "threshold": 2000})
    count = Objective.from_dict({"id": "c", "metric": "correct", "aggregate": "count_true", "comparator": ">=",
                                 "threshold": 4})
    assert objective_figure(share, 62.5) == "63 %" and objective_figure(latency, 1412.5) == "1413 ms"
    assert objective_figure(count, 4.0) == "4 trials" and objective_figure(share, None) == "—"
    (line,) = objective_lines([{"id": "s", "status": "in progress", "value": 62.5, "met": False, "figure": "63 %"}])
    assert line.figure == "63 %"
