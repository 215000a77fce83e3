"""MIDI input latency from pad hits the microphone also heard, or from taps along with clicks (pure).

The therapist taps the pad; each hit is a MIDI note-on, stamped on the
stream clock at frame ``s`` (its arrival, before any latency is taken off),
and an acoustic hit the microphone records, found in the input ring at
frame ``e``. A physical hit at time P gives ``s = P + midi_latency`` and
``e = P + input_latency`` (plus the short acoustic path), so

    offset = s − e = midi_latency − input_latency,

the figure :mod:`engine.calibration.profiles` turns into the MIDI latency
for a running engine. The acoustic onset of a hit is its first sample that
reaches 10 % of the hit's peak: the rule :class:`engine.audio.sound.Sound`
uses for a cue's ``attack_frames``, so a MIDI-calibrated tap and a cue
are timed alike.

Without a microphone, :func:`tap_along_offset` pairs each tap with the click
it went with. It assumes the hand hits exactly with the heard click, which
people do not (they tap some 20–50 ms early when following a metronome),
so its result is marked ``exact=False``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

__all__ = ["MidiOffset", "analyse_midi_offset", "find_hit_onset", "tap_along_offset"]

ATTACK_FRACTION = 0.1
"""An acoustic onset is the first sample at this fraction of the hit's peak (as ``Sound.find_attack``)."""


@dataclass(frozen=True)
class MidiOffset:
    """MIDI stamp minus acoustic onset (``method="acoustic"``), or minus the heard click less the round
    trip (``method="tap-along"``, ``exact=False``), in frames.

    ``offset_frames`` is the median over the taps used; ``spread_ms`` their
    standard deviation; ``offsets_frames`` one entry per tap (None: not
    paired). When ``ok`` is False, ``reason`` says why in one sentence.
    """

    ok: bool
    method: str
    exact: bool
    offset_frames: float | None
    sample_rate: int
    spread_ms: float | None
    offsets_frames: tuple[float | None, ...]
    used: int
    taps: int
    reason: str | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def offset_ms(self) -> float | None:
        return None if self.offset_frames is None else 1000.0 * self.offset_frames / self.sample_rate

    def to_dict(self) -> dict:
        d = asdict(self)
        d["offsets_frames"] = list(self.offsets_frames)
        d["warnings"] = list(self.warnings)
        d["offset_ms"] = self.offset_ms
        return d


def find_hit_onset(x: np.ndarray, *, noise_rms: float, min_snr: float = 20.0) -> int | None:
    """Index of the acoustic onset of the loudest hit in ``x``, or None when nothing stands out.

    The onset is the first sample whose magnitude reaches
    ``max(ATTACK_FRACTION × peak, 5 × noise_rms)`` (noise alone stays below 5 σ); "stands out" means a peak
    at least ``min_snr`` times ``noise_rms``.
    """
    mag = np.abs(np.asarray(x, dtype=np.float64))
    if mag.size == 0:
        return None
    peak = float(mag.max())
    if peak <= 0.0 or peak < min_snr * noise_rms:
        return None
    threshold = max(ATTACK_FRACTION * peak, 5.0 * noise_rms)
    return int(np.argmax(mag >= threshold))


def _noise_rms(x: np.ndarray, parts: int = 8) -> float:
    """The background's RMS: that of the quietest of ``parts`` stretches of ``x`` (a hit fills only some)."""
    n = x.size // parts
    if n < 8:
        return float(np.sqrt(np.mean(x ** 2))) if x.size else 0.0
    return float(np.sqrt(np.min(np.mean(x[: n * parts].reshape(parts, n) ** 2, axis=1))))


def _summary(offsets: list[float | None], *, rate: int, method: str, exact: bool, min_taps: int,
             max_spread_ms: float, outlier_ms: float, what: str) -> MidiOffset:
    taps = len(offsets)
    if taps == 0:
        reason = ("No pad hits came in: check that the pad is connected and chosen (`tandem devices`), tap it "
                  "as asked, and calibrate again.")
        return MidiOffset(False, method, exact, None, rate, None, (), 0, 0, reason)
    got = np.array([o for o in offsets if o is not None], dtype=np.float64)
    if got.size < min_taps:
        reason = (f"Only {got.size} of {taps} pad hits {what}: tap the pad firmly, about twice a second, "
                  f"at least {min_taps} times, and calibrate again.")
        return MidiOffset(False, method, exact, None, rate, None, tuple(offsets), int(got.size), taps, reason)
    med = float(np.median(got))
    keep = np.abs(got - med) <= outlier_ms * rate / 1000.0  # a double hit or a stray sound is not latency
    used = got[keep]
    warnings = ()
    if used.size < got.size:
        warnings = ((f"{got.size - used.size} of the hits were left out, more than {outlier_ms:g} ms from the "
                    f"others."),)
    if used.size < min_taps:
        reason = (f"The pad's hits disagreed by more than {outlier_ms:g} ms: tap single, firm hits and "
                  f"calibrate again.")
        return MidiOffset(False, method, exact, None, rate, None, tuple(offsets), int(used.size), taps, reason)
    med = float(np.median(used))
    spread = float(np.std(used)) * 1000.0 / rate
    if spread > max_spread_ms:
        reason = (f"The pad's latency varied by {spread:.1f} ms between hits (at most {max_spread_ms:g} ms is "
                  f"allowed): keep the room quiet, tap single firm hits and calibrate again.")
        return MidiOffset(False, method, exact, None, rate, spread, tuple(offsets), int(used.size), taps,
                          reason, warnings)
    return MidiOffset(True, method, exact, med, rate, spread, tuple(offsets), int(used.size), taps, None, warnings)


