"""The sentences a therapist pastes into a chart: hand-worked examples, the rushing child, and docs/sentences.md.

Every example table in ``docs/sentences.md`` is produced here, by running the code: the test fails when
the doc and the code disagree. After a deliberate change of wording, rewrite the doc with

    .venv/bin/python -m tests.test_words_sentences

and read the new sentences before committing them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from engine.interventions.kinds import make_kind
from engine.interventions.script import METRICS, load_script
from engine.reports.progress import (
    assessment_sentence,
    attendance_text,
    criterion_words,
    level_text,
    trend_text,
)
from engine.reports.sentences import (
    axis_label,
    criterion_text,
    duration_text,
    prompt_text,
    session_sentences,
    setup_text,
    simulated_child_text,
    status_label,
)
from engine.scoring.continuation import score_continuation
from engine.scoring.display import format_score
from engine.scoring.judge import trial_line
from engine.scoring.objectives import (
    Objective,
    Trial,
    evaluate_session,
    level_phrase,
    objective_figure,
    objective_status,
    trial_test_phrase,
)
from engine.scoring.words import (
    CORRECT_PHRASES,
    bool_phrase,
    format_value,
    metric_display,
    metric_value_text,
    percent_text,
    threshold_text,
    window_text,
)
from tests.test_words_metrics import BOOLS, assert_plain

ROOT = Path(__file__).resolve().parents[1]
SONGS = ROOT / "content" / "songs"
DOC = ROOT / "docs" / "sentences.md"
BEGIN, END = "<!-- examples: begin (made by tests/test_words_sentences.py) -->", "<!-- examples: end -->"
M_BEGIN, M_END = "<!-- metrics: begin (made by tests/test_words_sentences.py) -->", "<!-- metrics: end -->"
DAY = dt.date(2026, 3, 2)


def obj(metric: str, **fields) -> Objective:
    return Objective.from_dict({"id": "o", "metric": metric, **fields})


def k_of_n(metric: str, k: int = 4, n: int = 5, **fields) -> Objective:
    return obj(metric, criterion="k_of_n", k=k, n=n, comparator="==", threshold=True, **fields)


def trials(metric: str, values, prompt: str = "independent", **scores) -> list[Trial]:
    return [Trial({metric: v, **scores}, prompt=prompt) for v in values]


def summary(o: Objective, ts: list[Trial]) -> str:
    return evaluate_session(o, ts).summary


def status(o: Objective, visits: list[list[Trial]], days: list[int] | None = None, **kw) -> str:
    results = [evaluate_session(o, ts) for ts in visits]
    dates = None if days is None else [DAY + dt.timedelta(days=d) for d in days]
    return objective_status(o, results, dates, **kw).sentence


# --- the therapist's findings, fixed (hand-worked) -----------------------------------------------------------


def test_a_share_reads_as_what_the_child_did_with_its_window():
    # 40, 45, 50, 45, 45 % of beats within ±80 ms: mean 45 %, below 80 %.
    o = obj("within_window_pct", aggregate="mean", comparator=">=", threshold=80)
    assert summary(o, trials("within_window_pct", [40.0, 45.0, 50.0, 45.0, 45.0], window_ms=80.0)) == (
        "On average over 5 trials, 45 % of beats were tapped within ±80 ms of the beat; criterion not met.")
    assert criterion_text(o, window_ms=80) == (
        "Tapped within ±80 ms of the beat on at least 80 % of beats on average over a visit's trials (independent "
        "trials count, at least 5 of them); mastered when met in 3 consecutive visits on separate days.")
    # Without the window (a report's criterion, which has only the objective), it says which window it means.
    assert criterion_text(o).startswith("Tapped within the timing window of the beat on at least 80 % of beats")


def test_a_true_false_metric_reads_as_a_behaviour_not_as_yes():
    o = k_of_n("stopped")
    assert summary(o, trials("stopped", [False] * 6, played_during_go=True)) == (
        "Stopped when the music stopped on 0 of the first 5 trials (0 %); criterion not met.")
    assert criterion_text(o) == ("Stopped when the music stopped on at least 4 of the first 5 trials (independent "
                                 "trials count); mastered when met in 3 consecutive visits on separate days.")
    no = obj("stopped", criterion="k_of_n", k=4, n=5, comparator="==", threshold=False)
    assert trial_test_phrase(no) == "Kept playing after the music stopped"


def test_drift_has_its_name_and_unit_and_two_decimals():
    # Medians of -0.5, -0.44, -0.44, -0.3, -0.2: -0.44 % of the beat per interval (speeding up a little).
    o = obj("drift_pct_per_interval", aggregate="median", comparator="<=", threshold=1.0)
    assert summary(o, trials("drift_pct_per_interval", [-0.44, -0.5, -0.3, -0.44, -0.2])) == (
        "Over 5 trials, the median tempo drift after the music stopped was -0.44 % of the beat per interval; "
        "criterion met.")
    assert axis_label(o) == "Median tempo drift after the music stopped (% of the beat per interval)"
    ratio = obj("continuation_tempo_ratio", aggregate="mean", comparator="<=", threshold=1.1)
    assert axis_label(ratio) == "Average length of the intervals tapped after the music stopped (× the beat)"
    assert axis_label(k_of_n("stopped")) == "% of trials: stopped when the music stopped"


def test_correct_reads_as_the_kind_of_activity_it_belongs_to():
    o = k_of_n("correct")
    echo = trials("correct", [True] * 5, response_present=True)
    stop = trials("correct", [True] * 5, stopped=True)
    blank = trials("correct", [True] * 5, filled=True)
    assert summary(o, echo).startswith("Imitated correctly on 5 of 5 trials")
    assert summary(o, stop).startswith("Played along, then stopped when the music stopped on 5 of 5 trials")
    assert summary(o, blank).startswith("Filled the blank in the music on 5 of 5 trials")
    assert summary(o, trials("correct", [True] * 5)).startswith("Responded correctly on 5 of 5 trials")
    assert criterion_text(o, kind="call_and_response").startswith("Imitated correctly on at least 4 of the first 5")


def test_a_signed_figure_reads_by_its_size_and_side():
    assert metric_value_text("blank_asynchrony_ms", -50.0) == "50 ms early"
    assert metric_value_text("asynchrony_mean_ms", 12.5) == "12.5 ms late"
    assert metric_value_text("asynchrony_mean_ms", 0.0) == "0 ms"
    # asynchrony <= 200: any early note passes; >= -50: any late one does.
    assert threshold_text("blank_asynchrony_ms", "<=", 200) == "no later than 200 ms late"
    assert threshold_text("blank_asynchrony_ms", ">=", -50) == "no earlier than 50 ms early"
    assert threshold_text("blank_asynchrony_ms", "<=", -50) == "at least 50 ms early"
    o = load_script(SONGS / "fill-in-the-blank.toml").objectives[1]
    assert o.id == "on-time"
    assert summary(o, trials("blank_asynchrony_ms", [-60.0, -40.0, -50.0, 10.0, -55.0], filled=True)) == (
        "Over 5 trials, the median timing of the note in the blank was 50 ms early; criterion met.")


def test_one_trial_is_not_counted_as_none_of_one():
    o = obj("response_latency_ms", aggregate="median", comparator="<=", threshold=2000, min_trials=1)
    assert evaluate_session(o, [Trial({"response_latency_ms": None}, "independent")]).reason == \
        "The only trial could not be scored."
    assert evaluate_session(o, [Trial({"response_latency_ms": 900.0}, "verbal")]).reason == \
        "The only trial was prompted, and only independent trials count toward the criterion."
    long = obj("correct", criterion="k_of_n", k=1, n=1, comparator="==", threshold=True,
               level={"pattern_length_min": 4})
    assert evaluate_session(long, [Trial({"correct": True, "pattern_length": 2}, "independent")]).reason == \
        "The only trial was not on patterns of 4 notes or more, the difficulty this objective is about."


def test_a_progress_note_opens_with_a_full_sentence():
    assert session_sentences(title="Echo drums", status="completed", duration_s=725.0, n_trials=10,
                             prompts={"independent": 6, "gestural": 2, "verbal": 1, "not recorded": 1}) == [
        ("Echo drums ran for 12 min 5 s with 10 trials: 6 independent, 2 gestural, 1 verbal and 1 without a "
        "recorded prompt level.")]
    assert session_sentences(title="Metronome", status="stopped", duration_s=22.1, n_trials=8, beats=32,
                             prompts={"independent": 8}) == [
        "Metronome ran for 22 s with 8 trials (32 beats, one bar a trial), all without prompts.",
        "The therapist stopped the visit before all its trials."]
    assert session_sentences(title="Hello", status="completed", duration_s=61, n_trials=4,
                             prompts={"not recorded": 4})[0] == \
        "Hello ran for 1 min 1 s with 4 trials; no prompt level was recorded for them."


# --- the rushing child ---------------------------------------------------------------------------------------


def test_tempo_error_by_hand():
    # Cues every 500 ms; after them taps every 540 ms: mean interval 540 ms = 1.08 × the beat, 8 % off.
    r = score_continuation([0.0, 0.5, 1.0, 1.5], 2.0 + 0.54 * np.arange(6))
    assert r.iti_mean_ms == pytest.approx(540.0) and r.tempo_ratio == pytest.approx(1.08)
    assert r.tempo_error_pct == pytest.approx(8.0)
    # Rushing by as much (460 ms, 0.92 × the beat) is as far off: 8 %.
    assert score_continuation([0.0, 0.5, 1.0, 1.5], 2.0 + 0.46 * np.arange(6)).tempo_error_pct == pytest.approx(8.0)
    # Not scorable: no number, never NaN.
    assert score_continuation([0.0, 0.5, 1.0, 1.5], [2.0, 2.5]).tempo_error_pct is None


def _continuation_trials(interval_s: float, n: int = 5) -> list[Trial]:
    """``n`` trials of tap-and-keep-going: on every beat with the wood block, then alone every ``interval_s``."""
    script = load_script(SONGS / "tap-and-keep-going.toml")
    kind = make_kind(script)
    out, start = [], 0.0
    for _ in range(n):
        plan = kind.next_trial(start)
        beats = list(plan.params["beats_s"])
        alone = [beats[-1] + interval_s * (k + 1) for k in range(7)]
        out.append(kind.score(plan, beats + [t for t in alone if t < plan.child_end_s], prompt="independent").trial)
        start = plan.child_end_s
    return out


@pytest.mark.parametrize(("interval_beats", "met"), [(0.7, False), (1.3, False), (0.95, True), (1.05, True)])
def test_keeps_the_tempo_fails_a_child_who_rushes_or_drags(interval_beats, met):
    keeps = next(o for o in load_script(SONGS / "tap-and-keep-going.toml").objectives if o.id == "keeps-the-tempo")
    beat_s = 60.0 / 90.0  # the script's tempo; a trial of this plan does not step it
    ts = _continuation_trials(interval_beats * beat_s)
    assert [t.scores["continuation_tempo_ratio"] for t in ts] == pytest.approx([interval_beats] * 5)
    result = evaluate_session(keeps, ts)
    assert result.value == pytest.approx(100 * abs(interval_beats - 1))
    assert result.met is met
    if interval_beats == 0.7:
        assert result.summary == ("Over 5 trials, the average tempo error after the music stopped was 30 % of the "
                                  "beat; criterion not met.")
        # The rule the comment promised "within 10 %" was `continuation_tempo_ratio <= 1.1`: it passed this child.
        old = obj("continuation_tempo_ratio", aggregate="mean", comparator="<=", threshold=1.1)
        assert evaluate_session(old, ts).met is True


# --- docs/sentences.md ------------------------------------------------------------------------------------------

#: (file, what is worded, the template, how to make an example). The examples are run, never typed.
Example = tuple[str, str, str, Callable[[], str]]

_ECHO = [True, True, False, True, True]
_VISIT = [True, True, True, True, False]


def _examples() -> list[Example]:
    echo = k_of_n("correct")
    pct = obj("correct", aggregate="percent_true", comparator=">=", threshold=80)
    count = obj("initiated", aggregate="count_true", comparator=">=", threshold=3)
    latency = obj("response_latency_ms", aggregate="median", comparator="<=", threshold=2000)
    beat = obj("within_window_pct", aggregate="mean", comparator=">=", threshold=70)
    beat_median = obj("within_window_pct", aggregate="median", comparator=">=", threshold=70)
    drift = obj("drift_pct_per_interval", aggregate="median", comparator="<=", threshold=1.0)
    run = obj("correct", criterion="k_of_n_consecutive", k=3, n=5, comparator="==", threshold=True)
    quick = obj("response_latency_ms", criterion="k_of_n", k=4, n=5, comparator="<=", threshold=2000)
    long = k_of_n("correct", k=3, n=3, level={"pattern_length_min": 4}, max_prompt="gestural")
    tempo = obj("tempo_error_pct", aggregate="mean", comparator="<=", threshold=10, min_trials=3)
    echo_t = trials("correct", _ECHO, response_present=True)
    lat = trials("response_latency_ms", [850.0, 1200.0, 1400.0, 1600.0, 2600.0])
    beats = trials("within_window_pct", [60.0, 75.0, 80.0, 70.0, 65.0], window_ms=80.0)
    lengths = [Trial({"correct": True, "pattern_length": n, "response_present": True}, "independent")
               for n in (2, 2, 3, 4, 4, 5, 4)]
    marked = (trials("correct", [True, False], response_present=True)
              + trials("correct", [True], "verbal", response_present=True)
              + trials("correct", [True] * 3, "not recorded", response_present=True)
              + [Trial({"correct": None, "response_present": False}, "independent")]
              + trials("correct", [True, True, True], response_present=True))
    o = "engine/scoring/objectives.py"
    s = "engine/reports/sentences.py"
    g = "engine/reports/progress.py"
    w = "engine/scoring/words.py"
    return [
        # --- an objective judged on one visit: SessionResult.summary (and .reason when there is no verdict)
        (o, "summary: true/false, k of n", ("{behaviour} on {passed} of [the first] {n} trials[ {level}] ({pct}); "
         "criterion met|not met."), lambda: summary(echo, echo_t)),
        (o, "summary: k of n in a row", "… ({pct}), with a longest run of {run} in a row ({k} needed); criterion …",
         lambda: summary(run, echo_t)),
        (o, "summary: percent true", "{behaviour} on {passed} of {n} trials ({pct}); criterion …",
         lambda: summary(pct, trials("correct", _VISIT, stopped=True))),
        (o, "summary: count true", "(as percent true)",
         lambda: summary(count, trials("initiated", _VISIT, waited=True))),
        (o, "summary: a number", ("Over {n} trials[ {level}], the {average|median|lowest|highest} {name} was "
         "{value} {unit}; criterion …"), lambda: summary(latency, lat)),
        (o, "summary: a share, mean", "On average over {n} trials, {value} % of {units} were {done}; criterion …",
         lambda: summary(beat, beats)),
        (o, "summary: a share, median/lowest/highest", ("Over {n} trials, the median trial had {value} % of {units} "
         "{done}; criterion …"), lambda: summary(beat_median, beats)),
        (o, "summary: a signed number", "… was {size} {unit} early|late; criterion …",
         lambda: summary(obj("blank_asynchrony_ms", aggregate="median", comparator="<=", threshold=200),
                         trials("blank_asynchrony_ms", [-60.0, -40.0, -50.0, 10.0, -55.0], filled=True))),
        (o, "summary: a number per trial, k of n", "{Name} was {comparison} on {passed} of the first {n} trials …",
         lambda: summary(quick, lat)),
        (o, "summary: drift", "(a number)", lambda: summary(drift, trials("drift_pct_per_interval",
                                                                          [-0.44, -0.5, -0.3, -0.44, -0.2]))),
        (o, "summary: the rushing child", "(a number)",
         lambda: summary(tempo, trials("tempo_error_pct", [30.0, 30.0, 30.0]))),
        (o, "summary: a level, and notes on what was not counted", ("… criterion …. {n} prompted trial(s) was|were "
         "not counted. {n} trial(s) without a recorded prompt level … {n} trial(s) at another difficulty …"),
         lambda: summary(long, lengths + [Trial({"correct": True, "pattern_length": 4, "response_present": True},
                                                "model")])),
        (o, "notes: prompted, not recorded, unscorable", ("… {n} trial(s) was|were left out because it|they could "
         "not be scored."), lambda: summary(pct, marked)),
        (o, "reason: no trials", "No trials were recorded.", lambda: evaluate_session(echo, []).reason),
        (o, "reason: too few counted", "Only {counted} of {n} trials were counted ({why}); the criterion needs {k}.",
         lambda: evaluate_session(echo, marked[:6]).reason),
        (o, "reason: none recorded", ("No prompt level was recorded for {the trial|any of the {n} trials}, and only "
         "{levels} trials count toward the criterion."),
         lambda: evaluate_session(echo, trials("correct", _ECHO, "not recorded")).reason),
        (o, "reason: all prompted", ("{The only trial was|All {n} trials were} prompted, and only {levels} trials "
         "count toward the criterion."), lambda: evaluate_session(echo, trials("correct", _ECHO, "verbal")).reason),
        (o, "reason: none scorable", "{The only trial could not|None of the {n} trials could} be scored.",
         lambda: evaluate_session(latency, trials("response_latency_ms", [None] * 5)).reason),
        (o, "reason: none at the level", ("{The only trial was not|None of the {n} trials were} {level}, the "
         "difficulty this objective is about."), lambda: evaluate_session(long, lengths[:3]).reason),
        # --- an objective over visits: ObjectiveStatus.sentence
        (o, "over visits: not started", "No trials have been recorded yet.",
         lambda: status(echo, [[]])),
        (o, "over visits: met at the first visit", "{summary}; criterion met at this visit.",
         lambda: status(echo, [echo_t], [0])),
        (o, "over visits: met again", "{summary}; criterion met for the {2nd} consecutive visit[ on separate days].",
         lambda: status(echo, [echo_t] * 2, [0, 7])),
        (o, "over visits: mastered", ("{summary}; criterion met for the 3rd consecutive visit on separate days: "
         "mastered on {date}."), lambda: status(echo, [echo_t] * 3, [0, 7, 14])),
        (o, "over visits: the same day", ("{summary}; criterion met, but on the same day as|within {d} days of the "
         "last visit that counted ({date}), so it does not count again toward mastery ({k} of {m} visits on "
         "separate days so far)."), lambda: status(echo, [echo_t] * 2, [0, 0])),
        (o, "over visits: not met", "{summary}; criterion not met at this visit.",
         lambda: status(echo, [trials("correct", [False] * 5, response_present=True)], [0])),
        (o, "over visits: regression", ("{summary}; criterion not met at this visit, after it was mastered on {date}: "
         "in progress again."),
         lambda: status(echo, [echo_t] * 3 + [trials("correct", [False] * 5, response_present=True)], [0, 7, 14, 21])),
        (o, "over visits: no verdict", ("{reason} This visit neither counts toward mastery nor breaks it.[ The "
         "criterion was met at the last visit|in the last {n} visits on separate days with data ({m} in a row "
         "needed for mastery).]"),
         lambda: status(echo, [echo_t, echo_t[:2]], [0, 7])),
        (o, "over visits: no verdict after mastery", ("{reason} This visit … The objective stays mastered: its "
         "criterion was met in the {n} visits on separate days with data before this one."),
         lambda: status(echo, [echo_t] * 3 + [echo_t[:2]], [0, 7, 14, 21])),
        (o, "the difficulty", "on {n}-note patterns | on patterns of {n} notes or more | at {a}–{b} BPM …",
         lambda: level_phrase(obj("correct", criterion="k_of_n", k=1, n=1, comparator="==", threshold=True,
                                  level={"pattern_length_min": 3, "tempo_bpm_min": 80, "tempo_bpm_max": 100}))),
        (o, "the figure on the screen", "{pct} | {n} trials | {value} {unit}",
         lambda: " · ".join([objective_figure(pct, 62.5), objective_figure(count, 4.0),
                             objective_figure(latency, 1412.5), objective_figure(drift, -0.444),
                             objective_figure(obj("asynchrony_mean_ms", aggregate="mean", comparator=">=",
                                                  threshold=-50), -12.5), objective_figure(echo, None)])),
        # --- the criterion of an objective, its plot's axis, and a visit's progress note
        (s, "criterion: k of n", ("{behaviour} on at least {k} of the first {n} trials[ {level}] ({levels} trials "
         "count); mastered when met in {m} consecutive visits on separate days."),
         lambda: criterion_text(long, kind="call_and_response")),
        (s, "criterion: in a row", "{behaviour} on at least {k} trials in a row among the first {n} (…); …",
         lambda: criterion_text(run)),
        (s, "criterion: percent true", ("{behaviour} on at least {p} % of a visit's trials ({levels} trials count, "
         "at least {min} of them); …"), lambda: criterion_text(pct, kind="stop_and_go")),
        (s, "criterion: count true", "{behaviour} on at least {n} trials of a visit (…); …",
         lambda: criterion_text(count)),
        (s, "criterion: a number", ("{Average|Median|Lowest|Highest} {name} over a visit's trials was {comparison} "
         "(…); …"), lambda: criterion_text(latency)),
        (s, "criterion: a share", ("Tapped within ±{w} ms of the beat on at least {p} % of beats on average over a "
         "visit's trials (…); …"), lambda: criterion_text(beat, window_ms=80)),
        (s, "criterion: a number per trial", "{Name} was {comparison} on at least {k} of the first {n} trials (…); …",
         lambda: criterion_text(quick)),
        (s, "criterion: the rushing child's objective", "(a number)",
         lambda: criterion_text(load_script(SONGS / "tap-and-keep-going.toml").objectives[1])),
        (s, "plot axis: a number", "{Aggregate} {name} ({unit})", lambda: axis_label(drift)),
        (s, "plot axis: trials", "% of trials: {behaviour} | Trials: {behaviour}", lambda: axis_label(pct)),
        (s, "note: trials, all independent", ("{title} ran for {duration} with {n} trials[ ({b} beats, one bar a "
         "trial)], all without prompts."),
         lambda: session_sentences(title="Metronome", status="completed", duration_s=22.1, n_trials=8, beats=32,
                                   prompts={"independent": 8})[0]),
        (s, "note: trials, prompted", ("{title} ran for {duration} with {n} trials: {n} independent, {n} gestural … "
         "and {n} without a recorded prompt level."),
         lambda: session_sentences(title="Echo drums", status="completed", duration_s=725.0, n_trials=10,
                                   prompts={"independent": 6, "gestural": 3, "not recorded": 1})[0]),
        (s, "note: no prompt level", ("{title} ran for {duration} with {n} trials; no prompt level was recorded for "
         "them."), lambda: session_sentences(title="Hello", status="completed", duration_s=61.0, n_trials=4,
                                            prompts={"not recorded": 4})[0]),
        (s, "note: no trials", "{title} ran for {duration} with no trials.",
         lambda: session_sentences(title="Echo drums", status="stopped", duration_s=14.6, n_trials=0,
                                   prompts={})[0]),
        (s, "note: trials with an audio dropout", ("… The audio stopped briefly (a dropout) during {n} trial(s), so "
                                                   "it was (they were) left out of the objectives."),
         lambda: " ".join(session_sentences(title="Echo drums", status="completed", duration_s=125.0, n_trials=10,
                                            prompts={"independent": 10}, dropouts=1))),
        (s, "note: a song or free play", "{title} ran for {duration} ({what}), with no trials to score.",
         lambda: session_sentences(title="March song", status="completed", duration_s=180.2, n_trials=0,
                                   prompts={}, played="a MIDI song")[0]),
        (s, "note: simulated", ("This was a simulated visit, not a child's data: {who} played it (shown because "
         "simulated visits were asked for)."),
         lambda: session_sentences(title="Echo drums", status="completed", duration_s=60.0, n_trials=5,
                                   prompts={"independent": 5},
                                   simulated=simulated_child_text({"simulated_child": {"model": "steady"}}))[1]),
        (s, "note: a probe", ("This was an assessment probe ({tasks}), shown as a baseline point of the plan "
         "objectives that name it; it is not a treatment visit."),
         lambda: session_sentences(title="Stop and go", status="completed", duration_s=60.0, n_trials=6,
                                   prompts={"independent": 6}, probe="stop-and-go probe")[1]),
        (s, "note: interrupted", ("The visit was cut off before it ended (interrupted); the trials completed before "
         "that are included."),
         lambda: session_sentences(title="Echo drums", status="interrupted", duration_s=60.0, n_trials=5,
                                   prompts={"independent": 5})[1]),
        (s, "note: stopped", "The therapist stopped the visit before all its trials.",
         lambda: session_sentences(title="Echo drums", status="stopped", duration_s=60.0, n_trials=5,
                                   prompts={"independent": 5})[1]),
        (s, "note: lines lost", ("{n} line(s) of the visit's log could not be read (cut off by the interruption) and "
         "was|were left out."),
         lambda: session_sentences(title="Echo drums", status="interrupted", duration_s=60.0, n_trials=5,
                                   prompts={"independent": 5}, skipped_lines=2)[2]),
        (s, "setup: devices", "The visit used {devices}. {calibration note}",
         lambda: setup_text({"midi_in": "SamplePad", "mic": True, "audio_device": "system",
                             "calibration": {"note": "Audio and MIDI calibrated on 2026-08-30."}}, "live")),
        (s, "setup: none recorded", "No input device was recorded for this visit. {calibration note}",
         lambda: setup_text({}, "live")),
        (s, "setup: simulated", ("A simulated child played on the offline stream, so there were no device "
         "latencies."), lambda: setup_text({}, "demo")),
        (s, "who played a simulated visit", "a simulated child[ (model '{m}')| (tapping profile '{p}')]",
         lambda: simulated_child_text({"simulated_child": {"profile": "late"}})),
        (s, "status, prompts, duration", "{status} · {n} {level}, … · {m} min {s} s",
         lambda: " · ".join([status_label("met this session"), prompt_text({"independent": 8, "gestural": 2}),
                             duration_text(725.4)])),
        # --- the words every sentence is made of
        (w, "a behaviour", "{behaviour} (true) | {negation} (false)",
         lambda: f"{bool_phrase('waited')} | {bool_phrase('waited', true=False)}"),
        (w, "figures", "{value} {unit}, rounded half up",
         lambda: " · ".join([percent_text(62.5), format_value(1412.5, "ms"), format_value(0.855, "out of 1"),
                             metric_value_text("continuation_tempo_ratio", 1.024), window_text(80.0)])),
        (w, "a comparison", "{at least|at most|…} {value} {unit}; a signed one by side",
         lambda: " · ".join([threshold_text("tempo_error_pct", "<=", 10), threshold_text("blank_asynchrony_ms",
                                                                                     "<=", 200)])),
        # --- engine/reports/progress.py: the note's Assessment and the quarterly report's progress words
        (g, "note's Assessment: met", "{id}: {figure} this visit against {criterion}: met ({k} of {n} visits in a row "
         "needed for mastery).", lambda: assessment_sentence(_row(pct, met=True, k=1, status="met"))),
        (g, "note's Assessment: mastered", "{id}: {figure} this visit against {criterion}: met; mastered (met on {k} "
         "visits in a row).", lambda: assessment_sentence(_row(pct, met=True, k=3, status="mastered"))),
        (g, "note's Assessment: not met | not judged", "{id}: {figure} this visit against {criterion}: not met. | "
         "{id}: not judged this visit ({why}).",
         lambda: " | ".join([assessment_sentence(_row(latency, met=False, k=0, status="in progress")),
                             assessment_sentence(_row(latency, met=None, k=0, status="in progress"))])),
        (g, "level and criterion", "{value} {unit} · {at least|at most} {criterion} {unit}",
         lambda: " · ".join([level_text(33.333, pct), level_text(412.5, latency), criterion_words(latency),
                             criterion_words(echo)])),
        (g, "trend", "{rising|falling} {size} {unit} per visit ({improving|worsening}) | flat | no trend yet (…)",
         lambda: " | ".join([trend_text(14.0, pct), trend_text(-35.0, latency), trend_text(0.01, pct),
                             trend_text(None, pct)])),
        (g, "attendance", "{n} visits held, {m} cancelled ({day}: {reason}; …); {n} of {n+m} planned visits took place.",
         lambda: attendance_text(_attendance())),
        ("engine/scoring/display.py", "a score in a trial line or table", "yes | no | – | {number}",
         lambda: " · ".join([format_score(True), format_score(None), format_score(-12.5, "{:+.0f} ms")])),
        ("engine/scoring/judge.py (owned elsewhere; labels from display.py)", "a trial line",
         "trial {n} at {bpm} BPM: {label} {score}, …; correct|not correct",
         lambda: trial_line("rhythmic_cueing", {"n": 12, "tempo_bpm": 90.0, "correct": True, "scores": {
             "within_window_pct": 87.5, "asynchrony_mean_ms": -12.5, "asynchrony_sd_ms": 20.2, "missed": 1,
             "continuation_tempo_ratio": 1.04, "drift_pct_per_interval": 0.444}})),
    ]


def _row(objective: Objective, *, met: bool | None, k: int, status: str) -> SimpleNamespace:
    """A visit's row of an objective as the report holds it (engine.reports.build.ObjectiveRow), for examples."""
    view = SimpleNamespace(id="waits-for-turn" if objective.aggregate == "percent_true" else "answers-quickly",
                           objective=objective)
    figure = "6/7 (86 %)" if objective.aggregate == "percent_true" else "2400 ms"
    return SimpleNamespace(objective=view, met=met, figure_text=figure, consecutive=k, status=status,
                           summary="Only 2 of 5 trials were counted (3 could not be scored); the criterion needs 5.")


