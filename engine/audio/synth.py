"""Tandem's small built-in synthesiser: clicks, tones and noise drums.

It is what the sound bank falls back on when FluidSynth or a SoundFont is
missing, so a session can always run. Everything here is plain numpy, runs
offline (never on the audio thread) and is deterministic: the same arguments
give the same samples, so rendered sounds can be cached.

Every function returns a float32 mono array whose peak is at most
:data:`PEAK` (0.9), with no DC offset, starting and ending at (near) silence
on the tail side and attacking right at sample 0, so a sound scheduled at
frame F is heard from frame F.
"""

from __future__ import annotations

import numpy as np

__all__ = ["PEAK", "midi_to_hz", "click", "tone", "noise_drum"]

PEAK = 0.9
"""Peak magnitude of every sound made here (headroom for the mixer)."""


def midi_to_hz(midi_note: float) -> float:
    """Frequency in Hz of a MIDI note number (A4 = 69 = 440 Hz).

    Examples
    --------
    >>> midi_to_hz(69)
    440.0
    """
    return 440.0 * 2.0 ** ((float(midi_note) - 69.0) / 12.0)


def _check_rate(sample_rate: int) -> int:
    sample_rate = int(sample_rate)
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    return sample_rate


def _frames(sample_rate: int, duration_ms: float, *, name: str, minimum_ms: float = 0.0) -> int:
    if not np.isfinite(duration_ms) or duration_ms < minimum_ms:
        raise ValueError(f"{name} must be a number of milliseconds >= {minimum_ms:g}, got {duration_ms!r}")
    return int(round(sample_rate * duration_ms / 1000.0))


def _finish(x: np.ndarray, envelope: np.ndarray) -> np.ndarray:
    """Remove DC in the envelope's shape (so both ends stay silent) and scale to PEAK."""
    weight = float(envelope.sum())
    if weight > 0.0:
        x = x - envelope * (float(x.sum()) / weight)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak > 0.0:
        x = x * (PEAK / peak)
    return np.ascontiguousarray(x, dtype=np.float32)


def _fade_out(envelope: np.ndarray, sample_rate: int, fade_ms: float) -> np.ndarray:
    """Force the last ``fade_ms`` of an envelope to zero with a raised cosine."""
    n = min(envelope.size, max(1, int(round(sample_rate * fade_ms / 1000.0))))
    envelope[-n:] *= 0.5 * (1.0 + np.cos(np.linspace(0.0, np.pi, n)))
    return envelope


def _shaped_noise(
    frames: int,
    sample_rate: int,
    *,
    lowpass_hz: float | None,
    highpass_hz: float | None,
    seed: int,
) -> np.ndarray:
    """White noise filtered in the frequency domain (4th-order Butterworth magnitudes).

    Filtering the stationary noise *before* the envelope is applied keeps the
    attack at sample 0 (a causal filter would smear it by its group delay).
    """
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(frames)
    if lowpass_hz is None and highpass_hz is None:
        return noise
    spectrum = np.fft.rfft(noise)
    freqs_hz = np.fft.rfftfreq(frames, d=1.0 / sample_rate)
    gain = np.ones_like(freqs_hz)
    if lowpass_hz is not None:
        gain /= np.sqrt(1.0 + (freqs_hz / float(lowpass_hz)) ** 8)
    if highpass_hz is not None:
        with np.errstate(divide="ignore"):
            gain /= np.sqrt(1.0 + (float(highpass_hz) / np.maximum(freqs_hz, 1e-9)) ** 8)
    return np.fft.irfft(spectrum * gain, n=frames)


