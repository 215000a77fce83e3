"""Sessions judge the child's plan objectives beside their script's own, in the summary, the log and re-scoring."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.records.plan import objective_data
from engine.records.reader import read_log
from engine.records.rescore import rescore
from engine.scoring.objectives import Objective
from engine.simulation.demo import run_demo
from tests.fixture_files import plan_text, write_plan

ECHO = Path("content/songs/echo-drums.toml")

# The shared plan: "imitate" is echo-drums' own "echo-rhythm" under another id (so their figures must agree);
# "fast" asks for a quicker response than the script's; "steady" is a metric echo-drums does not produce.
PLAN = plan_text("C07", objectives={"imitate": {"level": {"pattern_length_min": 3}},  # as echo-rhythm names it
                                    "quick": {"id": "fast", "threshold": 400},
                                    "steady-beat": {"id": "steady", "scripts": ["echo-drums", "steady-beat-march"]}})


@pytest.fixture(autouse=True)
def private_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("TANDEM_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("TANDEM_CACHE", str(tmp_path / "cache"))


def demo(root: Path, sessions: int = 2, echo=None):
    return run_demo(ECHO, root=root, child_id="C07", model="learning", seed=3, sessions=sessions,
                    max_trials=5, echo=echo)


def by_source(objectives):
    return {(o["source"], o["id"]): o for o in objectives}


def test_sessions_judge_the_plan_objectives_their_script_measures(tmp_path):
    root = tmp_path / "out"
    write_plan(root, "C07", PLAN)
    sessions = demo(root)
    for s in sessions:
        got = by_source(s["objectives"])
        assert list(got) == [("script", "echo-rhythm"), ("script", "responds-quickly"),
                             ("plan", "imitate"), ("plan", "fast"), ("plan", "steady")]
        # the same definition under two ids: the same figure, met and status (over the sessions so far)
        for key in ("value", "met", "status"):
            assert got[("plan", "imitate")][key] == got[("script", "echo-rhythm")][key]
        # the same median latency, judged against the plan's stricter threshold
        assert got[("plan", "fast")]["value"] == got[("script", "responds-quickly")]["value"]
        assert got[("plan", "fast")]["met"] == (got[("plan", "fast")]["value"] <= 400)
        assert got[("plan", "steady")]["status"] == "not_measured"
        assert "does not measure the share of beats tapped within the timing window" in got[("plan", "steady")]["sentence"]
    # the status is over the run's sessions: the second session's history has two entries
    assert sessions[1]["objectives"][2]["status"] == sessions[1]["objectives"][0]["status"]


def test_the_log_keeps_the_plan_objectives_it_judged_and_rescoring_uses_them(tmp_path):
    root = tmp_path / "out"
    plan = write_plan(root, "C07", PLAN)
    s = demo(root, sessions=1)[0]
    lines = [json.loads(x) for x in (Path(s["folder"]) / "events.jsonl").read_text().splitlines()]
    header = lines[0]
    assert [Objective.from_dict(d).id for d in header["plan_objectives"]] == ["imitate", "fast", "steady"]
    assert header["plan_objectives"][1] == objective_data(Objective.from_dict(header["plan_objectives"][1]))
    rec = read_log(s["folder"])
    assert [(o.source, o.id) for o in rec.objectives][2:] == [("plan", "imitate"), ("plan", "fast"), ("plan", "steady")]

    out = rescore(s["folder"])
    assert out["identical"] is True
    assert [(o["source"], o["id"], o["identical"]) for o in out["objectives"]][2:] == [
        ("plan", "imitate", True), ("plan", "fast", True), ("plan", "steady", True)]

    # The plan edited after the session (a stricter threshold) does not change what the session judged.
    plan.write_text(PLAN.replace("threshold = 400", "threshold = 1"), "utf-8")
    again = rescore(s["folder"])
    assert again["identical"] is True
    assert by_source([o["recomputed"] for o in again["objectives"]])[("plan", "fast")]["met"] == \
        by_source(s["objectives"])[("plan", "fast")]["met"]

    # A stored plan figure that the raw events do not give is found.
    summary = lines[-1]
    assert summary["type"] == "summary"
    fast = next(o for o in summary["objectives"] if o["source"] == "plan" and o["id"] == "fast")
    fast["value"] = (fast["value"] or 0) + 1000.0
    (Path(s["folder"]) / "events.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    changed = rescore(s["folder"])
    assert changed["identical"] is False
    assert [(o["source"], o["id"]) for o in changed["objectives"] if o["identical"] is False] == [("plan", "fast")]


def test_an_interrupted_session_is_judged_on_its_logged_plan_objectives(tmp_path):
    root = tmp_path / "out"
    write_plan(root, "C07", PLAN)
    s = demo(root, sessions=1)[0]
    log = Path(s["folder"]) / "events.jsonl"
    lines = log.read_text().splitlines()
    assert json.loads(lines[-1])["type"] == "summary"
    log.write_text("\n".join(lines[:-1]) + "\n")  # as if killed before the end: no summary line,
    (Path(s["folder"]) / "summary.json").unlink()  # nor the summary.json written just before it
    rec = read_log(s["folder"])
    assert rec.status == "interrupted"
    first = by_source(s["objectives"])
    assert [(o.source, o.id, o.value) for o in rec.objectives] == [
        (src, oid, first[(src, oid)]["value"]) for src, oid in first]


def test_a_plan_that_does_not_check_leaves_the_scripts_objectives_and_says_why(tmp_path):
    root = tmp_path / "out"
    write_plan(root, "C07", PLAN.replace('comparator = "<="', 'comparator = "about"'))
    said: list[str] = []
    s = demo(root, sessions=1, echo=said.append)[0]
    assert [(o["source"], o["id"]) for o in s["objectives"]] == [("script", "echo-rhythm"),
                                                                  ("script", "responds-quickly")]
    notes = [x for x in said if x.startswith("note: The plan")]
    assert len(notes) == 1 and "tandem plan show C07" in notes[0] and "comparator" in notes[0]
    assert read_log(s["folder"]).header["plan_objectives"] == []


def test_without_a_plan_only_the_scripts_objectives_are_judged(tmp_path):
    s = demo(tmp_path / "out", sessions=1)[0]
    assert {o["source"] for o in s["objectives"]} == {"script"}
    assert rescore(s["folder"])["identical"] is True
