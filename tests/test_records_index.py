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


def test_a_log_without_a_header_is_listed_as_damaged(tmp_path):
    fake_log(tmp_path, "C01", 1)
    bad = tmp_path / "sessions" / "C01" / "x" / "events.jsonl"
    bad.parent.mkdir()
    bad.write_text("garbage\n")
    rows = list_sessions(tmp_path, "C01")
    assert sorted(r["status"] for r in rows) == ["completed", "damaged"]
    assert [r["damage"] for r in rows if r["status"] == "damaged"] == [["its first line is not JSON"]]


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


# --- issue 18: the index is a regular file in the data folder, and a damaged one is rebuilt -------------------


def _statuses(root: Path) -> list[str]:
    return [r["status"] for r in list_sessions(root)]


def test_an_index_that_is_a_link_is_removed_never_followed(tmp_path):
    fake_log(tmp_path, "C01", 1)
    other = tmp_path / "elsewhere" / "app.sqlite"  # another program's database, with a table of the same name
    other.parent.mkdir()
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE sessions (id INTEGER, secret TEXT)")
        db.execute("INSERT INTO sessions VALUES (1, 'keep me')")
    db.close()
    before = other.read_bytes()
    index = tmp_path / INDEX_NAME
    index.symlink_to(other)
    assert _statuses(tmp_path) == ["completed"]
    assert other.read_bytes() == before  # before issue 18: its table dropped through the link
    assert not index.is_symlink() and stat.S_ISREG(os.lstat(index).st_mode)
    assert stat.S_IMODE(os.lstat(index).st_mode) == 0o600
    # A link to nowhere, a hard link to another file: the same.
    index.unlink()
    index.symlink_to(tmp_path / "nowhere.sqlite")
    assert _statuses(tmp_path) == ["completed"] and not (tmp_path / "nowhere.sqlite").exists()
    index.unlink()
    os.link(other, index)
    assert _statuses(tmp_path) == ["completed"] and other.read_bytes() == before and os.stat(other).st_nlink == 1


def test_an_index_that_is_a_fifo_or_a_folder_never_hangs_or_stops_the_listing(tmp_path):
    fake_log(tmp_path, "C01", 1)
    index = tmp_path / INDEX_NAME
    os.mkfifo(index)  # before: sqlite waited on it for ever
    assert _statuses(tmp_path) == ["completed"]
    assert stat.S_ISREG(os.lstat(index).st_mode)
    index.unlink()
    index.mkdir()
    (index / "keep.txt").write_text("x")
    assert _statuses(tmp_path) == ["completed"]  # listed from an index in memory
    assert (index / "keep.txt").read_text() == "x"


def _zero_page(index: Path, page: int) -> None:
    with open(index, "r+b") as f:
        f.seek(4096 * (page - 1))
        f.write(b"\0" * 4096)


@pytest.mark.parametrize("page", [2, "middle"])
def test_an_index_with_a_zeroed_page_is_rebuilt(tmp_path, page):
    for n in range(150):
        fake_log(tmp_path, f"C{n % 3:02d}", n, status=None if n % 7 == 0 else "completed")
    first = list_sessions(tmp_path)
    index = tmp_path / INDEX_NAME
    pages = index.stat().st_size // 4096
    assert pages >= 4
    _zero_page(index, pages // 2 if page == "middle" else page)
    with sqlite3.connect(index) as db, pytest.raises(sqlite3.DatabaseError):
        db.execute("SELECT * FROM sessions ORDER BY date").fetchall()  # the damage shows at a query, not opening
    db.close()
    assert list_sessions(tmp_path) == first  # before issue 18: "database disk image is malformed"
    assert list_sessions(tmp_path, "C01") == [r for r in first if r["child"] == "C01"]
    with sqlite3.connect(index) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()
    out: list[str] = []
    _zero_page(index, 2)
    assert cmd_sessions(tmp_path, None, False, out.append) == 0 and out[-1].startswith("150 visits")


def test_an_index_that_is_damaged_again_after_rebuilding_lists_from_memory(tmp_path, monkeypatch):
    import engine.records.index as index_module

    fake_log(tmp_path, "C01", 1)
    real = index_module._listing
    calls = []

    def damaged(db, *args):
        calls.append(db)
        if len(calls) < 3:
            raise sqlite3.DatabaseError("database disk image is malformed")
        return real(db, *args)

    monkeypatch.setattr(index_module, "_listing", damaged)
    assert _statuses(tmp_path) == ["completed"] and len(calls) == 3
