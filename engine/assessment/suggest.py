"""Suggested objectives: measurable next steps proposed from a baseline assessment.

:func:`suggest_objectives` reads an :class:`~engine.assessment.results.Assessment`
and proposes, per task that was done, an objective one sensible step above
the child's baseline: an :class:`~engine.scoring.objectives.Objective` a
session can judge, a plain-language sentence, the scripts in
``content/songs`` whose kind measures its metric, and the rationale (which
baseline figure, what value). The therapist accepts, edits or rejects each
(:mod:`engine.assessment.accept`); nothing enters the plan otherwise.

Rules (:data:`RULES`): a target is the baseline plus a step (percentages:
+25 points, rounded up to 5; times and variability: 25 % lower, rounded),
capped (percentages at 80 %, times and variability at a floor); nothing is
suggested from a task that was not ``done`` or lacks the figure; a skill
already at the cap gets a *maintenance* objective at the cap ("will keep on
being able to ..."; id ``...-maintained``), listed after the others, which
the therapist may accept to keep the skill or reject to work on another; a
metric that no script in ``songs_dir`` measures is not suggested (a note
says so).

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
from engine.errors import ConfigError, DataDirError
from engine.fileread import JSON_LIMIT, read_text
from engine.interventions.script import KIND_METRICS, METRICS, Script, load_script
from engine.paths import write_private
from engine.records.plan import objective_data
from engine.reports.sentences import criterion_text
from engine.scoring.objectives import Objective
from engine.scoring.words import format_half_up

__all__ = [
    "DEFAULT_SONGS_DIR",
    "RULES",
    "STATES",
    "SUGGESTIONS_FILE",
    "Rule",
    "Suggestion",
    "Suggestions",
    "load_suggestions",
    "save_suggestions",
    "script_metrics",
    "songs_path",
    "suggest_objectives",
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

    def describe(self, objective: Objective) -> str:
        """The description for ``objective`` (e.g. with an edited threshold); the criterion in words when the
        edit changed what is judged."""
        o = self.objective
        same = (objective.metric, objective.aggregate, objective.comparator, objective.criterion) == \
            (o.metric, o.aggregate, o.comparator, o.criterion)
        if same and self.template:
            return self.template.format(target=_fmt(objective.threshold / self.scale))
        if same:
            return self.description
        return criterion_text(objective).split(" (")[0] + "."

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "domain": self.domain, "goal": self.goal, "description": self.description,
                "objective": objective_data(self.objective), "sentence": self.sentence,
                "scripts": list(self.scripts), "rationale": self.rationale, "task": self.task,
                "figure": self.figure, "baseline": self.baseline, "state": self.state, "edits": dict(self.edits),
                "decided": self.decided, "plan_id": self.plan_id, "template": self.template, "scale": self.scale}

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
        for key in ("id", "domain", "goal", "description", "sentence", "rationale", "task", "figure", "template"):
            if key in d and not isinstance(d[key], str):
                raise ValueError(f"{name}: {key} must be text")
        for key in ("decided", "plan_id"):
            if d.get(key) is not None and not isinstance(d[key], str):
                raise ValueError(f"{name}: {key} must be text or null")
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
                      "figure", "baseline", "state", "edits", "decided", "plan_id", "template", "scale")


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


@dataclass(frozen=True)
class Rule:
    """How one baseline figure becomes a suggested objective.

    ``higher`` is True when more is better (percentages), False for times and
    variability. ``scale`` converts the figure's unit to the metric's (e.g. a
    CV in % → the metric's fraction). ``cap`` is the most a target asks for
    (in the figure's unit): a baseline at or past it is at ceiling.
    ``scripts`` picks the scripts meant (beyond measuring the metric), e.g.
    melodic call-and-response only.
    """

    task: str
    figure: str
    slug: str
    domain: str
    goal: str
    metric: str
    aggregate: str
    higher: bool
    cap: float
    words: str  # "{target}" is the target in the figure's unit, "{window}" the scripts' timing window
    kinds: tuple[str, ...]
    scale: float = 1.0
    scripts: Callable[[Script], bool] | None = None


def _pct_target(baseline: float, cap: float) -> float:
    return min(cap, 5.0 * math.ceil((baseline + 25.0) / 5.0))


def _lower_target(baseline: float, cap: float) -> float:
    step = 100.0 if baseline >= 1000 else (5.0 if baseline >= 20 else 1.0)
    return max(cap, step * math.floor(baseline * 0.75 / step))


RULES: tuple[Rule, ...] = (
    Rule("sync_own_tempo", "within_window_pct", "taps-on-the-beat", "motor", "Keeps a steady beat with the music.",
         "within_window_pct", "mean", True, 80.0,
         "tap within ±{window} ms of the beat on at least {target} % of beats (mean over a session's trials)",
         ("rhythmic_cueing",)),
    Rule("sync_own_tempo", "asynchrony_sd_ms", "steady-timing", "motor", "Keeps a steady beat with the music.",
         "asynchrony_sd_ms", "median", False, 40.0,
         "tap with a timing variability (SD of asynchrony) of at most {target} ms (median over a session's trials)",
         ("rhythmic_cueing",)),
    Rule("sync_continuation", "continuation_iti_cv_pct", "keeps-going-alone", "motor",
         "Keeps the beat going alone when the music stops.", "continuation_iti_cv", "median", False, 5.0,
         "keep tapping evenly after the beat stops, the intervals varying by at most {target} % (CV, median "
         "over a session's trials)", ("rhythmic_cueing",), scale=0.01),
    Rule("rhythm_imitation", "imitation_correct_pct", "imitates-rhythms", "cognition",
         "Imitates rhythms played by the therapist.", "correct", "percent_true", True, 80.0,
         "imitate the drum rhythm correctly on at least {target} % of trials", ("call_and_response",),
         scripts=lambda s: not _is_melodic(s)),
    Rule("melodic_imitation", "melodic_correct_pct", "imitates-melodies", "cognition",
         "Imitates short melodies on the keyboard.", "correct", "percent_true", True, 80.0,
         "echo the melody correctly on the keyboard on at least {target} % of trials", ("call_and_response",),
         scripts=_is_melodic),
    Rule("turn_taking", "waited_pct", "waits-for-turn", "socialization", "Takes turns in a musical conversation.",
         "waited", "percent_true", True, 80.0,
         "wait without playing during the music's turn on at least {target} % of turns", ("turn_taking",)),
    Rule("turn_taking", "initiated_pct", "starts-a-turn", "socialization", "Takes turns in a musical conversation.",
         "initiated", "percent_true", True, 80.0,
         "start a turn after the hand-over on at least {target} % of turns", ("turn_taking",)),
    Rule("stop_and_go", "stopped_pct", "stops-with-the-music", "cognition",
         "Stops and starts with the music (inhibition).", "stopped", "percent_true", True, 80.0,
         "stop playing when the music stops on at least {target} % of stops", ("stop_and_go",)),
    Rule("vocal_fill", "filled_pct", "sings-the-missing-beat", "communication",
         "Sings or plays the missing beat of a familiar song.", "filled", "percent_true", True, 80.0,
         "fill the blank of a familiar phrase on at least {target} % of trials", ("fill_in_the_blank",)),
)
"""The baseline figures suggestions come from, in the order suggested (S1, S2, ...)."""


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


def suggest_objectives(assessment: Assessment, *, songs_dir: str | os.PathLike = DEFAULT_SONGS_DIR) -> Suggestions:
    """Objectives one step above the baseline, with the scripts that measure them (see the module docstring).

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
        A list of :class:`Suggestion` (ids ``S1``, ``S2``, ... in :data:`RULES`
        order: the same assessment always gives the same ids) with ``notes``
        on what was not suggested and why.
    """
    songs = _load_songs(Path(songs_dir))
    out: list[Suggestion] = []
    kept: list[Suggestion] = []  # maintenance objectives (skills at the ceiling), after the others
    notes: list[str] = []
    not_done: dict[str, TaskResult | None] = {}
    for rule in RULES:
        scripts = [s for s in songs if s.kind in rule.kinds and rule.metric in script_metrics(s)
                   and (rule.scripts is None or rule.scripts(s))]
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
        at_ceiling = baseline >= rule.cap if rule.higher else baseline <= rule.cap
        if not scripts:
            notes.append(f"{task.title}: no script in {songs_dir} measures {rule.metric}, so nothing is suggested "
                         f"from {figure.label}.")
            continue
        # At the ceiling a skill is kept, not pushed further: a maintenance objective at the ceiling's level.
        target = rule.cap if at_ceiling else (
            _pct_target(baseline, rule.cap) if rule.higher else _lower_target(baseline, rule.cap))
        windows = sorted({float(s.options.get("window_ms", DEFAULT_WINDOW_MS)) for s in scripts})
        words = rule.words.format(target="{target}", window="/".join(_fmt(w) for w in windows))
        objective = Objective(id=rule.slug + ("-maintained" if at_ceiling else ""), metric=rule.metric,
                              aggregate=rule.aggregate, comparator=">=" if rule.higher else "<=",
                              threshold=round(target * rule.scale, 4))
        tempo = f" at {_tempo_text(scripts)}" if rule.domain == "motor" else ""
        template = (f"Will keep on being able to {words}{tempo} (maintenance)." if at_ceiling
                    else f"Will {words}{tempo}.")
        description = template.format(target=_fmt(target))
        sentence = (f"{description[:-1]}, in {objective.sessions} consecutive sessions on separate days "
                    f"({', '.join(s.path.stem for s in scripts)}).")
        at = ""
        if rule.task == "sync_own_tempo":
            tempo_fig = _value(task.figure("tempo_bpm"))
            at = (format_half_up(" at {:.0f} BPM", tempo_fig)
                  if tempo_fig is not None and "bpm" not in task.title.lower() else "")
        spread = (f", spread {_fmt(figure.spread)}" + (f" ({figure.spread_label})" if figure.spread_label else "")
                  if figure.spread is not None else "")
        if at_ceiling:
            rationale = (f"Baseline {task.title.lower()}{at}: {figure.label} {_fmt(baseline)}{_unit(figure)} "
                         f"(n = {figure.n}{spread}) is already at or past {_fmt(rule.cap)}{_unit(figure)}, the "
                         f"most Tandem suggests as a target; a maintenance objective keeps the skill (or leave "
                         f"it out and work on another).")
        else:
            rationale = (f"Baseline {task.title.lower()}{at}: {figure.label} {_fmt(baseline)}{_unit(figure)} "
                         f"(n = {figure.n}{spread}); the target {_fmt(target)}{_unit(figure)} is one step "
                         f"{'above' if rule.higher else 'below'} it"
                         + (" (capped)" if target == rule.cap else "") + ".")
        goal = f"Maintains: {rule.goal[0].lower()}{rule.goal[1:]}" if at_ceiling else rule.goal
        (kept if at_ceiling else out).append(Suggestion(id="", domain=rule.domain, goal=goal, description=description,
                              objective=objective, sentence=sentence, scripts=tuple(s.path.stem for s in scripts),
                              rationale=rationale, task=task.id, figure=rule.figure, baseline=baseline,
                              template=template, scale=rule.scale))
    for tid, task in not_done.items():
        if tid == "sync_own_tempo":
            continue  # said once, with the other synchronisation tasks, below
        if task is None:
            notes.append(f"The task {tid} is not in this assessment, so nothing is suggested from it.")
        else:
            status = {"no_response": "got no response", "skipped": "was skipped", "stopped": "was stopped"}.get(
                task.status, f"was {task.status}")
            reason = f" ({task.reason[:1].lower()}{task.reason[1:].rstrip('.')})" if task.reason else ""
            notes.append(f"{task.title} {status}{reason}, so nothing is suggested from it.")
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
    out = [replace(x, id=f"S{k + 1}") for k, x in enumerate(out + kept)]
    return Suggestions(out, notes)


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
