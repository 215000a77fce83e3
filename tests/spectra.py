"""Small spectral measurements for tests of rendered sounds."""

import numpy as np


def spectral_peak_hz(x: np.ndarray, sample_rate: int, *, min_hz: float = 30.0) -> float:
    """Frequency of the strongest bin (Hann window), ignoring bins below ``min_hz``."""
    x = np.asarray(x, dtype=np.float64)
    freqs_hz = np.fft.rfftfreq(len(x), 1.0 / sample_rate)
    mag = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    mag[freqs_hz < min_hz] = 0.0
    return float(freqs_hz[np.argmax(mag)])


def spectral_centroid_hz(x: np.ndarray, sample_rate: int) -> float:
    """Power-weighted mean frequency."""
    freqs_hz = np.fft.rfftfreq(len(x), 1.0 / sample_rate)
    power = np.abs(np.fft.rfft(np.asarray(x, dtype=np.float64))) ** 2
    return float((freqs_hz * power).sum() / power.sum())
