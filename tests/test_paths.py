"""Every folder and file Tandem writes is the user's alone, the data directory itself included."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from engine.errors import DataDirError
from engine.paths import ensure_private_dir, write_private


def test_missing_parents_are_created_private_and_existing_ones_left_alone(tmp_path):
    os.chmod(tmp_path, 0o755)
    leaf = ensure_private_dir(tmp_path / "data" / "reports" / "C01" / "2026")
    for folder in (tmp_path / "data", tmp_path / "data" / "reports", tmp_path / "data" / "reports" / "C01", leaf):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755  # it was there before: not ours to change


def test_an_existing_folder_keeps_its_mode(tmp_path):
    # Issue 18: a folder Tandem did not make (a shared one, one given as --out) is the user's: never chmod'ed.
    for mode in (0o755, 0o1777, 0o750):
        folder = tmp_path / f"given-{mode:o}"
        folder.mkdir()
        os.chmod(folder, mode)
        ensure_private_dir(folder)
        write_private(folder / "report.html", "<p></p>")
        assert stat.S_IMODE(folder.stat().st_mode) == mode
        assert stat.S_IMODE((folder / "report.html").stat().st_mode) == 0o600


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _failing(code: int, reason: str):
    """A stand-in for an os function that fails as a full or broken disk does."""
    def fail(*args):
        raise OSError(code, reason)
    return fail


def test_write_private_makes_the_file_0600_and_its_new_folder_0700(tmp_path):
    path = write_private(tmp_path / "reports" / "C01" / "report.html", "<p>Sam – 80 %</p>")
    assert path == tmp_path / "reports" / "C01" / "report.html"
    assert path.read_text("utf-8") == "<p>Sam – 80 %</p>"
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700 and _mode(path.parent.parent) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]  # no temporary file left


def test_the_temporary_file_is_private_from_the_start_whatever_the_umask(tmp_path, monkeypatch):
    modes = []
    replace = os.replace

    def look_then_replace(src, dst):
        modes.append(_mode(Path(src)))
        replace(src, dst)

    monkeypatch.setattr(os, "replace", look_then_replace)
    umask = os.umask(0)
    try:
        path = write_private(tmp_path / "notes" / "session.html", "<p>Sam</p>")
    finally:
        os.umask(umask)
    assert modes == [0o600] and _mode(path) == 0o600 and _mode(path.parent) == 0o700


def test_write_private_replaces_an_existing_file(tmp_path):
    path = tmp_path / "profile.json"
    path.write_text("old")
    os.chmod(path, 0o644)
    write_private(path, b"new")
    assert path.read_bytes() == b"new" and _mode(path) == 0o600


def test_a_failed_write_leaves_the_old_file_intact_and_says_what_to_do(tmp_path, monkeypatch):
    path = tmp_path / "assessment.json"
    write_private(path, "old")

    monkeypatch.setattr(os, "replace", _failing(errno.ENOSPC, "No space left on device"))
    with pytest.raises(DataDirError) as exc:
        write_private(path, "new")
    assert str(exc.value) == (f"Tandem could not write {path} (No space left on device); check that the folder is "
                              f"writable and the disk is not full.")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["assessment.json"]  # the temporary file is gone


def test_a_caller_can_say_it_in_its_own_words(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "fsync", _failing(errno.EIO, "Input/output error"))
    with pytest.raises(DataDirError, match=r"^Could not save the suggestions \(Input/output error\)\.$"):
        write_private(tmp_path / "suggestions.json", "{}",
                      error=lambda exc: DataDirError(f"Could not save the suggestions ({exc.strerror})."))
    with pytest.raises(OSError) as raw:
        write_private(tmp_path / "cache.npz", b"", error=lambda exc: exc)
    assert raw.value.errno == errno.EIO and not isinstance(raw.value, DataDirError)
    assert list(tmp_path.iterdir()) == []


def test_without_replace_an_existing_file_is_never_touched(tmp_path):
    path = write_private(tmp_path / "plans" / "C07.toml", 'id = "C07"\n', replace=False)
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
    with pytest.raises(FileExistsError):
        write_private(path, "something else", replace=False)
    assert path.read_text() == 'id = "C07"\n'


def test_without_replace_a_failed_write_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "fsync", _failing(errno.ENOSPC, "No space left"))
    with pytest.raises(DataDirError, match="No space left"):
        write_private(tmp_path / "summary.json", "{}", replace=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder anyway")
def test_a_folder_that_is_not_writable_is_one_sentence(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    (folder / "report.html").write_text("old")
    os.chmod(folder, 0o500)
    try:
        with pytest.raises(DataDirError, match="Tandem cannot write to the folder"):
            write_private(folder / "report.html", "new")
        assert (folder / "report.html").read_text() == "old"
    finally:
        os.chmod(folder, 0o700)


def test_a_folder_that_cannot_be_made_is_one_sentence_naming_it(tmp_path):
    (tmp_path / "reports").write_text("a file where the folder should be")
    folder = tmp_path / "reports" / "C01"
    with pytest.raises(DataDirError, match=rf"^Tandem cannot write to the folder {folder} \(Not a directory\); "):
        write_private(folder / "report.html", "<p></p>")
    with pytest.raises(DataDirError, match=r"^Could not save the report \(Not a directory\)\.$"):
        write_private(folder / "report.html", "<p></p>",
                      error=lambda exc: DataDirError(f"Could not save the report ({exc.strerror})."))
