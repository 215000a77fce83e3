"""Frame-exact MIDI input where JACK is the sound server.

rtmidi over JACK hands a note to Python once per JACK period, so a stamp
taken on arrival is only good to a period (2.7 ms at 128 frames). JACK itself
knows better: every MIDI event in a cycle carries its frame offset. This
module reads it there.

:class:`JackMidiBackend` is the sounddevice backend (PortAudio on JACK) plus
one JACK client of its own with a MIDI input port, both in the audio process
(:mod:`engine.audio.rtprocess`), where no other Python thread competes for
the GIL. Each block the PortAudio callback notes JACK's cycle frame, which
relates the two clocks exactly: ``stream frame = JACK frame − T0``. The
MIDI client's callback writes every event (stream frame, arrival ns, bytes)
into the shared ``midi_in`` ring, which the control side reads
(:class:`JackMidiReader`); real-time bytes and messages longer than 7
bytes (sysex) are dropped there and counted.

The same JACK client keeps the stream clock honest: after a dropout the
stream clock jumps by exactly the frames JACK's own frame counter ran on
(PortAudio's stream time can only hint at it, and a cycle that was merely
late skips nothing).

Feedback sounds for a pad without its own sound are started in the audio
process too: the MIDI callback queues (hit frame + delay, note, velocity),
and the next PortAudio block starts the voice from the shared feedback table
(arena offset and length per note, gain per velocity), which the control
side fills before the session. With a delay of one period the sound starts
exactly one period after the hit, every time: no thread wake-up is in the
way. A hit whose frame has passed is played at once and counted late.

:class:`JackPatch` (control side) finds JACK MIDI ports by name and connects
them to the engine's input; it is a JACK client that is never activated, so
it has no real-time thread in the control process.
"""

from __future__ import annotations

import collections
import heapq
import threading
import time

import numpy as np

from engine.audio.backends import SoundDeviceBackend
from engine.audio.service import ScheduledOutput
from engine.audio.shared import C
from engine.midi.ports import MidiDeviceError, refind_port

__all__ = ["JackMidiBackend", "JackMidiOutput", "JackMidiReader", "JackPatch", "SPEC"]

SPEC = "engine.midi.jackmidi:JackMidiBackend"
"""The backend spec to give :class:`~engine.audio.engine.AudioEngine` for this input."""

_MAX_BYTES = 7  # packed little-endian into one int64


def _import_jack():
    try:
        import jack  # optional: only where JACK is the server (it talks to the server)
    except (ImportError, OSError):
        raise MidiDeviceError("The JACK client library is missing (pip install JACK-Client, "
                              "apt install libjack-jackd2-0); use MIDI through rtmidi instead.") from None
    return jack


