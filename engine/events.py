"""Event types: small immutable records stamped in frames of the stream clock.

Every event carries ``frame``: when it physically happened (for an input) or
when its sound starts in the output stream (for a cue), in frames of the one
clock (see :mod:`engine.clock`). ``to_dict`` gives the JSON form that session
logs store; ``event_from_dict`` reads it back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

__all__ = [
    "Event",
    "CueEvent",
    "InputEvent",
    "MarkEvent",
    "StatusEvent",
    "event_from_dict",
]


@dataclass(frozen=True, slots=True)
class Event:
    """Base: something that happened at ``frame`` of the stream clock."""

    kind: ClassVar[str] = "event"
    frame: int

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["type"] = self.kind
        return d


@dataclass(frozen=True, slots=True)
class CueEvent(Event):
    """The engine played a sound.

    ``frame`` is the output frame of the sound's first sample; ``heard_frame``
    adds the sound's attack offset and the output latency: when it reaches the
    child's ears, which is what asynchronies are measured against.
    """

    kind: ClassVar[str] = "cue"
    sound: str
    heard_frame: int
    gain: float = 1.0
    pan: float = 0.0
    role: str = "cue"  # e.g. "count_in", "beat", "downbeat", "feedback"
    index: int = -1  # position in its sequence, -1 when not part of one


@dataclass(frozen=True, slots=True)
class InputEvent(Event):
    """The child did something the engine sensed: a MIDI note, a microphone onset, a simulated tap.

    ``frame`` is the physical time (arrival mapped onto the stream clock,
    minus the device's calibrated latency); ``arrival_frame`` is the raw
    arrival on the stream clock before that correction, and ``arrival_ns``
    the host monotonic stamp taken the moment it arrived.
    """

    kind: ClassVar[str] = "input"
    source: str  # "midi", "midi-off" (a note released), "mic", "sim", "key"
    key: str = ""  # pad/note/role, e.g. "pad1", "note:38"; mic: "onset", "voice", "voice-end"
    velocity: int = 100  # MIDI-style 1..127 (mic: mapped from level)
    arrival_frame: int = 0
    arrival_ns: int = 0
    note: int = -1  # MIDI note number (keyboards: the pitch), -1 when not a note
    duration_frames: int = 0  # mic "voice-end": how long the voice lasted (frames)


@dataclass(frozen=True, slots=True)
class MarkEvent(Event):
    """A therapist's mark: a key press, a prompt level, a note.

    ``key`` is the key pressed (``space``, ``n``, ``p``, ``m``, ``escape``...),
    ``action`` what it did (``toggle``, ``start``, ``pause``, ``resume``,
    ``next``, ``prompt``, ``note``, ``stop_asked``, ``stop_confirmed``,
    ``stop_cancelled``, ``none``...), ``text`` the note or the prompt level,
    and ``trial`` the number of the trial it concerns (the next to be scored),
    -1 when none.
    """

    kind: ClassVar[str] = "mark"
    key: str
    text: str = ""
    action: str = ""
    trial: int = -1


@dataclass(frozen=True, slots=True)
class StatusEvent(Event):
    """Something about the machinery: xruns, a late sound, a device lost or back."""

    kind: ClassVar[str] = "status"
    what: str
    detail: dict[str, Any] = field(default_factory=dict)


_KINDS: dict[str, type[Event]] = {
    cls.kind: cls for cls in (CueEvent, InputEvent, MarkEvent, StatusEvent)
}


def event_from_dict(d: dict[str, Any]) -> Event:
    """Rebuild an event from :meth:`Event.to_dict` output.

    Raises
    ------
    ValueError
        For an unknown ``type``.
    """
    d = dict(d)
    kind = d.pop("type", None)
    try:
        cls = _KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown event type {kind!r}") from None
    return cls(**d)
