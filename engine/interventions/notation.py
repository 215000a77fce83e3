"""Readable notation for the phrases in a script: rhythms on a grid, melodies as note names.

Rhythms are one character per grid step::

    x  a hit            X  an accented hit
    .  a rest           -  the previous hit is held (no new onset)

Spaces and ``|`` (bar lines) are ignored, so ``"x.x. xx.. | x---"`` reads
well. The grid is a note value (``"1/8"``: one step per eighth note) and the
pattern must fill whole bars of the meter. Times are in *beats*, where a beat
is the meter's lower number (a quarter note in 4/4, an eighth note in 6/8),
the unit that ``tempo_bpm`` counts.

Melodies are note names separated by spaces, each with an optional length in
beats after a colon: ``"C4 E4 G4:2"`` is two one-beat notes and a two-beat
note (C4 = 60, sharps ``#``, flats ``b``). Lengths may be fractions
(``"D4:1/2"``).

Errors are :class:`NotationError` (a ``ValueError``) with one sentence saying
what is wrong and what is allowed; the script loader adds file, line and field.
"""

from __future__ import annotations

import re
from fractions import Fraction

from engine.audio.soundbank import SoundRequestError, parse_note

__all__ = ["GRIDS", "NotationError", "parse_grid", "parse_melody", "parse_meter", "parse_rhythm"]

#: Grid note values a rhythm may use (3, 6, 12, 24: triplet grids).
GRIDS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)
#: Meter lower numbers a script may use.
METER_UNITS = (2, 4, 8, 16)

_RHYTHM_CHARS = frozenset("xX.-")
_MAX_BEATS_PER_NOTE = 64


class NotationError(ValueError):
    """A rhythm, melody, grid or meter that cannot be read."""


def parse_meter(text: str) -> tuple[int, int]:
    """``"4/4"`` → ``(4, 4)``; beats per bar 1–16, beat unit 2, 4, 8 or 16."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text) if isinstance(text, str) else None
    if match is None:
        raise NotationError(f"must be written like \"4/4\", \"3/4\" or \"6/8\", not {text!r}")
    beats, unit = int(match.group(1)), int(match.group(2))
    if not 1 <= beats <= 16 or unit not in METER_UNITS:
        raise NotationError(f"{text!r} is not a meter Tandem plays; use 1-16 beats over "
                            f"{', '.join(map(str, METER_UNITS))}, e.g. \"4/4\" or \"6/8\"")
    return beats, unit


def parse_grid(text: str) -> int:
    """``"1/8"`` → ``8`` (steps are eighth notes)."""
    match = re.fullmatch(r"\s*1\s*/\s*(\d+)\s*", text) if isinstance(text, str) else None
    if match is None or int(match.group(1)) not in GRIDS:
        raise NotationError(f"{text!r} is not a grid; use one of "
                            f"{', '.join('1/' + str(g) for g in GRIDS)}")
    return int(match.group(1))


def parse_rhythm(text: str, grid: str = "1/8", meter: str = "4/4") -> list[float]:
    """Onset times of a rhythm, in beats from the start of its first bar.

    Parameters
    ----------
    text : str
        Steps such as ``"x.x.xx.."`` (see the module docstring).
    grid : str
        Note value of one step, e.g. ``"1/8"``.
    meter : str
        Time signature, e.g. ``"4/4"``; the pattern must fill whole bars.

    Returns
    -------
    list of float
        Onset offsets in beats (the meter's lower number is one beat).

    Raises
    ------
    NotationError
        For a character other than x, X, ., -, a pattern without a hit, or a
        length that is not whole bars of the grid and meter.

    Examples
    --------
    >>> parse_rhythm("x.x.xx..", "1/8", "4/4")
    [0.0, 1.0, 2.0, 2.5]
    """
    if not isinstance(text, str):
        raise NotationError(f"must be text in quotes such as \"x.x.xx..\", not {text!r}")
    beats_per_bar, unit = parse_meter(meter)
    steps_per_grid = parse_grid(grid)
    steps = [c for c in text if c not in " |\t"]
    bad = sorted({c for c in steps if c not in _RHYTHM_CHARS})
    if bad:
        raise NotationError(f"{text!r} has {', '.join(repr(c) for c in bad)}; use only x (hit), "
                            "X (accent), . (rest) and - (hold)")
    if not any(c in "xX" for c in steps):
        raise NotationError(f"{text!r} has no hit; write at least one x")
    step_beats = Fraction(unit, steps_per_grid)  # one step, in beats
    bar_steps = beats_per_bar / step_beats
    if bar_steps.denominator != 1:
        raise NotationError(f"a {grid} grid does not divide a bar of {meter}; choose a finer grid")
    if len(steps) % bar_steps.numerator:
        raise NotationError(f"{text!r} has {len(steps)} steps, but a bar of {meter} on a {grid} grid "
                            f"has {bar_steps.numerator}; write whole bars ({bar_steps.numerator}, "
                            f"{2 * bar_steps.numerator}, ... steps)")
    if steps[0] == "-":
        raise NotationError(f"{text!r} starts with a hold '-'; a hold must follow a hit")
    return [float(i * step_beats) for i, c in enumerate(steps) if c in "xX"]


def parse_melody(text: str) -> list[tuple[int, float]]:
    """Notes of a melody as ``(MIDI note, length in beats)``.

    Parameters
    ----------
    text : str
        Note names with optional lengths, e.g. ``"C4 E4 G4:2"`` or
        ``"D4:1/2 D4:1/2 A4"`` (default length 1 beat).

    Returns
    -------
    list of (int, float)

    Raises
    ------
    NotationError
        For an empty melody, a note that is not a name like C4, F#3 or Bb4 in
        the MIDI range, or a length that is not a positive number of beats.

    Examples
    --------
    >>> parse_melody("C4 E4 G4:2")
    [(60, 1.0), (64, 1.0), (67, 2.0)]
    """
    if not isinstance(text, str):
        raise NotationError(f"must be text in quotes such as \"C4 E4 G4\", not {text!r}")
    tokens = text.split()
    if not tokens:
        raise NotationError("is empty; write note names such as \"C4 E4 G4\"")
    notes = []
    for token in tokens:
        name, _, length = token.partition(":")
        if name.isdigit():
            raise NotationError(f"note {token!r} is a number; write note names such as C4, F#3 or Bb4")
        try:
            note = parse_note(name)
        except SoundRequestError:
            raise NotationError(f"{name!r} is not a note name; write a letter A-G, an optional # or b "
                                "and an octave, e.g. C4, F#3 or Bb4") from None
        beats = Fraction(1)
        if length:
            try:
                beats = Fraction(length)
            except (ValueError, ZeroDivisionError):
                beats = Fraction(-1)
            if not 0 < beats <= _MAX_BEATS_PER_NOTE:
                raise NotationError(f"the length in {token!r} must be a number of beats above 0 and at most "
                                    f"{_MAX_BEATS_PER_NOTE}, such as C4:2 or C4:1/2")
        notes.append((note, float(beats)))
    return notes
