"""Tests of engine.scoring.objectives on hand-worked sessions and bad definitions."""

from __future__ import annotations

import json

import pytest

from engine.scoring.objectives import (
    PROMPT_LEVELS,
    Objective,
    SessionResult,
    Trial,
    evaluate_session,
    objective_status,
)

IMITATE_4_OF_5 = {
    "id": "imitate",
    "metric": "correct",
    "criterion": "k_of_n",
    "k": 4,
    "n": 5,
    "comparator": "==",
    "threshold": True,
}


def objective(**overrides) -> Objective:
    return Objective.from_dict({**IMITATE_4_OF_5, **overrides})


def trials(values, metric="correct", prompts=None) -> list[Trial]:
    prompts = prompts or ["independent"] * len(values)
    return [Trial({metric: v}, p) for v, p in zip(values, prompts, strict=True)]


T, F = True, False


# --- one session ---------------------------------------------------------------------


def test_4_of_5_trials_met_and_3_of_5_not():
    o = objective()
    met = evaluate_session(o, trials([T, F, T, T, T]))
    assert met.met is True and met.passed == 4 and met.judged == 5 and met.counted == 5
    assert [t.passed for t in met.trials] == [T, F, T, T, T]
    assert met.summary == "Responded correctly on 4 of 5 trials (80 %); criterion met."
    not_met = evaluate_session(o, trials([T, F, T, F, T]))
    assert not_met.met is False and not_met.passed == 3
    assert not_met.reason is None


def test_k_of_n_judges_the_first_n_counted_trials_only():
    # 2 of the first 5 pass; the later passes are reported but do not decide.
    result = evaluate_session(objective(), trials([F, F, T, F, T, T, T, T]))
    assert result.met is False and result.judged == 5 and result.passed == 2
    assert [t.judged for t in result.trials] == [T] * 5 + [F] * 3
    assert "2 of the first 5 trials" in result.summary


def test_4_of_5_consecutive_needs_a_run_of_4():
    o = objective(criterion="k_of_n_consecutive")
    scattered = evaluate_session(o, trials([T, T, F, T, T]))  # 4 of 5, longest run 2
    assert scattered.passed == 4 and scattered.longest_run == 2 and scattered.met is False
    in_a_row = evaluate_session(o, trials([F, T, T, T, T]))
    assert in_a_row.longest_run == 4 and in_a_row.met is True
    # The same 4 of 5 under plain k_of_n is met: the two criteria differ.
    assert evaluate_session(objective(), trials([T, T, F, T, T])).met is True


def test_percent_true_at_least_80():
    o = Objective.from_dict({"id": "c", "metric": "correct", "aggregate": "percent_true",
                             "comparator": ">=", "threshold": 80})
    eight_of_ten = evaluate_session(o, trials([T] * 8 + [F] * 2))
    assert eight_of_ten.value == pytest.approx(80.0) and eight_of_ten.met is True
    seven_of_ten = evaluate_session(o, trials([T] * 7 + [F] * 3))
    assert seven_of_ten.value == pytest.approx(70.0) and seven_of_ten.met is False
    assert seven_of_ten.summary == "Responded correctly on 7 of 10 trials (70 %); criterion not met."


def test_count_true_counts():
    # min_trials 1 here and below: these check the arithmetic, not the fewest trials (see test_min_trials_*).
    o = Objective.from_dict({"id": "w", "metric": "waited", "aggregate": "count_true",
                             "comparator": ">", "threshold": 2, "min_trials": 1})
    result = evaluate_session(o, trials([T, F, T, T], metric="waited"))
    assert result.value == 3.0 and result.met is True
    assert evaluate_session(o, trials([T, F, T, F], metric="waited")).met is False


def test_mean_asynchrony_sd_at_most_60_ms():
    o = Objective.from_dict({"id": "steady", "metric": "asynchrony_sd_ms", "aggregate": "mean",
                             "comparator": "<=", "threshold": 60, "min_trials": 1})
    result = evaluate_session(o, trials([40.0, 55.0, 80.0], metric="asynchrony_sd_ms"))
    assert result.value == pytest.approx(58.333333333)
    assert result.met is True
    # Per-trial pass/fail is reported for information: the 80 ms run is above 60.
    assert [t.passed for t in result.trials] == [T, T, F]
    worse = evaluate_session(o, trials([40.0, 65.0, 80.0], metric="asynchrony_sd_ms"))
    assert worse.value == pytest.approx(61.666666667) and worse.met is False
    assert worse.summary.startswith("Over 3 trials, the average standard deviation of tap timing was 61.7 ms")