class JackMidiBackend(SoundDeviceBackend):
    """PortAudio on JACK, plus a frame-exact JACK MIDI input (runs in the audio process).

    Parameters
    ----------
    client_name : str
        Name of the MIDI client (JACK adds a suffix if it is taken); its port is ``in``.
    **kwargs
        As for :class:`SoundDeviceBackend`.
    """

    def __init__(self, *, client_name: str = "tandem-midi", **kwargs) -> None:
        super().__init__(**kwargs)
        jack = _import_jack()
        try:
            self._jack = jack.Client(client_name, no_start_server=True)
        except jack.JackError as exc:
            raise MidiDeviceError(f"JACK MIDI input unavailable: no JACK server answers ({exc}).") from None
        self._port = self._jack.midi_inports.register("in")
        self._out = self._jack.midi_outports.register("out")
        self._out_pending: list = []  # heap of (JACK frame, seq, bytes): the callback's own
        self._out_seq = 0
        self._panic_now = False
        self._panic_sent = False
        self._active = False
        self._core = None
        self._c = None
        self._ring = None
        self._size = 0
        self._t0: int | None = None  # JACK frame of stream frame 0
        self._last_lft = -1
        self._suspect = 0
        self._hits: collections.deque = collections.deque()  # (frame, note, velocity) for feedback
        self._jack.set_process_callback(self._midi_process)

    def attach_core(self, core) -> None:
        self._core = core
        self._c = core.state.counters
        self._ring = core.state.midi_in
        self._size = self._ring.shape[0]
        self._fb_sound = core.state.fb_sound
        self._fb_gain = core.state.fb_gain
        self._out_ring = core.state.midi_out
        self._stereo = core.mixer.channels == 2

    def start(self) -> None:
        self._t0 = None  # measured again at the first block
        self._last_lft = -1
        self._suspect = 0  # a difference from JACK's clock seen once, waiting to be seen again
        # Activated with the stream, not at open: between the two the audio process collects
        # and freezes its garbage, a pause the MIDI client's callback would wait on (an xrun).
        if not self._active:
            self._jack.activate()
            self._active = True
        super().start()

    def info(self) -> dict:
        return {"midi_port": self._port.name, "midi_out_port": self._out.name, "t0": self._t0,
                "client": self._jack.name}

    # -- the PortAudio callback: clocks, and feedback voices --------------------------------

    def _callback(self, indata, outdata, frames, time_info, status) -> None:
        hits = self._hits
        if hits and self._core is not None:
            try:
                self._start_feedback(hits)
            except Exception:  # noqa: BLE001 - never let the stream die on us
                self._c[C.CALLBACK_ERRORS] += 1
        super()._callback(indata, outdata, frames, time_info, status)
        if self._t0 is None and self._c is not None:
            # The first block of the stream (or of a restart) fixes T0; the stream frame is the
            # engine's, which runs on across a stop and start.
            lft = self._jack.last_frame_time
            self._last_lft = lft
            self._t0 = lft - (int(self._c[C.FRAME]) - frames)  # reported by info()

    def _dropout(self, frames: int, time_info, status) -> int:
        """Frames JACK's own clock ran on without us: exact, where PortAudio's stream time only hints.

        ``stream frame = JACK frame − T0`` holds for the whole stream: when JACK
        skipped cycles (a real dropout), its frame clock shows it and the stream
        clock jumps by as much, one block later (once the difference is seen
        twice); a cycle that was merely late skips nothing.
        """
        if self._t0 is None or self._c is None:
            return 0
        lft = self._jack.last_frame_time
        if lft == self._last_lft:  # a second block within one JACK cycle (blocks smaller than the period)
            return 0
        self._last_lft = lft
        ahead = lft - self._t0 - int(self._c[C.FRAME])
        # Read from this (PortAudio's) thread, JACK's cycle frame can already be the next
        # cycle's when this callback runs late: that is no dropout, and the next cycle shows
        # it (the difference is gone). A real dropout shows the same difference again.
        if ahead > 0 and ahead == self._suspect:
            self._suspect = 0
            return ahead
        self._suspect = max(0, ahead)
        return 0

    def _start_feedback(self, hits) -> None:
        """Start the feedback voices the MIDI callback queued (before this block's mix)."""
        block = int(self._c[C.FRAME])  # the stream frame this block starts at (before a dropout jump)
        mixer = self._core.mixer
        c = self._c
        while hits:
            frame, note, velocity = hits.popleft()
            length = int(self._fb_sound[note, 1])
            if length <= 0:
                continue
            gain = self._fb_gain[velocity]
            if self._stereo:
                gain = gain * np.float32(0.70710677)  # centre, constant power (as Mixer.play)
            if mixer.start_voice(0, int(self._fb_sound[note, 0]), length, frame, gain, gain, block):
                c[C.FB_PLAYED] += 1

    # -- the JACK MIDI client's callback ---------------------------------------------------

    def _midi_process(self, frames: int) -> None:
        try:
            self._midi_cycle(frames)
        except Exception:  # noqa: BLE001 - counted like the audio callback's; never printed per cycle
            if self._c is not None:
                self._c[C.CALLBACK_ERRORS] += 1

    def _midi_cycle(self, frames: int) -> None:
        # Per event this allocates a few small objects (bytes, a tuple): Python cannot avoid
        # that, and it is bounded by the events in one cycle. No lock, no I/O, no logging.
        self._out.clear_buffer()  # an output buffer must be written (or cleared) every cycle
        if self._panic_now:
            self._write_panic()
            return
        ring = self._ring
        t0 = self._t0
        if ring is None:
            return
        c = self._c
        lft = self._jack.last_frame_time
        if t0 is not None:
            self._send_due(c, lft, frames, t0)
        now = time.monotonic_ns()
        feedback = c[C.FB_ENABLED] == 1
        delay = int(c[C.FB_DELAY])
        for offset, data in self._port.incoming_midi_events():
            raw = bytes(data)  # JACK-Client gives a buffer whose items are bytes, not ints
            n = len(raw)
            if t0 is None or n == 0 or n > _MAX_BYTES or (n == 1 and raw[0] >= 0xF8):
                c[C.MIDI_SKIPPED] += 1
                continue
            frame = lft + offset - t0
            w = int(c[C.MIDI_WRITTEN])
            row = ring[w % self._size]
            row[0] = frame
            row[1] = now
            row[2] = int.from_bytes(raw, "little")
            row[3] = n
            c[C.MIDI_WRITTEN] = w + 1  # publish after the event is complete
            if feedback and n == 3 and raw[0] & 0xF0 == 0x90 and 0 < raw[2] < 128 and raw[1] < 128:
                self._hits.append((frame + delay, raw[1], raw[2]))

    def _send_due(self, c, lft: int, frames: int, t0: int) -> None:
        """Take new MIDI-out messages from the ring; write those due this cycle at their exact offsets."""
        pending = self._out_pending
        ring = self._out_ring
        r = int(c[C.MIDI_OUT_READ])
        w = int(c[C.MIDI_OUT_WRITTEN])
        while r < w:
            frame, packed, n = (int(v) for v in ring[r % self._size])
            r += 1
            if n == 0:  # the control side dropped everything not yet sent
                pending.clear()
                continue
            self._out_seq += 1
            heapq.heappush(pending, (frame + t0, self._out_seq, packed.to_bytes(8, "little")[:n]))
        c[C.MIDI_OUT_READ] = r
        end = lft + frames
        while pending and pending[0][0] < end:
            jack_frame, _, data = heapq.heappop(pending)
            offset = jack_frame - lft
            if offset < 0:
                offset = 0
                c[C.MIDI_OUT_LATE] += 1
            try:
                self._out.write_midi_event(offset, data)
            except Exception:  # noqa: BLE001 - a full buffer: the rest goes next cycle
                heapq.heappush(pending, (end, 0, data))
                return
            c[C.MIDI_OUT_SENT] += 1

    def _panic(self) -> None:
        """All-notes-off, all-sound-off and sustain-up on every channel, sent by the next cycle."""
        self._panic_sent = False
        self._panic_now = True
        deadline = time.monotonic() + 0.1
        while not self._panic_sent and time.monotonic() < deadline:
            time.sleep(0.002)

    def _write_panic(self) -> None:
        self._out_pending.clear()
        for ch in range(16):
            for cc in (64, 123, 120):
                self._out.write_midi_event(0, bytes([0xB0 | ch, cc, 0]))
        self._panic_now = False
        self._panic_sent = True

    def close(self) -> None:
        if self._c is not None and self._active:
            self._panic()
        try:
            self._jack.deactivate()
            self._jack.close()
        except Exception:  # noqa: BLE001 - the server may be gone
            pass
        super().close()


