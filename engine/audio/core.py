"""The real-time path of the audio engine: one block in, one block out.

:class:`EngineCore` runs where the stream runs: in this process for the
offline backend, in the audio process (:mod:`engine.audio.rtprocess`) for a
device. Per block it advances the DLL clock map, lets the mixer render every
scheduled sound at its exact frame, copies input and output into the rings,
and records how long it took. It allocates no arrays, takes no lock, does no
I/O and never raises: an exception is counted, the block goes out silent,
and the count is reported (sounddevice would otherwise print it and stop the
stream). Everything it shares with the control side lives in the arrays of
:mod:`engine.audio.shared`.
"""

from __future__ import annotations

import time

import numpy as np

from engine.audio.mixer import Mixer
from engine.audio.ringbuffer import FrameRing
from engine.audio.shared import C, SharedState
from engine.clock import ClockMap

__all__ = ["EngineCore"]


class EngineCore:
    """The block function and the state only it writes (runs where the stream runs)."""

    def __init__(self, state: SharedState, *, sample_rate: int, blocksize: int, channels_in: int,
                 channels_out: int, max_voices: int, fade_frames: int) -> None:
        self.state = state
        self._c = state.counters
        self._cb_ns = state.cb_ns
        self._xrun_log = state.xrun_log
        self._timing_size = state.cb_ns.shape[0]
        self.channels_in = channels_in
        self.clock_map = ClockMap(sample_rate, state=state.clock)
        self.mixer = Mixer(state, channels=channels_out, max_voices=max_voices,
                           max_block=max(4096, blocksize), fade_frames=fade_frames)
        self.input_ring = FrameRing(state.in_ring, state.counters, C.IN_WRITTEN)
        self.output_ring = FrameRing(state.out_ring, state.counters, C.OUT_WRITTEN)
        self._gap = np.zeros((4096, max(2, channels_in, channels_out)), dtype=np.float32)
        self._frame = int(self._c[C.FRAME])
        self._callbacks = int(self._c[C.CALLBACKS])
        self.last_error: str | None = None

    def process(self, indata: np.ndarray, outdata: np.ndarray, frames: int, host_ns: int, xrun: bool,
                skipped: int = 0) -> None:
        """One block: the real-time path. Never raises.

        ``skipped`` frames went by on the device without a block (a dropout):
        the clock jumps over them, so frames stay the device's frames, and the
        clock map re-locks at the discontinuity.
        """
        t0 = time.perf_counter_ns()
        c = self._c
        frame = self._frame
        try:
            if xrun:
                c[C.XRUNS] += 1
            if xrun or skipped > 0:
                # Logged with the frames it spans, for the session log (engine.audio.engine.AudioEngine.pop_xruns).
                k = int(c[C.XRUN_WRITE])
                row = self._xrun_log[k % self._xrun_log.shape[0]]
                row[0], row[1], row[2] = frame, skipped, host_ns
                c[C.XRUN_WRITE] = k + 1  # publish after the entry
            if skipped > 0:
                c[C.SKIPPED_FRAMES] += skipped
                self._skip_rings(skipped)
                self.mixer.skip(frame, frame + skipped)
                frame += skipped
            self.clock_map.update(frame, host_ns, frames)
            self.mixer.render(outdata, frame)
        except BaseException as exc:  # never let the stream die on us; count and report
            self._failed_block(exc)
            outdata.fill(0.0)
        try:
            # The rings stay aligned with the clock even when the mix failed.
            if self.channels_in:
                self.input_ring.write(indata)
            self.output_ring.write(outdata)
        except BaseException as exc:
            self._failed_block(exc)
        self._frame = frame + frames
        c[C.FRAME] = self._frame
        n = self._callbacks
        self._cb_ns[n % self._timing_size] = time.perf_counter_ns() - t0
        self._callbacks = n + 1
        c[C.CALLBACKS] = n + 1

    def _skip_rings(self, frames: int) -> None:
        """Advance the rings over frames that never passed through us (they read as silence)."""
        gap = self._gap
        while frames > 0:
            n = min(frames, gap.shape[0])
            if self.channels_in:
                self.input_ring.write(gap[:n, : self.input_ring.channels])
            self.output_ring.write(gap[:n, : self.output_ring.channels])
            frames -= n

    def _failed_block(self, exc: BaseException) -> None:
        self._c[C.CALLBACK_ERRORS] += 1
        self.last_error = f"{type(exc).__name__}: {exc}"

    def mark_failed(self) -> None:
        """The device stream stopped on its own (called from the backend's finished callback)."""
        self._c[C.FAILED] = 1
