"""Accepting a suggestion writes its baseline into the plan objective as data (``baseline``, ``baseline_date``,
``baseline_source``), in the unit of the objective's session figure: the value of a mean or median (a CV as the
metric's fraction, beside its threshold), the percent of trials for a share or k of n, the count for count_true;
nothing when the therapist's edit makes the objective judge something the baseline did not measure."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from engine.assessment.accept import accept_suggestions, baseline_fields
from engine.assessment.results import load_assessment, save_assessment
from engine.assessment.suggest import Suggestion, load_suggestions
from engine.records.plan import load_plan, plan_path
from engine.scoring.objectives import Objective
from tests.test_assess_report import make_assessment
from tests.test_assess_suggest import silent_assessment

DAY = dt.date(2026, 9, 2)  # make_assessment's day


@pytest.fixture
def known(tmp_path):
    root = tmp_path / "data"
    return root, load_assessment(save_assessment(make_assessment(), root))


def test_accepted_objectives_carry_their_baseline_in_the_thresholds_units(known):
    root, a = known
    accept_suggestions(root, "C07", a, ["S1", "S2", "S3", "S4", "S5"])
    plan = {o.id: o for o in load_plan(root, "C07").objectives}
    beat, sd, cv, echo, waits = (plan[k] for k in ("taps-on-the-beat", "steady-timing", "keeps-going-alone",
                                                     "imitates-rhythms", "waits-for-turn"))
    assert (beat.baseline, beat.objective.threshold) == (35.0, 60.0)  # % of beats, the mean's unit
    assert (sd.baseline, sd.objective.threshold) == (61.0, 45.0)  # ms
    assert (cv.baseline, cv.objective.threshold) == (0.12, 0.09)  # 12 % as the metric's fraction, as 9 % is
    assert (echo.baseline, echo.objective.aggregate) == (44.4, "percent_true")  # percent of the calls
    assert waits.baseline == 62.5
    assert all(o.baseline_date == DAY for o in (beat, sd, cv, echo, waits))
    assert waits.baseline_source == "assessment of 2026-09-02: waited during the engine's turn on 5 of 8 turns (63 %)"
    assert sd.baseline_source == ("assessment of 2026-09-02: timing variability (SD of asynchrony) 61 ms (n = 32 "
                                  "matched taps), synchronisation at own tempo")
    text = plan_path(root, "C07").read_text("utf-8")
    assert "baseline = 0.12\nbaseline_date = 2026-09-02\n" in text  # a TOML date, not text


def test_an_edit_keeps_the_baseline_in_the_edited_objectives_units_or_leaves_it_out(known):
    root, a = known
    accept_suggestions(root, "C07", a, ["S4", "S1"], edits={
        "S4": {"criterion": "k_of_n", "k": 4, "n": 5, "comparator": "==", "threshold": True},
        "S1": {"metric": "asynchrony_mean_ms", "aggregate": "median", "comparator": "<=", "threshold": 20}})
    plan = {o.id: o for o in load_plan(root, "C07").objectives}
    assert plan["imitates-rhythms"].baseline == 44.4  # k of n: still the percent of trials that passed
    assert plan["taps-on-the-beat"].baseline is None and plan["taps-on-the-beat"].baseline_date is None
    assert "# No baseline is written" in plan_path(root, "C07").read_text("utf-8")
    assert load_suggestions(a).get("S1").state == "edited"


def test_engagement_objectives_carry_a_count_or_a_percent(tmp_path):
    root = tmp_path / "data"
    a = load_assessment(save_assessment(silent_assessment(), root))
    accept_suggestions(root, "C07", a, ["S1", "S4"])
    plan = {o.id: o for o in load_plan(root, "C07").objectives}
    greet, stay = plan["answers-a-greeting"], plan["stays-with-the-music"]
    assert (greet.baseline, greet.objective.aggregate) == (0.0, "count_true")  # answered 0 of 3: a count
    assert (stay.baseline, stay.objective.aggregate, stay.objective.min_trials) == (0.0, "percent_true", 10)
    assert greet.objective.counted_prompts == ("independent", "gestural", "verbal", "model")
    assert greet.baseline_date == dt.date(2026, 12, 7) and "0 of 3 turns" in greet.baseline_source
    assert "C07 will answer it" in greet.description


def test_baseline_fields_by_hand():
    o = Objective(id="w", metric="waited", aggregate="percent_true", comparator=">=", threshold=60)
    sug = Suggestion("S1", "socialization", "", "", o, "", (), "", "turn_taking", "waited_pct", 33.3, baseline_n=6,
                     baseline_source="assessment of 2026-12-07: waited during the engine's turn on 2 of 6 turns (33 %)")
    day = dt.date(2026, 12, 7)
    assert baseline_fields(sug, o, day) == {"baseline": 33.3, "baseline_date": day,
                                            "baseline_source": sug.baseline_source}
    count = dataclasses.replace(o, aggregate="count_true", threshold=3)
    assert baseline_fields(sug, count, day)["baseline"] == 2.0  # 33.3 % of 6 turns: 2 turns
    cv = Objective(id="c", metric="continuation_iti_cv", aggregate="median", comparator="<=", threshold=0.05)
    cv_sug = dataclasses.replace(sug, objective=cv, baseline=6.3, scale=0.01, figure="continuation_iti_cv_pct")
    assert baseline_fields(cv_sug, cv, day)["baseline"] == pytest.approx(0.063)  # as the threshold: a fraction
    by_trial = Objective(id="c", metric="continuation_iti_cv", criterion="k_of_n", k=4, n=5, comparator="<=",
                         threshold=0.05)
    assert baseline_fields(cv_sug, by_trial, day) == {}  # how many runs were under 5 % is not known
