"""Objectives: whether a child met a therapy goal, per session and over sessions.

An objective names one metric of a trial's scores (any key, such as
``within_window_pct``, ``asynchrony_sd_ms``, ``correct``, ``waited`` or
``response_latency_ms``; see DESIGN.md, "Metrics"), a comparator and a
threshold, and two criteria:

* a **trial criterion**, judged once per session, one of

  - ``"aggregate"``: an aggregate of the metric over the session's counted
    trials (mean, median, percent true, count true, min, max) is compared
    with the threshold, e.g. "percent correct ≥ 80" or "mean asynchrony SD
    ≤ 60 ms", once at least ``min_trials`` trials (default 5) were counted;
  - ``"k_of_n"``: each trial is judged on its own (``value comparator
    threshold``) and at least *k* of the first *n* counted trials must pass,
    e.g. "correct on 4 of 5 trials";
  - ``"k_of_n_consecutive"``: as ``"k_of_n"``, but the *k* passes must be
    consecutive trials, e.g. "4 of 5 consecutive trials";

* a **session criterion** for mastery: the trial criterion met in *m*
  consecutive sessions (default 3).

Each trial carries the therapist's prompt level, ordered from least to most
help: independent, gestural, verbal, model, physical. Only the levels the
objective names count toward the criterion (default: independent only); a
prompted trial is excluded from the criterion but still reported. A trial
nobody marked is "not recorded", never guessed: it counts only toward an
objective that counts every level (whatever help was given, it would count),
and is otherwise left out and reported apart from the prompted trials.

An objective may name the difficulty it is about (``level``: a pattern length
or a tempo range, read from the trial's ``pattern_length`` and ``tempo_bpm``
scores); then only trials at that level count, and its sentences say which.
The definitions, with worked examples, are in ``docs/definitions.md``.

Everything here is a pure function of the objective and the trial scores, so
any session can be re-judged from its log. Numbers that cannot be computed are
None, never NaN; bad definitions and bad scores raise ValueError with one
plain sentence naming the field and what is allowed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import numbers
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.scoring.words import (
    AGGREGATE_WORDS,
    BOOL_METRIC_PHRASES,
    COMPARATOR_WORDS,
    NUMERIC_METRIC_NAMES,
    SHARE_METRICS,
    bool_phrase,
    format_value,
    kind_of_scores,
    metric_display,
    metric_value_text,
    percent_text,
    plural,
    round_half_up,
    share_words,
    threshold_text,
)
from engine.text import shown

__all__ = [
    "AGGREGATES",
    "BOOL_AGGREGATES",
    "COMPARATORS",
    "CRITERIA",
    "DEFAULT_MIN_TRIALS",
    "LEVEL_BOUNDS",
    "NOT_RECORDED",
    "OTHER_DIFFICULTY",
    "PROMPT_LEVELS",
    "STATUSES",
    "TRIAL_PROMPTS",
    "Objective",
    "ObjectiveStatus",
    "SessionResult",
    "Trial",
    "TrialOutcome",
    "evaluate_session",
    "level_phrase",
    "objective_figure",
    "objective_status",
    "trial_test_phrase",
]

#: Prompt levels, from least to most help (as in clinical data-collection tools).
PROMPT_LEVELS = ("independent", "gestural", "verbal", "model", "physical")
#: A trial's prompt level when the therapist marked none (per trial or as the visit's default): never guessed.
NOT_RECORDED = "not recorded"
#: What a trial's prompt may be: one of the levels, or not recorded.
TRIAL_PROMPTS = (*PROMPT_LEVELS, NOT_RECORDED)
#: Aggregates over trials. ``percent_true`` is 0–100; ``count_true`` a count.
AGGREGATES = ("mean", "median", "percent_true", "count_true", "min", "max")
#: Comparators between a value and the threshold.
COMPARATORS = (">=", ">", "<=", "<", "==")
#: Trial criteria (see the module docstring).
CRITERIA = ("aggregate", "k_of_n", "k_of_n_consecutive")
#: Statuses of an objective over sessions, in order of progress.
STATUSES = ("not started", "in progress", "met this session", "mastered")

#: Default number of consecutive sessions for mastery.
DEFAULT_SESSIONS = 3
#: Default fewest counted trials an ``aggregate`` criterion is judged on (docs/definitions.md): a mean,
#: median or share of fewer trials says too little to call a criterion met, let alone mastered.
DEFAULT_MIN_TRIALS = 5

#: The aggregates of true/false scores (the others take numbers).
BOOL_AGGREGATES = ("percent_true", "count_true")
#: The bounds an objective's ``level`` may set (the difficulty it is about), each the trial score it reads and
#: how: ``pattern_length`` (notes in the call or the engine's phrase) and ``tempo_bpm`` (the trial's tempo).
LEVEL_BOUNDS = {
    "pattern_length_min": ("pattern_length", ">="),
    "pattern_length_max": ("pattern_length", "<="),
    "tempo_bpm_min": ("tempo_bpm", ">="),
    "tempo_bpm_max": ("tempo_bpm", "<="),
}
#: A trial's status when it was not at the objective's level (see :func:`evaluate_session`).
OTHER_DIFFICULTY = "other difficulty"
#: A trial's status when an audio dropout fell within it (engine.scoring.dropouts): left out of every objective.
DROPOUT = "dropout"
_COMPARE = {
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
}

_FIELD_HELP = {
    "id": "a non-empty name",
    "metric": "the name of a trial score, such as 'correct' or 'asynchrony_sd_ms'",
    "aggregate": "one of " + ", ".join(AGGREGATES),
    "comparator": "one of " + ", ".join(COMPARATORS),
    "threshold": "a number to compare with",
    "criterion": "one of " + ", ".join(CRITERIA),
    "k": "the number of trials that must pass",
    "n": "the number of trials judged",
    "sessions": "the number of consecutive sessions for mastery",
    "counted_prompts": "a list of prompt levels from " + ", ".join(PROMPT_LEVELS),
    "max_prompt": "one prompt level from " + ", ".join(PROMPT_LEVELS),
    "min_trials": f"the fewest counted trials an aggregate is judged on (default {DEFAULT_MIN_TRIALS})",
    "level": "a table of the difficulty the objective is about, with any of " + ", ".join(LEVEL_BOUNDS),
}
_FIELDS = tuple(_FIELD_HELP)


def _is_int(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _is_bool(x: Any) -> bool:
    # numpy.bool_ is not a subclass of bool; its type name is "bool" or "bool_".
    return isinstance(x, bool) or type(x).__name__ in ("bool", "bool_")


def _is_real(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not _is_bool(x)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass(frozen=True, slots=True)
class Objective:
    """A therapy objective: a metric, how trials are judged, and when it is mastered.

    Build it from a plain dict (as read from a TOML plan) with
    :meth:`from_dict`; direct construction is checked the same way.

    Attributes
    ----------
    id : str
        Name of the objective, unique within a plan.
    metric : str
        Key of a trial's scores to judge, e.g. ``"correct"`` or
        ``"asynchrony_sd_ms"``. Its unit is the unit of that score.
    comparator : str
        One of ``>=``, ``>``, ``<=``, ``<``, ``==``: how a value is compared
        with ``threshold`` (``value comparator threshold``). ``==`` is exact.
    threshold : float
        In the unit of the aggregate (``percent_true``: percent 0–100;
        ``count_true``: trials) or, for the ``k_of_n`` criteria, of the
        metric. A boolean threshold is stored as 1.0 (true) or 0.0 (false).
    criterion : str
        ``"aggregate"`` (default), ``"k_of_n"`` or ``"k_of_n_consecutive"``
        (see the module docstring).
    aggregate : str or None
        One of ``mean``, ``median``, ``percent_true``, ``count_true``,
        ``min``, ``max``, over the session's counted trials. Required for the
        ``aggregate`` criterion; optional (reported only) for the others.
        ``percent_true`` and ``count_true`` need true/false scores, the others
        numbers.
    k, n : int or None
        For the ``k_of_n`` criteria: at least ``k`` of the first ``n`` counted
        trials must pass (``1 <= k <= n``). None for ``aggregate``.
    sessions : int
        Consecutive sessions in which the criterion must be met for mastery
        (default 3).
    counted_prompts : tuple of str
        Prompt levels whose trials count toward the criterion, in
        :data:`PROMPT_LEVELS` order (default: independent only). In a dict,
        ``max_prompt = "verbal"`` is short for "that level and every level
        giving less help". A trial whose level was not recorded counts only
        when every level does.
    min_trials : int or None
        For the ``aggregate`` criterion: the fewest counted trials the
        aggregate is judged on (default :data:`DEFAULT_MIN_TRIALS`, 5); with
        fewer, the session has no verdict, and neither counts toward nor
        breaks mastery. None for the ``k_of_n`` criteria, which need ``n``
        counted trials (a recorded 1, from before the default, reads as
        None).
    level : tuple of (str, float)
        The difficulty the objective is about, as ``(bound, value)`` pairs in
        :data:`LEVEL_BOUNDS` order, e.g. ``(("pattern_length_min", 4.0),)``;
        in a dict, a table such as ``{"pattern_length_min": 4}`` or
        ``{"tempo_bpm_min": 80, "tempo_bpm_max": 100}``. Only trials at that
        level count (on an adaptive script, the easier and harder trials are
        left out and the sentence says which level); empty (default): every
        trial, whatever its difficulty.
    """

    id: str
    metric: str
    comparator: str
    threshold: float
    criterion: str = "aggregate"
    aggregate: str | None = None
    k: int | None = None
    n: int | None = None
    sessions: int = DEFAULT_SESSIONS
    counted_prompts: tuple[str, ...] = ("independent",)
    min_trials: int | None = None
    level: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id.strip():
            raise ValueError("An objective's id must be a non-empty name.")
        who = f"Objective '{self.id}'"
        if not isinstance(self.metric, str) or not self.metric.strip():
            raise ValueError(f"{who}: metric must be {_FIELD_HELP['metric']}.")
        if self.criterion not in CRITERIA:
            raise ValueError(
                f"{who}: criterion must be {_FIELD_HELP['criterion']}, not {shown(self.criterion)}.")
        if self.aggregate is not None and self.aggregate not in AGGREGATES:
            raise ValueError(
                f"{who}: aggregate must be {_FIELD_HELP['aggregate']}, not {shown(self.aggregate)}.")
        if self.comparator not in COMPARATORS:
            raise ValueError(
                f"{who}: comparator must be {_FIELD_HELP['comparator']}, not {shown(self.comparator)}.")
        threshold = self.threshold
        if _is_bool(threshold):
            threshold = 1.0 if threshold else 0.0
        # An int is compared as it is (a 400-digit one would overflow math.isfinite's conversion to float).
        if not _is_real(threshold) or not -1e15 < threshold < 1e15 or not math.isfinite(threshold):
            raise ValueError(f"{who}: threshold must be a finite number, not {shown(self.threshold)}.")
        object.__setattr__(self, "threshold", float(threshold))
        if self.criterion == "aggregate":
            if self.aggregate is None:
                raise ValueError(
                    f"{who}: the aggregate criterion needs an aggregate "
                    f"({_FIELD_HELP['aggregate']}).")
            if self.k is not None or self.n is not None:
                raise ValueError(
                    f"{who}: k and n apply only to the criteria k_of_n and "
                    "k_of_n_consecutive, not to aggregate.")
            if self.min_trials is None:
                object.__setattr__(self, "min_trials", DEFAULT_MIN_TRIALS)
        else:
            for name in ("k", "n"):
                value = getattr(self, name)
                if value is None:
                    raise ValueError(
                        f"{who}: the {self.criterion} criterion needs {name} "
                        f"({_FIELD_HELP[name]}).")
                if not _is_int(value) or value < 1:
                    raise ValueError(f"{who}: {name} must be a whole number of at least 1, "
                                     f"not {shown(value)}.")
            if self.k > self.n:
                raise ValueError(f"{who}: k ({self.k}) cannot be more than n ({self.n}).")
            if self.min_trials == 1:  # records written before DEFAULT_MIN_TRIALS kept 1 for every objective
                object.__setattr__(self, "min_trials", None)
            if self.min_trials is not None:
                raise ValueError(f"{who}: min_trials applies only to the aggregate criterion; "
                                 f"the {self.criterion} criterion always needs n trials.")
        if (self.criterion == "aggregate" and self.aggregate == "percent_true"
                and not 0.0 <= self.threshold <= 100.0):
            raise ValueError(f"{who}: a percent_true threshold is a percentage from 0 to 100, "
                             f"not {shown(self.threshold)}.")
        for name in ("sessions", "min_trials"):
            value = getattr(self, name)
            if name == "min_trials" and value is None:  # k_of_n: needs n trials instead
                continue
            if not _is_int(value) or value < 1:
                raise ValueError(f"{who}: {name} must be a whole number of at least 1, "
                                 f"not {shown(value)}.")
        prompts = self.counted_prompts
        if isinstance(prompts, str) or not isinstance(prompts, Sequence):
            raise ValueError(f"{who}: counted_prompts must be {_FIELD_HELP['counted_prompts']}.")  # noqa: TRY004 - plan data: bad input is a ValueError
        if not prompts:
            raise ValueError(f"{who}: counted_prompts must name at least one prompt level.")
        for level in prompts:
            if level not in PROMPT_LEVELS:
                raise ValueError(f"{who}: {shown(level)} is not a prompt level; the levels are "
                                 f"{', '.join(PROMPT_LEVELS)}.")
        object.__setattr__(
            self, "counted_prompts", tuple(p for p in PROMPT_LEVELS if p in set(prompts)))
        object.__setattr__(self, "level", _checked_level(self.level, who))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Objective:
        """Build an objective from a plain dict, such as a TOML table.

        Parameters
        ----------
        data : mapping
            Keys as the attributes of :class:`Objective`. Required: ``id``,
            ``metric``, ``comparator``, ``threshold``; ``aggregate`` for the
            ``aggregate`` criterion; ``k`` and ``n`` for the others. Instead of
            ``counted_prompts`` a dict may give ``max_prompt`` (that level and
            every level giving less help).

        Returns
        -------
        Objective

        Raises
        ------
        ValueError
            If a field is missing, unknown or not allowed, in one sentence
            naming the field and what it may be.

        Examples
        --------
        >>> o = Objective.from_dict({"id": "imitate", "metric": "correct",
        ...     "criterion": "k_of_n", "k": 4, "n": 5, "comparator": "==",
        ...     "threshold": True, "max_prompt": "gestural"})
        >>> o.counted_prompts, o.sessions
        (('independent', 'gestural'), 3)
        """
        if not isinstance(data, Mapping):
            raise ValueError("An objective must be a table of fields (a dict), "  # noqa: TRY004 - plan data: bad input is a ValueError
                             f"not {type(data).__name__}.")
        raw_id = data.get("id")
        who = f"Objective '{raw_id}'" if isinstance(raw_id, str) and raw_id else "An objective"
        unknown = [key for key in data if key not in _FIELDS]
        if unknown:
            raise ValueError(f"{who} has an unknown field {shown(str(unknown[0]))}; the fields are "
                             f"{', '.join(_FIELDS)}.")
        for key in ("id", "metric", "comparator", "threshold"):
            if key not in data:
                raise ValueError(f"{who} is missing the field {shown(key)} ({_FIELD_HELP[key]}).")
        kwargs = {key: value for key, value in data.items() if key != "max_prompt"}
        if "max_prompt" in data:
            if "counted_prompts" in data:
                raise ValueError(f"{who}: give either counted_prompts or max_prompt, not both.")
            level = data["max_prompt"]
            if level not in PROMPT_LEVELS:
                raise ValueError(f"{who}: max_prompt {shown(level)} is not a prompt level; the levels "
                                 f"are {', '.join(PROMPT_LEVELS)}.")
            kwargs["counted_prompts"] = PROMPT_LEVELS[: PROMPT_LEVELS.index(level) + 1]
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """The objective as a plain dict that :meth:`from_dict` accepts."""
        out = dataclasses.asdict(self)
        out["counted_prompts"] = list(self.counted_prompts)
        out["level"] = dict(self.level) or None
        return {key: value for key, value in out.items() if value is not None}


def _checked_level(level: Any, who: str) -> tuple[tuple[str, float], ...]:
    """An objective's ``level`` (a table, or ``(bound, value)`` pairs as a log keeps them) as ordered pairs."""
    if level is None:
        return ()
    if isinstance(level, Mapping):
        pairs = list(level.items())
    elif isinstance(level, (list, tuple)) and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in level):
        pairs = [tuple(p) for p in level]
    else:
        raise ValueError(f"{who}: level must be {_FIELD_HELP['level']}, e.g. {{pattern_length_min = 4}}.")
    bounds: dict[str, float] = {}
    for key, value in pairs:
        if key not in LEVEL_BOUNDS:
            raise ValueError(f"{who}: level has an unknown bound {shown(str(key))}; the bounds are "
                             f"{', '.join(LEVEL_BOUNDS)}.")
        if not _is_real(value) or not math.isfinite(value) or value <= 0:
            raise ValueError(f"{who}: level {key} must be a positive number, not {shown(value)}.")
        if key.startswith("pattern_length") and not float(value).is_integer():
            raise ValueError(f"{who}: level {key} is a number of notes, a whole number, not {shown(value)}.")
        bounds[key] = float(value)
    for name in ("pattern_length", "tempo_bpm"):
        lo, hi = bounds.get(f"{name}_min"), bounds.get(f"{name}_max")
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"{who}: level {name}_min ({lo:g}) is more than {name}_max ({hi:g}).")
    return tuple((key, bounds[key]) for key in LEVEL_BOUNDS if key in bounds)


