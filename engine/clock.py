"""The one clock: frames of the audio stream, and a map onto it for other threads.

The master clock is the audio stream's frame counter: frame 0 is the first
frame of the first block the stream processed. Everything is stamped in frames
of that clock; seconds are ``frames / sample_rate``.

Inputs that arrive on other threads (MIDI, key presses, a simulated child) are
stamped on arrival with a monotonic host clock (``time.monotonic_ns``) and
mapped onto the stream clock by :class:`ClockMap`, a delay-locked loop after
F. Adriaensen, *Using a DLL to filter time* (2005): the audio thread feeds it
the host time of every block, the loop filters the callback's scheduling
jitter out, and the fit is renewed every block, so drift between the sound
card's crystal and the host clock never accumulates over an hour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["StreamClock", "ClockMap"]


@dataclass(frozen=True)
class StreamClock:
    """Conversions between frames of the stream clock and seconds."""

    sample_rate: int

    def __post_init__(self) -> None:
        if self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {self.sample_rate}")

    def frames_to_s(self, frames: float) -> float:
        return frames / self.sample_rate

    def frames_to_ms(self, frames: float) -> float:
        return 1000.0 * frames / self.sample_rate

    def s_to_frames(self, seconds: float) -> int:
        """Nearest whole frame to a time in seconds."""
        return int(round(seconds * self.sample_rate))

    def ms_to_frames(self, ms: float) -> int:
        return int(round(ms * self.sample_rate / 1000.0))


class ClockMap:
    """Maps host monotonic time (ns) onto stream frames with a DLL.

    The audio thread calls :meth:`update` once per block with the frame at the
    start of the block and the host time it ran; any thread calls
    :meth:`frame_at` to stamp an event. The state readers use is published
    under a sequence counter (a seqlock), so readers never see half an update
    and need no lock, even from another process.

    Parameters
    ----------
    sample_rate : int
        Stream frames per second.
    bandwidth_hz : float
        Loop bandwidth. Lower filters more callback jitter but follows a
        change of rate more slowly; 0.5–1 Hz suits audio callbacks.
    """

    def __init__(self, sample_rate: int, *, bandwidth_hz: float = 0.5, state: np.ndarray | None = None) -> None:
        self.sample_rate = sample_rate
        self.bandwidth_hz = bandwidth_hz
        # Published state, a seqlock: [seq, frame0, t0_ns, frames, t1_ns]; seq is odd while
        # the writer is changing it. May live in memory shared with another process.
        self._s = np.zeros(5, dtype=np.float64) if state is None else state
        self._e2 = 0.0
        self._b = 0.0
        self._c = 0.0
        self._t1 = 0.0
        self._expect_frame = -1

    def _publish(self, frame0: int, t0: float, t1: float, frames: int) -> None:
        s = self._s
        s[0] += 1.0  # odd: being written
        s[1] = frame0
        s[2] = t0
        s[3] = frames
        s[4] = t1
        s[0] += 1.0  # even: consistent

    def _read(self) -> tuple[float, float, float, float]:
        s = self._s
        for _ in range(1000):
            seq = s[0]
            if seq % 2.0 == 0.0:
                frame0, t0, frames, t1 = s[1], s[2], s[3], s[4]
                if s[0] == seq:
                    return frame0, t0, t1, frames
        raise RuntimeError("the clock map is being rewritten continuously")

    def update(self, frame: int, host_ns: int, frames: int) -> None:
        """Feed one block: its first ``frame``, the host time it ran, its length.

        Called on the audio thread; arithmetic only.
        """
        if frame != self._expect_frame:
            # (Re)start: first block, or a discontinuity (stream restarted).
            period_ns = frames * 1e9 / self.sample_rate
            omega = 2.0 * math.pi * self.bandwidth_hz * frames / self.sample_rate
            self._b = math.sqrt(2.0) * omega
            self._c = omega * omega
            self._e2 = period_ns
            t0 = float(host_ns)
            self._t1 = t0 + period_ns
        else:
            err = host_ns - self._t1
            t0 = self._t1
            self._t1 = self._t1 + self._b * err + self._e2
            self._e2 += self._c * err
        self._publish(frame, t0, self._t1, frames)
        self._expect_frame = frame + frames

    def frame_at(self, host_ns: int) -> float:
        """Stream frame (fractional) at host time ``host_ns``.

        Raises
        ------
        RuntimeError
            When no block has been seen yet (the stream is not running).
        """
        frame0, t0, t1, frames = self._read()
        if frames <= 0:
            raise RuntimeError("the audio stream has not started; there is no clock to stamp against")
        return frame0 + (host_ns - t0) * frames / (t1 - t0)

    def host_ns_at(self, frame: float) -> float:
        """Host time (ns) at which the stream reaches ``frame`` (the inverse map)."""
        frame0, t0, t1, frames = self._read()
        if frames <= 0:
            raise RuntimeError("the audio stream has not started; there is no clock to map")
        return t0 + (frame - frame0) * (t1 - t0) / frames
