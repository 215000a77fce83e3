"""Reports: known objective figures and statuses, 0/1/many sessions, CSV round trip, JSON, privacy, commands."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import stat
from pathlib import Path

import pypdf
import pytest

from engine.cli.plan import cmd_plan_new, cmd_plan_show
from engine.cli.report import cmd_report
from engine.errors import ConfigError
from engine.records.model import ObjectiveRecord, SessionRecord, TrialRecord
from engine.records.plan import load_plan, plan_path
from engine.reports import build_report, collect
from engine.reports.csvjson import OBJECTIVE_COLUMNS, TRIAL_COLUMNS, cell
from tests.fixture_files import plan_text, write_plan

SONGS = Path(__file__).resolve().parents[1] / "content" / "songs"
ECHO = SONGS / "echo-drums.toml"
MARCH = SONGS / "steady-beat-march.toml"
TZ = dt.timezone(dt.timedelta(hours=1))

# The shared plan, as a report's: the intervention from the second week, "imitate" under the id and
# description a therapist gave it and counting independent trials only; no latency objective.
PLAN = plan_text("C07", phases={"intervention": {"start": dt.date(2026, 9, 8)}},
                 objectives={"imitate": {"id": "imitate-3-beats", "max_prompt": None,
                                         "description": "Imitates 3-beat rhythms correctly on 4 of 5 trials."},
                             "quick": None})


# --- records -----------------------------------------------------------------------------------


def record(script: Path, day: dt.date, trials: list[dict], *, status: str = "completed", hour: int = 10,
           objectives: tuple[ObjectiveRecord, ...] = (), kind: str | None = None) -> SessionRecord:
    """A SessionRecord as the reader makes one; ``trials``: dicts of scores (+ ``prompt``, ``tempo``)."""
    started = dt.datetime.combine(day, dt.time(hour, 0), tzinfo=TZ)
    recs = []
    for i, t in enumerate(trials):
        t = dict(t)
        prompt = t.pop("prompt", "independent")
        tempo = t.pop("tempo", 90.0)
        recs.append(TrialRecord(n=i + 1, index=i, start_s=2.0 + 7.5 * i, tempo_bpm=tempo, scores=t,
                                correct=t.get("correct"), prompt=prompt, close_s=8.0 + 7.5 * i))
    kind = kind or ("call_and_response" if "echo" in script.stem else "rhythmic_cueing")
    title = {"echo-drums": "Echo drums", "steady-beat-march": "Steady-beat march"}.get(script.stem, script.stem)
    return SessionRecord(path=Path(f"/data/sessions/C07/{started:%Y%m%d-%H%M%S}-{script.stem}/events.jsonl"),
                         header={"therapist": None, "child_id": "C07", "intervention": kind}, trials=tuple(recs),
                         objectives=objectives, status=status, started=started.isoformat(),
                         duration_s=12.0 + 7.5 * len(recs), child_id="C07", script=str(script), title=title,
                         kind=kind)


def echo(correct: list[bool], latency: float = 900.0, prompts: list[str] | None = None) -> list[dict]:
    return [{"correct": c, "response_present": True, "response_latency_ms": latency + 10 * i,
             "onsets_matched": 3, "onsets_missed": 0, "ioi_error_ms": 40.0, "failed": [] if c else ["rhythm"],
             "pitch_match": None, "prompt": (prompts[i] if prompts else "independent")}
            for i, c in enumerate(correct)]


def march(pcts: list[float], tempo: float = 80.0) -> list[dict]:
    return [{"n_cues": 4, "n_taps": 4, "matched": 4, "missed": 0, "asynchrony_mean_ms": -12.5 + i,
             "asynchrony_sd_ms": 20.0, "within_window_pct": p, "window_ms": 80.0, "scorable": True,
             "reason": None, "tempo": tempo + 4 * (i // 2)} for i, p in enumerate(pcts)]


D = dt.date(2026, 9, 1)


def known_sessions() -> list[SessionRecord]:
    """Four echo-drums sessions with known figures, and one steady-beat march."""
    return [
        record(ECHO, D, echo([True, False, True, False, True], latency=2500.0)),                 # 3/5: not met
        record(ECHO, D + dt.timedelta(days=7), echo([True, True, True, True, False])),           # 4/5: met
        record(ECHO, D + dt.timedelta(days=14), echo([True] * 6, prompts=["verbal"] + ["independent"] * 5),
               status="interrupted"),                                                             # 5/5: met
        record(ECHO, D + dt.timedelta(days=21), echo([True, True, False, True, True])),          # 4/5: mastered
        record(MARCH, D + dt.timedelta(days=21), march([100.0, 75.0, 50.0, 25.0]), hour=11),     # mean 62.5
    ]


@pytest.fixture
def plan(tmp_path):
    write_plan(tmp_path, "C07", PLAN)
    return load_plan(tmp_path, "C07")


def pdf_pages(path: Path) -> list[str]:
    reader = pypdf.PdfReader(str(path))
    return [page.extract_text() for page in reader.pages]


# --- objectives: known figures and statuses ------------------------------------------------------


def test_objective_figures_statuses_and_sentences_are_known(plan):
    report = collect("C07", known_sessions(), plan, plots_wanted=False)
    views = {v.key: v for v in report.objectives}
    assert list(views) == ["plan:imitate-3-beats", "plan:steady-beat", "script:echo-drums:echo-rhythm",
                           "script:echo-drums:responds-quickly", "script:steady-beat-march:on-the-beat",
                           "script:steady-beat-march:steady-taps"]
    imitate = views["plan:imitate-3-beats"]
    assert [r.figure_text for r in imitate.rows] == ["3/5 (60 %)", "4/5 (80 %)", "5/5 (100 %)", "4/5 (80 %)"]
    assert [r.met for r in imitate.rows] == [False, True, True, True]
    assert [r.status for r in imitate.rows] == ["in progress", "met", "met", "mastered"]
    assert imitate.status == "mastered"
    assert imitate.sentence == ("Imitated correctly on 4 of 5 trials (80 %); criterion met for the 3rd "
                                "consecutive visit on separate days: mastered on 22 September 2026.")
    assert imitate.mastered_on == "2026-09-22" and imitate.regressed_on is None
    assert imitate.domain == "communication" and imitate.target_date == dt.date(2026, 12, 15)
    assert imitate.criterion == ("Imitated correctly on at least 4 of the first 5 trials (independent trials "
                                 "count); mastered when met in 3 consecutive visits on separate days.")
    # The interrupted session's verbal-prompted trial is shown but not counted.
    assert imitate.rows[2].prompts == {"verbal": 1, "independent": 5}
    assert "1 prompted trial was not counted." in imitate.rows[2].summary
    quick = views["script:echo-drums:responds-quickly"]
    assert [r.met for r in quick.rows] == [False, True, True, True]
    assert quick.rows[0].value == pytest.approx(2520.0) and quick.rows[0].figure_text == "2520 ms"
    assert quick.rows[1].figure_text == "920 ms"
    steady = views["plan:steady-beat"]
    assert [r.value for r in steady.rows] == [pytest.approx(62.5)] and steady.status == "in progress"
    # Each session lists the objectives judged in it; the steady-beat march is the 5th session.
    assert [r.objective.id for r in report.sessions[4].rows] == ["steady-beat", "on-the-beat", "steady-taps"]
    assert report.sessions[1].phase == "intervention" and report.sessions[0].phase == "baseline"


def test_range_shows_its_sessions_but_counts_earlier_ones(plan):
    sessions = known_sessions()
    until_15 = collect("C07", sessions, plan, date_to=D + dt.timedelta(days=14), plots_wanted=False)
    imitate = until_15.objectives[0]
    assert len(until_15.sessions) == 3 and imitate.status == "met"
    assert imitate.sentence == ("Imitated correctly on 5 of 5 trials (100 %); criterion met for the 2nd "
                                "consecutive visit on separate days. 1 prompted trial was not counted.")
    later = collect("C07", sessions, plan, date_from=D + dt.timedelta(days=8), plots_wanted=False)
    assert [s.date for s in later.sessions] == [D + dt.timedelta(days=14)] + [D + dt.timedelta(days=21)] * 2
    assert later.objectives[0].status == "mastered"  # the 08 Sep session, before the range, still counts
    assert [r.figure_text for r in later.objectives[0].rows] == ["5/5 (100 %)", "4/5 (80 %)"]


def test_unreadable_script_falls_back_to_the_logged_objectives(tmp_path):
    logged = (ObjectiveRecord("echo", "met this session", "Imitated correctly on 5 of 5 trials (100 %); "
                              "criterion met this session.", None, True),)
    gone = tmp_path / "gone.toml"
    rec = record(gone, D, echo([True] * 5), objectives=logged, kind="call_and_response")
    report = collect("C07", [rec], None, plots_wanted=False)
    (view,) = report.objectives
    assert view.objective is None and view.status == "met"
    assert view.rows[0].summary.startswith("Imitated correctly on 5 of 5")


def test_a_plan_objective_no_session_measured_yet_is_not_started(tmp_path):
    write_plan(tmp_path, "C07", PLAN + '''
[[goals]]
domain = "socialization"
description = "Greets others in song."

[[goals.objectives]]
id = "greets"
metric = "initiated"
aggregate = "percent_true"
comparator = ">="
threshold = 60
scripts = ["hello"]
''')
    report = collect("C07", known_sessions(), load_plan(tmp_path, "C07"), plots_wanted=False)
    greets = next(v for v in report.objectives if v.key == "plan:greets")
    assert greets.status == "not started" and greets.rows == [] and greets.domain == "socialization"
    assert [v.status for v in report.objectives if v.key == "plan:imitate-3-beats"] == ["mastered"]


# --- rendering: 0, 1 and many sessions ----------------------------------------------------------------


def test_many_sessions_render_html_pdf_with_every_section(tmp_path, plan):
    out = tmp_path / "out"
    written = build_report("C07", known_sessions(), plan, formats=["html", "pdf"], out_dir=out)
    html = (out / "report.html").read_text("utf-8")
    assert html.count('<section class="note') == 5 and "Progress on the plan's objectives" in html
    assert html.count('<h3 class="soap">') == 4 * 5  # Subjective, Objective, Assessment, Plan in each note
    assert html.count("data:image/png;base64,") == 6 + 5 + 1  # objectives, session notes, timing over the range
    assert "interrupted" in html and "The visit was cut off before it ended" in html
    pages = pdf_pages(out / "report.pdf")
    text = "\n".join(pages)
    for oid in ("imitate-3-beats", "steady-beat", "echo-rhythm", "responds-quickly", "on-the-beat", "steady-taps"):
        assert oid in text
    # The progress report goes home without the notes; they are in notes.pdf, each from a new page.
    assert sum(p.count("Session note") for p in pages) == 0
    assert "The session progress notes of these 5 sessions are in the notes folder" in text.replace("\n", " ")
    assert "criterion met for the 3rd consecutive visit on separate days: mastered on 22 September 2026." in (
        text.replace("\n", " "))
    notes = sorted(p.name for p in written["pdf"] if p.parent.name == "notes")
    assert len(notes) == 5 and notes[0] == "20260901-100000-echo-drums.pdf"
    first_note = pdf_pages(out / "notes" / notes[0])
    assert "Session note" in first_note[0] and "Tue 01 Sep 2026" in first_note[0]
    assert all(part in "\n".join(first_note) for part in ("Subjective", "Objective", "Assessment", "Plan"))
    assert len([p for p in written["html"] if p.parent.name == "notes"]) == 5


def test_the_notes_laid_out_here_or_in_a_forked_process_are_the_same(tmp_path, plan, monkeypatch):
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: the notes are always laid out here, so there is nothing to compare")
    forked, here = tmp_path / "forked", tmp_path / "here"
    build_report("C07", known_sessions(), plan, formats=["pdf"], out_dir=forked)
    monkeypatch.setattr(os, "cpu_count", lambda: 1)  # one core: no worker, everything laid out in turn
    build_report("C07", known_sessions(), plan, formats=["pdf"], out_dir=here)
    names = sorted(p.relative_to(forked) for p in forked.rglob("*.pdf"))
    assert len(names) == 1 + 5 and names == sorted(p.relative_to(here) for p in here.rglob("*.pdf"))
    for name in names:
        assert pdf_pages(forked / name) == pdf_pages(here / name), name


def test_one_session_renders(tmp_path, plan):
    out = tmp_path / "one"
    build_report("C07", known_sessions()[:1], plan, formats=["html", "pdf"], out_dir=out)
    text = "\n".join(pdf_pages(out / "report.pdf"))
    assert "imitate-3-beats" in text and "in progress" in text and text.count("Session note") == 0
    (note,) = (out / "notes").glob("*.pdf")
    assert "\n".join(pdf_pages(note)).count("Session note ·") == 1
    assert "Timing over the visits" not in text  # one session: the per-session note has its timing


def test_no_sessions_gives_a_clear_page(tmp_path, plan):
    out = tmp_path / "none"
    written = build_report("C07", known_sessions(), plan, date_from=dt.date(2027, 1, 1),
                           date_to=dt.date(2027, 3, 31), formats=["html", "pdf", "csv", "json"], out_dir=out)
    pages = pdf_pages(out / "report.pdf")
    assert len(pages) == 1 and "No sessions in this range (01 Jan 2027 – 31 Mar 2027)" in pages[0]
    assert not (out / "notes").exists()
    assert "No sessions in this range" in (out / "report.html").read_text("utf-8")
    rows = list(csv.reader(io.StringIO((out / "trials.csv").read_text("utf-8-sig"))))
    assert rows == [list(TRIAL_COLUMNS)]
    doc = json.loads((out / "report.json").read_text("utf-8"))
    assert doc["sessions"] == [] and all(o["sessions"] == [] for o in doc["objectives"])
    assert sorted(written) == ["csv", "html", "json", "pdf"]


# --- CSV and JSON ---------------------------------------------------------------------------------------


def test_csv_round_trips(tmp_path, plan):
    sessions = known_sessions()
    out = tmp_path / "csv"
    build_report("C07", sessions, plan, formats=["csv"], out_dir=out)
    raw = (out / "trials.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert list(rows[0])[: len(TRIAL_COLUMNS)] == list(TRIAL_COLUMNS)
    trials = [(s, t) for s in sessions for t in s.trials]
    assert len(rows) == len(trials) == 25
    for row, (s, t) in zip(rows, trials, strict=True):
        assert row["child"] == "C07" and row["session_started"] == s.started and row["session_status"] == s.status
        assert int(row["trial_n"]) == t.n and float(row["tempo_bpm"]) == t.tempo_bpm and row["prompt"] == t.prompt
        for key, value in t.scores.items():
            got = row[f"score_{key}"]
            if value is None:
                assert got == ""
            elif isinstance(value, bool):
                assert got == ("true" if value else "false")
            elif isinstance(value, list):
                assert got == "; ".join(value)
            else:
                assert float(got) == pytest.approx(value, abs=1e-6)
    assert not any("None" in v or "True" in v or "[" in v for r in rows for v in r.values())
    obj_rows = list(csv.DictReader(io.StringIO((out / "objectives.csv").read_text("utf-8-sig"))))
    assert list(obj_rows[0]) == list(OBJECTIVE_COLUMNS)
    imitate = [r for r in obj_rows if r["objective_id"] == "imitate-3-beats"]
    assert [(r["passed"], r["judged"], r["met"], r["status"]) for r in imitate] == [
        ("3", "5", "false", "in progress"), ("4", "5", "true", "met"), ("5", "5", "true", "met"),
        ("4", "5", "true", "mastered")]
    assert len(obj_rows) == 4 * 3 + 3  # echo: plan + 2 script objectives; march: plan + 2


def test_cells_are_plain():
    assert [cell(None), cell(True), cell(False), cell(3), cell(0.1 + 0.2), cell(-0.0000001), cell(float("nan")),
            cell([1.5, "x"]), cell("ü")] == ["", "true", "false", "3", "0.3", "0", "", "1.5; x", "ü"]


def test_json_export_follows_the_documented_schema(tmp_path, plan):
    out = tmp_path / "json"
    build_report("C07", known_sessions(), plan, formats=["json"], out_dir=out)
    doc = json.loads((out / "report.json").read_text("utf-8"))
    assert doc["schema"] == "tandem-report/1" and doc["child"] == "C07" and doc["names"] is False
    assert [s["status"] for s in doc["sessions"]] == ["completed", "completed", "interrupted", "completed",
                                                      "completed"]
    assert doc["sessions"][2]["trials"][0]["prompt"] == "verbal"
    imitate = doc["objectives"][0]
    assert imitate["id"] == "imitate-3-beats" and imitate["status"] == "mastered"
    assert [s["passed"] for s in imitate["sessions"]] == [3, 4, 5, 4]
    assert imitate["definition"]["k"] == 4 and doc["plan"]["sha256"] == plan.sha256
    documented = (Path(__file__).resolve().parents[1] / "docs" / "reports.md").read_text("utf-8")
    for key in list(doc) + list(doc["sessions"][0]) + list(imitate) + list(imitate["sessions"][0]):
        assert f"`{key}`" in documented, key
    for column in TRIAL_COLUMNS + OBJECTIVE_COLUMNS:
        assert f"`{column}`" in documented, column


# --- privacy ---------------------------------------------------------------------------------------------


def _all_text(out: Path) -> str:
    parts = []
    for path in out.rglob("*"):
        if path.is_file():
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
            parts.append("\n".join(pdf_pages(path)) if path.suffix == ".pdf" else path.read_text("utf-8-sig"))
        else:
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o700, path
    return "\n".join(parts)


def test_pseudonymous_id_unless_names(tmp_path, plan):
    sessions = known_sessions()[:2]
    build_report("C07", sessions, plan, out_dir=tmp_path / "anon")
    anon = _all_text(tmp_path / "anon")
    assert "Samantha" not in anon and "C07" in anon
    assert stat.S_IMODE(os.stat(tmp_path / "anon").st_mode) == 0o700
    build_report("C07", sessions, plan, formats=["html", "json"], out_dir=tmp_path / "named", names=True)
    named = _all_text(tmp_path / "named")
    assert "Samantha" in (tmp_path / "named" / "report.html").read_text("utf-8") and "Samantha" in named


# --- realistic sessions from the simulated child ---------------------------------------------------------


def test_demo_sessions_report(tmp_path):
    from engine.simulation.demo import run_demo

    sessions = []
    # 5 march trials: the fewest an average is judged on (DEFAULT_MIN_TRIALS; 4 would leave it unjudged).
    # 10 echo trials: the first 3 are 2-note warm-up calls, then 7 of 3 notes or more (its level), 5 judged.
    for k, (script, n) in enumerate(((ECHO, 10), (MARCH, 5))):
        for s in run_demo(script, root=tmp_path / "data", child_id="C07", sessions=1, echo=None,
                          max_trials=n, model="steady"):
            trials = [dict(t["scores"], tempo=t["tempo_bpm"]) for t in s["trials"]]
            objs = tuple(ObjectiveRecord(o["id"], o["status"], o["sentence"], o["value"], o["met"])
                         for o in s["objectives"])
            sessions.append(record(script, D + dt.timedelta(days=k), trials, objectives=objs))
    out = tmp_path / "out"
    build_report("C07", sessions, None, out_dir=out)
    report = json.loads((out / "report.json").read_text("utf-8"))
    statuses = {o["id"]: o["status"] for o in report["objectives"]}
    assert statuses == {"echo-rhythm": "met", "responds-quickly": "met", "on-the-beat": "met", "steady-taps": "met"}
    rows = list(csv.DictReader(io.StringIO((out / "trials.csv").read_text("utf-8-sig"))))
    assert len(rows) == 15 and {"score_rhythm_similarity", "score_vector_strength"} <= set(rows[0])
    text = "\n".join(pdf_pages(out / "report.pdf"))
    assert "Asynchrony" not in text or "Echo drums" in text
    assert "Median response latency" in text.replace("\n", " ")


# --- commands -------------------------------------------------------------------------------------------


def test_plan_commands(tmp_path):
    lines: list[str] = []
    assert cmd_plan_new(tmp_path, "C11", lines.append) == 0
    assert str(plan_path(tmp_path, "C11")) in lines[0]
    with pytest.raises(ConfigError, match="already has a plan"):
        cmd_plan_new(tmp_path, "C11", lines.append)
    lines.clear()
    assert cmd_plan_show(tmp_path, "C11", False, lines.append) == 0
    assert ("  imitate-rhythms: Given a 3-beat rhythm played on the drum, C11 will echo it with the right rhythm on 4 of "
            "the first 5 trials (on its own or after a gesture), in 3 consecutive visits on separate days.") in lines
    assert lines[-1].startswith("The plan is valid")
    lines.clear()
    assert cmd_plan_show(tmp_path, "C11", True, lines.append) == 0
    assert json.loads(lines[0])["goals"][0]["objectives"][0]["id"] == "steady-beat"
    with pytest.raises(ConfigError, match="no plan for 'C12'"):
        cmd_plan_show(tmp_path, "C12", False, lines.append)


def test_report_command(tmp_path, plan):
    lines: list[str] = []
    def loader(root, child):
        return known_sessions()

    assert cmd_report(tmp_path, "C07", loader, "2026-09-01", "2026-09-30", "csv,json", None, False,
                      lines.append) == 0
    out = tmp_path / "reports" / "C07" / "2026-09-01_2026-09-30"
    assert sorted(p.name for p in out.iterdir()) == ["objectives.csv", "report.json", "trials.csv"]
    assert lines[0] == f"Report for C07: 5 sessions (1 interrupted), written to {out}"
    bad = [
        ({"date_from": "1 Sept"}, r"--from '1 Sept' is not a date; write it as YYYY-MM-DD"),
        ({"date_to": "2026-13-01"}, "--to '2026-13-01' is not a date"),
        ({"date_from": "2026-10-01", "date_to": "2026-09-01"}, "is before --from"),
        ({"formats": "html,docx"}, "--format 'docx' is not a report format; choose from html, pdf, csv, json"),
        ({"child": "C99"}, "there is no plan for 'C99'"),
        ({"child": "../C07"}, "pseudonymous"),
    ]
    for change, message in bad:
        args = {"child": "C07", "date_from": None, "date_to": None, "formats": "json"}
        args.update(change)
        with pytest.raises(ConfigError, match=message):
            cmd_report(tmp_path, args["child"], loader, args["date_from"], args["date_to"], args["formats"],
                       tmp_path / "x", False, lines.append)
    plan_path(tmp_path, "C07").write_text(PLAN.replace('domain = "motor"', 'domain = "moter"'), "utf-8")
    with pytest.raises(ConfigError, match="domain 'moter' is not one of"):
        cmd_report(tmp_path, "C07", loader, None, None, "json", tmp_path / "y", False, lines.append)
    lines.clear()
    assert cmd_report(tmp_path, "C20", loader, None, None, "json", tmp_path / "z", False, lines.append,
                      require_plan=False) == 0
    assert lines[0].startswith("note: C20 has no plan")


def test_a_session_notes_trial_table_shows_its_kinds_scores(tmp_path, monkeypatch):
    """From a real log: the trial table has the intervention's own score columns with their figures."""
    from engine.records.reader import read_log
    from engine.simulation.demo import run_demo

    monkeypatch.setenv("TANDEM_CACHE", str(tmp_path / "cache"))
    s = run_demo(ECHO, root=tmp_path / "d", max_trials=2, echo=None)[0]
    rec = read_log(Path(s["folder"]))
    assert rec.kind == "demo" and rec.header["intervention"] == "call_and_response"
    view = collect("C00", [rec], None, plots_wanted=False, include_simulated=True).sessions[0]  # a demo's log
    labels = [label for _, label in view.trial_columns]
    assert labels[:4] == ["Trial", "Tempo", "Correct", "Prompt"] and "Notes matched" in labels
    col = labels.index("Notes matched")
    assert [row[col] for row in view.trial_rows] == [str(t["scores"]["onsets_matched"]) for t in s["trials"]]


