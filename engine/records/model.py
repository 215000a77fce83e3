"""What a session log holds, as read back: the records every later step works from.

The session log (``events.jsonl``) is the truth; these dataclasses are what
:func:`engine.records.reader.read_log` makes of one. Listing, re-scoring and
reports use them and nothing else, so they never depend on how a session
was run (live or simulated).

Log lines (one JSON object each, ``type`` first in meaning):

``header``
    The first line: ``schema`` (:data:`SCHEMA`), ``engine_version``,
    ``kind`` (``live``/``demo``), ``script`` (path), ``script_sha256``,
    ``title``, ``intervention`` (the script's kind), ``kind_seed`` (the seed
    the kind was built with, or None), ``child_id``, ``therapist``,
    ``plan_sha256`` (or None), ``started`` (ISO 8601 with offset),
    ``sample_rate``, ``blocksize``, ``latency_frames``, ``latency_source``,
    devices (``audio_device``, ``midi_in``, ``midi_out``, ``mic``) and, for a
    demo, ``simulated_child``.
``plan`` / ``trial`` / ``trial_abandoned``
    Written by :class:`engine.session.runner.ScriptSession`: a trial has
    ``index``, ``n``, ``phase``, ``start_s``, ``tempo_bpm``, ``close_s``,
    ``scores``, ``correct`` and ``prompt`` (the prompt level, default
    ``independent``).
``input`` / ``cue`` / ``mark`` / ``status``
    The engine's events (:mod:`engine.events`).
``summary``
    The last line of a session that ended (completed or stopped):
    ``status``, ``ended`` (ISO 8601), ``duration_s``, ``trials`` (scored),
    ``objectives`` (as :func:`engine.scoring.judge.judge_objectives` gives
    them). A log without it was interrupted (the process was killed, the
    power went): it is still read, with the trials it has.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["SCHEMA", "STATUSES", "ObjectiveRecord", "SessionRecord", "TrialRecord"]

SCHEMA = 2
"""The session-log schema this engine writes (1: the logs before the records issue, still read)."""

STATUSES = ("completed", "stopped", "interrupted")
"""How a session ended: all its trials, stopped early by the therapist, or cut off (no summary line)."""


@dataclass(frozen=True)
class TrialRecord:
    """One scored trial as logged."""

    n: int  # 1-based, in the order scored
    index: int  # the kind's trial index
    start_s: float
    tempo_bpm: float
    scores: dict[str, Any]
    correct: bool | None
    prompt: str = "independent"
    close_s: float | None = None
    phase: str = "trial"


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


@dataclass(frozen=True)
class NoteRecord:
    """A note the therapist typed during the session (key ``m``): when (seconds on the session's clock),
    the trial it concerns (the number of the trial scored next; -1: none) and the text."""

    t_s: float
    trial: int
    text: str


@dataclass(frozen=True)
class SessionRecord:
    """One session log, read back.

    ``status`` is ``interrupted`` when the log has no summary line; then
    ``objectives`` are judged from the trials it has (by the reader) and
    ``duration_s`` runs to the last event. ``skipped_lines`` counts lines
    that could not be read (a line cut off by a crash: at most the last).
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
