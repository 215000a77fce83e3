"""Suggested objectives: measurable, linked to scripts whose kind measures them, worded condition + behaviour +
criterion with the child as subject, one meaningful step past the baseline (hand-worked examples of
docs/baseline.md) and capped at what is possible, maintenance at the mastery level with the right comparison
words for lower-is-better figures, engagement and tolerance objectives for a child who did not respond, never
a target from a task's setting; saved and loaded with their states."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest

from engine.assessment.results import CONDITION_FIGURES, Assessment, TaskResult, load_assessment, save_assessment
from engine.assessment.suggest import (
    ENGAGEMENT_PROMPTS,
    RULES,
    Suggestion,
    load_suggestions,
    meaningful_step,
    save_suggestions,
    script_metrics,
    step_target,
    suggest_objectives,
)
from engine.errors import ConfigError, DataDirError
from engine.interventions.script import load_script
from engine.scoring.objectives import Objective, Trial, evaluate_session
from tests.test_assess_report import fig, make_assessment, sync_task

SONGS = Path(__file__).resolve().parents[1] / "content" / "songs"


@pytest.fixture(scope="module")
def suggested():
    return suggest_objectives(make_assessment(), songs_dir=SONGS)


def test_the_known_assessment_gives_known_suggestions(suggested):
    got = {s.objective.metric: s for s in suggested}
    assert [s.id for s in suggested] == [f"S{i}" for i in range(1, len(suggested) + 1)]
    assert list(got) == ["within_window_pct", "asynchrony_sd_ms", "continuation_iti_cv", "correct", "waited",
                         "stopped", "initiated"]  # the last: a skill at the mastery level, to maintain
    beat = got["within_window_pct"]
    # baseline within-window 35 % of 32 beats -> 60 % (+25 points; its standard error is only 8.4 points)
    assert (beat.objective.aggregate, beat.objective.comparator, beat.objective.threshold) == ("mean", ">=", 60.0)
    assert beat.sentence.startswith("Given a steady beat at 80–100 BPM, C07 will tap within ±80 ms of the beat on "
                                    "at least 60 % of beats (mean over a visit's trials), in 3 consecutive visits "
                                    "on separate days (")
    assert beat.description == ("Given a steady beat at 80–100 BPM, C07 will tap within ±80 ms of the beat on at "
                                "least 60 % of beats (mean over a visit's trials).")
    assert beat.domain == "motor" and beat.task == "sync_own_tempo" and beat.baseline == 35.0
    assert "35 %" in beat.rationale and "n = 32 beats" in beat.rationale and "104 BPM" in beat.rationale
    assert "25 points above it (higher is better)" in beat.rationale
    assert set(beat.scripts) == {"steady-beat-march", "march-song", "tap-and-keep-going", "metronome"}
    assert got["asynchrony_sd_ms"].objective.threshold == 45.0  # 61 ms, 25 % (15.25 ms) lower, down to 5
    assert "16 ms below it (lower is better)" in got["asynchrony_sd_ms"].rationale
    assert got["continuation_iti_cv"].objective.threshold == pytest.approx(0.09)  # 12 % → 9 %, as a fraction
    assert got["continuation_iti_cv"].scripts == ("tap-and-keep-going",)
    assert got["continuation_iti_cv"].description == (
        "Given a steady beat at 90 BPM that stops after 2 bars, C07 will tap on alone through the 8 silent beats, "
        "the intervals varying by at most 9 % (CV, median over a visit's trials).")
    assert got["correct"].objective.threshold == 70.0 and got["correct"].scripts == ("echo-drums",)  # 44.4 → 70
    assert got["correct"].description == ("Given a rhythm of 2–5 notes played on the drum, C07 will echo it with "
                                          "the right rhythm on at least 70 % of trials.")
    # 62.5 % of 8: +25 → 87.5, up to 90 (no longer held at 80, which would be a step of 17.5 points only)
    assert got["waited"].objective.threshold == 90.0
    assert got["stopped"].objective.threshold == 75.0 and got["stopped"].scripts == ("stop-and-go",)
    assert got["stopped"].description.startswith("Given a march that stops without warning for 2–4 s, C07 will "
                                                 "stop playing within 0.4 s of the music stopping")
    assert set(got["waited"].scripts) == {"drum-conversation", "hello", "goodbye"}
    assert got["waited"].baseline_source == ("assessment of 2026-09-02: waited during the engine's turn on 5 of 8 "
                                             "turns (63 %)")


def test_every_sentence_is_condition_behaviour_criterion_with_the_child_as_subject(suggested):
    silent = suggest_objectives(silent_assessment(), songs_dir=SONGS)
    for s in [*suggested, *silent]:
        assert re.fullmatch(r"Given [^,]+(, [^,]+)*?, C07 will .+, in 3 consecutive visits on separate days "
                            r"\([a-z, -]+\)\.", s.sentence), s.sentence
        assert s.sentence.startswith(s.description[:-1]) and s.description.startswith("Given ")
        assert "keep on being able" not in s.sentence and not s.sentence.startswith("Will")
        assert s.figure not in CONDITION_FIGURES  # a task's setting never becomes a target


def test_every_suggestion_is_measurable_by_each_script_it_links(suggested):
    for s in suggested:
        assert isinstance(s.objective, Objective) and s.scripts
        for stem in s.scripts:
            script = load_script(SONGS / f"{stem}.toml")
            assert s.objective.metric in script_metrics(script), (s.id, stem)
        # it judges a session of made-up trials carrying its metric (as many as it needs: DEFAULT_MIN_TRIALS)
        value = True if s.objective.aggregate == "percent_true" else s.objective.threshold
        assert evaluate_session(s.objective, [Trial({s.objective.metric: value}, "independent")] * 5).met is True


def test_targets_are_a_meaningful_step_past_baseline_and_never_already_met(suggested):
    for s in suggested:
        rule = next(r for r in RULES if r.metric == s.objective.metric and r.task in (s.task, "sync_own_tempo"))
        target = s.objective.threshold / rule.scale
        if s.objective.id.endswith("-maintained"):  # at the mastery level: kept there
            assert target == rule.mastery and (s.baseline >= rule.mastery if rule.higher
                                               else s.baseline <= rule.mastery), s.id
            continue
        step, _why = rule.step(s.baseline, s.baseline_n, None)
        if rule.higher:
            assert s.baseline + step <= target <= 100.0 or target == 100.0, s.id
            assert target > s.baseline, s.id
        else:
            assert 0.0 <= target <= s.baseline - step and target < s.baseline, s.id


@pytest.mark.parametrize(("baseline", "n", "spread", "higher", "kwargs", "step", "target"), [
    # docs/baseline.md, "How big a step": hand-worked
    (35.0, 32, None, True, {}, 25.0, 60.0),         # SE 100·√(.35·.65/32) = 8.4 < 25: +25 → 60
    (35.0, 32, 30.0, True, {}, 30.0, 65.0),         # one SD of the bars' spread, 30 points → 65
    (50.0, 3, None, True, {}, 28.87, 80.0),         # 1.5 of 3: SE 28.9 points → 78.9, up to 80
    (44.4, 9, None, True, {}, 25.0, 70.0),          # SE 16.6 < 25 → 69.4, up to 70
    (78.0, 10, None, True, {}, 25.0, 100.0),        # 103 is not possible: capped at 100 %
    (0.0, 3, None, True, {}, 25.0, 25.0),           # nothing yet: the smallest step, 25 points
    (61.0, 32, None, False, {"min_step": 5.0, "relative_step": 0.25, "share": False}, 15.25, 45.0),
    (6.3, 3, 0.8, False, {"min_step": 1.0, "relative_step": 0.25, "share": False}, 1.575, 4.0),
    (12.0, 24, None, False, {"min_step": 1.0, "relative_step": 0.25, "share": False}, 3.0, 9.0),
    (3.0, 3, None, False, {"min_step": 5.0, "relative_step": 0.25, "share": False}, 5.0, 0.0),  # capped at 0
])
def test_the_step_rule_on_hand_worked_examples(baseline, n, spread, higher, kwargs, step, target):
    got_step, why = meaningful_step(baseline, n=n, spread=spread, **kwargs)
    assert got_step == pytest.approx(step, abs=0.01) and why
    assert step_target(baseline, got_step, higher=higher) == target
    assert (target > baseline) if higher else (target < baseline)  # never already met


def test_a_spread_makes_the_step_bigger_and_the_rationale_says_why():
    spread = sync_task("sync_own_tempo", "Synchronisation at own tempo", 104.0, 35.0, -23.0, 61.0, -40.1, 37.5)
    figs = tuple(f if f.id != "within_window_pct" else fig(f.id, f.label, 35.0, "%", 32, 30.0,
                                                         "SD of the share across bars, percentage points")
                 for f in spread.figures)
    out = suggest_objectives(make_assessment(sync_own_tempo=TaskResult(**{**spread.__dict__, "figures": figs}),
                                             sync_slow=None, sync_fast=None), songs_dir=SONGS)
    beat = next(s for s in out if s.objective.metric == "within_window_pct")
    assert beat.objective.threshold == 65.0
    assert "30 points above it" in beat.rationale and "one SD of the baseline's spread, 30 points" in beat.rationale


def test_nothing_from_tasks_not_done_and_the_notes_say_why(suggested):
    tasks = {s.task for s in suggested}
    assert "melodic_imitation" not in tasks and "vocal_fill" not in tasks  # skipped, no response
    assert not any(s.objective.metric == "filled" for s in suggested)
    assert any("Melodic imitation was skipped (no keyboard was connected)" in n for n in suggested.notes)
    # no response, but the child answers the hand-overs of the turn-taking task: no engagement objective either
    assert any("Vocal fill-in got no response" in n and "nothing is suggested" in n for n in suggested.notes)
    # a stopped task with (partial) figures still gives nothing
    stopped = TaskResult("stop_and_go", "cognition", "Stop and go", "stopped", reason="The therapist stopped it.",
                         figures=(fig("stopped_pct", "Stopped", 10.0, "%", 2),))
    out = suggest_objectives(make_assessment(stop_and_go=stopped), songs_dir=SONGS)
    assert not any(s.objective.metric == "stopped" for s in out)
    assert any("Stop and go was stopped (the therapist stopped it)" in n for n in out.notes)


def test_skills_at_the_mastery_level_are_suggested_as_maintenance_after_the_others(suggested):
    kept = suggested[-1]  # 87.5 % ≥ 80 %: kept at 80 %, not pushed
    assert (kept.id, kept.objective.id, kept.objective.metric) == ("S7", "starts-a-turn-maintained", "initiated")
    assert (kept.objective.comparator, kept.objective.threshold) == (">=", 80.0)
    assert kept.goal.startswith("Maintains: ")
    assert kept.description == ("Given a phrase, sung or played on the drum, that stops and hands the turn over, "
                                "C07 will keep taking the turn, having waited, by starting to play within 3 s of the "
                                "hand-over on at least 80 % of turns (maintenance).")
    assert "is already above 80 %" in kept.rationale
    assert all(not s.objective.id.endswith("-maintained") for s in suggested[:-1])
    good = sync_task("sync_own_tempo", "Synchronisation at own tempo", 90.0, 92.0, -20.0, 37.0, -40.0, 37.0)
    out = suggest_objectives(make_assessment(sync_own_tempo=good, sync_slow=None, sync_fast=None), songs_dir=SONGS)
    by_metric = {s.objective.metric: s for s in out}
    beat, sd = by_metric["within_window_pct"], by_metric["asynchrony_sd_ms"]
    assert beat.objective.id == "taps-on-the-beat-maintained" and beat.objective.threshold == 80.0
    assert beat.description == ("Given a steady beat at 80–100 BPM, C07 will keep tapping within ±80 ms of the beat "
                                "on at least 80 % of beats (mean over a visit's trials; maintenance).")
    # 37 ms is BETTER than 40 ms (lower is better): "already below", never "at or past"
    assert sd.objective.id == "steady-timing-maintained" and sd.objective.threshold == 40.0
    assert "C07 will keep tapping with a timing variability (SD of asynchrony) of at most 40 ms" in sd.description
    assert "37 ms (n = 32 matched taps) is already below 40 ms" in sd.rationale
    assert "past" not in sd.rationale and "above" not in sd.rationale
    at = sync_task("sync_own_tempo", "Synchronisation at own tempo", 90.0, 80.0, -20.0, 40.0, -40.0, 37.0)
    out = suggest_objectives(make_assessment(sync_own_tempo=at, sync_slow=None, sync_fast=None), songs_dir=SONGS)
    assert all("is already at " in s.rationale for s in out if s.task == "sync_own_tempo")


def test_the_sync_baseline_is_the_task_nearest_the_scripts_tempo():
    a = make_assessment(sync_own_tempo=TaskResult("sync_own_tempo", "motor", "Synchronisation at own tempo",
                                                  "no_response", reason="No taps."))
    beat = next(s for s in suggest_objectives(a, songs_dir=SONGS) if s.objective.metric == "within_window_pct")
    # slow is 60 BPM, fast 120 BPM; the scripts run at 80–100 BPM: slow is nearer (22 % + 25 → 47, up to 50)
    assert beat.task == "sync_slow" and beat.baseline == 22.0 and beat.objective.threshold == 50.0


def test_no_script_measures_it_no_suggestion(tmp_path):
    (tmp_path / "only.toml").write_text((SONGS / "stop-and-go.toml").read_text("utf-8"), "utf-8")
    out = suggest_objectives(make_assessment(), songs_dir=tmp_path)
    assert [s.objective.metric for s in out] == ["stopped"] and out[0].scripts == ("only",)
    assert any("no script in" in n and "within_window_pct" in n for n in out.notes)


def test_ids_are_stable():
    a = make_assessment()
    first = suggest_objectives(a, songs_dir=SONGS)
    again = suggest_objectives(a, songs_dir=SONGS)
    assert [(s.id, s.objective) for s in first] == [(s.id, s.objective) for s in again]


def test_save_and_load_round_trip_with_states(tmp_path):
    a = load_assessment(save_assessment(make_assessment(), tmp_path))
    assert load_suggestions(a) is None
    out = suggest_objectives(a, songs_dir=SONGS)
    path = save_suggestions(a, out)
    assert path == Path(a.folder) / "suggestions.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    back = load_suggestions(a.folder)
    assert back == out and back.notes == out.notes
    assert all(s.state == "open" for s in back)
    doc = json.loads(path.read_text("utf-8"))
    assert doc["suggestions"][0]["objective"]["metric"] == "within_window_pct"
    doc["suggestions"][0]["state"] = "maybe"
    path.write_text(json.dumps(doc), "utf-8")
    with pytest.raises(DataDirError, match="cannot be read"):
        load_suggestions(a)


def test_an_unsaved_assessment_has_nowhere_to_keep_suggestions():
    with pytest.raises(ConfigError, match="has not been saved"):
        save_suggestions(make_assessment(), [])


def test_describe_follows_an_edited_threshold(suggested):
    s: Suggestion = suggested[0]
    edited = Objective.from_dict({**s.objective.to_dict(), "threshold": 55})
    assert "55 % of beats" in s.describe(edited) and "60 %" not in s.describe(edited)
    cv = next(x for x in suggested if x.objective.metric == "continuation_iti_cv")
    assert "at most 10 %" in cv.describe(Objective.from_dict({**cv.objective.to_dict(), "threshold": 0.1}))
    assert cv.describe(Objective.from_dict({**cv.objective.to_dict(), "threshold": 0.1})).startswith("Given a steady")


# -- a child who did not respond: engagement and tolerance --------------------------------------------------

NONE = "The child played nothing in 3 trials in a row, so the task was ended after 3 trials."


def _silent(tid: str, domain: str, title: str, *figures) -> TaskResult:
    return TaskResult(tid, domain, title, "no_response", reason=NONE, trials=3, figures=figures)


def silent_assessment(**overrides) -> Assessment:
    """Every task without response, as the model 'silent' plays the battery: 3 trials with nothing in each."""
    tasks = {
        "spontaneous_tempo": TaskResult("spontaneous_tempo", "motor", "Spontaneous motor tempo", "no_response",
                                        reason="Fewer than 8 taps in 30 s."),
        "sync_own_tempo": _silent("sync_own_tempo", "motor", "Tapping with the beat at the child's own tempo",
                                  fig("tempo_bpm", "Tempo of the beat", 100.0, "BPM", 3),
                                  fig("within_window_pct", "Beats tapped within ±80 ms", 0.0, "%", 12)),
        "sync_continuation": _silent("sync_continuation", "motor", "Keeping the beat after the music stops",
                                     fig("continuation_iti_cv_pct", "Evenness alone", None, "%", 0)),
        "rhythm_imitation": _silent("rhythm_imitation", "cognition", "Echoing rhythms of growing length",
                                    fig("imitation_correct_pct", "Echoes correct", 0.0, "%", 3),
                                    fig("imitation_response_pct", "Calls answered (any sound)", 0.0, "%", 3)),
        "turn_taking": _silent("turn_taking", "socialization", "Taking turns with the drum",
                               fig("waited_pct", "Waited during the engine's turn", None, "%", 0),
                               fig("initiated_pct", "Started after the hand-over", 0.0, "%", 3)),
        "stop_and_go": _silent("stop_and_go", "cognition", "Stop and go",
                               fig("stopped_pct", "Stopped when the music stopped", None, "%", 0),
                               fig("played_during_go_pct", "Played while the music played", 0.0, "%", 3)),
        "vocal_fill": _silent("vocal_fill", "communication", "Singing the missing note",
                              fig("filled_pct", "Filled the missing note", 0.0, "%", 3)),
    }
    tasks.update(overrides)
    return Assessment(child_id="C07", started="2026-12-07T10:00:00+01:00", ended="2026-12-07T10:08:00+01:00",
                      status="completed", simulated=None, devices={"midi_in": "Pad", "keyboard": False, "mic": True},
                      tasks=tuple(t for t in tasks.values() if t is not None))


def test_a_child_who_did_not_respond_gets_engagement_and_tolerance_objectives():
    out = suggest_objectives(silent_assessment(), songs_dir=SONGS)
    got = [(s.id, s.objective.id, s.domain, s.objective.metric, s.objective.aggregate, s.objective.threshold,
            s.objective.min_trials, s.scripts) for s in out]
    assert got == [
        ("S1", "answers-a-greeting", "socialization", "initiated", "count_true", 1.0, 3, ("goodbye", "hello")),
        ("S2", "answers-the-drum", "communication", "response_present", "count_true", 1.0, 3, ("echo-drums",)),
        ("S3", "plays-along", "socialization", "played_during_go", "count_true", 1.0, 3, ("stop-and-go",)),
        # tolerance: 0 % → 25 % (+25 points), judged only on a visit with all 10 marches of stop-and-go
        ("S4", "stays-with-the-music", "socialization", "played_during_go", "percent_true", 25.0, 10,
         ("stop-and-go",)),
    ]
    assert all(s.objective.counted_prompts == ENGAGEMENT_PROMPTS for s in out)  # never a physical prompt
    assert out[0].description == ("Given a familiar greeting song that stops and waits for an answer, C07 will "
                                  "answer it, waiting through the song and then playing or singing within 3 s, on at "
                                  "least 1 of a visit's greetings.")
    assert out[1].description == ("Given a short rhythm played on the drum, C07 will answer it with a sound of their "
                                  "own (any rhythm, right or wrong) on at least 1 of a visit's calls.")
    assert out[3].description == ("Given the whole stop-and-go march (10 marches), C07 will stay with it to its end, "
                                  "playing along in at least 25 % of the marches (a visit is judged only when all 10 "
                                  "were played, none with a physical prompt).")
    # each measured by a metric that means taking part, named in the rationale; never the task's skill
    assert "Measured by 'response_present', true when the child played anything" in out[1].rationale
    assert not any(s.objective.metric in ("correct", "stopped", "filled", "waited") for s in out)
    assert out[0].baseline_source == ("assessment of 2026-12-07: answered a hand-over (waited, then played within "
                                      "3 s) on 0 of 3 turns (0 %)")
    for s in out:
        for stem in s.scripts:
            script = load_script(SONGS / f"{stem}.toml")
            assert s.objective.metric in script_metrics(script), (s.id, stem)
    assert any("Taking turns with the drum got no response" in n and "an engagement objective is suggested instead"
               in n for n in out.notes)


def _trials(values: list[bool], prompts: list[str], metric: str) -> list[Trial]:
    return [Trial({metric: v}, p) for v, p in zip(values, prompts, strict=True)]


def test_an_engagement_objective_credits_the_childs_own_response_and_nothing_else():
    out = {s.objective.id: s.objective for s in suggest_objectives(silent_assessment(), songs_dir=SONGS)}
    greet, stay = out["answers-a-greeting"], out["stays-with-the-music"]
    # four hellos, one answered after a model prompt: met (once in a visit)
    assert evaluate_session(greet, _trials([False, True, False, False], ["independent", "model", "verbal",
                                                                         "gestural"], "initiated")).met is True
    # the only answer came hand over hand: not the child's, not counted
    assert evaluate_session(greet, _trials([False, True, False, False], ["independent", "physical", "verbal",
                                                                         "gestural"], "initiated")).met is False
    assert evaluate_session(greet, _trials([True, False], ["independent"] * 2, "initiated")).met is None  # 2 < 3
    # tolerance: 3 of the 10 marches played along (30 % ≥ 25 %): met; a visit stopped after 9: no verdict
    played = [True, False, False, True, False, False, True, False, False, False]
    assert evaluate_session(stay, _trials(played, ["gestural"] * 10, "played_during_go")).met is True
    assert evaluate_session(stay, _trials(played[:9], ["gestural"] * 9, "played_during_go")).met is None
    assert evaluate_session(stay, _trials([True, True] + [False] * 8, ["independent"] * 10,
                                          "played_during_go")).met is False  # 20 % < 25 %


def test_no_engagement_objective_when_the_child_shows_the_behaviour_elsewhere():
    # no response to stop-and-go's stops, but it played along on 2 of 3 marches: it takes part already
    played = _silent("stop_and_go", "cognition", "Stop and go",
                     fig("played_during_go_pct", "Played while the music played", 66.7, "%", 3))
    out = suggest_objectives(silent_assessment(stop_and_go=played), songs_dir=SONGS)
    assert [s.objective.id for s in out] == ["answers-a-greeting", "answers-the-drum"]
    # a turn-taking task that was done gives its skill objectives, not an engagement one on the same behaviour
    done = TaskResult("turn_taking", "socialization", "Taking turns with the drum", "done", trials=6,
                      figures=(fig("waited_pct", "Waited", 100.0, "%", 6), fig("initiated_pct", "Started", 0.0,
                                                                               "%", 6)))
    out = suggest_objectives(silent_assessment(turn_taking=done), songs_dir=SONGS)
    assert "answers-a-greeting" not in {s.objective.id for s in out}
    assert {"starts-a-turn", "waits-for-turn-maintained"} <= {s.objective.id for s in out}


def test_an_older_assessment_without_the_response_figure_still_gets_its_engagement_objective():
    old = _silent("rhythm_imitation", "cognition", "Echoing rhythms", fig("imitation_correct_pct", "Echoes correct",
                                                                          0.0, "%", 3))
    drum = next(s for s in suggest_objectives(silent_assessment(rhythm_imitation=old), songs_dir=SONGS)
                if s.objective.id == "answers-the-drum")
    assert drum.baseline == 0.0 and drum.baseline_n == 3


@pytest.fixture(scope="module")
def silent_battery(tmp_path_factory):
    from engine.assessment.battery import run_assessment

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TANDEM_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield run_assessment("C07", root=tmp_path_factory.mktemp("data"), simulate="silent", echo=None)


def test_the_silent_models_battery_suggests_engagement_and_tolerance(silent_battery):
    out = suggest_objectives(silent_battery)
    assert [s.objective.id for s in out] == ["answers-a-greeting", "answers-the-drum", "plays-along",
                                             "stays-with-the-music"]
    assert [s.baseline for s in out] == [0.0] * 4
    assert silent_battery.task("rhythm_imitation").figure("imitation_response_pct").value == 0.0


def test_an_edited_criterion_keeps_condition_child_and_behaviour(suggested):
    echo = next(s for s in suggested if s.objective.id == "imitates-rhythms")
    four_of_five = Objective.from_dict({"id": "e", "metric": "correct", "criterion": "k_of_n", "k": 4, "n": 5,
                                        "comparator": "==", "threshold": True})
    assert echo.describe(four_of_five) == ("Given a rhythm of 2–5 notes played on the drum, C07 will echo it with the "
                                           "right rhythm on 4 of 5 trials.")
    other = Objective.from_dict({"id": "e", "metric": "response_latency_ms", "aggregate": "median",
                                 "comparator": "<=", "threshold": 2000})
    assert echo.describe(other).startswith("Given a rhythm of 2–5 notes played on the drum, C07: ")
