"""Mastery over visits on separate days, with its dates (docs/definitions.md, "Mastery").

The calendar below is worked by hand: "correct on at least 80 % of at least 5 independent trials,
in 3 consecutive visits on separate days".
"""

from __future__ import annotations

import datetime as dt

import pytest

from engine.scoring.objectives import Objective, Trial, evaluate_session, objective_status

OBJ = Objective.from_dict({"id": "echo", "metric": "correct", "aggregate": "percent_true", "comparator": ">=",
                           "threshold": 80, "min_trials": 5, "sessions": 3})


def visit(correct: int, of: int):
    """A visit with ``correct`` of ``of`` independent trials correct."""
    trials = [Trial({"correct": k < correct}, prompt="independent") for k in range(of)]
    return evaluate_session(OBJ, trials)


# date, the visit, and what the status must be after it (hand-worked)
CALENDAR = [
    (dt.date(2026, 3, 2), visit(5, 5), 1, "met this session"),     # 100 % of 5: met, run 1
    (dt.date(2026, 3, 2), visit(4, 5), 1, "met this session"),     # 80 %: met, but the same day: run stays 1
    (dt.date(2026, 3, 4), visit(2, 2), 1, "in progress"),          # 2 trials < 5: no verdict, neither counts nor breaks
    (dt.date(2026, 3, 9), visit(5, 6), 2, "met this session"),     # 83 %: met on a new day: run 2
    (dt.date(2026, 3, 16), visit(4, 5), 3, "mastered"),            # 80 %: run 3: mastered on 16 March
    (dt.date(2026, 3, 23), visit(3, 5), 0, "in progress"),         # 60 %: not met: regression on 23 March
]


@pytest.mark.parametrize("upto", range(1, len(CALENDAR) + 1))
def test_the_hand_worked_calendar(upto):
    dates = [d for d, *_ in CALENDAR[:upto]]
    results = [r for _, r, *_ in CALENDAR[:upto]]
    st = objective_status(OBJ, results, dates)
    _, _, run, status = CALENDAR[upto - 1]
    assert (st.consecutive_met, st.status) == (run, status)
    assert st.mastered_on == ("2026-03-16" if upto >= 5 else None)
    assert st.regressed_on == ("2026-03-23" if upto == 6 else None)


def test_the_sentences_say_what_counted():
    dates = [d for d, *_ in CALENDAR]
    results = [r for _, r, *_ in CALENDAR]
    same_day = objective_status(OBJ, results[:2], dates[:2]).sentence
    assert "same day" in same_day and "does not count again toward mastery" in same_day
    assert "(1 of 3 visits on separate days so far)" in same_day
    too_few = objective_status(OBJ, results[:3], dates[:3]).sentence
    assert too_few.startswith("Only 2 of 2 trials were counted; the criterion needs 5.")
    assert "neither counts toward mastery nor breaks it" in too_few
    mastered = objective_status(OBJ, results[:5], dates[:5]).sentence
    assert mastered.endswith("criterion met for the 3rd consecutive visit on separate days: mastered on "
                             "16 March 2026.")
    regressed = objective_status(OBJ, results, dates).sentence
    assert "after it was mastered on 16 March 2026: in progress again." in regressed


def test_three_runs_on_one_day_are_not_mastery():
    """The bug: "mastered in 3 consecutive sessions" over three runs started within five seconds on one day."""
    day = dt.date(2026, 3, 2)
    st = objective_status(OBJ, [visit(5, 5)] * 3, [day] * 3)
    assert st.status == "met this session" and st.consecutive_met == 1 and st.mastered_on is None


def test_the_plan_can_ask_for_a_week_between_visits():
    dates = [dt.date(2026, 3, 2), dt.date(2026, 3, 6), dt.date(2026, 3, 9), dt.date(2026, 3, 16)]
    results = [visit(5, 5)] * 4
    # A week apart: 6 March is 4 days after 2 March (does not count); 9 and 16 March do.
    st = objective_status(OBJ, results, dates, min_gap_days=7)
    assert st.consecutive_met == 3 and st.mastered_on == "2026-03-16"
    # Separate days only: 2, 6 and 9 March already make three.
    assert objective_status(OBJ, results[:3], dates[:3]).mastered_on == "2026-03-09"


def test_without_dates_every_visit_is_a_day_of_its_own():
    st = objective_status(OBJ, [visit(5, 5)] * 3)
    assert st.status == "mastered" and st.mastered_on is None


def test_dates_must_match_the_visits():
    with pytest.raises(ValueError, match="2 dates were given for 3 sessions"):
        objective_status(OBJ, [visit(5, 5)] * 3, [dt.date(2026, 3, 2)] * 2)
