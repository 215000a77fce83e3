"""The built-in synthesiser: signals whose answers are known (attack sample, pitch, decay)."""

import numpy as np
import pytest

from engine.audio import synth
from engine.audio.sound import Sound
from tests.spectra import spectral_centroid_hz, spectral_peak_hz

RATES = [44100, 48000]


def check_common(x: np.ndarray) -> None:
    assert x.dtype == np.float32
    assert x.ndim == 1 and x.size > 0
    assert np.all(np.isfinite(x))
    assert float(np.max(np.abs(x))) <= synth.PEAK
    assert float(np.max(np.abs(x))) > 0.5 * synth.PEAK
    # No DC: the mean is tiny compared with the peak.
    assert abs(float(np.mean(x, dtype=np.float64))) < 1e-4
    # Ends in silence, so playing it never leaves a click behind.
    assert abs(float(x[-1])) < 1e-3


@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("freq_hz", [1300.0, 2000.0, 2800.0])
def test_click_attacks_at_sample_zero(sample_rate, freq_hz):
    x = synth.click(sample_rate, freq_hz=freq_hz)
    check_common(x)
    assert Sound.find_attack(x) == 0
    assert abs(float(x[0])) >= 0.5 * float(np.max(np.abs(x)))


@pytest.mark.parametrize("dur_ms", [10.0, 30.0, 100.0])
def test_click_length_and_decay(dur_ms):
    x = synth.click(48000, dur_ms=dur_ms)
    assert x.size == round(48000 * dur_ms / 1000.0)
    quarter = x.size // 4
    assert np.abs(x[-quarter:]).max() < 0.1 * np.abs(x[:quarter]).max()


@pytest.mark.parametrize("freq_hz", [1300.0, 2800.0])
def test_click_pitch_follows_freq(freq_hz):
    x = synth.click(48000, freq_hz=freq_hz, dur_ms=100.0)
    assert spectral_peak_hz(x, 48000) == pytest.approx(freq_hz, rel=0.03)


def test_click_is_deterministic():
    np.testing.assert_array_equal(synth.click(48000), synth.click(48000))


@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("midi_note, freq_hz", [(69, 440.0), (60, 261.63), (81, 880.0)])
def test_tone_fundamental(sample_rate, midi_note, freq_hz):
    x = synth.tone(sample_rate, midi_note=midi_note, dur_ms=1000.0, attack_ms=5.0, release_ms=50.0)
    check_common(x)
    # 1 s gives 1 Hz bins; the fundamental is the strongest partial.
    assert spectral_peak_hz(x, sample_rate) == pytest.approx(freq_hz, abs=2.0)


def test_tone_length_and_envelope():
    x = synth.tone(48000, midi_note=69, dur_ms=200.0, attack_ms=10.0, release_ms=50.0)
    assert x.size == 48000 * 250 // 1000
    assert abs(float(x[0])) < 1e-6  # the attack ramps up from silence
    # Full level only after the attack.
    assert np.abs(x[:48]).max() < 0.5 * np.abs(x).max()
    assert np.abs(x[480:960]).max() > 0.8 * np.abs(x).max()


def test_tone_has_harmonics():
    x = synth.tone(48000, midi_note=57, dur_ms=1000.0)  # A3, 220 Hz
    freqs_hz = np.fft.rfftfreq(x.size, 1.0 / 48000)
    mag = np.abs(np.fft.rfft(x))

    def level(hz):
        return mag[np.argmin(np.abs(freqs_hz - hz))]

    assert level(440.0) > 0.1 * level(220.0)
    assert level(660.0) > 0.05 * level(220.0)


def test_tone_rejects_notes_above_nyquist():
    with pytest.raises(ValueError):
        synth.tone(8000, midi_note=120, dur_ms=100.0)


@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"body_hz": 60.0, "body_level": 3.0, "lowpass_hz": 2000.0, "dur_ms": 300.0},
        {"lowpass_hz": None, "highpass_hz": 6000.0, "dur_ms": 400.0, "decay_ms": 120.0},
    ],
)
def test_noise_drum_attacks_at_zero_and_decays(sample_rate, kwargs):
    x = synth.noise_drum(sample_rate, **kwargs)
    check_common(x)
    assert Sound.find_attack(x) == 0
    quarter = x.size // 4
    assert np.sqrt(np.mean(x[-quarter:] ** 2)) < 0.1 * np.sqrt(np.mean(x[:quarter] ** 2))


def test_noise_drum_filters_and_body_shape_the_spectrum():
    kick = synth.noise_drum(48000, dur_ms=300.0, decay_ms=12.0, lowpass_hz=2000.0, body_hz=60.0, body_level=3.0)
    snare = synth.noise_drum(48000, dur_ms=300.0, decay_ms=40.0, lowpass_hz=9000.0)
    hat = synth.noise_drum(48000, dur_ms=300.0, decay_ms=40.0, lowpass_hz=None, highpass_hz=7000.0)
    kick_hz, snare_hz, hat_hz = (spectral_centroid_hz(x, 48000) for x in (kick, snare, hat))
    assert kick_hz < 500.0 < snare_hz < hat_hz
    assert hat_hz > 7000.0


def test_noise_drum_is_deterministic_per_seed():
    a = synth.noise_drum(48000, seed=1)
    np.testing.assert_array_equal(a, synth.noise_drum(48000, seed=1))
    assert not np.array_equal(a, synth.noise_drum(48000, seed=2))


@pytest.mark.parametrize(
    "call",
    [
        lambda: synth.click(0),
        lambda: synth.click(48000, freq_hz=30000.0),
        lambda: synth.click(48000, dur_ms=-1.0),
        lambda: synth.tone(48000, midi_note=69, dur_ms=0.0),
        lambda: synth.tone(48000, midi_note=69, release_ms=-5.0),
        lambda: synth.noise_drum(48000, decay_ms=0.0),
        lambda: synth.noise_drum(48000, body_hz=-5.0, body_level=1.0),
    ],
)
def test_bad_arguments_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_arguments_are_keyword_only():
    with pytest.raises(TypeError):
        synth.click(48000, 2000.0)  # type: ignore[misc]
    with pytest.raises(TypeError):
        synth.tone(48000, 69)  # type: ignore[misc]


def test_midi_to_hz():
    assert synth.midi_to_hz(69) == 440.0
    assert synth.midi_to_hz(81) == pytest.approx(880.0)
    assert synth.midi_to_hz(60) == pytest.approx(261.6256, rel=1e-5)
