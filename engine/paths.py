"""Where Tandem keeps its data: the user's data directory, private to the user.

``--data-dir DIR`` wins, then the environment variable ``TANDEM_DATA``, then
platformdirs' user data directory. Folders Tandem creates are made with mode
0700 and files with 0600, from the first byte (the mode is given when they
are made, never set afterwards): session data concerns children and stays
with the user. What already exists (a folder given as ``--out``, a shared
folder above it, the data directory made by an earlier run) is the user's,
and its mode is never changed. :func:`write_private` is the one way Tandem
writes a whole file.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from engine.errors import DataDirError

__all__ = ["data_dir", "cache_dir", "ensure_private_dir", "fsync_dir", "write_private", "PRIVATE_FILE_MODE",
           "PRIVATE_DIR_MODE"]

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


class _NotAFolder(NotADirectoryError):
    """``path`` exists and is not a folder (a file, a device, a link to nothing)."""


def ensure_private_dir(path: str | os.PathLike) -> Path:
    """Create ``path`` and its missing parents, readable by the user alone; an existing folder is left as it is.

    Each folder created here is made 0700 (its mode given to ``mkdir``, so
    it is never readable by others, not even for a moment). A folder that
    already exists keeps its mode, whoever made it: a shared folder, one the
    user gave as ``--out``. Safe when several processes make the same
    folders at once.

    Raises
    ------
    DataDirError
        With a plain sentence when the folder cannot be created or written,
        or ``path`` exists and is not a folder.
    """
    path = Path(path)
    try:
        _make_private_dir(path)
    except OSError as exc:
        raise DataDirError(_folder_problem(path, exc)) from None
    return path


def _make_private_dir(path: Path) -> None:
    """What :func:`ensure_private_dir` does, raising the OSError as it is."""
    _mkdirs(path)
    if not os.access(path, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, "no write permission", str(path))


def _mkdirs(path: Path) -> bool:
    """Make ``path`` (0700) and its missing parents; True if ``path`` was made here.

    ``mkdir`` first, then look (never look, then make: another process may
    make the same folder in between, and that is no error). A folder made
    here is made exactly 0700 (a umask that took the owner's own bits is
    undone on it alone) and its parent is fsynced, so it survives a power
    cut with what is written in it.
    """
    try:
        os.mkdir(path, PRIVATE_DIR_MODE)
    except FileExistsError:
        if not path.is_dir():
            raise _NotAFolder(errno.ENOTDIR, "it exists and is not a folder", str(path)) from None
        return False
    except FileNotFoundError:
        if path.parent == path:
            raise
        _mkdirs(path.parent)
        try:
            os.mkdir(path, PRIVATE_DIR_MODE)
        except FileExistsError:  # made by another process meanwhile
            if not path.is_dir():
                raise _NotAFolder(errno.ENOTDIR, "it exists and is not a folder", str(path)) from None
            return False
    if stat.S_IMODE(os.stat(path).st_mode) != PRIVATE_DIR_MODE:
        os.chmod(path, PRIVATE_DIR_MODE)  # ours, just made: only ever adds the owner's bits back
    fsync_dir(path.parent)
    return True


def _what_it_is(path: Path) -> str:
    """What is at ``path`` that is not a folder, in a few words."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return "gone"
    if stat.S_ISLNK(mode):
        return "a link to something that is not a folder"
    if stat.S_ISREG(mode):
        return "a file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    return "a special file"


def _folder_problem(path: Path, exc: OSError) -> str:
    if isinstance(exc, _NotAFolder):
        where = Path(exc.filename) if exc.filename else path
        return (f"{where} is {_what_it_is(where)}, not a folder; give a folder, or the name of one that does not "
                f"exist yet, and Tandem creates it.")
    return (f"Tandem cannot write to the folder {path} ({exc.strerror or str(exc)}); choose another with "
            f"--data-dir or TANDEM_DATA, or fix its permissions.")


def fsync_dir(folder: str | os.PathLike) -> None:
    """Fsync a folder, so the names just made, renamed or removed in it survive a power cut.

    A file system that cannot fsync a folder (some network and FUSE file
    systems say EINVAL) is left as it is: the names are there, only not
    forced to the disk.

    Raises
    ------
    OSError
        As the folder's ``open`` or ``fsync`` raises it (a disk error).
    """
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF, errno.EROFS):
            raise
    finally:
        os.close(fd)


