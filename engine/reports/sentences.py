"""Plain-language wording for reports: criteria, statuses, session notes.

The per-session and over-sessions sentences about an objective come from
:mod:`engine.scoring.objectives` (``SessionResult.summary`` and
``ObjectiveStatus.sentence``); this module words the rest the same way:
short sentences a therapist can paste into notes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

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
    COMPARATOR_WORDS,
    SHARE_METRICS,
    bool_phrase,
    metric_display,
    plural,
    round_half_up,
    threshold_text,
)

__all__ = [
    "REPORT_STATUSES",
    "axis_label",
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


#: How an aggregate over a visit's trials reads after a share ("on at least 70 % of beats on average …").
_SHARE_SCOPE = {"mean": "on average over a visit's trials", "median": "in the median trial of a visit",
                "min": "in the lowest trial of a visit", "max": "in the highest trial of a visit"}


def criterion_text(objective: Objective, *, kind: str | None = None, window_ms: float | None = None) -> str:
    """The objective's criterion in one sentence: behaviour, on which trials, against what, and mastery.

    E.g. "Imitated correctly on at least 4 of the first 5 trials (independent trials count); mastered when
    met in 3 consecutive visits on separate days." ``kind`` (the kind of activity) words ``correct``,
    ``window_ms`` the timing window of ``within_window_pct``; without them the words are general
    ("Responded correctly", "within the timing window"). The only parenthesis before the semicolon is the
    prompt levels counted, so ``text.split(" (")[0]`` is the criterion alone.
    """
    agg = objective.aggregate
    level = level_phrase(objective)
    at = f" {level}" if level else ""
    comparator = COMPARATOR_WORDS[objective.comparator]
    if objective.criterion == "aggregate" and agg in BOOL_AGGREGATES:
        phrase = bool_phrase(objective.metric, kind=kind)
        if agg == "percent_true":
            text = f"{phrase} on {comparator} {objective.threshold:g} % of a visit's trials{at}"
        else:
            text = f"{phrase} on {comparator} {plural(int(objective.threshold), 'trial')} of a visit{at}"
    elif objective.criterion == "aggregate" and objective.metric in SHARE_METRICS:
        text = f"{trial_test_phrase(objective, window_ms=window_ms)} {_SHARE_SCOPE[agg]}{at}"
    elif objective.criterion == "aggregate":
        name, _ = metric_display(objective.metric)
        text = (f"{AGGREGATE_WORDS[agg]} {name} over a visit's trials{at} was "
                f"{threshold_text(objective.metric, objective.comparator, objective.threshold)}")
    else:
        test = trial_test_phrase(objective, kind=kind, window_ms=window_ms)
        if objective.criterion == "k_of_n_consecutive":
            text = f"{test} on at least {objective.k} trials in a row among the first {objective.n}{at}"
        else:
            text = f"{test} on at least {objective.k} of the first {plural(objective.n, 'trial')}{at}"
    prompts = objective.counted_prompts
    counted = f"{_and_list(prompts)} trials count"
    if objective.criterion == "aggregate":
        counted += f", at least {objective.min_trials} of them"
    return (f"{text} ({counted}); mastered when met in "
            f"{plural(objective.sessions, 'consecutive visit')} on separate days.")


def axis_label(objective: Objective) -> str:
    """What an objective's plot shows on its y axis, one point per visit, with the unit, e.g. "Median tempo
    drift after the music stopped (% of the beat per interval)" or "% of trials: stopped when the music
    stopped"."""
    agg = objective.aggregate
    if objective.criterion == "aggregate" and agg not in BOOL_AGGREGATES:
        name, unit = metric_display(objective.metric)
        return f"{AGGREGATE_WORDS[agg]} {name}" + (f" ({unit})" if unit else "")
    phrase = bool_phrase(objective.metric) if agg in BOOL_AGGREGATES else trial_test_phrase(objective)
    what = "Trials" if agg == "count_true" else "% of trials"
    return f"{what}: {phrase[0].lower()}{phrase[1:]}"


