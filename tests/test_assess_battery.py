"""The assessment battery (engine.assessment.battery) with simulated children of known behaviour.

Tolerances (seed 0 here; chosen from 8 seeds of the steady child, whose
ranges are in the comments, so a change of seed does not flake):

- spontaneous tempo: within 2 % of the model's ``own_tempo_bpm`` (seen 98.7–100.7 at 100);
  ITI CV within ±1.5 points of its ``free_iti_cv`` (seen 2.6–4.4 % at 4 %);
- synchronisation: the tempo as cued (the own tempo within 2 %); mean asynchrony within ±12 ms of the
  model's 0 (seen −7.6..9.9); SD of asynchrony within ±40 % of the model's 0.4 × the adult within-trial
  SD at that beat (seen 11.4–23.6 against 15–18); at least 95 % of beats within ±80 ms (seen 100 %).
"""

from __future__ import annotations

import itertools
import json
import queue
import statistics
from pathlib import Path

import pytest

from engine.assessment import battery
from engine.assessment.battery import TASK_IDS, planned_minutes, run_assessment
from engine.assessment.figures import (
    TaskLog,
    no_response_cut,
    played_nothing,
    read_task_log,
    sensory_ratings,
)
from engine.assessment.results import DOMAINS, TASK_STATUSES, load_assessment
from engine.assessment.staircase import Staircase
from engine.assessment.suggest import suggest_objectives
from engine.assessment.tasks import (
    FAST_BPM,
    SENSORY_PROBES,
    SLOW_BPM,
    STAIRCASE,
    TASKS,
    planned_seconds,
    sessions_of,
    write_script,
)
from engine.errors import ConfigError
from engine.interventions.kinds import make_kind
from engine.interventions.script import load_script
from engine.records.rescore import rescore
from engine.simulation.demo import simulate_task
from engine.simulation.models import MODELS, make_model
from engine.simulation.tapping import norms_at

CONTRACT = {
    "spontaneous_tempo": ("motor", {"smt_bpm", "smt_iti_cv_pct"}),
    "sync_own_tempo": ("motor", {"tempo_bpm", "within_window_pct", "asynchrony_mean_ms", "asynchrony_sd_ms"}),
    "sync_slow": ("motor", {"tempo_bpm", "within_window_pct", "asynchrony_mean_ms", "asynchrony_sd_ms"}),
    "sync_fast": ("motor", {"tempo_bpm", "within_window_pct", "asynchrony_mean_ms", "asynchrony_sd_ms"}),
    "sync_continuation": ("motor", {"continuation_tempo_drift_pct", "continuation_iti_cv_pct"}),
    "rhythm_imitation": ("cognition", {"imitation_span", "imitation_correct_pct", "imitation_response_pct"}),
    "melodic_imitation": ("cognition", {"melodic_span", "melodic_correct_pct", "melodic_response_pct"}),
    "turn_taking": ("socialization", {"waited_pct", "initiated_pct", "initiation_latency_ms"}),
    "stop_and_go": ("cognition", {"stopped_pct", "stop_latency_ms", "played_during_go_pct"}),
    "vocal_fill": ("communication", {"filled_pct", "blank_asynchrony_ms"}),
    "sensory": ("sensory", set()),
}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TANDEM_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def steady(env):
    return run_assessment("steady-child", root=env, simulate="steady", keyboard=True, echo=None)


@pytest.fixture(scope="module")
def silent(env):
    return run_assessment("silent-child", root=env, simulate="silent", echo=None)


@pytest.fixture(scope="module")
def impulsive(env):
    return run_assessment("impulsive-child", root=env, simulate="impulsive", echo=None,
                          tasks=["turn_taking", "stop_and_go", "rhythm_imitation"])


def fig(a, task, figure):
    f = a.task(task).figure(figure)
    assert f is not None, f"{task} has no figure {figure}"
    return f


# -- the staircase on its own ---------------------------------------------------------------------------

def test_staircase_all_correct_climbs_to_the_ceiling_and_stops_there():
    s = Staircase.replay([True] * 8, **STAIRCASE)
    assert s.levels == [2, 3, 4, 5, 6, 7, 8, 8]
    assert s.reversals == [] and s.done and "longest pattern (8 notes)" in s.stop_reason
    assert s.span_rule() == "longest_passed" and s.span() == 8.0
    assert not Staircase.replay([True] * 7, **STAIRCASE).done  # one pass at 8 is not enough


