"""The audio engine: one duplex stream, its clock, the mixer and the rings.

The real-time path is :class:`~engine.audio.core.EngineCore` (one block in,
one block out). :class:`AudioEngine` is what the rest of Tandem uses: schedule sounds, stamp
inputs, read the rings and the counters. With the offline backend the core
runs in this process, driven block by block. With a device backend the core
runs in an audio process of its own (:mod:`engine.audio.rtprocess`) and the
two share only the arrays of :mod:`engine.audio.shared`: in one process, any
other Python thread that wakes up (a UI, MIDI, the control loop) can hold
the GIL when the audio callback needs it, and on the JACK rig that showed as
4–6 ms stalls and xruns; alone in its process the callback never waits.
"""

from __future__ import annotations

import atexit
import time
import weakref

import numpy as np

from engine.audio.backends import BACKENDS, Backend, OfflineBackend, StreamParams, make_backend
from engine.audio.core import EngineCore
from engine.audio.mixer import Mixer
from engine.audio.ringbuffer import FrameRing
from engine.audio.rtprocess import AudioProcess
from engine.audio.shared import C, Layout, SharedState, audio_process_policy
from engine.audio.sound import Sound
from engine.clock import ClockMap, StreamClock
from engine.errors import AudioDeviceError, ConfigError

__all__ = ["AudioEngine"]

_live_engines: weakref.WeakSet = weakref.WeakSet()
_exit_hook_registered = False


def _register_exit_close(engine: AudioEngine) -> None:
    """Close (with the fade) every device engine still open when the interpreter exits.

    Registered after the audio process module's own hook, so it runs first
    (atexit is last-in, first-out) while the audio processes still answer.
    """
    global _exit_hook_registered
    _live_engines.add(engine)
    if not _exit_hook_registered:
        atexit.register(_close_live_engines)
        _exit_hook_registered = True


def _close_live_engines() -> None:
    for engine in list(_live_engines):
        engine.close()