def click(sample_rate: int, *, freq_hz: float = 2000.0, dur_ms: float = 30.0, seed: int = 0) -> np.ndarray:
    """A short, sharp, bright click (a struck wood-block-like ping).

    Two inharmonic partials (``freq_hz`` and 2.76 × ``freq_hz``, the ratio of a
    struck bar) plus a 1 ms noise transient, all at full level at sample 0 and
    decaying exponentially, so the attack is exactly sample 0.

    Parameters
    ----------
    sample_rate : int
        Samples per second.
    freq_hz : float
        Pitch of the main partial in Hz (e.g. 2500 high, 2000 normal, 1200 low).
    dur_ms : float
        Length in milliseconds (at least 2 ms).
    seed : int
        Seed of the transient's noise (the output is deterministic).

    Returns
    -------
    np.ndarray
        float32 mono samples, peak :data:`PEAK`, first sample at the attack.

    Raises
    ------
    ValueError
        For a non-positive rate, a duration under 2 ms, or a pitch outside
        (0, Nyquist).

    Examples
    --------
    >>> x = click(48000)
    >>> bool(abs(x[0]) >= 0.5 * abs(x).max())  # the attack is sample 0
    True
    """
    sample_rate = _check_rate(sample_rate)
    if not 0.0 < freq_hz < sample_rate / 2.0:
        raise ValueError(f"freq_hz must be between 0 and {sample_rate / 2.0:g} Hz, got {freq_hz!r}")
    n = max(2, _frames(sample_rate, dur_ms, name="dur_ms", minimum_ms=2.0))
    t_s = np.arange(n) / sample_rate
    # Decay over about a fifth of the length, so the end is ~-40 dB before the fade.
    envelope = np.exp(-t_s / (dur_ms / 1000.0 / 5.0))
    envelope = _fade_out(envelope, sample_rate, min(3.0, dur_ms / 4.0))
    body = np.cos(2.0 * np.pi * freq_hz * t_s)
    upper_hz = 2.76 * freq_hz
    if upper_hz < 0.45 * sample_rate:
        body += 0.5 * np.cos(2.0 * np.pi * upper_hz * t_s) * np.exp(-t_s / (dur_ms / 1000.0 / 10.0))
    transient = np.random.default_rng(seed).standard_normal(n) * np.exp(-t_s / 0.0005) * 0.3
    transient[0] = 0.0  # sample 0 stays the (positive) peak of the cosines
    return _finish((body + transient) * envelope, envelope)


def tone(
    sample_rate: int,
    *,
    midi_note: float,
    dur_ms: float = 500.0,
    attack_ms: float = 5.0,
    release_ms: float = 80.0,
) -> np.ndarray:
    """A soft pitched tone: a sine with its 2nd and 3rd harmonics and an envelope.

    The note sounds for ``dur_ms`` (like note-on to note-off, attack included,
    with a gentle decay) and then releases over ``release_ms``, so the result
    is ``dur_ms + release_ms`` long.

    Parameters
    ----------
    sample_rate : int
        Samples per second.
    midi_note : float
        MIDI note number (69 = A4 = 440 Hz; fractional values detune).
    dur_ms : float
        Held length in milliseconds (> 0).
    attack_ms : float
        Rise time in milliseconds (raised cosine, ≥ 0; at most ``dur_ms``).
    release_ms : float
        Fall time after the held part in milliseconds (≥ 0).

    Returns
    -------
    np.ndarray
        float32 mono samples, peak :data:`PEAK`.

    Raises
    ------
    ValueError
        For a non-positive rate or duration, a negative attack or release, or
        a note whose fundamental is above Nyquist.

    Examples
    --------
    >>> tone(48000, midi_note=69, dur_ms=100, release_ms=20).shape
    (5760,)
    """
    sample_rate = _check_rate(sample_rate)
    freq_hz = midi_to_hz(midi_note)
    if not freq_hz < sample_rate / 2.0:
        raise ValueError(f"MIDI note {midi_note} ({freq_hz:.0f} Hz) is above half the sample rate")
    if not dur_ms > 0:
        raise ValueError(f"dur_ms must be positive, got {dur_ms!r}")
    held = max(1, _frames(sample_rate, dur_ms, name="dur_ms"))
    rise = min(held, _frames(sample_rate, attack_ms, name="attack_ms"))
    fall = _frames(sample_rate, release_ms, name="release_ms")
    n = held + fall
    t_s = np.arange(n) / sample_rate

    envelope = np.empty(n)
    # Held part: decays slowly (to ~70 % after a second), like a soft mallet.
    envelope[:held] = np.exp(-t_s[:held] / 3.0)
    if rise > 0:
        envelope[:rise] *= 0.5 * (1.0 - np.cos(np.linspace(0.0, np.pi, rise, endpoint=False)))
    if fall > 0:
        level = envelope[held - 1]
        envelope[held:] = level * 0.5 * (1.0 + np.cos(np.linspace(0.0, np.pi, fall)))
    else:
        envelope = _fade_out(envelope, sample_rate, 2.0)

    wave = np.zeros(n)
    for harmonic, level in ((1, 1.0), (2, 0.35), (3, 0.15)):
        if harmonic * freq_hz < 0.45 * sample_rate:  # never alias
            wave += level * np.sin(2.0 * np.pi * harmonic * freq_hz * t_s)
    return _finish(wave * envelope, envelope)


