"""The session log's writer: a thread, small fsynced batches, a full disk stops it with one sentence."""

import base64
import errno
import hashlib
import json
import os
import stat
import threading
import time
from pathlib import Path

import pytest

from engine.errors import DataDirError
from engine.records.folder import SessionFolder
from engine.records.log import SYNC_INTERVAL_S, LogWriter, header_fields
from engine.records.model import SCHEMA


class SlowFile:
    """A file whose writes block until released (a disk that hangs)."""

    def __init__(self, path: Path) -> None:
        self.release = threading.Event()
        self.data = b""
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)  # for fsync

    def write(self, b: bytes) -> int:
        self.release.wait(5)
        self.data += b
        return len(b)

    def flush(self) -> None:
        pass

    def fileno(self) -> int:
        return self.fd

    def close(self) -> None:
        os.close(self.fd)


class FillingFile:
    """A real file that fails with ENOSPC once it holds ``room`` bytes."""

    def __init__(self, path: Path, room: int) -> None:
        self.f = open(path, "wb")  # noqa: SIM115 - closed by close()
        self.room = room

    def write(self, b: bytes) -> int:
        if self.f.tell() + len(b) > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self.f.write(b)

    def flush(self) -> None:
        self.f.flush()

    def fileno(self) -> int:
        return self.f.fileno()

    def close(self) -> None:
        self.f.close()


def test_lines_reach_the_disk_within_the_sync_interval_without_closing(tmp_path):
    w = LogWriter(tmp_path / "log.jsonl")
    t0 = time.monotonic()
    for i in range(100):
        w.put(json.dumps({"i": i}))
    while time.monotonic() < t0 + 3.0:  # read by another file handle, as after a kill -9
        lines = (tmp_path / "log.jsonl").read_text().splitlines()
        if len(lines) == 100:
            break
        time.sleep(0.005)
    waited = time.monotonic() - t0
    assert [json.loads(x)["i"] for x in lines] == list(range(100))
    assert waited < SYNC_INTERVAL_S + 0.25, waited
    w.sync()  # the counters move after the fsync, a moment after the lines show
    assert w.syncs >= 1 and w.lines_written == 100
    w.close()
    assert stat.S_IMODE(os.stat(tmp_path / "log.jsonl").st_mode) == 0o600


def test_put_never_waits_for_a_hanging_disk(tmp_path):
    slow = SlowFile(tmp_path / "fsynced")
    w = LogWriter(tmp_path / "x", file=slow)
    w.put("first")
    time.sleep(0.05)  # the writer is now stuck in write()
    t0 = time.monotonic()
    for i in range(2000):
        w.put(f"line {i}")
    assert time.monotonic() - t0 < 0.2  # the session's thread went on while the disk hung
    assert slow.data == b""
    slow.release.set()
    w.close()
    assert slow.data.decode().splitlines() == ["first", *(f"line {i}" for i in range(2000))]


def test_a_full_disk_keeps_what_was_written_and_the_next_write_says_so(tmp_path):
    path = tmp_path / "log.jsonl"
    w = LogWriter(path, file=FillingFile(path, room=1000))
    for i in range(5):
        w.put(json.dumps({"i": i}))
    w.sync()
    kept = path.read_bytes()
    assert kept.count(b"\n") == 5
    w.put("x" * 2000)  # does not fit
    with pytest.raises(DataDirError):
        for _ in range(200):  # the failure surfaces on the session's next write once the writer met it
            time.sleep(0.01)
            w.put("more")
    with pytest.raises(DataDirError) as exc:
        w.close()
    msg = str(exc.value)
    assert "disk is full" in msg and str(path) in msg and "\n" not in msg
    assert path.read_bytes() == kept  # nothing lost, nothing half-written after it


