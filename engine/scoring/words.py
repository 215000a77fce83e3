"""How metrics, comparators and aggregates read in a sentence a therapist can paste into notes.

Shared by the objectives' own sentences (:mod:`engine.scoring.objectives`:
``SessionResult.summary``, ``ObjectiveStatus.sentence``), the scores'
reasons (:mod:`engine.scoring.sync`, :mod:`engine.scoring.imitation`) and
the reports' wording (:mod:`engine.reports.sentences`), so a figure reads
the same everywhere.

Every metric an objective can name has words here: a true/false metric a
behaviour (:data:`BOOL_METRIC_PHRASES`: "Stopped when the music stopped"), a
numeric metric a name and a unit (:data:`NUMERIC_METRIC_NAMES`: "tempo drift
after the music stopped", "% of the beat per interval"). No metric's key
(``drift_pct_per_interval``) is ever shown; ``tests/test_words_metrics.py``
walks every metric a scoring module produces. The templates, with an example
each, are in ``docs/sentences.md``.

Every figure shown with fixed decimals is rounded half up (halves away from
zero, as a spreadsheet rounds), on the number as written: 5 of 8 = 62.5 % reads
"63 %", 3 of 8 = 37.5 % reads "38 %" (Python's ``round`` and ``f"{x:.0f}"``
round halves to even, so 62.5 would read "62"). See ``docs/definitions.md``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, localcontext
from string import Formatter
from typing import Any

__all__ = [
    "AGGREGATE_WORDS",
    "BOOL_METRIC_NEGATIONS",
    "BOOL_METRIC_PHRASES",
    "COMPARATOR_WORDS",
    "CORRECT_PHRASES",
    "NUMERIC_METRIC_NAMES",
    "SHARE_METRICS",
    "SIGNED_METRICS",
    "bool_phrase",
    "format_half_up",
    "format_value",
    "kind_of_scores",
    "metric_display",
    "metric_value_text",
    "percent_text",
    "plural",
    "round_half_up",
    "share_words",
    "threshold_text",
    "window_text",
]

COMPARATOR_WORDS = {
    ">=": "at least", ">": "more than", "<=": "at most", "<": "less than", "==": "exactly",
}
"""A comparator in words ("at least 80 %")."""

#: A comparator with a signed figure told by its size and side (:data:`SIGNED_METRICS`), by whether the
#: threshold is on the negative side: ``<= 200`` "no later than 200 ms late", ``<= -50`` "at least 50 ms early".
_SIGNED_WORDS = {
    False: {">=": "at least", ">": "more than", "<=": "no later than", "<": "less than", "==": "exactly"},
    True: {">=": "no earlier than", ">": "less than", "<=": "at least", "<": "more than", "==": "exactly"},
}

AGGREGATE_WORDS = {"mean": "Average", "median": "Median", "min": "Lowest", "max": "Highest"}
"""A numeric aggregate as a criterion opens with it ("Median response latency over a visit's trials was …");
lower case in a visit's figure ("Over 5 trials, the median response latency was 1400 ms")."""

BOOL_METRIC_PHRASES = {
    "correct": "Responded correctly",
    "response_present": "Responded after the call",
    "waited": "Waited for the music's turn to end",
    "initiated": "Waited, then started a turn",
    "turn_capped": "Played on until the turn's time limit",
    "stopped": "Stopped when the music stopped",
    "played_during_go": "Played along while the music played",
    "filled": "Filled the blank in the music",
    "scorable": "Tapped enough for the timing to be scored",
    "continuation_scorable": "Tapped enough after the music stopped to be scored",
}
"""How a true/false metric reads in a sentence, as the behaviour of a trial that has it ("… on 4 of 5 trials").

``correct`` depends on the kind of activity (:data:`CORRECT_PHRASES`); this is its wording when the kind is
not known."""

BOOL_METRIC_NEGATIONS = {
    "correct": "Did not respond correctly",
    "response_present": "Did not respond after the call",
    "waited": "Played during the music's turn",
    "initiated": "Did not start a turn after waiting",
    "turn_capped": "Ended the turn before its time limit",
    "stopped": "Kept playing after the music stopped",
    "played_during_go": "Did not play along while the music played",
    "filled": "Left the blank in the music empty",
    "scorable": "Tapped too little for the timing to be scored",
    "continuation_scorable": "Tapped too little after the music stopped to be scored",
}
"""The behaviour of a trial that does not have a true/false metric (an objective judging ``== false``)."""

CORRECT_PHRASES = {
    "call_and_response": ("Imitated correctly", "Did not imitate correctly"),
    "stop_and_go": ("Played along, then stopped when the music stopped",
                    "Did not both play along and stop when the music stopped"),
    "fill_in_the_blank": ("Filled the blank in the music", "Left the blank in the music empty"),
}
"""``correct`` by kind of activity, (true, false): what a correct trial of that kind is (see each kind's scoring:
an echo with every note in time, a stop after playing along, a filled blank)."""