@pytest.mark.parametrize(
    ("aggregate", "expected"),
    [("median", 55.0), ("min", 40.0), ("max", 80.0), ("mean", 175 / 3)],
)
def test_numeric_aggregates(aggregate, expected):
    o = Objective.from_dict({"id": "a", "metric": "asynchrony_sd_ms", "aggregate": aggregate,
                             "comparator": "<", "threshold": 56, "min_trials": 1})
    result = evaluate_session(o, trials([80.0, 40.0, 55.0], metric="asynchrony_sd_ms"))
    assert result.value == pytest.approx(expected)
    assert result.met is (expected < 56)


@pytest.mark.parametrize(
    ("comparator", "value", "met"),
    [(">=", 60, T), (">=", 59.9, F), (">", 60, F), (">", 60.1, T),
     ("<=", 60, T), ("<=", 60.1, F), ("<", 60, F), ("<", 59.9, T), ("==", 60, T), ("==", 61, F)],
)
def test_comparators_at_the_boundary(comparator, value, met):
    o = Objective.from_dict({"id": "b", "metric": "x", "aggregate": "mean",
                             "comparator": comparator, "threshold": 60, "min_trials": 1})
    assert evaluate_session(o, trials([value], metric="x")).met is met


def test_prompted_trials_are_excluded_but_reported():
    prompts = ["independent", "verbal", "independent", "physical", "independent",
               "independent", "independent"]
    # The two prompted trials failed; without them 4 of the 5 independent trials pass.
    result = evaluate_session(objective(), trials([T, F, T, F, F, T, T], prompts=prompts))
    assert result.excluded_prompted == 2 and result.counted == 5
    assert result.met is True and result.passed == 4
    prompted = [t for t in result.trials if t.status == "prompted"]
    assert [(t.index, t.prompt, t.value, t.passed) for t in prompted] == [
        (1, "verbal", False, None), (3, "physical", False, None)]
    assert "2 prompted trials were not counted." in result.summary


def test_counted_prompt_levels_can_include_less_help_than_a_level():
    prompts = ["gestural", "gestural", "verbal", "independent", "model"]
    o = objective(max_prompt="verbal")
    assert o.counted_prompts == ("independent", "gestural", "verbal")
    result = evaluate_session(o, trials([T, T, T, T, T], prompts=prompts))
    assert result.counted == 4 and result.excluded_prompted == 1 and result.met is None
    o2 = objective(counted_prompts=["model", "independent"])
    assert o2.counted_prompts == ("independent", "model")  # stored in PROMPT_LEVELS order


def test_all_trials_prompted_gives_no_verdict_with_reason():
    result = evaluate_session(objective(), trials([T] * 5, prompts=["model"] * 5))
    assert result.met is None and result.counted == 0 and result.excluded_prompted == 5
    assert result.reason == ("All 5 trials were prompted, and only independent trials count "
                             "toward the criterion.")


def test_none_scores_are_unscorable_not_failures():
    # 4 passes and one None: "not measured" must not count as the fifth trial failing,
    # so only 4 trials are counted and 4 of 5 cannot be judged.
    result = evaluate_session(objective(), trials([T, T, None, T, T]))
    assert result.unscorable == 1 and result.counted == 4
    assert result.trials[2].status == "unscorable" and result.trials[2].passed is None
    assert result.met is None
    assert result.reason == ("Only 4 of 5 trials were counted (1 could not be scored); "
                             "the criterion needs 5.")
    # With a sixth trial the None is simply skipped: 4 of the 5 counted pass.
    result6 = evaluate_session(objective(), trials([T, T, None, T, F, T]))
    assert result6.met is True and result6.passed == 4 and result6.unscorable == 1
    # In a mean, None is left out rather than taken as 0.
    o = Objective.from_dict({"id": "m", "metric": "x", "aggregate": "mean",
                             "comparator": "<=", "threshold": 60, "min_trials": 1})
    mean = evaluate_session(o, trials([50.0, None, 70.0], metric="x"))
    assert mean.value == pytest.approx(60.0) and mean.counted == 2 and mean.met is True


def test_none_reason_counts_the_trials():
    result = evaluate_session(objective(), trials([T, T, None, T]))
    assert result.reason == ("Only 3 of 4 trials were counted (1 could not be scored); "
                             "the criterion needs 5.")


