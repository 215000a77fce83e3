"""The quarterly progress report's sections (docs/reports.md, "The progress report, section by section"):
attendance, baseline -> current -> criterion per plan objective, recommendations, the next quarter's plan or a
discharge summary, plan objectives before the scripts' own; and the plan fields they read (baseline, cancelled)."""

from __future__ import annotations

import json

import pypdf
import pytest

from engine.cli.report import cmd_report
from engine.records.plan import PlanError, load_plan, parse_plan
from engine.reports import build_report
from tests.fixture_files import write_plan
from tests.test_reports import PLAN, known_sessions

CANCELLED = '''
[[cancelled]]
date = 2026-09-15
reason = "child ill"

[[cancelled]]
date = 2026-12-30
'''


def _plan_with(tmp_path, extra: str = "", baseline: str = ""):
    text = PLAN.replace('target_date = 2026-12-15\n', 'target_date = 2026-12-15\n' + baseline, 1) + extra
    write_plan(tmp_path, "C07", text)
    return load_plan(tmp_path, "C07")


def _text(path) -> str:
    return " ".join(" ".join(p.extract_text() for p in pypdf.PdfReader(str(path)).pages).split())


def test_attendance_counts_visits_held_and_the_cancelled_ones_in_the_range(tmp_path):
    plan = _plan_with(tmp_path, CANCELLED)
    assert [(c.date.isoformat(), c.reason) for c in plan.cancelled] == [("2026-09-15", "child ill"), ("2026-12-30", "")]
    build_report("C07", known_sessions(), plan, formats=["json", "pdf"], out_dir=tmp_path / "r",
                 date_to=__import__("datetime").date(2026, 9, 30))
    doc = json.loads((tmp_path / "r" / "report.json").read_text("utf-8"))
    # Five visits in September; the cancellation of 30 December lies outside the range.
    assert doc["attendance"] == {"held": 5, "cancelled": [{"date": "2026-09-15", "reason": "child ill"}]}
    assert doc["overview"][0] == ("5 visits held, 1 cancelled (15 Sep: child ill); 5 of 6 planned visits took "
                                  "place.")
    text = _text(tmp_path / "r" / "report.pdf")
    assert "Attendance 5 visits held, 1 cancelled (15 Sep: child ill)" in text


def test_each_plan_objective_has_baseline_current_criterion_and_comes_before_the_scripts(tmp_path):
    plan = _plan_with(tmp_path, baseline='baseline = 40\nbaseline_date = 2026-08-20\n'
                                          'baseline_source = "assessment of 2026-08-20: echoed 2 of 5 rhythms"\n')
    build_report("C07", known_sessions(), plan, formats=["json", "pdf"], out_dir=tmp_path / "r")
    doc = json.loads((tmp_path / "r" / "report.json").read_text("utf-8"))
    sources = [o["source"] for o in doc["objectives"]]
    assert sources == sorted(sources)  # "plan" before "script"
    imitate = doc["objectives"][0]
    assert imitate["baseline"] == {"value": 40.0, "text": "40 %", "visits": 0, "date": "2026-08-20",
                                   "source": "assessment of 2026-08-20: echoed 2 of 5 rhythms"}
    # The last three judged visits passed 4/5, 5/5 (a verbal prompt left out: 5 of 5 counted) and 4/5.
    assert imitate["current"]["text"] == "87 %" and imitate["current"]["visits"] == 3
    assert imitate["criterion_level"] == "at least 80 %"
    text = _text(tmp_path / "r" / "report.pdf")
    assert "Baseline 40 %" in text and "current 87 %" in text and "criterion at least 80 %" in text
    assert text.index("Progress on the plan's objectives") < text.index("Appendix: the scripts' own objectives")


def test_recommendations_follow_status_and_the_next_quarter_or_discharge(tmp_path):
    plan = _plan_with(tmp_path)
    out = tmp_path / "q"
    build_report("C07", known_sessions(), plan, formats=["json"], out_dir=out, home_practice=["Play along daily."])
    doc = json.loads((out / "report.json").read_text("utf-8"))
    by_id = {line.split(":")[0]: line for line in doc["recommendations"]}
    assert "keep it in maintenance" in by_id["imitate-3-beats"]
    assert doc["home_practice"] == ["Play along daily."]
    assert doc["next_plan"][0].startswith("Continue: ") and doc["discharge"] is False
    build_report("C07", known_sessions(), plan, formats=["json", "pdf"], out_dir=tmp_path / "d", discharge=True)
    doc = json.loads((tmp_path / "d" / "report.json").read_text("utf-8"))
    assert doc["discharge"] is True and any(line.startswith("Skills mastered") for line in doc["next_plan"])
    text = _text(tmp_path / "d" / "report.pdf")
    assert "Music therapy discharge summary" in text and "After discharge" in text
    assert "Plan for the next quarter" not in text


def test_the_report_command_adds_the_homepacks_home_practice(tmp_path):
    write_plan(tmp_path, "C07", PLAN)
    lines: list[str] = []
    out = tmp_path / "out"

    def practice(root, child, plan, records, *, name=None):
        return [f"{name or child} plays along {len(records)} times a week."]

    assert cmd_report(tmp_path, "C07", lambda root, child: known_sessions(), None, None, "json", out, True,
                      lines.append, home_practice=practice) == 0
    doc = json.loads((out / "report.json").read_text("utf-8"))
    assert doc["home_practice"] == ["Samantha plays along 5 times a week."]  # --names: the display name


@pytest.mark.parametrize(("field", "value", "words"), [
    ("baseline", '"high"', "must be a number in the units of the objective's session figure"),
    ("baseline_date", "12", "must be a date like 2026-09-01"),
])
def test_a_bad_baseline_is_one_sentence_naming_the_line(tmp_path, field, value, words):
    text = PLAN.replace('target_date = 2026-12-15\n', f'target_date = 2026-12-15\n{field} = {value}\n', 1)
    with pytest.raises(PlanError) as err:
        parse_plan(text.encode(), tmp_path / "C07.toml", "C07")
    (problem,) = err.value.problems
    assert words in problem and f"{field}" in problem and "C07.toml:" in problem


def test_a_cancelled_visit_needs_its_date(tmp_path):
    with pytest.raises(PlanError) as err:
        parse_plan((PLAN + '\n[[cancelled]]\nreason = "snow"\n').encode(), tmp_path / "C07.toml", "C07")
    assert "cancelled[1].date" in str(err.value) and "is missing" in str(err.value)