def noise_drum(
    sample_rate: int,
    *,
    dur_ms: float = 200.0,
    decay_ms: float = 40.0,
    lowpass_hz: float | None = 8000.0,
    highpass_hz: float | None = None,
    body_hz: float | None = None,
    body_decay_ms: float | None = None,
    body_level: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """A noise burst with an exponential decay, optionally with a pitched body.

    Snares and claps are band-limited noise; kicks and toms add a low sine
    body (whose pitch drops by a fifth in the first 30 ms, as a struck membrane
    does); cymbals and hi-hats are high-passed noise.

    Parameters
    ----------
    sample_rate : int
        Samples per second.
    dur_ms : float
        Length in milliseconds (> 0).
    decay_ms : float
        Time constant of the noise's exponential decay in milliseconds (> 0).
    lowpass_hz, highpass_hz : float or None
        Cut-off frequencies of the noise's filters in Hz (None: no filter).
    body_hz : float or None
        Final pitch of the sine body in Hz (None: no body).
    body_decay_ms : float or None
        Time constant of the body's decay in milliseconds (default ``2 * decay_ms``).
    body_level : float
        Level of the body relative to the noise (0–1 typical; > 1 for kicks).
    seed : int
        Seed of the noise (the output is deterministic).

    Returns
    -------
    np.ndarray
        float32 mono samples, peak :data:`PEAK`, attacking at sample 0.

    Raises
    ------
    ValueError
        For a non-positive rate, duration or decay, or a body pitch outside
        (0, Nyquist).

    Examples
    --------
    >>> snare = noise_drum(48000, dur_ms=150, decay_ms=35, body_hz=190, body_level=0.4)
    >>> snare.dtype, snare.shape
    (dtype('float32'), (7200,))
    """
    sample_rate = _check_rate(sample_rate)
    if not dur_ms > 0 or not decay_ms > 0:
        raise ValueError(f"dur_ms and decay_ms must be positive, got {dur_ms!r} and {decay_ms!r}")
    n = max(2, _frames(sample_rate, dur_ms, name="dur_ms"))
    t_s = np.arange(n) / sample_rate
    envelope = np.exp(-t_s / (decay_ms / 1000.0))
    noise = _shaped_noise(n, sample_rate, lowpass_hz=lowpass_hz, highpass_hz=highpass_hz, seed=seed)
    # The filtered noise is circularly stationary, so rotating its largest
    # (made positive) sample to the front costs nothing and puts the attack
    # exactly at sample 0.
    loudest = int(np.argmax(np.abs(noise)))
    noise = np.roll(noise, -loudest) / noise[loudest]
    wave = noise * envelope
    if body_hz is not None and body_level > 0.0:
        if not 0.0 < body_hz < sample_rate / 2.0:
            raise ValueError(f"body_hz must be between 0 and {sample_rate / 2.0:g} Hz, got {body_hz!r}")
        body_decay_s = (body_decay_ms if body_decay_ms is not None else 2.0 * decay_ms) / 1000.0
        # Pitch glides from 1.5 x body_hz down to body_hz (time constant 10 ms).
        freq_hz = body_hz * (1.0 + 0.5 * np.exp(-t_s / 0.010))
        phase = 2.0 * np.pi * np.cumsum(freq_hz) / sample_rate
        body_env = np.exp(-t_s / body_decay_s)
        # cos starts at its peak, so the body attacks at sample 0 too.
        wave += body_level * np.cos(phase - phase[0]) * body_env
        envelope = np.maximum(envelope, body_env)
    fade = _fade_out(np.ones(n), sample_rate, min(5.0, dur_ms / 4.0))
    return _finish(wave * fade, envelope * fade)