def test_scorable_false_overrides_the_value():
    sync_like = [Trial({"within_window_pct": 90.0, "scorable": s}, "independent") for s in (T, F, T)]
    o = Objective.from_dict({"id": "w", "metric": "within_window_pct", "aggregate": "mean",
                             "comparator": ">=", "threshold": 80})
    result = evaluate_session(o, sync_like)
    assert result.unscorable == 1 and result.counted == 2
    explicit = evaluate_session(o, [Trial({"within_window_pct": 90.0}, "independent", scorable=False)])
    assert explicit.met is None and explicit.unscorable == 1
    assert explicit.reason == "The only trial could not be scored."


def test_no_trials_gives_no_verdict():
    result = evaluate_session(objective(), [])
    assert result.met is None and result.value is None and result.n_trials == 0
    assert result.reason == "No trials were recorded."


def test_min_trials_for_an_aggregate():
    o = Objective.from_dict({"id": "m", "metric": "x", "aggregate": "mean", "comparator": "<=",
                             "threshold": 60, "min_trials": 3})
    assert evaluate_session(o, trials([10.0, 20.0], metric="x")).met is None
    assert evaluate_session(o, trials([10.0, 20.0, 30.0], metric="x")).met is True


def test_trials_may_be_plain_dicts_and_results_are_json_ready():
    data = [{"scores": {"correct": True}, "prompt": "independent"}] * 4 + [
        {"scores": {"correct": False}, "prompt": "independent"}]
    result = evaluate_session(objective(), data)
    assert result.met is True
    back = json.loads(json.dumps(result.to_dict()))
    assert back["met"] is True and back["trials"][4]["passed"] is False


# --- over sessions ---------------------------------------------------------------------


def session(o: Objective, values, prompts=None) -> SessionResult:
    return evaluate_session(o, trials(values, prompts=prompts))


def test_no_trials_is_not_started():
    o = objective()
    for sessions in ([], [session(o, [])], [session(o, []), session(o, [])]):
        status = objective_status(o, sessions)
        assert status.status == "not started"
        assert status.consecutive_met == 0
        assert status.sentence == "No trials have been recorded yet."


def test_mastered_after_3_consecutive_sessions_and_back_to_in_progress():
    o = objective()
    good, bad = [T, T, T, T, F], [T, F, T, F, F]
    history = [session(o, bad)]
    assert objective_status(o, history).status == "in progress"
    history.append(session(o, good))
    first = objective_status(o, history)
    assert first.status == "met this session" and first.consecutive_met == 1
    history.append(session(o, good))
    second = objective_status(o, history)
    assert second.status == "met this session" and second.consecutive_met == 2
    assert second.sentence == ("Responded correctly on 4 of 5 trials (80 %); "
                               "criterion met for the 2nd consecutive visit.")
    history.append(session(o, good))
    third = objective_status(o, history)
    assert third.status == "mastered" and third.consecutive_met == 3
    assert third.sentence.endswith("criterion met for the 3rd consecutive visit: mastered.")
    assert third.met == (F, T, T, T) and third.passed == (2, 4, 4, 4)
    history.append(session(o, bad))
    after = objective_status(o, history)
    assert after.status == "in progress" and after.consecutive_met == 0
    assert after.sentence == "Responded correctly on 2 of 5 trials (40 %); criterion not met at this visit."


def test_sessions_with_nothing_to_judge_neither_count_nor_break_the_run():
    o = objective()
    good = [T, T, T, T, T]
    history = [session(o, good), session(o, good), session(o, good, prompts=["verbal"] * 5)]
    status = objective_status(o, history)
    assert status.consecutive_met == 2 and status.sessions_judged == 2
    assert status.status == "in progress"  # the latest session met nothing: not "met this session"
    assert status.met == (T, T, None)
    history.append(session(o, good))
    assert objective_status(o, history).status == "mastered"


def test_per_session_values_are_reported():
    o = Objective.from_dict({"id": "c", "metric": "correct", "aggregate": "percent_true",
                             "comparator": ">=", "threshold": 80, "sessions": 2})
    history = [session(o, [T, F, T, T]), session(o, [T, T, T, T, F]), session(o, [])]
    status = objective_status(o, history)
    assert status.values == (75.0, 80.0, None)
    assert status.n_sessions == 3 and status.sessions_required == 2
    assert status.status == "in progress" and status.consecutive_met == 1
    json.dumps(status.to_dict())


def test_session_of_another_objective_is_refused():
    a, b = objective(), objective(id="other")
    with pytest.raises(ValueError, match="objective 'other', not 'imitate'"):
        objective_status(a, [session(b, [T])])