def test_dev_full_is_a_full_disk(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    w = LogWriter(tmp_path / "log", file=open("/dev/full", "wb"))  # noqa: SIM115 - the writer closes it
    w.put("hello")
    with pytest.raises(DataDirError, match="disk is full"):
        w.sync()
    with pytest.raises(DataDirError, match="disk is full"):
        w.close()


def test_header_fields_hold_the_script_itself_and_no_absolute_path(tmp_path, monkeypatch):
    script = tmp_path / "s.toml"
    script.write_bytes(b"title = 'x'\n[cueing]\nsong = 'tune.mid'\n")
    (tmp_path / "tune.mid").write_bytes(b"MThd-not-really")
    monkeypatch.setenv("TANDEM_THERAPIST", "T. Herapist")
    h = header_fields({"schema": 1, "script": str(script), "kind_seed": 7})
    assert h["schema"] == SCHEMA == 4
    assert h["script_sha256"] == hashlib.sha256(b"title = 'x'\n[cueing]\nsong = 'tune.mid'\n").hexdigest()
    assert h["script_toml"] == script.read_text()
    assert h["script_files"] == [{"name": "tune.mid", "sha256": hashlib.sha256(b"MThd-not-really").hexdigest(),
                                  "base64": base64.b64encode(b"MThd-not-really").decode()}]
    # Named relative to the current folder, or by its file name: no absolute path, no user name.
    assert "script_resolved" not in h and h["script"] == "s.toml" and str(tmp_path) not in json.dumps(h)
    monkeypatch.chdir(tmp_path.parent)
    assert header_fields({"script": str(script)})["script"] == f"{tmp_path.name}/s.toml"
    assert h["therapist"] == "T. Herapist" and h["kind_seed"] == 7 and h["plan_sha256"] is None
    monkeypatch.delenv("TANDEM_THERAPIST")
    free = header_fields({"script": "free"})
    assert free["therapist"] is None and free["script_sha256"] is None and free["kind_seed"] is None
    gone = header_fields({"script": str(tmp_path / "gone.toml")})
    assert gone["script_sha256"] is None and "script_toml" not in gone


def test_session_folder_writes_header_events_and_summary_in_order(tmp_path):
    folder = SessionFolder(tmp_path, child_id="C01", name="x")
    folder.write_header({"kind": "demo", "script": "free", "child_id": "C01"})
    for i in range(10):
        folder.write_event({"type": "mark", "frame": i, "key": "k", "text": ""})
    folder.write_summary({"status": "completed", "ended": "2026-01-01T00:00:00+00:00", "duration_s": 1.0,
                          "trials": 0, "objectives": []})
    # write_summary flushes: the whole log is on disk before close
    lines = [json.loads(x) for x in folder.events_path.read_text().splitlines()]
    assert [x["type"] for x in lines] == ["header", *["mark"] * 10, "summary"]
    assert lines[0]["schema"] == 4 and lines[-1]["status"] == "completed"
    folder.close()
    folder.close()  # safe twice
    assert stat.S_IMODE(os.stat(folder.events_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(folder.path).st_mode) == 0o700


def test_session_folder_raises_one_sentence_once_the_disk_is_full(tmp_path):
    folder = SessionFolder(tmp_path, child_id="C01", name="x")
    folder.write_header({"kind": "demo", "script": "free"})
    folder.flush()
    kept = folder.events_path.read_bytes()

    def full(*_a):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    folder._log._file.write = full  # the disk fills up now
    folder.write_event({"type": "mark", "frame": 1, "key": "k"})
    with pytest.raises(DataDirError, match="disk is full") as exc:
        for _ in range(200):
            time.sleep(0.01)
            folder.write_event({"type": "mark", "frame": 2, "key": "k"})
    assert str(exc.value).count(".") <= 3 and "\n" not in str(exc.value)
    with pytest.raises(DataDirError):
        folder.close()
    assert folder.events_path.read_bytes() == kept


def test_an_unwritable_folder_is_one_sentence(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    (tmp_path / "ro").mkdir()
    os.chmod(tmp_path / "ro", 0o500)
    try:
        with pytest.raises(DataDirError, match="cannot write"):
            SessionFolder(tmp_path / "ro", child_id="C01", name="x")
    finally:
        os.chmod(tmp_path / "ro", 0o700)


def test_the_header_records_the_plan_the_session_ran_under(tmp_path):
    import hashlib
    import json

    from engine.records.folder import SessionFolder
    from engine.records.plan import new_plan

    def header_of(child):
        folder = SessionFolder(tmp_path, child_id=child, name="x")
        folder.write_header({"script": "free", "child_id": child})
        folder.close()
        return json.loads(folder.events_path.read_text().splitlines()[0])

    assert header_of("C01")["plan_sha256"] is None  # no plan yet
    plan = new_plan(tmp_path, "C01")
    assert header_of("C01")["plan_sha256"] == hashlib.sha256(plan.read_bytes()).hexdigest()
    assert header_of("C02")["plan_sha256"] is None  # another child's plan is not this one's