def test_staircase_alternating_answers_give_reversals_and_their_mean():
    answers = [True, True, False, True, False, True, False, True]
    s = Staircase.replay(answers, **STAIRCASE)
    assert s.levels == [2, 3, 4, 3, 4, 3, 4, 3]
    assert s.reversals == [2, 3, 4, 5, 6, 7] and s.reversal_levels == [4, 3, 4, 3, 4, 3]
    assert s.stop_reason == "6 reversals"
    assert s.span_rule() == "reversal_mean" and s.span() == pytest.approx(3.5)
    # with only three reversals it is the longest length passed
    short = Staircase.replay(answers[:5], **STAIRCASE)
    assert short.reversals == [2, 3, 4] and not short.done and short.span() == 3.0
    assert not Staircase.replay(answers[:7], **STAIRCASE).done  # 5 reversals: it goes on


def test_staircase_floor_trial_cap_and_nothing_passed():
    floor = Staircase.replay([False, False, False], **STAIRCASE)
    assert floor.levels == [2, 1, 1] and floor.stop_reason == "2 misses at the shortest pattern (1 note)"
    assert floor.span() is None and floor.span_rule() is None
    cap = Staircase.replay([True, False] * 3, **{**STAIRCASE, "max_reversals": 99, "max_trials": 6})
    assert cap.stop_reason == "the trial limit (6)" and cap.levels == [2, 3, 2, 3, 2, 3]
    given = Staircase.replay([True, False], [5, 6])  # the levels as logged, not the rule's
    assert given.levels == [5, 6] and given.level == 5
    with pytest.raises(ValueError):
        Staircase(start=1, lo=2, hi=8)


def test_the_kind_steps_the_length_as_the_staircase_predicts(env):
    # drifting echoes well up to 6-7 notes and then alternates: a mixed track with 6 reversals
    a = run_assessment("drift-child", root=env, simulate="drifting", echo=None, tasks=["rhythm_imitation"])
    d = a.task("rhythm_imitation").details
    predicted = Staircase.replay(d["correct"], **STAIRCASE)
    assert d["levels"] == predicted.levels
    assert len(d["reversals"]) >= STAIRCASE["min_reversals_for_mean"] and d["span_rule"] == "reversal_mean"
    span = fig(a, "rhythm_imitation", "imitation_span")
    assert span.value == pytest.approx(sum(d["reversal_levels"]) / len(d["reversal_levels"]), abs=0.01)
    assert span.n == len(d["levels"]) and span.spread is not None
    assert d["staircase_stop"] is not None and len(d["levels"]) < STAIRCASE["max_trials"] + 1


# -- the simulated children -----------------------------------------------------------------------------

def test_every_task_is_there_with_its_domain_and_a_valid_status(steady, silent):
    for a in (steady, silent):
        assert [t.id for t in a.tasks] == list(TASK_IDS)
        for t in a.tasks:
            domain, figures = CONTRACT[t.id]
            assert t.domain == domain and t.domain in DOMAINS and t.status in TASK_STATUSES
            assert (t.reason is None) == (t.status == "done")
            if t.status == "done":
                assert figures <= {f.id for f in t.figures}
                assert t.session and (Path(a.folder).parents[2] / t.session / "events.jsonl").is_file()


def test_steady_child_spontaneous_tempo_is_its_own_tempo(steady):
    model = MODELS["steady"]
    smt = fig(steady, "spontaneous_tempo", "smt_bpm")
    assert smt.value == pytest.approx(model.own_tempo_bpm, rel=0.02)
    assert smt.n >= 40 and smt.spread_label.startswith("SD of the inter-tap")  # 30 s at 100 BPM: ~49 taps
    assert fig(steady, "spontaneous_tempo", "smt_iti_cv_pct").value == pytest.approx(100 * model.free_iti_cv, abs=1.5)


@pytest.mark.parametrize("task, tempo", [("sync_own_tempo", None), ("sync_slow", SLOW_BPM), ("sync_fast", FAST_BPM)])
def test_steady_child_synchronisation_is_the_models(steady, task, tempo):
    t = steady.task(task)
    assert t.status == "done" and t.trials == 8
    bpm = fig(steady, task, "tempo_bpm").value
    if tempo is None:  # cued at the tempo found in free play
        assert bpm == pytest.approx(MODELS["steady"].own_tempo_bpm, rel=0.02)
        assert bpm == fig(steady, "spontaneous_tempo", "smt_bpm").value
    else:
        assert bpm == tempo
    within = fig(steady, task, "within_window_pct")
    assert within.value >= 95 and within.n == 32
    mean = fig(steady, task, "asynchrony_mean_ms")
    assert abs(mean.value) <= 12 and mean.n >= 30  # the model aims at 0
    expected_sd = 0.4 * norms_at(60000.0 / bpm).within_trial_sd_ms
    sd = fig(steady, task, "asynchrony_sd_ms")
    assert sd.value == pytest.approx(expected_sd, rel=0.4) and mean.spread == sd.value


