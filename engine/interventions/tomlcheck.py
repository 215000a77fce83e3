"""Checking a TOML file a therapist wrote: one sentence per problem, naming ``file:line`` and the field.

Scripts (:mod:`engine.interventions.script`) and plans
(:mod:`engine.records.plan`) are checked the same way, with what this module
holds: where each key is written (:class:`KeyLines`, since :mod:`tomllib`
keeps no positions), TOML syntax errors as one sentence
(:func:`syntax_problem`; :func:`parse_toml` parses with every syntax problem as that sentence, even
what :mod:`tomllib` cannot take safely), a bad value as the reader would name it
(:func:`describe`), "did you mean" hints (:func:`did_you_mean`), and a
:class:`Checker` base that collects the sentences
(``file:line: field problem.``) so every problem of a file is reported at once.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable, Sequence
from typing import Any

from engine.fileread import toml_hazard
from engine.text import tidy_sentence

__all__ = [
    "INT64_MAX",
    "Checker",
    "KeyLines",
    "Problem",
    "SyntaxProblem",
    "describe",
    "did_you_mean",
    "objective_problem",
    "parse_toml",
    "syntax_problem",
]

INT64_MAX = 2 ** 63 - 1
"""TOML integers are 64-bit: "if an integer cannot be represented losslessly, an error must be thrown" (TOML 1.0)."""


class KeyLines:
    """Line numbers of the keys and table headers of a TOML text.

    Hand-written because :mod:`tomllib` returns plain dicts without positions,
    and the parsers that keep them (tomlkit) are not dependencies of Tandem. A
    script's or plan's layout is simple, so one pass over the lines that follows
    ``[table]`` and ``[[array]]`` headers (counting entries) and skips the
    insides of multi-line strings finds every key a therapist writes. Keys are
    looked up by (table, entry index or None, key); a dotted key at the top
    (``instruments.cue = ...``) is found too.
    """

    _KEY = re.compile(r"""\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.\-]+)\s*=""")

    def __init__(self, text: str) -> None:
        self.keys: dict[tuple[str, int | None, str], int] = {}
        self.tables: dict[tuple[str, int | None], int] = {}
        table, index = "", None
        counts: dict[str, int] = {}
        open_quote = None
        for lineno, line in enumerate(text.splitlines(), 1):
            if open_quote:
                if open_quote in line:
                    open_quote = None
                continue
            stripped = line.strip()
            if stripped.startswith("[["):
                table = stripped[2:stripped.find("]]")].strip()
                index = counts.get(table, 0)
                counts[table] = index + 1
                self.tables[(table, index)] = lineno
            elif stripped.startswith("["):
                table, index = stripped[1:stripped.find("]")].strip(), None
                self.tables[(table, None)] = lineno
            else:
                match = self._KEY.match(line)
                if match:
                    key = match.group(1).strip("\"'")
                    self.keys.setdefault((table, index, key), lineno)
                    rest = line[match.end():]
                    for quote in ('"""', "'''"):
                        if rest.count(quote) % 2:
                            open_quote = quote

    def line(self, table: str, index: int | None, key: str | None = None) -> int | None:
        """Line of ``key`` in the table (or its header when the key is absent), else None."""
        if key is not None:
            for candidate in ((table, index, key), ("", None, f"{table}.{key}" if table else key)):
                if candidate in self.keys:
                    return self.keys[candidate]
        if table and (table, index) in self.tables:
            return self.tables[(table, index)]
        if table and ("", None, table) in self.keys:  # an inline table: instruments = { ... }
            return self.keys[("", None, table)]
        return None


def syntax_problem(exc: tomllib.TOMLDecodeError, shown: str, text: str) -> str:
    """tomllib's message ("Invalid value (at line 3, column 7)") as one sentence naming ``shown:line``.

    ``text`` is what was parsed: an error at the end of the document is put on its last line.
    """
    message = str(exc)
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)\s*$", message)
    if match:
        what = message[: match.start()].strip().rstrip(".")
        return (f"{shown}:{match.group(1)}: the TOML is not valid at column {match.group(2)} "
                f"({what[:1].lower() + what[1:]}); check the quotes, brackets and '=' on that line.")
    what = re.sub(r"\s*\(at end of document\)\s*$", "", message).strip().rstrip(".")
    last_line = max(1, len(text.splitlines()))
    return (f"{shown}:{last_line}: the TOML is not valid at the end of the file ({what[:1].lower() + what[1:]}); "
            "check for an unclosed quote or bracket.")


class SyntaxProblem(Exception):
    """A TOML text that cannot be parsed; the message is one sentence naming ``file:line`` (see :func:`parse_toml`)."""


