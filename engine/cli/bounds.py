"""The ranges of the command line's numeric options, and the one sentence for a value outside them.

Every numeric option is declared with :func:`whole` or :func:`number`: an
``argparse`` ``type=`` that reads the value and knows its range, so the help
text, the check and the sentence come from one place. A value that is not a
number at all is the parser's error (one line, exit 2, as argparse does); a
number outside the range, NaN or infinity is parsed as an :class:`OutOfRange`,
which :func:`engine.cli.main.main` turns into one sentence naming the option
and the range (exit 2, as every other refused value), before anything runs.

The ranges are what a therapist could need, not what the code could survive:
a demo of at most 100 visits, a session of at most four hours, a tempo a
child can play to.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.errors import ConfigError
from engine.text import shown

__all__ = [
    "BEATS",
    "BLOCKSIZE",
    "DAYS_APART",
    "DURATION_S",
    "MAX_TRIALS",
    "MINUTES",
    "ONSET_BLOCKSIZE",
    "PORT",
    "SEED",
    "SESSIONS",
    "TAPS",
    "TEMPO_BPM",
    "TEMPO_SCALE",
    "WARMUP",
    "WINDOW_MS",
    "Bound",
    "OutOfRange",
    "check_parsed",
    "edit",
    "id_list",
    "number",
    "whole",
]


@dataclass(frozen=True)
class Bound:
    """A range ``lo``..``hi`` (``above``: ``lo`` itself not allowed) and its words: the unit ("visits"), or
    ``says``, the whole rule when the usual words do not fit."""

    lo: float
    hi: float
    unit: str
    above: bool = False
    says: str | None = None

    def rule(self, whole: bool) -> str:
        """The rule in words, e.g. "a whole number of visits from 1 to 100"."""
        if self.says is not None:
            return self.says
        kind = f"a whole number of {self.unit}" if whole else f"a number of {self.unit}"
        if self.above:
            return f"{kind} above {self.lo:g} and at most {self.hi:g}"
        return f"{kind} from {self.lo:g} to {self.hi:g}"

    def holds(self, value: float) -> bool:
        return math.isfinite(value) and (self.lo < value if self.above else self.lo <= value) and value <= self.hi


# The ranges (tests/test_bad_input.py checks them against the constants of the modules that use the values).
#: demo --sessions: visits of one demo run.
SESSIONS = Bound(1, 100, "visits")
#: demo --days-apart: days between simulated visits (a year at most).
DAYS_APART = Bound(0, 365, "days", above=True)
#: demo --tempo: as a script's tempo_bpm (engine.interventions.script.MIN_TEMPO_BPM..MAX_TEMPO_BPM).
TEMPO_BPM = Bound(20, 300, "beats per minute")
#: demo --beats: 2000 beats is 500 bars of 4/4, over 16 minutes at 120 BPM.
BEATS = Bound(1, 2000, "beats")
#: demo/assess --seed: numpy's seeds.
SEED = Bound(0, 2**32 - 1, "", says=f"a whole number from 0 to {2**32 - 1}")
#: demo --max-trials: as a script's trials (engine.interventions.script.MAX_TRIALS).
MAX_TRIALS = Bound(1, 500, "trials")
#: run/demo/assess/calibrate --blocksize: frames per block (engine.audio.engine's range).
BLOCKSIZE = Bound(64, 512, "frames", says="a whole number of frames between 64 and 512")
#: onsets --blocksize (engine.audio.onsetfile's range).
ONSET_BLOCKSIZE = Bound(16, 8192, "frames", says="a whole number of frames between 16 and 8192")
#: run --duration: seconds, four hours at most.
DURATION_S = Bound(0, 4 * 3600, "seconds", above=True)
#: run --tempo-scale: a quarter to four times the song's tempo.
TEMPO_SCALE = Bound(0.25, 4, "times the song's tempo")
#: calibrate --taps: pad hits (engine.calibration.midilatency needs at least 5).
TAPS = Bound(5, 100, "pad hits")
#: analyze sync --window-ms: ± ms.
WINDOW_MS = Bound(0, 1000, "milliseconds", above=True)
#: analyze sync --warmup: leading cues not scored.
WARMUP = Bound(0, 10_000, "cues")
#: the app's and server's --port (unprivileged ports).
PORT = Bound(1024, 65535, "", says="a port number from 1024 to 65535")
#: homepack --minutes: engine.homepack.render.MAX_MINUTES.
MINUTES = Bound(0, 10, "minutes", above=True)

_INT = re.compile(r"\s*[+-]?[0-9]+\s*")


@dataclass(frozen=True)
class OutOfRange:
    """A number the parser read that is outside its option's range: the sentence that refuses it."""

    sentence: str


