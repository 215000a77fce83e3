"""Reading a whole file Tandem was given: regular files only, within a size limit, one sentence otherwise.

Every file Tandem reads (a script, a plan, a MIDI song, a sample, a
calibration profile, an assessment) may be anything a path can name: a
device such as ``/dev/zero`` (endless), a FIFO (a read waits for a writer
that never comes), a socket, a folder, a link out of the data folder, or a
file far larger than any the kind can be. :func:`open_regular`,
:func:`read_bytes` and :func:`read_text` refuse all of those in one plain
sentence naming the file and what to do, raised as the caller's error class
(:class:`~engine.errors.ConfigError` for a file the user names,
:class:`~engine.errors.DataDirError` for one in the data folder):

- the path is looked at (``stat``, links followed) before it is opened, so
  a device or a FIFO is never opened at all; the file is then opened with
  ``O_NONBLOCK | O_NOCTTY`` (should it have been swapped for a FIFO or a
  terminal in between, opening cannot wait or take it over) and checked
  again (``fstat``: a regular file, the same one);
- no more than the limit plus one byte is ever read, and a file whose size
  is over the limit is refused before reading;
- with ``root``, the path with every link resolved must lie inside
  ``root`` (itself resolved): a link out of the data folder is refused.

The limits per kind are the constants below, each with its reason; they are
far above any real file of the kind and far below what would exhaust memory.
This module is at the bottom of the layers: it imports only the standard
library and :mod:`engine.errors`.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path

from engine.errors import ConfigError, TandemError

__all__ = [
    "MB",
    "TEXT_LIMIT",
    "JSON_LIMIT",
    "MIDI_LIMIT",
    "AUDIO_LIMIT",
    "SOUNDFONT_LIMIT",
    "TIMES_LIMIT",
    "TOML_MAX_DEPTH",
    "TOML_MAX_KEY_PARTS",
    "decode_text",
    "open_regular",
    "printable",
    "read_bytes",
    "read_text",
    "size_text",
    "toml_hazard",
]

MB = 1024 * 1024

TEXT_LIMIT = 1 * MB
"""A script, a plan or a device profile: written by hand, a few kilobytes (the longest shipped script is
under 4 kB); 1 MB is generous and keeps the TOML parser, which is recursive and keeps every key, quick."""

JSON_LIMIT = 16 * MB
"""A JSON file Tandem wrote (calibration profile, assessment, suggestions): a few kilobytes to a few hundred
(an assessment's per-task details); 16 MB leaves room for growth and still parses in well under a second."""

MIDI_LIMIT = 4 * MB
"""A MIDI song: a whole symphony in General MIDI is under 1 MB. mido keeps every event as a Python object
(about 280 bytes for three in the file): 4 MB of dense notes already takes 9 s and 400 MB to read."""

AUDIO_LIMIT = 4096 * MB
"""An audio file (a sample, a recording): a WAV file cannot be larger than 4 GB. What is decoded is bounded
separately, by duration (:mod:`engine.audio.audiofile`), because a compressed file is much smaller than
its samples."""

SOUNDFONT_LIMIT = 2048 * MB
"""A SoundFont: FluidSynth loads its samples into memory; the largest General MIDI SoundFonts in use are a
few hundred megabytes (FluidR3_GM is 141 MB)."""

TIMES_LIMIT = 16 * MB
"""A text file of times in seconds, one per line (``tandem analyze``): a million onsets fit in 16 MB."""

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)


def size_text(n: int) -> str:
    """A size as a therapist reads it: ``512 bytes``, ``3.2 kB``, ``17 MB``, ``1.5 GB``."""
    if n < 1024:
        return f"{n} byte{'' if n == 1 else 's'}"
    for unit, scale in (("GB", 1024 ** 3), ("MB", MB), ("kB", 1024)):
        if n >= scale:
            value = n / scale
            return f"{value:.1f} {unit}" if value < 10 and value != int(value) else f"{value:.0f} {unit}"
    return f"{n} bytes"  # unreachable


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(path: str | os.PathLike) -> str:
    """A path as a one-line sentence shows it: control characters (a newline, an escape) as ``\\xNN``."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(path))


def _kind_of(mode: int) -> str | None:
    """What a non-regular file is, as a sentence names it (None for a regular file)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder, not a file"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO), not a file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a file"
    if stat.S_ISSOCK(mode):
        return "a socket, not a file"
    return "not a regular file"