def test_adult_references_come_from_the_published_norms(steady):
    data = json.loads((Path(__file__).parents[1] / "engine" / "data" / "tapping_norms.json").read_text())
    at600 = next(r for r in data["norms"] if r["isi_ms"] == 600)
    for task in ("sync_own_tempo", "sync_slow", "sync_fast"):
        ref = fig(steady, task, "asynchrony_mean_ms").reference
        assert ref.value == at600["mean_asynchrony_ms"] and ref.spread == at600["between_subject_sd_ms"]
        assert "Bååth" in ref.source and "30 adults" in ref.population and "600 ms" in ref.population
        assert fig(steady, task, "asynchrony_sd_ms").reference.value == at600["within_trial_sd_ms"]
    # 750 and 500 ms were not measured: the reference says it is the nearest measured interval
    assert "nearest measured" in fig(steady, "sync_slow", "asynchrony_mean_ms").reference.population
    assert "nearest measured" in fig(steady, "sync_fast", "asynchrony_mean_ms").reference.population


def test_steady_child_keeps_the_beat_echoes_waits_and_stops(steady):
    assert abs(fig(steady, "sync_continuation", "continuation_tempo_drift_pct").value) <= 2.0
    assert 0 < fig(steady, "sync_continuation", "continuation_iti_cv_pct").value <= 5.0
    assert steady.task("sync_continuation").trials == 3
    for task, prefix in (("rhythm_imitation", "imitation"), ("melodic_imitation", "melodic")):
        assert fig(steady, task, f"{prefix}_span").value == STAIRCASE["hi"]  # never fails: the ceiling
        assert fig(steady, task, f"{prefix}_correct_pct").value == 100
        assert fig(steady, task, f"{prefix}_response_pct").value == 100  # answered every call
        assert steady.task(task).details["span_rule"] == "longest_passed"
    assert fig(steady, "turn_taking", "waited_pct").value == 100
    assert fig(steady, "turn_taking", "initiated_pct").value == 100
    assert 300 <= fig(steady, "turn_taking", "initiation_latency_ms").value <= 800  # the model's 0.3-0.8 s
    assert fig(steady, "stop_and_go", "stopped_pct").value == 100
    assert fig(steady, "vocal_fill", "filled_pct").value == 100


def test_sensory_probes_are_rated_by_the_simulated_model_not_scored(steady):
    t = steady.task("sensory")
    assert t.status == "done" and t.reason is None and t.session and t.trials == len(SENSORY_PROBES)
    assert t.figures == () and t.details["rated_by"] == "simulated model 'steady'"
    assert [r.item for r in steady.ratings] == [p.item for p in SENSORY_PROBES]
    assert all(r.rating == "calm" and r.rated_by == "simulated model 'steady'" for r in steady.ratings)


def test_silent_child_ends_every_task_with_no_response(silent):
    assert silent.status == "completed"
    for t in silent.tasks:
        if t.id == "melodic_imitation":
            assert t.status == "skipped" and "keyboard" in t.reason
        elif t.id == "sensory":  # rated, not played: a silent child stays calm (the model's rating)
            assert t.status == "done" and {r.rating for r in silent.ratings} == {"calm"}
        else:
            assert t.status == "no_response", t.id
            assert t.reason.endswith(".") and t.session
    assert silent.task("sync_slow").trials == 3  # ended after 3 trials with nothing played
    # no call answered at all: the baseline of an engagement objective (docs/baseline.md)
    answered = fig(silent, "rhythm_imitation", "imitation_response_pct")
    assert (answered.value, answered.n) == (0.0, 3)
    assert (fig(silent, "turn_taking", "initiated_pct").value, fig(silent, "stop_and_go", "played_during_go_pct").value) \
        == (0.0, 0.0)
    assert silent.task("spontaneous_tempo").figures == ()
    assert "fewer than 8" in silent.task("spontaneous_tempo").reason


