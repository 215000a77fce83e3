"""Accepting suggestions into the plan: only what the therapist accepts, with the edits, comments kept, baseline
phase set, atomic and private; rejections recorded; bad edits leave the plan unchanged; sessions judge them."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from pathlib import Path

import pytest

from engine.assessment.accept import accept_suggestions, parse_edit, reject_suggestions
from engine.assessment.results import load_assessment, save_assessment
from engine.assessment.suggest import load_suggestions
from engine.errors import ConfigError
from engine.records.plan import load_plan, plan_path
from engine.simulation.demo import run_demo
from tests.fixture_files import write_plan
from tests.test_assess_report import make_assessment

SONGS = Path(__file__).resolve().parents[1] / "content" / "songs"
DAY = dt.date(2026, 9, 2)  # the assessment's day

# A plan as a therapist writes it by hand, with comments (not the shared fixture): accepting must keep its text.
OWN_PLAN = '''\
# Sam's plan -- written by hand; keep my notes!
id = "C07"
therapist = "J. Rivera, MT-BC"   # me

[[goals]]
domain = "communication"
description = "Greets with a song."   # from the IEP

[[goals.objectives]]
id = "greets"
metric = "initiated"
criterion = "k_of_n"
k = 3
n = 4
comparator = "=="
threshold = true
scripts = ["hello"]
'''


@pytest.fixture
def setup(tmp_path):
    root = tmp_path / "data"
    a = load_assessment(save_assessment(make_assessment(), root))
    return root, a


def states(a) -> dict[str, str]:
    return {s.id: s.state for s in load_suggestions(a)}


def test_no_plan_yet_makes_one_with_only_the_accepted_objectives(setup):
    root, a = setup
    path = accept_suggestions(root, "C07", a, ["S1", "s4"], edits={"S1": {"threshold": 55}})
    assert path == plan_path(root, "C07")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    plan = load_plan(root, "C07")
    assert [o.id for o in plan.objectives] == ["taps-on-the-beat", "imitates-rhythms"]  # not the template's examples
    beat, imitate = plan.objectives
    assert (beat.objective.metric, beat.objective.aggregate, beat.objective.threshold) == ("within_window_pct", "mean",
                                                                                           55.0)
    assert beat.domain == "motor" and "55 % of beats" in beat.description and "60 %" not in beat.description
    assert set(beat.scripts) == {"steady-beat-march", "march-song", "tap-and-keep-going", "metronome"}
    assert (imitate.objective.metric, imitate.objective.threshold, imitate.domain) == ("correct", 70.0, "cognition")
    assert [(p.name, p.start) for p in plan.phases] == [("baseline", DAY)]
    text = path.read_text("utf-8")
    assert "# id = \"steady-beat\"" in text  # the template's examples, commented out
    assert "# S1: Baseline synchronisation at own tempo" in text and "# Changed by the therapist: threshold = 55" in text
    assert states(a) == {"S1": "edited", "S2": "open", "S3": "open", "S4": "accepted", "S5": "open", "S6": "open",
                         "S7": "open"}
    saved = load_suggestions(a)
    assert saved.get("S1").edits == {"threshold": 55} and saved.get("S1").plan_id == "taps-on-the-beat"
    assert saved.get("S1").decided is not None and saved.get("S2").decided is None


def test_an_own_plan_keeps_its_text_and_gets_a_baseline_phase(setup):
    root, a = setup
    path = write_plan(root, "C07", OWN_PLAN)
    accept_suggestions(root, "C07", a, ["S5"], edits={"S5": {"max_prompt": "gestural", "target_date": "2026-12-15"}})
    text = path.read_text("utf-8")
    # the therapist's text is all there, unchanged, in order; the phase goes before the first table
    phase = '# Baseline phase from the initial assessment (tandem plan accept).\n[[phases]]\nname = "baseline"\n' \
            'start = 2026-09-02\n\n'
    assert text.startswith(OWN_PLAN.replace("[[goals]]", phase + "[[goals]]", 1))
    plan = load_plan(root, "C07")
    assert [(p.name, p.start) for p in plan.phases] == [("baseline", DAY)]
    assert plan.therapist == "J. Rivera, MT-BC" and [o.id for o in plan.objectives] == ["greets", "waits-for-turn"]
    waits = plan.objectives[1]
    assert waits.objective.counted_prompts == ("independent", "gestural")
    assert waits.target_date == dt.date(2026, 12, 15) and waits.domain == "socialization"


def test_an_existing_baseline_or_earlier_phase_is_left_alone(setup):
    root, a = setup
    for phases in ('[[phases]]\nname = "baseline"\nstart = 2026-08-01\n',
                   '[[phases]]\nname = "intervention"\nstart = 2026-08-20\n'):
        own = OWN_PLAN.replace("[[goals]]", phases + "\n[[goals]]", 1)
        path = write_plan(root, "C07", own)
        before = load_plan(root, "C07").phases
        accept_suggestions(root, "C07", a, ["S6"])
        assert load_plan(root, "C07").phases == before
        assert path.read_text("utf-8").startswith(own)
        path.unlink()
        json_path = Path(a.folder) / "suggestions.json"
        json_path.unlink()


def test_a_later_phase_gets_the_baseline_before_it(setup):
    root, a = setup
    own = OWN_PLAN.replace("[[goals]]", '# phases\n[[phases]]\nname = "intervention"\nstart = 2026-10-01\n\n[[goals]]', 1)
    write_plan(root, "C07", own)
    accept_suggestions(root, "C07", a, ["S2"])
    assert [(p.name, p.start) for p in load_plan(root, "C07").phases] == [("baseline", DAY),
                                                                          ("intervention", dt.date(2026, 10, 1))]


def test_reject_records_and_leaves_the_plan_alone(setup):
    root, a = setup
    out = reject_suggestions(root, "C07", a, ["S2", "S3"])
    assert out == Path(a.folder) / "suggestions.json" and not plan_path(root, "C07").exists()
    path = write_plan(root, "C07", OWN_PLAN)
    reject_suggestions(root, "C07", a, ["S6"])
    assert path.read_text("utf-8") == OWN_PLAN
    assert states(a) == {"S1": "open", "S2": "rejected", "S3": "rejected", "S4": "open", "S5": "open",
                         "S6": "rejected", "S7": "open"}
    # the therapist changes their mind: a rejected suggestion can still be accepted; an accepted one not rejected
    accept_suggestions(root, "C07", a, ["S2"])
    assert states(a)["S2"] == "accepted"
    with pytest.raises(ConfigError, match="S2 was accepted into the plan"):
        reject_suggestions(root, "C07", a, ["S2"])


@pytest.mark.parametrize(("edits", "message"), [
    ({"S4": {"threshold": 150}}, "percent_true threshold is a percentage from 0 to 100"),
    ({"S4": {"colour": "red"}}, "'colour' cannot be edited"),
    ({"S4": {"scripts": ["stop-and-go"]}}, "is a stop_and_go script, but .* call_and_response"),
    ({"S3": {"scripts": ["steady-beat-march"]}}, "does not measure continuation_iti_cv"),
    ({"S4": {"scripts": ["no-such-song"]}}, "cannot be loaded"),
    ({"S4": {"scripts": "echo-drums"}}, "must be a list of script names"),
    ({"S4": {"target_date": "soon"}}, "target_date must be a date"),
    ({"S4": {"id": "greets"}}, None),  # not an error: renamed greets-2
    ({"S1": {"threshold": 50}}, "applies to a suggestion not being accepted"),
])
def test_a_bad_edit_leaves_the_plan_and_the_suggestions_unchanged(setup, edits, message):
    root, a = setup
    path = write_plan(root, "C07", OWN_PLAN)
    ids = list(edits) if message is None or "not being accepted" not in message else ["S4"]
    if message is None:
        accept_suggestions(root, "C07", a, ids, edits=edits)
        assert [o.id for o in load_plan(root, "C07").objectives] == ["greets", "greets-2"]
        return
    with pytest.raises(ConfigError, match=message) as err:
        accept_suggestions(root, "C07", a, ids, edits=edits)
    assert "\n" not in str(err.value)
    assert path.read_text("utf-8") == OWN_PLAN
    assert sorted(p.name for p in path.parent.iterdir()) == ["C07.toml"]  # no temporary file left
    assert set(states(a).values()) == {"open"}


def test_unknown_ids_twice_accepted_and_a_broken_plan_are_one_sentence(setup):
    root, a = setup
    with pytest.raises(ConfigError, match="no suggestion 'S99'.*S1, S2"):
        accept_suggestions(root, "C07", a, ["S99"])
    accept_suggestions(root, "C07", a, ["S1"])
    with pytest.raises(ConfigError, match="S1 is already in the plan"):
        accept_suggestions(root, "C07", a, ["S1"])
    with pytest.raises(ConfigError, match="of 'C07', not 'C08'"):
        accept_suggestions(root, "C08", a, ["S2"])
    broken = OWN_PLAN.replace('domain = "communication"', 'domain = "musicality"')
    path = write_plan(root, "C07", broken)
    with pytest.raises(ConfigError, match="has problems .*musicality"):
        accept_suggestions(root, "C07", a, ["S2"])
    assert path.read_text("utf-8") == broken


def test_parse_edit():
    assert parse_edit("S1.threshold=70") == ("S1", "threshold", 70)
    assert parse_edit("s2.max_prompt=verbal") == ("S2", "max_prompt", "verbal")
    assert parse_edit('S3.scripts=["echo-drums"]') == ("S3", "scripts", ["echo-drums"])
    assert parse_edit("S4.target_date=2026-12-15") == ("S4", "target_date", dt.date(2026, 12, 15))
    with pytest.raises(ConfigError, match="ID.FIELD=VALUE"):
        parse_edit("threshold=70")


def test_sessions_of_the_accepted_scripts_judge_the_accepted_objectives(setup):
    root, a = setup
    accept_suggestions(root, "C07", a, ["S1", "S4"], edits={"S4": {"threshold": 100}})
    # 5 trials each: the fewest an aggregate objective is judged on (DEFAULT_MIN_TRIALS)
    beat = run_demo(SONGS / "steady-beat-march.toml", root=root, child_id="C07", max_trials=5, echo=None)
    echo = run_demo(SONGS / "echo-drums.toml", root=root, child_id="C07", max_trials=5, echo=None)
    plan_beat = [o for o in beat[0]["objectives"] if o["source"] == "plan"]
    plan_echo = [o for o in echo[0]["objectives"] if o["source"] == "plan"]
    assert [o["id"] for o in plan_beat] == ["taps-on-the-beat"] and [o["id"] for o in plan_echo] == ["imitates-rhythms"]
    assert plan_beat[0]["value"] is not None and plan_beat[0]["met"] == (plan_beat[0]["value"] >= 60)
    assert plan_echo[0]["value"] is not None and plan_echo[0]["met"] == (plan_echo[0]["value"] >= 100)
    header = json.loads((Path(echo[0]["folder"]) / "events.jsonl").read_text("utf-8").splitlines()[0])
    assert [(o["id"], o["threshold"]) for o in header["plan_objectives"]] == [("imitates-rhythms", 100.0)]
