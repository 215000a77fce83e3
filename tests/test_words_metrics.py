"""Every metric a scoring module produces reads in plain words, with its unit, in every sentence about it.

Walks the metric keys of every scoring result (the families of ``engine.interventions.script.METRICS``,
made from the result dataclasses of ``engine/scoring/*.py``), builds an objective of each kind on each, and
checks the criterion, the visit's summary and the sentence over visits: no key ("drift_pct_per_interval"),
no underscore, no "X: yes", no doubled word, and each figure with its unit.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest

from engine.interventions.script import METRICS, continuation_key
from engine.reports.sentences import axis_label, criterion_text
from engine.scoring.blanks import BlankResult
from engine.scoring.continuation import ContinuationResult
from engine.scoring.display import TRIAL_SCORES
from engine.scoring.imitation import ImitationResult
from engine.scoring.inhibition import StopResult
from engine.scoring.objectives import Objective, Trial, evaluate_session, objective_figure, objective_status
from engine.scoring.sync import SyncSummary
from engine.scoring.turns import TurnResult
from engine.scoring.words import (
    BOOL_METRIC_NEGATIONS,
    BOOL_METRIC_PHRASES,
    NUMERIC_METRIC_NAMES,
    SHARE_METRICS,
    metric_display,
    metric_value_text,
    threshold_text,
)

ALL = sorted({m for names in METRICS.values() for m in names})
RESULTS = (SyncSummary, ImitationResult, TurnResult, StopResult, BlankResult)


def _field_types() -> dict[str, str]:
    types = {f.name: str(f.type) for cls in RESULTS for f in dataclasses.fields(cls)}
    types |= {continuation_key(f.name): str(f.type) for f in dataclasses.fields(ContinuationResult)}
    return types


TYPES = _field_types()
BOOLS = [m for m in ALL if TYPES[m].startswith("bool")]
NUMBERS = [m for m in ALL if m not in BOOLS]

#: What the unit of a metric must say, from how its key ends (DESIGN.md: units are named in identifiers).
UNIT_OF_SUFFIX = (("_ms", "ms"), ("_ms_per_interval", "ms per interval"), ("_pct", "%"),
                  ("_pct_per_interval", "% of the beat per interval"), ("_deg", "°"), ("_notes", "notes"),
                  ("tempo_ratio", "×"), ("_rel", "×"))

#: What may follow a number in a sentence: its unit, or the words that count it.
_AFTER_NUMBER = re.compile(
    r"\d+(?:\.\d+)?(?=(?: %| ms| °| notes?\b| × | out of 1| trials?\b| of \b| consecutive| in a row| needed|"
    r" BPM|–\d|-note| visits?\b|\)| beats?\b)|st\b|nd\b|rd\b|th\b| early| late)")
_NUMBER = re.compile(r"(?<![\w.])(?<!out of )[-+]?\d+(?:\.\d+)?")  # the 1 of "out of 1" is the unit
_DATE = re.compile(r"\d{1,2} (?:January|February|March|April|May|June|July|August|September|October|November|"
                   r"December) \d{4}")
_DOUBLED = re.compile(r"\b(\w+) \1\b", re.IGNORECASE)


def test_the_walk_finds_every_family():
    assert {"within_window_pct", "drift_pct_per_interval", "tempo_error_pct", "stopped", "correct",
            "turn_length_notes", "blank_asynchrony_ms", "continuation_tempo_ratio"} <= set(ALL)
    assert set(BOOLS) >= {"stopped", "waited", "initiated", "filled", "correct", "played_during_go"}


@pytest.mark.parametrize("metric", BOOLS)
def test_every_true_false_metric_is_a_behaviour_both_ways(metric):
    for phrases in (BOOL_METRIC_PHRASES, BOOL_METRIC_NEGATIONS):
        phrase = phrases[metric]
        assert "_" not in phrase and ":" not in phrase and phrase[0].isupper(), phrase


@pytest.mark.parametrize("metric", NUMBERS)
def test_every_numeric_metric_has_a_plain_name_and_its_unit(metric):
    assert metric in NUMERIC_METRIC_NAMES, f"{metric} has no words: it would read from its key"
    name, unit = metric_display(metric)
    assert "_" not in name and "(" not in name and name == name.strip() and name[0].islower() or \
        name.startswith(("Rayleigh", "Wing"))
    expected = [u for suffix, u in UNIT_OF_SUFFIX if metric.endswith(suffix)]
    if expected:
        assert unit.startswith(expected[-1]), (metric, unit)
    if metric.startswith("n_") or metric in ("matched", "missed", "extra", "irregular") or "onsets" in metric:
        assert name.startswith("number of"), (metric, name)  # a count says what it counts


def _objectives(metric: str) -> list[Objective]:
    if metric in BOOLS:
        return [Objective.from_dict(d) for d in (
            {"id": "k", "metric": metric, "criterion": "k_of_n", "k": 4, "n": 5, "comparator": "==", "threshold": True},
            {"id": "kc", "metric": metric, "criterion": "k_of_n_consecutive", "k": 3, "n": 5, "comparator": "==",
             "threshold": True},
            {"id": "no", "metric": metric, "criterion": "k_of_n", "k": 4, "n": 5, "comparator": "==",
             "threshold": False},
            {"id": "pct", "metric": metric, "aggregate": "percent_true", "comparator": ">=", "threshold": 80},
            {"id": "count", "metric": metric, "aggregate": "count_true", "comparator": ">=", "threshold": 3,
             "max_prompt": "gestural", "level": {"tempo_bpm_min": 80}})]
    threshold = -50.0 if metric.endswith("asynchrony_ms") else 70.0
    out = [Objective.from_dict({"id": agg, "metric": metric, "aggregate": agg, "comparator": ">=",
                                "threshold": threshold}) for agg in ("mean", "median", "min", "max")]
    out.append(Objective.from_dict({"id": "k", "metric": metric, "criterion": "k_of_n", "k": 4, "n": 5,
                                    "comparator": "<=", "threshold": 12.5}))
    return out


def _trials(metric: str) -> list[Trial]:
    if metric in BOOLS:
        values = [True, True, False, True, True, True]
    else:
        values = [60.0, -12.5, 75.25, 80.0, 0.5, 99.0]
    # The kinds' own scores ride along, as in a real trial, so "correct" and the timing window are worded.
    extra = {"window_ms": 80.0, "tempo_bpm": 90.0}
    return [Trial({metric: v, **extra}, prompt="independent") for v in values]


def _sentences(metric: str) -> list[str]:
    out = []
    day = dt.date(2026, 3, 2)
    for o in _objectives(metric):
        out.append(criterion_text(o))
        out.append(criterion_text(o, window_ms=80.0, kind="stop_and_go"))
        out.append(axis_label(o))
        res = evaluate_session(o, _trials(metric))
        out.append(res.summary)
        dates = [day + dt.timedelta(days=7 * k) for k in range(3)]
        out.append(objective_status(o, [res] * 3, dates).sentence)
        out.append(objective_figure(o, res.value))
    return out


def assert_plain(sentence: str) -> None:
    """The checks every generated sentence must pass."""
    assert "_" not in sentence, f"a key leaks: {sentence!r}"  # every key with two words has an underscore
    assert ": yes" not in sentence and "yes on" not in sentence and ": no " not in sentence, sentence
    assert not _DOUBLED.search(sentence), f"doubled word in {sentence!r}"
    assert "  " not in sentence and " ." not in sentence.replace(" ...", "") and " ;" not in sentence, sentence


@pytest.mark.parametrize("metric", ALL)
def test_no_sentence_about_a_metric_shows_its_key_or_a_number_without_its_unit(metric):
    _, unit = metric_display(metric)
    for sentence in _sentences(metric):
        assert_plain(sentence)
        if metric in BOOLS or not unit:
            continue
        sentence = _DATE.sub("DATE", sentence)
        for m in _NUMBER.finditer(sentence):
            if "ms" in unit and re.match(r"\s*(?:early|late)", sentence[m.end():]):
                continue
            assert _AFTER_NUMBER.match(sentence, m.start() + (m.group()[0] in "-+")), \
                f"{m.group()!r} has no unit in {sentence!r}"


@pytest.mark.parametrize("metric", NUMBERS)
def test_the_threshold_reads_with_its_unit_in_the_criterion(metric):
    o = _objectives(metric)[-1]  # k of n, "<= 12.5"
    text = criterion_text(o)
    if metric in SHARE_METRICS:
        assert "at most 12.5 % of beats" in text
    else:
        assert threshold_text(metric, "<=", 12.5) in text
        assert metric_value_text(metric, 12.5) in text


@pytest.mark.parametrize("kind", list(TRIAL_SCORES))
def test_the_trial_lines_and_tables_name_each_score_with_its_unit(kind):
    for key, label, spec in TRIAL_SCORES[kind]:
        assert "_" not in label
        assert key in ALL, key
        _, unit = metric_display(key)
        if unit and key not in BOOLS:
            first = unit.split()[0]
            assert first in spec, (key, spec)
