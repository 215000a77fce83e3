"""The battery's figures, computed from each task's session log (simulated or live alike).

A task's figures are pure functions of its session log: the ``trial``
lines (the kind's scores, as ``tandem rescore`` recomputes them), the
``plan`` lines (tempo, pattern length), the child's accepted ``input``
events (free tapping's inter-tap intervals) and the therapist's ``mark``
lines (sensory ratings). :func:`read_task_log` reads those;
:func:`task_figures` turns them into :class:`~engine.assessment.results.Figure`
values with definitions, ``n`` and spread.

**Pooling.** A synchronisation task is scored bar by bar; its figures pool
the bars exactly: the mean asynchrony is the mean over every matched tap
(bar means weighted by their matched taps), the SD the pooled sample SD
(within-bar sums of squares plus the between-bar part, ``ddof=1``), the
within-window share is hits over beats (a bar too sparse to score counts
its beats as missed).

**References** are adult values from Bååth & Madison (2012) in
``engine/data/tapping_norms.json`` at the *measured* beat interval nearest
to the task's (600–3000 ms were measured; no interpolation and no child
norms): mean asynchrony (spread: SD between the 30 subjects' means) and
within-trial SD of asynchrony.

**No response.** :func:`played_nothing` says whether the child played
nothing at all in a trial (from its scores); :func:`no_response_cut`
finds the first run of :data:`~engine.assessment.tasks.NO_RESPONSE_RUN`
such trials, where the battery ends the task.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from engine.assessment.results import Figure, Rating, Reference
from engine.assessment.staircase import Staircase
from engine.assessment.tasks import (
    NO_RESPONSE_RUN,
    PROBE_BARS,
    SENSORY_KEYS,
    SENSORY_PROBES,
    STAIRCASE,
    WINDOW_MS,
)
from engine.errors import ConfigError
from engine.interventions.inputs import accepts_input, add_child_event
from engine.records.reader import LogLines, log_path, read_header, read_log_bytes, script_for
from engine.scoring.words import format_half_up, round_half_up

__all__ = ["TaskLog", "no_response_cut", "played_nothing", "probes_played", "read_task_log", "reference_at",
           "sensory_ratings", "task_figures"]

MIN_FREE_TAPS = 8  # as the cueing kind's free play: fewer taps give no tempo


@dataclass
class TaskLog:
    """What a task's session log holds for its figures (times in seconds on the session's stream clock)."""

    header: dict[str, Any]
    plans: list[dict[str, Any]] = field(default_factory=list)
    trials: list[dict[str, Any]] = field(default_factory=list)  # with "plan": the trial's plan line
    events: list[tuple[float, int | None]] = field(default_factory=list)  # the child's accepted events
    marks: list[tuple[float, str]] = field(default_factory=list)  # (time_s, key) of the therapist's marks
    summary: dict[str, Any] | None = None

    def scored(self, phase: str = "trial") -> list[dict[str, Any]]:
        return [t for t in self.trials if t.get("phase", "trial") == phase]


def read_task_log(folder: str | Path) -> TaskLog:
    """Read a task session's log (its folder or ``events.jsonl``); see :class:`TaskLog`.

    The child's events are those the session's script accepts, taken as the
    session took them (:func:`engine.interventions.inputs.accepts_input`).

    Raises
    ------
    engine.errors.DataDirError
        The log cannot be read.
    engine.errors.ConfigError
        Its script is missing or changed.
    """
    path = log_path(folder)
    header = read_header(path)
    script, why = script_for(header)
    if script is None:
        raise ConfigError(f"{path} cannot be read for the assessment: {why}.")
    rate = float(header["sample_rate"])
    log = TaskLog(header)
    open_plans: dict[tuple[Any, Any], dict] = {}
    for d in LogLines(read_log_bytes(path).split(b"\n")[1:]):
        kind = d.get("type")
        if kind == "input":
            if accepts_input(script, d.get("source", ""), d.get("key", ""), d.get("note", -1)):
                add_child_event(log.events, d["frame"] / rate, d.get("note", -1))
        elif kind == "plan":
            log.plans.append(d)
            open_plans[(d.get("index"), d.get("phase"))] = d
        elif kind == "trial":
            plan = open_plans.pop((d.get("index"), d.get("phase")), None)
            log.trials.append({**d, "plan": plan or {}})
        elif kind == "mark":
            log.marks.append((d["frame"] / rate, str(d.get("key", ""))))
        elif kind == "summary":
            log.summary = d
    return log


# -- no response ---------------------------------------------------------------------------------------

def played_nothing(kind: str, scores: dict[str, Any]) -> bool:
    """Whether the child played nothing at all in a trial of ``kind``, from its scores."""
    if kind == "rhythmic_cueing":
        return not scores.get("n_taps") and not scores.get("continuation_n_taps")
    if kind == "call_and_response":
        return not scores.get("n_response") and not scores.get("onsets_during_call")
    if kind == "turn_taking":
        return scores.get("waited") is None  # None: nothing during the engine's turn nor after it
    if kind == "stop_and_go":
        return scores.get("stopped") is None and not scores.get("go_onsets")
    if kind == "fill_in_the_blank":
        return not scores.get("filled") and not scores.get("extra_onsets")
    raise ValueError(f"unknown kind {kind!r}")


def no_response_cut(kind: str, scores: Sequence[dict[str, Any]], run: int = NO_RESPONSE_RUN) -> int | None:
    """The number of trials after which the battery stops for no response (the end of the first run of
    ``run`` trials in a row with nothing played), or None when there is no such run."""
    silent = 0
    for i, s in enumerate(scores):
        silent = silent + 1 if played_nothing(kind, s) else 0
        if silent >= run:
            return i + 1
    return None


# -- references ----------------------------------------------------------------------------------------

@functools.cache
def _norms() -> dict[str, Any]:
    return json.loads(resources.files("engine").joinpath("data", "tapping_norms.json").read_text("utf-8"))


def reference_at(tempo_bpm: float, what: str = "mean") -> Reference:
    """Adult reference at the measured beat interval nearest to ``tempo_bpm`` (see the module docstring).

    ``what``: ``"mean"`` (mean asynchrony, spread = SD between subjects' means) or ``"sd"`` (within-trial SD
    of asynchrony; no spread).
    """
    data = _norms()
    isi_ms = 60000.0 / tempo_bpm
    row = min(data["norms"], key=lambda r: abs(r["isi_ms"] - isi_ms))
    near = "" if abs(row["isi_ms"] - isi_ms) < 0.5 else (
        f"; nearest measured interval to this task's {format_half_up('{:.0f}', isi_ms)} ms (no data at it)")
    population = (f"{row['n_subjects']} adults tapping to a metronome at {row['isi_ms']} ms "
                  f"({format_half_up('{:.0f}', 60000.0 / row['isi_ms'])} BPM), {row['n_taps']} taps{near}")
    source = data["source"].split(" Data file")[0]
    if what == "mean":
        return Reference(value=row["mean_asynchrony_ms"], spread=row["between_subject_sd_ms"],
                         population=population + "; spread: SD between the subjects' mean asynchronies, ms",
                         source=source)
    return Reference(value=row["within_trial_sd_ms"], spread=None,
                     population=population + "; pooled within-trial SD", source=source)


# -- figures -------------------------------------------------------------------------------------------

def _r(x: float | None, nd: int = 1) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round_half_up(float(x), nd)


def _sd(values: Sequence[float]) -> float | None:
    return statistics.stdev(values) if len(values) >= 2 else None


def _iqr(values: Sequence[float]) -> float | None:
    if len(values) < 2:
        return None
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[2] - q[0]


def _pct(flags: Sequence[bool]) -> float | None:
    return 100.0 * sum(bool(f) for f in flags) / len(flags) if flags else None


def free_tapping(log: TaskLog) -> tuple[list[float], dict[str, Any] | None]:
    """The child's taps in the free-play window (seconds) and the free-play trial line (None without one)."""
    free = next((t for t in log.trials if t.get("phase") == "free_play"), None)
    if free is None:
        return [], None
    lo = free["plan"].get("child_start_s", free.get("start_s", 0.0))
    hi = free.get("close_s", free["plan"].get("child_end_s", math.inf))
    return [t for t, _ in log.events if lo - 1e-9 <= t <= hi + 1e-9], free


