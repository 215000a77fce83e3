"""How metrics, comparators and aggregates read in a sentence a therapist can paste into notes.

Shared by the objectives' own sentences (:mod:`engine.scoring.objectives`:
``SessionResult.summary``, ``ObjectiveStatus.sentence``), the scores'
reasons (:mod:`engine.scoring.sync`, :mod:`engine.scoring.imitation`) and
the reports' wording (:mod:`engine.reports.sentences`), so a figure reads
the same everywhere.
"""

from __future__ import annotations

__all__ = [
    "AGGREGATE_WORDS",
    "BOOL_METRIC_PHRASES",
    "COMPARATOR_WORDS",
    "NUMERIC_METRIC_NAMES",
    "format_value",
    "metric_display",
    "plural",
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


def format_value(value: float, unit: str) -> str:
    """A figure with its unit as a sentence shows it: whole numbers plain, ``12.5 ms``, ``0.85`` without a unit."""
    if float(value).is_integer() or (unit and abs(value) >= 100):
        text = f"{value:.0f}"
    elif unit:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}" if unit else text