def _and_list(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return f"{', '.join(items[:-1])} and {items[-1]}" if len(items) > 1 else items[0]


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
                      probe: str | None = None, dropouts: int = 0) -> list[str]:
    """The opening sentences of a session progress note.

    ``n_trials`` is what the note's trial table shows (one row a trial); ``beats``: a rhythmic-cueing
    session's beats over those trials (each trial a bar); ``played``: what ran when it was no script
    ("a MIDI song", "free play": nothing to score); ``simulated``: who played a simulated visit ("a
    simulated child (model 'steady')"); ``probe``: the assessment task(s) of a probe shown as baseline.
    ``duration_s`` is the session's own time (its stream clock), never the wall clock. ``dropouts``: trials
    an audio dropout fell within (left out of the objectives).
    """
    if played and not n_trials:
        return [*_more_sentences(f"{title} ran for {duration_text(duration_s)} ({played}), with no trials to "
                                 "score.", status, skipped_lines, simulated, probe)]
    if not n_trials:
        return [*_more_sentences(f"{title} ran for {duration_text(duration_s)} with no trials.", status,
                                 skipped_lines, simulated, probe)]
    counted = f" ({plural(beats, 'beat')}, one bar a trial)" if beats else ""
    first = f"{title} ran for {duration_text(duration_s)} with {plural(n_trials, 'trial')}{counted}"
    unmarked = prompts.get(NOT_RECORDED, 0)
    if unmarked == n_trials:
        first += "; no prompt level was recorded for them."
    elif set(prompts) <= {"independent"}:
        first += ", all without prompts."
    else:
        levels = [f"{n} {level}" for level, n in prompts.items() if level != NOT_RECORDED]
        if unmarked:
            levels.append(f"{unmarked} without a recorded prompt level")
        first += f": {_and_list(levels)}."
    out = _more_sentences(first, status, skipped_lines, simulated, probe)
    if dropouts:
        which = "1 trial" if dropouts == 1 else f"{dropouts} trials"
        out.append(f"The audio stopped briefly (a dropout) during {which}, so "
                   f"{'it was' if dropouts == 1 else 'they were'} left out of the objectives.")
    return out


def _more_sentences(first: str, status: str, skipped_lines: int, simulated: str | None,
                    probe: str | None) -> list[str]:
    """A progress note's first sentence, then what the reader must know about the visit's data."""
    out = [first]
    if simulated:
        out.append(f"This was a simulated visit, not a child's data: {simulated} played it (shown because "
                   f"simulated visits were asked for).")
    if probe:
        out.append(f"This was an assessment probe ({probe}), shown as a baseline point of the plan objectives "
                   f"that name it; it is not a treatment visit.")
    if status == "interrupted":
        out.append("The visit was cut off before it ended (interrupted); the trials completed before "
                   "that are included.")
    elif status == "stopped":
        out.append("The therapist stopped the visit before all its trials.")
    if skipped_lines:
        out.append(f"{plural(skipped_lines, 'line')} of the visit's log could not be read "
                   f"(cut off by the interruption) and {'was' if skipped_lines == 1 else 'were'} left out.")
    return out


def setup_text(header: dict, kind: str) -> str:
    """The devices a session ran on and how their latencies were known, for its progress note."""
    if kind == "demo":
        return "A simulated child played on the offline stream, so there were no device latencies."
    parts = [f"MIDI input {header['midi_in']}" if header.get("midi_in") else "",
             "the microphone" if header.get("mic") else "",
             f"audio device {header['audio_device']}" if header.get("audio_device") else ""]
    parts = [p for p in parts if p]
    if parts:
        used = f"The visit used {_and_list(parts)}."
    else:
        used = "No input device was recorded for this visit."
    note = (header.get("calibration") or {}).get("note") or (
        "No calibration profile was recorded for this visit (it ran before calibration existed, or without one): "
        "timing used the device's reported latencies only.")
    return f"{used} {note}"


def simulated_child_text(header: dict) -> str:
    """Who played a simulated visit, from its log's header: e.g. "a simulated child (model 'steady')"."""
    sim = header.get("simulated_child")
    if isinstance(sim, dict) and sim.get("model"):
        return f"a simulated child (model '{sim['model']}')"
    if isinstance(sim, dict) and sim.get("profile"):
        return f"a simulated child (tapping profile '{sim['profile']}')"
    return "a simulated child"
