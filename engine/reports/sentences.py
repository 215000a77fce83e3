"""Plain-language wording for reports: criteria, statuses, session notes.

The per-session and over-sessions sentences about an objective come from
:mod:`engine.scoring.objectives` (``SessionResult.summary`` and
``ObjectiveStatus.sentence``); this module words the rest the same way:
short sentences a therapist can paste into notes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from engine.scoring.objectives import (
    BOOL_AGGREGATES,
    NOT_RECORDED,
    PROMPT_LEVELS,
    Objective,
    level_phrase,
    trial_test_phrase,
)
from engine.scoring.words import (
    AGGREGATE_WORDS,
    BOOL_METRIC_PHRASES,
    COMPARATOR_WORDS,
    format_value,
    metric_display,
    plural,
    round_half_up,
)

__all__ = [
    "REPORT_STATUSES",
    "criterion_text",
    "duration_text",
    "prompt_counts",
    "prompt_text",
    "session_sentences",
    "setup_text",
    "simulated_child_text",
    "status_label",
]

REPORT_STATUSES = ("not started", "in progress", "met", "mastered")
"""The statuses a report shows (``met this session`` reads ``met``)."""

_STATUS_MAP = {"not started": "not started", "in progress": "in progress", "met this session": "met",
               "met": "met", "mastered": "mastered"}


def status_label(status: str | None) -> str:
    """The report's status for an objective status (``met this session`` → ``met``)."""
    return _STATUS_MAP.get(status or "", "not started")


def criterion_text(objective: Objective) -> str:
    """The objective's criterion in one sentence, e.g. "Imitated correctly on at least 4 of 5 trials."."""
    agg = objective.aggregate
    if objective.criterion == "aggregate" and agg in BOOL_AGGREGATES:
        phrase = BOOL_METRIC_PHRASES.get(objective.metric,
                                         f"{metric_display(objective.metric)[0].capitalize()}: yes")
        words = COMPARATOR_WORDS[objective.comparator]
        if agg == "percent_true":
            text = f"{phrase} on {words} {objective.threshold:g} % of trials"
        else:
            text = f"{phrase} on {words} {plural(int(objective.threshold), 'trial')}"
    elif objective.criterion == "aggregate":
        name, unit = metric_display(objective.metric)
        text = (f"{AGGREGATE_WORDS[agg]} {name} {COMPARATOR_WORDS[objective.comparator]} "
                f"{format_value(objective.threshold, unit)} over a session's trials")
    else:
        text = f"{trial_test_phrase(objective)} on at least {objective.k} of {objective.n}"
        text += " consecutive trials" if objective.criterion == "k_of_n_consecutive" else " trials"
    level = level_phrase(objective)
    if level:
        text += f" {level}"
    prompts = objective.counted_prompts
    if prompts == ("independent",):
        counted = "independent trials count"
    else:
        counted = f"{', '.join(prompts[:-1])} and {prompts[-1]} trials count" if len(prompts) > 1 \
            else f"{prompts[0]} trials count"
    return (f"{text} ({counted}); mastered when met in "
            f"{plural(objective.sessions, 'consecutive session')} on separate days.")


def prompt_counts(prompts: Iterable[str]) -> dict[str, int]:
    """Trials per prompt level, in the order of :data:`PROMPT_LEVELS` (levels with none left out)."""
    counts = Counter(prompts)
    ordered = {level: counts[level] for level in PROMPT_LEVELS if counts[level]}
    for level, n in counts.items():  # a level Tandem does not know is still shown
        ordered.setdefault(level, n)
    return ordered


def prompt_text(counts: dict[str, int]) -> str:
    """E.g. "8 independent, 2 gestural"; "–" for none."""
    return ", ".join(f"{n} {level}" for level, n in counts.items()) or "–"


def duration_text(seconds: float | None) -> str:
    """E.g. "12 min 5 s" or "45 s"."""
    if seconds is None:
        return "–"
    total = int(round_half_up(float(seconds)))
    minutes, secs = divmod(total, 60)
    if minutes and secs:
        return f"{minutes} min {secs} s"
    return f"{minutes} min" if minutes else f"{secs} s"


