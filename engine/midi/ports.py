"""MIDI ports through python-rtmidi: choose the API, find ports by name, open them safely.

Which MIDI system rtmidi talks to is a setting: ``TANDEM_MIDI_API`` (``alsa``,
``jack``, ``coremidi``, ``winmm``) or mido's ``MIDO_BACKEND``
(``mido.backends.rtmidi/UNIX_JACK``), else the platform's own: CoreMIDI on a
Mac, Windows MM on Windows, and on Linux JACK when a JACK server is running
(JACK then owns the MIDI devices) and ALSA otherwise.

:class:`InputPort` stamps every message with ``time.monotonic_ns()`` the
moment rtmidi hands it over (its callback runs on rtmidi's own thread) and
queues ``(arrival_ns, bytes)``; nothing else happens on that thread. rtmidi's
own delta times are not used: with timing-clock or active-sensing messages
filtered out (rtmidi's ``ignore_types``) its JACK backend still advances the
delta across the dropped messages, so the deltas of the notes that remain are
wrong (seen on this rig: notes 20.8 ms apart reported 10.6 ms apart).

:class:`OutputPort` remembers which notes it turned on and, on every way
out (close, an exception, Ctrl-C in a ``with`` block, interpreter exit),
sends their note-offs and then all-notes-off and all-sound-off on all 16
channels, so nothing is left sounding on an external synth.
"""

from __future__ import annotations

import atexit
import os
import queue
import sys
import threading
import time
import weakref

from engine.audio.devices import quiet_stderr
from engine.errors import TandemError

__all__ = [
    "API_NAMES",
    "MidiDeviceError",
    "InputPort",
    "OutputPort",
    "api_name",
    "find_port",
    "refind_port",
    "list_inputs",
    "list_outputs",
    "midi_api",
]


class MidiDeviceError(TandemError, OSError):
    """A MIDI port is missing, ambiguous, or cannot be opened."""


def _rtmidi():
    try:
        import rtmidi  # optional and heavy: only when a MIDI port is listed or opened
    except ImportError:
        raise MidiDeviceError("python-rtmidi is not installed; install Tandem's dependencies (make setup).") from None
    return rtmidi


# rtmidi's API constants by the names a setting may use (TANDEM_MIDI_API, or MIDO_BACKEND's suffix).
API_NAMES = {
    "alsa": 2, "linux_alsa": 2,
    "jack": 3, "unix_jack": 3,
    "coremidi": 1, "macosx_core": 1,
    "winmm": 4, "windows_mm": 4,
}
_API_LABELS = {1: "CoreMIDI", 2: "ALSA", 3: "JACK", 4: "Windows MM"}
_CLIENT = "tandem"


def api_name(api: int) -> str:
    return _API_LABELS.get(api, f"rtmidi API {api}")


def _jack_running() -> bool:
    rtmidi = _rtmidi()
    if rtmidi.API_UNIX_JACK not in rtmidi.get_compiled_api():
        return False
    try:
        with quiet_stderr():
            probe = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, _CLIENT + "-probe")
            probe.get_port_count()  # connects: raises when no server answers
            probe.delete()
    except Exception:  # noqa: BLE001 - rtmidi raises its own SystemError subclasses
        return False
    return True


def midi_api(setting: str | None = None) -> int:
    """The rtmidi API to use: ``setting``, else the environment, else the platform's own.

    Raises
    ------
    MidiDeviceError
        For a setting that names no MIDI system this rtmidi was built with.
    """
    rtmidi = _rtmidi()
    text = setting or os.environ.get("TANDEM_MIDI_API") or ""
    if not text:
        backend = os.environ.get("MIDO_BACKEND", "")
        if "/" in backend:
            text = backend.rsplit("/", 1)[1]
    if text:
        api = API_NAMES.get(text.strip().lower())
        if api is None:
            raise MidiDeviceError(
                f"Unknown MIDI system {text!r}; use one of alsa, jack, coremidi or winmm "
                f"(TANDEM_MIDI_API or MIDO_BACKEND).")
        if api not in rtmidi.get_compiled_api():
            raise MidiDeviceError(f"This python-rtmidi was built without {api_name(api)} support; "
                                  f"choose another MIDI system.")
        return api
    if sys.platform == "darwin":
        return rtmidi.API_MACOSX_CORE
    if sys.platform.startswith("win"):
        return rtmidi.API_WINDOWS_MM
    return rtmidi.API_UNIX_JACK if _jack_running() else rtmidi.API_LINUX_ALSA