def spontaneous_figures(log: TaskLog) -> tuple[list[Figure], dict[str, Any]]:
    taps, free = free_tapping(log)
    itis = [1000.0 * (b - a) for a, b in itertools.pairwise(taps)]
    details = {"taps": len(taps), "free_play_s": None if free is None else round(
        free.get("close_s", 0.0) - free["plan"].get("child_start_s", 0.0), 3)}
    if len(taps) < MIN_FREE_TAPS:
        return [], details
    median = statistics.median(itis)
    mean = statistics.fmean(itis)
    sd = statistics.stdev(itis)
    details.update(iti_median_ms=_r(median), iti_mean_ms=_r(mean))
    return [
        Figure("smt_bpm", "Spontaneous motor tempo", _r(60000.0 / median), "BPM",
               "The child's own tempo when tapping freely with no music: 60 000 / the median inter-tap "
               "interval (ms) over the free play.", len(taps), _r(sd), "SD of the inter-tap intervals, ms"),
        Figure("smt_iti_cv_pct", "Evenness of free tapping (ITI CV)", _r(100.0 * sd / mean), "%",
               "Coefficient of variation of the inter-tap intervals in free play: their SD over their mean; "
               "lower is steadier. Every interval counts (a pause or a double hit too).", len(itis)),
        Figure("smt_iti_ms", "Median inter-tap interval in free play", _r(median), "ms",
               "The median interval between consecutive free taps.", len(itis), _r(_iqr(itis)),
               "interquartile range of the inter-tap intervals, ms"),
    ], details


