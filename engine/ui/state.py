"""What the session screen shows: one small, plain-data picture of the session.

The engine builds a :class:`ScreenState` at most ~20 times a second and hands
it to the screen (:class:`engine.ui.process.ScreenProcess`, or
:class:`engine.ui.screen.SessionScreen` in-process for tests and
screenshots). The screen animates the beat itself between updates from the
beat clock in the state: beat *k* is at ``beat_origin_s + k * 60 / bpm``
seconds on the **screen's clock**, ``time.monotonic()`` (the same clock in
both processes on one machine). The engine converts its stream times to
that clock once per update (:func:`beat_origin_on_screen_clock`).

Nothing here imports pygame: the engine process builds states without it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from engine.scoring.objectives import NOT_RECORDED

__all__ = ["OBJECTIVE_STATUSES", "PHASES", "THEMES", "ObjectiveLine", "ScreenState", "beat_origin_on_screen_clock"]

PHASES = ("count_in", "engine_turn", "child_turn", "together", "wait", "reward", "paused", "device_lost", "done")
"""The child's picture: the count-in before a trial, the engine's turn (listen), the child's turn,
both playing at once (rhythmic cueing: play along), waiting without playing (stop-and-go's stop),
a gentle reward, paused by the therapist, an input device lost (the therapist's ``message`` says
what to do), and the session's end."""

#: Where an objective stands, as the therapist's strip shows it (engine.scoring.objectives.STATUSES
#: plus "met" as a short form of "met this session").
OBJECTIVE_STATUSES = ("not started", "in progress", "met", "met this session", "mastered")

THEMES = ("standard", "low_stimulation")


@dataclass(frozen=True)
class ObjectiveLine:
    """One objective in the therapist's strip: its name, running figure (text) and status."""

    name: str
    figure: str = ""
    status: str = "not started"

    def __post_init__(self) -> None:
        if self.status not in OBJECTIVE_STATUSES:
            raise ValueError(f"ObjectiveLine status must be one of {', '.join(OBJECTIVE_STATUSES)}, "
                             f"not {self.status!r}.")


@dataclass(frozen=True)
class ScreenState:
    """The session as the screen shows it (plain data; crosses the process boundary as JSON).

    Attributes
    ----------
    phase : str
        One of :data:`PHASES`.
    bpm : float
        The beat's tempo; 0 or less: no beat shown.
    beat_origin_s : float
        The time of a bar's first beat (any bar: the grid extends both ways), seconds on
        ``time.monotonic()``.
    beats_per_bar : int
        How many beat dots the child sees (the first of a bar is the larger one).
    count_in_remaining : int
        Count-in beats still to come (shown large during ``count_in``).
    script, trial, trials_total
        The script's title; the trial being played (1-based; 0: none yet) of how many
        (0: a session of minutes, not trials).
    last_score : str
        The last scored trial in a few words (``engine.scoring.judge.trial_line``).
    objectives : tuple of ObjectiveLine
    devices, latency : str
        E.g. ``"MIDI pad · mic"`` and ``"latency calibrated 2026-11-29"`` or ``"no calibration profile"``.
    prompt : str
        The prompt level of the current trial (``engine.scoring.objectives.PROMPT_LEVELS``, or
        ``"not recorded"`` while nobody gave one).
    default_prompt : str
        The visit's default prompt level, chosen at the start (``"not recorded"``: none chosen).
    theme : str or None
        One of :data:`THEMES`; None: the screen's own (the therapist's choice when it was opened).
    message : str
        A sentence for the therapist shown on the child's side too (device lost, done).
    """

    phase: str = "paused"
    bpm: float = 0.0
    beat_origin_s: float = 0.0
    beats_per_bar: int = 4
    count_in_remaining: int = 0
    script: str = ""
    trial: int = 0
    trials_total: int = 0
    last_score: str = ""
    objectives: tuple[ObjectiveLine, ...] = field(default_factory=tuple)
    devices: str = ""
    latency: str = ""
    prompt: str = NOT_RECORDED
    default_prompt: str = NOT_RECORDED
    theme: str | None = None
    message: str = ""

    def __post_init__(self) -> None:
        if self.phase not in PHASES:
            raise ValueError(f"ScreenState phase must be one of {', '.join(PHASES)}, not {self.phase!r}.")
        if self.theme is not None and self.theme not in THEMES:
            raise ValueError(f"ScreenState theme must be one of {', '.join(THEMES)}, not {self.theme!r}.")
        if not 1 <= int(self.beats_per_bar) <= 16:
            raise ValueError(f"ScreenState beats_per_bar must be 1 to 16, not {self.beats_per_bar!r}.")
        lines = tuple(o if isinstance(o, ObjectiveLine) else ObjectiveLine(*o) if isinstance(o, (list, tuple))
                      else ObjectiveLine(**o) for o in self.objectives)
        object.__setattr__(self, "objectives", lines)

    @property
    def beat_period_s(self) -> float | None:
        """Seconds per beat, or None without a beat."""
        return 60.0 / self.bpm if self.bpm > 0 else None

    def beat_at(self, now_s: float) -> tuple[int, float] | None:
        """(beat number since the origin, fraction 0..1 into that beat) at ``now_s``; None without a beat."""
        period = self.beat_period_s
        if period is None:
            return None
        pos = (now_s - self.beat_origin_s) / period
        whole = int(pos // 1)
        return whole, pos - whole

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-able)."""
        d = dataclasses.asdict(self)
        d["objectives"] = [dataclasses.asdict(o) for o in self.objectives]
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScreenState:
        """The inverse of :meth:`to_dict`; unknown keys are ignored (an older screen, a newer engine)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def replace(self, **changes: Any) -> ScreenState:
        return dataclasses.replace(self, **changes)


def beat_origin_on_screen_clock(beat_stream_s: float, stream_now_s: float, monotonic_now_s: float) -> float:
    """A beat's time on the stream clock as seconds on ``time.monotonic()`` (the screen's clock).

    ``stream_now_s`` and ``monotonic_now_s`` are read together (the engine's
    ``now_frame / rate`` and ``time.monotonic()``); the stream clock moves in
    blocks, so the result is good to about a block (a few ms), far below
    what an eye sees.
    """
    return monotonic_now_s + (beat_stream_s - stream_now_s)
