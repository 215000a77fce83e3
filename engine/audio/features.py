"""Spectral features of an onset, and causal detection of voiced (sung or spoken) responses.

Issue 4's detector, second part: what an onset sounds like, and whether the
child answered with the voice. Two independent pieces, both cheap enough for
the live input thread:

:func:`onset_features`
    A few numbers from the first milliseconds of an onset (one windowed FFT of
    at most 2048 points): the *spectral centroid* (how high the sound's energy
    sits: a low drum a few hundred Hz, a wood block or a clap around 1-2 kHz,
    a shaker or a cymbal higher still), the *noisiness* (spectral flatness, 0 = tonal, 1 =
    white noise: a drum hit or a clap is broadband and noisy, a voice, a
    xylophone bar or a wood block is tonal) and the *brightness* (the share of
    the energy above 1.5 kHz). For a therapist (and an intervention that
    answers the child) they tell, roughly, a drum from a bar instrument from a
    voice, and a soft, dull tap from a hard, bright strike, without anyone
    naming the instrument.

:class:`VoiceTracker`
    Voiced segments (a sung tone, a spoken word) in a stream, block by block,
    reported as a *start* event once the voicing is confirmed and an *end*
    event once it has stopped. Method:

    1. One filter cascade at the input rate, its state kept across blocks:
       a 2nd-order high-pass at 0.7 * ``min_f0`` (rumble, mains hum, DC) and
       an 8th-order Butterworth anti-alias low-pass; then the input is
       decimated by an integer factor to an analysis rate near 16 kHz
       (48 kHz -> 16 kHz, 44.1 kHz -> 14.7 kHz, 16 kHz as it is).
    2. On a fixed hop grid counted from sample 0 (5 ms), a frame of
       ``frame_ms`` plus the longest period (~37 ms) is analysed with YIN
       (de Cheveigné & Kawahara 2002): the difference function, by FFT, then
       its cumulative-mean-normalised form d'(tau), searched between the
       periods of ``max_f0`` and ``min_f0`` (the first dip below 0.1, else the
       global minimum, with parabolic interpolation). d' at the chosen period
       is the *aperiodicity* (0 = perfectly periodic, ~1 = noise). All hops
       that a block completes are analysed together, vectorised, and only
       those loud enough to be voiced (step 3 does not depend on the pitch).
    3. The frame's energy is compared with a noise floor that follows the
       frame energies down at once and up slowly (3 dB/s), as the onset
       detector's does. A hop is *voiced* if its aperiodicity is below
       ``aperiodicity``, its energy is ``floor_db`` above the floor and above
       ``min_level_db``.
    4. A segment starts when voicing holds for ``min_voiced_ms`` (gaps of at
       most ``max_gap_ms``, pitch moving by at most ``max_jump_st`` semitones
       from hop to hop) *and* the level is sustained: the current frame is at
       most ``max_decay_db`` below the loudest frame of the last
       ``min_voiced_ms``. The sustain test is what rejects tuned percussion: a
       wood block or a tom rings periodically for a while, but its level falls
       exponentially (a tom with an 80 ms decay loses 8.7 dB in 80 ms), while a
       voice is held up by the breath.
    5. The start is refined from the first voiced hop of the run to where the
       energy rose: the last point, within that hop's frame (and one hop
       before it), where a 2 ms energy envelope was still below the larger of
       the run's loudest frame -20 dB and the noise floor +6 dB, before it
       reaches -6 dB of that frame. The segment ends once voicing has
       been absent for ``hangover_ms`` (a spoken word's unvoiced consonants do
       not split it); its end is where the energy fell after the last voiced
       hop, refined the same way.

    The result does not depend on how the stream is cut into blocks (a test
    holds it to that): the filters keep their state and the hops are counted
    from sample 0.

Written by hand: librosa.pyin is offline (it needs the whole signal for its
Viterbi pass) and far too slow for a live thread, and aubio is GPL (benchmark
only, never a dependency). YIN's difference function costs three real FFTs
of 1024 points per hop at 16 kHz; the whole tracker about 3 % of one core at
48 kHz in blocks of 128 (an ad-hoc measurement, 2026-11).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import butter, sosfilt

__all__ = ["VoiceEvent", "VoiceTracker", "onset_features"]


def onset_features(x: np.ndarray, rate: int, *, min_hz: float = 100.0, max_hz: float = 10_000.0,
                   bright_hz: float = 1500.0, max_n: int = 2048) -> dict[str, float]:
    """Spectral centroid, noisiness and brightness of a short window starting at an onset.

    Parameters
    ----------
    x : np.ndarray
        Mono samples from the onset on, e.g. its first 20-40 ms. At most the
        first ``max_n`` are used (one Hann-windowed real FFT, zero-padded to a
        power of two).
    rate : int
        Sample rate of ``x``.
    min_hz : float
        Bins below this are ignored by all three features (rumble, hum, and the
        leakage of DC through the window).
    max_hz : float
        Upper edge of the band for the noisiness (capped at ``rate / 2``).
    bright_hz : float
        Edge above which energy counts as bright.
    max_n : int
        Longest window used (2048).

    Returns
    -------
    dict
        ``centroid_hz``
            The power-weighted mean frequency above ``min_hz``: where the
            sound's energy sits. A pure tone's centroid is its frequency; a
            low drum's a few hundred Hz; a clap's or a wood block's around
            1-2 kHz.
        ``noisiness``
            Spectral flatness of the power spectrum between ``min_hz`` and
            ``max_hz``: geometric over arithmetic mean, from 0 (a pure tone)
            to 1 (a perfectly flat spectrum). A single windowed frame of
            white noise gives about 0.55 (a periodogram's bins scatter), so
            a noisy hit lands somewhere below that, lower the more coloured
            it is; a harmonic sound (a voice, a bar instrument, a wood
            block) stays far below 0.05 unless it is buried in noise. High =
            a drum, a shaker, a clap; low = a voice, a xylophone.
        ``brightness``
            Share (0..1) of the power above ``min_hz`` that lies above
            ``bright_hz``: a hard, bright strike or a hiss is high, a dull
            tap or a low voice is low.

        All three are NaN for a silent window (no energy above ``min_hz``).
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)[:max_n]
    n = x.shape[0]
    nan = {"centroid_hz": math.nan, "noisiness": math.nan, "brightness": math.nan}
    if n < 8:
        return nan
    nfft = 1 << (n - 1).bit_length()
    spec = np.fft.rfft((x - x.mean()) * np.hanning(n), nfft)
    power = spec.real * spec.real + spec.imag * spec.imag
    freqs = np.fft.rfftfreq(nfft, 1.0 / rate)
    band = freqs >= min_hz
    p = power[band]
    total = float(p.sum())
    if not total > 1e-20 * n:
        return nan
    centroid = float((freqs[band] * p).sum() / total)
    brightness = float(p[freqs[band] >= bright_hz].sum() / total)
    flat_band = band & (freqs <= min(max_hz, rate / 2))
    pf = power[flat_band]
    if pf.size == 0:
        return {"centroid_hz": centroid, "noisiness": math.nan, "brightness": brightness}
    pf = pf + 1e-12 * float(pf.max())  # a floor at -120 dB: a pure tone's empty bins are not -inf
    noisiness = float(np.exp(np.mean(np.log(pf))) / np.mean(pf))
    return {"centroid_hz": centroid, "noisiness": min(1.0, noisiness), "brightness": brightness}


