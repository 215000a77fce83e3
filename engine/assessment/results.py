"""What an initial assessment found: the results of each task of the battery, as plain data.

This is the contract between the battery (:mod:`engine.assessment.battery`,
which makes an :class:`Assessment`), the baseline report and the suggested
objectives (which read one), and the family's homepack (which reads the
latest). An assessment is stored as ``assessment.json`` (0600) in its own
folder, ``<data dir>/assessments/<child>/<YYYYMMDD-HHMMSS>/`` (0700); the
sessions of its tasks are ordinary session logs under ``<data dir>/sessions``
(their headers name the assessment and the task), so they can be listed,
re-scored and reported like any other.

A task is ``done`` (it has figures), ``skipped`` (the devices cannot do it:
no keyboard for melodic imitation, no microphone for the vocal task),
``no_response`` (the child did not respond in enough trials to measure
anything; its figures may be empty or partial) or ``stopped`` (the
therapist stopped it or the battery). ``reason`` says why in one plain
sentence whenever a task is not ``done``.

A figure is one measured value with what makes it interpretable: its unit,
a definition a therapist can read, how many observations it rests on
(``n``) and their spread (``spread``, described by ``spread_label``, e.g.
"SD of the inter-tap intervals, ms"). ``reference`` is a published adult
reference value where one exists (never an invented child norm), with its
source.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from engine.errors import DataDirError
from engine.fileread import JSON_LIMIT, read_text
from engine.paths import write_private

__all__ = [
    "ASSESSMENT_FILE",
    "CONDITION_FIGURES",
    "DOMAINS",
    "RATINGS",
    "SCHEMA",
    "TASK_STATUSES",
    "Assessment",
    "Figure",
    "Rating",
    "Reference",
    "TaskResult",
    "assessment_dir",
    "finite_number",
    "latest_assessment",
    "list_assessments",
    "load_assessment",
    "plain_json",
    "save_assessment",
]

SCHEMA = 1
ASSESSMENT_FILE = "assessment.json"
DOMAINS = ("communication", "cognition", "socialization", "motor", "sensory")
TASK_STATUSES = ("done", "skipped", "no_response", "stopped")
RATINGS = ("calm", "avoids", "seeks")
"""The rating of a sensory probe: stays calm, avoids it (turns away, covers ears, stops), seeks it (leans in, asks
for more). A sensory probe is rated, never scored: the child is not asked to play during it."""


@dataclass(frozen=True)
class Reference:
    """A published reference value for a figure (adults unless said otherwise), with its source."""

    value: float
    spread: float | None
    population: str  # e.g. "30 adults, metronome at 600 ms (100 BPM)"
    source: str  # the citation


CONDITION_FIGURES = frozenset({"tempo_bpm"})
"""Figures that are settings of a task (what Tandem played: the beat's tempo), not measurements of the child.

The baseline report shows them as the task's condition (never flagged as "few observations"), and no
objective is suggested from them."""


@dataclass(frozen=True)
class Figure:
    """One measured value of a task (see the module docstring); a figure of :data:`CONDITION_FIGURES` is a
    setting of the task instead (:attr:`condition`)."""

    id: str
    label: str
    value: float | int | bool | None
    unit: str
    definition: str
    n: int
    spread: float | None = None
    spread_label: str | None = None
    reference: Reference | None = None

    @property
    def condition(self) -> bool:
        """True for a setting of the task (e.g. the beat's tempo), which describes the task, not the child."""
        return self.id in CONDITION_FIGURES


@dataclass(frozen=True)
class Rating:
    """The rating of one sensory probe; ``rating`` None: not rated.

    ``rated_by`` is ``"therapist"`` (a key pressed during the probe, at ``t_s``) or, in a simulated
    assessment, ``"simulated model 'NAME'"`` (the behaviour model's own rating: no one watched).
    """

    item: str
    label: str
    rating: str | None
    t_s: float | None = None  # seconds into the probe's session when the key was pressed
    rated_by: str | None = None


@dataclass(frozen=True)
class TaskResult:
    """One task of the battery."""

    id: str
    domain: str
    title: str
    status: str
    reason: str | None = None
    session: str | None = None  # the task's session folder (its log), relative to the data directory
    trials: int = 0
    figures: tuple[Figure, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)  # task-specific (e.g. the staircase's levels)
    duration_s: float | None = None  # its session's length on the session's own clock (frames / rate), seconds

    def figure(self, figure_id: str) -> Figure | None:
        return next((f for f in self.figures if f.id == figure_id), None)


@dataclass(frozen=True)
class Assessment:
    """One run of the battery for one child."""

    child_id: str
    started: str  # ISO 8601 with offset
    ended: str | None
    status: str  # "completed", "stopped" (by the therapist) or "interrupted" (cut off)
    simulated: str | None  # the simulated child's model, None for a real child
    devices: dict[str, Any]  # {"midi_in": str|None, "keyboard": bool, "mic": bool}
    tasks: tuple[TaskResult, ...] = ()
    ratings: tuple[Rating, ...] = ()
    engine_version: str = ""
    folder: str | None = None  # where it is stored (set by save/load)
    schema: int = SCHEMA

    def task(self, task_id: str) -> TaskResult | None:
        return next((t for t in self.tasks if t.id == task_id), None)

    @property
    def music_s(self) -> float | None:
        """The battery's length in session time: its task sessions' durations on their own clocks, each
        session once (two tasks can share one), seconds; None when a session's is not known (an older
        assessment). Never the wall clock: a simulated battery runs in seconds, a live one has pauses."""
        sessions = {t.session: t.duration_s for t in self.tasks if t.session}
        if not sessions or any(d is None for d in sessions.values()):
            return None
        return float(sum(sessions.values()))

    @property
    def date(self) -> dt.date:
        return dt.datetime.fromisoformat(self.started).date()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Assessment:
        """The inverse of :meth:`to_dict`. Raises ValueError (one sentence) for data that is not an assessment.

        Every field of every task, figure, reference and rating is checked for its type (a figure's value
        is a finite number, true/false or null, never NaN), so what reads here can be reported.
        """
        if not isinstance(d, dict):
            raise ValueError("it is not a JSON object")
        schema = d.get("schema", 0)
        if isinstance(schema, int) and not isinstance(schema, bool) and schema > SCHEMA:
            raise ValueError(f"it was written by a newer Tandem (schema {schema})")
        fields = _checked(cls, d, "")
        tasks = fields.get("tasks", ())
        ratings = fields.get("ratings", ())
        return cls(**{**fields, "tasks": tuple(_task(t, f"tasks[{i}]") for i, t in enumerate(tasks)),
                      "ratings": tuple(Rating(**_checked(Rating, r, f"ratings[{i}]")) for i, r in enumerate(ratings))})


# What each field of the stored classes holds: (kind, optional). Kinds: "str", "int" (whole, 0 or more), "num"
# (within ±_MAX_NUM), "spread" (0 to _MAX_NUM: a spread, a duration, a time into a session), "value" (a "num"
# or true/false), "time" (ISO 8601 date and time with its offset), "dict" (plain JSON), "list" (a list of
# objects, checked by their own class).
_MAX_INT = 10 ** 12  # a count (trials, observations) or a schema number; anything larger is damage
_MAX_NUM = 1e9  # a figure in ms, %, BPM or notes, a spread, seconds: anything larger is damage (and breaks plots)
_SPECS: dict[type, dict[str, tuple[str, bool]]] = {}


def _spec(cls: type) -> dict[str, tuple[str, bool]]:
    if not _SPECS:
        _SPECS.update({
            Reference: {"value": ("num", False), "spread": ("spread", True), "population": ("str", False),
                        "source": ("str", False)},
            Figure: {"id": ("str", False), "label": ("str", False), "value": ("value", True), "unit": ("str", False),
                     "definition": ("str", False), "n": ("int", False), "spread": ("spread", True),
                     "spread_label": ("str", True), "reference": ("dict", True)},
            Rating: {"item": ("str", False), "label": ("str", False), "rating": ("rating", True),
                     "t_s": ("spread", True), "rated_by": ("str", True)},
            TaskResult: {"id": ("str", False), "domain": ("str", False), "title": ("str", False),
                         "status": ("status", False), "reason": ("str", True), "session": ("str", True),
                         "trials": ("int", False), "figures": ("list", False), "details": ("dict", False),
                         "duration_s": ("spread", True)},
            Assessment: {"child_id": ("str", False), "started": ("time", False), "ended": ("time", True),
                         "status": ("str", False), "simulated": ("str", True), "devices": ("dict", False),
                         "tasks": ("list", False), "ratings": ("list", False), "engine_version": ("str", False),
                         "folder": ("str", True), "schema": ("int", False)},
        })
    return _SPECS[cls]


def _checked(cls: type, d: Any, where: str) -> dict[str, Any]:
    """``d``'s fields for ``cls``, each of the kind its spec says, or ValueError naming the field."""
    name = cls.__name__.lower() if cls is not TaskResult else "task"
    at = f"{where} " if where else ""
    if not isinstance(d, dict):
        raise ValueError(f"{at or 'the file '}must be a JSON object, not {_shown(d)}")
    spec = _spec(cls)
    for key in d:
        if key not in spec:
            which = "an assessment" if cls is Assessment else f"a {name}"
            raise ValueError(f"{at}has the field {str(key)[:40]!r}, which {which} does not have")
    required = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
    for key, (kind, optional) in spec.items():
        field_at = f"{where}.{key}" if where else key
        if key not in d:
            if key in required:
                raise ValueError(f"{field_at} is missing")
            continue
        value = d[key]
        if value is None and (optional or kind == "value"):
            continue
        if not _is_kind(value, kind):
            raise ValueError(f"{field_at} must be {_KIND_TEXT[kind]}, not {_shown(value)}")
    return dict(d)


def _task(d: Any, where: str) -> TaskResult:
    fields_ = _checked(TaskResult, d, where)
    figures = []
    for j, f in enumerate(fields_.get("figures", ())):
        figure = _checked(Figure, f, f"{where}.figures[{j}]")
        if figure.get("reference") is not None:
            figure["reference"] = Reference(**_checked(Reference, figure["reference"],
                                                       f"{where}.figures[{j}].reference"))
        figures.append(Figure(**figure))
    return TaskResult(**{**fields_, "figures": tuple(figures)})


_KIND_TEXT = {"str": "text", "int": "a whole number from 0 up", "num": f"a number within ±{_MAX_NUM:g}",
              "spread": f"a number from 0 to {_MAX_NUM:g}",
              "value": "a finite number, true/false or null",
              "time": "a date and time such as 2026-09-01T10:00:00+02:00",
              "dict": "a JSON object of finite numbers and text", "list": "a list of JSON objects",
              "status": "one of " + ", ".join(TASK_STATUSES), "rating": "one of " + ", ".join(RATINGS)}


def _is_kind(value: Any, kind: str) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_INT
    if kind == "num":
        return finite_number(value) and abs(value) <= _MAX_NUM
    if kind == "spread":
        return finite_number(value) and 0 <= value <= _MAX_NUM
    if kind == "value":
        return isinstance(value, bool) or (finite_number(value) and abs(value) <= _MAX_NUM)
    if kind == "time":
        if not isinstance(value, str) or len(value) > 64:
            return False
        try:
            return dt.datetime.fromisoformat(value).tzinfo is not None
        except ValueError:
            return False
    if kind == "dict":
        return isinstance(value, dict) and plain_json(value)
    if kind == "list":
        return isinstance(value, list) and all(isinstance(v, dict) for v in value)
    if kind == "status":
        return value in TASK_STATUSES
    if kind == "rating":
        return value in RATINGS
    return False


def finite_number(value: Any) -> bool:
    """A finite JSON number (an int of 400 digits is not: it would overflow as a float)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) <= 1e300  # converts to float exactly enough; a 400-digit number would overflow
    return isinstance(value, float) and math.isfinite(value)


def plain_json(value: Any, depth: int = 0) -> bool:
    """Plain JSON: text, true/false, null, finite numbers, and lists and objects of them, at most 16 deep."""
    if isinstance(value, dict):
        return depth < 16 and all(isinstance(k, str) and plain_json(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return depth < 16 and all(plain_json(v, depth + 1) for v in value)
    return value is None or isinstance(value, (str, bool)) or finite_number(value)


def _shown(value: Any) -> str:
    """A value read from JSON as a sentence shows it (a long one cut)."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    try:
        text = json.dumps(value)
    except ValueError:
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def assessment_dir(root: str | os.PathLike, child: str) -> Path:
    """``<root>/assessments/<child>`` (not created)."""
    return Path(root) / "assessments" / child


def save_assessment(assessment: Assessment, root: str | os.PathLike) -> Path:
    """Write it as ``assessment.json`` (0600) in a new folder for its start time; returns the file's path.

    Raises
    ------
    DataDirError
        One sentence when the folder or file cannot be written.
    """
    started = dt.datetime.fromisoformat(assessment.started)
    base = assessment_dir(root, assessment.child_id)
    folder = base / f"{started:%Y%m%d-%H%M%S}"
    text = json.dumps({**assessment.to_dict(), "folder": str(folder)}, indent=2) + "\n"
    return write_private(folder / ASSESSMENT_FILE, text, error=lambda exc: DataDirError(
        f"Tandem could not save the assessment in {base} ({exc.strerror or exc}); check that the data folder is "
        f"writable and not full."))


def load_assessment(path: str | os.PathLike, *, root: str | os.PathLike | None = None) -> Assessment:
    """Read an assessment (its folder or its ``assessment.json``).

    Only a regular file of at most :data:`~engine.fileread.JSON_LIMIT` is read (never a device, a FIFO or a
    folder); with ``root`` (the data folder), one that leads out of it through a link is refused.

    Raises
    ------
    DataDirError
        One sentence when it is missing or unreadable, not JSON, or not an assessment (any field of the
        wrong type: see :meth:`Assessment.from_dict`).
    """
    path = Path(path)
    if os.path.isdir(path):
        path = path / ASSESSMENT_FILE
    text = read_text(path, what="assessment", limit_bytes=JSON_LIMIT, root=root, error=DataDirError,
                     missing=f"There is no assessment at {path}; run `tandem assess CHILD` first.",
                     too_large="move it away and assess again")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, nested too deep, a number of thousands of digits
        raise DataDirError(f"The assessment {path} cannot be read: it is not valid JSON; move it away and assess "
                           f"again.") from None
    try:
        assessment = Assessment.from_dict(data)
    except ValueError as exc:  # from_dict's clause naming the field
        raise DataDirError(f"The assessment {path} cannot be read: {str(exc)[:300]}; move it away and assess "
                           f"again.") from None
    return Assessment(**{**assessment.__dict__, "folder": str(path.parent)})


def list_assessments(root: str | os.PathLike, child: str) -> list[Path]:
    """The child's assessment folders, oldest first."""
    base = assessment_dir(root, child)
    if not base.is_dir():
        return []
    return sorted(p for p in base.iterdir() if os.path.lexists(p / ASSESSMENT_FILE))  # a bad one gets its sentence


def latest_assessment(root: str | os.PathLike, child: str, *, include_simulated: bool = False) -> Assessment | None:
    """The child's latest assessment, or None; a simulated one (a simulated child, ``tandem assess --simulate``)
    only with ``include_simulated``: it describes a model, not the child, so it is no baseline of the child's."""
    for folder in reversed(list_assessments(root, child)):
        assessment = load_assessment(folder, root=root)
        if include_simulated or not assessment.simulated:
            return assessment
    return None
