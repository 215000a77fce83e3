"""The audio engine: one duplex stream, its clock, the mixer and the rings.

The block function :meth:`AudioEngine._process` is the real-time path. Per
block it advances the DLL clock map, lets the mixer render every scheduled
sound at its exact frame, copies input and output into preallocated rings,
and records how long it took. It allocates no arrays, takes no lock, does no
I/O and never raises: an exception is counted, the block goes out silent, and
the count is reported (sounddevice would otherwise print it and stop).
Everything else — scheduling, stamping inputs, draining rings to files —
happens on other threads through the methods below.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from engine.audio.backends import Backend, StreamParams, make_backend
from engine.audio.mixer import Mixer
from engine.audio.ringbuffer import FrameRing
from engine.audio.sound import Sound
from engine.clock import ClockMap, StreamClock
from engine.errors import AudioDeviceError, ConfigError

__all__ = ["AudioEngine"]

_TIMING_RING = 1 << 17  # callback durations kept (about 3 min at 750 blocks/s)


class AudioEngine:
    """A duplex audio stream with a sample-accurate scheduler.

    Parameters
    ----------
    backend : str or Backend
        ``"offline"`` (no device, driven block by block) or ``"sounddevice"``
        (any PortAudio device), or a backend instance.
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
    """

    def __init__(
        self,
        *,
        backend: str | Backend = "offline",
        sample_rate: int = 48_000,
        blocksize: int = 128,
        channels_in: int = 1,
        channels_out: int = 2,
        max_voices: int = 64,
        ring_s: float = 30.0,
        fade_ms: float = 10.0,
    ) -> None:
        if not 64 <= blocksize <= 512:
            raise ConfigError(f"The blocksize must be between 64 and 512 frames, not {blocksize}.")
        if sample_rate not in (44_100, 48_000, 88_200, 96_000):
            raise ConfigError(f"The sample rate must be 44100, 48000, 88200 or 96000 Hz, not {sample_rate}.")
        self.backend = make_backend(backend) if isinstance(backend, str) else backend
        self.clock = StreamClock(sample_rate)
        self.blocksize = blocksize
        self.channels_in = channels_in
        self.channels_out = channels_out
        self.clock_map = ClockMap(sample_rate)
        self.mixer = Mixer(channels=channels_out, max_voices=max_voices,
                           max_block=max(4096, blocksize),
                           fade_frames=max(1, int(sample_rate * fade_ms / 1000)))
        ring_frames = int(ring_s * sample_rate)
        self.input_ring = FrameRing(ring_frames, max(1, channels_in))
        self.output_ring = FrameRing(ring_frames, channels_out)
        self.params: StreamParams | None = None
        self._frame = 0
        self._cb_ns = np.zeros(_TIMING_RING, dtype=np.int64)
        self.callbacks = 0
        self.xruns = 0
        self.callback_errors = 0
        self.last_callback_error: str | None = None
        self._open = False
        self._running = False
        self._switch_interval: float | None = None

    # ------------------------------------------------------------------ the real-time path

    def _process(self, indata: np.ndarray, outdata: np.ndarray, frames: int, host_ns: int, xrun: bool) -> None:
        t0 = time.perf_counter_ns()
        frame = self._frame
        try:
            if xrun:
                self.xruns += 1
            self.clock_map.update(frame, host_ns, frames)
            self.mixer.render(outdata, frame)
        except BaseException as exc:  # never let the stream die on us; count and report
            self._callback_failed(exc)
            outdata.fill(0.0)
        try:
            # The rings stay aligned with the clock even when the mix failed.
            if self.channels_in:
                self.input_ring.write(indata)
            self.output_ring.write(outdata)
        except BaseException as exc:
            self._callback_failed(exc)
        self._frame = frame + frames
        self._cb_ns[self.callbacks % _TIMING_RING] = time.perf_counter_ns() - t0
        self.callbacks += 1

    def _callback_failed(self, exc: BaseException) -> None:
        self.callback_errors += 1
        self.last_callback_error = f"{type(exc).__name__}: {exc}"

    # ------------------------------------------------------------------ life cycle

    def open(self) -> StreamParams:
        """Open the device (not yet running). Raises AudioDeviceError with a plain sentence."""
        if not self._open:
            self.params = self.backend.open(
                self._process, sample_rate=self.clock.sample_rate, blocksize=self.blocksize,
                channels_in=self.channels_in, channels_out=self.channels_out,
            )
            self._open = True
        return self.params

    def start(self) -> None:
        """Open if needed and start the stream."""
        self.open()
        if self._running:
            return
        # A small switch interval lets the audio thread get the GIL back quickly.
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_interval, 0.0005))
        self.backend.start()
        self._running = True

    def stop(self, *, wait_s: float = 0.5) -> None:
        """Fade out everything sounding, then stop the stream. Safe to call twice.

        On a live backend this waits (at most ``wait_s``) for the fade to be
        rendered; the offline backend renders it at once.
        """
        if not self._running:
            return
        self.mixer.stop_all()
        fade_blocks = -(-self.mixer.fade_frames // self.blocksize) + 1
        if self.backend.name == "offline":
            self.backend.run_blocks(fade_blocks)
        elif self.backend.failed is None:
            target = self._frame + (fade_blocks + 1) * self.blocksize
            deadline = time.monotonic() + wait_s
            while self._frame < target and time.monotonic() < deadline and self.backend.failed is None:
                time.sleep(0.002)
        self.backend.stop()
        self._running = False
        if self._switch_interval is not None:
            sys.setswitchinterval(self._switch_interval)

    def close(self) -> None:
        """Stop (with the fade) and release the device. Safe to call twice."""
        try:
            self.stop()
        finally:
            if self._open:
                self.backend.close()
                self._open = False

    def __enter__(self) -> AudioEngine:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def check(self) -> None:
        """Raise AudioDeviceError if the stream died under us (device unplugged, server gone)."""
        if self.backend.failed:
            raise AudioDeviceError(self.backend.failed + " What was recorded so far is kept.")

    # ------------------------------------------------------------------ control side

    @property
    def sample_rate(self) -> int:
        return self.clock.sample_rate

    @property
    def now_frame(self) -> int:
        """The first frame of the next block: everything before it has been rendered."""
        return self._frame

    @property
    def output_latency_frames(self) -> int:
        return self.params.output_latency_frames if self.params else 0

    @property
    def input_latency_frames(self) -> int:
        return self.params.input_latency_frames if self.params else 0

    def play(self, sound: Sound, frame: int, *, gain: float = 1.0, pan: float = 0.0) -> int:
        """Schedule ``sound`` to start at output frame ``frame``; returns the voice id."""
        if sound.sample_rate != self.sample_rate:
            raise ConfigError(
                f"The sound {sound.name!r} is at {sound.sample_rate} Hz but the stream runs at "
                f"{self.sample_rate} Hz; load the sound bank at the stream's rate."
            )
        return self.mixer.play(sound, frame, gain=gain, pan=pan)

    def cancel(self, voice_id: int) -> None:
        self.mixer.cancel(voice_id)

    def stamp(self, host_ns: int) -> float:
        """The stream frame (fractional) of host monotonic time ``host_ns``: for inputs from other threads."""
        return self.clock_map.frame_at(host_ns)

    def callback_ms(self) -> np.ndarray:
        """Durations of the most recent block functions, in ms."""
        n = min(self.callbacks, _TIMING_RING)
        return self._cb_ns[:n] / 1e6

    def stats(self) -> dict:
        """Counters of everything that can go wrong, and callback timing."""
        ms = self.callback_ms()
        return {
            "callbacks": self.callbacks,
            "frames": self._frame,
            "xruns": self.xruns,
            "callback_errors": self.callback_errors,
            "last_callback_error": self.last_callback_error,
            "late_sounds": self.mixer.late,
            "late_max_frames": self.mixer.late_max_frames,
            "dropped_sounds": self.mixer.dropped,
            "queue_full": self.mixer.queue_full,
            "clipped_blocks": self.mixer.clipped_blocks,
            "callback_ms_p50": float(np.percentile(ms, 50)) if ms.size else None,
            "callback_ms_p99": float(np.percentile(ms, 99)) if ms.size else None,
            "block_ms": 1000.0 * self.blocksize / self.sample_rate,
        }


