"""Suggested objectives: measurable, linked to scripts whose kind measures them, one step above baseline and
capped, none from tasks not done or at ceiling; saved and loaded with their states."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from engine.assessment.results import TaskResult, load_assessment, save_assessment
from engine.assessment.suggest import (
    RULES,
    Suggestion,
    load_suggestions,
    save_suggestions,
    script_metrics,
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
                         "stopped", "initiated"]  # the last: a skill at the ceiling, to maintain
    beat = got["within_window_pct"]
    # baseline within-window 35 % -> 60 % (the example)
    assert (beat.objective.aggregate, beat.objective.comparator, beat.objective.threshold) == ("mean", ">=", 60.0)
    assert beat.sentence.startswith("Will tap within ±80 ms of the beat on at least 60 % of beats")
    # The scripts that measure it run at 80-100 BPM (the metronome at 100, the marches at 80-90).
    assert "in 3 consecutive sessions" in beat.sentence and "80–100 BPM" in beat.sentence
    assert beat.domain == "motor" and beat.task == "sync_own_tempo" and beat.baseline == 35.0
    assert "35 %" in beat.rationale and "n = 32" in beat.rationale and "104 BPM" in beat.rationale
    assert set(beat.scripts) == {"steady-beat-march", "march-song", "tap-and-keep-going", "metronome"}
    assert got["asynchrony_sd_ms"].objective.threshold == 45.0  # 61 ms, 25 % lower, rounded down to 5
    assert got["continuation_iti_cv"].objective.threshold == pytest.approx(0.09)  # 12 % → 9 %, as a fraction
    assert got["continuation_iti_cv"].scripts == ("tap-and-keep-going",)
    assert got["correct"].objective.threshold == 70.0 and got["correct"].scripts == ("echo-drums",)  # 44.4 → 70
    assert got["waited"].objective.threshold == 80.0 and "(capped)" in got["waited"].rationale  # 62.5 → cap 80
    assert got["stopped"].objective.threshold == 75.0 and got["stopped"].scripts == ("stop-and-go",)
    assert set(got["waited"].scripts) == {"drum-conversation", "hello", "goodbye"}


def test_every_suggestion_is_measurable_by_each_script_it_links(suggested):
    for s in suggested:
        assert isinstance(s.objective, Objective) and s.scripts
        for stem in s.scripts:
            script = load_script(SONGS / f"{stem}.toml")
            assert s.objective.metric in script_metrics(script), (s.id, stem)
        # it judges a session of made-up trials carrying its metric (as many as it needs: DEFAULT_MIN_TRIALS)
        value = True if s.objective.aggregate == "percent_true" else s.objective.threshold
        assert evaluate_session(s.objective, [Trial({s.objective.metric: value}, "independent")] * 5).met is True


def test_targets_are_a_step_past_baseline_and_capped(suggested):
    for s in suggested:
        rule = next(r for r in RULES if r.metric == s.objective.metric and r.task in (s.task, "sync_own_tempo"))
        target = s.objective.threshold / rule.scale
        if s.objective.id.endswith("-maintained"):  # at the ceiling: kept there
            assert target == rule.cap and (s.baseline >= rule.cap if rule.higher else s.baseline <= rule.cap), s.id
        elif rule.higher:
            assert s.baseline < target <= rule.cap, s.id
        else:
            assert rule.cap <= target < s.baseline, s.id


def test_nothing_from_tasks_not_done_and_the_notes_say_why(suggested):
    tasks = {s.task for s in suggested}
    assert "melodic_imitation" not in tasks and "vocal_fill" not in tasks  # skipped, no response
    assert not any(s.objective.metric == "filled" for s in suggested)
    assert any("Melodic imitation was skipped (no keyboard was connected)" in n for n in suggested.notes)
    assert any("Vocal fill-in got no response" in n for n in suggested.notes)
    # a stopped task with (partial) figures still gives nothing
    stopped = TaskResult("stop_and_go", "cognition", "Stop and go", "stopped", reason="The therapist stopped it.",
                         figures=(fig("stopped_pct", "Stopped", 10.0, "%", 2),))
    out = suggest_objectives(make_assessment(stop_and_go=stopped), songs_dir=SONGS)
    assert not any(s.objective.metric == "stopped" for s in out)
    assert any("Stop and go was stopped (the therapist stopped it)" in n for n in out.notes)


def test_skills_at_ceiling_are_suggested_as_maintenance_after_the_others(suggested):
    kept = suggested[-1]  # 87.5 % ≥ 80 %: kept at 80 %, not pushed
    assert (kept.id, kept.objective.id, kept.objective.metric) == ("S7", "starts-a-turn-maintained", "initiated")
    assert (kept.objective.comparator, kept.objective.threshold) == (">=", 80.0)
    assert kept.goal.startswith("Maintains: ") and kept.sentence.startswith("Will keep on being able to start a turn")
    assert "(maintenance)" in kept.sentence and "already at or past 80 %" in kept.rationale
    assert all(not s.objective.id.endswith("-maintained") for s in suggested[:-1])
    good = sync_task("sync_own_tempo", "Synchronisation at own tempo", 90.0, 92.0, -20.0, 30.0, -40.0, 37.0)
    out = suggest_objectives(make_assessment(sync_own_tempo=good, sync_slow=None, sync_fast=None), songs_dir=SONGS)
    by_metric = {s.objective.metric: s for s in out}
    assert by_metric["within_window_pct"].objective.id == "taps-on-the-beat-maintained"
    assert by_metric["within_window_pct"].objective.threshold == 80.0
    assert by_metric["asynchrony_sd_ms"].objective.threshold == 40.0  # 30 ms ≤ 40: kept at most 40 ms


def test_the_sync_baseline_is_the_task_nearest_the_scripts_tempo():
    a = make_assessment(sync_own_tempo=TaskResult("sync_own_tempo", "motor", "Synchronisation at own tempo",
                                                  "no_response", reason="No taps."))
    beat = next(s for s in suggest_objectives(a, songs_dir=SONGS) if s.objective.metric == "within_window_pct")
    # slow is 60 BPM, fast 120 BPM; the scripts run at 80–100 BPM: slow is nearer
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
