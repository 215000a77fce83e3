"""Where Tandem keeps its data: the user's data directory, private to the user.

``--data-dir DIR`` wins, then the environment variable ``TANDEM_DATA``, then
platformdirs' user data directory. Folders are created with mode 0700 and
files with 0600: session data concerns children and stays with the user.
:func:`write_private` is the one way Tandem writes a whole file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from engine.errors import DataDirError

__all__ = ["data_dir", "cache_dir", "ensure_private_dir", "write_private", "PRIVATE_FILE_MODE"]

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """The data directory (not created)."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get("TANDEM_DATA")
    if env:
        return Path(env).expanduser()
    import platformdirs  # start-up time (13 ms): only when neither --data-dir nor TANDEM_DATA names the folder

    return Path(platformdirs.user_data_dir("tandem", appauthor=False))


def cache_dir() -> Path:
    """The cache directory (rendered sounds); ``TANDEM_CACHE`` moves it."""
    env = os.environ.get("TANDEM_CACHE")
    if env:
        return Path(env).expanduser()
    import platformdirs  # start-up time (13 ms): only when TANDEM_CACHE does not name the folder

    return Path(platformdirs.user_cache_dir("tandem", appauthor=False))


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) readable by the user alone.

    Raises
    ------
    DataDirError
        With a plain sentence when the folder cannot be created or written.
    """
    try:
        _make_private_dir(path)
    except OSError as exc:
        raise DataDirError(_folder_problem(path, exc)) from None
    return path


def _make_private_dir(path: Path) -> None:
    """What :func:`ensure_private_dir` does, raising the OSError as it is."""
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


def _folder_problem(path: Path, exc: OSError) -> str:
    return (f"Tandem cannot write to the folder {path} ({exc.strerror or str(exc)}); choose another with "
            f"--data-dir or TANDEM_DATA, or fix its permissions.")


def write_private(path: str | os.PathLike, data: bytes | str, *, replace: bool = True,
                  error: Callable[[OSError], Exception] | None = None) -> Path:
    """Write a whole file readable by the user alone (0600), in a folder made private (0700).

    The bytes go to a temporary file beside ``path``, created 0600 (never
    readable by others, not even for a moment), flushed and fsynced, then
    renamed over ``path`` with :func:`os.replace`: a reader sees the old file
    or the new one, and a failure (a full disk, a crash) leaves the old one
    as it was, with no temporary file behind.

    Parameters
    ----------
    path : path
        The file. Its folder is made private as :func:`ensure_private_dir` does.
    data : bytes or str
        The whole content; text is written as UTF-8. A library that writes to
        a file object (mido, numpy) can write into :class:`io.BytesIO` first.
    replace : bool
        True: an existing file is replaced as above. False: the file must not
        exist yet; it is created exclusively in place (so two writers cannot
        both create it), and removed again if writing it fails.
    error : callable, optional
        Makes the exception raised when the folder or the file cannot be
        written from the :class:`OSError` (a caller's own sentence; return
        the OSError itself to get it as it is). Default: a
        :class:`DataDirError` naming the folder or file and what to do.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    DataDirError
        With one plain sentence when the folder cannot be made private (as
        :func:`ensure_private_dir` says it) or the file cannot be written
        (unless ``error`` makes another exception).
    FileExistsError
        ``replace=False`` and the file exists (raised as it is).
    """
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    folder_ready = False
    written = None  # the file to remove if writing fails
    try:
        _make_private_dir(path.parent)
        folder_ready = True
        if replace:
            # mkstemp creates the file 0600 with O_EXCL, under a name no one else uses.
            fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
            written = Path(name)
        else:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
            written = path
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), PRIVATE_FILE_MODE)  # exactly 0600, whatever the umask
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        if replace:
            os.replace(written, path)
        written = None
    except OSError as exc:
        if isinstance(exc, FileExistsError) and folder_ready and not replace:
            raise
        if error is not None:
            raise error(exc) from None
        if not folder_ready:
            raise DataDirError(_folder_problem(path.parent, exc)) from None
        raise DataDirError(f"Tandem could not write {path} ({exc.strerror or exc}); check that the folder is "
                           f"writable and the disk is not full.") from None
    finally:
        if written is not None:
            try:
                written.unlink()
            except OSError:
                pass  # already gone, or the folder is unwritable: nothing more to do
    return path
