"""Safe exports (issue 18, item 7): CSV cells a spreadsheet would run are neutralised (OWASP), and what the
command line prints from files and arguments reaches the terminal without escape codes or control characters."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import sys
from pathlib import Path

import pytest

from engine.cli import main
from engine.cli.output import STATUS_LINE, SafeOutput
from engine.records.model import SessionRecord, TrialRecord
from engine.reports import build_report
from engine.reports.csvjson import FORMULA_STARTS, cell, spreadsheet_cell
from engine.text import escape_json_controls, one_line, shown, terminal_safe
from tests.fixture_files import plan_text, write_plan

ROOT = Path(__file__).resolve().parents[1]
ECHO = ROOT / "content" / "songs" / "echo-drums.toml"
RAW = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")  # what must never reach a terminal

# --- CSV -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ['=HYPERLINK("http://evil.example","click")', "+1+2", "-2+3", "@SUM(A1)",
                                  "\t=1", "\r=1", "  =1+1", "=cmd|' /C calc'!A0"])
def test_text_a_spreadsheet_would_run_gets_a_quote(text):
    assert spreadsheet_cell(text) == "'" + text
    assert spreadsheet_cell([text, "x"]) == "'" + text + "; x"  # a joined list is one text cell


@pytest.mark.parametrize("value", [-12.5, -3, 0, 7.25, -0.0000001, float("nan"), True, None])
def test_numbers_stay_numbers(value):
    assert spreadsheet_cell(value) == cell(value)
    assert not spreadsheet_cell(value).startswith("'")


def test_plain_text_is_unchanged():
    assert [spreadsheet_cell(v) for v in ("Echo drums", "ü", "", "a=b", "x-y", "in progress")] == [
        "Echo drums", "ü", "", "a=b", "x-y", "in progress"]
    assert FORMULA_STARTS == ("=", "+", "-", "@", "\t", "\r")


def _record(title: str, started: dt.datetime, failed: list[str]) -> SessionRecord:
    scores = {"correct": False, "response_present": True, "response_latency_ms": 900.0, "onsets_matched": 3,
              "onsets_missed": 0, "ioi_error_ms": -40.5, "failed": failed, "pitch_match": None}
    trials = tuple(TrialRecord(n=i + 1, index=i, start_s=2.0 + 7.5 * i, tempo_bpm=90.0, scores=dict(scores),
                               correct=False, prompt="independent", close_s=8.0 + 7.5 * i) for i in range(5))
    return SessionRecord(path=Path(f"/data/sessions/C07/{started:%Y%m%d-%H%M%S}-echo-drums/events.jsonl"),
                         header={"therapist": None, "child_id": "C07", "intervention": "call_and_response"},
                         trials=trials, objectives=(), status="completed", started=started.isoformat(),
                         duration_s=50.0, child_id="C07", script=str(ECHO), title=title, kind="call_and_response")


def test_every_csv_tandem_writes_neutralises_formulas_and_keeps_negative_numbers(tmp_path):
    write_plan(tmp_path, "C07", plan_text("C07"))
    from engine.records.plan import load_plan

    started = dt.datetime(2026, 9, 1, 10, tzinfo=dt.timezone.utc)
    title = '=HYPERLINK("http://evil.example","Echo drums")'
    out = tmp_path / "csv"
    build_report("C07", [_record(title, started, ["-rhythm", "@x"])], load_plan(tmp_path, "C07"), formats=["csv"],
                 out_dir=out)
    for name in ("trials.csv", "objectives.csv"):
        rows = list(csv.reader(io.StringIO((out / name).read_text("utf-8-sig"))))
        for row in rows:
            for value in row:  # a cell starting like a formula is a plain number, or neutralised
                assert not value.lstrip(" ").startswith(FORMULA_STARTS) or re.fullmatch(r"-\d+(\.\d+)?", value), (
                    name, value)
    trials = list(csv.DictReader(io.StringIO((out / "trials.csv").read_text("utf-8-sig"))))
    assert trials[0]["title"] == "'" + title
    assert trials[0]["score_failed"] == "'-rhythm; @x"
    assert trials[0]["score_ioi_error_ms"] == "-40.5"  # a number: unchanged, still a number


# --- the terminal ------------------------------------------------------------------------------------


def test_terminal_safe_takes_out_escape_sequences_and_controls():
    hostile = "\x1b]0;owned\x07A\x1b[2J\x1b[31mB\x9b31mC\u202eD\x00E\rF\x1bcG\udcffH"
    assert terminal_safe(hostile) == "ABCDEFG\ufffdH"
    assert terminal_safe("line one\n\tline two") == "line one\n\tline two"
    assert one_line("a\nb\r\nc\td") == "a b c d"
    assert shown("a\x1b[2J") == "'a\\x1b[2J'" and shown("\u202e") == "'\\u202e'"
    assert shown("x" * 1000).endswith("…' (1000 characters)")


def test_json_keeps_its_value_and_escapes_what_json_does_not():
    doc = {"name": "a\x9b31m\u2028b\u202ec\udcff", "plain": "ü"}
    text = escape_json_controls(json.dumps(doc, ensure_ascii=False))
    assert not RAW.search(text) and "ü" in text
    assert json.loads(text) == doc


def test_the_output_wrapper_keeps_only_tandems_own_status_line(capsys):
    with SafeOutput():
        print("\x1b[2Jtitle\x07")
        sys.stdout.write(STATUS_LINE + "trial 3 \x1b[31mred")
        print("oops\x1b", file=sys.stderr)
    captured = capsys.readouterr()
    assert captured.out == "title\n" + STATUS_LINE + "trial 3 red"
    assert captured.err == "oops\n"


def test_plan_show_prints_a_hostile_plan_safely(tmp_path, capsys):
    text = plan_text("C07").replace('display_name = "Samantha"',
                                    'display_name = "Sam\\u001b[2J\\u001b]0;pwned\\u0007\\nok: fake line"')
    text = text.replace('therapist = "J. Rivera, MT-BC"', 'therapist = "\\u009b31mJ. Rivera\\u202e"')
    write_plan(tmp_path, "C07", text)
    assert main(["--data-dir", str(tmp_path), "plan", "show", "C07"]) == 0
    out = capsys.readouterr().out
    assert not RAW.search(out), out
    assert out.splitlines()[0].startswith("Plan of C07 (Sam ok: fake line)")  # one line, never a forged one
    assert main(["--data-dir", str(tmp_path), "plan", "show", "C07", "--json"]) == 0
    out = capsys.readouterr().out
    assert not RAW.search(out)
    assert json.loads(out)["display_name"] == "Sam\x1b[2J\x1b]0;pwned\x07\nok: fake line"


def test_file_names_and_arguments_are_printed_safely(tmp_path, capsys):
    hostile = tmp_path / "x\x1b]0;pwned\x07\x1b[2J.toml"
    hostile.write_text(ECHO.read_text("utf-8"), "utf-8")
    assert main(["validate", str(hostile)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: ") and not RAW.search(out), out
    assert main(["validate", str(tmp_path / "gone\x1b[2J.toml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tandem: ") and not RAW.search(err), err
    assert main(["--data-dir", str(tmp_path), "report", "C07", "--format", "\x1b[2Jcsv"]) == 2
    err = capsys.readouterr().err
    assert not RAW.search(err), err
    with pytest.raises(SystemExit):
        main(["sessions", "--bogus\x1b[2J"])
    err = capsys.readouterr().err
    assert err.startswith("tandem: ") and err.count("\n") == 1 and not RAW.search(err), err
