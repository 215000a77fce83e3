"""What every live device handler (MIDI in and out, the microphone) shares: its events, its status, its worker thread.

:class:`~engine.midi.live.MidiInput`, :class:`~engine.midi.sender.MidiOutput`
and :class:`~engine.midi.jackmidi.JackMidiOutput` each run one thread for one
device, keep what they observed in ``events`` (and pass it to ``on_event``),
and log ``device_lost`` / ``device_back`` the same way. :class:`ScheduledOutput`
adds what both outputs offer on top of ``send_at``: a note with its note-off.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from engine.events import Event, StatusEvent

__all__ = ["DeviceService", "ScheduledOutput"]


class DeviceService:
    """Events, device status and a worker thread for one MIDI device."""

    kind = "midi_in"  # the status events' "kind"

    def __init__(self, engine, *, on_event: Callable[[Event], None] | None, retry_s: float) -> None:
        self.engine = engine
        self.on_event = on_event
        self.retry_s = retry_s
        self.events: deque[Event] = deque()
        self.lost = 0  # times the device went away
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _emit(self, event: Event) -> None:
        self.events.append(event)
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:  # noqa: BLE001 - a listener's bug must not stop the device
                pass

    def _status(self, what: str, port: str | None) -> None:
        """Log ``device_lost`` or ``device_back`` at the stream's current frame."""
        if what == "device_lost":
            self.lost += 1
        self._emit(StatusEvent(self.engine.now_frame, what, {"kind": self.kind, "port": port}))

    def _start_thread(self, target, name: str) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=target, name=name, daemon=True)
        self._thread.start()

    def _stop_thread(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None


class ScheduledOutput(DeviceService):
    """A MIDI output scheduled in stream frames (subclasses provide ``send_at``)."""

    kind = "midi_out"

    def send_at(self, frame: int, data: bytes | list[int]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def note(self, frame: int, note: int, *, velocity: int = 100, channel: int = 0,
             duration_frames: int) -> None:
        """A note-on at ``frame`` and its note-off ``duration_frames`` later."""
        if not (0 <= note <= 127 and 1 <= velocity <= 127 and 0 <= channel <= 15):
            raise ValueError(f"note {note}, velocity {velocity}, channel {channel} out of range")
        self.send_at(frame, bytes([0x90 | channel, note, velocity]))
        self.send_at(frame + max(1, duration_frames), bytes([0x80 | channel, note, 0]))
