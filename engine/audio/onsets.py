"""Causal onset detection, block by block, with each onset refined to the sample.

Issue 4's detector, first part: percussive onsets on one channel. (Not yet:
spectral features and voiced responses, suppression of the engine's own
sounds, ``tandem onsets``, live use; see the issue note.)

Method, per sample and therefore independent of how the signal is cut into
blocks (a test holds it to that):

1. A 2nd-order high-pass (150 Hz) takes out rumble, hum and DC.
2. Two envelopes of the high-passed power: a fast one (0.5 ms) that follows
   an attack, and a slow one (30 ms) that follows the local level; a noise
   floor follows the slow envelope down at once and up only slowly (6 dB/s),
   so it tracks the room, not the music.
3. An onset is detected where the fast envelope exceeds both the noise floor
   by ``floor_db`` and the slow envelope (as it was ``rise_ms`` before) by
   ``rise_db``, at least ``min_ioi_ms`` after the previous onset.
4. Refinement: from the detection, look back (at most ``back_ms``) for where
   the rise began: the first sample of the run of samples above a threshold
   (a fraction of the peak since then, and several times the noise floor's
   amplitude) that leads up to the detection. That sample is the onset.

Written by hand: librosa's onset detection looks ahead ~100 ms and works on
hops, and aubio is GPL (benchmark-only, never a dependency).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, lfilter, sosfilt, sosfilt_zi

__all__ = ["Onset", "OnsetDetector"]


@dataclass(frozen=True)
class Onset:
    """One onset: ``sample`` is its first sample, ``detected_at`` the sample at which it was reported
    (detected, and its level window heard).

    ``kind`` is ``"percussive"`` or ``"voiced"`` (a sung or spoken response:
    reported once its voicing is confirmed, with ``duration`` in samples once
    it has ended, else ``None``). ``centroid_hz`` and ``noisiness`` (spectral
    flatness, 0 = tonal, 1 = noise) describe the onset's first milliseconds.
    """

    sample: int
    detected_at: int
    level_db: float  # peak level (dBFS) of the onset's first ``level_ms``
    kind: str = "percussive"
    duration: int | None = None
    centroid_hz: float | None = None
    noisiness: float | None = None


class OnsetDetector:
    """Causal percussive onset detector (see the module docstring).

    Parameters
    ----------
    sample_rate : int
    min_ioi_ms : float
        Shortest time between two onsets (children with tremor double-hit).
    floor_db : float
        How far above the noise floor an attack must rise.
    rise_db : float
        How far above the recent level an attack must rise.
    level_ms : float
        The onset's level is the peak of its first ``level_ms``; it is reported
        once that much of it has been heard (``detected_at``).
    """

    def __init__(self, sample_rate: int, *, min_ioi_ms: float = 50.0, floor_db: float = 15.0,
                 rise_db: float = 9.0, rise_ms: float = 5.0, back_ms: float = 8.0,
                 highpass_hz: float = 150.0, level_ms: float = 3.0) -> None:
        self.rate = int(sample_rate)
        self.min_ioi = int(round(min_ioi_ms * self.rate / 1000))
        self.floor_ratio = 10 ** (floor_db / 10)
        self.rise_ratio = 10 ** (rise_db / 10)
        self.rise_lag = max(1, int(round(rise_ms * self.rate / 1000)))
        self.back = max(self.rise_lag, int(round(back_ms * self.rate / 1000)))
        self._sos = butter(2, highpass_hz, btype="highpass", fs=self.rate, output="sos")
        self._sos_zi = sosfilt_zi(self._sos) * 0.0
        a_fast = math.exp(-1.0 / (0.0005 * self.rate))
        a_slow = math.exp(-1.0 / (0.030 * self.rate))
        self._fast = ([1 - a_fast], [1, -a_fast])
        self._slow = ([1 - a_slow], [1, -a_slow])
        self._fast_zi = np.zeros(1)
        self._slow_zi = np.zeros(1)
        self._floor_up = 10 ** (6.0 / 10 / self.rate)  # +6 dB per second, per sample
        self._floor = math.inf  # power; set once the slow envelope has settled
        self._warmup = int(0.09 * self.rate)
        # History of the last `back + rise_lag` samples (high-passed signal, slow envelope).
        self._hist_n = self.back + self.rise_lag
        self._hist_x = np.zeros(self._hist_n)
        self._hist_slow = np.zeros(self._hist_n)
        self._hist_floor = np.full(self._hist_n, 1e-10)
        self._pos = 0  # samples processed so far
        self.level_n = max(1, int(round(level_ms * self.rate / 1000)))
        self._pending: list[tuple[int, int]] = []  # (onset sample, detection sample) awaiting their level
        self._last = -(10 ** 12)  # sample of the last onset

    def flush(self) -> list[Onset]:
        """End of input: the onsets still waiting for their level window (or their end), in order."""
        return self.process(np.zeros(self.level_n))

    def process(self, block: np.ndarray, played: np.ndarray | None = None) -> list[Onset]:
        """Feed the next block (mono); returns the onsets detected in it, in order.

        ``played`` is what the engine's speakers played over the same samples
        (same length, aligned so that ``played[i]`` left the speaker when
        ``block[i]`` was captured); its leakage into the microphone is not
        reported as onsets. (Accepted; suppression is being built.)
        """
        x = np.asarray(block, dtype=np.float64).reshape(-1)
        n = x.shape[0]
        if n == 0:
            return []
        hp, self._sos_zi = sosfilt(self._sos, x, zi=self._sos_zi)
        power = hp * hp
        fast, self._fast_zi = lfilter(*self._fast, power, zi=self._fast_zi)
        slow, self._slow_zi = lfilter(*self._slow, power, zi=self._slow_zi)
        # Noise floor: down at once, up slowly (a running minimum that forgets): sample by sample.
        # For the first 90 ms (three time constants) the slow envelope is still rising from
        # zero: the floor stays unknown (infinite), so nothing is detected yet.
        floor = np.empty(n)
        f = self._floor
        up = self._floor_up
        warm = self._warmup - self._pos
        for i, s in enumerate(slow):
            if i >= warm:
                f = s if s < f else f * up
            floor[i] = f
        self._floor = f
        # With history in front: index h + i is sample pos + i.
        h = self._hist_n
        xs = np.concatenate([self._hist_x, hp])
        slows = np.concatenate([self._hist_slow, slow])
        floors = np.concatenate([self._hist_floor, floor])
        lagged = slows[h - self.rise_lag: h - self.rise_lag + n]
        cand = np.flatnonzero((fast > floor * self.floor_ratio) & (fast > lagged * self.rise_ratio))
        for i in cand:
            at = self._pos + int(i)
            if at - self._last < self.min_ioi:
                continue
            onset = self._refine(xs, floors, h + int(i))
            self._pending.append((self._pos + onset - h, at))
            self._last = at
        # An onset is reported once its level window has been heard (at most level_ms after it).
        end = self._pos + n
        onsets: list[Onset] = []
        while self._pending and self._pending[0][0] + self.level_n <= end:
            start, at = self._pending.pop(0)
            k = start - self._pos + h
            peak = float(np.max(np.abs(xs[k: k + self.level_n])))
            onsets.append(Onset(start, max(at, start + self.level_n), 20 * math.log10(max(peak, 1e-10))))
        # Keep the history.
        self._hist_x = xs[-h:].copy()
        self._hist_slow = slows[-h:].copy()
        self._hist_floor = floors[-h:].copy()
        self._pos = end
        return onsets

    def _refine(self, xs: np.ndarray, floors: np.ndarray, det: int) -> int:
        """Index in ``xs`` of the first sample of the rise that led to the detection at ``det``."""
        lo = max(0, det - self.back)
        seg = np.abs(xs[lo: det + 1])
        noise_amp = math.sqrt(floors[lo])
        thresh = max(0.1 * float(seg.max()), 4.0 * noise_amp)
        # The rise starts after the last quiet stretch (0.5 ms below the threshold: a zero
        # crossing inside an oscillation is not quiet) before the detection point.
        min_quiet = max(2, self.rate // 2000)
        run = 0
        for k in range(seg.size - 1, -1, -1):
            if seg[k] < thresh:
                run += 1
                if run >= min_quiet:
                    return lo + k + run
            else:
                run = 0
        return lo  # active all the way back: the window's start is the best we know