NUMERIC_METRIC_NAMES = {
    # synchronisation (engine/scoring/sync.py)
    "n_cues": ("number of beats scored", ""),
    "n_taps": ("number of taps", ""),
    "matched": ("number of beats with a tap", ""),
    "missed": ("number of beats missed", ""),
    "extra": ("number of extra taps", ""),
    "asynchrony_mean_ms": ("timing of taps against the beat", "ms"),
    "asynchrony_sd_ms": ("standard deviation of tap timing", "ms"),
    "within_window_pct": ("share of beats tapped within the timing window", "%"),
    "vector_strength": ("consistency of tap timing", "out of 1"),
    "mean_phase_deg": ("phase of taps against the beat", "°"),
    "rayleigh_p": ("Rayleigh test p-value of tap timing", ""),
    "iti_cv": ("coefficient of variation of the intervals between taps", ""),
    "tempo_ratio": ("length of the child's intervals", "× the music's"),
    # imitation (engine/scoring/imitation.py)
    "n_call": ("number of notes in the call", ""),
    "n_response": ("number of notes in the response", ""),
    "onsets_during_call": ("number of notes played during the call", ""),
    "response_latency_ms": ("response latency", "ms"),
    "onsets_matched": ("number of the call's notes echoed in time", ""),
    "onsets_missed": ("number of the call's notes not echoed", ""),
    "onsets_extra": ("number of extra notes in the echo", ""),
    "ioi_error_ms": ("interval error against the call", "ms"),
    "ioi_error_rel": ("interval error against the call", "× the call's intervals"),
    "rhythm_similarity": ("rhythm similarity to the call", "out of 1"),
    "pitch_match": ("share of notes in time on the call's pitch", "out of 1"),
    "contour_match": ("match of the melody's ups and downs to the call's", "out of 1"),
    # turn-taking (engine/scoring/turns.py)
    "onsets_during_turn": ("number of notes played during the music's turn", ""),
    "overlap_ms": ("time played over the music's turn", "ms"),
    "initiation_latency_ms": ("time from the hand-over to the child's turn", "ms"),
    "first_onset_after_handover_ms": ("time from the hand-over to the first note, waited or not", "ms"),
    "turn_length_notes": ("turn length", "notes"),
    # synchronisation–continuation (engine/scoring/continuation.py)
    "continuation_n_cues": ("number of beats before the music stopped", ""),
    "paced_ioi_ms": ("beat interval before the music stopped", "ms"),
    "continuation_n_taps": ("number of taps after the music stopped", ""),
    "n_intervals": ("number of intervals tapped after the music stopped", ""),
    "iti_mean_ms": ("mean interval between taps after the music stopped", "ms"),
    "iti_sd_ms": ("standard deviation of the intervals between taps after the music stopped", "ms"),
    "continuation_iti_cv": ("coefficient of variation of the intervals between taps after the music stopped", ""),
    "continuation_tempo_ratio": ("length of the intervals tapped after the music stopped", "× the beat"),
    "tempo_error_pct": ("tempo error after the music stopped", "% of the beat"),
    "drift_ms_per_interval": ("tempo drift after the music stopped", "ms per interval"),
    "drift_pct_per_interval": ("tempo drift after the music stopped", "% of the beat per interval"),
    "lag1_autocorrelation": ("lag-1 autocorrelation of the intervals after the music stopped", ""),
    "wk_clock_sd_ms": ("Wing–Kristofferson timekeeper standard deviation", "ms"),
    "wk_motor_sd_ms": ("Wing–Kristofferson motor standard deviation", "ms"),
    "irregular": ("number of irregular intervals after the music stopped", ""),
    # stop-and-go (engine/scoring/inhibition.py)
    "go_onsets": ("number of notes played while the music played", ""),
    "onsets_during_stop": ("number of notes played during the stop, after the grace", ""),
    "stop_latency_ms": ("time the child kept playing after the music stopped", "ms"),
    # fill-in-the-blank (engine/scoring/blanks.py)
    "blank_asynchrony_ms": ("timing of the note in the blank", "ms"),
    "extra_onsets": ("number of other notes in the phrase", ""),
}
"""Display name (lower case, no key, no parentheses) and unit of every numeric metric.

The unit is that of the value as scored ("" for a count, a probability or a coefficient; "out of 1" for a
score from 0 to 1), so a figure is never rescaled. Drift: positive = slowing down; ratios above 1 = slower."""

SHARE_METRICS = {"within_window_pct": ("beats", "tapped within {window} of the beat")}
"""Percentages of the units of a trial, read as a behaviour: (the units, what the child did with them).

"On average over 6 trials, 45 % of beats were tapped within ±80 ms of the beat"; ``{window}`` is
:func:`window_text` of the trial's timing window."""

