"""Never touch what Tandem did not create (issue 18): --out and --screenshot make only what is missing, private
from the first byte, and leave the modes of what exists alone; files are written atomically (the folder
fsynced too); a plan is never left empty; and visits started at once never share a folder."""

from __future__ import annotations

import multiprocessing
import os
import stat
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

import engine.paths
from engine.errors import ConfigError, DataDirError
from engine.paths import ensure_private_dir, write_private
from engine.records.folder import SessionFolder
from engine.records.plan import new_plan, plan_path

ROOT = Path(__file__).resolve().parents[1]
ECHO = ROOT / "content" / "songs" / "echo-drums.toml"


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def tandem(*args: str, data: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """``tandem ARGS --data-dir DATA`` in a subprocess, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "engine.cli", *args, "--data-dir", str(data)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TANDEM_CACHE": str(data.parent / "cache"), **(env or {})})


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """A data folder with one simulated visit of child C1 and a plan (the template)."""
    root = tmp_path_factory.mktemp("safe") / "data"
    for args in (("demo", str(ECHO), "--child", "C1", "--max-trials", "3"), ("plan", "new", "C1")):
        done = tandem(*args, data=root)
        assert done.returncode == 0, done.stderr
    return root


# --- the folders and files Tandem makes --------------------------------------------------------------


def test_report_out_into_an_existing_folder_keeps_its_mode_and_writes_private_files(data, tmp_path):
    for mode in (0o1777, 0o755):  # a shared sticky folder, an ordinary one: both the user's
        out = tmp_path / f"given-{mode:o}"
        out.mkdir()
        os.chmod(out, mode)
        done = tandem("report", "C1", "--include-simulated", "--format", "html,csv", "--out", str(out), data=data)
        assert done.returncode == 0, done.stderr
        assert _mode(out) == mode  # before issue 18: chmod'ed to 0700
        files = sorted(p for p in out.rglob("*") if p.is_file())
        assert {p.name for p in files} >= {"report.html", "trials.csv", "objectives.csv"}
        assert all(_mode(p) == 0o600 for p in files)
        assert all(_mode(p) == 0o700 for p in out.rglob("*") if p.is_dir())  # notes/: made here, private
        assert not [p for p in out.rglob("*") if p.name.startswith(".")]  # no temporary file left


@pytest.mark.parametrize("what", ["file", "fifo"])
def test_an_out_that_is_not_a_folder_is_one_sentence_and_is_left_alone(data, tmp_path, what):
    target = tmp_path / "target"
    if what == "file":
        target.write_text("the user's\n")
    else:
        os.mkfifo(target)
    os.chmod(target, 0o644)
    for args in (("report", "C1", "--include-simulated", "--out", str(target)),
                 ("homepack", "C1", "--minutes", "0.05", "--out", str(target))):
        done = tandem(*args, data=data)
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("tandem: ") and str(target) in lines[0], done.stderr
        assert "Traceback" not in done.stderr
        assert _mode(target) == 0o644  # before issue 18: chmod'ed to 0700 (a device given as --out, too)
        if what == "file":
            assert target.read_text() == "the user's\n"
        else:
            assert stat.S_ISFIFO(os.lstat(target).st_mode)


def test_ensure_private_dir_says_what_is_in_the_way(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DataDirError, match=r"notes\.txt is a file, not a folder; give a folder"):
        ensure_private_dir(tmp_path / "notes.txt")
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(DataDirError, match=r"pipe is a pipe \(FIFO\), not a folder"):
        ensure_private_dir(tmp_path / "pipe")
    assert _mode(tmp_path / "notes.txt") != 0o700


def test_homepack_out_into_an_existing_empty_folder_keeps_its_mode(data, tmp_path):
    out = tmp_path / "for-the-family"
    out.mkdir()
    os.chmod(out, 0o755)
    done = tandem("homepack", "C1", "--minutes", "0.05", "--include-simulated", "--out", str(out), data=data)
    assert done.returncode == 0, done.stderr
    assert _mode(out) == 0o755
    files = list(out.iterdir())
    assert files and all(_mode(p) == 0o600 for p in files)


def test_a_homepack_that_fails_leaves_nothing_half_made(data, tmp_path, monkeypatch):
    from engine.homepack import make_homepack

    real = engine.paths.write_private
    calls = []

    def fail_on_the_third(path, data_, **kw):
        calls.append(path)
        if len(calls) == 3:
            raise DataDirError(f"Tandem could not write {path} (No space left on device); check that the folder "
                               f"is writable and the disk is not full.")
        return real(path, data_, **kw)

    monkeypatch.setattr("engine.homepack.write_private", fail_on_the_third)
    out = tmp_path / "new" / "pack"
    given = tmp_path / "given"
    given.mkdir()
    for folder in (out, given):
        calls.clear()
        with pytest.raises(DataDirError, match="No space left"):
            make_homepack(data, "C1", out_dir=folder, minutes=0.05, include_simulated=True)
        assert len(calls) == 3
    assert not out.exists() and out.parent.is_dir()  # made here: gone again (its parent stays: harmless, empty)
    assert given.is_dir() and list(given.iterdir()) == []  # the user's: still there, emptied of what was written


def test_screenshot_makes_private_folders_and_a_private_file_from_the_first_byte(tmp_path, monkeypatch):
    from engine.ui.screen import SessionScreen
    from engine.ui.state import ScreenState

    def no_chmod(*args, **kwargs):
        raise AssertionError("no chmod: files and folders are made private, never made so afterwards")

    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    screen = SessionScreen()
    screen.render(ScreenState(phase="engine_turn"), 0.0)
    monkeypatch.setattr(os, "chmod", no_chmod)
    umask = os.umask(0o022)
    try:
        png = screen.save(shared / "pictures" / "C1" / "shot.png")
    finally:
        os.umask(umask)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert _mode(png) == 0o600  # before: 0644, then chmod'ed
    assert _mode(png.parent) == 0o700 and _mode(png.parent.parent) == 0o700  # before: 0755
    assert _mode(shared) == 0o1777
    assert sorted(p.name for p in png.parent.iterdir()) == ["shot.png"]


def test_a_screenshot_over_a_fifo_or_a_folder_is_refused_not_replaced(tmp_path):
    from engine.ui.screen import SessionScreen
    from engine.ui.state import ScreenState

    screen = SessionScreen()
    screen.render(ScreenState(phase="engine_turn"), 0.0)
    os.mkfifo(tmp_path / "pipe.png")
    (tmp_path / "folder.png").mkdir()
    for name in ("pipe.png", "folder.png"):
        with pytest.raises(DataDirError, match=rf"{name} is not a file Tandem can write"):
            screen.save(tmp_path / name)
    assert stat.S_ISFIFO(os.lstat(tmp_path / "pipe.png").st_mode) and (tmp_path / "folder.png").is_dir()


def test_write_private_fsyncs_the_file_and_then_its_folder(tmp_path, monkeypatch):
    synced = []
    real = os.fsync

    def look(fd):
        synced.append("folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real(fd)

    monkeypatch.setattr(os, "fsync", look)
    (tmp_path / "reports").mkdir()
    write_private(tmp_path / "reports" / "report.html", "<p></p>")
    assert synced == ["file", "folder"]  # the rename is on disk too, not only the bytes
    synced.clear()
    write_private(tmp_path / "plans" / "C1.toml", "x", replace=False)
    assert synced[-2:] == ["file", "folder"] and synced.count("folder") == 2  # the new folder, then the name


def test_an_index_or_report_name_that_is_a_link_is_replaced_never_written_through(tmp_path):
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("someone else's")
    os.chmod(elsewhere, 0o644)
    link = tmp_path / "out" / "report.html"
    link.parent.mkdir()
    link.symlink_to(elsewhere)
    write_private(link, "<p>report</p>")
    assert not link.is_symlink() and link.read_text() == "<p>report</p>" and _mode(link) == 0o600
    assert elsewhere.read_text() == "someone else's" and _mode(elsewhere) == 0o644


def test_a_new_plan_is_whole_or_absent_and_an_empty_one_is_replaced(tmp_path, monkeypatch):
    real = os.fsync

    def fail(fd):  # the plan's bytes do not reach the disk (its folder is made and synced)
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            return real(fd)
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(os, "fsync", fail)
        with pytest.raises(DataDirError, match=r"^Tandem could not write .*C1\.toml \(No space left on device\)"):
            new_plan(tmp_path, "C1")
    assert not plan_path(tmp_path, "C1").exists()  # never an empty plan, which `plan new` would then refuse
    assert [p.name for p in plan_path(tmp_path, "C1").parent.iterdir()] == []
    # An empty plan left by an older Tandem holds nothing: `plan new` writes the template over it.
    plan_path(tmp_path, "C2").write_bytes(b"")
    assert "[[goals]]" in new_plan(tmp_path, "C2").read_text()
    with pytest.raises(ConfigError, match="already has a plan"):
        new_plan(tmp_path, "C2")


# --- many at once ----------------------------------------------------------------------------------------------


def _make_folders(root: str, started: str, count: int, barrier, out) -> None:
    try:
        barrier.wait(10)
        made = []
        for _ in range(count):
            folder = SessionFolder(Path(root), child_id="C1", name="demo-metronome",
                                   started=datetime.fromisoformat(started))
            folder.write_header({"kind": "demo", "child_id": "C1"})
            folder.open_audio(sample_rate=8000, channels=1)
            folder.write_audio(np.zeros(800, dtype=np.float32))
            folder.close()
            made.append(str(folder.path))
        out.put(("ok", made))
    except BaseException as exc:  # noqa: BLE001 - reported to the test
        out.put(("error", f"{type(exc).__name__}: {exc}"))


def test_visits_started_in_the_same_second_by_six_processes_get_six_folders(tmp_path):
    # Six processes, each making eight visit folders stamped with the very same second, in a data folder that
    # does not exist yet: every parent folder and every visit folder is raced for.
    ctx = multiprocessing.get_context("fork")
    barrier, out = ctx.Barrier(6), ctx.Queue()
    started = datetime(2026, 12, 7, 10, 0, 0, tzinfo=timezone.utc).isoformat()
    procs = [ctx.Process(target=_make_folders, args=(str(tmp_path / "data"), started, 8, barrier, out))
             for _ in range(6)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(10)
    errors = [r[1] for r in results if r[0] == "error"]
    assert errors == []
    folders = [f for r in results for f in r[1]]
    assert len(folders) == len(set(folders)) == 48
    for f in folders:
        assert (Path(f) / "events.jsonl").stat().st_size > 0 and (Path(f) / "audio.wav").stat().st_size > 44
    assert all(_mode(p) == 0o700 for p in (tmp_path / "data").rglob("*") if p.is_dir())


def test_six_demos_of_one_child_at_once_all_succeed_in_six_folders(tmp_path):
    for round_ in range(1):  # one round: the race itself is pinned by the forked test above, every time
        data = tmp_path / f"data{round_}"
        env = {**os.environ, "TANDEM_CACHE": str(tmp_path / "cache")}
        procs = [subprocess.Popen([sys.executable, "-m", "engine.cli", "demo", "--child", "C1", "--max-trials", "2",
                                   "--data-dir", str(data)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True) for _ in range(6)]
        failures = []
        for p in procs:
            _, err = p.communicate(timeout=120)
            if p.returncode != 0:
                failures.append(err.strip())
        assert failures == []  # before: "File exists ... check the folder's permissions", 1 round in 8
        visits = sorted((data / "sessions" / "C1").iterdir())
        assert len(visits) == 6
        assert all((v / "events.jsonl").stat().st_size > 0 for v in visits)