def test_impulsive_child_fails_inhibition(impulsive):
    stop = impulsive.task("stop_and_go")
    assert stop.status == "done" and stop.trials == 6
    assert fig(impulsive, "stop_and_go", "stopped_pct").value <= 20  # keeps going 0.5-1.5 s past a 0.4 s grace
    assert fig(impulsive, "stop_and_go", "stop_latency_ms").value >= 400
    assert fig(impulsive, "stop_and_go", "played_during_go_pct").value == 100
    assert fig(impulsive, "turn_taking", "waited_pct").value <= 20  # plays over the engine's turn
    # ... so it never takes a turn (docs/definitions.md, T2), and no turn-taking skill is "maintained".
    assert fig(impulsive, "turn_taking", "initiated_pct").value <= 20
    suggested = {s.objective.id: s for s in suggest_objectives(impulsive)}  # the shipped songs
    assert "starts-a-turn" in suggested and not any(k.endswith("-maintained") for k in suggested)
    assert impulsive.task("rhythm_imitation").status == "done"  # it answers, wrongly: not "no response"
    assert [t.id for t in impulsive.tasks] == ["rhythm_imitation", "turn_taking", "stop_and_go"]


# -- records ----------------------------------------------------------------------------------------------

def test_saved_assessment_round_trips(steady, silent):
    for a in (steady, silent):
        again = load_assessment(a.folder)
        assert again == a and again.to_dict() == a.to_dict()
        assert (Path(a.folder) / "assessment.json").stat().st_mode & 0o777 == 0o600


def test_task_sessions_rescore_identically_and_name_the_assessment(env, steady, silent, impulsive):
    sessions = {t.session for a in (steady, silent, impulsive) for t in a.tasks if t.session}
    assert len(sessions) >= 20
    for s in sessions:
        r = rescore(Path(env) / s)
        assert r["identical"] and r["abandoned"] == 0 and r["plan_mismatch"] is None, s
        header = json.loads((Path(env) / s / "events.jsonl").read_text().splitlines()[0])
        assert header["assessment"]["folder"].startswith("assessments/")
        assert header["kind"] == "demo" and header["kind_seed"] is None


def test_a_task_log_reads_back_the_same_figures(env, steady):
    t = steady.task("sync_slow")
    log = read_task_log(Path(env) / t.session)
    assert len(log.scored()) == t.trials and log.summary["status"] == "completed"
    assert not any(played_nothing("rhythmic_cueing", x["scores"]) for x in log.scored())


# -- rules, devices, controls ------------------------------------------------------------------------------

def test_no_response_rule_finds_the_first_run_of_three():
    tap, none = {"n_taps": 4}, {"n_taps": 0}
    assert no_response_cut("rhythmic_cueing", [tap, none, none, tap, none, none, none, none]) == 7
    assert no_response_cut("rhythmic_cueing", [none, none, tap, none, none]) is None
    assert played_nothing("turn_taking", {"waited": None}) and not played_nothing("turn_taking", {"waited": False})
    assert played_nothing("stop_and_go", {"stopped": None, "go_onsets": 0})
    assert not played_nothing("call_and_response", {"n_response": 0, "onsets_during_call": 2})
    assert not played_nothing("fill_in_the_blank", {"filled": False, "extra_onsets": 1})


def test_tasks_the_devices_cannot_do_are_skipped_without_playing(env):
    a = run_assessment("pad-only", root=env, midi_in="some pad", echo=None,
                       tasks=["melodic_imitation", "vocal_fill"])  # live, but nothing here needs a device
    assert [t.status for t in a.tasks] == ["skipped", "skipped"]
    assert "keyboard" in a.task("melodic_imitation").reason and "--mic" in a.task("vocal_fill").reason
    assert all(t.session is None for t in a.tasks) and a.devices == {"midi_in": "some pad", "keyboard": False,
                                                                     "mic": False}
    with pytest.raises(ConfigError, match="MIDI pad or keyboard"):
        run_assessment("nobody", root=env, echo=None)
    with pytest.raises(ConfigError, match="--midi-in"):
        run_assessment("nobody", root=env, mic=True, keyboard=True, echo=None)
    with pytest.raises(ConfigError, match="Unknown child model"):
        run_assessment("nobody", root=env, simulate="robot", echo=None)
    with pytest.raises(ConfigError, match="Unknown assessment task"):
        run_assessment("nobody", root=env, simulate="steady", tasks=["juggling"], echo=None)