def parse_toml(text: str, shown: str) -> dict[str, Any]:
    """``tomllib.loads(text)``, with every way it can fail as the sentence of a syntax problem.

    Besides TOML's own syntax errors: lists or tables nested too deep and dotted keys of too many parts
    (:func:`engine.fileread.toml_hazard`, refused before parsing: tomllib would exhaust the stack or
    memory), an integer of thousands of digits (Python refuses to convert it) and an integer outside
    TOML's 64 bits.

    Raises
    ------
    SyntaxProblem
        One sentence naming ``shown:line``.
    """
    hazard = toml_hazard(text)
    if hazard is not None:
        line, column, what = hazard
        raise SyntaxProblem(f"{shown}:{line}: the TOML is not valid at column {column} ({what}); check the "
                            f"brackets, dots and '=' on that line.")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SyntaxProblem(syntax_problem(exc, shown, text)) from None
    except ValueError:  # Python refuses int() of more than 4300 digits
        line = _line_of(text, _LONG_NUMBER)
        raise SyntaxProblem(f"{shown}{f':{line}' if line else ''}: the TOML is not valid (a number of thousands "
                            f"of digits); check the numbers on that line.") from None
    except (RecursionError, MemoryError):  # guarded above; a caller already deep in the stack may still meet it
        raise SyntaxProblem(f"{shown}: the TOML is not valid (lists or tables nested too deep to read); check the "
                            f"brackets.") from None
    if _has_big_int(data):
        line = _line_of(text, _LONG_NUMBER)
        raise SyntaxProblem(f"{shown}{f':{line}' if line else ''}: the TOML is not valid (a whole number too "
                            f"large for TOML, whose largest is {INT64_MAX}); check the numbers on that line.")
    return data


_LONG_NUMBER = re.compile(r"""(?<![\w."'])[+-]?(?:0[xob][0-9A-Fa-f_]{16,}|[0-9][0-9_]{18,})""")


def _line_of(text: str, pattern: re.Pattern) -> int | None:
    match = pattern.search(text)
    return text.count("\n", 0, match.start()) + 1 if match else None


def _has_big_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return not -INT64_MAX - 1 <= value <= INT64_MAX
    if isinstance(value, dict):
        return any(_has_big_int(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_big_int(v) for v in value)
    return False


def describe(value: Any) -> str:
    """A value read from TOML as a therapist would name it: ``the text 'fast'``, ``a list``, ``true (true/false)``."""
    if isinstance(value, bool):
        return f"{'true' if value else 'false'} (true/false)"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def did_you_mean(word: str, choices: Sequence[str], *, quoted: bool = True) -> str:
    """`` (did you mean 'x'?)`` for the choice closest to a misspelt ``word``, or "" when none is close."""
    close = difflib.get_close_matches(word, choices, n=1)
    if not close:
        return ""
    return f" (did you mean '{close[0]}'?)" if quoted else f" (did you mean {close[0]}?)"


def objective_problem(exc: ValueError | TypeError, oid: Any) -> str:
    """What :meth:`engine.scoring.objectives.Objective.from_dict` refused, without its opening.

    The checker's sentence names the entry already, so ``Objective 'echo': k must be ...``
    becomes ``k must be ...``.
    """
    message = str(exc)
    for start in (f"Objective '{oid}': ", f"Objective '{oid}' ", "An objective "):
        if message.startswith(start):
            return message[len(start):]
    return message


class Problem(Exception):
    """Raised inside a checker for one problem of one field, after :meth:`Checker.fail` reported it."""


class Checker:
    """Collects one sentence per problem of one TOML file.

    Parameters
    ----------
    text : str
        The file's text (for the lines of its keys).
    shown : str
        The file as the sentences name it.

    Attributes
    ----------
    problems : list of str
        ``file:line: field problem.``, in the order found.
    """

    def __init__(self, text: str, shown: str) -> None:
        self.lines = KeyLines(text)
        self.shown = shown
        self.problems: list[str] = []

    def report(self, table: str, index: int | None, key: str | None, field: str, problem: str) -> None:
        """Add the sentence for ``field`` (written at ``key`` of entry ``index`` of ``table``; "" is the top)."""
        line = self.lines.line(table, index, key)
        where = f"{self.shown}:{line}" if line else self.shown
        self.problems.append(tidy_sentence(f"{where}: {field} {problem.rstrip('.')}."))

    def fail(self, table: str, index: int | None, key: str | None, field: str, problem: str) -> Problem:
        """:meth:`report`, and the :class:`Problem` to raise so the rest of the field is skipped."""
        self.report(table, index, key, field, problem)
        return Problem()

    def attempt(self, fn: Callable[..., Any], *args: Any, default: Any = None) -> Any:
        """``fn(*args)``, or ``default`` when it reported a problem (raised :class:`Problem`)."""
        try:
            return fn(*args)
        except Problem:
            return default

    def unknown_fields(self, data: dict, allowed: Sequence[str], what: str, table: str, index: int | None,
                       prefix: str) -> None:
        """Report each key of ``data`` not in ``allowed`` (``what``: the table as a sentence names it)."""
        for key in data:
            if key not in allowed:
                self.report(table, index, key, f"{prefix}{key}", f"is not a field of {what}"
                            f"{did_you_mean(key, allowed)}; the fields are {', '.join(allowed)}")
