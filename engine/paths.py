"""Where Tandem keeps its data: the user's data directory, private to the user.

``--data-dir DIR`` wins, then the environment variable ``TANDEM_DATA``, then
platformdirs' user data directory. Folders are created with mode 0700 and
files with 0600: session data concerns children and stays with the user.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine.errors import DataDirError

__all__ = ["data_dir", "cache_dir", "ensure_private_dir", "PRIVATE_FILE_MODE"]

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """The data directory (not created)."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get("TANDEM_DATA")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("tandem", appauthor=False))


def cache_dir() -> Path:
    """The cache directory (rendered sounds); ``TANDEM_CACHE`` moves it."""
    env = os.environ.get("TANDEM_CACHE")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("tandem", appauthor=False))


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) readable by the user alone.

    Raises
    ------
    DataDirError
        With a plain sentence when the folder cannot be created or written.
    """
    try:
        # Every folder Tandem creates is private, the data directory itself included (mkdir's
        # parents=True would make the missing parents with the umask's mode); folders that
        # already exist above the first one created are the user's and are left alone.
        missing = []
        for folder in (path, *path.parents):
            if folder.exists():
                break
            missing.append(folder)
        for folder in reversed(missing):
            folder.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
            os.chmod(folder, PRIVATE_DIR_MODE)
        os.chmod(path, PRIVATE_DIR_MODE)
        if not os.access(path, os.W_OK | os.X_OK):
            raise PermissionError(f"no write permission for {path}")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise DataDirError(
            f"Tandem cannot write to the folder {path} ({reason}); choose another with "
            f"--data-dir or TANDEM_DATA, or fix its permissions."
        ) from None
    return path
