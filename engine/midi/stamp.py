"""Stamping inputs that arrive on other threads onto the stream clock.

A MIDI note, a key press or a simulated tap is stamped with the host's
monotonic clock the moment it arrives (``time.monotonic_ns()`` in the
receiving callback), then mapped onto the stream clock by the engine's DLL
clock map, and the device's calibrated latency is subtracted: the event's
``frame`` is when it physically happened. The raw arrival is kept too.
"""

from __future__ import annotations

from engine.audio.engine import AudioEngine
from engine.events import InputEvent

__all__ = ["stamp_input"]


def stamp_input(
    engine: AudioEngine,
    *,
    source: str,
    key: str,
    velocity: int,
    arrival_ns: int,
    latency_frames: int = 0,
    note: int = -1,
) -> InputEvent:
    """An :class:`InputEvent` for an input that arrived at host time ``arrival_ns``.

    Parameters
    ----------
    latency_frames : int
        The input device's latency from its calibration profile (0 until
        calibrated): how long after the physical action the message arrived.
    """
    if not 0 <= velocity <= 127:
        raise ValueError(f"velocity must be within 0..127, got {velocity}")
    arrival_frame = round(engine.stamp(arrival_ns))
    return InputEvent(
        frame=arrival_frame - latency_frames,
        source=source,
        key=key,
        velocity=velocity,
        arrival_frame=arrival_frame,
        arrival_ns=arrival_ns,
        note=note,
    )