def test_pause_and_resume_replay_the_trial_and_still_rescore(env):
    controls: queue.Queue = queue.Queue()
    controls.put("pause")
    controls.put("resume")
    a = run_assessment("paused-child", root=env, simulate="steady", controls=controls, echo=None,
                       tasks=["sync_fast"])
    t = a.task("sync_fast")
    assert t.status == "done" and t.trials == 8 and a.status == "completed"
    lines = [json.loads(x) for x in (Path(env) / t.session / "events.jsonl").read_text().splitlines()]
    assert [x["what"] for x in lines if x.get("what") in ("paused", "resumed")] == ["paused", "resumed"]
    assert rescore(Path(env) / t.session)["identical"]


def test_stopping_stops_the_battery_and_keeps_it(env):
    controls: queue.Queue = queue.Queue()
    controls.put("stop")
    a = run_assessment("stopped-child", root=env, simulate="steady", controls=controls, echo=None,
                       tasks=["sync_slow", "turn_taking"])
    assert a.status == "stopped"
    assert a.task("sync_slow").status == "stopped" and "therapist" in a.task("sync_slow").reason
    assert a.task("turn_taking").status == "stopped" and a.task("turn_taking").session is None
    assert load_assessment(a.folder).status == "stopped"


def test_generated_scripts_validate_and_the_plan_fits_15_minutes(tmp_path):
    kinds = {"tempo": "rhythmic_cueing", "sync-slow": "rhythmic_cueing", "sync-fast": "rhythmic_cueing",
             "continuation": "rhythmic_cueing", "rhythm-imitation": "call_and_response",
             "melodic-imitation": "call_and_response", "turn-taking": "turn_taking", "stop-and-go": "stop_and_go",
             "vocal-fill": "fill_in_the_blank", "sensory": "rhythmic_cueing"}
    for session in sessions_of(TASKS):
        script = write_script(tmp_path, session, source="mic" if session == "vocal-fill" else "both", tempo_bpm=97.0)
        assert script.kind == kinds[session] and not script.objectives
        assert (tmp_path / f"{session}.toml").stat().st_mode & 0o777 == 0o600
    assert write_script(tmp_path, "continuation", source="midi", tempo_bpm=97.0).tempo_bpm == 97.0
    stair = write_script(tmp_path, "rhythm-imitation", source="midi")
    assert stair.trials == STAIRCASE["max_trials"] and [len(p.onsets_beats) for p in stair.phrases] == [2, 3, 4]
    kind = make_kind(stair)  # the kind's own bounds are the staircase's
    assert (kind.call_notes, kind.max_notes) == (STAIRCASE["start"], STAIRCASE["hi"])
    assert planned_minutes() <= 15.0
    assert planned_minutes(keyboard=False, mic=False) < planned_minutes()
    assert planned_seconds("tempo") >= 30.0


def test_sensory_ratings_take_the_last_key_during_each_probe():
    plans = [{"phase": "trial", "index": i, "start_s": 4.0 * i, "end_s": 4.0 * (i + 1)} for i in range(15)]
    log = TaskLog(header={}, plans=plans, marks=[(1.0, "1"), (5.0, "2"), (13.0, "3"), (13.5, "x"), (30.0, "1"),
                                                  (59.0, "2")])
    ratings = sensory_ratings(log)
    assert [r.rating for r in ratings] == ["avoids", "seeks", "calm", None, "avoids"]
    assert ratings[0].t_s == 5.0 and ratings[3].t_s is None
    assert [r.rated_by for r in ratings] == ["therapist"] * 3 + [None, "therapist"]


def test_free_tapping_model_taps_at_its_own_tempo():
    events = make_model("steady", seed=3).free_tap(10.0, 40.0)
    itis = [b.time_s - a.time_s for a, b in itertools.pairwise(events)]
    assert statistics.median(itis) == pytest.approx(60.0 / MODELS["steady"].own_tempo_bpm, rel=0.03)
    assert 10.5 <= events[0].time_s <= 11.0 and events[-1].time_s < 40.0
    assert events[0].truth["situation"] == "free_tap"
    assert make_model("silent").free_tap(0.0, 30.0) == []
    assert MODELS["impulsive"].own_tempo_bpm > MODELS["steady"].own_tempo_bpm > MODELS["slow"].own_tempo_bpm