SIGNED_METRICS = {
    "asynchrony_mean_ms": ("early", "late"),
    "mean_phase_deg": ("early", "late"),
    "blank_asynchrony_ms": ("early", "late"),
}
"""Figures whose sign is a side, read by size and side: (negative, positive): −20 ms reads "20 ms early"."""

#: Units whose figures keep 2 decimals, where format_value's rule (1 with a unit) would hide the figure:
#: a ratio or a 0-1 score reads 1.02, not 1.0; a drift of -0.44 % per interval, not -0.4.
_UNIT_DECIMALS = {"out of 1": 2, "× the music's": 2, "× the beat": 2, "× the call's intervals": 2,
                  "% of the beat per interval": 2}

#: A key that only the scores of one kind of activity have, to tell which kind a trial's scores come from.
_KIND_KEYS = (("response_present", "call_and_response"), ("stopped", "stop_and_go"),
              ("filled", "fill_in_the_blank"), ("waited", "turn_taking"), ("within_window_pct", "rhythmic_cueing"))


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


def kind_of_scores(scores: Mapping[str, Any]) -> str | None:
    """The kind of activity a trial's scores come from, by a key only that kind's scores have; None if unknown."""
    return next((kind for key, kind in _KIND_KEYS if key in scores), None)


def bool_phrase(metric: str, *, true: bool = True, kind: str | None = None) -> str:
    """The behaviour of a trial whose true/false ``metric`` is ``true``, e.g. "Stopped when the music stopped".

    ``kind``: the kind of activity, for ``correct`` ("Imitated correctly" in call-and-response). A metric
    without words reads from its key, without underscores.
    """
    if metric == "correct" and kind in CORRECT_PHRASES:
        return CORRECT_PHRASES[kind][0 if true else 1]
    words = BOOL_METRIC_PHRASES if true else BOOL_METRIC_NEGATIONS
    if metric in words:
        return words[metric]
    name = metric.replace("_", " ")
    return f"Had {name}" if true else f"Did not have {name}"


def window_text(window_ms: float | None) -> str:
    """A timing window as a sentence names it: "±80 ms", or "the timing window" when it is not known."""
    return "the timing window" if window_ms is None else f"±{format_value(float(window_ms), 'ms')}"


def share_words(metric: str, window_ms: float | None = None) -> tuple[str, str]:
    """For a metric of :data:`SHARE_METRICS`: (the units, what was done with them), e.g.
    ("beats", "tapped within ±80 ms of the beat")."""
    units, done = SHARE_METRICS[metric]
    return units, done.format(window=window_text(window_ms))


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

    Rounded half up (:func:`round_half_up`): 62.5 % → ``63 %``. A ratio or a score from 0 to 1 keeps two
    decimals with its unit (``1.02 × the beat``, ``0.85 out of 1``); a figure without a unit below 0.1 (a
    coefficient of variation such as 0.063) keeps three, so 0.014 and 0.006 do not both read 0.01.
    """
    if float(value).is_integer() or (unit and abs(value) >= 100):
        text = format_half_up("{:.0f}", float(value))
    elif unit and unit not in _UNIT_DECIMALS:
        text = format_half_up("{:.1f}", float(value))
    elif not unit and abs(value) < 0.1:
        text = format_half_up("{:.3f}", float(value))
    else:
        text = format_half_up("{:.2f}", float(value))
    return f"{text} {unit}" if unit else text


def metric_value_text(metric: str, value: float) -> str:
    """A figure of ``metric`` with its unit, a signed one by its size and side: −20 → "20 ms early"."""
    _, unit = metric_display(metric)
    if metric in SIGNED_METRICS and round_half_up(abs(value), 1):  # a figure that reads 0 has no side
        negative, positive = SIGNED_METRICS[metric]
        return f"{format_value(abs(value), unit)} {negative if value < 0 else positive}"
    return format_value(value, unit)


def threshold_text(metric: str, comparator: str, threshold: float) -> str:
    """A comparison with a threshold of ``metric`` in words: "at most 2000 ms", "at least 50 ms early".

    A signed metric is read by size and side (:data:`SIGNED_METRICS`), with words that keep the comparison
    true to the sign: ``asynchrony <= -50`` is "at least 50 ms early", ``>= -50`` "no earlier than 50 ms
    early" (a late tap passes), ``<= 200`` "no later than 200 ms late" (an early tap passes).
    """
    if metric in SIGNED_METRICS and threshold:
        words = _SIGNED_WORDS[threshold < 0][comparator]
        return f"{words} {metric_value_text(metric, threshold)}"
    return f"{COMPARATOR_WORDS[comparator]} {metric_value_text(metric, threshold)}"