def test_each_note_says_which_devices_and_whether_their_latencies_were_calibrated(tmp_path):
    import dataclasses

    base = known_sessions()[:3]
    live = {"midi_in": "SamplePad", "mic": True, "audio_device": "system"}
    sessions = [
        dataclasses.replace(base[0], kind="live", header={**base[0].header, **live, "calibration": {
            "note": "Audio and MIDI calibrated on 2026-08-30."}}),
        dataclasses.replace(base[1], kind="live", header={**base[1].header, **live}),
        dataclasses.replace(base[2], kind="demo"),
    ]
    out = tmp_path / "out"
    build_report("C07", sessions, None, formats=["json"], out_dir=out)
    setups = [s["setup"] for s in json.loads((out / "report.json").read_text("utf-8"))["sessions"]]
    assert setups[0] == ("The visit used MIDI input SamplePad, the microphone and audio device system. Audio and "
                         "MIDI calibrated on 2026-08-30.")
    assert setups[1].startswith("The visit used MIDI input SamplePad, the microphone and audio device system. No "
                                "calibration profile was recorded")
    assert setups[2] == "A simulated child played on the offline stream, so there were no device latencies."


def test_service_diagnosis_summary_and_signature_are_in_the_report(tmp_path):
    write_plan(tmp_path, "C07", PLAN.replace('therapist = "J. Rivera, MT-BC"\n', 'therapist = "J. Rivera, MT-BC"\n'
                                             'service = "Individual music therapy, 45 min weekly"\n'
                                             'diagnosis = "Autism spectrum disorder"\n'))
    summary = tmp_path / "summary.txt"
    summary.write_text("Sam imitates longer rhythms\nthan in September.\n\n  Recommendation: keep the echo songs.\n",
                       "utf-8")
    lines: list[str] = []

    def loader(root, child):
        return known_sessions()

    out = tmp_path / "out"
    assert cmd_report(tmp_path, "C07", loader, None, None, "pdf,json", out, False, lines.append,
                      summary_file=summary) == 0
    text = " ".join(" ".join(pdf_pages(out / "report.pdf")).split())
    assert "Service Individual music therapy, 45 min weekly" in text and "Diagnosis Autism spectrum disorder" in text
    assert ("Sam imitates longer rhythms than in September. Recommendation: keep the echo songs.") in text
    assert text.index("Summary") < text.index("Sam imitates") < text.index("Recommendations")
    assert "Therapist: J. Rivera, MT-BC Signature:" in text
    doc = json.loads((out / "report.json").read_text("utf-8"))
    assert doc["summary"] == ["Sam imitates longer rhythms than in September.", "Recommendation: keep the echo songs."]
    assert (doc["service"], doc["diagnosis"]) == ("Individual music therapy, 45 min weekly", "Autism spectrum disorder")
    with pytest.raises(ConfigError, match="cannot be read"):
        cmd_report(tmp_path, "C07", loader, None, None, "json", out, False, lines.append,
                   summary_file=tmp_path / "missing.txt")