def sync_figures(trials: Sequence[dict[str, Any]]) -> tuple[list[Figure], dict[str, Any]]:
    """Pooled synchronisation figures of rhythmic-cueing bars (see the module docstring)."""
    if not trials:
        return [], {}
    tempo = statistics.fmean(float(t["tempo_bpm"]) for t in trials)
    beats = sum(int(t["scores"].get("n_cues") or 0) for t in trials)
    hits = sum((t["scores"].get("within_window_pct") or 0.0) * int(t["scores"].get("n_cues") or 0) / 100.0
               for t in trials)
    per_bar = [t["scores"].get("within_window_pct") or 0.0 for t in trials]
    groups = [(int(t["scores"].get("matched") or 0), t["scores"].get("asynchrony_mean_ms"),
               t["scores"].get("asynchrony_sd_ms")) for t in trials]
    groups = [(m, mu, sd) for m, mu, sd in groups if m > 0 and mu is not None]
    matched = sum(m for m, _, _ in groups)
    mean = sum(m * mu for m, mu, _ in groups) / matched if matched else None
    sd = None
    if matched >= 2:
        ss = sum((m - 1) * (s or 0.0) ** 2 + m * (mu - mean) ** 2 for m, mu, s in groups)
        sd = math.sqrt(ss / (matched - 1))
    window = trials[0]["scores"].get("window_ms", WINDOW_MS)
    figures = [
        Figure("tempo_bpm", "Tempo of the beat", _r(tempo), "BPM", "The tempo the beat was played at.",
               len(trials)),
        Figure("within_window_pct", f"Beats tapped within ±{window:g} ms", _r(hits / beats * 100.0) if beats else None,
               "%", f"Share of the beats (all bars together) with a tap within ±{window:g} ms of the heard beat; "
                    f"a missed beat, or a bar too sparse to score, counts as not within.", beats,
               _r(_sd(per_bar)), "SD of the share across bars, percentage points"),
        Figure("asynchrony_mean_ms", "Mean asynchrony", _r(mean), "ms",
               "Mean of tap time − heard beat time over every tap matched to a beat (nearest tap within half a "
               "beat); negative = ahead of the beat.", matched, _r(sd), "SD of the asynchronies, ms",
               reference_at(tempo, "mean")),
        Figure("asynchrony_sd_ms", "Timing variability (SD of asynchrony)", _r(sd), "ms",
               "Sample SD of the asynchronies of every matched tap, pooled over the bars (within-bar and "
               "between-bar parts).", matched, None, None, reference_at(tempo, "sd")),
    ]
    return figures, {"bars": len(trials), "beats": beats, "matched_taps": matched}


