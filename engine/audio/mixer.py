"""The scheduler/mixer: plays sounds at exact future frames.

Control threads call :meth:`Mixer.play` (and :meth:`cancel`,
:meth:`stop_all`) with the stream frame a sound must start at; the audio
thread calls :meth:`Mixer.render` once per block and mixes every voice in at
its exact sample offset.

Between them are preallocated arrays (:mod:`engine.audio.shared`): a sound
arena that a sound is copied into the first time it is played, and a command
FIFO of fixed-size records (JUCE's AbstractFifo pattern). Producers
serialise among themselves with a lock the audio thread never takes; the
audio thread reads records and advances its index. The voice table belongs
to the audio thread alone. So a block in steady state allocates no arrays,
takes no lock and does no I/O — and the two sides can even live in different
processes, sharing only that memory.

What goes wrong is counted, never silent: a sound whose start frame had
already been played when the audio thread saw it (``late``: it is played at
once, and logged), a sound that found no free voice (``dropped``), a full
command FIFO (``queue_full``), and blocks whose mix had to be clipped.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from engine.audio.shared import C, Layout, SharedState
from engine.audio.sound import Sound
from engine.errors import ConfigError

__all__ = ["Mixer"]

_PLAY, _CANCEL = 1, 2


class Mixer:
    """Voices started at exact frames, mixed block by block.

    Parameters
    ----------
    state : SharedState, optional
        The shared arrays; a private set (1 in, ``channels`` out) if None.
    channels : int
        Output channels (1 or 2; pan applies to 2).
    max_voices : int
        Voices that can sound at once.
    max_block : int
        Largest block :meth:`render` will be asked for.
    fade_frames : int
        Length of the fade used by :meth:`cancel` and :meth:`stop_all`
        (480 frames = 10 ms at 48 kHz: short, but no click).
    """

    def __init__(
        self,
        state: SharedState | None = None,
        *,
        channels: int = 2,
        max_voices: int = 64,
        max_block: int = 4096,
        fade_frames: int = 480,
        queue_size: int = 1024,
        arena_frames: int = 1 << 22,
    ) -> None:
        if channels not in (1, 2):
            raise ValueError(f"channels must be 1 or 2, got {channels}")
        if state is None:
            state = SharedState(Layout(channels_in=1, channels_out=channels, ring_frames=1,
                                       queue_size=queue_size, arena_frames=arena_frames, timing_size=1))
        self.state = state
        self._c = state.counters
        self._cmd_int = state.cmd_int
        self._cmd_gain = state.cmd_gain
        self._q_size = state.cmd_int.shape[0]
        self.channels = channels
        self.max_voices = max_voices
        self.max_block = max_block
        self.fade_frames = max(1, int(fade_frames))
        # Producer side (control threads of the process that schedules).
        self._producer_lock = threading.Lock()
        self._next_id = 1
        self._arena_used = 0
        self._placed: dict[int, tuple[Sound, int]] = {}  # id(sound) -> (sound, arena offset)
        self._late_read = 0
        # Audio-thread side: the voice table. Slot i is free when _v_data[i] is None.
        self._v_data: list[np.ndarray | None] = [None] * max_voices
        self._v_id = [0] * max_voices
        self._v_start = [0] * max_voices
        self._v_gain = [[np.float32(0.0)] * channels for _ in range(max_voices)]
        self._v_fade = [-1] * max_voices  # frames into the fade-out, -1 = not fading
        self._v_seq = [-1] * max_voices  # the command FIFO index it came from (-1: started on the audio side)
        self._n_active = 0
        self._scratch = np.zeros(max_block, dtype=np.float32)
        self._scaled = np.zeros(max_block, dtype=np.float32)
        self._ramp = np.linspace(1.0, 0.0, self.fade_frames, endpoint=False, dtype=np.float32)

    # ------------------------------------------------------------------ control side

    def play(self, sound: Sound, frame: int, *, gain: float = 1.0, pan: float = 0.0) -> int:
        """Start ``sound`` at stream frame ``frame``; returns the voice id.

        ``gain`` is linear; ``pan`` runs from -1 (left) to 1 (right) with a
        constant-power law. Returns 0 (and counts ``queue_full``) when the
        command FIFO is full.
        """
        if not -1.0 <= pan <= 1.0:
            raise ValueError(f"pan must be within -1..1, got {pan}")
        if gain < 0.0 or not math.isfinite(gain):
            raise ValueError(f"gain must be a finite value >= 0, got {gain}")
        if self.channels == 2:
            angle = (pan + 1.0) * math.pi / 4.0
            gains = (gain * math.cos(angle), gain * math.sin(angle))
        else:
            gains = (gain, 0.0)
        with self._producer_lock:
            offset = self._place(sound)
            vid = self._next_id
            self._next_id += 1
            if not self._push(_PLAY, vid, offset, sound.frames, int(frame), gains):
                return 0
        return vid

    def preload(self, sound: Sound) -> tuple[int, int]:
        """Copy ``sound`` into the arena now, so its first :meth:`play` is quick (feedback sounds).

        Returns its place in the arena (offset, length), which the audio
        side's :meth:`start_voice` takes.
        """
        with self._producer_lock:
            return self._place(sound), sound.frames

    def cancel(self, voice_id: int) -> None:
        """Fade out and free a voice (scheduled or sounding). Unknown ids are ignored."""
        with self._producer_lock:
            self._push(_CANCEL, voice_id, 0, 0, 0, (0.0, 0.0))

    def stop_all(self) -> None:
        """Fade out every voice, and drop every sound not yet started.

        Never dropped: it does not go through the command FIFO (which can be
        full) but through two counters, the FIFO's write index at the request
        (sounds queued before it are dropped; those queued after it play) and
        the number of requests, published after it.
        """
        with self._producer_lock:
            c = self._c
            c[C.STOP_MARK] = c[C.Q_WRITE]
            c[C.STOP_REQ] = int(c[C.STOP_REQ]) + 1  # publish after the mark

    def _place(self, sound: Sound) -> int:
        placed = self._placed.get(id(sound))
        if placed is not None and placed[0] is sound:
            return placed[1]
        arena = self.state.arena
        n = sound.frames
        if self._arena_used + n > arena.shape[0]:
            raise ConfigError(
                f"The sound memory is full ({arena.shape[0] / 48_000:.0f} s of sound at 48 kHz); "
                f"use shorter sounds or fewer of them."
            )
        offset = self._arena_used
        arena[offset : offset + n] = sound.data
        self._arena_used += n
        self._placed[id(sound)] = (sound, offset)
        return offset

    def _push(self, op: int, vid: int, offset: int, length: int, frame: int, gains) -> bool:
        c = self._c
        w = int(c[C.Q_WRITE])
        if w - int(c[C.Q_READ]) >= self._q_size:
            c[C.QUEUE_FULL] += 1
            return False
        i = w % self._q_size
        rec = self._cmd_int[i]
        rec[0], rec[1], rec[2], rec[3], rec[4] = op, vid, offset, length, frame
        self._cmd_gain[i, 0], self._cmd_gain[i, 1] = gains
        c[C.Q_WRITE] = w + 1  # publish after the record is complete
        return True

    @property
    def active_voices(self) -> int:
        """Voices scheduled or sounding, as of the last block."""
        return int(self._c[C.ACTIVE_VOICES])

    late = property(lambda self: int(self._c[C.LATE]), doc="Sounds played late (their frame had passed).")
    late_max_frames = property(lambda self: int(self._c[C.LATE_MAX_FRAMES]))
    dropped = property(lambda self: int(self._c[C.DROPPED]), doc="Sounds that found no free voice.")
    queue_full = property(lambda self: int(self._c[C.QUEUE_FULL]))
    clipped_blocks = property(lambda self: int(self._c[C.CLIPPED_BLOCKS]))
    voices_started = property(lambda self: int(self._c[C.VOICES_STARTED]))
    first_sound_frame = property(lambda self: int(self._c[C.FIRST_SOUND_FRAME]))

    def pop_late(self) -> list[tuple[int, int, int]]:
        """Late sounds since the last call: (voice_id, scheduled_frame, played_frame)."""
        log = self.state.late_log
        written = int(self._c[C.LATE_WRITE])
        start = max(self._late_read, written - log.shape[0])
        out = [tuple(int(v) for v in log[k % log.shape[0]]) for k in range(start, written)]
        self._late_read = written
        return out

    # ------------------------------------------------------------------ audio thread

    def render(self, out: np.ndarray, start_frame: int) -> None:
        """Mix every voice into ``out`` (frames × channels, float32) for frames from ``start_frame``.

        Audio thread only. ``out`` is overwritten.
        """
        out.fill(0.0)
        self._drain(start_frame)
        if self._n_active == 0:
            return
        n = out.shape[0]
        end = start_frame + n
        scratch = self._scratch
        ramp = self._ramp
        fade_frames = self.fade_frames
        for slot in range(self.max_voices):
            data = self._v_data[slot]
            if data is None:
                continue
            start = self._v_start[slot]
            if start >= end:
                continue  # not yet
            src0 = start_frame - start
            dst0 = 0
            if src0 < 0:
                dst0 = -src0
                src0 = 0
            count = min(n - dst0, data.shape[0] - src0)
            if count <= 0:
                self._free(slot)
                continue
            finished = src0 + count >= data.shape[0]
            if self._c[C.FIRST_SOUND_FRAME] < 0:
                self._c[C.FIRST_SOUND_FRAME] = start_frame + dst0
            fade = self._v_fade[slot]
            if fade >= 0:
                mix = scratch[:count]
                k = min(count, fade_frames - fade)
                np.multiply(data[src0 : src0 + k], ramp[fade : fade + k], out=mix[:k])
                if k < count:
                    mix[k:].fill(0.0)
                self._v_fade[slot] = fade + k
                finished = finished or fade + k >= fade_frames
            else:
                mix = data[src0 : src0 + count]  # a view: no copy needed
            gains = self._v_gain[slot]
            scaled = self._scaled[:count]
            for ch in range(self.channels):
                col = out[dst0 : dst0 + count, ch]
                np.multiply(mix, gains[ch], out=scaled)
                np.add(col, scaled, out=col)
            if finished:
                self._free(slot)
        # argmax/argmin allocate no reduction buffer (max/min and np.abs would).
        flat = out.reshape(-1)
        if flat[flat.argmax()] > 1.0 or flat[flat.argmin()] < -1.0:
            np.clip(out, -1.0, 1.0, out=out)
            self._c[C.CLIPPED_BLOCKS] += 1

    def skip(self, from_frame: int, to_frame: int) -> None:
        """The device ran on from ``from_frame`` to ``to_frame`` without a block (a dropout). Audio thread only.

        A voice that was to start in between never went out: it starts at ``to_frame`` instead, counted and
        logged as late like any sound whose frame had passed (without this it would be cut by the frames
        it missed, or lost whole if it was shorter). A voice already sounding keeps its place in time.
        """
        self._drain(from_frame)  # sounds queued for the skipped frames are voices now
        for slot in range(self.max_voices):
            if self._v_data[slot] is not None and from_frame <= self._v_start[slot] < to_frame:
                self._late(self._v_id[slot], self._v_start[slot], to_frame)
                self._v_start[slot] = to_frame

    def _late(self, vid: int, frame: int, played_frame: int) -> None:
        c = self._c
        c[C.LATE] += 1
        if played_frame - frame > c[C.LATE_MAX_FRAMES]:
            c[C.LATE_MAX_FRAMES] = played_frame - frame
        log = self.state.late_log
        k = int(c[C.LATE_WRITE])
        row = log[k % log.shape[0]]
        row[0], row[1], row[2] = vid, frame, played_frame
        c[C.LATE_WRITE] = k + 1

    def _free(self, slot: int) -> None:
        self._v_data[slot] = None
        self._v_fade[slot] = -1
        self._n_active -= 1
        self._c[C.ACTIVE_VOICES] = self._n_active

    def _drain(self, start_frame: int) -> None:
        c = self._c
        request = int(c[C.STOP_REQ])
        r = int(c[C.Q_READ])
        if request != c[C.STOP_DONE]:  # stop all: fade every voice, skip the sounds queued before the request
            mark = int(c[C.STOP_MARK])
            for slot in range(self.max_voices):
                # A sound queued after the request (read in the block the request was made) is spared.
                if self._v_data[slot] is not None and self._v_seq[slot] < mark:
                    self._fade_or_free(slot, start_frame)
            if mark > r:
                r = mark
                c[C.Q_READ] = r
            c[C.STOP_DONE] = request
        w = int(c[C.Q_WRITE])
        while r < w:
            i = r % self._q_size
            op, vid, offset, length, frame = self._cmd_int[i].tolist()
            g0 = self._cmd_gain[i, 0]
            g1 = self._cmd_gain[i, 1]
            r += 1
            c[C.Q_READ] = r  # the record is copied out: its slot may be reused
            if op == _PLAY:
                self.start_voice(vid, offset, length, frame, g0, g1, start_frame, seq=r - 1)
            elif op == _CANCEL:
                for slot in range(self.max_voices):
                    if self._v_data[slot] is not None and self._v_id[slot] == vid:
                        self._fade_or_free(slot, start_frame)
        c[C.ACTIVE_VOICES] = self._n_active

    def start_voice(self, vid: int, offset: int, length: int, frame: int, g0, g1, start_frame: int, *,
                    seq: int = -1) -> bool:
        """Start a voice on the audio side (the FIFO's play records, and in-process feedback sounds).

        Audio thread only, before :meth:`render` of the block at ``start_frame``.
        ``g0``/``g1`` are float32 channel gains. False when no voice was free.
        """
        c = self._c
        slot = self._free_slot()
        if slot < 0:
            c[C.DROPPED] += 1
            return False
        if frame < start_frame:
            # Its frame has already gone out: play it now, and say so.
            self._late(vid, frame, start_frame)
            frame = start_frame
        self._v_data[slot] = self.state.arena[offset : offset + length]
        self._v_id[slot] = vid
        self._v_seq[slot] = seq
        self._v_start[slot] = frame
        g = self._v_gain[slot]
        g[0] = g0  # float32 scalars: no conversion per block
        if self.channels == 2:
            g[1] = g1
        self._v_fade[slot] = -1
        self._n_active += 1
        c[C.VOICES_STARTED] += 1
        c[C.ACTIVE_VOICES] = self._n_active
        return True

    def _fade_or_free(self, slot: int, start_frame: int) -> None:
        if self._v_start[slot] >= start_frame:
            self._free(slot)  # not sounding yet: just drop it
        elif self._v_fade[slot] < 0:
            self._v_fade[slot] = 0

    def _free_slot(self) -> int:
        for slot in range(self.max_voices):
            if self._v_data[slot] is None:
                return slot
        return -1