class JackMidiReader:
    """Control side: the events the audio process wrote into ``midi_in``, in order.

    ``read()`` returns ``(stream frame, arrival_ns, bytes)`` for each new
    event; events overwritten before they were read are counted in ``lost``.
    """

    def __init__(self, state) -> None:
        self._ring = state.midi_in
        self._c = state.counters
        self._size = self._ring.shape[0]
        self._read = int(self._c[C.MIDI_WRITTEN])
        self.lost = 0

    def read(self) -> list[tuple[int, int, bytes]]:
        written = int(self._c[C.MIDI_WRITTEN])
        r = self._read
        if written - r > self._size:
            self.lost += written - r - self._size
            r = written - self._size
        out = []
        ring = self._ring
        for k in range(r, written):
            frame, arrival, packed, n = (int(v) for v in ring[k % self._size])
            out.append((frame, arrival, packed.to_bytes(8, "little")[:n]))
        if int(self._c[C.MIDI_WRITTEN]) - r > self._size:  # the writer lapped us while we copied
            self.lost += 1
        self._read = written
        return out


class JackPatch:
    """Finds JACK MIDI ports and connects them (a JACK client that is never activated)."""

    def __init__(self, name: str = "tandem-patch") -> None:
        jack = _import_jack()
        self._jack_mod = jack
        try:
            self._client = jack.Client(name, no_start_server=True)
        except jack.JackError as exc:
            raise MidiDeviceError(f"No JACK server answers ({exc}); start JACK or use another MIDI system.") from None

    def sources(self) -> list[str]:
        """JACK MIDI ports that send (device outputs)."""
        return [p.name for p in self._client.get_ports(is_midi=True, is_output=True)]

    def destinations(self) -> list[str]:
        """JACK MIDI ports that receive (device inputs, synths)."""
        return [p.name for p in self._client.get_ports(is_midi=True, is_input=True)]

    def connected(self, src: str, dst: str) -> bool:
        try:
            return any(p.name == dst for p in self._client.get_all_connections(src))
        except self._jack_mod.JackError:
            return False

    def connect(self, src: str, dst: str) -> None:
        try:
            if not self.connected(src, dst):
                self._client.connect(src, dst)
        except self._jack_mod.JackError as exc:
            raise MidiDeviceError(f"JACK could not connect {src!r} to {dst!r} ({exc}).") from None

    def close(self) -> None:
        try:
            self._client.close()
        except Exception:  # noqa: BLE001
            pass


