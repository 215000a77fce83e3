"""Plain-text time files: one time in seconds per line.

The format read by ``tandem analyze`` so that cue, tap, call and response
times recorded by other software can be scored::

    # cues of run 3 (seconds)
    0.000
    0.600   # a comment may follow a time
    1.2e0

Rules (each broken rule is one plain sentence naming the file, the line and
what to do, as a :class:`~engine.errors.ConfigError`; never a silently wrong
number):

- Blank lines and everything after ``#`` are ignored.
- Every other line holds exactly one decimal number (``1``, ``0.25``, ``.5``,
  ``2.5e-1``); a point is the decimal separator. Commas (a CSV row or a decimal
  comma), two numbers on a line, units or other text are errors.
- ``nan``, ``inf`` and negative times are errors. Zero is allowed.
- A file with no time at all is an error.
- Times must be strictly increasing. A time earlier than the one before is an
  error, not sorted quietly: an out-of-order line usually means two recordings
  were pasted together or a column was mixed up, and sorting would score them
  as one. The message says to sort the file (``sort -g``) if the order does
  not matter.
- A time equal to the one before is an error: two events at the very same
  instant are almost always one event logged twice (a double-logged MIDI
  message, a file appended twice), and a duplicated tap would be counted as an
  extra tap or a zero interval.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np

from engine.errors import ConfigError
from engine.fileread import TIMES_LIMIT, read_bytes

__all__ = ["read_times"]

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_NONFINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)


def read_times(path: str | Path, what: str) -> np.ndarray:
    """Read a file of times in seconds, one per line.

    Parameters
    ----------
    path : str or Path
        The file.
    what : str
        What the times are ("cue", "tap", "call", "response"), used in messages:
        "The cue file cues.txt, line 4, …".

    Returns
    -------
    numpy.ndarray
        The times in seconds (float64), strictly increasing, at least one.

    Raises
    ------
    ConfigError
        If the file is missing or unreadable, or breaks a rule of the module
        docstring; the message is one sentence naming the file and line.
    """
    path = Path(path)
    label = f"The {what} file {path}"
    if not os.path.lexists(path):
        raise ConfigError(f"{label} does not exist; check the path.")
    if not os.path.isfile(path):  # a folder, a device, a FIFO: never opened
        raise ConfigError(f"{label} is not a file; give a text file with one time in seconds per line.")
    raw = read_bytes(path, what=f"{what} file", limit_bytes=TIMES_LIMIT, missing=f"{label} does not exist; check "
                     f"the path.", too_large="give a text file with one time in seconds per line")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"{label} is not a text file; give a text file with one time in seconds per line.") from None

    times: list[float] = []
    lines: list[int] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        field = raw.split("#", 1)[0].strip()
        if not field:
            continue
        where = f"{label}, line {number},"
        shown = field if len(field) <= 40 else field[:37] + "..."
        if "," in field or ";" in field:
            raise ConfigError(f"{where} has a comma or semicolon ({shown!r}); put one time in seconds per line, "
                              "with a point as the decimal separator.")
        if _NONFINITE.fullmatch(field):
            raise ConfigError(f"{where} is {shown!r}, not a time; remove it or put the real time in seconds there.")
        if not _NUMBER.fullmatch(field):
            raise ConfigError(f"{where} is {shown!r}, not a time in seconds; put exactly one number per line "
                              "(comments after #).")
        value = float(field)
        if not math.isfinite(value):
            raise ConfigError(f"{where} is {shown!r}, too large to be a time in seconds; check the file.")
        if value < 0:
            raise ConfigError(f"{where} has a negative time ({shown}); times are seconds from the start of "
                              "the recording, so shift them to start at zero or later.")
        if times and value == times[-1]:
            raise ConfigError(f"{where} repeats the time {shown} of line {lines[-1]}; two events at the same "
                              "instant are most likely one event recorded twice, so remove the duplicate.")
        if times and value < times[-1]:
            raise ConfigError(f"{where} has {shown}, earlier than {times[-1]:g} on line {lines[-1]}; times must "
                              "be in increasing order, so sort the file (sort -g) if the order does not matter.")
        times.append(value)
        lines.append(number)
    if not times:
        raise ConfigError(f"{label} has no times; put one time in seconds per line.")
    return np.array(times, dtype=float)