def analyse_midi_offset(
    stamps_frames: Sequence[float],
    recording: np.ndarray,
    *,
    start_frame: int,
    sample_rate: int,
    search_ms: tuple[float, float] = (-60.0, 60.0),
    busy_frames: Sequence[tuple[int, int]] = (),
    min_taps: int = 5,
    max_spread_ms: float = 3.0,
    outlier_ms: float = 10.0,
) -> MidiOffset:
    """MIDI stamp minus acoustic onset for pad hits the microphone heard.

    Parameters
    ----------
    stamps_frames : sequence of float
        Stream frames of the note-ons as stamped on arrival (``InputEvent.arrival_frame``).
    recording : np.ndarray
        Mono microphone samples; sample 0 is input stream frame ``start_frame``.
    search_ms : (float, float)
        Where around each stamp the hit's onset is looked for (``onset − stamp``, ms).
        Taps must be further apart than this window is wide.
    busy_frames : sequence of (int, int)
        Input frame spans where the engine's own sounds reach the microphone (the pacing
        clicks); a tap whose search window touches one is left out.
    min_taps, max_spread_ms, outlier_ms : see the module docstring; a hit further than
        ``outlier_ms`` from the median is left out.
    """
    x = np.asarray(recording, dtype=np.float64).ravel()
    lo_off = math.floor(search_ms[0] * sample_rate / 1000)
    hi_off = math.ceil(search_ms[1] * sample_rate / 1000)
    if hi_off <= lo_off:
        raise ValueError(f"search_ms must be (earliest, latest), got {search_ms}")
    offsets: list[float | None] = []
    usable = 0
    for s in stamps_frames:
        a, b = round(s) + lo_off, round(s) + hi_off
        if any(a < be and ba < b for ba, be in busy_frames):
            continue  # the engine's own click is in the window: not a clean hit
        usable += 1
        i0, i1 = a - start_frame, b - start_frame
        if i0 < 0 or i1 > x.size:
            offsets.append(None)
            continue
        window = x[i0:i1]
        onset = find_hit_onset(window, noise_rms=_noise_rms(window))
        offsets.append(None if onset is None else float(s) - (a + onset))
    if usable == 0 and len(stamps_frames):
        return MidiOffset(False, "acoustic", True, None, sample_rate, None, (), 0, len(stamps_frames),
                          "Every pad hit fell on a click: keep tapping after the clicks stop, and calibrate again.")
    return _summary(offsets, rate=sample_rate, method="acoustic", exact=True, min_taps=min_taps,
                    max_spread_ms=max_spread_ms, outlier_ms=outlier_ms, what="were heard by the microphone")


def tap_along_offset(
    stamps_frames: Sequence[float],
    click_frames: Sequence[int],
    *,
    roundtrip_frames: float,
    sample_rate: int,
    min_taps: int = 5,
    max_spread_ms: float = 40.0,
    outlier_ms: float = 60.0,
) -> MidiOffset:
    """The tap-along estimate (no microphone): each tap against the click it went with (``exact=False``).

    A click scheduled at output frame F is heard at F + output latency; a tap
    with it stamped at ``s`` had ``s − (F + out) = midi_latency`` (if the hand
    were exactly on the click), so ``s − F − roundtrip = midi_latency −
    input_latency``: the same figure the acoustic method measures. Each tap
    is paired with the nearest click within half the clicks' spacing.

    Parameters
    ----------
    click_frames : sequence of int
        Output stream frames the clicks were scheduled at (their attack).
    roundtrip_frames : float
        The measured round trip (or, without one, the stream's reported input + output latency).
    """
    clicks = np.asarray(sorted(click_frames), dtype=np.float64)
    if clicks.size == 0:
        raise ValueError("tap-along needs the clicks' frames")
    half = float(np.median(np.diff(clicks))) / 2 if clicks.size > 1 else sample_rate / 2
    offsets: list[float | None] = []
    used_clicks = set()
    for s in stamps_frames:
        j = int(np.argmin(np.abs(clicks - s)))
        if abs(clicks[j] - s) > half or j in used_clicks:
            offsets.append(None)
            continue
        used_clicks.add(j)
        offsets.append(float(s) - clicks[j] - roundtrip_frames)
    return _summary(offsets, rate=sample_rate, method="tap-along", exact=False, min_taps=min_taps,
                    max_spread_ms=max_spread_ms, outlier_ms=outlier_ms, what="went with a click")
