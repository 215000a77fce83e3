"""Text that is safe to print on a terminal, whatever file or argument it came from.

A script's title, a plan's display name, a note, a file name or an argument
can hold anything: escape sequences that recolour, clear or retitle the
therapist's terminal (``ESC [ 2 J``, ``ESC ] 0 ; … BEL``), other control
characters, characters that reverse the text's direction, or (from a file
name or argument that is not UTF-8) lone surrogates that no terminal can
print. Everything Tandem prints that it did not write itself goes through
:func:`terminal_safe` (a whole message; newlines and tabs kept) or
:func:`one_line` (a field shown inside a line), and a value quoted in an error
sentence through :func:`shown`.

This is a base module (like :mod:`engine.errors`): it imports nothing of
Tandem's, so every layer, the later app and the server can use it.
"""

from __future__ import annotations

import re

__all__ = [
    "MAX_SHOWN", "escape_controls", "escape_json_controls", "one_line", "shown", "terminal_safe", "tidy_sentence",
]

#: How many characters of a value :func:`shown` quotes before cutting it short.
MAX_SHOWN = 60

# Whole escape sequences first (so their parameters do not stay behind as text), then single characters.
_SEQUENCES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: ESC [ parameters intermediates final (colours, cursor, clear)
    r"|\x1b[\]PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC, DCS, SOS, PM, APC up to BEL or ST
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
    r"|[\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # 8-bit DCS, SOS, OSC, PM, APC
    r"|\x1b[ -/]*[0-~]?"  # any other escape (ESC c resets the terminal, ESC ( B, ...)
)
# C0 controls but tab and newline, DEL, C1 controls, the bidirectional overrides and isolates
# (they reorder what the reader sees), and lone surrogates (a file name or argument that is not UTF-8).
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_LINE_BREAKS = re.compile(r"[\t\n\x0b\x0c\r\x1c-\x1e\x85\u2028\u2029]+")
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]")


def terminal_safe(text: object) -> str:
    """``text`` (any object, as :func:`str` gives it) without escape sequences or control characters.

    Newlines and tabs are kept; a carriage return is dropped (it would let a
    line overwrite what was printed before it); characters that are not
    text at all (lone surrogates) become U+FFFD.

    Examples
    --------
    >>> terminal_safe("\\x1b[31mred\\x1b[0m title\\x07")
    'red title'
    """
    text = text if isinstance(text, str) else str(text)
    if text.isprintable():  # the common case: nothing to take out (newlines and tabs are not printable)
        return text
    text = _SEQUENCES.sub("", text)
    return _CONTROLS.sub(lambda m: "\ufffd" if "\ud800" <= m.group() <= "\udfff" else "", text)


def one_line(text: object) -> str:
    """:func:`terminal_safe`, with line breaks and tabs as single spaces: a field shown inside a line."""
    return terminal_safe(_LINE_BREAKS.sub(" ", text if isinstance(text, str) else str(text)))


def shown(value: object, limit: int = MAX_SHOWN) -> str:
    """A value quoted for an error sentence: its :func:`repr` (controls escaped, never raw), cut to ``limit``.

    Examples
    --------
    >>> shown("a\\nb")
    "'a\\\\nb'"
    >>> shown("x" * 100, 10)
    "'xxxxxxxxxx…' (100 characters)"
    """
    if isinstance(value, str):
        if len(value) <= limit:
            return escape_controls(repr(value))
        cut = escape_controls(repr(value[:limit]))
        return f"{cut[:-1]}…{cut[-1]} ({len(value)} characters)"
    try:
        text = repr(value)
    except ValueError:  # an int of more than 4300 digits (sys.get_int_max_str_digits) has no repr
        return "a number too long to show"
    return escape_controls(text if len(text) <= limit else text[:limit] + "…")


def escape_controls(text: str) -> str:
    """``text`` with every control, bidirectional or surrogate character written as a ``\\uXXXX`` escape
    (newlines and tabs kept): a sentence that quotes a file's value stays one readable, safe line."""
    return _CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


_LONG_RUN = re.compile(r"'[^'\n]{100,}'|[^\s']{100,}")


def tidy_sentence(sentence: str) -> str:
    """An error sentence as one safe line of a sensible length: the values it quotes (from a file, a log, a
    library's message) keep no control character (escaped, newlines and tabs too), and a value or name of
    100 characters or more is cut short, saying how long it was (a 40,000-character field is named, not
    printed).

    Examples
    --------
    >>> tidy_sentence("name 'a\\nb' is not known")
    "name 'a\\\\nb' is not known"
    """
    safe = escape_controls(sentence).replace("\n", "\\n").replace("\t", "\\t")
    return _LONG_RUN.sub(lambda m: f"{m.group()[:60]}… ({len(m.group())} characters)", safe)


def escape_json_controls(text: str) -> str:
    """JSON text (``ensure_ascii=False``) with DEL, C1 controls, bidirectional controls, line separators and
    lone surrogates as ``\\uXXXX`` escapes: the same JSON value, safe on a terminal (json escapes only the C0
    controls itself)."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