def _open_client(kind: str, api: int, client_name: str):
    rtmidi = _rtmidi()
    cls = rtmidi.MidiIn if kind == "input" else rtmidi.MidiOut
    try:
        with quiet_stderr():
            return cls(api, client_name)
    except Exception:  # noqa: BLE001
        hint = {2: "there is no ALSA sequencer (/dev/snd/seq); is the MIDI driver loaded?",
                3: "no JACK server is running; start JACK or choose another MIDI system."}
        raise MidiDeviceError(f"Tandem cannot use MIDI through {api_name(api)}: "
                              f"{hint.get(api, 'the MIDI system is not available.')}") from None


def _own(name: str, client_name: str) -> bool:
    return name.split(":", 1)[0].strip() == client_name


def list_inputs(api: int | None = None) -> list[str]:
    """Names of the MIDI inputs (ports that send to us) through ``api``."""
    client = _open_client("input", midi_api() if api is None else api, _CLIENT + "-list")
    try:
        return [p for p in client.get_ports() if not _own(p, _CLIENT + "-list")]
    finally:
        client.delete()


def list_outputs(api: int | None = None) -> list[str]:
    """Names of the MIDI outputs (ports we can send to) through ``api``."""
    client = _open_client("output", midi_api() if api is None else api, _CLIENT + "-list")
    try:
        return [p for p in client.get_ports() if not _own(p, _CLIENT + "-list")]
    finally:
        client.delete()


def find_port(names: list[str], part: str, *, kind: str = "input") -> int:
    """Index in ``names`` of the port whose name contains ``part`` (case-insensitive).

    An exact name wins over a partial one. Raises MidiDeviceError when none
    or several match, naming what there is.
    """
    low = part.strip().lower()
    if not low:
        raise MidiDeviceError(f"Give part of the MIDI {kind}'s name (see `tandem devices`).")
    exact = [i for i, n in enumerate(names) if n.lower() == low]
    if exact:
        return exact[0]
    hits = [i for i, n in enumerate(names) if low in n.lower()]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        seen = ", ".join(repr(n) for n in names) if names else "none"
        raise MidiDeviceError(f"No MIDI {kind} matches {part!r} (connected: {seen}); "
                              f"plug the device in or check its name with `tandem devices`.")
    raise MidiDeviceError(f"Several MIDI {kind}s match {part!r} ({', '.join(repr(names[i]) for i in hits)}); "
                          f"give more of the name.")


def refind_port(names: list[str], old_name: str | None, part: str, *, kind: str = "input") -> int:
    """Index of a device that came back: its old full name if listed, else what ``part`` finds.

    A re-plugged device may come back under another full name (ALSA numbers
    clients as they appear), so the name part the user gave decides.
    """
    if old_name is not None and old_name in names:
        return names.index(old_name)
    return find_port(names, part, kind=kind)


class _Port:
    """What inputs and outputs share: finding the port by name, opening it, checking it is there."""

    kind = "input"

    def __init__(self, part: str, *, api: int | None, client_name: str) -> None:
        self.part = part
        self.api = midi_api() if api is None else api
        self.client_name = client_name
        self.name: str | None = None
        self._client = None

    def _open_port(self, prepare=None) -> bool:
        """Open the port named by ``part``; False when it was open already. Raises MidiDeviceError."""
        if self._client is not None:
            return False
        client = _open_client(self.kind, self.api, self.client_name)
        try:
            names = client.get_ports()
            index = find_port(names, self.part, kind=self.kind)
            if prepare is not None:
                prepare(client)
            with quiet_stderr():
                client.open_port(index, "in" if self.kind == "input" else "out")
        except MidiDeviceError:
            client.delete()
            raise
        except Exception as exc:  # noqa: BLE001 - rtmidi's errors
            client.delete()
            raise MidiDeviceError(f"The MIDI {self.kind} {self.part!r} could not be opened ({exc}); "
                                  f"is another program using it?") from None
        self.name = names[index]
        self._client = client
        return True

    @property
    def is_open(self) -> bool:
        return self._client is not None

    def present(self) -> bool:
        """Whether the device's port is still there (False once it was unplugged)."""
        if self._client is None or self.name is None:
            return False
        try:
            return self.name in self._client.get_ports()
        except Exception:  # noqa: BLE001
            return False


