"""The shipped calibration test signals (calibration/*.flac) are exactly what `tandem calibrate` plays."""

from pathlib import Path

import numpy as np
import soundfile

from engine.calibration.signals import GAPS_MS, signal_files

FOLDER = Path(__file__).resolve().parents[1] / "calibration"


def test_every_shipped_file_is_the_signal_the_code_makes():
    expected = signal_files()
    assert sorted(p.name for p in FOLDER.glob("*.flac")) == sorted(expected)
    for name, (signal, rate) in expected.items():
        data, file_rate = soundfile.read(FOLDER / name, dtype="float32")
        assert file_rate == rate and data.shape == signal.shape, name
        np.testing.assert_allclose(data, signal, atol=1.0 / 2**23, err_msg=name)  # 24-bit PCM: one step


def test_the_round_trip_probes_sit_at_their_irregular_gaps():
    data, rate = soundfile.read(FOLDER / "roundtrip-probes-48000.flac", dtype="float32")
    loud = np.flatnonzero(np.abs(data) > 0.01)
    starts = loud[np.r_[True, np.diff(loud) > rate // 100]]  # the first loud sample after a silence
    gaps_ms = np.diff(starts) * 1000 / rate
    assert len(starts) == 10
    np.testing.assert_allclose(gaps_ms, GAPS_MS[:9], atol=2.0)
