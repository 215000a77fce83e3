"""Suggested objectives: measurable next steps proposed from a baseline assessment.

Each objective reads *condition + behaviour + criterion* with the child
(named by the pseudonymous id, never a display name) as its subject: "Given
a steady beat at 80–100 BPM, C07 will tap within ±80 ms of the beat on at
least 60 % of beats (mean over a visit's trials), in 3 consecutive visits on
separate days (...)".

:func:`suggest_objectives` reads an :class:`~engine.assessment.results.Assessment`
and proposes:

- **engagement and tolerance** objectives (:data:`ENGAGEMENT_RULES`, first)
  for a child who did not respond to a task at all: answer the greeting song
  at least once in a visit, answer the drum, play along with a march, stay
  with the whole march; each measured by the metric that means exactly that
  (``initiated``, ``response_present``, ``played_during_go``), never by the
  skill the task was about;
- per task that was done, a **step** objective (:data:`RULES`) one
  meaningful step past the baseline: the step is the largest of the
  metric's smallest meaningful step (25 points; 25 % of the baseline and at
  least 5 ms or 1 point for times and variability), one SD of the
  baseline's spread, and for a share without a spread its standard error
  (:func:`meaningful_step`); the target is rounded away from the baseline
  and capped at what is possible, 100 % or 0 (:func:`step_target`), so it is
  never met by the baseline;
- a **maintenance** objective (id ``...-maintained``, last) for a skill at
  the level Tandem calls mastered or better (80 % or more; 40 ms or a CV of
  5 % or less): "C07 will keep tapping ... (maintenance)"; accept it to keep
  the skill, or reject it and work on another.

Nothing is suggested from a task that was skipped or stopped, from a
figure that is a setting of the task (the beat's tempo), or for a metric no
script in ``songs_dir`` measures (a note says so). The rules, with worked
examples, are in ``docs/baseline.md``.

:func:`save_suggestions` / :func:`load_suggestions` keep them with their
states (``open``, ``accepted``, ``rejected``, ``edited``: accepted with the
therapist's changes) in ``suggestions.json`` (0600) in the assessment's
folder.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.assessment.results import Assessment, Figure, TaskResult, finite_number, plain_json
from engine.assessment.tasks import NO_RESPONSE_RUN
from engine.errors import ConfigError, DataDirError
from engine.fileread import JSON_LIMIT, read_text
from engine.interventions.script import DEFAULT_SYNC_BARS, KIND_METRICS, METRICS, Script, load_script
from engine.paths import write_private
from engine.records.plan import objective_data
from engine.reports.sentences import criterion_text
from engine.scoring.objectives import Objective
from engine.scoring.words import format_half_up, percent_text, round_half_up

__all__ = [
    "DEFAULT_SONGS_DIR",
    "ENGAGEMENT_MIN_TRIALS",
    "ENGAGEMENT_PROMPTS",
    "ENGAGEMENT_RULES",
    "RULES",
    "STATES",
    "SUGGESTIONS_FILE",
    "EngagementRule",
    "Rule",
    "Suggestion",
    "Suggestions",
    "load_suggestions",
    "meaningful_step",
    "save_suggestions",
    "script_metrics",
    "songs_path",
    "step_target",
    "suggest_objectives",
    "suggestion_kinds",
    "with_state",
]

SUGGESTIONS_FILE = "suggestions.json"
STATES = ("open", "accepted", "rejected", "edited")
"""A suggestion's state: not decided yet, accepted as suggested, rejected, accepted with the therapist's edits."""
SCHEMA = 1

DEFAULT_SONGS_DIR = Path("content/songs")
DEFAULT_WINDOW_MS = 80.0  # rhythmic cueing's [cueing] window_ms when a script does not give one


@dataclass(frozen=True)
class Suggestion:
    """One suggested objective (see the module docstring).

    ``objective`` is what the plan would judge; ``description`` is the
    objective in words for the plan (``sentence`` without the mastery part);
    ``scripts`` are the stems of the scripts that measure it; ``task``,
    ``figure`` and ``baseline`` say which baseline figure it comes from.
    ``plan_id`` is the objective's id as it entered the plan (it may differ
    from ``objective.id`` when the plan already had that id).
    """

    id: str
    domain: str
    goal: str
    description: str
    objective: Objective
    sentence: str
    scripts: tuple[str, ...]
    rationale: str
    task: str
    figure: str
    baseline: float
    state: str = "open"
    edits: dict[str, Any] = field(default_factory=dict)
    decided: str | None = None  # ISO time of the therapist's decision
    plan_id: str | None = None
    template: str = ""  # the description with "{target}" for the threshold (in the figure's unit)
    scale: float = 1.0  # threshold = target × scale (e.g. a CV in % → the metric's fraction)
    baseline_n: int | None = None  # the observations the baseline figure rests on
    baseline_source: str = ""  # one line for the plan: "assessment of 2026-12-07: waited ... on 2 of 6 turns (33 %)"

    def describe(self, objective: Objective) -> str:
        """The description for ``objective`` (e.g. with an edited threshold), condition + behaviour + criterion.

        A share of trials edited into "k of n" keeps the sentence: "... C07 will echo it with the right rhythm
        on 4 of 5 trials."; any other edit of what is judged keeps the condition and the child and gives the
        criterion in words ("Given ..., C07: imitated correctly on at least 4 of 5 trials.").
        """
        o = self.objective
        same = (objective.metric, objective.aggregate, objective.comparator, objective.criterion) == \
            (o.metric, o.aggregate, o.comparator, o.criterion)
        if same and self.template:
            return self.template.format(target=_fmt(objective.threshold / self.scale))
        if same:
            return self.description
        share = " on at least {target} % of "
        if (share in self.template and objective.metric == o.metric and o.aggregate == "percent_true"
                and objective.criterion != "aggregate" and objective.comparator == "==" and objective.threshold == 1):
            head, tail = self.template.split(share, 1)
            noun, _, rest = tail.partition(" ")
            noun = noun.rstrip(".") if not rest else noun
            rest = rest if rest else "."
            run = " consecutive" if objective.criterion == "k_of_n_consecutive" else ""
            return f"{head} on {objective.k} of {objective.n}{run} {noun}" + (f" {rest}" if rest != "." else ".")
        criterion = criterion_text(objective).split(" (")[0]
        who = self.template.split(" will ", 1)[0] if " will " in self.template else ""
        return f"{who}: {criterion[:1].lower()}{criterion[1:]}." if who else criterion + "."

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "domain": self.domain, "goal": self.goal, "description": self.description,
                "objective": objective_data(self.objective), "sentence": self.sentence,
                "scripts": list(self.scripts), "rationale": self.rationale, "task": self.task,
                "figure": self.figure, "baseline": self.baseline, "state": self.state, "edits": dict(self.edits),
                "decided": self.decided, "plan_id": self.plan_id, "template": self.template, "scale": self.scale,
                "baseline_n": self.baseline_n, "baseline_source": self.baseline_source}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Suggestion:
        """The inverse of :meth:`to_dict`; ValueError (a clause naming the field) for anything else.

        Every field is checked for its type: text is text, ``baseline`` and ``scale`` finite numbers
        (``scale`` above 0: thresholds are divided by it), ``template`` text whose only placeholder is
        ``{target}`` (it is formatted), ``edits`` plain JSON.
        """
        if not isinstance(d, dict):
            raise ValueError("a suggestion must be a JSON object")
        sid = d.get("id")
        name = f"suggestion {sid!r}" if isinstance(sid, str) and len(sid) <= 40 else "a suggestion"
        for key in d:
            if key not in _SUGGESTION_FIELDS:
                raise ValueError(f"{name} has the field {str(key)[:40]!r}, which a suggestion does not have")
        for key in ("id", "domain", "goal", "description", "objective", "sentence", "rationale", "task", "figure",
                    "baseline"):
            if key not in d:
                raise ValueError(f"{name} has no {key}")
        for key in ("id", "domain", "goal", "description", "sentence", "rationale", "task", "figure", "template",
                    "baseline_source"):
            if key in d and not isinstance(d[key], str):
                raise ValueError(f"{name}: {key} must be text")
        for key in ("decided", "plan_id"):
            if d.get(key) is not None and not isinstance(d[key], str):
                raise ValueError(f"{name}: {key} must be text or null")
        n = d.get("baseline_n")
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
            raise ValueError(f"{name}: baseline_n must be a whole number of observations or null")
        if not finite_number(d["baseline"]) or not finite_number(d.get("scale", 1.0)) or not d.get("scale", 1.0) > 0:
            raise ValueError(f"{name}: baseline and scale must be finite numbers (scale above 0)")
        state = d.get("state", "open")
        if state not in STATES:
            raise ValueError(f"{name} has an unknown state (one of {', '.join(STATES)} is needed)")
        scripts = d.get("scripts", [])
        if not isinstance(scripts, list) or not all(isinstance(x, str) for x in scripts):
            raise ValueError(f"{name}: scripts must be a list of script names")
        edits = d.get("edits") or {}
        if not isinstance(edits, dict) or not plain_json(edits):
            raise ValueError(f"{name}: edits must be a JSON object of finite numbers and text")
        if "{" in d.get("template", "").replace("{target}", "") or "}" in d.get("template", "").replace("{target}", ""):
            raise ValueError(f"{name}: template may hold no placeholder but {{target}}")
        if not isinstance(d["objective"], dict):
            raise ValueError(f"{name}: objective must be a JSON object")
        try:
            objective = Objective.from_dict(d["objective"])
        except (ValueError, TypeError, OverflowError) as exc:
            raise ValueError(f"{name}: its objective cannot be read ({str(exc)[:200].rstrip('.')})") from None
        return cls(**{**d, "objective": objective, "scripts": tuple(scripts), "edits": dict(edits)})


_SUGGESTION_FIELDS = ("id", "domain", "goal", "description", "objective", "sentence", "scripts", "rationale", "task",
                      "figure", "baseline", "state", "edits", "decided", "plan_id", "template", "scale", "baseline_n",
                      "baseline_source")


class Suggestions(list):
    """The suggestions (a list of :class:`Suggestion`, in id order) and ``notes``: what was not suggested, and why."""

    def __init__(self, items: Iterable[Suggestion] = (), notes: Iterable[str] = ()) -> None:
        super().__init__(items)
        self.notes: list[str] = list(notes)

    def get(self, suggestion_id: str) -> Suggestion | None:
        key = suggestion_id.strip().upper()
        return next((s for s in self if s.id.upper() == key), None)


# --- which scripts measure what ------------------------------------------------------------------------


def script_metrics(script: Script) -> tuple[str, ...]:
    """The trial metrics a session of ``script`` produces (its kind's families, plus continuation when it continues).

    The same rule the script loader applies to a script's own objectives
    (:data:`engine.interventions.script.KIND_METRICS`).
    """
    produced = [m for fam in KIND_METRICS[script.kind] for m in METRICS[fam]]
    if script.kind == "rhythmic_cueing" and script.options.get("continuation_beats"):
        produced += [m for m in METRICS["continuation"] if m not in produced]
    return tuple(dict.fromkeys(produced))


def _is_melodic(script: Script) -> bool:
    return any(p.pitches for p in script.phrases)


def songs_path(songs_dir: str | os.PathLike = DEFAULT_SONGS_DIR) -> Path:
    """``songs_dir``; a relative one missing here is looked for beside the package (a checkout's content/songs)."""
    path = Path(songs_dir)
    if not path.is_dir() and not path.is_absolute():
        beside = Path(__file__).resolve().parents[2] / path
        if beside.is_dir():
            return beside
    return path


def _load_songs(songs_dir: Path) -> list[Script]:
    """Every script in ``songs_dir`` that loads (a broken one is left out: it cannot measure anything now)."""
    out = []
    for path in sorted(songs_path(songs_dir).glob("*.toml")):
        try:
            out.append(load_script(path))
        except (ConfigError, OSError):
            continue
    return out


# --- the rules -----------------------------------------------------------------------------------------

ENGAGEMENT_MIN_TRIALS = 3  # an engagement objective is judged once 3 of its trials count (the battery's own run)
ENGAGEMENT_PROMPTS = ("independent", "gestural", "verbal", "model")
"""The prompt levels an engagement or tolerance objective counts: the child's own sound after a point, a word or
a demonstration is engagement; after a physical prompt (hand over hand) the sound is the therapist's, never
counted. A trial whose prompt was not recorded does not count (prompts are never guessed)."""
TURN_INITIATE_S = 3.0  # the turn-taking kind's answer window after a hand-over (its default)
STOP_GRACE_S = 0.4  # the stop-and-go kind's grace after a stop (its default)


@dataclass(frozen=True)
class Rule:
    """How one baseline figure becomes a suggested objective one meaningful step past it.

    ``higher`` is True when more is better (percentages), False for times and
    variability. ``scale`` converts the figure's unit to the metric's (e.g. a
    CV in % → the metric's fraction). ``mastery`` is the level (in the
    figure's unit) at which Tandem suggests keeping a skill rather than
    pushing it (a *maintenance* objective at that level); ``possible`` is the
    most a target can ask (100 %, 0 ms). The step from the baseline is at
    least ``min_step``, ``relative_step`` × the baseline, and one SD of the
    baseline's spread (for a share without one, its standard error), see
    :func:`meaningful_step`.

    The objective reads as *condition + behaviour + criterion*:
    ``condition(scripts)`` is "Given ...", ``words`` the behaviour and
    criterion ("tap within ... on at least {target} % of beats"), ``kept``
    the same for maintenance ("keep tapping ..."); both may use the scripts'
    settings (:func:`_settings`). ``did`` and ``noun`` say what the baseline
    counted ("waited during the engine's turn", "turns").
    """

    task: str
    figure: str
    slug: str
    domain: str
    goal: str
    metric: str
    aggregate: str
    higher: bool
    mastery: float
    condition: Callable[[list[Script]], str]
    words: str
    kept: str
    did: str
    noun: str
    kinds: tuple[str, ...]
    scale: float = 1.0
    scripts: Callable[[Script], bool] | None = None
    min_step: float = 25.0
    relative_step: float = 0.0
    share: bool = True  # a percentage of n observations (its standard error is its spread when it has none)
    step_unit: str = "points"

    @property
    def possible(self) -> float:
        """The most a target can ask, in the figure's unit: 100 % of trials, 0 ms or 0 % of variability."""
        return 100.0 if self.higher else 0.0

    def step(self, baseline: float, n: int, spread: float | None) -> tuple[float, str]:
        """:func:`meaningful_step` with this rule's smallest steps."""
        return meaningful_step(baseline, n=n, spread=spread, min_step=self.min_step,
                               relative_step=self.relative_step, share=self.share, unit=self.step_unit)


@dataclass(frozen=True)
class EngagementRule:
    """An engagement or tolerance objective for a child who did not respond (docs/baseline.md).

    Suggested when one of ``triggers`` got *no response* and the baseline
    figure (``task``, ``figure``: the share of trials in which the child did
    the behaviour at all) is 0 %. An engagement objective asks for the
    behaviour at least once in a visit (``count_true`` ≥ 1, judged once
    :data:`ENGAGEMENT_MIN_TRIALS` trials count); a ``tolerance`` one asks
    for it on a share of the trials of the whole activity (a percentage one
    meaningful step above the baseline, judged only on a visit where every
    trial of the activity was played: ``min_trials`` = the script's trials).
    Both count trials with up to a model prompt (:data:`ENGAGEMENT_PROMPTS`).
    """

    slug: str
    domain: str
    goal: str
    triggers: tuple[str, ...]
    task: str
    figure: str
    metric: str
    condition: Callable[[list[Script]], str]
    words: str  # "{target}": at least once → "1"; tolerance: a percentage
    did: str
    means: str  # what the metric is true for, in words
    noun: str
    kinds: tuple[str, ...]
    scripts: Callable[[Script], bool] | None = None
    tolerance: bool = False


def meaningful_step(baseline: float, *, n: int, spread: float | None, min_step: float = 25.0,
                    relative_step: float = 0.0, share: bool = True, unit: str = "points") -> tuple[float, str]:
    """The smallest meaningful step from ``baseline`` (in the figure's unit) and why, in words.

    The largest of: ``min_step`` (the smallest step counted as meaningful:
    25 points for a percentage, 5 ms for a timing SD, 1 point for a CV);
    ``relative_step`` × the baseline (25 % for times and variability); one SD
    of the baseline's ``spread`` (e.g. the SD of the share across bars) or,
    for a ``share`` of ``n`` observations with no spread, its standard error
    100·√(p(1 − p)/n). ``unit`` names the step's unit in the words.

    >>> step, why = meaningful_step(50.0, n=3, spread=None)  # 1.5 of 3 turns: a standard error of 28.9 points
    >>> round(step, 1), why
    (28.9, 'the standard error of a share of 3, 29 points')
    """
    parts = [(min_step, f"the smallest step Tandem counts as meaningful, {_fmt(min_step)} {unit}")]
    if relative_step:
        parts.append((relative_step * abs(baseline),
                      f"{_fmt(100 * relative_step)} % of the baseline, {_fmt(relative_step * abs(baseline))} {unit}"))
    if spread is not None and spread > 0:
        parts.append((float(spread), f"one SD of the baseline's spread, {_fmt(spread)} {unit}"))
    elif share and n > 0:
        p = min(max(baseline / 100.0, 0.0), 1.0)
        se = 100.0 * math.sqrt(p * (1.0 - p) / n)
        parts.append((se, f"the standard error of a share of {n}, {_fmt(se)} points"))
    return max(parts, key=lambda part: part[0])


def step_target(baseline: float, step: float, *, higher: bool = True) -> float:
    """The target one ``step`` past ``baseline``, rounded away from it (a percentage up to a multiple of 5; a
    lower-is-better figure down to a multiple of 1, 5 or 100 by its size) and capped at what is possible:
    100 (%) when higher is better, 0 when lower is.

    >>> step_target(44.4, 25.0), step_target(61.0, 15.25, higher=False), step_target(80.5, 25.0)
    (70.0, 45.0, 100.0)
    """
    if higher:
        return min(100.0, 5.0 * math.ceil((baseline + step) / 5.0 - 1e-9))
    unit = 100.0 if baseline >= 1000 else (5.0 if baseline >= 20 else 1.0)
    return max(0.0, unit * math.floor((baseline - step) / unit + 1e-9))


# --- the words of a condition, from the scripts that measure it ----------------------------------------


def _span(values: Iterable[float], unit: str = "") -> str:
    """``80 BPM``, ``80–100 BPM`` (the scripts' range of a setting)."""
    vals = sorted(set(values))
    text = _fmt(vals[0]) if vals[0] == vals[-1] else f"{_fmt(vals[0])}–{_fmt(vals[-1])}"
    return f"{text} {unit}".rstrip()


def _notes(scripts: list[Script]) -> str:
    return _span([len(p.onsets_beats) - (p.blank is not None) for s in scripts for p in s.phrases])


def _stop_s(script: Script) -> list[float]:
    stop = script.options.get("stop_s", ())
    return [float(x) for x in (stop if isinstance(stop, (list, tuple)) else [stop])] or [2.0]


def _settings(scripts: list[Script]) -> dict[str, str]:
    """The scripts' settings a sentence names ("{window}" ms, "{beats}" silent beats, ...)."""
    opts = [s.options for s in scripts]
    return {
        "window": "/".join(_fmt(w) for w in sorted({float(o.get("window_ms", DEFAULT_WINDOW_MS)) for o in opts})),
        "beats": _span(o.get("continuation_beats", 0) for o in opts),
        "within": _span(float(o.get("initiate_window_s", TURN_INITIATE_S)) for o in opts),
        "grace": _span(float(o.get("grace_ms", 1000 * STOP_GRACE_S)) / 1000.0 for o in opts),
        "trials": _span(s.trials or 0 for s in scripts),
    }


def _beat(scripts: list[Script]) -> str:
    return f"Given a steady beat at {_tempo_text(scripts)}"


def _beat_that_stops(scripts: list[Script]) -> str:
    bars = _span(s.options.get("sync_bars", DEFAULT_SYNC_BARS) for s in scripts)
    return f"Given a steady beat at {_tempo_text(scripts)} that stops after {bars} bar{'' if bars == '1' else 's'}"


def _rhythm(scripts: list[Script]) -> str:
    return f"Given a rhythm of {_notes(scripts)} notes played on the drum"


def _melody(scripts: list[Script]) -> str:
    return f"Given a melody of {_notes(scripts)} notes played on the keyboard"


def _hand_over(scripts: list[Script]) -> str:
    sung = {_is_melodic(s) for s in scripts}
    what = "a sung phrase" if sung == {True} else "a drum phrase" if sung == {False} else \
        "a phrase, sung or played on the drum,"
    return f"Given {what} that stops and hands the turn over"


def _march_that_stops(scripts: list[Script]) -> str:
    return f"Given a march that stops without warning for {_span([x for s in scripts for x in _stop_s(s)], 's')}"


def _tune_with_a_gap(scripts: list[Script]) -> str:
    return "Given a familiar tune with one note left out"


def _greeting(scripts: list[Script]) -> str:
    return ("Given a familiar greeting song that stops and waits for an answer" if all(_is_melodic(s) for s in scripts)
            else "Given a musical phrase that stops and waits for an answer")


def _drum_call(scripts: list[Script]) -> str:
    return "Given a short rhythm played on the drum"


def _keyboard_call(scripts: list[Script]) -> str:
    return "Given a short melody played on the keyboard"


def _march(scripts: list[Script]) -> str:
    return "Given a march to play along with, which stops now and then"


def _whole_march(scripts: list[Script]) -> str:
    n = _settings(scripts)["trials"]
    return f"Given the whole stop-and-go march ({n} marches)"


RULES: tuple[Rule, ...] = (
    Rule("sync_own_tempo", "within_window_pct", "taps-on-the-beat", "motor", "Keeps a steady beat with the music.",
         "within_window_pct", "mean", True, 80.0, _beat,
         "tap within ±{window} ms of the beat on at least {target} % of beats (mean over a visit's trials)",
         "keep tapping within ±{window} ms of the beat on at least {target} % of beats (mean over a visit's "
         "trials)", "tapped within ±{window} ms of the beat", "beats", ("rhythmic_cueing",)),
    Rule("sync_own_tempo", "asynchrony_sd_ms", "steady-timing", "motor", "Keeps a steady beat with the music.",
         "asynchrony_sd_ms", "median", False, 40.0, _beat,
         "tap with a timing variability (SD of asynchrony) of at most {target} ms (median over a visit's trials)",
         "keep tapping with a timing variability (SD of asynchrony) of at most {target} ms (median over a visit's "
         "trials)", "timing variability (SD of asynchrony)", "matched taps", ("rhythmic_cueing",),
         min_step=5.0, relative_step=0.25, share=False, step_unit="ms"),
    Rule("sync_continuation", "continuation_iti_cv_pct", "keeps-going-alone", "motor",
         "Keeps the beat going alone when the music stops.", "continuation_iti_cv", "median", False, 5.0,
         _beat_that_stops,
         "tap on alone through the {beats} silent beats, the intervals varying by at most {target} % (CV, median "
         "over a visit's trials)",
         "keep tapping on alone through the {beats} silent beats, the intervals varying by at most {target} % (CV, "
         "median over a visit's trials)", "evenness alone (CV of the intervals)", "runs", ("rhythmic_cueing",),
         scale=0.01, min_step=1.0, relative_step=0.25, share=False),
    Rule("rhythm_imitation", "imitation_correct_pct", "imitates-rhythms", "cognition",
         "Imitates rhythms played by the therapist.", "correct", "percent_true", True, 80.0, _rhythm,
         "echo it with the right rhythm on at least {target} % of trials",
         "keep echoing it with the right rhythm on at least {target} % of trials",
         "echoed the rhythm correctly", "calls", ("call_and_response",), scripts=lambda s: not _is_melodic(s)),
    Rule("melodic_imitation", "melodic_correct_pct", "imitates-melodies", "cognition",
         "Imitates short melodies on the keyboard.", "correct", "percent_true", True, 80.0, _melody,
         "echo it with the right notes and rhythm on at least {target} % of trials",
         "keep echoing it with the right notes and rhythm on at least {target} % of trials",
         "echoed the melody correctly", "calls", ("call_and_response",), scripts=_is_melodic),
    Rule("turn_taking", "waited_pct", "waits-for-turn", "socialization", "Takes turns in a musical conversation.",
         "waited", "percent_true", True, 80.0, _hand_over,
         "wait without playing until the phrase ends on at least {target} % of turns",
         "keep waiting without playing until the phrase ends on at least {target} % of turns",
         "waited during the engine's turn", "turns", ("turn_taking",)),
    Rule("turn_taking", "initiated_pct", "starts-a-turn", "socialization", "Takes turns in a musical conversation.",
         "initiated", "percent_true", True, 80.0, _hand_over,
         "take the turn, having waited, by starting to play within {within} s of the hand-over on at least "
         "{target} % of turns",
         "keep taking the turn, having waited, by starting to play within {within} s of the hand-over on at least "
         "{target} % of turns", "started a turn after the hand-over", "turns", ("turn_taking",)),
    Rule("stop_and_go", "stopped_pct", "stops-with-the-music", "cognition",
         "Stops and starts with the music (inhibition).", "stopped", "percent_true", True, 80.0, _march_that_stops,
         "stop playing within {grace} s of the music stopping on at least {target} % of stops",
         "keep stopping within {grace} s of the music stopping on at least {target} % of stops",
         "stopped when the music stopped", "stops", ("stop_and_go",)),
    Rule("vocal_fill", "filled_pct", "sings-the-missing-beat", "communication",
         "Sings or plays the missing beat of a familiar song.", "filled", "percent_true", True, 80.0,
         _tune_with_a_gap,
         "sing or play the missing note within half a beat of its place on at least {target} % of trials",
         "keep singing or playing the missing note within half a beat of its place on at least {target} % of "
         "trials", "filled the missing note", "phrases", ("fill_in_the_blank",)),
)
"""The baseline figures step objectives come from, in the order suggested (after the engagement ones)."""

_SYNC_TASKS = ("sync_own_tempo", "sync_slow", "sync_fast", "sync_continuation")

ENGAGEMENT_RULES: tuple[EngagementRule, ...] = (
    EngagementRule("answers-a-greeting", "socialization", "Takes part in the greeting song.", ("turn_taking",),
                   "turn_taking", "initiated_pct", "initiated", _greeting,
                   "answer it, waiting through the song and then playing or singing within {within} s, on at least "
                   "{target} of a visit's greetings", "answered a hand-over (waited, then played within {within} s)",
                   "true only when the child waited through the engine's phrase and then played or sang within "
                   "{within} s of its end", "turns", ("turn_taking",), scripts=_is_melodic),
    EngagementRule("answers-the-drum", "communication", "Answers music with a sound of their own.",
                   ("rhythm_imitation",), "rhythm_imitation", "imitation_response_pct", "response_present",
                   _drum_call, "answer it with a sound of their own (any rhythm, right or wrong) on at least "
                   "{target} of a visit's calls", "answered a call with any sound",
                   "true when the child played anything in the answer window, right or wrong", "calls",
                   ("call_and_response",), scripts=lambda s: not _is_melodic(s)),
    EngagementRule("answers-the-keyboard", "communication", "Answers music with a sound of their own.",
                   ("melodic_imitation",), "melodic_imitation", "melodic_response_pct", "response_present",
                   _keyboard_call, "answer it on the keyboard (any notes, right or wrong) on at least {target} of a "
                   "visit's calls", "answered a call with any sound",
                   "true when the child played anything in the answer window, right or wrong", "calls",
                   ("call_and_response",), scripts=_is_melodic),
    EngagementRule("plays-along", "socialization", "Joins in with music and stays with the activity.",
                   ("stop_and_go", *_SYNC_TASKS), "stop_and_go", "played_during_go_pct", "played_during_go",
                   _march, "play along (at least 2 hits while the music plays) in at least {target} of a visit's "
                   "marches", "played along while the music played",
                   "true when the child played at least 2 hits while the music played", "marches", ("stop_and_go",)),
    EngagementRule("stays-with-the-music", "socialization", "Joins in with music and stays with the activity.",
                   ("stop_and_go", *_SYNC_TASKS), "stop_and_go", "played_during_go_pct", "played_during_go",
                   _whole_march, "stay with it to its end, playing along in at least {target} % of the marches (a "
                   "visit is judged only when all {trials} were played, none with a physical prompt)", "played along while the music played",
                   "true when the child played at least 2 hits while the music played", "marches", ("stop_and_go",), scripts=lambda s: bool(s.trials), tolerance=True),
)
"""Engagement and tolerance objectives for a child who did not respond, in the order suggested (first)."""

def suggestion_kinds(suggestion: Suggestion) -> tuple[str, ...] | None:
    """The kinds of script that measure a suggestion's objective (its rule's), or None for an unknown one."""
    for rule in (*RULES, *ENGAGEMENT_RULES):
        if rule.figure == suggestion.figure and rule.metric == suggestion.objective.metric:
            return rule.kinds
    return None


def _value(figure: Figure | None) -> float | None:
    if figure is None or isinstance(figure.value, bool) or not isinstance(figure.value, (int, float)):
        return None
    value = float(figure.value)
    return value if math.isfinite(value) else None


def _fmt(x: float) -> str:
    x = float(x)
    return format_half_up("{:.0f}", x) if abs(x - round(x)) < 1e-9 or abs(x) >= 20 else format_half_up("{:.1f}", x)


def _tempo_text(scripts: list[Script]) -> str:
    lo, hi = min(s.tempo_bpm for s in scripts), max(s.tempo_bpm for s in scripts)
    return format_half_up("{:.0f} BPM", lo) if lo == hi else format_half_up("{:.0f}–{:.0f} BPM", lo, hi)


def _sync_task(assessment: Assessment, figure_id: str, tempo_bpm: float) -> TaskResult | None:
    """The done synchronisation task with the figure whose tempo is nearest the scripts' (own tempo first on ties)."""
    best, best_d = None, math.inf
    for tid in ("sync_own_tempo", "sync_slow", "sync_fast"):
        task = assessment.task(tid)
        if task is None or task.status != "done" or _value(task.figure(figure_id)) is None:
            continue
        tempo = _value(task.figure("tempo_bpm"))
        d = abs(tempo - tempo_bpm) if tempo is not None else 1e6
        if d < best_d:
            best, best_d = task, d
    return best


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _counted(figure: Figure, noun: str) -> str:
    """``2 of 6 turns (33 %)``: a share as the trials it counts."""
    pct = float(figure.value)
    k = round_half_up(pct * figure.n / 100.0)
    return f"{k:.0f} of {figure.n} {noun} ({percent_text(pct)})"


def _source(assessment: Assessment, task: TaskResult, figure: Figure, did: str, noun: str, share: bool) -> str:
    """The baseline's one line for the plan (``baseline_source``): where and what was measured."""
    head = f"assessment of {assessment.date.isoformat()}: "
    if share and figure.unit == "%" and figure.n:
        return head + f"{did} on {_counted(figure, noun)}"
    return head + f"{did} {_fmt(float(figure.value))}{_unit(figure)} (n = {figure.n} {noun}), " \
                  f"{_lower_first(task.title)}"


def _sentence(description: str, objective: Objective, scripts: list[Script]) -> str:
    return (f"{description[:-1]}, in {objective.sessions} consecutive visits on separate days "
            f"({', '.join(s.path.stem for s in scripts)}).")


def suggest_objectives(assessment: Assessment, *, songs_dir: str | os.PathLike = DEFAULT_SONGS_DIR) -> Suggestions:
    """Objectives one meaningful step past the baseline, with the scripts that measure them (module docstring).

    Parameters
    ----------
    assessment : Assessment
        The baseline.
    songs_dir : path
        Where the intervention scripts are; a suggestion links only scripts
        that load and whose kind produces its metric.

    Returns
    -------
    Suggestions
        A list of :class:`Suggestion` (ids ``S1``, ``S2``, ...: engagement
        objectives first, then :data:`RULES` order, maintenance last: the
        same assessment always gives the same ids) with ``notes`` on what was
        not suggested and why.
    """
    songs = _load_songs(Path(songs_dir))
    child = assessment.child_id
    out: list[Suggestion] = []
    kept: list[Suggestion] = []  # maintenance objectives (skills at the mastery level), after the others
    notes: list[str] = []
    not_done: dict[str, TaskResult | None] = {}

    def measuring(kinds: tuple[str, ...], metric: str, pick: Callable[[Script], bool] | None) -> list[Script]:
        return [s for s in songs if s.kind in kinds and metric in script_metrics(s) and (pick is None or pick(s))]

    for rule in RULES:
        scripts = measuring(rule.kinds, rule.metric, rule.scripts)
        if rule.task == "sync_own_tempo":
            task = _sync_task(assessment, rule.figure, _median([s.tempo_bpm for s in scripts]) if scripts else 90.0)
        else:
            task = assessment.task(rule.task)
        if task is None or task.status != "done":
            not_done.setdefault(rule.task, task)
            continue
        figure = task.figure(rule.figure)
        baseline = _value(figure)
        if baseline is None:
            notes.append(f"{task.title}: no {rule.figure} was measured, so nothing is suggested from it.")
            continue
        if not scripts:
            notes.append(f"{task.title}: no script in {songs_dir} measures {rule.metric}, so nothing is suggested "
                         f"from {figure.label}.")
            continue
        settings = _settings(scripts)
        unit = _unit(figure)
        # At the mastery level a skill is kept, not pushed further: a maintenance objective at that level.
        at_ceiling = baseline >= rule.mastery if rule.higher else baseline <= rule.mastery
        if at_ceiling:
            target = rule.mastery
        else:
            step, why = rule.step(baseline, figure.n, figure.spread)
            target = step_target(baseline, step, higher=rule.higher)
        objective = Objective(id=rule.slug + ("-maintained" if at_ceiling else ""), metric=rule.metric,
                              aggregate=rule.aggregate, comparator=">=" if rule.higher else "<=",
                              threshold=round(target * rule.scale, 4))
        words = (rule.kept if at_ceiling else rule.words).format(**settings, target="{target}")
        if at_ceiling:  # "... (mean over a visit's trials; maintenance)."
            words = words[:-1] + "; maintenance)" if words.endswith(")") else words + " (maintenance)"
        template = f"{rule.condition(scripts)}, {child} will {words}."
        description = template.format(target=_fmt(target))
        at = ""
        if rule.task == "sync_own_tempo":
            tempo_fig = _value(task.figure("tempo_bpm"))
            at = (format_half_up(" at {:.0f} BPM", tempo_fig)
                  if tempo_fig is not None and "bpm" not in task.title.lower() else "")
        spread = (f", spread {_fmt(figure.spread)}" + (f" ({figure.spread_label})" if figure.spread_label else "")
                  if figure.spread is not None else "")
        head = (f"Baseline {_lower_first(task.title)}{at}: {figure.label} {_fmt(baseline)}{unit} "
                f"(n = {figure.n} {rule.noun}{spread})")
        if at_ceiling:
            where = "at" if baseline == rule.mastery else ("above" if rule.higher else "below")
            rationale = (f"{head} is already {where} {_fmt(rule.mastery)}{unit}, the level at which Tandem "
                         f"suggests keeping a skill rather than pushing it; a maintenance objective keeps it (or "
                         f"leave it out and work on another).")
        else:
            moved = abs(target - baseline)
            capped = (target == rule.possible and (baseline + step > rule.possible if rule.higher
                                                     else baseline - step < rule.possible))
            rationale = (f"{head}. The target, {'at least' if rule.higher else 'at most'} {_fmt(target)}{unit}, is "
                         f"{_fmt(moved)}{' points' if unit == ' %' else unit} "
                         f"{'above' if rule.higher else 'below'} it ({'higher' if rule.higher else 'lower'} is "
                         f"better): at least one meaningful step, here {why}"
                         + (f", capped at {_fmt(rule.possible)}{unit}, the most possible" if capped else "") + ".")
        goal = f"Maintains: {_lower_first(rule.goal)}" if at_ceiling else rule.goal
        did = rule.did.format(**settings)
        (kept if at_ceiling else out).append(Suggestion(
            id="", domain=rule.domain, goal=goal, description=description, objective=objective,
            sentence=_sentence(description, objective, scripts), scripts=tuple(s.path.stem for s in scripts),
            rationale=rationale, task=task.id, figure=rule.figure, baseline=baseline, template=template,
            scale=rule.scale, baseline_n=figure.n,
            baseline_source=_source(assessment, task, figure, did, rule.noun, rule.share)))

    engaging, engagement_notes, answered = _engagement(assessment, measuring, {s.objective.metric for s in out + kept},
                                                       songs_dir)
    notes += engagement_notes
    for tid, task in not_done.items():
        if tid == "sync_own_tempo":
            continue  # said once, with the other synchronisation tasks, below
        if task is None:
            notes.append(f"The task {tid} is not in this assessment, so nothing is suggested from it.")
        else:
            status = {"no_response": "got no response", "skipped": "was skipped", "stopped": "was stopped"}.get(
                task.status, f"was {task.status}")
            reason = f" ({task.reason[:1].lower()}{task.reason[1:].rstrip('.')})" if task.reason else ""
            instead = (f"; {answered[tid]} instead" if tid in answered else "")
            notes.append(f"{task.title} {status}{reason}, so no skill objective is suggested from it{instead}."
                         if instead else f"{task.title} {status}{reason}, so nothing is suggested from it.")
    if not any(t is not None and t.status == "done" for t in
               (assessment.task(x) for x in ("sync_own_tempo", "sync_slow", "sync_fast"))):
        notes.append("No synchronisation task was done, so no timing objective is suggested.")
    smt = assessment.task("spontaneous_tempo")
    smt_bpm = _value(smt.figure("smt_bpm")) if smt is not None and smt.status == "done" else None
    if smt_bpm is not None:
        notes.append(f"The child's spontaneous tempo was {format_half_up('{:.0f}', smt_bpm)} BPM: a starting tempo "
                     "for rhythmic work (it is not an objective).")
    if assessment.ratings:
        notes.append("Sensory ratings are not turned into objectives (no script measures them); write sensory goals "
                     "from the ratings in the baseline report.")
    ordered = [replace(x, id=f"S{k + 1}") for k, x in enumerate(engaging + out + kept)]
    return Suggestions(ordered, notes)


def _engagement(assessment: Assessment, measuring: Callable, taken: set[str], songs_dir: str | os.PathLike
                ) -> tuple[list[Suggestion], list[str], dict[str, str]]:
    """The engagement and tolerance suggestions (:data:`ENGAGEMENT_RULES`), notes, and per task without response
    the words saying what is suggested instead."""
    child = assessment.child_id
    out: list[Suggestion] = []
    notes: list[str] = []
    instead: dict[str, str] = {}
    for rule in ENGAGEMENT_RULES:
        silent = [t for t in (assessment.task(x) for x in rule.triggers) if t is not None and t.status == "no_response"]
        if not silent or rule.metric in taken:
            continue  # the child responded, or a skill objective on the same behaviour is suggested already
        task = assessment.task(rule.task)
        figure = task.figure(rule.figure) if task is not None else None
        if figure is None and task is not None and task.status == "no_response" and 0 < task.trials <= NO_RESPONSE_RUN:
            # An assessment made before the figure existed: a task ended after its first run of silent trials
            # had nothing in any trial.
            figure = Figure(rule.figure, rule.did, 0.0, "%", "", task.trials)
        baseline = _value(figure)
        if baseline is None or not figure.n:
            notes.append(f"{silent[0].title} got no response, but how often the child {rule.did.split(' (')[0]} "
                         f"was not measured, so no engagement objective is suggested from it.")
            continue
        if baseline > 0:
            continue  # the child does it already (another task shows it): nothing to engage
        scripts = measuring(rule.kinds, rule.metric, rule.scripts)
        if not scripts:
            notes.append(f"No script in {songs_dir} measures {rule.metric}, so no engagement objective on it is "
                         f"suggested.")
            continue
        settings = _settings(scripts)
        if rule.tolerance:
            step, why = meaningful_step(baseline, n=figure.n, spread=None)  # a share: as the percentage rules
            target = step_target(baseline, step)
            objective = Objective(id=rule.slug, metric=rule.metric, aggregate="percent_true", comparator=">=",
                                  threshold=target, min_trials=min(s.trials for s in scripts),
                                  counted_prompts=ENGAGEMENT_PROMPTS)
            why = (f"The target, at least {_fmt(target)} % of the marches, is one meaningful step above the baseline "
                   f"({why}); a visit is judged only when the whole activity, {settings['trials']} marches, was "
                   f"played (one stopped early gives no verdict and never counts toward mastery)")
        else:
            target = 1.0
            objective = Objective(id=rule.slug, metric=rule.metric, aggregate="count_true", comparator=">=",
                                  threshold=1, min_trials=ENGAGEMENT_MIN_TRIALS, counted_prompts=ENGAGEMENT_PROMPTS)
            why = ("From no response at all, the first meaningful step is a response: once in a visit (judged once "
                   f"{ENGAGEMENT_MIN_TRIALS} trials count)")
        words = rule.words.format(**settings, target="{target}")
        template = f"{rule.condition(scripts)}, {child} will {words}."
        description = template.format(target=_fmt(target))
        did = rule.did.format(**settings)
        rationale = (f"Baseline {_lower_first(task.title)}: {task.status.replace('_', ' ')}; {did} on "
                     f"{_counted(figure, rule.noun)}. Measured by '{rule.metric}', {rule.means.format(**settings)}: "
                     f"it credits taking part, not the task's skill. {why}. Trials with a physical prompt, or with no "
                     f"prompt recorded, do not count.")
        out.append(Suggestion(id="", domain=rule.domain, goal=rule.goal, description=description,
                              objective=objective, sentence=_sentence(description, objective, scripts),
                              scripts=tuple(s.path.stem for s in scripts), rationale=rationale, task=task.id,
                              figure=rule.figure, baseline=baseline, template=template, baseline_n=figure.n,
                              baseline_source=_source(assessment, task, figure, did, rule.noun, True)))
        taken_here = "an engagement objective is suggested" if not rule.tolerance else \
            "engagement and tolerance objectives are suggested"
        for t in silent:
            instead[t.id] = taken_here
    return out, notes, instead


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    return (xs[(len(xs) - 1) // 2] + xs[len(xs) // 2]) / 2


def _unit(figure: Figure) -> str:
    return f" {figure.unit}" if figure.unit else ""


# --- suggestions.json ----------------------------------------------------------------------------------


def _folder(assessment: Assessment | str | os.PathLike) -> Path:
    if isinstance(assessment, Assessment):
        if not assessment.folder:
            raise ConfigError("This assessment has not been saved yet, so its suggestions have nowhere to go; "
                              "save it with save_assessment first.")
        return Path(assessment.folder)
    path = Path(assessment)
    return path.parent if path.name.endswith(".json") else path


def save_suggestions(assessment: Assessment | str | os.PathLike, suggestions: Suggestions | list[Suggestion]) -> Path:
    """Write ``suggestions.json`` (0600, atomically) in the assessment's folder; returns its path.

    Raises
    ------
    DataDirError
        One sentence when it cannot be written.
    """
    folder = _folder(assessment)
    path = folder / SUGGESTIONS_FILE
    doc = {"schema": SCHEMA, "written": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
           "suggestions": [s.to_dict() for s in suggestions],
           "notes": list(getattr(suggestions, "notes", []))}
    return write_private(path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n", error=lambda exc: DataDirError(
        f"Tandem could not save the suggestions in {folder} ({exc.strerror or exc}); check that the data folder is "
        f"writable and not full."))


def load_suggestions(assessment: Assessment | str | os.PathLike) -> Suggestions | None:
    """The saved suggestions of an assessment (its object or folder), or None when none were saved.

    Raises
    ------
    DataDirError
        One sentence when the file is there but cannot be read.
    """
    path = _folder(assessment) / SUGGESTIONS_FILE
    if not os.path.lexists(path):
        return None
    text = read_text(path, what="suggestions file", limit_bytes=JSON_LIMIT, error=DataDirError,
                     too_large="move the file away to suggest again")
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, nested too deep, a number of thousands of digits
        raise DataDirError(f"The suggestions {path} cannot be read (it is not valid JSON); move the file away to "
                           f"suggest again.") from None
    try:
        if not isinstance(doc, dict) or not isinstance(doc.get("suggestions"), list):
            raise ValueError("it holds no list of suggestions")
        notes = doc.get("notes", [])
        if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
            raise ValueError("its notes must be a list of sentences")
        return Suggestions((Suggestion.from_dict(d) for d in doc["suggestions"]), notes)
    except ValueError as exc:
        raise DataDirError(f"The suggestions {path} cannot be read ({str(exc)[:300]}); move the file away to "
                           f"suggest again.") from None


def with_state(suggestion: Suggestion, state: str, **changes: Any) -> Suggestion:
    """The suggestion in a new state, stamped with the time of the decision."""
    if state not in STATES:
        raise ValueError(f"unknown state {state!r}")
    return replace(suggestion, state=state, decided=dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                   **changes)
