"""The session index: derived from the logs, rebuilt on demand, quick with thousands of sessions."""

import json
import os
import sqlite3
import stat
import time
from pathlib import Path

import pytest

from engine.cli.sessions import cmd_sessions, format_duration
from engine.errors import DataDirError
from engine.records.index import INDEX_NAME, list_sessions


def fake_log(root: Path, child: str, n: int, *, status: str | None = "completed", trials: int = 3,
             title: str = "Echo drums") -> Path:
    """A small schema-2 log as a session writes it (header, trial lines, summary line unless interrupted)."""
    folder = root / "sessions" / child / f"2026{1 + n // 28 % 12:02d}{1 + n % 28:02d}-1000{n % 100:02d}-demo-{n}"
    folder.mkdir(parents=True)
    lines = [{"type": "header", "schema": 2, "kind": "demo", "script": "content/songs/echo-drums.toml",
              "title": title, "child_id": child, "sample_rate": 48000,
              "started": f"2026-{1 + n // 28 % 12:02d}-{1 + n % 28:02d}T10:00:{n % 60:02d}+00:00"}]
    for i in range(trials):
        lines.append({"type": "input", "frame": 48000 * (i + 1), "source": "sim", "key": "pad1"})
        lines.append({"type": "trial", "n": i + 1, "index": i, "phase": "trial", "start_s": 1.0 * i,
                      "tempo_bpm": 90, "close_s": 1.0 * i + 0.9, "scores": {"x": i}, "correct": True,
                      "prompt": "independent"})
    if status is not None:
        lines.append({"type": "summary", "status": status, "ended": "2026-01-01T10:05:00+00:00",
                      "duration_s": 300.0 + n, "trials": trials, "objectives": []})
    log = folder / "events.jsonl"
    log.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return log


def test_lists_every_session_and_one_childs(tmp_path):
    fake_log(tmp_path, "C01", 1)
    fake_log(tmp_path, "C02", 2, status="stopped", trials=2)
    fake_log(tmp_path, "C01", 3, status=None, trials=4)  # interrupted: trials counted from the lines
    rows = list_sessions(tmp_path)
    assert [(r["child"], r["status"], r["trials"]) for r in rows] == [
        ("C01", "completed", 3), ("C02", "stopped", 2), ("C01", "interrupted", 4)]
    assert rows[0]["duration_s"] == 301.0 and rows[0]["title"] == "Echo drums" and rows[0]["kind"] == "demo"
    assert rows[0]["date"] == "2026-01-02T10:00:01+00:00" and rows[0]["script"].endswith("echo-drums.toml")
    assert rows[2]["duration_s"] == 4.0  # interrupted: to its last event (frame 4 × 48000)
    assert Path(rows[1]["path"]).is_file()
    assert [r["status"] for r in list_sessions(tmp_path, "C01")] == ["completed", "interrupted"]
    assert list_sessions(tmp_path, "C99") == []
    assert list_sessions(tmp_path / "nothing") == []
    index = tmp_path / INDEX_NAME
    assert stat.S_IMODE(os.stat(index).st_mode) == 0o600


def test_the_index_follows_the_logs_and_comes_back_when_deleted(tmp_path):
    a = fake_log(tmp_path, "C01", 1, status=None)
    fake_log(tmp_path, "C01", 2)
    assert [r["status"] for r in list_sessions(tmp_path)] == ["interrupted", "completed"]
    with sqlite3.connect(tmp_path / INDEX_NAME) as db:
        assert db.execute("SELECT count(*) FROM sessions").fetchone()[0] == 2
    # The interrupted log gets its summary (a changed log is read again).
    with open(a, "a") as f:
        f.write(json.dumps({"type": "summary", "status": "stopped", "duration_s": 12.0, "trials": 3,
                            "objectives": []}) + "\n")
    assert [r["status"] for r in list_sessions(tmp_path)] == ["stopped", "completed"]
    # A session folder removed: gone from the listing.
    for p in a.parent.iterdir():
        p.unlink()
    a.parent.rmdir()
    assert [r["status"] for r in list_sessions(tmp_path)] == ["completed"]
    # Deleted, or not an index at all: rebuilt from the logs.
    (tmp_path / INDEX_NAME).unlink()
    assert [r["status"] for r in list_sessions(tmp_path)] == ["completed"]
    (tmp_path / INDEX_NAME).write_bytes(b"this is not a database" * 100)
    assert [r["status"] for r in list_sessions(tmp_path)] == ["completed"]


def test_a_log_without_a_header_is_listed_as_unreadable(tmp_path):
    fake_log(tmp_path, "C01", 1)
    bad = tmp_path / "sessions" / "C01" / "x" / "events.jsonl"
    bad.parent.mkdir()
    bad.write_text("garbage\n")
    rows = list_sessions(tmp_path, "C01")
    assert sorted(r["status"] for r in rows) == ["completed", "unreadable"]


def test_thousands_of_sessions_list_quickly_once_indexed(tmp_path):
    for n in range(2000):
        fake_log(tmp_path, f"C{n % 40:02d}", n, status=None if n % 100 == 0 else "completed")
    t0 = time.perf_counter()
    first = list_sessions(tmp_path)
    built = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = list_sessions(tmp_path)
    listed = time.perf_counter() - t0
    assert len(first) == 2000 and again == first
    assert sum(r["status"] == "interrupted" for r in again) == 20
    assert listed < 1.0, f"listing 2000 indexed sessions took {listed:.2f} s (building: {built:.2f} s)"
    t0 = time.perf_counter()
    one = list_sessions(tmp_path, "C07")
    assert len(one) == 50 and time.perf_counter() - t0 < 0.5


def test_sessions_command_prints_a_table_and_json(tmp_path):
    fake_log(tmp_path, "C01", 1)
    fake_log(tmp_path, "C01", 2, status=None, trials=1)
    out: list[str] = []
    assert cmd_sessions(tmp_path, "C01", False, out.append) == 0
    assert out[0].split() == ["date", "child", "activities", "duration", "trials", "status"]
    # A schema-2 demo log is a simulated child's: marked as such.
    assert out[1].split() == ["2026-01-02", "10:00", "C01", "Echo", "drums", "5:01", "3", "completed", "simulated"]
    assert out[2].split()[-4:] == ["0:01", "1", "interrupted", "simulated"]
    assert out[-1] == "2 visits, 1 interrupted, 2 simulated (not a child's data)."
    out.clear()
    assert cmd_sessions(tmp_path, None, True, out.append) == 0
    assert [r["status"] for r in json.loads(out[0])] == ["completed", "interrupted"]
    out.clear()
    assert cmd_sessions(tmp_path, "C09", False, out.append) == 0 and out == [f"No sessions for child C09 in {tmp_path}."]
    (tmp_path / "file").write_text("")
    with pytest.raises(DataDirError, match="is a file"):
        cmd_sessions(tmp_path / "file", None, False, out.append)
    assert format_duration(3725) == "1:02:05" and format_duration(None) == "—" and format_duration(59.6) == "1:00"
