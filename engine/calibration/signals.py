"""The test sounds calibration plays, made in code.

Round trip: a short logarithmic sweep (the *probe*), repeated at irregular
spacing. A sweep spreads its energy over a wide band, so a matched filter
finds it as one sharp peak, well above a room's noise and apart from its
echoes; the irregular spacing means no stretch of the sequence looks like
another shifted by a whole gap, so the sequence as a whole has one
alignment with the recording.

MIDI latency: a short, high, pitched click paces the therapist's taps (the
pad is heard by the microphone, the click tells the hand when).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["GAPS_MS", "SIGNAL_RATES", "ProbeSequence", "pacing_click", "probe", "probe_sequence", "signal_files"]

#: The sample rates the shipped test-signal files are written at (the top-level ``calibration/`` folder).
SIGNAL_RATES = (48_000, 44_100)

GAPS_MS = (350, 320, 420, 280, 330, 290, 390, 300, 410, 360, 430)
"""Spacing of successive probes (ms). No two pairs of probes are the same time apart (the starts
form a Golomb ruler in 10 ms steps), so at any shift but the true one at most one probe lines up
with another; the shortest gap is much longer than a probe and a room's echoes of it."""


def probe(sample_rate: int, *, duration_ms: float = 30.0, f0_hz: float = 600.0, f1_hz: float = 9000.0,
          amplitude: float = 0.5) -> np.ndarray:
    """A logarithmic sweep from ``f0_hz`` to ``f1_hz``, Tukey-windowed, peak ``amplitude`` (float32).

    600 Hz–9 kHz suits laptop speakers (little below) and microphones; at
    48 kHz its matched-filter peak is about 0.1 ms wide.
    """
    # heavy (1.4 s): only when a calibration makes its probe
    from scipy.signal import chirp
    from scipy.signal.windows import tukey

    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    if not 0 < f0_hz < f1_hz < sample_rate / 2:
        raise ValueError(f"the sweep must go up within 0..{sample_rate / 2:.0f} Hz, got {f0_hz}..{f1_hz}")
    n = max(16, round(sample_rate * duration_ms / 1000))
    t = np.arange(n) / sample_rate
    x = chirp(t, f0=f0_hz, t1=t[-1], f1=f1_hz, method="logarithmic") * tukey(n, 0.2)
    return (amplitude * x / np.max(np.abs(x))).astype(np.float32)


@dataclass(frozen=True)
class ProbeSequence:
    """The round-trip test: ``probe`` starting at each of ``offsets_frames`` (from the first one)."""

    probe: np.ndarray
    offsets_frames: tuple[int, ...]
    sample_rate: int

    @property
    def frames(self) -> int:
        """From the first probe's start to the last one's end."""
        return self.offsets_frames[-1] + self.probe.size

    @property
    def repetitions(self) -> int:
        return len(self.offsets_frames)

    def rendered(self) -> np.ndarray:
        """The whole sequence as one signal (what the speakers play)."""
        out = np.zeros(self.frames, dtype=np.float32)
        for off in self.offsets_frames:
            out[off: off + self.probe.size] += self.probe
        return out


def probe_sequence(sample_rate: int, *, repetitions: int = 10, **probe_options) -> ProbeSequence:
    """``repetitions`` probes (2–12) at the irregular spacing :data:`GAPS_MS` (about 3.3 s for 10)."""
    if not 2 <= repetitions <= len(GAPS_MS) + 1:
        raise ValueError(f"repetitions must be 2..{len(GAPS_MS) + 1}, got {repetitions}")
    offsets = [0]
    for gap in GAPS_MS[: repetitions - 1]:
        offsets.append(offsets[-1] + round(gap * sample_rate / 1000))
    return ProbeSequence(probe(sample_rate, **probe_options), tuple(offsets), sample_rate)


def pacing_click(sample_rate: int, *, freq_hz: float = 1500.0, duration_ms: float = 25.0,
                 amplitude: float = 0.5) -> np.ndarray:
    """A short pitched click to tap along with (float32, attack at sample 0)."""
    n = max(8, round(sample_rate * duration_ms / 1000))
    t = np.arange(n) / sample_rate
    env = np.exp(-t / (duration_ms / 5000.0))
    return (amplitude * np.sin(2 * np.pi * freq_hz * t + np.pi / 2) * env).astype(np.float32)


def signal_files(sample_rates=SIGNAL_RATES) -> dict[str, tuple[np.ndarray, int]]:
    """The test signals as files: name → (signal, sample rate), exactly what ``tandem calibrate`` plays.

    ``roundtrip-probes-RATE.flac`` is the round-trip sequence (:func:`probe_sequence`) and
    ``pacing-click-RATE.flac`` the click the therapist taps along with (:func:`pacing_click`).
    """
    out = {}
    for rate in sample_rates:
        out[f"roundtrip-probes-{rate}.flac"] = (probe_sequence(rate).rendered(), rate)
        out[f"pacing-click-{rate}.flac"] = (pacing_click(rate), rate)
    return out


if __name__ == "__main__":  # python -m engine.calibration.signals DIR: write the shipped test-signal files
    import sys
    from pathlib import Path

    import soundfile

    folder = Path(sys.argv[1])
    for name, (signal, rate) in signal_files().items():
        soundfile.write(folder / name, signal, rate, subtype="PCM_24")