@dataclass(frozen=True)
class VoiceEvent:
    """The start or the end of a voiced segment (a sung tone, a spoken word).

    ``kind`` is ``"start"`` (reported once the voicing is confirmed) or
    ``"end"`` (reported once it has been absent for the hangover). Samples are
    counted from the stream's first sample, at its own rate; ``detected_at``
    is the last sample the decision needed (the event is returned by the
    ``process`` call whose block holds it). ``f0_hz`` is the median pitch and
    ``level_db`` the RMS level (dBFS, of the analysed band: above 0.7 *
    ``min_f0``, below ~6 kHz if the input is decimated) of the voiced frames
    so far: of the confirming run for a start, of the whole segment for an
    end. An end also has ``end_sample`` and ``duration`` (``end_sample -
    start_sample``, in samples).
    """

    kind: str
    start_sample: int
    detected_at: int
    f0_hz: float
    level_db: float
    end_sample: int | None = None
    duration: int | None = None
    slope_db_s: float = 0.0  # start: how fast the level changed over the confirming run (dB/s)


class _Run:
    """A candidate voiced run (before confirmation) or a confirmed segment."""

    __slots__ = ("energies", "f0s", "first", "hops", "last", "last_f0", "start")

    def __init__(self, k: int, f0: float, energy: float) -> None:
        self.first = k  # first voiced hop
        self.last = k  # last voiced hop
        self.last_f0 = f0
        self.hops = [k]
        self.f0s = [f0]
        self.energies = [energy]
        self.start = 0  # refined start (analysis samples), once confirmed

    def add(self, k: int, f0: float, energy: float) -> None:
        self.last = k
        self.last_f0 = f0
        self.hops.append(k)
        self.f0s.append(f0)
        self.energies.append(energy)


