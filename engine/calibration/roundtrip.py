"""The audio round trip, speaker to microphone, from a recording of the probe sequence (pure).

The engine played a :class:`~engine.calibration.signals.ProbeSequence` with
its first probe at output stream frame ``first_frame``; the microphone's
recording starts at input stream frame ``start_frame``. Each probe is found
in the recording by a matched filter (correlation with the probe itself,
``scipy.signal.fftconvolve``), its position refined to a fraction of a
sample by a parabola through the peak, and its round trip is

    latency = (input frame where the probe starts) − (output frame it was scheduled at),

the sum of the output latency, the acoustic path and the input latency: the
only figure a score comparing microphone onsets with cues needs.

First the whole sequence is aligned at once (its irregular spacing gives one
clear alignment even when single probes are faint); then each probe is
looked for within a few milliseconds of that alignment. In each search
window the *first* arrival counts, not the loudest: a reflection that
happens to be louder than the direct sound comes later.

A measurement is rejected, with one plain sentence saying why and what to
do, when the microphone heard silence, when no probe or too few probes
stand out from the noise (headphones plugged in, speakers muted, too quiet,
too noisy), or when the repetitions disagree by more than ``max_spread_ms``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from engine.calibration.signals import ProbeSequence

__all__ = ["PROBLEMS", "RoundTrip", "analyse_roundtrip"]

PROBLEMS = ("silent", "nothing_heard", "too_quiet", "too_noisy", "unsteady")
"""The kinds of rejection (``RoundTrip.problem``)."""

_SILENT_RMS = 1e-6  # −120 dBFS: a muted or disconnected input delivers exact (or near) zeros
_TAIL_MS = 60.0  # a probe's room tail, left out of the noise estimate
_COARSE_SNR_DB = 16.0  # the whole sequence stands out (noise alone peaks near 13 dB over 0.5 s of lags)
_GUARD_MS = 0.3  # an earlier arrival must be this much earlier than the strongest (not its own lobe)


@dataclass(frozen=True)
class RoundTrip:
    """One round-trip measurement.

    ``latency_frames`` is the median over the probes found (fractional
    frames); ``spread_ms`` their standard deviation and ``range_ms`` max −
    min. ``latencies_frames`` has one entry per probe (None: not found).
    ``level_db`` is the probes' peak level at the microphone (dBFS),
    ``noise_db`` the RMS level between them, ``snr_db`` the median matched-
    filter signal-to-noise ratio. ``ok`` is False when the measurement is
    rejected; then ``problem`` (one of :data:`PROBLEMS`) and ``reason`` (a
    plain sentence with what to do) say why. ``warnings`` are sentences about
    an accepted measurement (e.g. the microphone clipped).
    """

    ok: bool
    latency_frames: float | None
    sample_rate: int
    spread_ms: float | None
    range_ms: float | None
    latencies_frames: tuple[float | None, ...]
    found: int
    repetitions: int
    level_db: float | None
    noise_db: float
    snr_db: float | None
    problem: str | None = None
    reason: str | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def latency_ms(self) -> float | None:
        return None if self.latency_frames is None else 1000.0 * self.latency_frames / self.sample_rate

    def to_dict(self) -> dict:
        """JSON-ready (lists for tuples, ``latency_ms`` added)."""
        d = asdict(self)
        d["latencies_frames"] = list(self.latencies_frames)
        d["warnings"] = list(self.warnings)
        d["latency_ms"] = self.latency_ms
        return d


def _db(x: float) -> float:
    return 20.0 * math.log10(x) if x > 0 else -math.inf


def _parabolic(y: np.ndarray, i: int) -> float:
    """Sub-sample offset (−0.5..0.5) of the peak at ``i`` of ``y`` from a parabola through three points."""
    if i <= 0 or i >= y.size - 1:
        return 0.0
    a, b, c = float(y[i - 1]), float(y[i]), float(y[i + 1])
    den = a - 2.0 * b + c
    if den >= 0.0:  # not a maximum (flat or convex)
        return 0.0
    return max(-0.5, min(0.5, 0.5 * (a - c) / den))


def _first_arrival(corr: np.ndarray, guard: int) -> int:
    """Index of the first arrival in a matched-filter output: the earliest envelope peak of at least
    half the strongest one (more than ``guard`` samples before it), else the strongest; refined to
    the largest |corr| within two samples."""
    from scipy.signal import hilbert  # heavy (1.4 s): only when a calibration is analysed

    env = np.abs(hilbert(corr))
    m = int(np.argmax(env))
    best = m
    if m > guard:
        head = env[: m - guard]
        if head.size >= 3:
            inner = head[1:-1]
            peaks = np.flatnonzero((inner >= head[:-2]) & (inner > head[2:]) & (inner >= 0.5 * env[m])) + 1
            if peaks.size:
                best = int(peaks[0])
    lo, hi = max(0, best - 2), min(corr.size, best + 3)
    return lo + int(np.argmax(np.abs(corr[lo:hi])))


def analyse_roundtrip(
    recording: np.ndarray,
    *,
    start_frame: int,
    sequence: ProbeSequence,
    first_frame: int,
    max_latency_ms: float = 500.0,
    window_ms: float = 5.0,
    min_snr_db: float = 20.0,
    min_found: float = 0.8,
    max_spread_ms: float = 0.5,
    noisy_db: float = -45.0,
    quiet_db: float = -50.0,
) -> RoundTrip:
    """Find the probes of ``sequence`` in ``recording`` and measure the round trip.

    Parameters
    ----------
    recording : np.ndarray
        Mono microphone samples; sample 0 is input stream frame ``start_frame``.
        It must reach ``max_latency_ms`` beyond the last probe's end.
    sequence : ProbeSequence
        What was played; its first probe at output stream frame ``first_frame``.
    max_latency_ms : float
        The longest round trip looked for (Bluetooth speakers reach 200–300 ms).
    window_ms : float
        How far (±) from the sequence's alignment each probe is looked for.
    min_snr_db : float
        A probe counts as found when its matched-filter peak stands this far above the noise.
    min_found : float
        Share of the probes that must be found.
    max_spread_ms : float
        Largest standard deviation of the round trip over the probes.
    noisy_db, quiet_db : float
        Noise (RMS, dBFS) above which a failure is blamed on the room's noise, and probe level
        (peak, dBFS) below which it is blamed on the volume.

    Returns
    -------
    RoundTrip

    Raises
    ------
    ValueError
        When the recording does not cover the sequence plus ``max_latency_ms``.
    """
    from scipy.signal import fftconvolve  # heavy (1.4 s): only when a calibration is analysed

    rate = sequence.sample_rate
    x = np.asarray(recording, dtype=np.float64).ravel()
    p = sequence.probe.astype(np.float64)
    energy = float(np.dot(p, p))
    max_lag = round(max_latency_ms * rate / 1000)
    rel = first_frame - start_frame  # index in x of the first probe at zero latency
    end = rel + sequence.frames + max_lag
    if rel < 0 or x.size < end:
        raise ValueError(
            f"the recording (frames {start_frame}..{start_frame + x.size}) must cover frames "
            f"{first_frame}..{first_frame + sequence.frames + max_lag}")
    reps = sequence.repetitions
    none = (None,) * reps

    def rejected(problem: str, reason: str, *, noise_db: float, level_db=None, snr_db=None,
                 lat=none, found=0, spread=None, rng=None) -> RoundTrip:
        return RoundTrip(False, None, rate, spread, rng, lat, found, reps, level_db, noise_db, snr_db,
                         problem, reason)

    rms = float(np.sqrt(np.mean(x[rel:end] ** 2)))
    if rms < _SILENT_RMS:
        return rejected("silent", "The microphone recorded only silence: check that it is plugged in, "
                        "chosen as the input and not muted, then calibrate again.", noise_db=_db(rms))

    # 1. The whole sequence at once: one alignment (lag in frames) for all probes.
    played = sequence.rendered().astype(np.float64)
    coarse = fftconvolve(x[rel:end], played[::-1], mode="valid")  # coarse[lag], lag 0..max_lag
    lag0 = int(np.argmax(np.abs(coarse)))

    # 2. The noise between the probes (their tails left out).
    quiet = np.ones(end - rel, dtype=bool)
    pre, tail = int(0.005 * rate), int(_TAIL_MS * rate / 1000)
    for off in sequence.offsets_frames:
        a = off + lag0
        quiet[max(0, a - pre): a + p.size + tail] = False
    seg = x[rel:end][quiet]
    noise_rms = float(np.sqrt(np.mean(seg ** 2))) if seg.size >= 256 else rms
    noise_db = _db(noise_rms)
    noise_corr = noise_rms * math.sqrt(energy)  # matched-filter output's noise for white noise

    # 3. Each probe near the alignment: first arrival, sub-sample position.
    w = round(window_ms * rate / 1000)
    guard = max(1, round(_GUARD_MS * rate / 1000))
    lat: list[float | None] = []
    gains, snrs = [], []
    for off in sequence.offsets_frames:
        c0 = rel + off + lag0 - w  # x index of lag 0 of this window
        lo = max(0, c0)
        hi = min(x.size, c0 + 2 * w + p.size)
        if hi - lo < p.size:
            lat.append(None)
            continue
        corr = fftconvolve(x[lo:hi], p[::-1], mode="valid")
        i = _first_arrival(corr, guard)
        mag = np.abs(corr)
        peak = float(mag[i])
        snr = _db(peak / noise_corr) if noise_corr > 0 else math.inf
        if snr < min_snr_db:
            lat.append(None)
            continue
        pos = lo + i + _parabolic(mag, i)
        lat.append(start_frame + pos - (first_frame + off))
        gains.append(peak / energy)
        snrs.append(snr)

    found = [v for v in lat if v is not None]
    n = len(found)
    peak_amp = float(np.max(np.abs(p)))
    # The whole sequence integrates every probe: it may stand out where single probes do not.
    coarse_peak = float(np.abs(coarse[lag0]))
    coarse_snr = _db(coarse_peak / (noise_corr * math.sqrt(reps))) if noise_corr > 0 else math.inf
    if gains:
        level_db = _db(float(np.median(gains)) * peak_amp)
    elif coarse_snr >= _COARSE_SNR_DB:
        level_db = _db(coarse_peak / (reps * energy) * peak_amp)
    else:
        level_db = None
    snr_db = float(np.median(snrs)) if snrs else None
    latencies = tuple(lat)
    spread = (float(np.std(found)) * 1000.0 / rate if n > 1 else 0.0) if n else None
    rng = (max(found) - min(found)) * 1000.0 / rate if n else None
    kw = {"noise_db": noise_db, "level_db": level_db, "snr_db": snr_db, "lat": latencies, "found": n,
          "spread": spread, "rng": rng}
    if n < max(1, math.ceil(min_found * reps)):
        heard = "None" if n == 0 else f"Only {n} of {reps}"
        if noise_db >= noisy_db:
            return rejected("too_noisy", f"{heard} of the test sounds stood out from the room's noise "
                            f"({noise_db:.0f} dBFS): make the room quiet and calibrate again.", **kw)
        if n == 0 and coarse_snr < _COARSE_SNR_DB:
            return rejected("nothing_heard", "None of the test sounds reached the microphone: headphones may be "
                            "plugged in, or the speakers are muted or turned down; unplug the headphones, turn the "
                            "speakers up and calibrate again.", **kw)
        level = f" ({level_db:.0f} dBFS at the microphone)" if level_db is not None else ""
        return rejected("too_quiet", f"{heard} of the test sounds were heard clearly, as they were faint"
                        f"{level}: turn the speakers up or move the microphone closer to them, then calibrate "
                        "again.", **kw)
    if spread > max_spread_ms:
        return rejected("unsteady", f"The round trip varied by {spread:.2f} ms between the test sounds (at most "
                        f"{max_spread_ms:g} ms is allowed): the room may be noisy or echoing, or another "
                        "program disturbs the audio; close other programs, keep the room quiet and calibrate "
                        "again.", **kw)
    warnings = []
    if float(np.max(np.abs(x[rel:end]))) >= 0.99:
        warnings.append("The microphone clipped: turn the speakers or the input gain down a little next time.")
    return RoundTrip(True, float(np.median(found)), rate, spread, rng, latencies, n, reps, level_db, noise_db,
                     snr_db, warnings=tuple(warnings))