def session_sentences(*, title: str, status: str, duration_s: float | None, n_trials: int,
                      prompts: dict[str, int], skipped_lines: int = 0, beats: int | None = None,
                      played: str | None = None, simulated: str | None = None,
                      probe: str | None = None) -> list[str]:
    """The opening sentences of a session progress note.

    ``n_trials`` is what the note's trial table shows (one row a trial); ``beats``: a rhythmic-cueing
    session's beats over those trials (each trial a bar); ``played``: what ran when it was no script
    ("a MIDI song", "free play": nothing to score); ``simulated``: who played a simulated visit ("a
    simulated child (model 'steady')"); ``probe``: the assessment task(s) of a probe shown as baseline.
    ``duration_s`` is the session's own time (its stream clock), never the wall clock.
    """
    unmarked = prompts.get(NOT_RECORDED, 0)
    help_given = {k: v for k, v in prompts.items() if k not in ("independent", NOT_RECORDED)}
    if played and not n_trials:
        first = f"{title}: {played} for {duration_text(duration_s)}, with no trials to score"
    elif not n_trials:
        first = f"{title}: no trials in {duration_text(duration_s)}"
    else:
        counted = f" ({plural(beats, 'beat')}, one bar a trial)" if beats else ""
        first = f"{title}: {plural(n_trials, 'trial')}{counted} in {duration_text(duration_s)}"
    if n_trials and not help_given and not unmarked:
        first += ", all without prompts."
    elif help_given:
        first += f"; prompts given: {prompt_text(help_given)} ({prompts.get('independent', 0)} independent)."
    elif unmarked and unmarked == n_trials:
        first += "; no prompt level was recorded."
    elif unmarked:
        first += f"; {prompts.get('independent', 0)} independent."
    else:
        first += "."
    if unmarked and unmarked != n_trials:
        first = first[:-1] + f"; {plural(unmarked, 'trial')} without a recorded prompt level."
    out = [first]
    if simulated:
        out.append(f"Simulated visit, not a child's data: {simulated} played it (shown because simulated visits "
                   f"were asked for).")
    if probe:
        out.append(f"An assessment probe ({probe}), shown as a baseline point of the plan objectives that name it; "
                   f"it is not a treatment visit.")
    if status == "interrupted":
        out.append("The session was cut off before it ended (interrupted); the trials completed before "
                   "that are included.")
    elif status == "stopped":
        out.append("The therapist stopped the session before all its trials.")
    if skipped_lines:
        out.append(f"{plural(skipped_lines, 'line')} of the session log could not be read "
                   f"(cut off by the interruption) and {'was' if skipped_lines == 1 else 'were'} left out.")
    return out


def setup_text(header: dict, kind: str) -> str:
    """The devices a session ran on and how their latencies were known, for its progress note."""
    if kind == "demo":
        return "A simulated child on the offline stream (no device latencies)."
    parts = [f"MIDI {header['midi_in']}" if header.get("midi_in") else "",
             "microphone" if header.get("mic") else "", f"audio {header['audio_device']}" if header.get("audio_device")
             else ""]
    devices = ", ".join(p for p in parts if p) or "no input device recorded"
    note = (header.get("calibration") or {}).get("note") or (
        "No calibration profile was recorded for this session (it ran before calibration existed, or without one): "
        "timing used the device's reported latencies only.")
    return f"{devices}. {note}"


def simulated_child_text(header: dict) -> str:
    """Who played a simulated visit, from its log's header: e.g. "a simulated child (model 'steady')"."""
    sim = header.get("simulated_child")
    if isinstance(sim, dict) and sim.get("model"):
        return f"a simulated child (model '{sim['model']}')"
    if isinstance(sim, dict) and sim.get("profile"):
        return f"a simulated child (tapping profile '{sim['profile']}')"
    return "a simulated child"