class VoiceTracker:
    """Causal streaming detector of voiced segments (see the module docstring).

    Parameters
    ----------
    rate : int
        Sample rate of the input.
    min_f0, max_f0 : float
        Pitch range searched (Hz): 80-1000 covers adults' speech and
        children's singing and speech.
    frame_ms : float
        YIN's integration window; each frame is this plus the longest period.
    hop_ms : float
        Analysis hop (the time resolution of the decisions).
    min_voiced_ms : float
        How long voicing must hold (from the first voiced hop) before a
        segment starts; a start is reported about this plus one frame (~37 ms)
        after the voice began.
    hangover_ms : float
        How long voicing must be absent before the segment ends.
    aperiodicity : float
        A hop is voiced if YIN's d' at the chosen period is below this.
    floor_db : float
        How far above the noise floor a voiced frame's energy must be.
    min_level_db : float
        Absolute level (dBFS, frame RMS) below which nothing is voiced.
    max_decay_db : float
        Sustain test: at confirmation the frame must be at most this far below
        the loudest frame of the last ``min_voiced_ms`` (a hit decays faster).
    max_gap_ms : float
        Unvoiced hops tolerated inside a run before it is confirmed.
    max_jump_st : float
        Largest pitch step (semitones) between voiced hops of a run before it
        is confirmed; a bigger jump starts a new run.
    analysis_rate : float
        Rate the input is decimated to (by the nearest integer factor).
    """

    def __init__(self, rate: int, *, min_f0: float = 80.0, max_f0: float = 1000.0,
                 frame_ms: float = 25.0, hop_ms: float = 5.0, min_voiced_ms: float = 80.0,
                 hangover_ms: float = 120.0, aperiodicity: float = 0.25, floor_db: float = 10.0,
                 min_level_db: float = -65.0, max_decay_db: float = 4.0, max_gap_ms: float = 10.0,
                 max_jump_st: float = 2.0, analysis_rate: float = 16_000.0) -> None:
        self.rate = int(rate)
        self.q = max(1, round(self.rate / analysis_rate))
        fa = self.rate / self.q
        self.analysis_rate = fa
        if not 0 < min_f0 < max_f0 <= fa / 4:
            raise ValueError(f"need 0 < min_f0 < max_f0 <= {fa / 4:g} Hz, got {min_f0}, {max_f0}")
        self.tau_min = max(2, math.floor(fa / max_f0))
        self.tau_max = math.ceil(fa / min_f0)
        self.W = max(self.tau_max, round(frame_ms * fa / 1000))
        self.L = self.W + self.tau_max + 2  # d(tau) for tau = 0 .. tau_max + 1 (interpolation)
        self.nfft = 1 << (self.L - 1).bit_length()
        self.H = max(1, round(hop_ms * fa / 1000))
        self._lags = np.arange(self.tau_max + 2)
        # Filters, with state kept across blocks.
        # One cascade at the input rate (one call per block): the high-pass, then the anti-alias low-pass.
        sos = butter(2, 0.7 * min_f0, btype="highpass", fs=self.rate, output="sos")
        if self.q > 1:
            sos = np.vstack([sos, butter(8, 0.75 * fa / 2, fs=self.rate, output="sos")])
        self._sos = sos
        self._zi = np.zeros((sos.shape[0], 2))
        # Decisions, in hops.
        self.aperiodicity = float(aperiodicity)
        self.floor_ratio = 10 ** (floor_db / 10)
        self.min_energy = 10 ** (min_level_db / 10)
        self.max_decay_db = float(max_decay_db)
        self.n_min = max(1, round(min_voiced_ms / 1000 * fa / self.H))
        self.n_hang = max(1, round(hangover_ms / 1000 * fa / self.H))
        self.n_gap = max(0, round(max_gap_ms / 1000 * fa / self.H))
        self.max_jump = float(max_jump_st)
        self._floor_up = 10 ** (3.0 / 10 * self.H / fa)  # +3 dB per second, per hop
        self._floor: float | None = None
        # Refinement: a 2 ms energy envelope; the start's level -20 dB; the floor +6 dB.
        self._env_n = max(2, round(0.002 * fa))
        # Analysis-rate history: at least `keep` samples before the newest are always kept.
        self._keep = self.L + 2 * self.H + max(int(fa), (self.n_hang + 2) * self.H + self.L)
        self._buf = np.zeros(2 * self._keep)
        self._len = 0  # samples in _buf
        self._buf0 = 0  # analysis index of _buf[0]
        self._pos = 0  # input samples processed
        self._next_hop = 0
        self._run: _Run | None = None  # candidate run, or the active segment
        self._active = False

    # -- stream ----------------------------------------------------------------------------------

    def process(self, block: np.ndarray) -> list[VoiceEvent]:
        """Feed the next block (mono, any length); returns the events it completes, in order."""
        x = np.asarray(block, dtype=np.float64).reshape(-1)
        n = x.shape[0]
        if n == 0:
            return []
        y, self._zi = sosfilt(self._sos, x, zi=self._zi)
        if self.q > 1:
            y = y[(-self._pos) % self.q:: self.q]  # analysis samples are input samples 0, q, 2q, ...
        self._pos += n
        if y.shape[0] == 0:
            return []
        self._append(y)
        end = self._buf0 + self._len
        last = (end - self.L) // self.H  # last hop whose frame is complete
        if last < self._next_hop:
            return []
        ks = np.arange(self._next_hop, last + 1)
        frames = self._frames(ks)
        energy = np.einsum("ij,ij->i", frames, frames) / self.L
        # Pitch only where the energy could make a hop voiced (the floor's path does not depend
        # on the pitch, so this is exact): most of the time the room is quiet, and this is cheap.
        ap = np.ones(ks.shape[0])
        f0 = np.full(ks.shape[0], np.nan)
        f = self._floor
        need = np.zeros(ks.shape[0], dtype=bool)
        for i, e in enumerate(energy.tolist()):
            f = e if f is None or e < f else f * self._floor_up
            need[i] = e > f * self.floor_ratio and e > self.min_energy
        if need.any():
            ap[need], f0[need] = self._analyse(frames[need])
        self._next_hop = last + 1
        events: list[VoiceEvent] = []
        for i, k in enumerate(ks.tolist()):
            self._step(k, float(ap[i]), float(f0[i]), float(energy[i]), events)
        return events

    def flush(self) -> list[VoiceEvent]:
        """End of input: silence long enough to end an open segment; its end event, if any."""
        pad = (self.L + (self.n_hang + 2) * self.H) * self.q
        events = self.process(np.zeros(pad))
        if self._active:  # still voiced after the padding (cannot happen with zeros): close it
            k = self._next_hop - 1
            events.append(self._end_event(self._run, k * self.H + self.L))
            self._active = False
            self._run = None
        return events

    # -- internals -------------------------------------------------------------------------------

    def _append(self, y: np.ndarray) -> None:
        if self._len + y.shape[0] > self._buf.shape[0]:
            keep = min(self._len, self._keep)
            drop = self._len - keep
            if keep + y.shape[0] > self._buf.shape[0]:
                new = np.zeros(keep + y.shape[0] + self._keep)
                new[:keep] = self._buf[drop: self._len]
                self._buf = new
            else:
                self._buf[:keep] = self._buf[drop: self._len]
            self._buf0 += drop
            self._len = keep
        self._buf[self._len: self._len + y.shape[0]] = y
        self._len += y.shape[0]

    def _frames(self, ks: np.ndarray) -> np.ndarray:
        """The analysis frames of hops ``ks`` (consecutive), one per row."""
        H, L = self.H, self.L
        s0 = int(ks[0]) * H - self._buf0
        m = ks.shape[0]
        if m == 1:  # the usual case live: one hop per block
            return self._buf[s0: s0 + L][None, :]
        return sliding_window_view(self._buf[: self._len], L)[s0: s0 + (m - 1) * H + 1: H]

    def _analyse(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """YIN aperiodicity and f0 (Hz) of ``frames`` (one per row)."""
        W, L = self.W, self.L
        m = frames.shape[0]
        lags = self._lags
        nl = lags.shape[0]
        spec_f = np.fft.rfft(frames, self.nfft, axis=1)
        spec_a = np.fft.rfft(frames[:, :W], self.nfft, axis=1)
        r = np.fft.irfft(spec_f * spec_a.conj(), self.nfft, axis=1)[:, :nl]  # sum_j a[j] frame[j + tau]
        cs = np.zeros((m, L + 1))
        np.cumsum(frames * frames, axis=1, out=cs[:, 1:])
        e2 = cs[:, W: W + nl] - cs[:, :nl]  # energy of frame[tau: tau + W]
        d = np.maximum(e2[:, :1] + e2 - 2.0 * r, 0.0)  # YIN's difference function
        cum = np.cumsum(d[:, 1:], axis=1)
        dn = np.ones_like(d)
        ok = cum > 1e-20
        dn[:, 1:] = np.where(ok, d[:, 1:] * lags[1:] / np.where(ok, cum, 1.0), 1.0)
        # The period: the first dip below 0.1 (then down to its minimum), else the global minimum.
        lo, hi = self.tau_min, self.tau_max
        seg = dn[:, lo: hi + 1]
        below = seg < min(0.1, self.aperiodicity)
        first = np.argmax(below, axis=1)
        rising = np.ones_like(below)
        rising[:, :-1] = seg[:, 1:] >= seg[:, :-1]
        j = np.where(below.any(axis=1),
                     np.argmax(rising & (np.arange(seg.shape[1]) >= first[:, None]), axis=1),
                     np.argmin(seg, axis=1))
        rows = np.arange(m)
        tau = j + lo
        a, b, c = dn[rows, tau - 1], dn[rows, tau], dn[rows, tau + 1]
        den = a - 2.0 * b + c
        shift = np.clip(np.where(den > 0, 0.5 * (a - c) / np.where(den > 0, den, 1.0), 0.0), -1.0, 1.0)
        f0 = self.analysis_rate / (tau + shift)
        return b, f0

    def _step(self, k: int, ap: float, f0: float, energy: float, events: list[VoiceEvent]) -> None:
        """One hop's decision and the segment state machine."""
        f = self._floor
        f = energy if f is None or energy < f else f * self._floor_up
        self._floor = f
        voiced = ap < self.aperiodicity and energy > f * self.floor_ratio and energy > self.min_energy
        run = self._run
        if self._active:
            if voiced:
                run.add(k, f0, energy)
            elif k - run.last >= self.n_hang:
                events.append(self._end_event(run, k * self.H + self.L))
                self._active = False
                self._run = None
            return
        if not voiced:
            if run is not None and k - run.last > self.n_gap:
                self._run = None
            return
        if (run is None or k - run.last > self.n_gap + 1
                or abs(12 * math.log2(f0 / run.last_f0)) > self.max_jump):
            self._run = _Run(k, f0, energy)
            return
        run.add(k, f0, energy)
        if k - run.first < self.n_min:
            return
        # Sustained? The current frame against the loudest of the last n_min hops.
        tail = self.n_min + 1
        recent = [e for h, e in zip(run.hops[-tail:], run.energies[-tail:]) if h >= k - self.n_min]
        if 10 * math.log10(max(recent) / energy) > self.max_decay_db:
            return
        avail = k * self.H + self.L
        run.start = self._refine_start(run, avail)
        self._active = True
        # The level's trend over the run: a voice holds (or swells), a struck bar or drum decays.
        t = np.asarray(run.hops, dtype=np.float64) * self.H / self.analysis_rate
        level = 10 * np.log10(np.maximum(np.asarray(run.energies), 1e-20))
        slope = float(np.polyfit(t, level, 1)[0]) if t.size >= 3 else 0.0
        events.append(VoiceEvent("start", run.start * self.q, (avail - 1) * self.q,
                                 float(np.median(run.f0s)), _db(float(np.mean(run.energies))),
                                 slope_db_s=slope))

    def _end_event(self, run: _Run, avail: int) -> VoiceEvent:
        end = self._refine_end(run, avail)
        start = run.start * self.q
        end *= self.q
        return VoiceEvent("end", start, (avail - 1) * self.q, float(np.median(run.f0s)),
                          _db(float(np.mean(run.energies))), end, end - start)

    def _envelope(self, lo: int, hi: int) -> np.ndarray:
        """2 ms mean-square envelope: element i is the energy of analysis samples lo+i .. lo+i+env_n."""
        seg = self._buf[lo - self._buf0: max(hi, lo + self._env_n) - self._buf0]
        cs = np.concatenate([[0.0], np.cumsum(seg * seg)])
        return (cs[self._env_n:] - cs[: -self._env_n]) / self._env_n

    def _thresholds(self, ref: float) -> tuple[float, float]:
        """(below: the voice has not begun / has ended; high: well inside the voice)."""
        return max(0.01 * ref, 4.0 * self._floor), 0.25 * ref

    def _refine_start(self, run: _Run, avail: int) -> int:
        """Analysis index where the energy of the confirmed run rose, near its first voiced frame."""
        oldest = avail - self._keep + self.L  # always still in the buffer
        lo = max(0, oldest, (run.first - 1) * self.H)
        hi = min(avail, max(lo + 4 * self._env_n, run.first * self.H + self.L))
        env = self._envelope(lo, hi)
        quiet, loud = self._thresholds(max(run.energies))
        high = np.flatnonzero(env >= loud)
        top = int(high[0]) if high.size else env.shape[0]
        below = np.flatnonzero(env[:top] < quiet)
        i = int(below[-1]) + 1 if below.size else 0
        return lo + i + self._env_n // 2

    def _refine_end(self, run: _Run, avail: int) -> int:
        """Analysis index where the energy fell after the segment's last voiced frame."""
        oldest = avail - self._keep + self.L
        lo = max(0, oldest, run.last * self.H)
        hi = min(avail, max(lo + 4 * self._env_n, run.last * self.H + self.L + 2 * self.H))
        env = self._envelope(lo, hi)
        quiet, loud = self._thresholds(max(run.energies[-self.n_min:]))
        high = np.flatnonzero(env >= loud)
        top = int(high[-1]) if high.size else 0
        after = np.flatnonzero(env[top:] < quiet)
        i = top + (int(after[0]) if after.size else env.shape[0] - top)
        return max(run.start + 1, lo + i + self._env_n // 2)


def _db(power: float) -> float:
    return 10 * math.log10(max(power, 1e-20))
