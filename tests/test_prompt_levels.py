"""Prompt levels are never guessed (docs/definitions.md, "Prompt levels"): a trial nobody marked is
"not recorded", objectives that count independent trials leave it out and say how many, a visit default
chosen at the start marks every unmarked trial, and a simulated child's trials carry its model's level."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from engine.audio.engine import AudioEngine
from engine.audio.soundbank import SoundBank
from engine.errors import ConfigError
from engine.interventions.kinds import make_kind
from engine.interventions.script import load_script
from engine.interventions.sounds import feedback_request, script_sounds
from engine.paths import cache_dir
from engine.records.reader import read_log
from engine.scoring.objectives import NOT_RECORDED, PROMPT_LEVELS, Objective, Trial, evaluate_session
from engine.session import live
from engine.session.activities import ScriptActivity
from engine.session.driver import run_session
from engine.session.parts import OfflineStream
from engine.session.runner import ScriptSession
from engine.simulation import models
from engine.simulation.player import DEVICE_FEEDBACK, ModelChild

ECHO = Path("content/songs/echo-drums.toml")
T, F = True, False


@pytest.fixture(autouse=True)
def private_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("TANDEM_CACHE", str(tmp_path / "cache"))


# --- objectives ---------------------------------------------------------------------------


def _percent_correct(**extra) -> Objective:
    return Objective.from_dict({"id": "imitate", "metric": "correct", "aggregate": "percent_true",
                                "comparator": ">=", "threshold": 80, **extra})


def test_a_trial_nobody_marked_is_not_recorded_never_independent():
    assert Trial({"correct": True}).prompt == "not recorded" == NOT_RECORDED
    assert NOT_RECORDED not in PROMPT_LEVELS  # not a level an objective can name
    assert Trial.from_dict({"scores": {"correct": True}}).prompt == "not recorded"
    with pytest.raises(ValueError, match="counted_prompts.*not recorded|'not recorded' is not a prompt level"):
        _percent_correct(counted_prompts=["not recorded"])


def test_ten_trials_three_marked_independent_count_three_and_say_seven_were_left_out():
    # Hand-worked: trials 1-3 marked independent (correct, correct, wrong); trials 4-10 not marked, all correct.
    # Counting only the marked ones: 2 of 3 correct = 66.7 % < 80 %: not met.
    # (Guessing "independent" for the unmarked, as Tandem did before: 9 of 10 = 90 %: met. Not any more.)
    trials = [Trial({"correct": c}, "independent") for c in (T, T, F)] + [Trial({"correct": T})] * 7
    result = evaluate_session(_percent_correct(min_trials=3), trials)
    assert result.n_trials == 10 and result.counted == 3 and result.not_recorded == 7
    assert result.excluded_prompted == 0  # nobody was prompted: it is not known
    assert result.passed == 2 and result.value == pytest.approx(200 / 3) and result.met is False
    assert [t.status for t in result.trials] == ["counted"] * 3 + ["not recorded"] * 7
    assert result.summary == ("Responded correctly on 2 of 3 trials (67 %); criterion not met. "
                              "7 trials without a recorded prompt level were not counted.")
    # Needing 5 counted trials (the default minimum), the visit is not judged.
    assert evaluate_session(_percent_correct(), trials).reason == (
        "Only 3 of 10 trials were counted (7 without a recorded prompt level); the criterion needs 5.")
    # Had the therapist chosen "independent" as the visit's default, all ten would count: 9 of 10, met.
    chosen = [Trial(t.scores, "independent") for t in trials]
    assert evaluate_session(_percent_correct(min_trials=3), chosen).met is True
    one = evaluate_session(_percent_correct(min_trials=3), trials[:4])
    assert "1 trial without a recorded prompt level was not counted." in one.summary


def test_too_few_marked_trials_give_no_verdict_and_say_why():
    # 4 of 5 consecutive... needs 5 counted trials: 3 marked independent, 1 verbal, 6 not marked -> 3 counted.
    o = Objective.from_dict({"id": "imitate", "metric": "correct", "criterion": "k_of_n", "k": 4, "n": 5,
                             "comparator": "==", "threshold": True})
    trials = ([Trial({"correct": T}, "independent")] * 3 + [Trial({"correct": T}, "verbal")]
              + [Trial({"correct": T})] * 6)
    result = evaluate_session(o, trials)
    assert result.met is None and result.counted == 3
    assert result.excluded_prompted == 1 and result.not_recorded == 6
    assert result.reason == ("Only 3 of 10 trials were counted (1 prompted, 6 without a recorded prompt level); "
                             "the criterion needs 5.")
    nothing = evaluate_session(o, [Trial({"correct": T})] * 5)
    assert nothing.met is None and nothing.reason == (
        "No prompt level was recorded for any of the 5 trials, and only independent trials count toward "
        "the criterion.")


def test_an_objective_counting_every_level_counts_an_unmarked_trial():
    # Whatever help was given on an unmarked trial, an objective that counts every level counts it: no guess.
    every = _percent_correct(max_prompt="physical")
    trials = [Trial({"correct": c}, "independent") for c in (T, T, F)] + [Trial({"correct": T})] * 7
    result = evaluate_session(every, trials)
    assert result.counted == 10 and result.not_recorded == 0 and result.passed == 9 and result.met is True
    up_to_model = evaluate_session(_percent_correct(max_prompt="model"), trials)
    assert up_to_model.counted == 3 and up_to_model.not_recorded == 7  # physical help would not count


# --- the session: unmarked trials, the therapist's key, the visit's default ----------------------


@pytest.fixture
def echo():
    script = load_script(ECHO)
    eng = AudioEngine(backend="offline", sample_rate=48_000, blocksize=128, channels_in=1, channels_out=2)
    eng.open()
    eng.start()
    bank = SoundBank.load(script_sounds(script, feedback=False), sample_rate=48_000, cache_dir=cache_dir())
    yield script, eng, bank
    eng.close()


def _play(runner: ScriptSession, eng, trials: int, *, mark: dict[int, str] | None = None) -> None:
    """Step the session until ``trials`` are scored; ``mark`` gives the therapist's level for trial n (1-based)."""
    marked = set()
    while runner.trials_done < trials:
        n = runner.trials_done + 1
        if mark and n in mark and n not in marked:
            runner.set_prompt(mark[n])
            marked.add(n)
        runner.step()
        eng.backend.run_blocks(1)