@dataclass(frozen=True, slots=True)
class Trial:
    """One trial: its scores and the therapist's prompt level.

    Attributes
    ----------
    scores : dict
        Metric name → number, bool or None (None: not measured), e.g. the
        ``to_dict()`` of a scoring summary. Only the objective's metric is
        read and checked.
    prompt : str
        Prompt level given on this trial, one of :data:`PROMPT_LEVELS`, or
        :data:`NOT_RECORDED` (the default: nobody said which, so it is not
        taken to be independent).
    scorable : bool or None
        False if the trial could not be scored (its value is then ignored).
        None (default): taken from a boolean ``scores["scorable"]`` if there
        is one, as in ``SyncSummary.to_dict()``, else the trial is scorable
        when its value is not None.
    dropout : bool
        An audio dropout (an xrun) fell within the trial's window: cues may
        have sounded late and inputs been lost, so the trial is left out of
        every objective and counted apart (docs/visits.md, "Xruns").
    """

    scores: Mapping[str, Any] = field(default_factory=dict)
    prompt: str = NOT_RECORDED
    scorable: bool | None = None
    dropout: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.scores, Mapping):
            raise ValueError("A trial's scores must be a table of metric names to values.")  # noqa: TRY004 - plan data: bad input is a ValueError
        object.__setattr__(self, "scores", dict(self.scores))
        if self.prompt not in TRIAL_PROMPTS:
            raise ValueError(f"A trial's prompt {shown(self.prompt)} is not a prompt level; the levels "
                             f"are {', '.join(PROMPT_LEVELS)}, or {shown(NOT_RECORDED)}.")
        if self.scorable is not None and not _is_bool(self.scorable):
            raise ValueError(f"A trial's scorable must be true, false or absent, "
                             f"not {shown(self.scorable)}.")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Trial:
        """Build a trial from ``{"scores": {...}, "prompt": ..., "scorable": ...}``."""
        if not isinstance(data, Mapping):
            raise ValueError(f"A trial must be a table of fields, not {type(data).__name__}.")  # noqa: TRY004 - plan data: bad input is a ValueError
        unknown = [key for key in data if key not in ("scores", "prompt", "scorable")]
        if unknown:
            raise ValueError(f"A trial has an unknown field {shown(str(unknown[0]))}; the fields are "
                             "scores, prompt, scorable.")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """The trial as a plain dict."""
        return {"scores": dict(self.scores), "prompt": self.prompt, "scorable": self.scorable}