def continuation_figures(trials: Sequence[dict[str, Any]]) -> tuple[list[Figure], dict[str, Any]]:
    figures, details = sync_figures(trials)
    ok = [t["scores"] for t in trials if t["scores"].get("continuation_scorable")]
    drift = [100.0 * (s["continuation_tempo_ratio"] - 1.0) for s in ok if s.get("continuation_tempo_ratio") is not None]
    cv = [100.0 * s["continuation_iti_cv"] for s in ok if s.get("continuation_iti_cv") is not None]
    slope = [s["drift_pct_per_interval"] for s in ok if s.get("drift_pct_per_interval") is not None]
    clock = [s["wk_clock_sd_ms"] for s in ok if s.get("wk_clock_sd_ms") is not None]
    motor = [s["wk_motor_sd_ms"] for s in ok if s.get("wk_motor_sd_ms") is not None]
    mean = statistics.fmean
    sync = {f.id: f for f in figures}
    out = [
        Figure("continuation_tempo_drift_pct", "Tempo kept alone (change from the beat)",
               _r(mean(drift)) if drift else None, "%",
               "How much slower (+) or faster (−) the child's taps were than the beat after it stopped: "
               "(mean continuation inter-tap interval / the beat's interval − 1) × 100, mean over the runs.",
               len(drift), _r(_sd(drift)), "SD across runs, percentage points"),
        Figure("continuation_iti_cv_pct", "Evenness alone (continuation ITI CV)", _r(mean(cv)) if cv else None, "%",
               "Coefficient of variation of the inter-tap intervals after the beat stopped, mean over the runs.",
               len(cv), _r(_sd(cv)), "SD across runs, percentage points"),
        Figure("continuation_drift_pct_per_interval", "Slowing per interval alone",
               _r(mean(slope), 2) if slope else None, "% of the beat per interval",
               "Least-squares slope of the continuation intervals over their number, as % of the beat's interval "
               "(+ = slowing down), mean over the runs.", len(slope), _r(_sd(slope), 2),
               "SD across runs, % per interval"),
        Figure("continuation_wk_clock_sd_ms", "Timekeeper variability (Wing–Kristofferson)",
               _r(mean(clock)) if clock else None, "ms",
               "Wing & Kristofferson (1973) clock SD of the continuation intervals, mean over the runs where the "
               "model fits.", len(clock)),
        Figure("continuation_wk_motor_sd_ms", "Motor variability (Wing–Kristofferson)",
               _r(mean(motor)) if motor else None, "ms",
               "Wing & Kristofferson (1973) motor SD of the continuation intervals, mean over the runs where the "
               "model fits.", len(motor)),
        Figure("sync_within_window_pct", sync["within_window_pct"].label + " (with the beat)",
               sync["within_window_pct"].value, "%", sync["within_window_pct"].definition, sync["within_window_pct"].n,
               sync["within_window_pct"].spread, sync["within_window_pct"].spread_label),
        sync["tempo_bpm"],
    ]
    return out, {**details, "runs": len(trials), "runs_scorable": len(ok)}


