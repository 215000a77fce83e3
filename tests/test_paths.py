"""Every folder Tandem creates is the user's alone, the data directory itself included."""

from __future__ import annotations

import os
import stat

from engine.paths import ensure_private_dir


def test_missing_parents_are_created_private_and_existing_ones_left_alone(tmp_path):
    os.chmod(tmp_path, 0o755)
    leaf = ensure_private_dir(tmp_path / "data" / "reports" / "C01" / "2026")
    for folder in (tmp_path / "data", tmp_path / "data" / "reports", tmp_path / "data" / "reports" / "C01", leaf):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755  # it was there before: not ours to change


def test_an_existing_folder_is_made_private(tmp_path):
    folder = tmp_path / "sessions"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    ensure_private_dir(folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