@dataclass(frozen=True, slots=True)
class TrialOutcome:
    """How one trial was treated by :func:`evaluate_session`.

    Attributes
    ----------
    index : int
        Position of the trial in the session (0-based).
    prompt : str
        The trial's prompt level.
    value : float or bool or None
        The trial's value of the objective's metric (reported even if the
        trial was not counted); None if unscorable.
    status : str
        ``"counted"``, ``"prompted"`` (its prompt level does not count; this
        is decided first), ``"not recorded"`` (no prompt level was recorded
        and the objective does not count every level; decided first too) or
        ``"unscorable"``; before these, ``"dropout"`` (an audio dropout fell within it); before all of these,
        ``"other difficulty"`` when the
        trial was not at the objective's ``level``.
    passed : bool or None
        ``value comparator threshold`` for a counted trial; for the
        ``percent_true`` and ``count_true`` aggregates, the value itself.
        With the ``mean``/``median``/``min``/``max`` aggregates this is for
        information only: the aggregate decides. None if not counted.
    judged : bool
        True if the trial is one the criterion was decided on: every counted
        trial for ``aggregate``, the first ``n`` counted trials otherwise.
    """

    index: int
    prompt: str
    value: float | bool | None
    status: str
    passed: bool | None
    judged: bool

    def to_dict(self) -> dict[str, Any]:
        """The outcome as a plain dict."""
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class SessionResult:
    """An objective judged on one session's trials.

    Attributes
    ----------
    objective_id : str
        The objective's id.
    value : float or None
        The objective's aggregate over the counted trials, in its unit
        (``percent_true``: percent 0–100; ``count_true``: trials); None if no
        trial was counted or the objective has no aggregate.
    n_trials : int
        Trials given.
    counted : int
        Trials that count toward the criterion (right prompt level, scorable).
    excluded_prompted : int
        Trials left out because of their prompt level.
    not_recorded : int
        Trials left out because no prompt level was recorded for them (see
        the module docstring); not among ``excluded_prompted``.
    unscorable : int
        Trials of a counted prompt level left out because they had no value.
    other_difficulty : int
        Trials left out because they were not at the objective's ``level``
        (decided before anything else); 0 when it names none.
    judged : int
        Trials the criterion was decided on (all counted for ``aggregate``;
        at most ``n`` otherwise).
    passed : int
        Judged trials that passed on their own (see :class:`TrialOutcome`).
    longest_run : int or None
        Longest run of consecutive passes among the judged trials, for
        ``k_of_n_consecutive``; None otherwise.
    met : bool or None
        Whether the criterion was met; None if there was nothing to judge.
    reason : str or None
        Why ``met`` is None, as one plain sentence; None otherwise.
    summary : str
        One or two plain sentences about this session.
    trials : tuple of TrialOutcome
        Every trial, in order, with how it was treated.
    measure : str
        The session's figures in words, without the verdict (the start of ``summary``, and of the
        sentence over sessions); empty when ``met`` is None.
    """

    objective_id: str
    value: float | None
    n_trials: int
    counted: int
    excluded_prompted: int
    unscorable: int
    judged: int
    passed: int
    longest_run: int | None
    met: bool | None
    reason: str | None
    summary: str
    trials: tuple[TrialOutcome, ...]
    not_recorded: int = 0
    other_difficulty: int = 0
    measure: str = ""
    dropouts: int = 0  # trials left out because an audio dropout fell within them

    def to_dict(self) -> dict[str, Any]:
        """The result as a plain dict (JSON-ready)."""
        out = dataclasses.asdict(self)
        out["trials"] = [t.to_dict() for t in self.trials]
        return out


