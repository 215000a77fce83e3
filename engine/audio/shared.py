"""The memory the audio thread shares with everything else: one block, carved into arrays.

Between the real-time path and the rest of Tandem there are only these
arrays: a command FIFO into the mixer, a sound arena the mixer plays from,
the input and output rings, the clock map's state, counters and callback
timings. They live in one block of memory that is either ordinary (the
offline backend, in-process) or a ``multiprocessing.shared_memory`` segment
(a device stream, whose callback runs in its own process so that no other
Python thread ever holds the GIL it needs; see :mod:`engine.audio.rtprocess`).
Each array has one writer; aligned 8-byte stores are atomic on every CPU
Tandem runs on, and a writer publishes a counter only after the data it
covers, so readers need no lock.

That last step needs stores to become visible in the order they were made,
which x86 guarantees (total store order) and ARM (Apple silicon, arm64
Linux) does not: there a reader in another process could see a counter
before the data it covers, and numpy has no memory fence to make it wait.
So the audio process of its own is used only where stores are ordered
(:func:`audio_process_policy`); elsewhere the callback runs in the control
process, where every hand-over of the GIL between its threads is a lock
operation that orders memory. ``TANDEM_AUDIO_PROCESS=separate|in-process``
overrides the choice (to test either path on any machine).
"""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass
from multiprocessing import resource_tracker, shared_memory

import numpy as np

__all__ = ["ORDERED_STORES", "Layout", "SharedState", "C", "audio_process_policy"]

ORDERED_STORES = platform.machine().lower() in ("x86_64", "amd64", "i386", "i486", "i586", "i686", "x86")
"""Whether this CPU makes stores visible to other cores in program order (x86's total store order)."""


def audio_process_policy(machine_ordered: bool | None = None) -> tuple[bool, str]:
    """Whether a device's callback runs in an audio process of its own, and why (one sentence).

    ``TANDEM_AUDIO_PROCESS`` (``separate`` or ``in-process``) decides when set; else a process of its own
    where stores are ordered (:data:`ORDERED_STORES`), this process elsewhere.
    """
    forced = os.environ.get("TANDEM_AUDIO_PROCESS", "").strip().lower()
    if forced in ("separate", "in-process"):
        return forced == "separate", f"TANDEM_AUDIO_PROCESS={forced}"
    ordered = ORDERED_STORES if machine_ordered is None else machine_ordered
    if ordered:
        return True, "the callback runs alone in an audio process of its own"
    return False, (f"this CPU ({platform.machine() or 'unknown'}) may reorder stores between processes, so the "
                   f"callback runs in this process, where the interpreter's lock orders memory")


class C:
    """Indices into ``SharedState.counters`` (int64)."""

    CALLBACKS = 0  # blocks processed
    FRAME = 1  # first frame of the next block (the stream clock)
    XRUNS = 2
    CALLBACK_ERRORS = 3
    LATE = 4  # sounds whose frame had passed when the mixer saw them
    LATE_MAX_FRAMES = 5
    DROPPED = 6  # sounds that found no free voice
    QUEUE_FULL = 7
    CLIPPED_BLOCKS = 8
    VOICES_STARTED = 9
    FIRST_SOUND_FRAME = 10  # -1 until a voice first sounded
    ACTIVE_VOICES = 11
    Q_WRITE = 12  # command FIFO: slots written (producer)
    Q_READ = 13  # command FIFO: slots read (audio thread)
    LATE_WRITE = 14  # late log entries written
    IN_WRITTEN = 15  # input ring: frames written
    OUT_WRITTEN = 16  # output ring: frames written
    FAILED = 17  # 1 when the device stream stopped on its own
    SKIPPED_FRAMES = 18  # frames the device ran on without a block (dropouts)
    # Frame-exact MIDI input (engine.midi.jackmidi, in the audio process) and its feedback sounds.
    MIDI_WRITTEN = 19  # midi_in ring: events written
    MIDI_SKIPPED = 20  # real-time bytes and messages too long for the ring (sysex), dropped
    FB_ENABLED = 21  # 1: the audio process plays feedback sounds for MIDI hits (set by the control side)
    FB_DELAY = 22  # frames from a hit's arrival frame to its feedback sound
    FB_PLAYED = 23  # (late ones are counted in LATE, like every other sound)
    # Stop-all requests, apart from the command FIFO so that a full FIFO never drops one (the exit path's fade):
    STOP_REQ = 24  # requests made (control side)
    STOP_MARK = 25  # Q_WRITE when the latest request was made: sounds queued before it are dropped
    STOP_DONE = 26  # requests carried out (audio thread)
    MIDI_OUT_WRITTEN = 27  # midi_out ring: messages written (control side)
    MIDI_OUT_READ = 28  # midi_out ring: messages taken (audio process)
    MIDI_OUT_SENT = 29
    MIDI_OUT_LATE = 30  # messages whose frame had passed (sent at the cycle's start)
    XRUN_WRITE = 31  # xrun log entries written (the audio side)
    N = 32


