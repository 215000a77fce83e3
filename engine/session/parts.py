"""What a session is handed: how its clock runs (a stream) and what plays into it or watches it (parts).

The one session driver (:mod:`engine.session.driver`) runs every session
the same way; what differs between a live session, a simulated child's, an
assessment task and a homepack render is one of these, handed to it:

- a **stream** says how the clock runs: :class:`DeviceStream` (a sound
  card or JACK: the loop naps between steps while the device plays) or
  :class:`OfflineStream` (the offline backend, one block per step: as fast
  as the machine goes, or kept to the wall clock with ``pace="realtime"``);
- **parts** feed the session and watch it: the devices of a live session
  (:mod:`engine.session.live`), a simulated child
  (:mod:`engine.simulation.player`), the off-screen screenshot
  (:mod:`engine.session.screenshot`). A part only overrides the hooks it
  needs (:class:`Part`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.audio.backends import StreamParams
from engine.audio.engine import AudioEngine
from engine.errors import AudioDeviceError, ConfigError
from engine.events import CueEvent, Event

__all__ = ["PACES", "Context", "DeviceStream", "OfflineStream", "Part", "Stream"]

PACES = ("fast", "realtime")


@dataclass
class Context:
    """What a part is given when the session starts: the running engine, the log and the terminal."""

    engine: AudioEngine
    write: Callable[[Any], None]
    echo: Callable[[str], None]

    @property
    def rate(self) -> int:
        return self.engine.sample_rate


class Part:
    """One thing handed to a session (see the module docstring); every hook is optional."""

    def start(self, ctx: Context) -> None:
        """The stream runs and the log is open (the header is not written yet)."""

    def header(self) -> dict[str, Any]:
        """Fields for the log's header (``latency_frames`` entries are merged)."""
        return {}

    def poll(self) -> Iterable[Event]:
        """The events that arrived since the last step, in order: each is logged, and an input is the child's."""
        return ()

    def on_activity(self, index: int, activity: Any) -> None:
        """The visit's activity ``index`` (0-based) has begun (a script's ``activity.runner`` exists) and has not
        stepped yet: nothing of it is planned or scored."""

    def on_plan(self, plan: Any) -> list[dict]:
        """A trial was planned: ground truth to log with it (a simulated child's plan)."""
        return []

    def on_cue(self, cue: CueEvent) -> None:
        """A cue was scheduled (it is heard at ``cue.heard_frame``)."""

    def after_step(self, runner: Any) -> None:
        """The session stepped (``runner``: the script's :class:`~engine.session.runner.ScriptSession` or None)."""

    def pause(self) -> None:
        """The session was paused: its open trials were abandoned."""

    def stop(self) -> None:
        """The session is over: stop and let go of what the part holds. Safe twice."""

    def stats(self) -> dict[str, Any]:
        """Counters for the log's ``stream_stats`` (read after :meth:`stop`, before the engine closes)."""
        return {}

    def summary(self) -> dict[str, Any]:
        """Fields for ``summary.json`` (counts, the simulated child; read after :meth:`stop`)."""
        return {}


class Stream:
    """How a session's clock runs (see the module docstring)."""

    live: bool = False
    #: From the stream's start (or now, live) to the first plan, seconds.
    start_delay_s: float = 0.5
    #: How far ahead cues are scheduled.
    lookahead_s: float = 0.1

    def __init__(self, engine: AudioEngine) -> None:
        self.engine = engine
        self.params: StreamParams | None = None

    def start(self) -> StreamParams:
        raise NotImplementedError

    def check(self) -> None:
        """Raise if the stream failed (a device vanished)."""
        self.engine.check()

    def advance(self, busy: bool) -> None:
        """Let the stream run on until the next step (``busy``: a script is running)."""
        raise NotImplementedError

    def finish(self) -> None:
        """The session is over: play out what must still be heard."""

    def header(self) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        self.engine.close()


