"""Session notes in SOAP form (docs/notes.md) and the report's baseline, current level and trend (docs/reports.md).

The visits are real logs: the simulated child plays them on the offline backend, and each log is then marked
as a visit with the child (``"simulated": false``) and sealed again as the writer seals it, because only a
child's visit is charted and signed (a simulated one never is: tested below)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import stat
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from engine.cli.main import main
from engine.errors import ConfigError
from engine.records.index import load_records
from engine.records.log import seal_fields, summary_line
from engine.records.soap import NOTE_FILE, amend, read_note, save_draft, sign
from engine.reports import progress
from engine.scoring.objectives import Objective
from engine.simulation.demo import run_demo
from tests.fixture_files import plan_text, write_plan

REPO = Path(__file__).resolve().parents[1]
ECHO = REPO / "content" / "songs" / "echo-drums.toml"


def _as_the_childs(folder: Path, day: dt.date) -> None:
    """Mark a demo's log as a visit with the child on ``day`` and seal it again (engine.records.log)."""
    log = folder / "events.jsonl"
    lines = log.read_text("utf-8").splitlines(keepends=True)
    header = json.loads(lines[0])
    started = dt.datetime.fromisoformat(header["started"])
    header.update(simulated=False, started=started.replace(year=day.year, month=day.month, day=day.day).isoformat())
    header.pop("child_model", None)
    body = [json.dumps(header, sort_keys=True) + "\n", *lines[1:-1]]
    summary = json.loads(lines[-1])
    summary.update(seal_fields(len(body), hashlib.sha256("".join(body).encode("utf-8")).hexdigest()))
    log.write_text("".join(body) + summary_line(summary) + "\n", "utf-8")


@pytest.fixture(scope="module")
def visits(tmp_path_factory):
    """Data folder with C07's plan and two visits of echo drums (1 and 8 Sep 2026) and one simulated visit."""
    root = tmp_path_factory.mktemp("notes")
    write_plan(root, "C07", plan_text("C07"))
    runs = run_demo(ECHO, root=root, child_id="C07", model="learning", sessions=3, echo=None, max_trials=6)
    for k, run in enumerate(runs[:2]):
        _as_the_childs(Path(run["folder"]), dt.date(2026, 9, 1) + dt.timedelta(days=7 * k))
    return root, [Path(r["folder"]) for r in runs]


def _cli(*argv: str) -> int:
    return main(list(argv))


# --- the note file: draft, signature, amendments -------------------------------------------------------------


def test_a_note_is_saved_signed_and_amended_never_edited(tmp_path):
    folder = tmp_path / "visit"
    folder.mkdir()
    when = dt.datetime(2026, 9, 1, 11, 0, tzinfo=dt.UTC)
    save_draft(folder, {"subjective": "Calm.", "plan": "Same songs."}, now=when)
    note = save_draft(folder, {"subjective": "Calm, smiled at the hello song."}, now=when)
    assert note.parts == {"subjective": "Calm, smiled at the hello song.", "assessment": "", "plan": "Same songs."}
    assert note.saved == 2 and note.signed is None and not note.damage
    assert stat.S_IMODE(os.stat(folder / NOTE_FILE).st_mode) == 0o600

    note = sign(folder, by="Dana Reyes, MT-BC", log_sha256="ab" * 32, now=when)
    assert (note.signed.by, note.signed.log_sha256) == ("Dana Reyes, MT-BC", "ab" * 32)
    with pytest.raises(ConfigError, match="not edited any more"):
        save_draft(folder, {"plan": "Faster."})
    with pytest.raises(ConfigError, match="already signed"):
        sign(folder, by="Someone", log_sha256="")
    with pytest.raises(ConfigError, match="Say why"):
        amend(folder, {"subjective": "x"}, by="Dana", why="  ")
    note = amend(folder, {"subjective": "Mother reported a poor night."}, by="Dana Reyes, MT-BC",
                 why="the parent called after the visit", now=when)
    assert note.parts["subjective"] == "Calm, smiled at the hello song."  # the signed text is never changed
    assert [(a.why, a.parts) for a in note.amendments] == [
        ("the parent called after the visit", {"subjective": "Mother reported a poor night."})]
    assert len((folder / NOTE_FILE).read_text().splitlines()) == 4