@dataclass(frozen=True, slots=True)
class ObjectiveStatus:
    """Progress of an objective over sessions (see :func:`objective_status`).

    Attributes
    ----------
    objective_id : str
        The objective's id.
    status : str
        ``"not started"``: no session has any trial; ``"mastered"``: the
        criterion was met in the last ``sessions_required`` consecutive
        judged sessions; ``"met this session"``: the latest session met it
        but mastery is not reached; ``"in progress"``: anything else.
    consecutive_met : int
        Judged sessions, counting back from the latest, that met the
        criterion without a break. Sessions with nothing to judge are
        skipped: they neither count nor break the run.
    sessions_required : int
        Consecutive sessions needed for mastery.
    n_sessions : int
        Sessions given.
    sessions_judged : int
        Sessions whose ``met`` is not None.
    values : tuple of (float or None)
        Each session's aggregate value, oldest first.
    passed : tuple of int
        Each session's passing judged trials.
    judged : tuple of int
        Each session's judged trials.
    met : tuple of (bool or None)
        Each session's verdict.
    sentence : str
        A plain-language sentence a therapist could paste into notes.
    mastered_on : str or None
        The date (ISO 8601) of the visit that completed the run of
        ``sessions_required`` met visits on separate days, for the latest
        mastery; None if never mastered (or no dates were given).
    regressed_on : str or None
        The date of the first visit that did not meet the criterion after that
        mastery (the objective is in progress again); None if none.
    """

    objective_id: str
    status: str
    consecutive_met: int
    sessions_required: int
    n_sessions: int
    sessions_judged: int
    values: tuple[float | None, ...]
    passed: tuple[int, ...]
    judged: tuple[int, ...]
    met: tuple[bool | None, ...]
    sentence: str
    mastered_on: str | None = None
    regressed_on: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The status as a plain dict (JSON-ready)."""
        out = dataclasses.asdict(self)
        for key in ("values", "passed", "judged", "met"):
            out[key] = list(out[key])
        return out


# --- judging one session --------------------------------------------------------


def _trial_value(objective: Objective, trial: Trial, index: int) -> float | bool | None:
    """The trial's value of the objective's metric, checked; None if unscorable."""
    scores = trial.scores
    if objective.metric not in scores:
        names = ", ".join(sorted(map(str, scores))) or "none"
        raise ValueError(f"Trial {index + 1} has no score named {shown(objective.metric)} "
                         f"(objective '{objective.id}'); its scores are: {names}.")
    value = scores[objective.metric]
    scorable = trial.scorable
    if scorable is None and _is_bool(scores.get("scorable")):
        scorable = bool(scores["scorable"])
    if value is None:
        return None
    if _is_bool(value):
        value = bool(value)
    elif _is_real(value):
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"Trial {index + 1}'s {objective.metric} is {value}; a score that "
                             "could not be measured must be None, not NaN or infinite.")
    else:
        raise ValueError(f"Trial {index + 1}'s {objective.metric} must be a number, true/false "
                         f"or None, not {shown(value)}.")
    agg = objective.aggregate
    if agg in BOOL_AGGREGATES and not isinstance(value, bool):
        raise ValueError(f"Objective '{objective.id}': {agg} needs true/false scores, but "
                         f"trial {index + 1}'s {objective.metric} is {shown(value)}.")
    if agg is not None and agg not in BOOL_AGGREGATES and isinstance(value, bool):
        raise ValueError(f"Objective '{objective.id}': {agg} needs numeric scores, but "
                         f"trial {index + 1}'s {objective.metric} is {shown(value)}; use "
                         "percent_true or count_true for true/false scores.")
    if scorable is False:
        return None
    return value


def _aggregate(name: str | None, values: list[float | bool]) -> float | None:
    if name is None or not values:
        return None
    if name == "percent_true":
        return 100.0 * sum(1 for v in values if v) / len(values)
    if name == "count_true":
        return float(sum(1 for v in values if v))
    if name == "mean":
        return float(statistics.fmean(values))
    if name == "median":
        return float(statistics.median(values))
    if name == "min":
        return float(min(values))
    return float(max(values))


def _longest_run(flags: Sequence[bool]) -> int:
    best = run = 0
    for flag in flags:
        run = run + 1 if flag else 0
        best = max(best, run)
    return best


def evaluate_session(
    objective: Objective, trials: Sequence[Trial | Mapping[str, Any]]
) -> SessionResult:
    """Judge one session's trials against an objective.

    Each trial is first sorted: ``"not recorded"`` if no prompt level was
    recorded and the objective does not count every level, ``"prompted"`` if
    its prompt level is not one the objective counts, else ``"unscorable"``
    if it has no value (value None, or ``scorable`` false), else
    ``"counted"``. Then:

    * ``aggregate``: the aggregate of the counted values is compared with the
      threshold; judged if at least ``min_trials`` trials were counted
      (default :data:`DEFAULT_MIN_TRIALS`).
    * ``k_of_n``: the first ``n`` counted trials are judged, each as
      ``value comparator threshold`` (true counts as 1, false as 0); met if
      at least ``k`` pass. Judged only if at least ``n`` trials were counted.
    * ``k_of_n_consecutive``: as ``k_of_n``, but met only if ``k`` of the
      judged trials pass in a row.

    Parameters
    ----------
    objective : Objective
    trials : sequence of Trial or dict
        The session's trials for this objective, in the order given. A dict
        is read with :meth:`Trial.from_dict`.

    Returns
    -------
    SessionResult
        ``met`` is None, with a ``reason``, when there is nothing to judge.

    Raises
    ------
    ValueError
        If a trial lacks the objective's metric, has a value of the wrong
        kind for the aggregate, or a NaN value.
    TypeError
        If ``objective`` is not an :class:`Objective`.
    """
    if not isinstance(objective, Objective):
        raise TypeError("objective must be an Objective (see Objective.from_dict).")
    if isinstance(trials, (str, bytes, Mapping)) or not isinstance(trials, Sequence):
        raise ValueError("trials must be a list of trials.")  # noqa: TRY004 - plan data: bad input is a ValueError
    trial_list = [t if isinstance(t, Trial) else Trial.from_dict(t) for t in trials]
    counts_prompt = set(objective.counted_prompts)
    if counts_prompt == set(PROMPT_LEVELS):  # whatever help was given, the trial counts: no guess needed
        counts_prompt.add(NOT_RECORDED)
    k_of_n = objective.criterion != "aggregate"
    threshold = objective.threshold
    compare = _COMPARE[objective.comparator]

    outcomes: list[TrialOutcome] = []
    counted_values: list[float | bool] = []
    judged_flags: list[bool] = []
    for index, trial in enumerate(trial_list):
        value = _trial_value(objective, trial, index)
        if objective.level and not _at_level(objective, trial):
            outcomes.append(TrialOutcome(index, trial.prompt, value, OTHER_DIFFICULTY, None, False))
            continue
        if trial.dropout:
            outcomes.append(TrialOutcome(index, trial.prompt, value, DROPOUT, None, False))
            continue
        if trial.prompt not in counts_prompt:
            status = NOT_RECORDED if trial.prompt == NOT_RECORDED else "prompted"
            outcomes.append(TrialOutcome(index, trial.prompt, value, status, None, False))
            continue
        if value is None:
            outcomes.append(TrialOutcome(index, trial.prompt, None, "unscorable", None, False))
            continue
        if objective.aggregate in BOOL_AGGREGATES and not k_of_n:
            passed = bool(value)
        else:
            passed = bool(compare(float(value), threshold))
        judged = not k_of_n or len(counted_values) < objective.n
        counted_values.append(value)
        if judged:
            judged_flags.append(passed)
        outcomes.append(TrialOutcome(index, trial.prompt, value, "counted", passed, judged))

    counted = len(counted_values)
    prompted = sum(1 for o in outcomes if o.status == "prompted")
    not_recorded = sum(1 for o in outcomes if o.status == NOT_RECORDED)
    unscorable = sum(1 for o in outcomes if o.status == "unscorable")
    other_difficulty = sum(1 for o in outcomes if o.status == OTHER_DIFFICULTY)
    dropouts = sum(1 for o in outcomes if o.status == DROPOUT)
    value = _aggregate(objective.aggregate, counted_values)
    longest = _longest_run(judged_flags) if objective.criterion == "k_of_n_consecutive" else None
    needed = objective.n if k_of_n else objective.min_trials

    met: bool | None
    reason = None
    if counted < needed and trial_list and other_difficulty == len(trial_list):
        met = None
        which = "The only trial was not" if len(trial_list) == 1 else f"None of the {len(trial_list)} trials were"
        reason = f"{which} {level_phrase(objective)}, the difficulty this objective is about."
    elif counted < needed:
        met = None
        reason = _no_verdict_reason(objective, len(trial_list), counted, prompted, unscorable,
                                    needed, not_recorded=not_recorded, dropouts=dropouts) + _difficulty_note(
            objective, other_difficulty)
    elif objective.criterion == "aggregate":
        met = bool(compare(value, threshold))
    elif objective.criterion == "k_of_n":
        met = sum(judged_flags) >= objective.k
    else:
        met = longest >= objective.k

    result = SessionResult(
        objective_id=objective.id,
        value=value,
        n_trials=len(trial_list),
        counted=counted,
        excluded_prompted=prompted,
        unscorable=unscorable,
        judged=len(judged_flags),
        passed=sum(judged_flags),
        longest_run=longest,
        met=met,
        reason=reason,
        summary="",
        trials=tuple(outcomes),
        not_recorded=not_recorded,
        other_difficulty=other_difficulty,
        dropouts=dropouts,
    )
    if met is None:
        return dataclasses.replace(result, summary=reason)
    counted_trials = [trial_list[o.index] for o in outcomes if o.status == "counted"]
    kind, window_ms = _wording_context(counted_trials)
    measure = _measure_phrase(objective, result, kind=kind, window_ms=window_ms)
    summary = (f"{measure}; criterion {'met' if met else 'not met'}.{_exclusion_note(result)}"
               f"{_difficulty_note(objective, other_difficulty)}")
    return dataclasses.replace(result, summary=summary, measure=measure)


def _no_verdict_reason(objective: Objective, n_trials: int, counted: int, prompted: int,
                       unscorable: int, needed: int, *, not_recorded: int = 0, dropouts: int = 0) -> str:
    if n_trials == 0:
        return "No trials were recorded."
    if counted == 0 and dropouts == n_trials:
        return ("An audio dropout fell within the only trial, so it was left out." if n_trials == 1 else
                f"An audio dropout fell within each of the {n_trials} trials, so they were left out.")
    if counted == 0 and not_recorded == n_trials:
        levels = " or ".join(objective.counted_prompts)
        which = "the trial" if n_trials == 1 else f"any of the {n_trials} trials"
        return (f"No prompt level was recorded for {which}, and only {levels} trials count toward "
                "the criterion.")
    if counted == 0 and prompted == n_trials:
        levels = " or ".join(objective.counted_prompts)
        which = "The only trial was" if n_trials == 1 else f"All {n_trials} trials were"
        return f"{which} prompted, and only {levels} trials count toward the criterion."
    if counted == 0 and unscorable == n_trials:
        return "The only trial could not be scored." if n_trials == 1 else \
            f"None of the {n_trials} trials could be scored."
    left_out = []
    if prompted:
        left_out.append(f"{prompted} prompted")
    if not_recorded:
        left_out.append(f"{not_recorded} without a recorded prompt level")
    if unscorable:
        left_out.append(f"{unscorable} could not be scored")
    if dropouts:
        left_out.append(f"{dropouts} with an audio dropout")
    detail = f" ({', '.join(left_out)})" if left_out else ""
    verb = "was" if counted == 1 else "were"
    return (f"Only {counted} of {plural(n_trials, 'trial')} {verb} counted{detail}; the "
            f"criterion needs {needed}.")


# --- sentences ------------------------------------------------------------------
#
# Each sentence reads condition + behaviour + criterion where the data allow it: what the child did
# ("Stopped when the music stopped", "Tapped within ±80 ms of the beat on at least 70 % of beats"), on
# which trials (the difficulty, the prompt levels counted) and against what. The words of each metric
# are in engine.scoring.words; the templates, with examples the code produced, in docs/sentences.md.


def _true_test(objective: Objective) -> bool | None:
    """For a true/false test: True if a passing trial has the metric, False if it lacks it; None otherwise."""
    comparator, threshold = objective.comparator, objective.threshold
    if (comparator in ("==", ">=") and threshold == 1.0) or (comparator == ">" and threshold == 0.0):
        return True
    if (comparator in ("==", "<=") and threshold == 0.0) or (comparator == "<" and threshold == 1.0):
        return False
    return None


def trial_test_phrase(objective: Objective, *, kind: str | None = None, window_ms: float | None = None) -> str:
    """What a passing trial is, e.g. "Imitated correctly" or "Response latency was at most 2000 ms".

    ``kind``: the kind of activity, for the words of ``correct``; ``window_ms``: the timing window of a
    synchronisation metric ("Tapped within ±80 ms of the beat on at least 70 % of beats").
    """
    metric = objective.metric
    test = _true_test(objective)
    if test is not None and (metric in BOOL_METRIC_PHRASES or metric not in NUMERIC_METRIC_NAMES):
        return bool_phrase(metric, true=test, kind=kind)
    if metric in SHARE_METRICS:
        units, done = share_words(metric, window_ms)
        return (f"{done[0].upper()}{done[1:]} on {COMPARATOR_WORDS[objective.comparator]} "
                f"{format_value(objective.threshold, '%')} of {units}")
    name, _ = metric_display(metric)
    return f"{name[0].upper()}{name[1:]} was {threshold_text(metric, objective.comparator, objective.threshold)}"


def _measure_phrase(objective: Objective, result: SessionResult, *, kind: str | None = None,
                    window_ms: float | None = None) -> str:
    """The session's numbers in words, without the verdict."""
    agg = objective.aggregate
    at = f" {level_phrase(objective)}" if objective.level else ""
    trials = f"{plural(result.counted, 'trial')}{at}"
    if objective.criterion == "aggregate" and agg in BOOL_AGGREGATES:
        phrase = bool_phrase(objective.metric, kind=kind)
        pct = 100.0 * result.passed / result.judged
        return f"{phrase} on {result.passed} of {plural(result.judged, 'trial')}{at} ({percent_text(pct)})"
    if objective.criterion == "aggregate":
        value = metric_value_text(objective.metric, result.value)
        if objective.metric in SHARE_METRICS:
            units, done = share_words(objective.metric, window_ms)
            if agg == "mean":
                return f"On average over {trials}, {value} of {units} were {done}"
            return f"Over {trials}, the {AGGREGATE_WORDS[agg].lower()} trial had {value} of {units} {done}"
        name, _ = metric_display(objective.metric)
        return f"Over {trials}, the {AGGREGATE_WORDS[agg].lower()} {name} was {value}"
    pct = 100.0 * result.passed / result.judged
    first = "the first " if result.counted > result.judged else ""
    text = (f"{trial_test_phrase(objective, kind=kind, window_ms=window_ms)} on {result.passed} of {first}"
            f"{plural(result.judged, 'trial')}{at} ({percent_text(pct)})")
    if objective.criterion == "k_of_n_consecutive":
        text += f", with a longest run of {result.longest_run} in a row ({objective.k} needed)"
    return text