def staircase_figures(trials: Sequence[dict[str, Any]], *, melodic: bool) -> tuple[list[Figure], dict[str, Any]]:
    levels = [int(t["plan"].get("params", {}).get("notes") or 0) for t in trials]
    answers = [bool(t.get("correct")) for t in trials]
    stair = Staircase.replay(answers, levels, **STAIRCASE)
    span = stair.span()
    rule = stair.span_rule()
    rl = stair.reversal_levels
    prefix = "melodic" if melodic else "imitation"
    what = "melodies (right notes required)" if melodic else "rhythms"
    span_def = (f"Length (notes) of the {what} the child echoes correctly, from a 1-up/1-down staircase over the "
                f"pattern's length ({STAIRCASE['start']} notes first, {STAIRCASE['lo']}–{STAIRCASE['hi']}): "
                + ("the mean of the lengths at the reversals (trials where a correct run turned into a miss or "
                   f"back), since there were at least {STAIRCASE['min_reversals_for_mean']}."
                   if rule == "reversal_mean" else
                   "the longest length echoed correctly, since the staircase had fewer than "
                   f"{STAIRCASE['min_reversals_for_mean']} reversals (it went up to the longest, or ran out)."
                   if rule == "longest_passed" else
                   "none, since no pattern was echoed correctly (not even the shortest)."))
    figures = [
        Figure(f"{prefix}_span" if melodic else "imitation_span",
               "Melodic imitation span" if melodic else "Rhythm imitation span", _r(span, 2), "notes", span_def,
               len(trials), _r(_sd(rl), 2) if rule == "reversal_mean" else None,
               "SD of the reversal lengths, notes" if rule == "reversal_mean" else None),
        Figure(f"{prefix}_correct_pct", "Echoes correct", _r(_pct(answers)), "%",
               "Share of the calls echoed correctly (every onset matched, intervals within tolerance"
               + (", the right notes" if melodic else "") + "), over every length tried.", len(trials)),
    ]
    # Any sound in the answer window, right or wrong: the engagement a call met (an objective on
    # response_present; docs/baseline.md, "Engagement and tolerance").
    answered = [bool(t["scores"].get("response_present")) for t in trials]
    figures.append(Figure(f"{prefix}_response_pct", "Calls answered (any sound)", _r(_pct(answered)), "%",
                          "Share of the calls after which the child played anything in the answer window, right "
                          "or wrong (response present).", len(trials)))
    pitch = [t["scores"]["pitch_match"] for t in trials if t["scores"].get("pitch_match") is not None]
    if melodic:
        figures.append(Figure("melodic_pitch_match_pct", "Right notes", _r(100.0 * statistics.fmean(pitch))
                              if pitch else None, "%", "Share of the matched notes echoed on the right key, mean "
                              "over the echoes.", len(pitch), _r(100.0 * _sd(pitch)) if len(pitch) > 1 else None,
                              "SD across echoes, percentage points"))
    return figures, {"levels": levels, "correct": answers, "reversals": stair.reversals,
                     "reversal_levels": rl, "span_rule": rule, "staircase_stop": stair.stop_reason,
                     "staircase": dict(STAIRCASE)}


def turn_figures(trials: Sequence[dict[str, Any]]) -> tuple[list[Figure], dict[str, Any]]:
    s = [t["scores"] for t in trials]
    waited = [x["waited"] for x in s if x.get("waited") is not None]
    # A turn counts only after a wait (docs/definitions.md); so a log scored before that rule reads the same.
    init = [bool(x.get("initiated")) and x.get("waited") is True for x in s]
    lat = [x["initiation_latency_ms"] for x, took in zip(s, init, strict=True)
           if took and x.get("initiation_latency_ms") is not None]
    return [
        Figure("waited_pct", "Waited during the engine's turn", _r(_pct(waited)), "%",
               "Share of the hand-overs in which the child did not play over the engine's phrase (outside a "
               "0.2 s grace at each end); trials where the child played nothing at all are not counted.",
               len(waited)),
        Figure("initiated_pct", "Started after the hand-over", _r(_pct(init)), "%",
               "Share of the hand-overs after which the child, having waited through the engine's phrase, "
               "started playing within 3 s (playing through the engine's turn and on past the hand-over is not "
               "a turn).", len(init)),
        Figure("initiation_latency_ms", "Time to start the turn", _r(statistics.median(lat)) if lat else None, "ms",
               "Median time from the hand-over to the child's first note, over the turns it started.", len(lat),
               _r(_iqr(lat)), "interquartile range, ms"),
    ], {}