def test_a_note_needs_what_was_observed_before_it_is_signed(tmp_path):
    save_draft(tmp_path, {"plan": "Next: 100 BPM."})
    with pytest.raises(ConfigError, match="no Subjective part"):
        sign(tmp_path, by="Dana", log_sha256="")
    with pytest.raises(ConfigError, match="not signed yet"):
        amend(tmp_path, {"plan": "x"}, by="Dana", why="because")


@pytest.mark.parametrize("change", ["edit", "remove", "swap"])
def test_a_changed_note_file_is_found_and_not_added_to(tmp_path, change):
    save_draft(tmp_path, {"subjective": "Calm."})
    sign(tmp_path, by="Dana", log_sha256="")
    amend(tmp_path, {"plan": "Faster."}, by="Dana", why="a second look")
    path = tmp_path / NOTE_FILE
    lines = path.read_text().splitlines(keepends=True)
    if change == "edit":
        lines[0] = lines[0].replace("Calm.", "Upset.")
    elif change == "remove":
        del lines[1]
    else:
        lines[1], lines[2] = lines[2], lines[1]
    path.write_text("".join(lines))
    note = read_note(tmp_path)
    assert note.damage, change
    with pytest.raises(ConfigError, match="not as it was written"):
        amend(tmp_path, {"plan": "x"}, by="Dana", why="y")


# --- tandem note ----------------------------------------------------------------------------------------------