def _wording_context(trials: Sequence[Trial]) -> tuple[str | None, float | None]:
    """The kind of activity the trials come from and their timing window (ms), for the words only: None
    when not known or not the same on every trial (a plan objective judged over several activities)."""
    kinds = {kind_of_scores(t.scores) for t in trials}
    kind = kinds.pop() if len(kinds) == 1 else None
    windows = {t.scores.get("window_ms") for t in trials if "window_ms" in t.scores}
    window = windows.pop() if len(windows) == 1 else None
    return kind, (float(window) if _is_real(window) and math.isfinite(window) else None)


#: How each difficulty reads: (exactly, at least, at most, a range), as ``str.format`` patterns of the bounds.
_LEVEL_WORDS = {
    "pattern_length": ("on {0:g}-note patterns", "on patterns of {0:g} notes or more",
                       "on patterns of at most {1:g} notes", "on patterns of {0:g}–{1:g} notes"),
    "tempo_bpm": ("at {0:g} BPM", "at {0:g} BPM or faster", "at {1:g} BPM or slower", "at {0:g}–{1:g} BPM"),
}


def level_phrase(objective: Objective) -> str:
    """The difficulty an objective is about in words, e.g. "on patterns of 4 notes or more at 80–100 BPM".

    Empty when the objective names no ``level`` (every trial counts).
    """
    bounds = dict(objective.level)
    parts = []
    for name, (exactly, at_least, at_most, between) in _LEVEL_WORDS.items():
        lo, hi = bounds.get(f"{name}_min"), bounds.get(f"{name}_max")
        if lo is None and hi is None:
            continue
        words = exactly if lo == hi else at_least if hi is None else at_most if lo is None else between
        parts.append(words.format(lo, hi))
    return " ".join(parts)