def _logged_prompts(log: list) -> list[str]:
    return [e["prompt"] for e in log if isinstance(e, dict) and e.get("type") == "trial" and e["phase"] == "trial"]


def test_an_unmarked_trial_is_logged_not_recorded(echo):
    script, eng, bank = echo
    log: list = []
    runner = ScriptSession(script, make_kind(script, seed=1), eng, bank, log.append, start_s=0.5, lookahead_s=0.1)
    assert runner.prompt == runner.default_prompt == "not recorded"
    _play(runner, eng, 3, mark={2: "gestural"})
    assert _logged_prompts(log) == ["not recorded", "gestural", "not recorded"]
    assert [r.trial.prompt for r in runner.results] == ["not recorded", "gestural", "not recorded"]


def test_a_visit_default_chosen_at_the_start_marks_every_unmarked_trial(echo):
    script, eng, bank = echo
    log: list = []
    runner = ScriptSession(script, make_kind(script, seed=1), eng, bank, log.append, start_s=0.5, lookahead_s=0.1,
                           default_prompt="independent")
    _play(runner, eng, 4, mark={2: "verbal", 3: "not recorded"})  # "not recorded" takes a default back
    assert _logged_prompts(log) == ["independent", "verbal", "not recorded", "independent"]
    with pytest.raises(ValueError, match="'sometimes' is not a prompt level"):
        runner.set_prompt("sometimes")
    with pytest.raises(ValueError, match="'hand-over-hand' is not a prompt level"):
        ScriptSession(script, make_kind(script, seed=1), eng, bank, log.append, start_s=0.5, lookahead_s=0.1,
                      default_prompt="hand-over-hand")


