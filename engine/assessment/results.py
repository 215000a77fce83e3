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
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import DataDirError
from engine.paths import write_private

__all__ = [
    "ASSESSMENT_FILE",
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
    "latest_assessment",
    "list_assessments",
    "load_assessment",
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


@dataclass(frozen=True)
class Figure:
    """One measured value of a task (see the module docstring)."""

    id: str
    label: str
    value: float | int | bool | None
    unit: str
    definition: str
    n: int
    spread: float | None = None
    spread_label: str | None = None
    reference: Reference | None = None


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
        """The inverse of :meth:`to_dict`. Raises ValueError (one sentence) for data that is not an assessment."""
        try:
            if int(d.get("schema", 0)) > SCHEMA:
                raise ValueError(f"it was written by a newer Tandem (schema {d['schema']})")
            tasks = tuple(TaskResult(
                **{**t, "figures": tuple(Figure(**{**f, "reference": Reference(**f["reference"])
                                                    if f.get("reference") else None})
                                         for f in t.get("figures", ()))})
                for t in d.get("tasks", ()))
            ratings = tuple(Rating(**r) for r in d.get("ratings", ()))
            return cls(**{**d, "tasks": tasks, "ratings": ratings})
        except (TypeError, KeyError, AttributeError) as exc:
            raise ValueError(f"it is not an assessment Tandem can read ({exc})") from None


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


def load_assessment(path: str | os.PathLike) -> Assessment:
    """Read an assessment (its folder or its ``assessment.json``).

    Raises
    ------
    DataDirError
        One sentence when it is missing or unreadable.
    """
    path = Path(path)
    if path.is_dir():
        path = path / ASSESSMENT_FILE
    try:
        data = json.loads(path.read_text("utf-8"))
        assessment = Assessment.from_dict(data)
    except FileNotFoundError:
        raise DataDirError(f"There is no assessment at {path}; run `tandem assess CHILD` first.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataDirError(f"The assessment {path} cannot be read ({exc}).") from None
    except ValueError as exc:
        raise DataDirError(f"The assessment {path} cannot be read: {exc}.") from None
    return Assessment(**{**assessment.__dict__, "folder": str(path.parent)})


def list_assessments(root: str | os.PathLike, child: str) -> list[Path]:
    """The child's assessment folders, oldest first."""
    base = assessment_dir(root, child)
    if not base.is_dir():
        return []
    return sorted(p for p in base.iterdir() if (p / ASSESSMENT_FILE).is_file())


def latest_assessment(root: str | os.PathLike, child: str, *, include_simulated: bool = False) -> Assessment | None:
    """The child's latest assessment, or None; a simulated one (a simulated child, ``tandem assess --simulate``)
    only with ``include_simulated``: it describes a model, not the child, so it is no baseline of the child's."""
    for folder in reversed(list_assessments(root, child)):
        assessment = load_assessment(folder)
        if include_simulated or not assessment.simulated:
            return assessment
    return None