def _at_level(objective: Objective, trial: Trial) -> bool:
    """Whether the trial was at the objective's level; a trial without the score a bound reads was not."""
    for bound, limit in objective.level:
        key, comparator = LEVEL_BOUNDS[bound]
        value = trial.scores.get(key)
        if not _is_real(value) or not math.isfinite(value) or not _COMPARE[comparator](float(value), limit):
            return False
    return True


def _difficulty_note(objective: Objective, other: int) -> str:
    if not other:
        return ""
    verb = "was" if other == 1 else "were"
    return (f" {plural(other, 'trial')} at another difficulty {verb} not counted (the objective counts only "
            f"trials {level_phrase(objective)}).")


def _exclusion_note(result: SessionResult) -> str:
    notes = []
    if result.excluded_prompted:
        verb = "was" if result.excluded_prompted == 1 else "were"
        notes.append(f" {plural(result.excluded_prompted, 'prompted trial')} {verb} "
                     "not counted.")
    if result.not_recorded:
        verb = "was" if result.not_recorded == 1 else "were"
        notes.append(f" {plural(result.not_recorded, 'trial')} without a recorded prompt level {verb} "
                     "not counted.")
    if result.unscorable == 1:
        notes.append(" 1 trial was left out because it could not be scored.")
    elif result.unscorable:
        notes.append(f" {result.unscorable} trials were left out because they could not be "
                     "scored.")
    if result.dropouts:
        verb = "was" if result.dropouts == 1 else "were"
        notes.append(f" {plural(result.dropouts, 'trial')} {verb} left out because an audio dropout fell within "
                     f"{'it' if result.dropouts == 1 else 'them'}.")
    return "".join(notes)