def _inside(path: Path, root: str | os.PathLike) -> tuple[Path, Path] | None:
    """``(resolved path, resolved root)`` when the path leads outside ``root``, else None."""
    real = Path(os.path.realpath(path))
    real_root = Path(os.path.realpath(root))
    if real == real_root or real_root in real.parents:
        return None
    return real, real_root


def open_regular(path: str | os.PathLike, *, what: str, limit_bytes: int, root: str | os.PathLike | None = None,
                 error: type[TandemError] = ConfigError, missing: str | None = None,
                 too_large: str = "check that it is the right file") -> tuple[int, int]:
    """Open a regular file for reading, checked as the module docstring says.

    Parameters
    ----------
    path : path
    what : str
        How the sentences name the file's kind: ``"plan"``, ``"MIDI file"``...
    limit_bytes : int
        The largest size accepted (one of the limits above, or the caller's own).
    root : path, optional
        A folder the file must stay inside once every link is resolved (the data folder).
    error : TandemError subclass
        The class raised; :class:`~engine.errors.ConfigError` (default) or
        :class:`~engine.errors.DataDirError`.
    missing : str, optional
        The sentence for a file that does not exist (default: "The {what} {path} does not exist; check the path.").
    too_large : str
        What to do about a file over the limit, ending the sentence that refuses it.

    Returns
    -------
    (int, int)
        An open file descriptor (the caller closes it) and the file's size in bytes.

    Raises
    ------
    error
        One sentence naming the file: missing, not a regular file, outside ``root``,
        over the limit, or not readable.
    """
    path = Path(path)
    label = f"The {what} {printable(path)}"
    try:
        if root is not None:
            outside = _inside(path, root)
            if outside is not None:
                raise error(f"{label} leads outside the data folder {outside[1]} (to {outside[0]}); Tandem reads "
                            f"only files inside it, so put the file itself there.")
            path = Path(os.path.realpath(path))  # what was checked is what is opened
        before = os.stat(path)
        kind = _kind_of(before.st_mode)
        if kind is not None:
            raise error(f"{label} is {kind}; name a regular file.")
        fd = os.open(path, _OPEN_FLAGS | (os.O_NOFOLLOW if root is not None else 0))
    except TandemError:
        raise
    except (FileNotFoundError, NotADirectoryError):
        raise error(missing or f"{label} does not exist; check the path.") from None
    except OSError as exc:
        raise error(_unreadable(label, exc)) from None
    except ValueError:  # a NUL byte in the path
        raise error(f"{label} is not a path Tandem can open (it holds a NUL character); check the name.") from None
    try:
        info = os.fstat(fd)
        kind = _kind_of(info.st_mode)
        if kind is not None:  # swapped between the stat and the open
            raise error(f"{label} is {kind}; name a regular file.")
        if (info.st_dev, info.st_ino) != (before.st_dev, before.st_ino):
            raise error(f"{label} was replaced while it was being opened; try again.")
        if info.st_size > limit_bytes:
            raise error(_too_large(label, what, info.st_size, limit_bytes, too_large))
    except BaseException:
        os.close(fd)
        raise
    return fd, info.st_size


def _too_large(label: str, what: str, size: int | None, limit: int, advice: str) -> str:
    """The sentence refusing a file over the limit (sizes in bytes where rounding would make them look equal)."""
    shown_limit = size_text(limit)
    article = "an" if what[:1].lower() in "aeiou" else "a"
    if size is None:
        return f"{label} is more than the {shown_limit} {article} {what} may be; {advice}."
    shown = size_text(size)
    if shown.split()[1] == shown_limit.split()[1] and float(shown.split()[0]) == float(shown_limit.split()[0]):
        shown, shown_limit = f"{size} bytes", f"{shown_limit} ({limit} bytes)"
    return f"{label} is {shown}, more than the {shown_limit} {article} {what} may be; {advice}."


def _unreadable(label: str, exc: OSError) -> str:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"{label} cannot be read (permission denied); check its permissions."
    if exc.errno == errno.ENXIO:
        return f"{label} is a socket or a device that is not there, not a file; name a regular file."
    if exc.errno == errno.ELOOP:
        return f"{label} is a link that leads to itself or to another link; name the file itself."
    return f"{label} cannot be read ({exc.strerror or exc}); check the file and the disk."