class JackMidiOutput(ScheduledOutput):
    """Control side of the frame-exact MIDI out: the same interface as :class:`engine.midi.sender.MidiOutput`.

    Messages go into the shared ``midi_out`` ring with their stream frame;
    the audio process's JACK client writes each one at its exact frame in
    the JACK cycle that contains it (no thread has to wake up on time).
    Our ``out`` port is connected to the JACK MIDI input whose name contains
    ``part``; if that port goes away, ``device_lost`` is logged, and
    ``device_back`` when it is there again and reconnected.
    """

    def __init__(self, engine, part: str, *, align_to_audio: bool = True, latency_ms: float = 0.0,
                 on_event=None, retry_s: float = 0.5) -> None:
        super().__init__(engine, on_event=on_event, retry_s=retry_s)
        self.part = part
        self.name: str | None = None
        self.align_to_audio = align_to_audio
        self.latency_frames = int(round(latency_ms * engine.sample_rate / 1000.0))
        self.dropped = 0  # ring full
        self._lock = threading.Lock()
        self._on: set[tuple[int, int]] = set()
        self._patch: JackPatch | None = None
        self._c = None
        self._ring = None
        self._port = ""
        self._connected = False

    # -- life cycle

    def start(self) -> JackMidiOutput:
        info = self.engine.backend_info()
        if "midi_out_port" not in info:
            raise MidiDeviceError("Frame-exact MIDI out needs the engine started with the JACK MIDI backend; "
                                  "use the rtmidi MIDI output instead.")
        self._port = info["midi_out_port"]
        self._patch = JackPatch()
        try:
            self._connect()  # before taking views of the engine's memory: a failure leaves none
        except BaseException:
            self._patch.close()
            self._patch = None
            raise
        self._ring = self.engine.state.midi_out
        self._c = self.engine.state.counters
        self._size = self._ring.shape[0]
        self._start_thread(self._watch, f"midi-out {self.part}")
        return self

    def stop(self) -> None:
        """Drop what is not yet sent and silence the synth (note-offs, all-notes-off, all-sound-off)."""
        self._stop_thread()
        if self._c is not None and self.engine.state.counters is not None:
            self._write(0, b"", 0)  # drop everything pending
            self._silence(self.engine.now_frame)
            # Give the audio process two cycles to send them before anyone closes the engine.
            deadline = time.monotonic() + 0.1
            target = self._c[C.MIDI_OUT_WRITTEN]
            while self._c[C.MIDI_OUT_READ] < target and time.monotonic() < deadline:
                time.sleep(0.002)
            time.sleep(3 * self.engine.blocksize / self.engine.sample_rate)
        if self._patch is not None:
            self._patch.close()
            self._patch = None
        self._c = None
        self._ring = None

    def __enter__(self) -> JackMidiOutput:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def sent_count(self) -> int:
        """Messages the audio process has written to JACK."""
        return int(self.engine.state.counters[C.MIDI_OUT_SENT]) if self.engine.state.counters is not None else 0

    # -- scheduling

    def send_at(self, frame: int, data: bytes | list[int]) -> None:
        """Send ``data`` at stream ``frame`` (+ the output latency when aligned to the audio)."""
        data = bytes(data)
        if not data or not data[0] & 0x80 or len(data) > _MAX_BYTES:
            raise ValueError(f"a MIDI message (1-{_MAX_BYTES} bytes) starts with a status byte, got {data!r}")
        if self.align_to_audio:
            frame += self.engine.output_latency_frames
        self._write(int(frame) - self.latency_frames, data, len(data))
        if len(data) == 3 and data[0] & 0xE0 == 0x80:
            key = (data[0] & 0x0F, data[1])
            with self._lock:
                if data[0] & 0xF0 == 0x90 and data[2] > 0:
                    self._on.add(key)

    def clear(self) -> None:
        """Drop everything not yet sent, and turn off the notes that are on."""
        self._write(0, b"", 0)
        now = self.engine.now_frame
        with self._lock:
            on, self._on = sorted(self._on), set()
        for ch, note in on:
            self._write(now, bytes([0x80 | ch, note, 0]), 3)

    def _write(self, frame: int, data: bytes, n: int) -> None:
        with self._lock:  # one producer at a time
            c = self._c
            if c is None:
                return
            w = int(c[C.MIDI_OUT_WRITTEN])
            if w - int(c[C.MIDI_OUT_READ]) >= self._size:
                self.dropped += 1
                return
            row = self._ring[w % self._size]
            row[0] = frame
            row[1] = int.from_bytes(data, "little") if n else 0
            row[2] = n
            c[C.MIDI_OUT_WRITTEN] = w + 1  # publish after the message is complete

    # -- hot-plug

    def _destinations(self) -> list[str]:
        own = self._port.split(":")[0] + ":"
        return [p for p in self._patch.destinations() if not p.startswith(own)]

    def _connect(self) -> None:
        dests = self._destinations()
        self.name = dests[refind_port(dests, self.name, self.part, kind="output")]
        self._patch.connect(self._port, self.name)
        self._connected = True

    def _watch(self) -> None:
        while not self._stop.wait(self.retry_s):
            if self._connected:
                if self.name not in self._destinations():
                    self._connected = False
                    self._status("device_lost", self.name)
                continue
            try:
                self._connect()
            except MidiDeviceError:
                continue
            self._silence(self.engine.now_frame)  # notes held when it went away must not hang on
            self._status("device_back", self.name)

    def _silence(self, frame: int) -> None:
        """Note-offs for the notes on, then sustain-up, all-notes-off and all-sound-off on every channel."""
        with self._lock:
            on, self._on = sorted(self._on), set()
        for ch, note in on:
            self._write(frame, bytes([0x80 | ch, note, 0]), 3)
        for ch in range(16):
            for cc in (64, 123, 120):
                self._write(frame, bytes([0xB0 | ch, cc, 0]), 3)