def test_a_kind_scores_a_trial_without_a_level_as_not_recorded():
    script = load_script(ECHO)
    kind = make_kind(script, seed=1)
    plan = kind.next_trial(0.0)
    assert kind.score(plan, []).trial.prompt == "not recorded"
    assert kind.score(plan, [], prompt="model").trial.prompt == "model"


def test_a_live_session_refuses_an_unknown_default_before_any_device_opens(tmp_path):
    with pytest.raises(ConfigError, match="default prompt level must be one of independent, gestural"):
        live.run_session(str(ECHO), root=tmp_path, child_id="C1", default_prompt="usually")


# --- the simulated child ---------------------------------------------------------------------


def _simulated(tmp_path, model: str) -> list[dict]:
    script = load_script(ECHO)
    bank = SoundBank.load(script_sounds(script, device_sound=DEVICE_FEEDBACK), sample_rate=48_000,
                          cache_dir=cache_dir())
    fb = feedback_request(script, DEVICE_FEEDBACK)
    child = ModelChild(model, 1, feedback=bank[fb], feedback_name=fb)
    activity = ScriptActivity(script, make_kind(script, seed=1), bank, kind_seed=1, max_trials=3)
    outcome = run_session(activity, stream=OfflineStream(), kind="demo", child_id="C1", root=tmp_path,
                          parts=[child], echo=None)
    return [json.loads(x) for x in (Path(outcome.folder) / "events.jsonl").read_text().splitlines()]


def test_a_simulated_childs_trials_carry_its_models_level(tmp_path, monkeypatch):
    # Every shipped model plays on its own (no one helps a simulated child): its trials are independent.
    assert {m.prompt for m in models.MODELS.values()} == {"independent"}
    lines = _simulated(tmp_path / "steady", "steady")
    assert lines[0]["simulated_child"] == {"model": "steady", "seed": 1, "prompt": "independent"}
    assert _logged_prompts(lines) == ["independent"] * 3
    # A model that is given a gestural prompt on every trial: its trials say so.
    helped = dataclasses.replace(models.MODELS["steady"], name="steady-gestural", prompt="gestural")
    monkeypatch.setitem(models.MODELS, "steady-gestural", helped)
    lines = _simulated(tmp_path / "helped", "steady-gestural")
    assert lines[0]["simulated_child"]["prompt"] == "gestural"
    assert _logged_prompts(lines) == ["gestural"] * 3


def test_an_old_live_log_reads_its_unmarked_trials_as_not_recorded(tmp_path):
    """Schema-2 live logs wrote "independent" for every trial nobody marked: read back, only a trial the
    therapist gave a level with ``p`` keeps it; a demo log's trials stay independent (its model's truth)."""
    def log(kind: str) -> Path:
        folder = tmp_path / kind
        folder.mkdir()
        lines = [{"type": "header", "schema": 2, "kind": kind, "script": "free", "child_id": "C1",
                  "sample_rate": 48000, "started": "2026-01-05T10:00:00+00:00"},
                 {"type": "mark", "frame": 10, "key": "p", "action": "prompt", "text": "independent", "trial": 2}]
        lines += [{"type": "trial", "n": n, "index": n - 1, "phase": "trial", "start_s": float(n), "tempo_bpm": 90,
                   "scores": {"correct": True}, "correct": True, "prompt": "independent"} for n in (1, 2, 3)]
        (folder / "events.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
        return folder

    assert [t.prompt for t in read_log(log("live")).trials] == ["not recorded", "independent", "not recorded"]
    assert [t.prompt for t in read_log(log("demo")).trials] == ["independent"] * 3