def test_live_battery_runs_one_tandem_run_session_per_task_and_applies_the_rules_afterwards(env, monkeypatch):
    """The live path with ``run_session`` replaced by the simulated session (no devices here): the battery
    takes each session's folder, holds each task for the space key, cuts a silent task after 3 trials
    when the session ignored its early end (the log has all 8) and reads the therapist's rating keys from
    the sensory session's log."""
    calls = []

    def fake_run_session(script, *, root, child_id, midi_in, mic, controls, echo, wait_for_space, stop_when,
                         header_extra, **options):
        calls.append({"script": Path(script).name, "midi_in": midi_in, "mic": mic, "wait": wait_for_space,
                      "stop_when": stop_when is not None, **options})
        sensory = Path(script).name == "sensory.toml"
        out = simulate_task(load_script(script), root=root, child_id=child_id,
                            model="steady" if sensory else "silent", seed=0, header=header_extra)
        if sensory:  # the therapist pressed 3 (seeks) in the first probe and 2 (avoids) in the second
            plans = [json.loads(x) for x in (out.folder / "events.jsonl").read_text().splitlines()
                     if '"plan"' in x]
            rate = 48_000
            with open(out.folder / "events.jsonl", "a") as f:
                for bar, key in ((1, "3"), (4, "2")):
                    frame = round((plans[bar]["start_s"] + 0.5) * rate)
                    f.write(json.dumps({"type": "mark", "frame": frame, "key": key, "action": "none",
                                        "text": "", "trial": -1}) + "\n")
        return {"status": "completed", "folder": str(out.folder)}

    monkeypatch.setattr(battery, "run_session", fake_run_session)
    a = run_assessment("live-child", root=env, midi_in="pad", mic=True, echo=None, blocksize=256,
                       tasks=["sync_fast", "sensory"])
    assert [c["script"] for c in calls] == ["sync-fast.toml", "sensory.toml"]
    assert all(c["wait"] and c["stop_when"] and c["midi_in"] == "pad" and c["mic"] and c["blocksize"] == 256
               for c in calls)
    fast = a.task("sync_fast")
    assert fast.status == "no_response" and fast.trials == 3 and fast.details["no_response_after_trials"] == 3
    assert len(read_task_log(Path(env) / fast.session).scored()) == 8  # what the live session played
    assert a.task("sensory").status == "done" and a.simulated is None
    assert [r.rating for r in a.ratings] == ["seeks", "avoids", None, None, None]


def test_a_live_task_ends_inside_the_session_by_the_battery_rule(env, monkeypatch):
    """``run_session`` gets the battery's rule (``stop_when``) and header fields (``header_extra``): a silent
    task ends inside the session after 3 trials, the header names the task, and the log re-scores."""
    def fake_run_session(script, *, root, child_id, midi_in, mic, controls, echo, wait_for_space,
                         stop_when=None, header_extra=None, **options):
        out = simulate_task(load_script(script), root=root, child_id=child_id, model="silent", seed=0,
                            header=header_extra, stop_when=stop_when)
        return {"status": "completed", "folder": str(out.folder), "stop_reason": out.stop_reason}

    monkeypatch.setattr(battery, "run_session", fake_run_session)
    a = run_assessment("hooked-child", root=env, midi_in="pad", echo=None, tasks=["sync_slow"])
    t = a.task("sync_slow")
    assert t.status == "no_response" and t.trials == 3
    assert len(read_task_log(Path(env) / t.session).scored()) == 3  # the session itself ended there
    header = json.loads((Path(env) / t.session / "events.jsonl").read_text().splitlines()[0])
    assert header["assessment"]["tasks"] == ["sync_slow"]
    assert rescore(Path(env) / t.session)["identical"]

def test_tandem_assess_simulated_prints_json(env, capsys):
    from engine.cli import build_parser, main

    if "assess" not in build_parser()._subparsers._group_actions[0].choices:
        pytest.skip("`tandem assess` is not wired into engine/cli.py yet (see the report of issue 9)")
    code = main(["assess", "cli-child", "--simulate", "silent", "--json", "--data-dir", str(env),
                 "--tasks", "stop_and_go,vocal_fill"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["simulated"] == "silent" and out["status"] == "completed"
    assert [(t["id"], t["status"]) for t in out["tasks"]] == [("stop_and_go", "no_response"),
                                                               ("vocal_fill", "no_response")]
    assert main(["assess", "cli-child", "--data-dir", str(env)]) == 2  # no device: one sentence, no traceback
    assert "MIDI pad or keyboard" in capsys.readouterr().err