class AudioEngine:
    """A duplex audio stream with a sample-accurate scheduler.

    Parameters
    ----------
    backend : str or Backend
        ``"offline"`` (no device, driven block by block, in this process),
        ``"sounddevice"`` (any PortAudio device, run in an audio process of
        its own), ``"module:Class"`` (another Backend class, run the same
        way), or an offline Backend instance.
    backend_options : dict, optional
        Keyword arguments for a backend made by name (``device``, ``latency``).
    sample_rate : int
        Frames per second (48 000 by default).
    blocksize : int
        Frames per block, 64–512 (128 by default: 2.7 ms at 48 kHz).
    channels_in, channels_out : int
        Input channels (0 for output only) and output channels (1 or 2).
    max_voices : int
        Sounds that can play at once.
    ring_s : float
        Seconds of input and output kept readable in the rings.
    fade_ms : float
        Fade applied to every sound still playing when the engine stops.
    sound_memory_s : float
        Seconds of sound (at the stream's rate) the mixer can hold.
    """

    def __init__(
        self,
        *,
        backend: str | Backend = "offline",
        backend_options: dict | None = None,
        sample_rate: int = 48_000,
        blocksize: int = 128,
        channels_in: int = 1,
        channels_out: int = 2,
        max_voices: int = 64,
        ring_s: float = 30.0,
        fade_ms: float = 10.0,
        sound_memory_s: float = 300.0,
    ) -> None:
        if not 64 <= blocksize <= 512:
            raise ConfigError(f"The blocksize must be between 64 and 512 frames, not {blocksize}.")
        if sample_rate not in (44_100, 48_000, 88_200, 96_000):
            raise ConfigError(f"The sample rate must be 44100, 48000, 88200 or 96000 Hz, not {sample_rate}.")
        if channels_out not in (1, 2):
            raise ConfigError(f"Tandem plays in mono or stereo, not {channels_out} channels.")
        self.clock = StreamClock(sample_rate)
        self.blocksize = blocksize
        self.channels_in = channels_in
        self.channels_out = channels_out
        fade_frames = max(1, int(sample_rate * fade_ms / 1000))
        layout = Layout(channels_in=channels_in, channels_out=channels_out,
                        ring_frames=int(ring_s * sample_rate),
                        arena_frames=int(sound_memory_s * sample_rate))
        core_args = dict(sample_rate=sample_rate, blocksize=blocksize, channels_in=channels_in,
                         channels_out=channels_out, max_voices=max_voices, fade_frames=fade_frames)
        self._shm = None
        if isinstance(backend, str) and ":" not in backend and backend not in BACKENDS:
            raise ConfigError(f"Unknown audio backend {backend!r}; use one of: {', '.join(BACKENDS)}.")
        separate, self.process_note = audio_process_policy()
        if isinstance(backend, Backend) or backend == "offline" or not separate:
            self.state = SharedState(layout)
            self.core: EngineCore | None = EngineCore(self.state, **core_args)
            if isinstance(backend, Backend) or backend == "offline":
                self.backend = backend if isinstance(backend, Backend) else OfflineBackend(**(backend_options or {}))
                self.process_note = "the stream runs in this process"
            else:  # a device where the callback stays in this process (see engine.audio.shared)
                _register_exit_close(self)
                self.backend = make_backend(backend, **(backend_options or {}))
                self.backend.on_failure = self.core.mark_failed
                if hasattr(self.backend, "attach_core"):  # it also feeds the engine (JACK MIDI input)
                    self.backend.attach_core(self.core)
            self.mixer = self.core.mixer  # one object plays both sides in one process
        else:
            _register_exit_close(self)
            self.state, self._shm = SharedState.create_shared(layout)
            self.core = None
            self.backend = AudioProcess(backend, backend_options or {}, layout=layout,
                                        shm_name=self._shm.name, core_args=core_args,
                                        counters=self.state.counters)
            self.mixer = Mixer(self.state, channels=channels_out, max_voices=max_voices,
                               fade_frames=fade_frames)
        self._c = self.state.counters
        self.clock_map = ClockMap(sample_rate, state=self.state.clock)
        self.input_ring = FrameRing(self.state.in_ring, self._c, C.IN_WRITTEN)
        self.output_ring = FrameRing(self.state.out_ring, self._c, C.OUT_WRITTEN)
        self.params: StreamParams | None = None
        self._xrun_read = 0
        self._xrun_history: list[tuple[int, int]] = []
        self._xrun_popped = 0
        self._final_cb_ms = np.zeros(0)
        self.stall_s = 1.0  # a running device stream that does not advance this long has failed
        self._watch_frame = -1
        self._watch_t = 0.0
        self._open = False
        self._running = False
        self._closed = False

    # ------------------------------------------------------------------ life cycle

    def open(self) -> StreamParams:
        """Open the device (not yet running). Raises AudioDeviceError with a plain sentence."""
        if self._closed:
            raise AudioDeviceError("This audio engine was closed; make a new one.")
        if not self._open:
            process = self.core.process if self.core is not None else None
            self.params = self.backend.open(
                process, sample_rate=self.clock.sample_rate, blocksize=self.blocksize,
                channels_in=self.channels_in, channels_out=self.channels_out,
            )
            self._open = True
        return self.params

    def start(self) -> None:
        """Open if needed and start the stream."""
        try:
            self.open()
            if not self._running:
                self.backend.start()
                self._running = True
        except BaseException:
            self.close()
            raise

    def stop(self, *, wait_s: float = 0.5) -> None:
        """Fade out everything sounding, then stop the stream. Safe to call twice.

        On a device this waits (at most ``wait_s``) for the fade to be
        rendered; the offline backend renders it at once.
        """
        if not self._running:
            return
        self._running = False
        self._c[C.FB_ENABLED] = 0  # no new feedback sounds from the audio process's MIDI input
        self.mixer.stop_all()
        fade_blocks = -(-self.mixer.fade_frames // self.blocksize) + 1
        if isinstance(self.backend, OfflineBackend):
            self.backend.run_blocks(fade_blocks)
        elif not self.backend.failed:
            # Wait for the fade to go out (a dead device never renders it: the wait is bounded).
            target = self.now_frame + (fade_blocks + 1) * self.blocksize
            deadline = time.monotonic() + wait_s
            while self.now_frame < target and time.monotonic() < deadline and not self.backend.failed:
                time.sleep(0.002)
        self.backend.stop()

    def close(self) -> None:
        """Stop (with the fade) and release the device. Safe to call twice."""
        if self._closed:
            return
        try:
            self.stop()
        finally:
            self._closed = True
            try:
                self.backend.close()
            finally:
                self._open = False
                if self._shm is not None:
                    # Keep the final counters, timings and xruns readable after the memory goes.
                    self._final_cb_ms = self.callback_ms().copy()
                    self.xrun_history()
                    self._c = np.array(self._c)
                    self.state.release()
                    self.clock_map = self.input_ring = self.output_ring = self.mixer = None
                    try:
                        self._shm.close()
                    except BufferError:
                        pass  # a caller still holds a view; the mapping goes with it
                    self._shm.unlink()
                    self._shm = None

    def __enter__(self) -> AudioEngine:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def failure(self) -> str | None:
        """Why the stream is dead (device unplugged, server gone, stalled), or None."""
        failed = self.backend.failed
        if failed:
            return failed
        if not self._running or isinstance(self.backend, OfflineBackend):
            return None
        # A stream whose device vanished may just stop calling back, without a word.
        now, t = self.now_frame, time.monotonic()
        if now != self._watch_frame:
            self._watch_frame, self._watch_t = now, t
        elif t - self._watch_t > self.stall_s:
            return (f"The audio device stopped delivering sound {t - self._watch_t:.1f} s ago: "
                    f"it was unplugged or its server went away.")
        return None

    def check(self) -> None:
        """Raise AudioDeviceError if the stream died under us. Call it from the control loop."""
        failure = self.failure
        if failure:
            raise AudioDeviceError(failure + " What was recorded so far is kept.")

    def backend_info(self) -> dict:
        """What the backend reports about itself (device-specific diagnostics)."""
        info = getattr(self.backend, "info", None)
        return info() if info is not None else {}

    # ------------------------------------------------------------------ control side

    @property
    def sample_rate(self) -> int:
        return self.clock.sample_rate

    @property
    def now_frame(self) -> int:
        """The first frame of the next block: everything before it has been rendered."""
        return int(self._c[C.FRAME])

    @property
    def output_latency_frames(self) -> int:
        return self.params.output_latency_frames if self.params else 0

    @property
    def input_latency_frames(self) -> int:
        return self.params.input_latency_frames if self.params else 0

    @property
    def xruns(self) -> int:
        return int(self._c[C.XRUNS])

    def xrun_history(self) -> list[tuple[int, int]]:
        """Every xrun of this stream so far, oldest first: (stream frame where it happened, frames the device
        ran on without a block: the clock jumped from the one to the other). Read from the audio side's log
        (256 entries) whenever asked; more xruns than that between two calls lose the oldest, which
        :attr:`xruns` still counts."""
        log = self.state.xrun_log
        if log is None:  # closed: the shared memory is gone, with nothing more to read
            return self._xrun_history
        written = int(self._c[C.XRUN_WRITE])
        start = max(self._xrun_read, written - log.shape[0])
        self._xrun_history += [(int(log[k % log.shape[0], 0]), int(log[k % log.shape[0], 1]))
                               for k in range(start, written)]
        self._xrun_read = written
        return self._xrun_history

    def pop_xruns(self) -> list[tuple[int, int]]:
        """The xruns since the last call of this method, oldest first (as :meth:`xrun_history`)."""
        history = self.xrun_history()
        out = history[self._xrun_popped:]
        self._xrun_popped = len(history)
        return out

    @property
    def callbacks(self) -> int:
        return int(self._c[C.CALLBACKS])

    @property
    def callback_errors(self) -> int:
        return int(self._c[C.CALLBACK_ERRORS])

    @property
    def last_callback_error(self) -> str | None:
        return self.core.last_error if self.core is not None else None

    def play(self, sound: Sound, frame: int, *, gain: float = 1.0, pan: float = 0.0) -> int:
        """Schedule ``sound`` to start at output frame ``frame``; returns the voice id."""
        if sound.sample_rate != self.sample_rate:
            raise ConfigError(
                f"The sound {sound.name!r} is at {sound.sample_rate} Hz but the stream runs at "
                f"{self.sample_rate} Hz; load the sound bank at the stream's rate."
            )
        return self.mixer.play(sound, frame, gain=gain, pan=pan)

    def preload(self, sound: Sound) -> tuple[int, int]:
        """Put ``sound`` into the mixer's memory now, so playing it later costs no copy.

        Returns its (offset, length) in the shared sound memory.
        """
        return self.mixer.preload(sound)

    def cancel(self, voice_id: int) -> None:
        self.mixer.cancel(voice_id)

    def stamp(self, host_ns: int) -> float:
        """The stream frame (fractional) of host monotonic time ``host_ns``: for inputs from other threads."""
        return self.clock_map.frame_at(host_ns)

    def callback_ms(self) -> np.ndarray:
        """Durations of the most recent block functions, in ms."""
        if self.state.cb_ns is None:  # closed
            return self._final_cb_ms
        n = min(self.callbacks, self.state.cb_ns.shape[0])
        return self.state.cb_ns[:n] / 1e6

    def stats(self) -> dict:
        """Counters of everything that can go wrong, and callback timing."""
        c = self._c
        ms = self.callback_ms()
        return {
            "callbacks": int(c[C.CALLBACKS]),
            "frames": int(c[C.FRAME]),
            "xruns": int(c[C.XRUNS]),
            "skipped_frames": int(c[C.SKIPPED_FRAMES]),
            "callback_errors": int(c[C.CALLBACK_ERRORS]),
            "last_callback_error": self.last_callback_error,
            "late_sounds": int(c[C.LATE]),
            "late_max_frames": int(c[C.LATE_MAX_FRAMES]),
            "dropped_sounds": int(c[C.DROPPED]),
            "queue_full": int(c[C.QUEUE_FULL]),
            "clipped_blocks": int(c[C.CLIPPED_BLOCKS]),
            # The JACK MIDI backend's own counters (0 with any other backend).
            "midi_skipped": int(c[C.MIDI_SKIPPED]),  # real-time bytes and long sysex, dropped
            "midi_feedback_played": int(c[C.FB_PLAYED]),
            "midi_out_late": int(c[C.MIDI_OUT_LATE]),  # sent at the start of a later cycle
            "callback_ms_p50": float(np.percentile(ms, 50)) if ms.size else None,
            "callback_ms_p99": float(np.percentile(ms, 99)) if ms.size else None,
            "block_ms": 1000.0 * self.blocksize / self.sample_rate,
            "audio_process": self.process_note,  # where the callback runs, and why (engine.audio.shared)
        }