def stop_figures(trials: Sequence[dict[str, Any]]) -> tuple[list[Figure], dict[str, Any]]:
    s = [t["scores"] for t in trials]
    stopped = [x["stopped"] for x in s if x.get("stopped") is not None]
    lat = [x["stop_latency_ms"] for x in s if x.get("stop_latency_ms") is not None]
    go = [bool(x.get("played_during_go")) for x in s]
    grace = s[0].get("grace_ms", 400) if s else 400
    return [
        Figure("stopped_pct", "Stopped when the music stopped", _r(_pct(stopped)), "%",
               f"Share of the stops in which the child played nothing after the music stopped (past a {grace:g} ms "
               f"grace for a hit already on its way); trials where the child played nothing at all are not counted.",
               len(stopped)),
        Figure("stop_latency_ms", "Time to stop", _r(statistics.median(lat)) if lat else None, "ms",
               "Median time from the music stopping to the child's last hit in the stop (0 = stopped at once).",
               len(lat), _r(_iqr(lat)), "interquartile range, ms"),
        Figure("played_during_go_pct", "Played while the music played", _r(_pct(go)), "%",
               "Share of the trials with at least 2 hits while the music played.", len(go)),
    ], {}


def fill_figures(trials: Sequence[dict[str, Any]]) -> tuple[list[Figure], dict[str, Any]]:
    s = [t["scores"] for t in trials]
    filled = [bool(x.get("filled")) for x in s]
    asy = [x["blank_asynchrony_ms"] for x in s if x.get("blank_asynchrony_ms") is not None]
    return [
        Figure("filled_pct", "Filled the missing note", _r(_pct(filled)), "%",
               "Share of the phrases in which the child sang (or played) within half a beat of the left-out note.",
               len(filled)),
        Figure("blank_asynchrony_ms", "Timing of the filled note", _r(statistics.median(asy)) if asy else None, "ms",
               "Median of the child's note time − the left-out note's time, over the filled phrases; negative = "
               "early.", len(asy), _r(_iqr(asy)), "interquartile range, ms"),
    ], {}


def _probe_bars(log: TaskLog) -> list[dict[str, Any]]:
    """The sensory session's planned bars in order (the probe player's: never the child's trials)."""
    return sorted((p for p in log.plans if p.get("phase") == "trial"), key=lambda p: p.get("index", 0))


def probes_played(log: TaskLog) -> int:
    """How many sensory probes the session played (a probe cut off by a stop counts: it was heard)."""
    return min(len(SENSORY_PROBES), -(-len(_probe_bars(log)) // PROBE_BARS))


def sensory_ratings(log: TaskLog) -> list[Rating]:
    """One rating per probe: the last of the keys 1 (calm), 2 (avoids), 3 (seeks) the therapist pressed during it.

    The probes are rated, not scored: the sensory session's bars (a rhythmic-cueing player's, for their exact
    timing) are only the probes' spans; what the child played during them is no result.
    """
    bars = _probe_bars(log)
    out = []
    for k, probe in enumerate(SENSORY_PROBES):
        span = bars[k * PROBE_BARS:(k + 1) * PROBE_BARS]
        rating = t_s = None
        if span:
            lo, hi = span[0]["start_s"], span[-1]["end_s"]
            keys = [(t, key) for t, key in log.marks if lo <= t < hi and key in SENSORY_KEYS]
            if keys:
                t_s, key = keys[-1]
                rating, t_s = SENSORY_KEYS[key], round(t_s, 3)
        out.append(Rating(probe.item, probe.label, rating, t_s, "therapist" if rating else None))
    return out


def task_figures(task: str, log: TaskLog, trials: Sequence[dict[str, Any]]) -> tuple[list[Figure], dict[str, Any]]:
    """The figures and details of ``task`` from its log and its scored trials (cut where the battery stopped)."""
    if task == "spontaneous_tempo":
        return spontaneous_figures(log)
    if task in ("sync_own_tempo", "sync_slow", "sync_fast"):
        return sync_figures(trials)
    if task == "sync_continuation":
        return continuation_figures(trials)
    if task in ("rhythm_imitation", "melodic_imitation"):
        return staircase_figures(trials, melodic=task == "melodic_imitation")
    if task == "turn_taking":
        return turn_figures(trials)
    if task == "stop_and_go":
        return stop_figures(trials)
    if task == "vocal_fill":
        return fill_figures(trials)
    if task == "sensory":
        return [], {}
    raise ValueError(f"no battery task {task!r}")