def _check_target(path: Path) -> None:
    """Raise if ``path`` exists and is not a regular file or a link (a folder, a device, a FIFO).

    A device or a FIFO given as a file's name would be replaced by a file
    (``/dev/null`` by root); a folder cannot be.
    """
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        kind = "a folder" if stat.S_ISDIR(mode) else _what_it_is(path)
        raise IsADirectoryError(errno.EISDIR, f"it exists and is {kind}, not a file", str(path))


def write_private(path: str | os.PathLike, data: bytes | str, *, replace: bool = True,
                  error: Callable[[OSError], Exception] | None = None, make_folder: bool = True) -> Path:
    """Write a whole file readable by the user alone (0600), atomically; missing folders are made 0700.

    The bytes go to a temporary file beside ``path``, created 0600 (never
    readable by others, not even for a moment), flushed and fsynced, then
    renamed over ``path`` with :func:`os.replace` and the folder fsynced: a
    reader sees the old file or the new one, whole, even after a crash or a
    power cut, and a failure (a full disk) leaves the old one as it was,
    with no temporary file and no empty file behind.

    Parameters
    ----------
    path : path
        The file. Its folder, when missing, is made as
        :func:`ensure_private_dir` does; an existing folder keeps its mode.
        An existing ``path`` that is a folder, a device or a FIFO is never
        replaced (an error); a link is replaced by the file (its target is
        not written).
    data : bytes or str
        The whole content; text is written as UTF-8. A library that writes to
        a file object (mido, numpy) can write into :class:`io.BytesIO` first.
    replace : bool
        True: an existing file is replaced as above. False: the file must not
        exist yet; it is written whole under a temporary name and then linked
        to ``path`` (so two writers cannot both create it, and a kill or a
        full disk never leaves an empty or half-written ``path``).
    error : callable, optional
        Makes the exception raised when the folder or the file cannot be
        written from the :class:`OSError` (a caller's own sentence; return
        the OSError itself to get it as it is). Default: a
        :class:`DataDirError` naming the folder or file and what to do.
    make_folder : bool
        False: the folder must exist (a session's folder that vanished is an
        error, never made again empty).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    DataDirError
        With one plain sentence when the folder cannot be made (as
        :func:`ensure_private_dir` says it) or the file cannot be written
        (unless ``error`` makes another exception).
    FileExistsError
        ``replace=False`` and the file exists (raised as it is).
    """
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    folder_ready = False
    temp = None  # the temporary file, removed whatever happens
    try:
        if make_folder:
            _make_private_dir(path.parent)
        folder_ready = True
        _check_target(path)
        # mkstemp creates the file 0600 with O_EXCL, under a name no one else uses.
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
        temp = Path(name)
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), PRIVATE_FILE_MODE)  # exactly 0600, whatever the umask: a file made here
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        if replace:
            os.replace(temp, path)
            temp = None
        else:
            try:
                os.link(temp, path)  # atomic, and fails if path exists: the whole file or none
            except FileExistsError:
                raise
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                    raise
                _write_in_place(path, raw)  # a file system without hard links
        fsync_dir(path.parent)
    except OSError as exc:
        if isinstance(exc, FileExistsError) and folder_ready and not replace:
            raise
        if error is not None:
            raise error(exc) from None
        if not folder_ready:
            raise DataDirError(_folder_problem(path.parent, exc)) from None
        if isinstance(exc, IsADirectoryError) and exc.filename == str(path):
            raise DataDirError(f"{path} is not a file Tandem can write ({exc.strerror}); give the name of a file, "
                               f"new or one to replace.") from None
        raise DataDirError(f"Tandem could not write {path} ({exc.strerror or exc}); check that the folder is "
                           f"writable and the disk is not full.") from None
    finally:
        if temp is not None:
            try:
                temp.unlink()
            except OSError:
                pass  # already gone, or the folder is unwritable: nothing more to do
    return path


def _write_in_place(path: Path, raw: bytes) -> None:
    """Create ``path`` exclusively (0600) and write ``raw`` into it; removed again if writing fails."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), PRIVATE_FILE_MODE)
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError:
        path.unlink(missing_ok=True)
        raise
