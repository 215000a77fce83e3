"""What a session log holds, as read back: the records every later step works from.

The session log (``events.jsonl``) is the truth; these dataclasses are what
:func:`engine.records.reader.read_log` makes of one. Listing, re-scoring and
reports use them and nothing else, so they never depend on how a session
was run (live or simulated).

Log lines (one JSON object each, ``type`` first in meaning). A log is one
visit: one child, one date, an ordered list of activities.

``header``
    The first line: ``schema`` (:data:`SCHEMA`), ``engine_version``,
    ``kind`` (``live``/``demo``), ``simulated`` (a simulated child played:
    kept out of a child's treatment data), ``probe`` (an assessment task),
    ``child_id``, ``therapist``, ``plan_sha256`` (or None), ``started``
    (ISO 8601 with offset, to the millisecond), ``sample_rate``,
    ``blocksize``, ``latency_frames``, ``latency_source``, devices
    (``audio_device``, ``midi_in``, ``midi_out``, ``mic``), for a demo
    ``simulated_child``, and ``activities``: the visit's activities in
    order (``script``, ``title``, ``intervention``). A one-activity visit's
    header also has its activity's fields (below) at the top level, as a
    schema-2 log (one script per log) had them.
``activity``
    Written as each activity begins (``index``, 0-based, ``frame``):
    ``script`` (its name: relative to the folder the session ran in, or
    the file's name; never an absolute path), ``script_toml`` (the
    script itself), ``script_sha256`` (of that text), ``script_files``
    (the MIDI song a cueing script plays, in base64 with its SHA-256),
    ``title``,
    ``intervention`` (the script's kind), ``kind_seed`` (the seed the kind
    was built with, or None), ``kind_options``, ``max_trials``,
    ``plan_objectives`` (the plan's objectives it measures, as they were),
    ``script_overrides``.
``plan`` / ``trial`` / ``trial_abandoned``
    Written by :class:`engine.session.runner.ScriptSession`, with the
    ``activity`` they belong to: a trial has ``index``, ``n`` (1-based in
    its activity), ``phase``, ``start_s``, ``tempo_bpm``, ``close_s``,
    ``scores``, ``correct`` and ``prompt`` (the prompt level).
``activity_end``
    An activity ended: ``index``, ``frame``, ``status`` (``completed``, or
    ``stopped``: by the therapist moving on or stopping, or the time up),
    ``trials``, ``stop_reason``.
``input`` / ``cue`` / ``mark`` / ``status``
    The engine's events (:mod:`engine.events`).
``summary``
    The last line of a visit that ended (completed or stopped):
    ``status``, ``ended`` (ISO 8601), ``duration_s`` (stream time),
    ``trials`` (scored, over every activity), ``activities`` (``index``,
    ``script``, ``title``, ``status``, ``trials``) and ``objectives``
    (judged over the visit: :func:`engine.scoring.judge.judge_visit`), and
    its seal: ``log_lines`` and ``log_sha256``, the count and SHA-256 of
    every line before it. A log without it was interrupted (the process
    was killed, the power went), or is still being written (``running``:
    its writer holds the file's lock): it is still read, with the trials
    it has. A log whose lines do not match the seal, that has lines after
    it, or lost it while ``summary.json`` beside it says the visit ended,
    is ``damaged`` (:attr:`SessionRecord.damage` says what; docs/visits.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["SCHEMA", "STATUSES", "ActivityRecord", "ObjectiveRecord", "SessionRecord", "TrialRecord", "is_probe", "is_simulated"]

SCHEMA = 4
"""The session-log schema this engine writes: 4, a visit of activities whose log holds its scripts and
seals its end (3: a visit of activities; 2: one script per log; 1: before the records issue; all still
read, a schema-2 log as a one-activity visit)."""

STATUSES = ("completed", "stopped", "interrupted", "running", "damaged")
"""How a session ended: all its trials, stopped early by the therapist, cut off (no summary line), still
being written (its writer holds the log's lock), or damaged (the log is not as it was written: a line
changed or missing, its end lost; :attr:`SessionRecord.damage` says what)."""


@dataclass(frozen=True)
class TrialRecord:
    """One scored trial as logged."""

    n: int  # 1-based, in the order scored
    index: int  # the kind's trial index
    start_s: float
    tempo_bpm: float
    scores: dict[str, Any]
    correct: bool | None
    prompt: str = "not recorded"  # the therapist's prompt level; never guessed (docs/definitions.md)
    close_s: float | None = None
    phase: str = "trial"
    activity: int = 0  # the visit's activity it belongs to (0-based; a one-script log: 0)
    dropout: bool = False  # an audio dropout fell within it: left out of the objectives (engine.scoring.dropouts)


@dataclass(frozen=True)
class ObjectiveRecord:
    """One objective's result in one session (as the summary line or a re-scoring gives it).

    ``source`` is ``script`` (the script's own objective) or ``plan`` (the
    child's plan's, as it was when the session ran); ids are unique per source.
    """

    id: str
    status: str
    sentence: str
    value: Any
    met: bool | None
    source: str = "script"
    script: str | None = None  # a script's objective: the script's stem (a visit of several scripts); else None


@dataclass(frozen=True)
class NoteRecord:
    """A note the therapist typed during the session (key ``m``): when (seconds on the session's clock),
    the trial it concerns (the number of the trial scored next; -1: none) and the text."""

    t_s: float
    trial: int
    text: str


@dataclass(frozen=True)
class ActivityRecord:
    """One activity of a visit, as logged: its place in the visit (``index``, 0-based), its script (a
    ``.toml`` path, a MIDI song, ``free``), title and kind (``intervention``), ``header`` (the visit's
    header with the activity's own fields: what :func:`engine.records.reader.script_for` and re-scoring
    read), how it ended (``completed``, ``stopped``, ``interrupted``, ``not started``) and its trials."""

    index: int
    script: str
    title: str
    intervention: str
    header: dict[str, Any]
    status: str
    trials: tuple[TrialRecord, ...] = ()


@dataclass(frozen=True)
class SessionRecord:
    """One session log (a visit), read back.

    A visit has one or more ``activities``; ``trials`` are all of theirs,
    in order (each names its ``activity``). ``script``, ``title`` and
    ``kind``'s intervention are the first activity's (the only one's, in a
    log of before visits); ``title`` joins every activity's title.

    ``status`` is ``interrupted`` when the log has no summary line
    (``running`` while a session still writes it); then ``objectives``
    are judged from the trials it has (by the reader) and ``duration_s``
    runs to the last event. ``damaged``: the log is not as it was written
    (``damage`` says what); its objectives are judged again from what it
    holds. ``skipped_lines`` counts lines that could not be read (a line
    cut off by a crash, a trial line with values no session writes).
    """

    path: Path
    header: dict[str, Any]
    trials: tuple[TrialRecord, ...]
    objectives: tuple[ObjectiveRecord, ...]
    status: str
    started: str
    duration_s: float
    child_id: str
    script: str
    title: str
    kind: str
    skipped_lines: int = 0
    events: int = 0
    summary: dict[str, Any] = field(default_factory=dict)
    notes: tuple[NoteRecord, ...] = ()
    activities: tuple[ActivityRecord, ...] = ()
    damage: tuple[str, ...] = ()  # status "damaged": what the log lacks or has wrong, one phrase each

    def __post_init__(self) -> None:
        if not self.activities:  # made by hand (a test, an import): one activity, the record's script
            one = ActivityRecord(index=0, script=self.script, title=self.title,
                                 intervention=str(self.header.get("intervention") or ""), header=self.header,
                                 status=self.status, trials=self.trials)
            object.__setattr__(self, "activities", (one,))

    @property
    def simulated(self) -> bool:
        """A simulated child played this visit (``tandem demo``, ``tandem assess --simulate``), not a child:
        kept out of a child's treatment data unless asked for (``--include-simulated``)."""
        return is_simulated(self.header)

    @property
    def probe(self) -> bool:
        """An assessment task (a probe): it feeds the baseline, never a treatment objective's data points
        unless the plan says the probe measures it."""
        return is_probe(self.header)


def is_simulated(header: dict[str, Any]) -> bool:
    """Whether a log's header is a simulated visit's: ``simulated`` when the header has it (schema 3), else
    (older logs) a demo kind or a simulated child."""
    if "simulated" in header:
        return bool(header["simulated"])
    return header.get("kind") == "demo" or bool(header.get("simulated_child"))


def is_probe(header: dict[str, Any]) -> bool:
    """Whether a log's header is an assessment probe's (``probe`` when it has it, else an ``assessment`` field)."""
    if "probe" in header:
        return bool(header["probe"])
    return bool(header.get("assessment"))
