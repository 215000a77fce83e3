"""A log that cannot lie (issue 18, item 1): it holds its scripts, seals its end, and every reader tells whole
from damaged, running from interrupted, and says so (docs/visits.md, "A log checks itself")."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from engine.cli.rescore import cmd_rescore
from engine.cli.sessions import cmd_sessions
from engine.records.index import list_sessions, load_records
from engine.records.reader import UnreadableLog, read_log
from engine.records.rescore import rescore
from engine.reports.build import build_report
from engine.simulation.demo import run_demo

ECHO = Path("content/songs/echo-drums.toml")


@pytest.fixture(autouse=True)
def private_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("TANDEM_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("TANDEM_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def visit(tmp_path_factory):
    """One ended demo visit of four echo trials; each test copies its folder before changing it."""
    root = tmp_path_factory.mktemp("visit")
    s = run_demo(ECHO, root=root, echo=None, max_trials=4, child_id="C09")[0]
    return Path(s["folder"])


def copy_of(visit, tmp_path, name="v"):
    folder = tmp_path / "sessions" / "C09" / f"20261207-100000-{name}"
    shutil.copytree(visit, folder)
    return folder


def raw_lines(folder):
    return (folder / "events.jsonl").read_bytes().split(b"\n")[:-1]


def write_lines(folder, lines):
    (folder / "events.jsonl").write_bytes(b"".join(x + b"\n" for x in lines))


def test_a_whole_log_is_sealed_with_the_count_and_hash_of_its_lines(visit, tmp_path):
    lines = raw_lines(visit)
    summary = json.loads(lines[-1])
    assert summary["type"] == "summary" and summary["log_lines"] == len(lines) - 1 == 59  # docs/visits.md
    assert summary["log_sha256"] == hashlib.sha256(b"".join(x + b"\n" for x in lines[:-1])).hexdigest()
    rec = read_log(visit)
    assert rec.status == "completed" and rec.damage == () and len(rec.trials) == 4
    # summary.json comes after the summary line: the log decides, the side file only says when it lost its end
    assert json.loads((visit / "summary.json").read_text())["status"] == "completed"


def test_every_kind_of_damage_is_found_and_named(visit, tmp_path):
    lines = raw_lines(visit)
    trial_at = [k for k, x in enumerate(lines) if json.loads(x)["type"] == "trial"]
    cases = {
        # cut after the second trial: what a truncation leaves (summary.json still says it ended)
        "cut": (lines[:trial_at[1] + 1], "its end is missing: the visit completed, says summary.json, but the log "
                                         "has no closing summary; 2 of its 4 trials are in it"),
        "changed": ([x.replace(b'"n": 2,', b'"n": 3,') for x in lines],
                    "its lines differ from what was written: the SHA-256 in its closing summary does not match"),
        "removed": ([x for k, x in enumerate(lines) if k != 3],
                    f"it has {len(lines) - 2} lines before its closing summary, which counted {len(lines) - 1}"),
        "appended": ([*lines, b'{"type": "mark", "frame": 1}'], "1 line after its closing summary"),
        "garbage": ([*lines[:5], b"\x00\xffnot json", *lines[5:]], "1 line in the middle cannot be read"),
        "summary": ([*lines[:-1], lines[-1].replace(b'"trials": 4', b'"trials": 5')],
                    "its closing summary was changed after it was written: its own SHA-256 does not match"),
        # the header's schema renamed: it must not pass for an older log, whose summary had no seal
        "schema": ([lines[0].replace(b'"schema": 4', b'"sc}hema": 4'), *lines[1:]],
                   "its header names no log format that ends in a closing summary (its schema is missing or "
                   "changed)"),
    }
    for name, (changed, why) in cases.items():
        folder = copy_of(visit, tmp_path, name)
        write_lines(folder, changed)
        rec = read_log(folder)
        assert rec.status == "damaged" and why in rec.damage, (name, rec.damage)
        assert rec.summary["damage"] == list(rec.damage)
    rows = {Path(r["path"]).parent.name.rsplit("-", 1)[-1]: r for r in list_sessions(tmp_path, "C09")}
    assert {k: r["status"] for k, r in rows.items()} == dict.fromkeys(cases, "damaged")
    assert rows["cut"]["trials"] == 2 and rows["cut"]["damage"] == [cases["cut"][1]]
    shown: list[str] = []
    assert cmd_sessions(tmp_path, "C09", False, shown.append) == 0
    assert shown[len(cases) + 1] == "7 visits, 7 damaged, 7 simulated (not a child's data)."
    assert f"damaged: C09/20261207-100000-cut: {cases['cut'][1]}." in shown


def test_a_cut_log_is_not_identical_on_rescore_and_says_what_it_could_not_check(visit, tmp_path):
    folder = copy_of(visit, tmp_path)
    lines = raw_lines(folder)
    trial_at = [k for k, x in enumerate(lines) if json.loads(x)["type"] == "trial"]
    write_lines(folder, lines[:trial_at[1] + 1])
    out = rescore(folder)
    assert out["identical"] is False and out["damage"] and "cannot be checked" in out["damage_note"]
    shown: list[str] = []
    assert cmd_rescore(folder, False, shown.append) == 1
    assert any("The log is damaged: its end is missing" in x for x in shown)
    assert "NOT identical" in shown[-1] and shown[-1].startswith("2 trials")
    assert rescore(visit)["identical"] is True and rescore(visit)["damage"] == []  # the whole one
    # A summary whose objectives are not a list (found by the fuzz suite): re-scored, damaged, never a crash.
    lines = raw_lines(visit)
    summary = json.loads(lines[-1])
    write_lines(folder, [*lines[:-1], json.dumps({**summary, "objectives": float("nan")}).encode()])
    assert rescore(folder)["identical"] is False


@pytest.mark.parametrize("field, value", [
    ("n", '"abc"'), ("n", "NaN"), ("n", "1" * 400), ("start_s", "Infinity"), ("start_s", "[1, 2]"),
    ("scores", '"x"'), ("scores", '{"asynchrony_ms": {"deep": [1]}}'), ("correct", '"yes"'), ("index", "1e400"),
    ("tempo_bpm", "true"),
])
def test_a_trial_line_of_a_wrong_type_is_skipped_and_counted_never_fatal(visit, tmp_path, field, value):
    folder = copy_of(visit, tmp_path)
    lines = raw_lines(folder)
    k = next(k for k, x in enumerate(lines) if json.loads(x)["type"] == "trial")
    d = json.loads(lines[k])
    text = json.dumps({**d, field: "@@"}).replace('"@@"', value)
    lines[k] = text.encode()
    write_lines(folder, lines)
    rec = read_log(folder)
    assert len(rec.trials) == 3 and rec.skipped_lines == 1 and rec.status == "damaged"
    assert "1 trial line with values no session writes, left out" in rec.damage
    assert [r["status"] for r in list_sessions(tmp_path, "C09")] == ["damaged"]
    written = build_report("C09", load_records(tmp_path, "C09"), None, formats=["json", "csv"],
                           out_dir=tmp_path / "report", include_simulated=True)
    report = json.loads(written["json"][0].read_text())
    assert report["sessions"][0]["status"] == "damaged"


def test_a_log_without_a_readable_header_is_listed_and_named_on_the_report(visit, tmp_path):
    whole = copy_of(visit, tmp_path, "whole")
    bad = copy_of(visit, tmp_path, "bad")
    lines = raw_lines(bad)
    write_lines(bad, [lines[0].replace(b'"sample_rate": 48000', b'"sample_rate": "fast"'), *lines[1:]])
    rows = list_sessions(tmp_path, "C09")
    assert [(r["status"], r["damage"]) for r in rows] == [
        ("damaged", ["its header's sample_rate is text, not int"]), ("completed", [])]
    unreadable: list[dict] = []
    records = load_records(tmp_path, "C09", unreadable=unreadable)
    assert [r.path.parent for r in records] == [whole] and [u["path"] for u in unreadable] == [
        str(bad / "events.jsonl")]
    written = build_report("C09", records, None, formats=["html"], out_dir=tmp_path / "report",
                           include_simulated=True, unreadable=unreadable)
    page = written["html"][0].read_text()
    assert "A visit&#39;s log could not be read (its header&#39;s sample_rate is text, not int)" in page
    assert "C09/20261207-100000-bad" in page


def test_a_log_that_is_a_fifo_or_a_device_is_one_sentence_and_never_hangs(tmp_path):
    fifo = tmp_path / "sessions" / "C09" / "20261207-100000-fifo"
    fifo.mkdir(parents=True)
    os.mkfifo(fifo / "events.jsonl")
    dev = tmp_path / "sessions" / "C09" / "20261207-100001-dev"
    dev.mkdir()
    os.symlink("/dev/zero", dev / "events.jsonl")
    got: dict = {}

    def read_all():
        for name, folder in (("fifo", fifo), ("dev", dev)):
            try:
                read_log(folder)
            except UnreadableLog as exc:
                got[name] = exc.why
        got["rows"] = list_sessions(tmp_path, "C09")

    t = threading.Thread(target=read_all, daemon=True)
    t.start()
    t.join(30)  # a guard only: a hang fails here instead of hanging the suite
    assert not t.is_alive()
    assert got["fifo"] == got["dev"] == "it is not a regular file"
    assert [r["status"] for r in got["rows"]] == ["damaged", "damaged"]


_WRITER = """
import sys, time
from pathlib import Path
from engine.records.folder import SessionFolder
f = SessionFolder(Path(sys.argv[1]), child_id="C09", name="live")
f.write_header({"kind": "live", "script": "free", "child_id": "C09", "sample_rate": 48000,
                "started": "2026-12-07T10:00:00.000+00:00"})
