"""The scheduler/mixer: plays sounds at exact future frames.

Control threads call :meth:`Mixer.play` (and :meth:`cancel`, :meth:`stop_all`)
with the stream frame a sound must start at; the audio thread calls
:meth:`Mixer.render` once per block and mixes every voice in at its exact
sample offset. Between them is a preallocated command FIFO (JUCE's
AbstractFifo pattern): producers serialise among themselves with a lock that
the audio thread never takes; the audio thread only reads slots and advances
its index. The voice table is preallocated too, so a block in steady state
allocates no arrays, takes no lock and does no I/O.

What goes wrong is counted, never silent: a sound whose start frame had
already been played when the audio thread saw it (``late``), a sound that
found no free voice (``dropped``), a full command FIFO (``queue_full``), and
blocks whose mix had to be clipped (``clipped_blocks``).
"""

from __future__ import annotations

import itertools
import math
import threading

import numpy as np

from engine.audio.sound import Sound

__all__ = ["Mixer"]

_PLAY, _CANCEL, _STOP_ALL = 0, 1, 2


class Mixer:
    """Voices started at exact frames, mixed block by block.

    Parameters
    ----------
    channels : int
        Output channels (1 or 2; pan applies to 2).
    max_voices : int
        Voices that can sound at once.
    max_block : int
        Largest block :meth:`render` will be asked for.
    queue_size : int
        Commands that can wait between two blocks.
    fade_frames : int
        Length of the fade used by :meth:`cancel` and :meth:`stop_all`
        (480 frames = 10 ms at 48 kHz: short, but no click).
    """

    def __init__(
        self,
        *,
        channels: int = 2,
        max_voices: int = 64,
        max_block: int = 4096,
        queue_size: int = 1024,
        fade_frames: int = 480,
        late_log_size: int = 256,
    ) -> None:
        if channels not in (1, 2):
            raise ValueError(f"channels must be 1 or 2, got {channels}")
        self.channels = channels
        self.max_voices = max_voices
        self.max_block = max_block
        self.fade_frames = max(1, int(fade_frames))
        # Voice table (audio thread only). Slot i is free when _v_data[i] is None.
        self._v_data: list[np.ndarray | None] = [None] * max_voices
        self._v_id = [0] * max_voices
        self._v_start = [0] * max_voices
        self._v_gain = [[0.0] * channels for _ in range(max_voices)]
        self._v_fade = [-1] * max_voices  # frames into the fade-out, -1 = not fading
        self._n_active = 0
        self._scratch = np.zeros(max_block, dtype=np.float32)
        self._scaled = np.zeros(max_block, dtype=np.float32)
        self._ramp = np.linspace(1.0, 0.0, self.fade_frames, endpoint=False, dtype=np.float32)
        # Command FIFO: slots written by producers, read by the audio thread.
        self._q: list[tuple | None] = [None] * queue_size
        self._q_size = queue_size
        self._q_write = 0  # next slot producers fill (advanced after the slot is written)
        self._q_read = 0  # next slot the audio thread reads
        self._producer_lock = threading.Lock()
        self._ids = itertools.count(1)
        # Late log: (voice_id, scheduled_frame, played_frame), a ring the control side drains.
        self._late_log: list[tuple[int, int, int] | None] = [None] * late_log_size
        self._late_write = 0
        self._late_read = 0
        # Counters (written by the audio thread, read by anyone).
        self.late = 0
        self.late_max_frames = 0
        self.dropped = 0
        self.queue_full = 0
        self.clipped_blocks = 0
        self.voices_started = 0
        self.first_sound_frame = -1

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
            gains = (gain,)
        with self._producer_lock:
            vid = next(self._ids)
            if not self._push((_PLAY, vid, sound.data, int(frame), gains)):
                return 0
        return vid

    def cancel(self, voice_id: int) -> None:
        """Fade out and free a voice (scheduled or sounding). Unknown ids are ignored."""
        with self._producer_lock:
            self._push((_CANCEL, voice_id))

    def stop_all(self) -> None:
        """Fade out every voice, and drop every sound not yet started."""
        with self._producer_lock:
            self._push((_STOP_ALL,))

    @property
    def active_voices(self) -> int:
        """Voices scheduled or sounding, as of the last block."""
        return self._n_active

    @property
    def pending_commands(self) -> int:
        return self._q_write - self._q_read

    def pop_late(self) -> list[tuple[int, int, int]]:
        """Late sounds since the last call: (voice_id, scheduled_frame, played_frame)."""
        out = []
        while self._late_read < self._late_write:
            item = self._late_log[self._late_read % len(self._late_log)]
            self._late_read += 1
            if item is not None:
                out.append(item)
        return out

    def _push(self, cmd: tuple) -> bool:
        if self._q_write - self._q_read >= self._q_size:
            self.queue_full += 1
            return False
        self._q[self._q_write % self._q_size] = cmd
        self._q_write += 1  # publish after the slot holds the command
        return True

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
            finished = src0 + count >= data.shape[0]
            if count <= 0:
                self._free(slot)
                continue
            if self.first_sound_frame < 0:
                self.first_sound_frame = start_frame + dst0
            mix = scratch[:count]
            fade = self._v_fade[slot]
            if fade >= 0:
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
            self.clipped_blocks += 1

    def _free(self, slot: int) -> None:
        self._v_data[slot] = None
        self._v_fade[slot] = -1
        self._n_active -= 1

    def _drain(self, start_frame: int) -> None:
        while self._q_read < self._q_write:
            i = self._q_read % self._q_size
            cmd = self._q[i]
            self._q[i] = None
            self._q_read += 1
            op = cmd[0]
            if op == _PLAY:
                _, vid, data, frame, gains = cmd
                slot = self._free_slot()
                if slot < 0:
                    self.dropped += 1
                    continue
                if frame < start_frame:
                    # Its frame has already gone out: play it now, and say so.
                    self.late += 1
                    self.late_max_frames = max(self.late_max_frames, start_frame - frame)
                    self._late_log[self._late_write % len(self._late_log)] = (vid, frame, start_frame)
                    self._late_write += 1
                    frame = start_frame
                self._v_data[slot] = data
                self._v_id[slot] = vid
                self._v_start[slot] = frame
                g = self._v_gain[slot]
                for ch in range(self.channels):
                    g[ch] = np.float32(gains[ch])  # a float32 scalar: no conversion per block
                self._v_fade[slot] = -1
                self._n_active += 1
                self.voices_started += 1
            elif op == _CANCEL:
                vid = cmd[1]
                for slot in range(self.max_voices):
                    if self._v_data[slot] is not None and self._v_id[slot] == vid:
                        self._fade_or_free(slot, start_frame)
            else:  # _STOP_ALL
                for slot in range(self.max_voices):
                    if self._v_data[slot] is not None:
                        self._fade_or_free(slot, start_frame)

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