def _attendance() -> SimpleNamespace:
    days = [dt.date(2027, 1, 25), dt.date(2027, 2, 15)]
    return SimpleNamespace(treatment_sessions=[None] * 13, plan=object(), cancelled=[
        SimpleNamespace(date=days[0], reason="child ill"), SimpleNamespace(date=days[1], reason="school holiday")])


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render() -> str:
    """The example table of docs/sentences.md, from the code as it is now."""
    lines = [BEGIN, "", "| # | File | What | Template | Example (made by the code) |", "|---|---|---|---|---|"]
    for i, (where, what, template, make) in enumerate(_examples(), 1):
        lines.append(f"| {i} | `{where}` | {_cell(what)} | {_cell(template)} | {_cell(make())} |")
    return "\n".join([*lines, "", END])


def render_metrics() -> str:
    """The words of every metric an objective can name, by family, from engine.scoring.words."""
    lines = [M_BEGIN, "", "| Metric | Family | Read as | Unit |", "|---|---|---|---|"]
    for family, names in METRICS.items():
        for metric in names:
            if metric in BOOLS:
                words = f"{bool_phrase(metric)} / {bool_phrase(metric, true=False)}"
                if metric == "correct":
                    words += " (by kind: " + "; ".join(p for p, _ in CORRECT_PHRASES.values()) + ")"
                unit = "true/false"
            else:
                words, unit = metric_display(metric)
                unit = unit or "–"
            lines.append(f"| `{metric}` | {family} | {_cell(words)} | {_cell(unit)} |")
    return "\n".join([*lines, "", M_END])


def _block(doc: str, begin: str, end: str) -> str:
    return doc[doc.index(begin): doc.index(end) + len(end)]


def test_every_example_is_a_plain_sentence():
    for _, what, _, make in _examples():
        text = make()
        assert text, what
        assert_plain(text)


def test_docs_sentences_md_shows_what_the_code_says_now():
    doc = DOC.read_text("utf-8")
    stale = "docs/sentences.md is stale: run .venv/bin/python -m tests.test_words_sentences"
    assert _block(doc, BEGIN, END) == render(), stale
    assert _block(doc, M_BEGIN, M_END) == render_metrics(), stale


if __name__ == "__main__":  # rewrite the doc's tables from the code
    text = DOC.read_text("utf-8")
    for begin, end, table in ((BEGIN, END, render()), (M_BEGIN, M_END, render_metrics())):
        text = text[: text.index(begin)] + table + text[text.index(end) + len(end):]
    DOC.write_text(text, "utf-8")
    print(f"rewrote {DOC}")