class DeviceStream(Stream):
    """A sound card or JACK: the device plays, the session loop naps :data:`LOOP_S` between steps.

    ``backend`` names the engine's backend (``sounddevice``, or the JACK MIDI
    backend that also keeps the stream clock on JACK's frame counter).
    """

    live = True
    start_delay_s = 1.0
    lookahead_s = 0.25
    """Far more than the session loop's worst wake-up (a few ms, plus a Python pause), so every cue
    reaches the mixer before its frame."""
    LOOP_S = 0.005  # the loop's nap between steps while a script runs
    IDLE_S = 0.05  # and while a song or free play runs (nothing to schedule ahead)
    START_TIMEOUT_S = 5.0

    def __init__(self, *, backend: str, device: str | int | None, blocksize: int) -> None:
        super().__init__(AudioEngine(backend=backend, backend_options={"device": device}, blocksize=blocksize,
                                     channels_in=1, channels_out=2))
        self.blocksize = blocksize

    def start(self) -> StreamParams:
        eng = self.engine
        self.params = eng.open()
        eng.start()
        deadline = time.monotonic() + self.START_TIMEOUT_S
        while eng.now_frame < 4 * self.blocksize:
            eng.check()
            if time.monotonic() > deadline:
                raise AudioDeviceError("The audio stream did not start within 5 s; check the audio device "
                                       "(`tandem devices`) and that no other program holds it.")
            time.sleep(0.01)
        return self.params

    def advance(self, busy: bool) -> None:
        time.sleep(self.LOOP_S if busy else self.IDLE_S)

    def header(self) -> dict[str, Any]:
        return {"audio_device": self.params.device if self.params else None}


class OfflineStream(Stream):
    """The offline backend, one block per step: ``pace`` ``fast`` (as fast as the machine goes) or
    ``realtime`` (kept to the wall clock, as a sound card would, to watch and listen).

    ``on_audio`` takes what was played, in chunks of about half a second
    (the session's ``audio.wav``, a homepack's song); ``tail_s`` is played
    after the session so the last sound rings out.
    """

    def __init__(self, *, sample_rate: int = 48_000, blocksize: int = 128, pace: str = "fast",
                 ring_s: float = 10.0, tail_s: float = 0.3, sound_memory_s: float | None = None) -> None:
        if pace not in PACES:
            raise ConfigError(f"The pace must be one of {', '.join(PACES)}, not {pace!r}.")
        options = {} if sound_memory_s is None else {"sound_memory_s": sound_memory_s}
        super().__init__(AudioEngine(backend="offline", sample_rate=sample_rate, blocksize=blocksize,
                                     channels_in=1, channels_out=2, ring_s=ring_s, **options))
        self.pace = pace
        self.tail_s = tail_s
        self.on_audio: Callable[[np.ndarray], None] | None = None
        #: Called once when the mixer has rendered its first sound (the latency benchmark's trace).
        self.on_first_sound: Callable[[], None] | None = None
        self._read = 0
        self._wall0 = 0.0

    def start(self) -> StreamParams:
        self.params = self.engine.open()
        self.engine.start()
        self._wall0 = time.monotonic()
        return self.params

    def advance(self, busy: bool = True) -> None:
        eng = self.engine
        eng.backend.run_blocks(1)
        if self.on_first_sound is not None and eng.mixer.first_sound_frame >= 0:
            self.on_first_sound()
            self.on_first_sound = None
        if self.pace == "realtime":
            ahead = eng.now_frame / eng.sample_rate - (time.monotonic() - self._wall0)
            if ahead > 0:
                time.sleep(ahead)
        if self.on_audio is not None and eng.output_ring.written - self._read >= eng.sample_rate // 2:
            self._drain()

    def _drain(self) -> None:
        ring = self.engine.output_ring
        if self.on_audio is not None and ring.written > self._read:
            self.on_audio(ring.read(self._read, ring.written - self._read))
        self._read = ring.written

    def finish(self) -> None:
        eng = self.engine
        end = eng.now_frame + round(self.tail_s * eng.sample_rate)
        while eng.now_frame < end:
            self.advance()
        eng.stop()  # fades anything still sounding into the recording
        self._drain()

    def header(self) -> dict[str, Any]:
        return {"backend": "offline", "pace": self.pace}