def read_bytes(path: str | os.PathLike, *, what: str, limit_bytes: int, root: str | os.PathLike | None = None,
               error: type[TandemError] = ConfigError, missing: str | None = None,
               too_large: str = "check that it is the right file") -> bytes:
    """The bytes of a regular file of at most ``limit_bytes`` (parameters and errors as :func:`open_regular`)."""
    fd, size = open_regular(path, what=what, limit_bytes=limit_bytes, root=root, error=error, missing=missing,
                            too_large=too_large)
    chunks: list[bytes] = []
    total = 0
    try:
        while total <= limit_bytes:
            chunk = os.read(fd, min(limit_bytes + 1 - total, max(size - total, 0) + 65536, 16 * MB))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except BlockingIOError:  # not a regular file after all (checked above): nothing more will come
        pass
    except OSError as exc:
        raise error(_unreadable(f"The {what} {printable(path)}", exc)) from None
    finally:
        os.close(fd)
    if total > limit_bytes:  # it grew while being read (or its size was not told, as in /proc)
        raise error(_too_large(f"The {what} {printable(path)}", what, None, limit_bytes, too_large))
    return b"".join(chunks)


def read_text(path: str | os.PathLike, *, what: str, limit_bytes: int, root: str | os.PathLike | None = None,
              error: type[TandemError] = ConfigError, missing: str | None = None,
              too_large: str = "check that it is the right file", encoding: str = "utf-8") -> str:
    """:func:`read_bytes` decoded as UTF-8 (``encoding="utf-8-sig"`` also drops a byte-order mark).

    Raises
    ------
    error
        As :func:`read_bytes`, and one sentence naming the line of the first byte that is not UTF-8.
    """
    raw = read_bytes(path, what=what, limit_bytes=limit_bytes, root=root, error=error, missing=missing,
                     too_large=too_large)
    return decode_text(raw, path, what=what, error=error, encoding=encoding)


TOML_MAX_DEPTH = 32
"""Lists and tables nested deeper than this are refused before parsing: :mod:`tomllib` recurses once per level
(a thousand levels exhaust Python's stack); a script or plan nests three or four."""

TOML_MAX_KEY_PARTS = 64
""":mod:`tomllib` keeps every prefix of a dotted key (``a.b.c``), so a key of n parts costs n² (a
hundred thousand parts take gigabytes); a script's keys have one to three parts."""

_TOML_TOKENS = re.compile(r'''
    (?P<string>"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*"|'[^'\n]*')
  | (?P<comment>\#[^\n]*)
  | (?P<bare>[A-Za-z0-9_+-]+)
  | (?P<space>[ \t]+)
  | (?P<dot>\.)
  | (?P<open>[\[{])
  | (?P<close>[\]}])
  | (?P<other>[\s\S])
''', re.VERBOSE)


def toml_hazard(text: str) -> tuple[int, int, str] | None:
    """Where a TOML text is beyond what :mod:`tomllib` takes safely: ``(line, column, what)``, else None.

    ``what`` is a clause for the sentence of a syntax problem ("lists or tables nested more than 32 deep",
    "a key of more than 64 parts"). The scan skips strings and comments; it runs in linear time.
    """
    depth = 0
    parts = 0  # parts of the dotted key being read (0: not in a key)
    after_dot = False
    for m in _TOML_TOKENS.finditer(text):
        kind = m.lastgroup
        if kind == "space":
            continue
        if kind in ("bare", "string"):
            parts = parts + 1 if after_dot else 1
            after_dot = False
        elif kind == "dot" and parts:
            after_dot = True
            if parts >= TOML_MAX_KEY_PARTS:
                return (*_line_col(text, m.start()), f"a key of more than {TOML_MAX_KEY_PARTS} parts")
            continue
        else:
            parts, after_dot = 0, False
            if kind == "open":
                depth += 1
                if depth > TOML_MAX_DEPTH:
                    return (*_line_col(text, m.start()), f"lists or tables nested more than {TOML_MAX_DEPTH} deep")
            elif kind == "close":
                depth = max(0, depth - 1)
    return None


def _line_col(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


def decode_text(raw: bytes, path: str | os.PathLike, *, what: str, error: type[TandemError] = ConfigError,
                encoding: str = "utf-8") -> str:
    """Bytes read from ``path`` as UTF-8 text, or one sentence naming the line of the first bad byte."""
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise error(f"The {what} {printable(path)} is not UTF-8 text (line {line} holds a byte that is not); save it "
                    f"again as UTF-8.") from None