class InputPort(_Port):
    """One MIDI input, stamped on arrival.

    Parameters
    ----------
    part : str
        (Part of) the port's name, as :func:`find_port` matches it.
    api : int, optional
        rtmidi API; :func:`midi_api` if None.
    client_name : str
        Our client's name in the MIDI system.

    ``messages`` is a queue of ``(arrival_ns, bytes)``: the consumer
    (:mod:`engine.midi.live`) decodes and maps them onto the stream clock.
    System exclusive, timing clock and active sensing are dropped by rtmidi
    before they reach Python, so a clock flood costs no Python work.
    """

    def __init__(self, part: str, *, api: int | None = None, client_name: str = _CLIENT) -> None:
        super().__init__(part, api=api, client_name=client_name)
        self.messages: queue.SimpleQueue = queue.SimpleQueue()
        self.received = 0

    def open(self) -> InputPort:
        """Find and open the port. Raises MidiDeviceError with a plain sentence."""

        def prepare(client) -> None:
            client.ignore_types(sysex=True, timing=True, active_sense=True)
            client.set_callback(self._on_message)

        self._open_port(prepare)
        return self

    def _on_message(self, event, _data=None) -> None:
        # rtmidi's thread (JACK's process thread under JACK): stamp and hand over, nothing more.
        self.messages.put((time.monotonic_ns(), bytes(event[0])))
        self.received += 1

    def close(self) -> None:
        """Close the port (safe twice; messages already queued stay readable)."""
        client, self._client = self._client, None
        if client is not None:
            try:
                client.cancel_callback()
                client.close_port()
            except Exception:  # noqa: BLE001 - the device may be gone
                pass
            client.delete()

    def __enter__(self) -> InputPort:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()


_live_outputs: weakref.WeakSet = weakref.WeakSet()
_exit_hook = False


def _silence_live_outputs() -> None:
    for port in list(_live_outputs):
        port.close()


class OutputPort(_Port):
    """One MIDI output that never leaves a note sounding.

    ``send`` is safe from several threads (rtmidi is not: a lock serialises
    sends). Every way out sends the note-offs of the notes still on, then
    all-notes-off (CC 123) and all-sound-off (CC 120) on all 16 channels.
    """

    kind = "output"

    def __init__(self, part: str, *, api: int | None = None, client_name: str = _CLIENT) -> None:
        super().__init__(part, api=api, client_name=client_name)
        self.sent = 0
        self.send_errors = 0
        self._lock = threading.Lock()
        self._on: set[tuple[int, int]] = set()  # (channel, note) turned on and not off

    def open(self) -> OutputPort:
        global _exit_hook
        if self._open_port():
            _live_outputs.add(self)
            if not _exit_hook:
                atexit.register(_silence_live_outputs)
                _exit_hook = True
        return self

    def send(self, data: bytes | list[int]) -> bool:
        """Send one message now; False (and counted) when the port is closed or refuses it."""
        msg = list(data)
        with self._lock:
            if self._client is None:
                self.send_errors += 1
                return False
            try:
                self._client.send_message(msg)
            except Exception:  # noqa: BLE001 - a vanished device: counted, never raised mid-session
                self.send_errors += 1
                return False
            self.sent += 1
            if len(msg) == 3 and msg[0] & 0xE0 == 0x80:  # note-on or note-off
                key = (msg[0] & 0x0F, msg[1])
                if msg[0] & 0xF0 == 0x90 and msg[2] > 0:
                    self._on.add(key)
                else:
                    self._on.discard(key)
        return True

    def notes_on(self) -> set[tuple[int, int]]:
        with self._lock:
            return set(self._on)

    def panic(self) -> None:
        """Note-off for every note still on, then all-notes-off and all-sound-off on every channel."""
        with self._lock:
            client = self._client
            if client is None:
                return
            msgs = [[0x80 | ch, note, 0] for ch, note in sorted(self._on)]
            for ch in range(16):
                msgs.append([0xB0 | ch, 64, 0])  # sustain pedal up
                msgs.append([0xB0 | ch, 123, 0])  # all notes off
                msgs.append([0xB0 | ch, 120, 0])  # all sound off
            for m in msgs:
                try:
                    client.send_message(m)
                except Exception:  # noqa: BLE001
                    self.send_errors += 1
                    break
            self._on.clear()

    def close(self) -> None:
        """Silence everything, then close (safe twice)."""
        self.panic()
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            # Under JACK, rtmidi hands messages to its process thread through a ring buffer;
            # give it a couple of periods to pass the panic on before the port goes.
            if self.api == 3:
                time.sleep(0.03)
            try:
                client.close_port()
            except Exception:  # noqa: BLE001
                pass
            client.delete()
        _live_outputs.discard(self)

    def __enter__(self) -> OutputPort:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()