def test_tandem_note_writes_signs_and_amends_a_visit(visits, tmp_path, capsys):
    root, folders = visits
    first = folders[0].name
    out = tmp_path / "rendered"
    assert _cli("--data-dir", str(root), "note", "C07", "2026-09-01", "--subjective", "Engaged; laughed at the drum.",
                "--plan", "Longer patterns next visit.", "--out", str(out)) == 0
    assert "Saved the note" in capsys.readouterr().out
    html = next(out.glob("*.html")).read_text("utf-8")
    for heading in ("Subjective", "Objective", "Assessment", "Plan"):
        assert f"</span> {heading}</h3>" in html, heading
    assert "Engaged; laughed at the drum." in html and "DRAFT — not signed" in html
    assert "this visit against" in html  # Tandem's Assessment sentence per objective
    assert len(list(out.glob("*.pdf"))) == 1

    assert _cli("--data-dir", str(root), "note", "sign", "C07", first, "--by", "Dana Reyes, MT-BC",
                "--out", str(out)) == 0
    note = read_note(folders[0])
    log_sha = hashlib.sha256((folders[0] / "events.jsonl").read_bytes()).hexdigest()
    assert note.signed.by == "Dana Reyes, MT-BC" and note.signed.log_sha256 == log_sha
    html = next(out.glob("*.html")).read_text("utf-8")
    assert "Electronically signed by Dana Reyes, MT-BC" in html and "DRAFT" not in html

    # A signed note refuses an edit in one sentence, and takes an amendment with who and why.
    assert _cli("--data-dir", str(root), "note", "C07", first, "--plan", "Faster.") == 2
    assert "add an amendment" in capsys.readouterr().err
    assert _cli("--data-dir", str(root), "note", "C07", first, "--plan", "Try 100 BPM.", "--why",
                "forgot the tempo", "--by", "Dana Reyes, MT-BC", "--out", str(out)) == 0
    html = next(out.glob("*.html")).read_text("utf-8")
    assert "Amendment 1" in html and "forgot the tempo" in html and "Try 100 BPM." in html
    capsys.readouterr()
    assert _cli("--data-dir", str(root), "note", "C07", first, "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["visit"] == first and doc["signed"]["by"] == "Dana Reyes, MT-BC"
    assert doc["parts"]["plan"] == "Longer patterns next visit." and len(doc["amendments"]) == 1


def test_the_latest_visit_is_the_default_and_a_simulated_one_is_never_signed(visits, capsys):
    root, folders = visits
    assert _cli("--data-dir", str(root), "note", "C07", "--show") == 0
    assert folders[1].name in capsys.readouterr().out  # the latest visit with the child, not the simulated one
    simulated = folders[2].name
    assert _cli("--data-dir", str(root), "note", "C07", simulated, "--subjective", "x", "--no-render") == 0
    assert _cli("--data-dir", str(root), "note", "sign", "C07", simulated, "--by", "Dana") == 2
    assert "no therapist signs its note" in capsys.readouterr().err
    assert _cli("--data-dir", str(root), "note", "C07", "2031-01-01") == 2
    assert "has no visit on 2031-01-01" in capsys.readouterr().err


def test_the_editor_opens_the_notes_parts(visits, tmp_path, monkeypatch):
    root, folders = visits
    editor = tmp_path / "editor.py"
    editor.write_text("import sys, pathlib\n"
                      "p = pathlib.Path(sys.argv[1])\n"
                      "text = p.read_text()\n"
                      "assert '## Subjective' in text and '## Plan' in text\n"
                      "p.write_text(text.replace('## Subjective\\n', '## Subjective\\nTired but joined in.\\n'))\n")
    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
    from engine.cli.note import cmd_note

    lines: list[str] = []
    assert cmd_note(root, "C07", folders[1].name, echo=lines.append, parts={}, interactive=True, render=False) == 0
    assert read_note(folders[1]).parts["subjective"] == "Tired but joined in."


# --- baseline, current level, trend: the hand-worked example of docs/reports.md ------------------------------


def _view(figures, *, phases=None, comparator=">=", threshold=60, target=None, metric="waited",
          aggregate="percent_true"):
    obj = Objective.from_dict({"id": "waits", "metric": metric, "aggregate": aggregate,
                               "comparator": comparator, "threshold": threshold, "sessions": 3})
    rows = []
    for n, fig in enumerate(figures, start=1):
        session = SimpleNamespace(n=n, date=dt.date(2026, 9, 1) + dt.timedelta(days=7 * (n - 1)),
                                  phase=(phases or {}).get(n), probe=False)
        rows.append(SimpleNamespace(session=session, figure=fig, met=fig >= threshold))
    return SimpleNamespace(objective=obj, rows=rows, target_date=target, entry=None)


def test_baseline_current_and_trend_are_the_documented_hand_worked_example():
    view = _view([20.0, 40.0, 40.0, 60.0, 80.0])
    base, now = progress.baseline_level(view), progress.current_level(view)
    assert (round(base.value, 6), base.text, base.visits) == (33.333333, "33 %", 3)
    assert (now.value, now.text, now.visits) == (60.0, "60 %", 3)
    slope, segments = progress.trend(view)
    assert slope == pytest.approx(14.0)
    assert segments == [(0, pytest.approx(20.0), 4, pytest.approx(76.0))]
    assert progress.trend_text(slope, view.objective) == "rising 14.0 percentage points per visit (improving)"
    view.current, view.trend_per_session = now, slope
    assert progress.visits_to_criterion(view) == 0


def test_the_trend_is_fitted_over_the_latest_phase_and_a_falling_latency_improves():
    view = _view([10.0, 90.0, 30.0, 40.0, 50.0, 60.0], phases={1: "baseline", 2: "baseline", 3: "intervention",
                                                          4: "intervention", 5: "intervention", 6: "intervention"})
    assert progress.baseline_level(view).text == "50 %"  # the two baseline visits, not the first three
    slope, segments = progress.trend(view)
    assert slope == pytest.approx(10.0) and len(segments) == 1  # two baseline visits are too few for a trend
    latency = _view([900.0, 800.0, 700.0], comparator="<=", threshold=500, metric="response_latency_ms",
                    aggregate="median")
    assert progress.trend_text(progress.trend(latency)[0], latency.objective).endswith("(improving)")


def test_the_aim_line_runs_from_the_baseline_to_the_criterion_on_the_target_date():
    view = _view([20.0, 40.0, 40.0], target=dt.date(2026, 9, 29))  # visits 1, 8, 15 Sep; target two weeks later
    base = progress.baseline_level(view)
    assert progress.aim_positions(view, base) == (2.0, base.value, pytest.approx(4.0), 60.0)


def test_a_plans_baseline_is_taken_as_written():
    view = _view([20.0, 40.0])
    entry = SimpleNamespace(baseline=33.0, baseline_source="assessment of 2026-08-20", baseline_date=dt.date(2026, 8, 20))
    base = progress.baseline_level(view, entry)
    assert (base.value, base.text, base.source, base.visits) == (33.0, "33 %", "assessment of 2026-08-20", 0)


def test_report_json_gives_each_plan_objective_baseline_current_and_trend(visits, tmp_path):
    from engine.records.plan import load_plan
    from engine.reports import build_report

    root, _ = visits
    records = load_records(root, "C07")
    build_report("C07", records, load_plan(root, "C07"), formats=["json"], out_dir=tmp_path / "r")
    doc = json.loads((tmp_path / "r" / "report.json").read_text("utf-8"))
    plan_objectives = [o for o in doc["objectives"] if o["source"] == "plan"]
    assert plan_objectives
    for o in plan_objectives:
        assert {"baseline", "current", "trend_per_session"} <= set(o)
    measured = [o for o in plan_objectives if o["sessions"]]
    assert measured and all(o["current"]["visits"] == len([s for s in o["sessions"] if s["met"] is not None])
                            for o in measured)
    assert doc["attendance"]["held"] == 2 and doc["sessions"][0]["note"]["parts"]["subjective"]


def test_the_assessment_sentence_is_the_hand_worked_example_of_docs_notes():
    view = _view([29.0, 86.0, 71.0, 86.0])
    view.id, view.objective = "waits-for-turn", view.objective
    texts = ["2/7 (29 %)", "6/7 (86 %)", "5/7 (71 %)", "6/7 (86 %)"]
    runs, statuses = [0, 1, 2, 3], ["in progress", "met", "met", "mastered"]
    sentences = [progress.assessment_sentence(SimpleNamespace(objective=view, met=r.met, figure_text=t, consecutive=k,
                                                              status=st, summary=""))
                 for r, t, k, st in zip(view.rows, texts, runs, statuses, strict=True)]
    assert sentences == [
        "waits-for-turn: 2/7 (29 %) this visit against at least 60 %: not met.",
        "waits-for-turn: 6/7 (86 %) this visit against at least 60 %: met (1 of 3 visits in a row needed for mastery).",
        "waits-for-turn: 5/7 (71 %) this visit against at least 60 %: met (2 of 3 visits in a row needed for mastery).",
        "waits-for-turn: 6/7 (86 %) this visit against at least 60 %: met; mastered (met on 3 visits in a row).",
    ]
    docs = (REPO / "docs" / "notes.md").read_text("utf-8")
    assert f"`{sentences[1]}`" in docs


def test_json_output_is_json_alone_when_the_note_changes(visits, capsys):
    root, folders = visits
    assert _cli("--data-dir", str(root), "note", "C07", folders[1].name, "--plan", "Same songs.", "--json",
                "--no-render") == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["parts"]["plan"] == "Same songs." and "Saved the note" in err


def test_a_note_in_place_of_a_fifo_or_a_link_is_refused_in_one_sentence(tmp_path):
    fifo = tmp_path / "fifo"
    fifo.mkdir()
    os.mkfifo(fifo / NOTE_FILE)
    with pytest.raises(ConfigError, match="cannot be written|not a file"):
        save_draft(fifo, {"subjective": "x"})
    link = tmp_path / "link"
    link.mkdir()
    (tmp_path / "elsewhere.txt").write_text("")
    (link / NOTE_FILE).symlink_to(tmp_path / "elsewhere.txt")
    with pytest.raises(ConfigError, match="cannot be written"):
        save_draft(link, {"subjective": "x"})
    assert (tmp_path / "elsewhere.txt").read_text() == ""
    with pytest.raises(ConfigError, match="folder is gone"):
        save_draft(tmp_path / "gone", {"subjective": "x"})