@dataclass(frozen=True)
class Layout:
    """Sizes of the shared arrays."""

    channels_in: int
    channels_out: int
    ring_frames: int
    queue_size: int = 1024
    arena_frames: int = 1 << 24  # 64 MiB of float32: about 6 minutes of sound at 48 kHz
    timing_size: int = 1 << 17
    late_log_size: int = 256
    xrun_log_size: int = 256
    midi_ring_size: int = 4096

    def arrays(self) -> list[tuple[str, np.dtype, tuple[int, ...]]]:
        return [
            ("counters", np.dtype(np.int64), (C.N,)),
            ("clock", np.dtype(np.float64), (5,)),  # the clock map's seqlock (see engine.clock)
            ("cmd_int", np.dtype(np.int64), (self.queue_size, 5)),  # op, voice, offset, length, frame
            ("cmd_gain", np.dtype(np.float32), (self.queue_size, 2)),
            ("late_log", np.dtype(np.int64), (self.late_log_size, 3)),
            # Each xrun: the stream frame of the block it was reported before, the frames the device ran on
            # without a block (0: an xrun that cost no frames), the block's host time (ns)
            ("xrun_log", np.dtype(np.int64), (self.xrun_log_size, 3)),
            ("cb_ns", np.dtype(np.int64), (self.timing_size,)),
            ("in_ring", np.dtype(np.float32), (self.ring_frames, max(1, self.channels_in))),
            ("out_ring", np.dtype(np.float32), (self.ring_frames, self.channels_out)),
            ("arena", np.dtype(np.float32), (self.arena_frames,)),
            # MIDI events: stream frame, arrival ns, bytes (little-endian, up to 7), length
            ("midi_in", np.dtype(np.int64), (self.midi_ring_size, 4)),
            # MIDI out: stream frame, bytes (little-endian, up to 7), length (0: drop all pending)
            ("midi_out", np.dtype(np.int64), (self.midi_ring_size, 3)),
            ("fb_sound", np.dtype(np.int64), (128, 2)),  # per note: arena offset, length (0: none)
            ("fb_gain", np.dtype(np.float32), (128,)),  # per velocity: the feedback gain
        ]

    @property
    def nbytes(self) -> int:
        total = 0
        for _, dtype, shape in self.arrays():
            total = _align(total) + dtype.itemsize * int(np.prod(shape))
        return total

    def to_dict(self) -> dict:
        return asdict(self)


def _align(n: int, to: int = 64) -> int:
    return -(-n // to) * to


class SharedState:
    """The arrays of a :class:`Layout` over one buffer.

    Parameters
    ----------
    layout : Layout
    buf : buffer, optional
        Memory of at least ``layout.nbytes`` (a shared-memory segment's
        ``buf``); fresh zeroed memory if None.
    """

    counters: np.ndarray
    clock: np.ndarray
    cmd_int: np.ndarray
    cmd_gain: np.ndarray
    late_log: np.ndarray
    xrun_log: np.ndarray
    cb_ns: np.ndarray
    in_ring: np.ndarray
    out_ring: np.ndarray
    arena: np.ndarray
    midi_in: np.ndarray
    midi_out: np.ndarray
    fb_sound: np.ndarray
    fb_gain: np.ndarray

    def __init__(self, layout: Layout, buf=None, *, initialise: bool = True) -> None:
        self.layout = layout
        if buf is None:
            buf = np.zeros(layout.nbytes, dtype=np.uint8)
        offset = 0
        for name, dtype, shape in layout.arrays():
            offset = _align(offset)
            count = int(np.prod(shape))
            arr = np.frombuffer(buf, dtype=dtype, count=count, offset=offset).reshape(shape)
            setattr(self, name, arr)
            offset += dtype.itemsize * count
        if initialise:
            self.counters[C.FIRST_SOUND_FRAME] = -1

    @classmethod
    def create_shared(cls, layout: Layout) -> tuple[SharedState, shared_memory.SharedMemory]:
        """A new shared-memory segment (the caller owns it: close and unlink)."""
        shm = shared_memory.SharedMemory(create=True, size=layout.nbytes)
        return cls(layout, shm.buf), shm

    @classmethod
    def attach(cls, layout: Layout, name: str) -> tuple[SharedState, shared_memory.SharedMemory]:
        """Map an existing segment (another process created it and will unlink it)."""
        shm = shared_memory.SharedMemory(name=name)
        try:  # Python < 3.13 registers attached segments too, and would unlink it at our exit
            resource_tracker.unregister(shm._name, "shared_memory")  # noqa: SLF001
        except Exception:
            pass
        return cls(layout, shm.buf, initialise=False), shm

    def release(self) -> None:
        """Drop the array views so the buffer can be closed."""
        for name, _, _ in self.layout.arrays():
            setattr(self, name, None)
