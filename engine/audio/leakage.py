"""What the engine's own sounds leave in the microphone, and how to take it out.

The engine knows every sample it sent to the speakers. What reaches the
microphone from them is that signal through the room: the speaker's band,
a short acoustic delay, reflections and a reverberant tail. Nearly all of it
is linear and slow to change, so the cancellation is the classic echo
canceller's: estimate the path's impulse response ``h`` from what was played
and what was heard, subtract ``h * played`` from the microphone, and look for
onsets in what is left (the *residual*), where a child's tap stands out even
when it lands on a cue.

Why this method (issue 4, item 3), and not the others:

- *Gating* (ignore onsets near our cues) throws away exactly the taps a
  synchronisation exercise is about: the ones that land on the beat.
- *Band separation* (REPP: cues in one band, taps in another) needs cue
  sounds the therapist may not choose; the engine plays songs and drums.
- *A leakage model from the known output* is what remains. Cancelling in the
  waveform, rather than predicting an energy envelope, keeps a tap that is
  quieter than the cue it lands on: the residual holds the tap at its own
  level, while an envelope model could only ask for energy *above* the cue's.

Estimation: frames of ``8 × taps`` samples with half overlap, Hann-windowed;
the cross- and auto-spectra are averaged with exponential forgetting (30 s: a
room changes slowly), ``H = S_xy / S_xx`` (regularised), and ``h`` is its
first ``taps`` samples, its second half faded out. Child hits are
uncorrelated with what was played, so they average out of ``S_xy`` instead of
being learnt (the "double talk" an echo canceller must survive); a frame that
holds much more than the current estimate predicts also counts for less
(weighted least squares). Frames without sound from the speakers are not used.

Application: ``h * played`` for each block by FFT convolution over the block
and the last ``taps − 1`` played samples, so the residual does not depend on
how the signal is cut into blocks and adds no latency.

What is left: the part of the room's tail longer than ``taps`` (43 ms at
48 kHz), the error of the estimate, and the first moments before anything has
been learnt. :class:`LeakCanceller` reports the predicted leakage with each
block and whether the estimate can be trusted yet (``trained``), so the
detector can ask a tap to stand out above what may remain (see
:class:`~engine.audio.onsets.OnsetDetector`).

Written by hand: no well-kept Python library does streaming echo cancellation
(speexdsp's Python bindings are unmaintained, WebRTC's AEC3 is C++ with no
maintained binding).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["LeakCanceller"]


class LeakCanceller:
    """Streaming cancellation of a known played signal from the microphone.

    Parameters
    ----------
    sample_rate : int
    taps_ms : float
        Length of the estimated impulse response (rounded up to a power of two
        in samples): the acoustic delay plus the early room response it covers.
    forget_s : float
        Time constant of the spectral averages (longer: steadier in double
        talk; shorter: follows a moved laptop sooner).
    min_frames : int
        Frames with sound from the speakers needed before the estimate is
        trusted (``trained``).
    """

    def __init__(self, sample_rate: int, *, taps_ms: float = 40.0, forget_s: float = 30.0,
                 min_frames: int = 2) -> None:
        self.rate = int(sample_rate)
        self.taps = 1 << max(4, math.ceil(math.log2(max(16.0, taps_ms * self.rate / 1000))))
        self.frame = 8 * self.taps
        self.hop = self.frame // 2
        self.min_frames = int(min_frames)
        self._forget = math.exp(-self.hop / (forget_s * self.rate))
        self._window = np.hanning(self.frame)
        # The estimate's second half fades out (half a cosine): the room's tail beyond it then
        # comes back into the residual gradually, not as a step that would look like an onset.
        half = self.taps // 2
        self._taper = np.ones(self.taps)
        self._taper[half:] = 0.5 + 0.5 * np.cos(np.pi * np.arange(half) / half)
        nbins = self.frame // 2 + 1
        self._sxy = np.zeros(nbins, dtype=np.complex128)
        self._sxx = np.zeros(nbins)
        self.h = np.zeros(self.taps)
        self._gain = 0.0
        self._spectra: dict[int, np.ndarray] = {}  # rfft of h, per FFT size
        self._hist_played = np.zeros(self.taps - 1)
        # The last `frame` samples of both signals, for estimation.
        self._buf_p = np.zeros(self.frame)
        self._buf_m = np.zeros(self.frame)
        self._since_hop = 0
        self.frames_used = 0
        self._played_floor = 1e-12  # power below which a frame counts as silence from the speakers

    @property
    def gain(self) -> float:
        """The path's power gain (sum of the squared impulse response): leakage power per played power."""
        return self._gain

    @property
    def trained(self) -> bool:
        """Whether enough has been heard to trust the estimate."""
        return self.frames_used >= self.min_frames

    def process(self, mic: np.ndarray, played: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cancel ``played``'s leakage from ``mic`` (same length); returns (residual, predicted leakage)."""
        seg = np.concatenate([self._hist_played, played])
        predicted = self._convolve(seg)
        residual = mic - predicted
        self._hist_played = seg[-(self.taps - 1):].copy()
        self._learn(mic, played)
        return residual, predicted

    def _convolve(self, seg: np.ndarray) -> np.ndarray:
        """The last ``len(seg) - taps + 1`` samples of ``seg`` convolved with ``h`` (overlap-save:
        a circular convolution as long as ``seg`` leaves exactly those samples intact)."""
        out = seg.shape[0] - self.taps + 1
        if not self.frames_used or not seg.any():  # nothing learnt, or the speakers were silent
            return np.zeros(out)
        nfft = 1 << math.ceil(math.log2(seg.shape[0]))
        spec = self._spectra.get(nfft)
        if spec is None:
            spec = self._spectra[nfft] = np.fft.rfft(self.h, nfft)
        return np.fft.irfft(np.fft.rfft(seg, nfft) * spec, nfft)[self.taps - 1: seg.shape[0]]

    def _learn(self, mic: np.ndarray, played: np.ndarray) -> None:
        """Push the block into the estimation buffers; update ``h`` at each completed hop."""
        i, n = 0, mic.shape[0]
        while i < n:
            take = min(n - i, self.hop - self._since_hop)
            # The frame's second half fills up; at each hop it becomes the first half.
            at = self.hop + self._since_hop
            self._buf_p[at:at + take] = played[i:i + take]
            self._buf_m[at:at + take] = mic[i:i + take]
            self._since_hop += take
            i += take
            if self._since_hop == self.hop:
                self._since_hop = 0
                self._update()
                self._buf_p[: self.hop] = self._buf_p[self.hop:]
                self._buf_m[: self.hop] = self._buf_m[self.hop:]

    def _update(self) -> None:
        p = self._buf_p
        if float(np.mean(p * p)) <= self._played_floor:
            return  # nothing from the speakers in this frame: nothing to learn
        x = np.fft.rfft(p * self._window)
        y = np.fft.rfft(self._buf_m * self._window)
        a = self._forget
        w = 1.0
        if self.frames_used:
            # Double talk: a frame whose microphone holds much more than the current estimate
            # predicts (a child's hit) teaches less (weighted least squares).
            pred = np.fft.irfft(x * np.fft.rfft(self.h, self.frame), self.frame)
            e = float(np.mean((self._buf_m * self._window - pred) ** 2))
            q = float(np.mean(pred ** 2)) + 1e-20
            w = min(1.0, q / max(e, 1e-20)) ** 2
        self._sxy = a * self._sxy + w * np.conj(x) * y
        self._sxx = a * self._sxx + w * (x.real ** 2 + x.imag ** 2)
        reg = 1e-3 * float(np.mean(self._sxx)) + 1e-20
        h = np.fft.irfft(self._sxy / (self._sxx + reg), self.frame)[: self.taps]
        h *= self._taper
        self.h = h
        # The power gain for what is actually played: |H|² weighted by the played spectrum
        # (the estimate is meaningless where nothing was played; it must not count there).
        hh = np.fft.rfft(h, self.frame)
        px = x.real ** 2 + x.imag ** 2
        gain = float(np.sum((hh.real ** 2 + hh.imag ** 2) * px) / max(float(np.sum(px)), 1e-30))
        self._gain = gain if not self._gain else 0.8 * self._gain + 0.2 * gain
        self._spectra.clear()
        self.frames_used += 1
