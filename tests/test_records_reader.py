"""Reading session logs back: ended, interrupted (a cut last line, a SIGKILL), schema 1, unreadable."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.errors import DataDirError
from engine.records.index import list_sessions
from engine.records.reader import peek_log, read_log
from engine.records.rescore import rescore
from engine.simulation.demo import run_demo

ECHO = Path("content/songs/echo-drums.toml")


@pytest.fixture(autouse=True)
def private_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("TANDEM_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("TANDEM_CACHE", str(tmp_path / "cache"))


def demo(script, tmp_path, **kw):
    kw.setdefault("max_trials", 4)
    return run_demo(script, root=tmp_path / "out", echo=None, **kw)[0]


def lines_of(folder):
    return (Path(folder) / "events.jsonl").read_text().splitlines()


def test_an_ended_demo_session_reads_back_as_it_was_returned(tmp_path):
    s = demo(ECHO, tmp_path, model="learning", seed=3)
    rec = read_log(s["folder"])
    assert rec.status == "completed" and rec.skipped_lines == 0
    assert rec.child_id == "C00" and rec.title == s["title"] and rec.kind == "demo" and rec.script == str(ECHO)
    assert rec.header["schema"] == 4 and rec.header["kind_seed"] == 4
    assert [(t.n, t.scores, t.correct, t.prompt) for t in rec.trials] == [
        (t["n"], json.loads(json.dumps(t["scores"])), t["correct"], "independent") for t in s["trials"]]
    assert [(o.id, o.status, o.sentence, o.value, o.met) for o in rec.objectives] == [
        (o["id"], o["status"], o["sentence"], o["value"], o["met"]) for o in s["objectives"]]
    raw = [json.loads(x) for x in lines_of(s["folder"])]
    assert raw[-1]["type"] == "summary" and rec.duration_s == raw[-1]["duration_s"] > 5
    assert rec.events == len(raw) - 2  # every line but the header and the summary


def test_a_log_cut_by_a_crash_is_interrupted_with_its_trials_and_judged_objectives(tmp_path):
    s = demo(ECHO, tmp_path, model="steady", max_trials=5)
    log = Path(s["folder"]) / "events.jsonl"
    lines = log.read_text().splitlines()
    assert json.loads(lines[-1])["type"] == "summary"
    # The crash: no summary, and the last line cut in the middle (no newline).
    log.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][: len(lines[-1]) // 2])
    (Path(s["folder"]) / "summary.json").unlink()  # written at the end: a crash has none
    rec = read_log(log)
    assert rec.status == "interrupted" and rec.skipped_lines == 1
    assert [t.n for t in rec.trials] == [1, 2, 3, 4, 5]
    # Judged again from the same five trials: the same values as at the end of the session.
    assert [(o.id, o.value, o.met) for o in rec.objectives] == [(o["id"], o["value"], o["met"])
                                                                for o in s["objectives"]]
    assert rec.duration_s > 0 and "objectives_note" not in rec.summary
    # Cut inside a trial line: that trial is gone, the others are there.
    trial_at = max(i for i, x in enumerate(lines) if json.loads(x)["type"] == "trial")
    log.write_text("\n".join(lines[:trial_at]) + "\n" + lines[trial_at][:40])
    rec = read_log(log)
    assert [t.n for t in rec.trials] == [1, 2, 3, 4] and rec.skipped_lines == 1
    assert peek_log(log)["status"] == "interrupted" and peek_log(log)["trials"] == 4


def test_an_interrupted_log_is_judged_on_its_own_copy_of_the_script_whatever_became_of_the_file(tmp_path):
    script = tmp_path / "echo.toml"
    shutil.copy(ECHO, script)
    s = demo(script, tmp_path, max_trials=2)
    log = Path(s["folder"]) / "events.jsonl"
    log.write_text("\n".join(lines_of(s["folder"])[:-1]) + "\n")
    (Path(s["folder"]) / "summary.json").unlink()
    before = read_log(log)
    assert before.status == "interrupted" and len(before.trials) == 2 and before.objectives
    script.write_text(script.read_text().replace("imitates", "copies") + "\n# edited\n")
    assert read_log(log).objectives == before.objectives  # the log's copy, not the edited file
    script.unlink()
    assert read_log(log).objectives == before.objectives and "objectives_note" not in read_log(log).summary


def test_an_older_log_without_its_script_needs_the_file_unchanged(tmp_path):
    script = tmp_path / "echo.toml"
    shutil.copy(ECHO, script)
    s = demo(script, tmp_path, max_trials=2)
    log = Path(s["folder"]) / "events.jsonl"
    lines = [json.loads(x) for x in lines_of(s["folder"])[:-1]]
    for d in lines:  # as a schema-3 log held it: the script's path and hash, not the script
        for k in ("script_toml", "script_files"):
            d.pop(k, None)
        if d.get("type") in ("header", "activity"):
            d["script"] = str(script)
    lines[0]["schema"] = 3
    log.write_text("".join(json.dumps(d) + "\n" for d in lines))
    (Path(s["folder"]) / "summary.json").unlink()
    assert len(read_log(log).objectives) == 2
    script.write_text(script.read_text() + "\n# edited\n")
    rec = read_log(log)
    assert rec.status == "interrupted" and len(rec.trials) == 2 and rec.objectives == ()
    assert "changed" in rec.summary["objectives_note"]
    script.unlink()
    assert "not there" in read_log(log).summary["objectives_note"]


def test_schema_1_logs_read_their_status_from_summary_json(tmp_path):
    s = demo(ECHO, tmp_path, max_trials=2)
    folder = Path(s["folder"])
    lines = [json.loads(x) for x in lines_of(folder)]
    header = {k: v for k, v in lines[0].items()
              if k not in ("schema", "script_sha256", "script_resolved", "kind_seed", "therapist", "plan_sha256")}
    old = [{**header, "schema": 1}, *lines[1:-1]]  # as written before: no summary line
    (folder / "events.jsonl").write_text("".join(json.dumps(x) + "\n" for x in old))
    rec = read_log(folder)
    assert rec.status == "completed" and len(rec.trials) == 2  # a demo's summary.json: it ended
    assert [o.id for o in rec.objectives] == [o["id"] for o in s["objectives"]]
    side = json.loads((folder / "summary.json").read_text())
    (folder / "summary.json").write_text(json.dumps({**side, "status": "stopped", "objectives": []}))
    rec = read_log(folder)
    assert rec.status == "stopped" and rec.objectives == ()
    (folder / "summary.json").write_text(json.dumps({**side, "status": "failed"}))  # a device failed
    assert read_log(folder).status == "interrupted"
    assert rescore(folder)["identical"] is True  # the kind's seed comes from the simulated child's


def test_a_log_without_a_readable_header_is_one_sentence(tmp_path):
    for content, word in ((b"", "empty"), (b"not json\n", "not JSON"), (b'{"type": "input"}\n', "header")):
        path = tmp_path / "events.jsonl"
        path.write_bytes(content)
        with pytest.raises(DataDirError, match=word) as exc:
            read_log(path)
        assert "\n" not in str(exc.value)
    with pytest.raises(DataDirError, match="cannot read"):
        read_log(tmp_path / "nowhere" / "events.jsonl")


def test_peek_reads_only_the_header_and_the_summary_of_an_ended_log(tmp_path, monkeypatch):
    s = demo(ECHO, tmp_path, max_trials=2)
    from engine.records import reader

    def whole(*_a, **_k):
        raise AssertionError("read the whole log")

    monkeypatch.setattr(reader, "read_log", whole)
    got = peek_log(s["folder"])
    assert got["status"] == "completed" and got["trials"] == 2 and got["child"] == "C00"
    assert got["title"] == s["title"] and got["duration_s"] > 0 and got["kind"] == "demo"


def test_a_session_killed_mid_way_leaves_a_readable_interrupted_log(tmp_path):
    """`tandem demo --pace realtime` SIGKILLed once a trial is on disk."""
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "demo", str(ECHO), "--pace", "realtime",
                             "--child-model", "steady", "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    log = None
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            logs = list(out.glob("sessions/*/*/events.jsonl"))
            if logs and b'"type": "trial"' in logs[0].read_bytes():
                log = logs[0]
                break
            time.sleep(0.05)
        assert log is not None, proc.stderr.read().decode() if proc.poll() is not None else "no trial in 60 s"
        time.sleep(0.3)  # mid-way through the next trial
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    raw = log.read_bytes().split(b"\n")
    complete, last = raw[:-1], raw[-1]  # a line is complete once its newline is written
    parsed = [json.loads(x) for x in complete]  # every complete line parses
    assert parsed[0]["type"] == "header" and all(x["type"] != "summary" for x in parsed)
    on_disk = [x for x in parsed if x["type"] == "trial"]
    assert len(on_disk) >= 1
    rec = read_log(log)
    assert rec.status == "interrupted" and rec.skipped_lines == (1 if last.strip() else 0)
    assert [t.n for t in rec.trials] == [x["n"] for x in on_disk]
    assert [t.scores for t in rec.trials] == [x["scores"] for x in on_disk]
    assert {o.id for o in rec.objectives} == {"echo-rhythm", "responds-quickly"}
    listed = list_sessions(out)
    assert [(r["status"], r["trials"]) for r in listed] == [("interrupted", len(on_disk))]
    again = rescore(log)
    assert again["identical"] is True and again["status"] == "interrupted"
    assert len(again["trials"]) == len(on_disk)


def test_the_metronome_demo_reads_as_completed_with_its_trials(tmp_path):
    """The metronome is an ordinary script session now: its bars are trials, read back from the log."""
    s = run_demo(None, root=tmp_path, beats=8, seed=1, echo=None)[0]
    rec = read_log(s["folder"])
    summary = json.loads((Path(s["folder"]) / "summary.json").read_text())
    assert rec.status == "completed" and len(rec.trials) == 2 and rec.header["schema"] == 4
    assert [t.scores for t in rec.trials] == [t["scores"] for t in s["trials"]]
    assert rec.duration_s == round(summary["stream"]["frames"] / 48_000, 3) > 2
    assert rec.summary["status"] == "completed" and rec.summary["trials"] == 2  # from the summary line
    assert [o.id for o in rec.objectives] == ["on-the-beat"]
