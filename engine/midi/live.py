"""Live MIDI in a session: stamped notes, feedback sounds, and devices that come and go.

:class:`MidiInput` runs one thread per input device. For each message the
port queued (with its arrival stamp, see :mod:`engine.midi.ports`) it
decodes notes (:mod:`engine.midi.decode`), maps the arrival onto the stream
clock with the engine's DLL and subtracts the device's calibrated MIDI
latency (:func:`engine.midi.stamp.stamp_input`), looks the note up in the
device map, and, for a device without a sound of its own, schedules the
mapped feedback sound at (physical hit + a fixed delay): the latency is then
the same for every hit, and the jitter is only the stamp's.

Hot-plug: every ``retry_s`` the thread checks that the device is still
there. When it has gone, a ``device_lost`` status event is logged and the
session goes on (the clock, the stream and everything recorded are not
touched); the thread keeps looking and, when the device is back, re-opens
it and logs ``device_back``.

:class:`MidiOutput` (in :mod:`engine.midi.sender`) does the same for an
output.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable

from engine.audio.engine import AudioEngine
from engine.audio.service import DeviceService
from engine.audio.shared import C
from engine.errors import ConfigError
from engine.events import Event, InputEvent
from engine.midi.decode import MidiDecoder
from engine.midi.devicemap import DeviceMap, map_for_port
from engine.midi.jackmidi import JackMidiReader, JackPatch
from engine.midi.ports import InputPort, MidiDeviceError, _open_client, list_inputs, refind_port
from engine.midi.stamp import stamp_input

__all__ = ["MidiInput", "TRANSPORTS", "feedback_sounds"]

TRANSPORTS = ("rtmidi", "jack")
"""How notes reach the engine: ``rtmidi`` (any MIDI system, stamped on arrival) or
``jack`` (frame-exact, read by the audio process; needs an engine whose backend is
:data:`engine.midi.jackmidi.SPEC`)."""

DEFAULT_FEEDBACK_DELAY_MS = 6.0
"""Hit → feedback start through rtmidi. Must cover the worst case from the hit to the mixer
having the command (MIDI stack, one period of stamping, this thread waking, one block), else
some hits come late and the latency is no longer constant; 6 ms does at 128 frames / 48 kHz."""


def feedback_sounds(device_map: DeviceMap) -> set[str]:
    """Sound requests a device map can ask for (to load the bank before the session)."""
    sounds = set(device_map.sounds())
    if device_map.unknown_notes == "drum_or_click":
        sounds |= {f"drum:{n}" for n in range(35, 82)} | {"click"}
    return sounds


class MidiInput(DeviceService):
    """One live MIDI input device (see the module docstring).

    Parameters
    ----------
    engine : AudioEngine
        The running engine whose clock stamps are mapped onto.
    part : str
        (Part of) the port name.
    device_map : DeviceMap, optional
        The device's profile; by default the shipped one whose ``match``
        fits the port name (the generic profile otherwise).
    bank : mapping of str to Sound, optional
        Feedback sounds by request (a :class:`SoundBank`). No feedback without.
    feedback : bool, optional
        Play feedback sounds; by default when the device makes no sound itself.
    feedback_sound : str, optional
        One sound request played for every note-on, whatever the device map
        says (an intervention script's feedback instrument); must be in ``bank``.
    feedback_delay_ms : float, optional
        Fixed delay from the physical hit to the feedback sound's first frame.
        By default one block on the ``jack`` transport (the audio process
        starts the sound itself, in the next block) and
        :data:`DEFAULT_FEEDBACK_DELAY_MS` through rtmidi.
    latency_ms : float
        The device's MIDI latency from its calibration profile (0 until calibrated).
    on_event : callable, optional
        Called on this object's thread with every event it makes: inputs
        (note-ons as source ``midi``, note-offs as ``midi-off``) and
        ``device_lost`` / ``device_back`` status events. They are also kept
        in :attr:`events`.
    retry_s : float
        How often to check that the device is there, and to look for it when not.
    """

    def __init__(
        self,
        engine: AudioEngine,
        part: str,
        *,
        api: int | None = None,
        device_map: DeviceMap | None = None,
        bank=None,
        feedback: bool | None = None,
        feedback_sound: str | None = None,
        feedback_delay_ms: float | None = None,
        latency_ms: float = 0.0,
        on_event: Callable[[Event], None] | None = None,
        retry_s: float = 0.5,
        transport: str = "rtmidi",
    ) -> None:
        if transport not in TRANSPORTS:
            raise ConfigError(f"Unknown MIDI transport {transport!r}; use one of {', '.join(TRANSPORTS)}.")
        super().__init__(engine, on_event=on_event, retry_s=retry_s)
        self.transport = transport
        self.port = InputPort(part, api=3 if transport == "jack" else api)
        self.api = self.port.api
        self._map = device_map
        self.bank = bank
        self._feedback = feedback
        self.feedback_sound = feedback_sound
        rate = engine.sample_rate
        if feedback_delay_ms is None:  # the shortest delay that is the same for every hit
            self.feedback_delay_frames = (engine.blocksize if transport == "jack"
                                          else int(round(DEFAULT_FEEDBACK_DELAY_MS * rate / 1000.0)))
        else:
            self.feedback_delay_frames = int(round(feedback_delay_ms * rate / 1000.0))
        self.latency_frames = int(round(latency_ms * rate / 1000.0))
        self.decoder = MidiDecoder()
        self.notes = 0
        self.feedback_played = 0
        self.feedback_missing = 0  # hits whose mapped sound is not in the bank
        self.unclocked = 0  # notes that came before the stream had a clock (not recorded)
        self.lost_events = 0  # events overwritten in the JACK transport's ring before they were read
        self._jack_connected = False
        self._scanner = None

    @property
    def device_map(self) -> DeviceMap:
        if self._map is None:
            self._map = map_for_port(self.port.name or self.port.part)
        return self._map

    @property
    def feedback(self) -> bool:
        if self._feedback is not None:
            return self._feedback and self.bank is not None
        return self.bank is not None and not self.device_map.makes_own_sound

    # ------------------------------------------------------------------ life cycle

    def resolve(self) -> str:
        """Find the device's full port name without opening it (it fixes :attr:`device_map`).

        Lets a session load the feedback sounds of the profile that will
        really be used before the stream starts. Raises MidiDeviceError when
        the device is not there.
        """
        if self.transport == "jack":
            patch = JackPatch()
            try:
                names = [p for p in patch.sources() if not p.startswith("tandem-")]
            finally:
                patch.close()
        else:
            names = list_inputs(self.api)
        self.port.name = names[refind_port(names, self.port.name, self.port.part)]
        return self.port.name

    def start(self) -> MidiInput:
        """Open the device and start the thread. Raises MidiDeviceError when it is not there."""
        if self.transport == "jack":
            return self._start_jack()
        self.port.open()
        self.device_map  # noqa: B018 - fix the profile by the real port name
        if self.feedback:
            requests = {self.feedback_sound} if self.feedback_sound else feedback_sounds(self.device_map)
            for request in sorted(requests):
                if request in self.bank:
                    self.engine.preload(self.bank[request])
        self._scanner = _open_client("input", self.api, "tandem-scan")
        self._start_thread(self._run, f"midi-in {self.port.part}")
        return self

    def stop(self) -> None:
        """Stop the thread and close the port; everything received so far is handled first."""
        self._stop_thread()
        if self.transport == "jack":
            self._stop_jack()
            return
        self.port.close()
        self._drain()
        if self._scanner is not None:
            self._scanner.delete()
            self._scanner = None

    def __enter__(self) -> MidiInput:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def connected(self) -> bool:
        """Whether the device is there and being read."""
        if self.transport == "jack":
            return self._jack_connected
        return self.port.is_open

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        messages = self.port.messages
        next_check = time.monotonic() + self.retry_s
        while not self._stop.is_set():
            try:
                arrival_ns, data = messages.get(timeout=0.05)
            except queue.Empty:
                pass
            else:
                self._handle(arrival_ns, data)
            if time.monotonic() >= next_check:
                self._check_device()
                next_check = time.monotonic() + self.retry_s

    def _drain(self) -> None:
        while True:
            try:
                arrival_ns, data = self.port.messages.get_nowait()
            except queue.Empty:
                return
            self._handle(arrival_ns, data)

    def _handle(self, arrival_ns: int, data: bytes, arrival_frame: int | None = None) -> None:
        """Decode one message; ``arrival_frame`` is given when the transport knows it exactly."""
        for msg in self.decoder.feed(data):
            if msg.kind == "cc":
                continue
            role = self.device_map.lookup(msg.note, msg.velocity)
            key = role.role if role is not None else f"note:{msg.note}"
            source = "midi" if msg.kind == "on" else "midi-off"
            if arrival_frame is not None:
                event = InputEvent(frame=arrival_frame - self.latency_frames, source=source, key=key,
                                   velocity=msg.velocity, arrival_frame=arrival_frame,
                                   arrival_ns=arrival_ns, note=msg.note)
            else:
                try:
                    event = stamp_input(self.engine, source=source, key=key, velocity=msg.velocity,
                                        arrival_ns=arrival_ns, latency_frames=self.latency_frames,
                                        note=msg.note)
                except RuntimeError:
                    self.unclocked += 1  # the stream has not started: there is no clock to put it on
                    continue
            self._emit(event)
            if msg.kind != "on":
                continue
            self.notes += 1
            name = self.feedback_sound or (role.sound if role is not None else None)
            if name is not None and self.feedback and self.transport == "rtmidi":
                sound = self.bank[name] if name in self.bank else None
                if sound is None:
                    self.feedback_missing += 1
                    continue
                gain = role.gain if role is not None else self.device_map.gain(msg.velocity)
                self.engine.play(sound, event.frame + self.feedback_delay_frames, gain=gain)
                self.feedback_played += 1

    def _check_device(self) -> None:
        if self.port.is_open:
            if not self.port.present():
                self.port.close()
                self._drain()
                self._status("device_lost", self.port.name)
            return
        try:
            names = self._scanner.get_ports()
            refind_port(names, self.port.name, self.port.part)
            self.port.open()
        except MidiDeviceError:
            return  # still away: look again later
        except Exception:  # noqa: BLE001 - rtmidi while the device is half there
            return
        self.decoder = MidiDecoder()  # no running status or half a sysex from before the loss
        self._status("device_back", self.port.name)


    # ------------------------------------------------------------------ the frame-exact JACK transport

    def _start_jack(self) -> MidiInput:
        info = self.engine.backend_info()
        if "midi_port" not in info or self.engine.state.midi_in is None:
            raise MidiDeviceError("The frame-exact JACK MIDI input needs the engine started with the "
                                  "JACK MIDI backend; use the rtmidi transport instead.")
        self._engine_port = info["midi_port"]
        self._patch = JackPatch()
        self._connect_source()  # raises when the device is not there
        state = self.engine.state
        self._reader = JackMidiReader(state)
        c = state.counters
        if self.feedback:
            dm = self.device_map
            for note in range(128):
                role = dm.lookup(note, 127)
                name = self.feedback_sound or (role.sound if role is not None else None)
                if name is not None and name in self.bank:
                    offset, length = self.engine.preload(self.bank[name])
                    state.fb_sound[note] = (offset, length)
                else:
                    state.fb_sound[note] = (0, 0)
            state.fb_gain[:] = [dm.gain(v) for v in range(128)]
            c[C.FB_DELAY] = self.feedback_delay_frames - self.latency_frames
            c[C.FB_ENABLED] = 1
        self._fb_played0 = int(c[C.FB_PLAYED])
        self._start_thread(self._run_jack, f"midi-in {self.port.part}")
        return self

    def _connect_source(self) -> None:
        sources = [p for p in self._patch.sources() if not p.startswith(self._engine_port.split(":")[0] + ":")]
        self.port.name = sources[refind_port(sources, self.port.name, self.port.part)]
        self._patch.connect(self.port.name, self._engine_port)
        self._jack_connected = True

    def _run_jack(self) -> None:
        next_check = time.monotonic() + self.retry_s
        while not self._stop.is_set():
            self._read_jack()
            if time.monotonic() >= next_check:
                self._check_jack_device()
                next_check = time.monotonic() + self.retry_s
            time.sleep(0.001)

    def _read_jack(self) -> None:
        for frame, arrival_ns, data in self._reader.read():
            self._handle(arrival_ns, data, arrival_frame=frame)
        self.feedback_played = int(self.engine.state.counters[C.FB_PLAYED]) - self._fb_played0

    def _check_jack_device(self) -> None:
        if self._jack_connected:
            if self.port.name not in self._patch.sources():
                self._jack_connected = False
                self._status("device_lost", self.port.name)
            return
        try:
            self._connect_source()
        except MidiDeviceError:
            return
        self.decoder = MidiDecoder()  # no running status or half a sysex from before the loss
        self._status("device_back", self.port.name)

    def _stop_jack(self) -> None:
        if self._reader is None:  # stopped already
            return
        state = self.engine.state
        if state.counters is not None:
            state.counters[C.FB_ENABLED] = 0
            self._read_jack()
        self.lost_events = self._reader.lost
        self._reader = None  # drop its views of the shared memory, so the engine can release it
        self._patch.close()