def whole(flag: str, bound: Bound, sentence: str | None = None) -> Callable[[str], Any]:
    """An argparse ``type`` for a whole number within ``bound``.

    ``sentence`` (optional) is the refusal with ``{rule}`` and ``{value}``
    in it; the default is ``"<flag> must be <rule>, not <value>."``.
    """
    rule = bound.rule(True)

    def parse(text: str) -> int | OutOfRange:
        if not _INT.fullmatch(text):
            raise argparse.ArgumentTypeError(f"{flag} must be {rule}, not {shown(text)}.")
        digits = text.strip().lstrip("+-")
        if len(digits) > 30:  # far outside every range (and int() refuses more than 4300 digits)
            return OutOfRange(_say(flag, rule, sentence, f"a {len(digits)}-digit number"))
        value = int(text)
        if not bound.holds(value):
            return OutOfRange(_say(flag, rule, sentence, str(value)))
        return value

    parse.__name__ = "whole number"  # what argparse would call it
    return parse


def number(flag: str, bound: Bound, sentence: str | None = None) -> Callable[[str], Any]:
    """An argparse ``type`` for a finite number within ``bound`` (NaN and infinity are outside every range)."""
    rule = bound.rule(False)

    def parse(text: str) -> float | OutOfRange:
        try:
            if len(text) > 100:
                raise ValueError(text)
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} must be {rule}, not {shown(text)}.") from None
        if not bound.holds(value):
            return OutOfRange(_say(flag, rule, sentence, f"{value:g}"))
        return value

    parse.__name__ = "number"
    return parse


def id_list(flag: str, example: str) -> Callable[[str], Any]:
    """An argparse ``type`` for ids separated by commas (``stop_and_go,turn_taking``): the list, or
    :class:`OutOfRange` when it names none (``--tasks ""`` must not mean "no task", nor "every task")."""

    def parse(text: str) -> list[str] | OutOfRange:
        ids = [part.strip() for part in text.split(",") if part.strip()]
        if not ids:
            return OutOfRange(f"{flag} names nothing; give ids separated by commas, e.g. {flag} {example}, or leave "
                              f"it out.")
        return ids

    parse.__name__ = "list"
    return parse


def edit(flag: str) -> Callable[[str], Any]:
    """An argparse ``type`` for ``ID.FIELD=VALUE`` (``plan accept --set``): the text, or :class:`OutOfRange`
    when its value is a number no field can hold (NaN, infinity, more than 30 digits). The rest of the edit
    is checked where it is applied."""

    def parse(text: str) -> str | OutOfRange:
        value = text.partition("=")[2].strip()
        digits = sum(ch.isdigit() for ch in value)
        try:
            number_ = float(value) if len(value) <= 100 else None
        except ValueError:
            number_ = None
        if digits > 30 or (number_ is not None and not math.isfinite(number_)):
            return OutOfRange(f"{flag} {shown(text)} sets a value no field can hold; give a finite number of at "
                              f"most 30 digits, e.g. {flag} S1.threshold=70.")
        return text

    parse.__name__ = "edit"
    return parse


def _say(flag: str, rule: str, sentence: str | None, value: str) -> str:
    if sentence is not None:
        return sentence.format(rule=rule, value=value)
    return f"{flag} must be {rule}, not {value}."


def check_parsed(args: argparse.Namespace) -> None:
    """Refuse, in one sentence, the first option the parser read as :class:`OutOfRange`."""
    for value in vars(args).values():
        for item in value if isinstance(value, list) else [value]:  # a repeated option is a list
            if isinstance(item, OutOfRange):
                raise ConfigError(item.sentence)
