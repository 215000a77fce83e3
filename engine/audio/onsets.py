"""Causal onset detection, block by block, with each onset refined to the sample.

The microphone's detector (issue 4): percussive onsets, voiced responses, and
none of the engine's own sounds. It runs the same live (``MicInput``) and over
a file (``tandem onsets``).

Method, per sample and therefore independent of how the signal is cut into
blocks (tests hold it to that):

0. With what the speakers played (``process(block, played=...)``), the
   leakage of the engine's own sounds is estimated and subtracted first
   (:mod:`engine.audio.leakage`); everything below looks at what is left.
1. Two bands: above 150 Hz (a 2nd-order high-pass takes out rumble, hum and
   DC), and the transient band above 3 kHz, where a new hit stands out of a
   low or long ringing (a dunun, a crash cymbal struck again) and of room
   noise, which lives low.
2. Per band, envelopes of the power: a fast one (0.5 ms) that follows an
   attack, and a slow one (30 ms) that follows the local level; a noise floor
   follows the slow envelope down at once and up only slowly (6 dB/s), so it
   tracks the room, not the music.
3. An onset is detected where, in either band, the fast envelope exceeds
   both the band's noise floor by ``floor_db`` and its slow envelope (as it
   was ``rise_ms`` before) by ``rise_db`` (and, with ``played``, the guard
   above what may remain of the leakage), at least ``min_ioi_ms`` after the
   previous onset.
4. Refinement, in the band that saw it: from the detection, look back (at
   most ``back_ms``) for where the rise began: the first sample of the run of
   samples above a threshold (a fraction of the peak since then, and several
   times the noise floor's amplitude) that leads up to the detection.
5. The onset is reported once its first ``feature_ms`` have been heard, with
   its peak level and spectral features (:func:`onset_features`).
6. A voice tracker (:class:`VoiceTracker`) on the same signal reports sung or
   spoken responses as ``voiced`` onsets, once confirmed (~0.1 s) and again
   with their duration when they end.

Written by hand: librosa's onset detection looks ahead ~100 ms and works on
hops, and aubio is GPL (benchmark-only, never a dependency).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy.signal import butter, lfilter

from engine.audio.features import VoiceEvent, VoiceTracker, onset_features
from engine.audio.leakage import LeakCanceller

__all__ = ["Onset", "OnsetDetector", "merge_voiced"]

SLOW_MS = 30.0  # the slow envelope's time constant: the local level, and what the floor follows
_FLOOR_MIN = 1e-12  # the noise floor's lowest value (power, -120 dBFS)
LEAK_DOUBT_FRAMES = 10  # the leakage guard starts this many frames' worth higher, then settles
REARM_MS = 10.0  # the criteria must have failed this long before they can start a new onset
VOICE_ATTACK_S = 0.025  # a percussive onset this close to a voice's start is that voice's attack
VOICE_RING_S = 0.25  # a quieter voice starting this soon after a hit is the hit's ringing
VOICE_RING_DECAY_DB_S = -15.0  # a voice starting at a hit and decaying faster is the hit ringing


@dataclass(frozen=True)
class Onset:
    """One onset: ``sample`` is its first sample, ``detected_at`` the sample at which it was reported
    (detected, and its level window heard).

    ``kind`` is ``"percussive"`` or ``"voiced"`` (a sung or spoken response:
    reported once its voicing is confirmed, with ``duration`` in samples once
    it has ended, else ``None``). ``centroid_hz``, ``noisiness`` (spectral
    flatness, 0 = tonal, 1 = noise) and ``brightness`` (share of the energy
    above 1.5 kHz) describe the onset's first milliseconds (see
    :func:`~engine.audio.features.onset_features`).
    """

    sample: int
    detected_at: int
    level_db: float  # peak level (dBFS) of the onset's first ``level_ms``
    kind: str = "percussive"
    duration: int | None = None
    centroid_hz: float | None = None
    noisiness: float | None = None
    brightness: float | None = None


class OnsetDetector:
    """Causal onset detector for the microphone (see the module docstring).

    Parameters
    ----------
    sample_rate : int
    min_ioi_ms : float
        Shortest time between two onsets (children with tremor double-hit).
    floor_db : float
        How far above the noise floor an attack must rise.
    rise_db : float
        How far above the recent level an attack must rise.
    rise_ms : float
        How long before the attack the recent level is taken.
    back_ms : float
        How far back from the detection the refinement looks for the rise.
    highpass_hz, transient_hz : float
        Lower edges of the full band and of the transient band (None: no
        transient band).
    level_ms : float
        The onset's level is the peak of its first ``level_ms``.
    feature_ms : float
        The onset is reported once this much of it has been heard
        (``detected_at``), with its spectral features over it.
    leak_guard_db, leak_release_ms : float
        With ``played``: how far below the leakage an onset may be and still
        count (what cancellation leaves is below this), and how long the
        guard holds after the speakers' sound (the room's tail).
    voice : bool
        Report voiced responses (a :class:`VoiceTracker`, with
        ``voice_options``).
    rise_ref_ms : float
        Time constant of the recent level the rise is measured against.
    """

    def __init__(self, sample_rate: int, *, min_ioi_ms: float = 50.0, floor_db: float = 10.0,
                 rise_db: float = 9.0, rise_ms: float = 5.0, back_ms: float = 8.0,
                 highpass_hz: float = 150.0, level_ms: float = 3.0,
                 leak_guard_db: float = -10.0, leak_release_ms: float = 50.0, feature_ms: float = 5.0,
                 voice: bool = True, voice_options: dict | None = None, rise_ref_ms: float = SLOW_MS,
                 transient_hz: float | None = 3000.0) -> None:
        self.rate = int(sample_rate)
        self.min_ioi = int(round(min_ioi_ms * self.rate / 1000))
        self.floor_ratio = 10 ** (floor_db / 10)
        self.rise_ratio = 10 ** (rise_db / 10)
        self.rise_lag = max(1, int(round(rise_ms * self.rate / 1000)))
        self.back = max(self.rise_lag, int(round(back_ms * self.rate / 1000)))
        self.level_n = max(1, int(round(level_ms * self.rate / 1000)))
        self.feature_n = max(self.level_n, int(round(feature_ms * self.rate / 1000)))
        # History kept in front of each block: the rise's lag, the look back, the feature window.
        self._hist_n = max(self.back + self.rise_lag, self.feature_n + 1)
        # The bands an attack is looked for in: everything above the rumble, and (optionally)
        # the transient band, where a new hit stands out of a low or long ringing.
        filters = [butter(2, highpass_hz, btype="highpass", fs=self.rate)]
        if transient_hz:
            filters.append(butter(2, transient_hz, btype="highpass", fs=self.rate))
        self._bands = _Bands(self, filters, rise_ref_ms)
        self._pos = 0  # samples processed so far
        # Suppression of the engine's own sounds: built at the first block that comes with
        # what was played (see engine.audio.leakage and ``process``).
        self.leak_guard_ratio = 10 ** (leak_guard_db / 10)
        self._release = math.exp(-1.0 / (leak_release_ms / 1000 * self.rate))
        self._guard_keep = 64  # blocks of guard history kept (longer than a voice's confirmation)
        self._voice_keep = int(0.5 * self.rate)  # longer than a voice takes to be confirmed
        self._leak: LeakCanceller | None = None
        self._pending: list[tuple[int, int]] = []  # (onset sample, detection sample) awaiting their level
        # Voiced responses, on the same (residual) signal; the guard's recent history decides
        # whether a voice could be the engine's own music.
        self._voice = VoiceTracker(self.rate, **(voice_options or {})) if voice else None
        self._voiced: dict[int, int] = {}  # voice start sample → reported sample, for segments not ended
        self._recent: list[Onset] = []  # the percussive onsets of the last half second
        self._energy: dict[int, float] = {}  # their mean power over the feature window (dB)
        self._attack_n = int(VOICE_ATTACK_S * self.rate)
        self._ring_n = int(VOICE_RING_S * self.rate)
        self._guard_hist: list[tuple[int, float]] = []  # (block end sample, mean guard power)
        self._last = -(10 ** 12)  # sample of the last onset
        self._last_true = -(10 ** 12)  # the last sample at which the criteria held
        self._rearm = int(REARM_MS * self.rate / 1000)

    def flush(self) -> list[Onset]:
        """End of input: the onsets still waiting for their level window (or their end), in order.

        A voiced segment still open is ended here. Feed nothing after this.
        """
        onsets = self.process(np.zeros(self.feature_n))
        if self._voice is not None:
            onsets += self._voice_onsets(self._voice.flush())
        return onsets

    def process(self, block: np.ndarray, played: np.ndarray | None = None) -> list[Onset]:
        """Feed the next block (mono); returns the onsets detected in it, in order.

        ``played`` is what the engine's speakers played over the same samples
        (same length, aligned so that ``played[i]`` left the speaker when
        ``block[i]`` was captured); its leakage into the microphone is not
        reported as onsets, while a tap that lands on a cue still is: the
        leakage is estimated and subtracted (:class:`LeakCanceller`), and an
        onset must also stand out above what may remain of it (``guard``).
        """
        x = np.asarray(block, dtype=np.float64).reshape(-1)
        n = x.shape[0]
        if n == 0:
            return []
        guard = None
        if played is not None and self._leak is None:
            self._leak = LeakCanceller(self.rate)
            self._pred_zi = [np.zeros(2) for _ in self._bands.filters]
            self._guard_env = np.zeros(len(self._bands.filters))
            self._hist_guard = np.zeros((len(self._bands.filters), self._hist_n))
            self._played_env = 0.0
        if self._leak is not None:
            guard = self._leakage(x, played)
            x = self._residual
        _, fasts, floors_now, lagged = self._bands.run(x)
        hits = (fasts > floors_now * self.floor_ratio) & (fasts > lagged * self.rise_ratio)
        if guard is not None:  # in each band, an attack must stand out above what the leakage may leave
            hits &= fasts > guard
        above = hits[0]
        by_band = None  # where only the transient band saw the attack: refine there
        if hits.shape[0] > 1:
            by_band = hits[1] & ~above
            above = above | by_band
        # With history in front: index h + i is sample pos + i.
        h = self._hist_n
        xs = self._bands.ys[0]
        guards = None
        if guard is not None:  # with history, for the refinement
            guards = np.concatenate([self._hist_guard, guard], axis=1)
            self._hist_guard = guards[:, -h:].copy()
        # Only where the criteria start to hold after REARM_MS without: a swell (a sung note's
        # slow attack) holds them, between the dips of a low note's power ripple, for longer than
        # the minimum interval, and is one onset, not one per interval.
        trues = np.flatnonzero(above)
        if trues.size:
            gaps = np.diff(trues + self._pos, prepend=self._last_true) - 1
            self._last_true = self._pos + int(trues[-1])
            cand = trues[gaps >= self._rearm]
        else:
            cand = trues
        for i in cand:
            at = self._pos + int(i)
            if at - self._last < self.min_ioi:
                continue
            b = 1 if by_band is not None and by_band[i] else 0
            onset = self._refine(self._bands.ys[b], self._bands.floors[b], h + int(i),
                                 None if guards is None else guards[b])
            self._pending.append((self._pos + onset - h, at))
            self._last = at
        # An onset is reported once its first feature_ms have been heard (level and features).
        end = self._pos + n
        onsets: list[Onset] = []
        while self._pending and self._pending[0][0] + self.feature_n <= end:
            start, at = self._pending.pop(0)
            k = start - self._pos + h
            peak = float(np.max(np.abs(xs[k: k + self.level_n])))
            win = xs[k: k + self.feature_n]
            feats = onset_features(win, self.rate)
            self._energy[start] = 10 * math.log10(max(float(np.mean(win * win)), 1e-20))
            onsets.append(Onset(start, max(at, start + self.feature_n), 20 * math.log10(max(peak, 1e-10)),
                                centroid_hz=_finite(feats["centroid_hz"]), noisiness=_finite(feats["noisiness"]),
                                brightness=_finite(feats["brightness"])))
        if self._voice is not None:
            self._recent = [o for o in self._recent + onsets if o.sample > end - self._voice_keep]
            self._energy = {o.sample: self._energy[o.sample] for o in self._recent if o.sample in self._energy}
            if guard is not None:
                self._guard_hist.append((end, float(np.mean(guard[0]))))
                del self._guard_hist[: -self._guard_keep]
            voiced = self._voice_onsets(self._voice.process(x))
            if voiced:
                onsets = sorted(onsets + voiced, key=lambda o: o.detected_at)
        self._pos = end
        return onsets

    def _voice_onsets(self, events: list[VoiceEvent]) -> list[Onset]:
        """Voice starts and ends as ``voiced`` onsets: a start without ``duration``, then the
        same onset again with it when the segment ends.

        A voice that began with a percussive attack (a percussive onset within
        ``VOICE_ATTACK_S`` of its start: a plosive, a struck syllable) is reported at that
        onset's sample, so a consumer sees one onset become voiced rather than two
        (:func:`merge_voiced`). A voice no louder than what the speakers may have left in
        the microphone (the guard, over its confirmation) is taken for the engine's own
        music and not reported, nor its end.
        """
        out = []
        for ev in events:
            if ev.kind == "start":
                if self._guard_hist:
                    recent = [g for e, g in self._guard_hist if e > ev.start_sample]
                    if recent and 10 ** (ev.level_db / 10) <= max(recent) / self.leak_guard_ratio:
                        continue
                attack = [o for o in self._recent if abs(o.sample - ev.start_sample) <= self._attack_n]
                first = attack[0] if attack else None
                if self._ringing(ev, first):
                    continue
                sample = ev.start_sample if first is None else first.sample
                self._voiced[ev.start_sample] = sample
                out.append(Onset(sample, ev.detected_at, ev.level_db if first is None else first.level_db,
                                 kind="voiced", centroid_hz=None if first is None else first.centroid_hz,
                                 noisiness=None if first is None else first.noisiness,
                                 brightness=None if first is None else first.brightness))
            elif (sample := self._voiced.pop(ev.start_sample, None)) is not None:
                out.append(Onset(sample, ev.detected_at, ev.level_db, kind="voiced",
                                 duration=max(0, ev.duration + ev.start_sample - sample)))
        return out

    def _ringing(self, ev: VoiceEvent, attack: Onset | None) -> bool:
        """Whether a voice is the ringing of a pitched hit (a tom, a dunun, a bar).

        A voice that starts at a percussive onset (``attack``) is ringing if its level
        falls as a struck drum's does (faster than ``VOICE_RING_DECAY_DB_S`` while it was
        being confirmed): a sung or spoken vowel holds or swells after its attack. A voice
        that starts within ``VOICE_RING_S`` after a hit is ringing if it is no louder
        than that hit's first milliseconds. (A voice that follows a hit and is quieter
        than the hit is then not reported either: the price of the rule.)
        """
        if attack is not None:
            return ev.slope_db_s < VOICE_RING_DECAY_DB_S
        return any(ev.level_db <= self._energy.get(o.sample, -200.0)
                   for o in self._recent if 0 < ev.start_sample - o.sample <= self._ring_n)

    def _leakage(self, x: np.ndarray, played: np.ndarray | None) -> np.ndarray:
        """Cancel the block's leakage (the residual goes to ``self._residual``); returns the guard:
        the power an onset must exceed, per sample.

        Once the canceller is trained, the guard is ``leak_guard_db`` below an envelope of
        the predicted leakage (high-passed power, instant attack, ``leak_release_ms``
        release): what remains after cancellation (the estimate's error, the room's tail
        beyond it) stays under it, while a tap at the cue's own level stands well above.
        Before that (the first fraction of a second of sound from the speakers) nothing is
        reported while the speakers sound: the leakage's level is not known yet. One row
        per band: the played signal goes through the same band filters as the microphone.
        """
        n = x.shape[0]
        p = np.zeros(n) if played is None else np.asarray(played, dtype=np.float64).reshape(-1)
        if p.shape[0] != n:
            raise ValueError(f"played has {p.shape[0]} samples for a block of {n}")
        self._residual, _ = self._leak.process(x, p)
        if not self._leak.trained:
            # Untrained: block while the speakers sound (their power, held for the release time).
            env = _hold(p * p, self._played_env, self._release)
            self._played_env = float(env[-1])
            return np.broadcast_to(np.where(env > 1e-12, np.inf, 0.0), (len(self._bands.filters), n))
        # What the speakers played, in each band (as the microphone's bands are made).
        php = np.empty((len(self._bands.filters), n))
        php[0], self._pred_zi[0] = lfilter(*self._bands.filters[0], p, zi=self._pred_zi[0])
        for j in range(1, php.shape[0]):
            php[j], self._pred_zi[j] = lfilter(*self._bands.filters[j], php[0], zi=self._pred_zi[j])
        env = _hold(php * php, self._guard_env, self._release)
        self._guard_env = env[:, -1].copy()
        # The estimate's error shrinks as it hears more: early on, ask more of an onset.
        doubt = 1.0 + LEAK_DOUBT_FRAMES / self._leak.frames_used
        return env * (self._leak.gain * self.leak_guard_ratio * doubt)

    def _refine(self, xs: np.ndarray, floors: np.ndarray, det: int, guards: np.ndarray | None = None) -> int:
        """Index in ``xs`` of the first sample of the rise that led to the detection at ``det``.

        With ``guards`` (the leakage guard, with history), what the engine's own sound may
        have left in the window is not taken for the start of the rise either."""
        lo = max(0, det - self.back)
        seg = np.abs(xs[lo: det + 1])
        noise_amp = math.sqrt(floors[lo])
        thresh = max(0.1 * float(seg.max()), 4.0 * noise_amp)
        if guards is not None:  # the predicted leakage's amplitude, up to half the attack's peak
            g = float(np.max(guards[lo: det + 1])) / self.leak_guard_ratio
            if math.isfinite(g):
                thresh = max(thresh, min(0.5 * float(seg.max()), math.sqrt(g)))
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


class _Bands:
    """The envelopes of each band's power, block by block (the bands side by side in one
    array, so each smoother is one filter call): ``fast`` follows an attack (0.5 ms),
    ``ref`` the recent level (``rise_ref_ms``, taken ``rise_ms`` earlier), and the floor
    the room (down at once, up 6 dB/s, from a 30 ms envelope; unknown (infinite) for the
    first 90 ms, while that envelope still rises from zero; never below -120 dBFS, which
    digital silence would otherwise pin it at for good). Band 0 is the input high-passed
    by ``filters[0]``; the others are band 0 filtered again."""

    def __init__(self, det: OnsetDetector, filters: list, rise_ref_ms: float) -> None:
        rate, k, h = det.rate, len(filters), det._hist_n
        self.det = det
        self.filters = filters  # 2nd-order sections as (b, a): lfilter costs a fifth of sosfilt per call
        self.zi = [np.zeros(2) for _ in filters]
        self.fast = _smoother(0.0005 * rate, k)
        self.slow = _smoother(SLOW_MS / 1000 * rate, k)
        # The rise is measured against the slow envelope itself unless another time constant is asked for.
        self.ref = None if rise_ref_ms == SLOW_MS else _smoother(rise_ref_ms / 1000 * rate, k)
        self.floor = np.full(k, math.inf)
        self.up = 10 ** (6.0 / 10 / rate)  # +6 dB per second, per sample
        self.warmup = int(0.09 * rate)
        self.hist_ref = np.zeros((k, h))
        self.hist_floor = np.full((k, h), 1e-10)
        self.hist_y = np.zeros((k, h))
        self.floors = self.hist_floor
        self.ys = self.hist_y

    def run(self, x: np.ndarray):
        """Per band (rows): the band signal, fast envelope, floor and lagged reference for the
        block; ``ys`` and ``floors`` then hold signal and floor with the history in front."""
        det, n, h = self.det, x.shape[0], self.det._hist_n
        y = np.empty((len(self.filters), n))
        y[0], self.zi[0] = lfilter(*self.filters[0], x, zi=self.zi[0])
        for j in range(1, len(self.filters)):
            y[j], self.zi[j] = lfilter(*self.filters[j], y[0], zi=self.zi[j])
        power = y * y
        fast = self.fast.run(power)
        slow = self.slow.run(power)
        ref = slow if self.ref is None else self.ref.run(power)
        warm = max(0, min(n, self.warmup - det._pos))
        floor = np.full(y.shape, math.inf)
        if warm < n:
            floor[:, warm:] = _envelope(np.maximum(slow[:, warm:], _FLOOR_MIN), self.floor, self.up, np.minimum)
        self.floor = floor[:, -1].copy()
        refs = np.concatenate([self.hist_ref, ref], axis=1)
        self.floors = np.concatenate([self.hist_floor, floor], axis=1)
        self.ys = np.concatenate([self.hist_y, y], axis=1)
        lagged = refs[:, h - det.rise_lag: h - det.rise_lag + n]
        self.hist_ref = refs[:, -h:].copy()
        self.hist_floor = self.floors[:, -h:].copy()
        self.hist_y = self.ys[:, -h:].copy()
        return y, fast, floor, lagged


class _smoother:
    """A one-pole low-pass (time constant ``tc`` samples) over ``rows`` signals at once, keeping
    its state across blocks."""

    def __init__(self, tc: float, rows: int) -> None:
        a = math.exp(-1.0 / tc)
        self.ba = ([1 - a], [1, -a])
        self.zi = np.zeros((rows, 1))

    def run(self, v: np.ndarray) -> np.ndarray:
        out, self.zi = lfilter(*self.ba, v, axis=-1, zi=self.zi)
        return out


def merge_voiced(onsets: list[Onset]) -> list[Onset]:
    """The onsets of a whole recording, one per event, in time order.

    Live, a voice is reported twice (at its confirmed start, then again with its
    duration when it ends), and a voice that began with a percussive attack was first
    reported as that percussive onset (same ``sample``). Over a recording all is known:
    each voice gains its duration and replaces the percussive onset of its attack, and
    keeps the time the first report of that onset was made (``detected_at``).
    """
    ended = {o.sample: o.duration for o in onsets if o.kind == "voiced" and o.duration is not None}
    first: dict[int, int] = {}
    for o in onsets:
        first[o.sample] = min(first.get(o.sample, o.detected_at), o.detected_at)
    voiced = {o.sample for o in onsets if o.kind == "voiced"}
    out = [replace(o, duration=ended.get(o.sample), detected_at=first[o.sample])
           for o in onsets if o.kind == "voiced" and o.duration is None]
    out += [o for o in onsets if o.kind != "voiced" and o.sample not in voiced]
    return sorted(out, key=lambda o: o.sample)


def _hold(power: np.ndarray, start: float, release: float) -> np.ndarray:
    """Peak envelope: follows ``power`` up at once, decays by ``release`` per sample.

    ``e[i] = max(power[i], e[i-1] * release)``, without a Python loop: in logs it is a
    running maximum of ``log power[j] - j log release``, shifted back by ``i log release``.
    """
    return _envelope(power, start, release, np.maximum)


def _envelope(v: np.ndarray, start, step: float, pick) -> np.ndarray:
    """``e[i] = pick(v[i], e[i-1] * step)`` with ``e[-1] = start``, along the last axis (``pick`` is
    np.maximum or np.minimum; ``start`` one value per row)."""
    n = v.shape[-1]
    ls = math.log(step)
    ramp = np.arange(n) * ls
    with np.errstate(divide="ignore"):
        lv = np.log(v) - ramp
        first = np.log(np.asarray(start, dtype=np.float64)) + ls
    lv[..., 0] = pick(lv[..., 0], first)
    return np.exp(pick.accumulate(lv, axis=-1) + ramp)


def _finite(v: float) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)