f.write_event({"type": "mark", "frame": 10, "action": "note", "text": "a note"})
f.flush()
print("ready", flush=True)
time.sleep(600)
"""


def test_a_session_being_written_is_running_and_interrupted_once_killed(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                            cwd=Path.cwd())
    try:
        assert proc.stdout.readline().strip() == "ready"
        rows = list_sessions(tmp_path, "C09")
        assert [r["status"] for r in rows] == ["running"]
        assert read_log(rows[0]["path"]).status == "running"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    rows = list_sessions(tmp_path, "C09")  # the same size as when it was listed running: looked at again
    assert [r["status"] for r in rows] == ["interrupted"]


def test_a_log_names_no_absolute_path_and_is_judged_on_its_own_script_from_anywhere(tmp_path, monkeypatch):
    home = tmp_path / "home" / "therapist-name" / "scripts"
    home.mkdir(parents=True)
    script = home / "echo.toml"
    shutil.copy(ECHO, script)
    s = run_demo(script, root=tmp_path / "data", echo=None, max_trials=4, child_id="C09")[0]
    log = Path(s["folder"]) / "events.jsonl"
    assert b"therapist-name" not in log.read_bytes() and str(tmp_path).encode() not in log.read_bytes()
    header = json.loads(log.read_bytes().split(b"\n")[0])
    assert header["script"] == "echo.toml" and header["script_toml"] == ECHO.read_text()
    script.write_text(ECHO.read_text().replace("min_trials", "# min_trials").replace('"echo-rhythm"', '"other"'))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    shutil.rmtree(home)
    assert rescore(log)["identical"] is True
    written = build_report("C09", load_records(tmp_path / "data", "C09"), None, formats=["json"],
                           out_dir=tmp_path / "report", include_simulated=True)
    report = json.loads(written["json"][0].read_text())
    ids = [o["id"] for o in report["objectives"]]
    assert ids == ["echo-rhythm", "responds-quickly"]  # the script as it ran, not the edited file
    assert all("cannot be read" not in json.dumps(o) for o in report["objectives"])


def test_the_metronome_log_is_rescored(tmp_path):
    s = run_demo(Path("content/songs/metronome.toml"), root=tmp_path / "data", echo=None, max_trials=2,
                 child_id="C09")[0]
    out = rescore(s["folder"])
    assert out["identical"] is True and len(out["trials"]) >= 2 and out["damage"] == []


def test_a_folder_removed_mid_session_is_not_said_to_be_kept(tmp_path):
    from engine.errors import DataDirError
    from engine.records.folder import SessionFolder

    folder = SessionFolder(tmp_path, child_id="C09", name="gone")
    folder.write_header({"kind": "live", "script": "free", "child_id": "C09", "sample_rate": 48000})
    folder.flush()
    shutil.rmtree(tmp_path / "sessions")
    folder.write_event({"type": "mark", "frame": 1, "action": "note", "text": "x"})  # still "succeeds"
    with pytest.raises(DataDirError) as exc:
        folder.write_summary({"status": "completed", "trials": 0, "objectives": []})
    msg = str(exc.value)
    assert "was removed or moved" in msg and "is gone" in msg and "kept" not in msg and "\n" not in msg
    with pytest.raises(DataDirError, match="was removed or moved"):
        folder.close()


def test_an_index_with_two_rows_for_one_log_is_rebuilt_not_believed(visit, tmp_path):
    import sqlite3

    copy_of(visit, tmp_path)
    assert len(list_sessions(tmp_path, "C09")) == 1
    db = sqlite3.connect(tmp_path / "index.sqlite")
    # What a damaged primary-key index lets INSERT OR REPLACE do: a second row for the same log.
    db.execute("CREATE TABLE copy AS SELECT * FROM sessions")
    db.execute("DROP TABLE sessions")
    db.execute("CREATE TABLE sessions AS SELECT * FROM copy UNION ALL SELECT * FROM copy")
    db.execute("DROP TABLE copy")
    db.commit()
    assert db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 2
    db.close()
    rows = list_sessions(tmp_path, "C09")
    assert [r["status"] for r in rows] == ["completed"]
    assert len(list_sessions(tmp_path)) == 1  # rebuilt: one row per log again


def test_an_index_holding_text_that_is_not_utf8_is_rebuilt(visit, tmp_path):
    import sqlite3

    copy_of(visit, tmp_path)
    assert len(list_sessions(tmp_path, "C09")) == 1
    db = sqlite3.connect(tmp_path / "index.sqlite")
    db.execute("UPDATE sessions SET title = CAST(x'e8ff' AS TEXT)")  # found by the fuzz suite: bytes changed on disk
    db.commit()
    db.close()
    rows = list_sessions(tmp_path, "C09")
    assert [(r["status"], r["title"]) for r in rows] == [("completed", "Echo drums")]
