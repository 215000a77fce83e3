"""MIDI out on the engine's clock: messages scheduled at stream frames, sent on time.

Interventions schedule ahead, in frames of the one clock, exactly as they
schedule sounds. :class:`MidiOutput`'s sender thread turns each message's
frame into a host time with the inverse of the engine's DLL clock map,
sleeps until shortly before it, then spins for the last ``spin_ms`` (the
PsychoPy pattern: an OS sleep wakes up to a millisecond or more late, a
spin does not). The spin calls ``time.sleep(0)``, which lets other threads
have the GIL between checks.

By default a message is sent when a sound scheduled at the same frame would
be *heard* (frame + the stream's output latency, minus the output device's
calibrated MIDI latency), so a cue played on an external synth and one from
the sound bank land together.

Hot-plug as for inputs: a vanished output logs ``device_lost`` (messages due
meanwhile are dropped and counted, never sent late in a burst), is looked
for every ``retry_s``, and on return is re-opened (``device_back``). Every
way out silences the synth (:meth:`OutputPort.panic`).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable

from engine.audio.engine import AudioEngine
from engine.audio.service import ScheduledOutput
from engine.events import Event
from engine.midi.ports import MidiDeviceError, OutputPort, _open_client, refind_port

__all__ = ["MidiOutput"]


class MidiOutput(ScheduledOutput):
    """A MIDI output driven by the engine's clock (see the module docstring).

    Parameters
    ----------
    engine : AudioEngine
        The running engine.
    part : str
        (Part of) the output port's name.
    align_to_audio : bool
        Send when a sound at the same frame is heard (add the output latency).
    latency_ms : float
        The output device's calibrated MIDI latency, sent that much earlier.
    spin_ms : float
        The last part of each wait spent spinning instead of sleeping.
    """

    def __init__(
        self,
        engine: AudioEngine,
        part: str,
        *,
        api: int | None = None,
        align_to_audio: bool = True,
        latency_ms: float = 0.0,
        spin_ms: float = 2.0,
        on_event: Callable[[Event], None] | None = None,
        retry_s: float = 0.5,
    ) -> None:
        super().__init__(engine, on_event=on_event, retry_s=retry_s)
        self.port = OutputPort(part, api=api)
        self.api = self.port.api
        self.align_to_audio = align_to_audio
        self.latency_ns = int(latency_ms * 1e6)
        self.spin_ns = int(spin_ms * 1e6)
        self.sent: deque[tuple[int, int, int]] = deque(maxlen=1 << 16)  # (frame, due_ns, sent_ns)
        self.dropped = 0  # due while the device was away
        self.late = 0  # due before they were scheduled, sent at once
        self._heap: list[tuple[int, int, bytes]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopping = False  # guarded by _cond, which the sender thread waits on
        self._scanner = None

    # ------------------------------------------------------------------ life cycle

    def start(self) -> MidiOutput:
        """Open the device and start the sender. Raises MidiDeviceError when it is not there."""
        self.port.open()
        self._scanner = _open_client("output", self.api, "tandem-scan")
        self._stopping = False
        self._start_thread(self._run, f"midi-out {self.port.part}")
        return self

    def stop(self) -> None:
        """Drop what is still scheduled, silence the synth, close the port (safe twice)."""
        with self._cond:
            self._stopping = True
            self._heap.clear()
            self._cond.notify()
        self._stop_thread()
        self.port.close()  # panic first, then close
        if self._scanner is not None:
            self._scanner.delete()
            self._scanner = None

    def __enter__(self) -> MidiOutput:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ scheduling

    def send_at(self, frame: int, data: bytes | list[int]) -> None:
        """Send ``data`` when the stream reaches ``frame`` (see ``align_to_audio``)."""
        data = bytes(data)
        if not data or not data[0] & 0x80:
            raise ValueError(f"a MIDI message starts with a status byte, got {data!r}")
        with self._cond:
            heapq.heappush(self._heap, (int(frame), next(self._seq), data))
            self._cond.notify()

    def clear(self) -> None:
        """Drop everything not yet sent, and turn off the notes that are on."""
        with self._cond:
            self._heap.clear()
        for ch, n in sorted(self.port.notes_on()):
            self.port.send([0x80 | ch, n, 0])

    @property
    def name(self) -> str | None:
        """The output port's full name once opened."""
        return self.port.name

    @property
    def sent_count(self) -> int:
        """Messages handed to the MIDI system."""
        return self.port.sent

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._heap)

    def due_ns(self, frame: int) -> int:
        """Host time at which a message for stream ``frame`` is sent."""
        if self.align_to_audio:
            frame += self.engine.output_latency_frames
        return int(self.engine.clock_map.host_ns_at(frame)) - self.latency_ns

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        next_check = time.monotonic() + self.retry_s
        while True:
            with self._cond:
                if self._stopping:
                    return
                if not self._heap:
                    self._cond.wait(timeout=self.retry_s)
                    item = None
                else:
                    frame = self._heap[0][0]
                    try:
                        due = self.due_ns(frame)
                    except RuntimeError:  # the stream has not started yet
                        due = None
                    if due is None:
                        self._cond.wait(timeout=0.01)
                        item = None
                    elif (wait := due - time.monotonic_ns() - self.spin_ns) > 0:
                        # Sleep coarsely; a newly scheduled earlier message wakes us.
                        self._cond.wait(timeout=min(wait / 1e9, self.retry_s))
                        item = None
                    else:
                        item = heapq.heappop(self._heap)
            if item is not None:
                self._send(item[0], due, item[2])
            if time.monotonic() >= next_check:
                self._check_device()
                next_check = time.monotonic() + self.retry_s

    def _send(self, frame: int, due: int, data: bytes) -> None:
        now = time.monotonic_ns()
        while now < due:  # the spin: at most spin_ms
            time.sleep(0)
            now = time.monotonic_ns()
        if not self.port.is_open:
            self.dropped += 1
            return
        if now - due > 1_000_000:
            self.late += 1
        if self.port.send(data):
            self.sent.append((frame, due, time.monotonic_ns()))

    def _check_device(self) -> None:
        if self.port.is_open:
            if not self.port.present():
                self.port.close()
                self._status("device_lost", self.port.name)
            return
        try:
            refind_port(self._scanner.get_ports(), self.port.name, self.port.part, kind="output")
            self.port.open()
        except MidiDeviceError:
            return
        except Exception:  # noqa: BLE001
            return
        self.port.panic()  # notes held when it went away must not hang on when it is back
        self._status("device_back", self.port.name)
