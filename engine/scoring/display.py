"""How scores read to a person: the few that sum up a trial of each kind, and one score as text.

Shared by the live trial lines (``tandem run``, ``tandem demo``) and the
reports' trial tables, so a figure reads the same on screen and on paper.
"""

from __future__ import annotations

from typing import Any

from engine.scoring.words import format_half_up

__all__ = ["TRIAL_SCORES", "format_score"]

TRIAL_SCORES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "call_and_response": (("response_latency_ms", "latency", "{:.0f} ms"),
                          ("onsets_matched", "notes matched", "{}"), ("onsets_missed", "notes missed", "{}"),
                          ("ioi_error_ms", "rhythm error", "{:.0f} ms")),
    "turn_taking": (("waited", "waited", "{}"), ("initiated", "started a turn", "{}"),
                    ("initiation_latency_ms", "latency", "{:.0f} ms"),
                    ("turn_length_notes", "turn length", "{} notes")),
    "rhythmic_cueing": (("within_window_pct", "on the beat", "{:.0f} %"),
                        ("asynchrony_mean_ms", "timing", "{:+.0f} ms"),
                        ("asynchrony_sd_ms", "timing SD", "{:.0f} ms"),
                        ("missed", "beats missed", "{}"),
                        ("continuation_tempo_ratio", "alone: intervals", "{:.2f} × the beat"),
                        ("drift_pct_per_interval", "drift per interval", "{:+.2f} % of the beat")),
    "stop_and_go": (("played_during_go", "played with the music", "{}"), ("stopped", "stopped", "{}"),
                    ("stop_latency_ms", "kept playing", "{:.0f} ms")),
    "fill_in_the_blank": (("filled", "filled the blank", "{}"), ("blank_asynchrony_ms", "timing", "{:+.0f} ms")),
}
"""Per kind of intervention: (score key, label, format) of the scores that sum up one trial."""


def format_score(value: Any, spec: str = "{}") -> str:
    """A score as a reader sees it: yes/no, numbers rounded half up (62.5 % → "63 %"), a dash for none."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_score(v) for v in value) or "–"
    try:
        return format_half_up(spec, value)
    except (ValueError, TypeError):
        return str(value)
