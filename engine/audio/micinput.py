"""Live microphone onsets as input events, like MIDI notes (issue 4, item 5).

:class:`MicInput` reads the engine's input ring (the audio process copies
every input block into it) on a thread of its own, runs the causal
:class:`~engine.audio.onsets.OnsetDetector` over the new frames, and turns
each onset into an :class:`~engine.events.InputEvent` with source ``mic``.
The ring's frames *are* stream frames, so an onset needs no clock mapping:
its physical time is its frame minus the stream's input latency (and the
calibrated acoustic latency, 0 until calibration exists); ``arrival_frame``
keeps the frame as it is in the ring. Nothing runs in the audio callback.

What the engine played is read from its output ring over the same stretch,
shifted by the stream's round trip (output latency + input latency, less a
small margin so an early estimate never puts the leakage before its cause),
and handed to the detector, which takes it out of the microphone (see
:mod:`engine.audio.leakage`). A sung or spoken response becomes a ``voice``
event once it is confirmed, and a ``voice-end`` event, with its duration,
when it ends; a voice that began with a percussive attack was first
reported as that ``onset`` (same frame), so a consumer can tell they are one.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from engine.audio.onsets import OnsetDetector
from engine.audio.ringbuffer import RingOverrun
from engine.audio.service import DeviceService
from engine.events import Event, InputEvent

__all__ = ["MicInput"]


class MicInput(DeviceService):
    """Onsets from the engine's input channel ``channel`` as ``mic`` input events.

    Parameters
    ----------
    engine : AudioEngine
        A running engine with at least one input channel.
    latency_ms : float
        Calibrated extra latency (acoustic path and converter), subtracted
        along with the stream's own input latency.
    poll_ms : float
        How often the thread reads the ring.
    suppress : bool
        Take the engine's own sounds out of the microphone (default on).
    **detector
        Options for :class:`OnsetDetector` (``min_ioi_ms``, ``floor_db``…).
    """

    ROUNDTRIP_MARGIN_MS = 2.0

    kind = "mic"

    def __init__(self, engine, *, channel: int = 0, latency_ms: float = 0.0, poll_ms: float = 2.0,
                 on_event: Callable[[Event], None] | None = None, suppress: bool = True, **detector) -> None:
        super().__init__(engine, on_event=on_event, retry_s=poll_ms / 1000.0)
        if engine.channels_in <= channel:
            raise ValueError(f"the engine has {engine.channels_in} input channel(s); channel {channel} is not one")
        self.channel = channel
        self._options = detector
        self.detector = OnsetDetector(engine.sample_rate, **detector)
        self.latency_frames = engine.input_latency_frames + int(round(latency_ms * engine.sample_rate / 1000))
        self.suppress = suppress
        margin = int(round(self.ROUNDTRIP_MARGIN_MS * engine.sample_rate / 1000))
        self.roundtrip_frames = max(0, engine.input_latency_frames + engine.output_latency_frames - margin)
        self.onsets = 0
        self.voices = 0
        self.overruns = 0  # times the ring was overwritten before it was read (frames lost to the detector)
        self._read: int | None = None  # next stream frame to read
        self._origin = 0  # stream frame of the detector's sample 0

    def start(self) -> MicInput:
        self._restart(self.engine.input_ring.written)
        self._start_thread(self._run, "mic-in")
        return self

    def _restart(self, frame: int) -> None:
        """Analyse from stream ``frame`` on, with a fresh detector (at start, and after frames were lost)."""
        self._read = self._origin = frame
        self.detector = OnsetDetector(self.engine.sample_rate, **self._options)

    def stop(self) -> None:
        """Stop the thread; what is in the ring up to now is analysed first."""
        self._stop_thread()
        if self.engine.input_ring is not None:
            self.poll()

    def __enter__(self) -> MicInput:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.wait(self.retry_s):
            self.poll()

    def poll(self) -> list[InputEvent]:
        """Analyse the frames that arrived since the last call; returns (and emits) their onsets."""
        ring = self.engine.input_ring
        end = ring.written
        if self._read is None:
            self._restart(end)
        if end <= self._read:
            return []
        try:
            if self._read < ring.oldest:
                raise RingOverrun("fell behind")
            block = ring.read(self._read, end - self._read)[:, self.channel]
        except RingOverrun:  # we fell behind by more than the ring holds: start again from now
            self.overruns += 1
            self._restart(ring.written)
            return []
        played = self._played(self._read, end) if self.suppress else None
        self._read = end
        events = []
        for onset in self.detector.process(block, played=played):
            frame = self._origin + onset.sample  # the detector counts samples from its first frame
            key = "onset"
            if onset.kind == "voiced":
                key = "voice" if onset.duration is None else "voice-end"
            event = InputEvent(frame=frame - self.latency_frames, source="mic", key=key,
                               velocity=self.level_to_velocity(onset.level_db), arrival_frame=frame,
                               arrival_ns=0, duration_frames=onset.duration or 0)
            if key == "onset":
                self.onsets += 1
            elif key == "voice":
                self.voices += 1
            self._emit(event)
            events.append(event)
        return events

    def _played(self, start: int, end: int):
        """What the speakers played while frames ``start``..``end`` were captured (all output
        channels summed), from the output ring; silence for what it no longer (or never) held."""
        ring = self.engine.output_ring
        n = end - start
        a, b = start - self.roundtrip_frames, end - self.roundtrip_frames
        out = np.zeros(n)
        lo, hi = max(a, ring.oldest, 0), min(b, ring.written)
        if hi > lo:
            try:
                out[lo - a: hi - a] = ring.read(lo, hi - lo).sum(axis=1)
            except RingOverrun:
                pass  # overwritten meanwhile: treated as silence (nothing to cancel)
        return out

    @staticmethod
    def level_to_velocity(level_db: float) -> int:
        """A MIDI-style velocity for a level: 0 dBFS → 127, −40 dB → 13 (the amplitude's square root)."""
        return int(min(127, max(1, round(127 * math.sqrt(10 ** (level_db / 20))))))
