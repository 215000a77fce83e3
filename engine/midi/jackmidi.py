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
import time

import numpy as np

from engine.audio.backends import SoundDeviceBackend
from engine.audio.shared import C
from engine.midi.ports import MidiDeviceError

__all__ = ["JackMidiBackend", "JackMidiReader", "JackPatch", "SPEC"]

SPEC = "engine.midi.jackmidi:JackMidiBackend"
"""The backend spec to give :class:`~engine.audio.engine.AudioEngine` for this input."""

_MAX_BYTES = 7  # packed little-endian into one int64


def _import_jack():
    try:
        import jack
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
        self._core = None
        self._c = None
        self._ring = None
        self._size = 0
        self._t0: int | None = None  # JACK frame of stream frame 0
        self._last_lft = -1
        self._hits: collections.deque = collections.deque()  # (frame, note, velocity) for feedback
        self._jack.set_process_callback(self._midi_process)

    def attach_core(self, core) -> None:
        self._core = core
        self._c = core.state.counters
        self._ring = core.state.midi_in
        self._size = self._ring.shape[0]
        self._fb_sound = core.state.fb_sound
        self._fb_gain = core.state.fb_gain
        self._stereo = core.mixer.channels == 2

    def open(self, process, **kwargs):
        params = super().open(process, **kwargs)
        self._jack.activate()
        return params

    def info(self) -> dict:
        return {"midi_port": self._port.name, "t0": self._t0, "client": self._jack.name}

    # -- the PortAudio callback: clocks, and feedback voices --------------------------------

    def _callback(self, indata, outdata, frames, time_info, status) -> None:
        hits = self._hits
        if hits and self._core is not None:
            try:
                self._start_feedback(hits)
            except Exception:  # noqa: BLE001 - never let the stream die on us
                self._c[C.CALLBACK_ERRORS] += 1
        super()._callback(indata, outdata, frames, time_info, status)
        lft = self._jack.last_frame_time
        if lft != self._last_lft:  # the first block of a JACK cycle starts at its first frame
            self._last_lft = lft
            t0 = lft - (self._frames_done - frames)
            self._t0 = t0
            if self._c is not None:
                self._c[C.JACK_T0] = t0
                self._c[C.JACK_T0_KNOWN] = 1

    def _start_feedback(self, hits) -> None:
        """Start the feedback voices the MIDI callback queued (before this block's mix)."""
        block = self._frames_done  # the stream frame this block starts at (before a dropout jump)
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
            if frame < block:
                c[C.FB_LATE] += 1
            if mixer.start_voice(0, int(self._fb_sound[note, 0]), length, frame, gain, gain, block):
                c[C.FB_PLAYED] += 1

    # -- the JACK MIDI client's callback ---------------------------------------------------

    def _midi_process(self, frames: int) -> None:
        ring = self._ring
        t0 = self._t0
        if ring is None:
            return
        c = self._c
        lft = self._jack.last_frame_time
        now = time.monotonic_ns()
        feedback = c[C.FB_ENABLED] == 1
        delay = int(c[C.FB_DELAY])
        for offset, data in self._port.incoming_midi_events():
            n = len(data)
            if t0 is None or n == 0 or n > _MAX_BYTES or (n == 1 and data[0] >= 0xF8):
                c[C.MIDI_SKIPPED] += 1
                continue
            raw = bytes(data)
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

    def close(self) -> None:
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
