"""A preallocated single-writer ring of audio frames, addressed by stream frame.

The audio thread writes each block as it passes (input from the microphone,
or a copy of the output); other threads read any span of recent frames by its
absolute frame number on the stream clock. Nothing is allocated or locked on
the writer's side; a reader checks after copying that the writer has not
overwritten what it copied (as a seqlock does) and says so if it has.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FrameRing", "RingOverrun"]


class RingOverrun(Exception):
    """The frames asked for are no longer (or not yet) in the ring."""


class FrameRing:
    """Ring buffer of frames × channels (float32) over a given array.

    Parameters
    ----------
    buffer : np.ndarray
        float32, shape (capacity_frames, channels); may live in shared memory.
    counters : np.ndarray, optional
        An int64 array holding the count of frames written at ``index``
        (shared with another process); a private counter if None.
    """

    def __init__(self, buffer: np.ndarray, counters: np.ndarray | None = None, index: int = 0) -> None:
        if buffer.ndim != 2 or buffer.shape[0] <= 0 or buffer.shape[1] <= 0:
            raise ValueError("buffer must be a non-empty (frames, channels) array")
        self._buf = buffer
        self.capacity_frames, self.channels = buffer.shape
        if counters is None:
            counters, index = np.zeros(1, dtype=np.int64), 0
        self._counters = counters
        self._index = index

    @classmethod
    def empty(cls, capacity_frames: int, channels: int) -> FrameRing:
        """A ring over fresh private memory."""
        if capacity_frames <= 0 or channels <= 0:
            raise ValueError("capacity_frames and channels must be positive")
        return cls(np.zeros((capacity_frames, channels), dtype=np.float32))

    @property
    def _written(self) -> int:
        return int(self._counters[self._index])

    @property
    def written(self) -> int:
        """Frames written so far: the stream frame just after the newest one."""
        return self._written

    @property
    def oldest(self) -> int:
        """The oldest frame still readable."""
        return max(0, self._written - self.capacity_frames)

    def write(self, block: np.ndarray) -> None:
        """Append a block of shape (frames, channels). Audio thread only."""
        n = block.shape[0]
        cap = self.capacity_frames
        pos = self._written % cap
        first = min(n, cap - pos)
        self._buf[pos : pos + first] = block[:first]
        if n > first:
            self._buf[: n - first] = block[first:n]
        self._counters[self._index] += n  # publish after the copy

    def read(self, start_frame: int, frames: int, out: np.ndarray | None = None) -> np.ndarray:
        """Copy frames [start_frame, start_frame + frames) out of the ring.

        Raises
        ------
        RingOverrun
            When part of the span was already overwritten or not yet written.
        """
        end = start_frame + frames
        if start_frame < self.oldest or end > self._written:
            raise RingOverrun(
                f"frames {start_frame}..{end} are not in the ring (holds {self.oldest}..{self._written})"
            )
        if out is None:
            out = np.empty((frames, self.channels), dtype=np.float32)
        cap = self.capacity_frames
        pos = start_frame % cap
        first = min(frames, cap - pos)
        out[:first] = self._buf[pos : pos + first]
        if frames > first:
            out[first:frames] = self._buf[: frames - first]
        # The writer may have lapped us while we copied.
        if start_frame < self._written - cap:
            raise RingOverrun(f"frames from {start_frame} were overwritten while being read")
        return out