# --- bad definitions and bad scores ----------------------------------------------------


def _error(**changes) -> str:
    data = {**IMITATE_4_OF_5, **changes}
    data = {k: v for k, v in data.items() if v is not _DROP}
    with pytest.raises(ValueError) as info:
        Objective.from_dict(data)
    message = str(info.value)
    assert message.endswith(".") and message.count(". ") == 0, message  # one sentence
    return message


_DROP = object()


def test_unknown_aggregate():
    msg = _error(aggregate="average")
    assert "aggregate must be one of mean, median, percent_true, count_true, min, max" in msg
    assert "'average'" in msg


def test_unknown_comparator():
    msg = _error(comparator="=>")
    assert "comparator must be one of >=, >, <=, <, ==" in msg and "'=>'" in msg


def test_negative_or_zero_k():
    assert "k must be a whole number of at least 1, not -1" in _error(k=-1)
    assert "k must be a whole number of at least 1, not 0" in _error(k=0)
    assert "k must be a whole number" in _error(k=2.5)


def test_k_more_than_n():
    assert _error(k=6) == "Objective 'imitate': k (6) cannot be more than n (5)."


def test_unknown_prompt_level():
    msg = _error(counted_prompts=["independent", "hand-over-hand"])
    assert "'hand-over-hand' is not a prompt level" in msg
    assert ", ".join(PROMPT_LEVELS) in msg
    assert "max_prompt 'shout' is not a prompt level" in _error(max_prompt="shout")
    with pytest.raises(ValueError, match="prompt 'hint' is not a prompt level"):
        Trial({"correct": True}, prompt="hint")


def test_missing_fields():
    assert _error(threshold=_DROP) == (
        "Objective 'imitate' is missing the field 'threshold' (a number to compare with).")
    assert "is missing the field 'metric'" in _error(metric=_DROP)
    assert "An objective is missing the field 'id'" in _error(id=_DROP)
    assert "the k_of_n criterion needs n" in _error(n=_DROP)
    msg = _error(criterion=_DROP, k=_DROP, n=_DROP)
    assert "the aggregate criterion needs an aggregate (one of mean" in msg


def test_unknown_field_and_misplaced_fields():
    assert "unknown field 'treshold'" in _error(treshold=3)
    assert "k and n apply only to the criteria k_of_n" in _error(criterion="aggregate",
                                                                 aggregate="mean")
    assert "criterion must be one of aggregate, k_of_n, k_of_n_consecutive" in _error(
        criterion="most")
    assert "give either counted_prompts or max_prompt" in _error(
        max_prompt="verbal", counted_prompts=["independent"])
    assert "counted_prompts must name at least one" in _error(counted_prompts=[])


def test_bad_threshold_and_sessions():
    assert "threshold must be a finite number" in _error(threshold="80")
    assert "threshold must be a finite number" in _error(threshold=float("nan"))
    assert "sessions must be a whole number of at least 1, not 0" in _error(sessions=0)
    msg = _error(criterion="aggregate", k=_DROP, n=_DROP, aggregate="percent_true",
                 threshold=180)
    assert "percentage from 0 to 100" in msg


def test_bad_scores():
    o = objective()
    with pytest.raises(ValueError, match="Trial 2 has no score named 'correct'"):
        evaluate_session(o, [Trial({"correct": True}), Trial({"corect": True})])
    with pytest.raises(ValueError, match="must be None, not NaN"):
        evaluate_session(o, trials([T, float("nan")]))
    with pytest.raises(ValueError, match="must be a number, true/false or None"):
        evaluate_session(o, trials([T, "yes"]))
    pct = Objective.from_dict({"id": "p", "metric": "x", "aggregate": "percent_true",
                               "comparator": ">=", "threshold": 80})
    with pytest.raises(ValueError, match="percent_true needs true/false scores"):
        evaluate_session(pct, trials([0.9], metric="x"))
    mean = Objective.from_dict({"id": "m", "metric": "x", "aggregate": "mean",
                                "comparator": ">=", "threshold": 0.5})
    with pytest.raises(ValueError, match="mean needs numeric scores"):
        evaluate_session(mean, trials([True], metric="x"))


def test_definition_round_trips_through_a_dict():
    o = objective(max_prompt="gestural", sessions=2)
    again = Objective.from_dict(o.to_dict())
    assert again == o
    assert o.to_dict()["counted_prompts"] == ["independent", "gestural"]
