"""How metrics, comparators and aggregates read in a sentence a therapist can paste into notes.

Shared by the objectives' own sentences (:mod:`engine.scoring.objectives`:
``SessionResult.summary``, ``ObjectiveStatus.sentence``), the scores'
reasons (:mod:`engine.scoring.sync`, :mod:`engine.scoring.imitation`) and
the reports' wording (:mod:`engine.reports.sentences`), so a figure reads
the same everywhere.

Every figure shown with fixed decimals is rounded half up (halves away from
zero, as a spreadsheet rounds), on the number as written: 5 of 8 = 62.5 % reads
"63 %", 3 of 8 = 37.5 % reads "38 %" (Python's ``round`` and ``f"{x:.0f}"``
round halves to even, so 62.5 would read "62"). See ``docs/definitions.md``.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Decimal, localcontext
from string import Formatter
from typing import Any

__all__ = [
    "AGGREGATE_WORDS",
    "BOOL_METRIC_PHRASES",
    "COMPARATOR_WORDS",
    "NUMERIC_METRIC_NAMES",
    "format_half_up",
    "format_value",
    "metric_display",
    "percent_text",
    "plural",
    "round_half_up",
]

COMPARATOR_WORDS = {
    ">=": "at least", ">": "more than", "<=": "at most", "<": "less than", "==": "exactly",
}
"""A comparator in words ("at least 80 %")."""

AGGREGATE_WORDS = {"mean": "Average", "median": "Median", "min": "Lowest", "max": "Highest"}
"""A numeric aggregate as a sentence opens with it ("Average response latency ...")."""

BOOL_METRIC_PHRASES = {
    "correct": "Imitated correctly",
    "response_present": "Responded",
    "waited": "Waited for the music's turn to end",
    "initiated": "Started a turn",
}
"""How a true/false metric reads in a sentence ("… on 4 of 5 trials")."""

NUMERIC_METRIC_NAMES = {
    "within_window_pct": ("beats within the timing window", "%"),
    "asynchrony_mean_ms": ("asynchrony", "ms"),
    "asynchrony_sd_ms": ("timing variability (SD of asynchrony)", "ms"),
    "vector_strength": ("timing consistency (vector strength)", ""),
    "iti_cv": ("tapping evenness (CV of inter-tap intervals)", ""),
    "tempo_ratio": ("tempo ratio", ""),
    "response_latency_ms": ("response latency", "ms"),
    "initiation_latency_ms": ("initiation latency", "ms"),
    "rhythm_similarity": ("rhythm similarity", ""),
    "overlap_ms": ("overlap", "ms"),
    "turn_length_notes": ("turn length", "notes"),
}
"""Display name and unit of a numeric metric."""


def plural(n: int, word: str) -> str:
    """``1 trial``, ``3 trials`` (the regular plural: ``word`` + s)."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def metric_display(metric: str) -> tuple[str, str]:
    """Display name (lower case) and unit of a numeric metric; from its key when it has no entry (``_ms``: ms)."""
    if metric in NUMERIC_METRIC_NAMES:
        return NUMERIC_METRIC_NAMES[metric]
    for suffix, unit in (("_ms", "ms"), ("_pct", "%")):
        if metric.endswith(suffix):
            return metric[: -len(suffix)].replace("_", " "), unit
    return metric.replace("_", " "), ""


_PRECISION = 400  # digits: enough for any float (up to 1.8e308) with its decimals


def _decimal(value: float) -> Decimal:
    # The shortest text that reads back as the float (its repr): 2.675 is rounded as 2.675, not as the
    # binary 2.67499999... that it is stored as.
    return Decimal(repr(float(value)))


def round_half_up(value: float, digits: int = 0) -> float:
    """``value`` rounded to ``digits`` decimals, halves away from zero: 62.5 → 63.0, −12.5 → −13.0.

    Rounded as written (the float's repr): 2.675 → 2.68 with ``digits=2``. NaN and infinities are returned as they are.
    """
    if not math.isfinite(value):
        return float(value)
    with localcontext() as ctx:
        ctx.rounding, ctx.prec = ROUND_HALF_UP, _PRECISION
        return float(_decimal(value).quantize(Decimal(1).scaleb(-digits)))


_FIXED = re.compile(r"(?:\.(\d+))?([fF%])$")  # a fixed-point field's precision and type


def _half_up_arg(value: Any, field: str) -> Any:
    """``value`` as a Decimal already rounded half up to the field's decimals, if the field is fixed-point."""
    m = _FIXED.search(field)
    if m is None or not isinstance(value, float) or not math.isfinite(value):
        return value
    digits = int(m.group(1) or 6) + (2 if m.group(2) == "%" else 0)
    with localcontext() as ctx:
        ctx.rounding, ctx.prec = ROUND_HALF_UP, _PRECISION
        rounded = _decimal(value).quantize(Decimal(1).scaleb(-digits))
    return rounded.copy_abs() if rounded.is_zero() else rounded  # -0.4 reads 0, not -0


def format_half_up(spec: str, *values: Any) -> str:
    """``spec.format(*values)`` with fixed-point floats rounded half up: ``("{:.0f} %", 62.5)`` → ``"63 %"``.

    The fields are numbered automatically (``{}``, ``{:+.1f}``); a finite
    float in a field of type ``f`` or ``%`` is rounded half up, everything
    else (``{}``, ``{:g}``, ints, text) is formatted as ``str.format`` does.
    A figure that rounds to zero shows no minus sign (``-0.4`` → ``0``; with
    ``+`` in the field, ``+0``).
    """
    fields = [fmt or "" for _, name, fmt, _ in Formatter().parse(spec) if name is not None]
    return spec.format(*(_half_up_arg(v, fields[i]) if i < len(fields) else v for i, v in enumerate(values)))


def percent_text(value: float, digits: int = 0) -> str:
    """A percentage as every report, note, screen and CSV text shows it: 62.5 → ``"63 %"`` (rounded half up)."""
    return format_half_up(f"{{:.{digits}f}} %", value)


def format_value(value: float, unit: str) -> str:
    """A figure with its unit as a sentence shows it: whole numbers plain, ``12.5 ms``, ``0.85`` without a unit.

    Rounded half up (:func:`round_half_up`): 62.5 % → ``63 %``.
    """
    if float(value).is_integer() or (unit and abs(value) >= 100):
        text = format_half_up("{:.0f}", float(value))
    elif unit:
        text = format_half_up("{:.1f}", float(value))
    else:
        text = format_half_up("{:.2f}", float(value))
    return f"{text} {unit}" if unit else text
