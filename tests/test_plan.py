"""The child's plan: template, checking with file:line errors, hashing, script matching."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import stat

import pytest

from engine.errors import ConfigError
from engine.records.plan import (
    PlanError,
    check_child_id,
    load_plan,
    load_plan_file,
    new_plan,
    plan_hash,
    plan_objectives_for,
    plan_path,
)
from tests.fixture_files import plan_text, write_plan

# The shared plan, its "imitate" naming its scripts by path and by file name as well as by stem.
GOOD = plan_text("C07", objectives={"imitate": {"scripts": ["content/songs/echo-drums.toml", "keyboard-echo.toml"]}})


def problems(root, text, child="C07"):
    write_plan(root, child, text)
    with pytest.raises(PlanError) as info:
        load_plan(root, child)
    assert isinstance(info.value, ConfigError)
    return list(info.value.problems)


def test_template_is_private_valid_and_never_overwritten(tmp_path):
    path = new_plan(tmp_path, "C07", today=dt.date(2026, 9, 1))
    assert path == tmp_path / "plans" / "C07.toml"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    plan = load_plan(tmp_path, "C07")
    assert plan.id == "C07" and plan.display_name is None
    assert [p.name for p in plan.phases] == ["baseline"] and plan.phases[0].start == dt.date(2026, 9, 1)
    assert [o.id for o in plan.objectives] == ["steady-beat", "imitate-rhythms"]
    assert {g.domain for g in plan.goals} == {"motor", "communication"}
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="already has a plan"):
        new_plan(tmp_path, "C07")
    assert path.read_bytes() == before


def test_good_plan_reads_every_field(tmp_path):
    write_plan(tmp_path, "C07", GOOD)
    plan = load_plan(tmp_path, "C07")
    assert plan.display_name == "Samantha" and plan.therapist == "J. Rivera, MT-BC"
    imitate = plan.objectives[0]
    assert imitate.domain == "communication" and imitate.goal == "Imitates rhythms."
    assert imitate.objective.k == 4 and imitate.objective.counted_prompts == ("independent", "gestural")
    assert plan.objectives[0].target_date == dt.date(2026, 12, 15)
    assert plan.phase_on(dt.date(2026, 8, 31)) is None
    assert plan.phase_on(dt.date(2026, 9, 21)) == "baseline"
    assert plan.phase_on(dt.date(2026, 9, 22)) == "intervention"
    assert plan.to_dict()["goals"][0]["objectives"][0]["counted_prompts"] == ["independent", "gestural"]


def test_plan_objectives_for_matches_stem_file_name_and_path(tmp_path):
    write_plan(tmp_path, "C07", GOOD)
    plan = load_plan(tmp_path, "C07")
    assert [o.id for o in plan_objectives_for(plan, "/anywhere/content/songs/echo-drums.toml")] == ["imitate", "quick"]
    assert [o.id for o in plan_objectives_for(plan, "keyboard-echo.toml")] == ["imitate"]
    assert [o.id for o in plan_objectives_for(plan, "content/songs/steady-beat-march.toml")] == ["steady-beat"]
    assert plan_objectives_for(plan, "content/songs/hello.toml") == []
    assert plan_objectives_for(None, "content/songs/echo-drums.toml") == []


def test_plan_hash_is_the_file_sha256_and_follows_edits(tmp_path):
    path = write_plan(tmp_path, "C07", GOOD)
    plan = load_plan(tmp_path, "C07")
    assert plan_hash(plan) == plan_hash(path) == hashlib.sha256(GOOD.encode()).hexdigest()
    path.write_text(GOOD.replace("threshold = 70", "threshold = 75"), "utf-8")
    assert plan_hash(path) != plan.sha256 and load_plan(tmp_path, "C07").sha256 == plan_hash(path)


def test_errors_name_file_line_and_field(tmp_path):
    text = GOOD.replace('domain = "motor"', 'domain = "motr"').replace(
        'metric = "within_window_pct"', 'metric = "within_window_pc"').replace(
        'name = "intervention"', 'name = "intervention"\nstrat = 2026-09-22').replace("k = 4", "k = 9")
    found = problems(tmp_path, text)
    shown = str(plan_path(tmp_path, "C07"))
    lines = text.splitlines()

    def line_of(fragment):
        return lines.index(fragment) + 1

    assert f"{shown}:{line_of('strat = 2026-09-22')}: phases[2].strat is not a field of a [[phases]] entry" \
        in found[0]
    assert "did you mean 'start'?" in found[0]
    motr, pc = line_of('domain = "motr"'), line_of('metric = "within_window_pc"')
    assert any(p.startswith(f"{shown}:{motr}: goals[2].domain 'motr' is not one of")
               and "did you mean motor?" in p for p in found)
    assert any(p.startswith(f"{shown}:{pc}: goals[2].objectives[1].metric")
               and "did you mean 'within_window_pct'?" in p for p in found)
    assert any(p.startswith(f"{shown}:{line_of('k = 9')}: goals[1].objectives[1] (imitate) k (9) cannot be more "
                            "than n (5)") for p in found)
    assert len(found) == 4
    assert all(p.endswith(".") and "\n" not in p for p in found)


@pytest.mark.parametrize(("change", "expect"), [
    (('id = "C07"', 'id = "C08"'), "id is 'C08', but this is the plan of 'C07'"),
    (("start = 2026-09-22", "start = 2026-08-01"), "phases[2].start is 2026-08-01, but phases must be written in"),
    (("target_date = 2026-12-15", 'target_date = "soon"'), "target_date must be a date like 2026-12-15"),
    (('scripts = ["echo-drums"]', 'scripts = "echo-drums"'), "scripts must be a list of script names"),
    (('id = "quick"', 'id = "imitate"'), "'imitate' is used twice"),
    (('name = "baseline"', 'name = "pre"'), "'pre' is not one of baseline, intervention, maintenance"),
    (("threshold = 2000", "threshold = 2000\nthreshhold = 1"), "did you mean 'threshold'?"),
])
def test_each_problem_is_one_sentence(tmp_path, change, expect):
    found = problems(tmp_path, GOOD.replace(*change))
    assert len(found) == 1, found
    assert expect in found[0]
    assert found[0].startswith(str(plan_path(tmp_path, "C07")) + ":")


def test_toml_syntax_error_and_missing_plan(tmp_path):
    found = problems(tmp_path, GOOD.replace('description = "Imitates rhythms."', 'description = "Imitates'))
    line = GOOD.splitlines().index('description = "Imitates rhythms."') + 1
    assert found[0].startswith(f"{plan_path(tmp_path, 'C07')}:{line}: the TOML is not valid")
    with pytest.raises(PlanError, match=r"there is no plan for 'C09'; create one with `tandem plan new C09`"):
        load_plan(tmp_path, "C09")
    with pytest.raises(PlanError, match="no plan"):
        load_plan_file(tmp_path / "nothing.toml")


@pytest.mark.parametrize("bad", ["../C07", "", "a/b", ".hidden", "x" * 65, "Sam Smith"])
def test_child_ids_must_be_safe_codes(tmp_path, bad):
    with pytest.raises(ConfigError, match="pseudonymous"):
        check_child_id(bad)
    with pytest.raises(ConfigError):
        new_plan(tmp_path, bad)
    assert not (tmp_path / "plans").exists() or not any((tmp_path / "plans").iterdir())


def test_the_plan_sets_the_mastery_gap_and_the_default_minimum_of_trials(tmp_path):
    """``mastery_gap_days`` (visits that both count toward mastery are at least that many days apart) and
    ``min_trials`` (the default for the plan's aggregate objectives; one that sets its own keeps it)."""
    write_plan(tmp_path, "C07", "mastery_gap_days = 7\nmin_trials = 8\n" + GOOD)
    plan = load_plan(tmp_path, "C07")
    assert plan.mastery_gap_days == 7 and plan.to_dict()["mastery_gap_days"] == 7
    by_id = {o.id: o.objective for o in plan.objectives}
    assert by_id["steady-beat"].criterion == "aggregate" and by_id["steady-beat"].min_trials == 8
    assert by_id["imitate"].criterion == "k_of_n" and by_id["imitate"].min_trials is None
    assert load_plan_file(write_plan(tmp_path / "b", "C07", GOOD)).mastery_gap_days == 1
    bad = problems(tmp_path / "c", "mastery_gap_days = 0\nmin_trials = true\n" + GOOD)
    assert any("mastery_gap_days must be a whole number of days from 1 to 60" in p for p in bad), bad
    assert any("min_trials must be a whole number of trials from 1 to 100" in p for p in bad), bad