# --- over sessions ----------------------------------------------------------------


def objective_status(objective: Objective, sessions: Sequence[SessionResult],
                     dates: Sequence[dt.date] | None = None, *, min_gap_days: int = 1) -> ObjectiveStatus:
    """Progress of an objective over its sessions (visits), oldest first.

    Mastery needs the criterion met in ``objective.sessions`` consecutive
    visits **on separate days**: with ``dates`` (each visit's date), a met
    visit fewer than ``min_gap_days`` days after the last visit that counted
    (e.g. a second visit the same day) neither counts toward the run nor
    breaks it. Without dates every visit counts as a day of its own.
    Visits with nothing to judge (``met`` None: too few counted trials)
    neither count toward nor break a run of met visits, and the sentence
    says so. The status is ``"not started"`` if no visit has any trial;
    ``"mastered"`` if the run reached ``objective.sessions``; ``"met this
    session"`` if the latest visit met it; otherwise ``"in progress"``
    (including when the latest visit had nothing to judge). Mastery is not
    permanent: a visit that does not meet the criterion after mastery gives
    ``"in progress"`` again, and ``regressed_on`` its date.

    Parameters
    ----------
    objective : Objective
    sessions : sequence of SessionResult
        Results of :func:`evaluate_session` for this objective, oldest first.
    dates : sequence of datetime.date, optional
        Each session's date, oldest first (as many as ``sessions``).
    min_gap_days : int
        Fewest days between two visits that both count toward mastery (1:
        separate days; the plan can ask for more).

    Returns
    -------
    ObjectiveStatus

    Raises
    ------
    ValueError
        If a session result belongs to another objective, or the dates do not match the sessions.
    """
    if not isinstance(objective, Objective):
        raise TypeError("objective must be an Objective (see Objective.from_dict).")
    sessions = list(sessions)
    for i, s in enumerate(sessions):
        if not isinstance(s, SessionResult):
            raise TypeError(f"Session {i + 1} is not a SessionResult from evaluate_session.")
        if s.objective_id != objective.id:
            raise ValueError(f"Session {i + 1} was judged for objective '{s.objective_id}', "
                             f"not '{objective.id}'.")
    if dates is not None and len(dates) != len(sessions):
        raise ValueError(f"{len(dates)} dates were given for {len(sessions)} sessions.")
    required = objective.sessions
    streak = 0
    last_day: dt.date | None = None
    mastered_on: dt.date | None = None
    regressed_on: dt.date | None = None
    latest_same_day = False
    for k, s in enumerate(sessions):
        day = dates[k] if dates is not None else None
        latest_same_day = False
        if s.met is None:
            continue  # too few counted trials: neither counts nor breaks
        if not s.met:
            if streak >= required:
                regressed_on = day
            streak, last_day = 0, None
            continue
        if day is not None and last_day is not None and (day - last_day).days < min_gap_days:
            latest_same_day = True  # met again too soon after the last visit that counted: not a new day
            continue
        streak += 1
        last_day = day
        if streak == required:
            mastered_on, regressed_on = day, None
    latest = sessions[-1] if sessions else None

    if not any(s.n_trials for s in sessions):
        status = "not started"
    elif streak >= required:
        status = "mastered"
    elif latest.met:
        status = "met this session"
    else:
        status = "in progress"

    days = " on separate days" if dates is not None else ""
    if status == "not started":
        sentence = "No trials have been recorded yet."
    elif latest.met is None:
        sentence = latest.reason + " This visit neither counts toward mastery nor breaks it."
        if status == "mastered":
            sentence += (f" The objective stays mastered: its criterion was met in the "
                         f"{streak} visits{days} with data before this one.")
        elif streak:
            last = "at the last visit" if streak == 1 else f"in the last {streak} visits{days}"
            sentence += f" The criterion was met {last} with data ({required} in a row needed for mastery)."
    else:
        measure = latest.measure or _measure_phrase(objective, latest)
        if not latest.met:
            tail = "criterion not met at this visit."
            if regressed_on is not None and regressed_on == (dates[-1] if dates else None) and mastered_on:
                tail = (f"criterion not met at this visit, after it was mastered on {_day(mastered_on)}: "
                        f"in progress again.")
        elif latest_same_day:
            when = "on the same day as" if min_gap_days == 1 else f"within {min_gap_days} days of"
            tail = (f"criterion met, but {when} the last visit that counted ({_day(last_day)}), so it does not "
                    f"count again toward mastery")
            tail += (": mastered." if status == "mastered" else
                     f" ({streak} of {required} visits{days} so far).")
        elif streak == 1:
            tail = "criterion met at this visit"
            tail += ": mastered." if status == "mastered" else "."
        else:
            tail = f"criterion met for the {_ordinal(streak)} consecutive visit{days}"
            tail += ": mastered." if status == "mastered" else "."
        if status == "mastered" and mastered_on is not None and not latest_same_day:
            tail = tail[:-1] + f" on {_day(mastered_on)}."
        sentence = f"{measure}; {tail}{_exclusion_note(latest)}"

    return ObjectiveStatus(
        objective_id=objective.id,
        status=status,
        consecutive_met=streak,
        sessions_required=required,
        n_sessions=len(sessions),
        sessions_judged=sum(1 for s in sessions if s.met is not None),
        values=tuple(s.value for s in sessions),
        passed=tuple(s.passed for s in sessions),
        judged=tuple(s.judged for s in sessions),
        met=tuple(s.met for s in sessions),
        sentence=sentence,
        mastered_on=mastered_on.isoformat() if mastered_on is not None else None,
        regressed_on=regressed_on.isoformat() if regressed_on is not None else None,
    )


def objective_figure(objective: Objective, value: float | None) -> str:
    """A visit's figure of an objective as the screen shows it, in its unit and rounded half up as every
    report does: "63 %", "1413 ms", "4 trials"; "—" when it has none (a k-of-n criterion has no aggregate)."""
    if value is None:
        return "—"
    if objective.aggregate == "percent_true":
        return percent_text(value)
    if objective.aggregate == "count_true":
        return plural(int(round_half_up(value)), "trial")
    return metric_value_text(objective.metric, value)


def _day(day: dt.date | None) -> str:
    """A date as a therapist reads it, e.g. "4 March 2026"."""
    return "—" if day is None else f"{day.day} {day:%B %Y}"
