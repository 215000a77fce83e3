"""Audio backends, chosen by name: ``offline`` and ``sounddevice``.

A backend owns the device (or its absence) and calls the engine's block
function ``process(indata, outdata, frames, host_ns, xrun, skipped)`` once per
block: ``indata`` (frames × channels_in) and ``outdata`` (frames ×
channels_out) are float32, ``host_ns`` is the host monotonic time of the
block, ``xrun`` is True when the device reported an over- or underflow
before this block, and ``skipped`` is how many frames the device's own clock
went on without us (a dropout): the engine's frame clock jumps by as much, so
it stays the device's clock. The
core never imports a device library: only this module does, lazily.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.errors import AudioDeviceError, ConfigError

__all__ = [
    "BACKENDS",
    "Backend",
    "OfflineBackend",
    "SoundDeviceBackend",
    "StreamParams",
    "make_backend",
]

_LEAD_WINDOW = 32  # blocks over which the stream time's lead is watched

ProcessFn = Callable[[np.ndarray, np.ndarray, int, int, bool, int], None]
InputFn = Callable[[int, np.ndarray], None]


@dataclass(frozen=True)
class StreamParams:
    """What a backend actually opened."""

    sample_rate: int
    blocksize: int
    channels_in: int
    channels_out: int
    input_latency_frames: int
    output_latency_frames: int
    device: str


class Backend:
    """Interface: open, start, stop, close; ``failed`` says why a stream died."""

    name = "base"
    params: StreamParams | None = None
    failed: str | None = None
    on_failure: Callable[[], None] | None = None  # called (on any thread) when the stream dies

    def open(self, process: ProcessFn, *, sample_rate: int, blocksize: int,
             channels_in: int, channels_out: int) -> StreamParams:
        raise NotImplementedError

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class OfflineBackend(Backend):
    """No device: the caller drives the engine block by block, faster than real time.

    Host time is virtual (``start_ns`` + frames / rate), so the clock map is
    exact and a session renders the same way every time.

    Parameters
    ----------
    input_source : callable, optional
        ``input_source(frame, block)`` fills ``block`` (frames × channels_in)
        with the input for the block starting at ``frame``; silence if None.
    latency_frames : (int, int)
        Input and output latency to report (a simulated device's).
    """

    name = "offline"

    def __init__(self, *, input_source: InputFn | None = None,
                 latency_frames: tuple[int, int] = (0, 0), start_ns: int = 0) -> None:
        self.input_source = input_source
        self.latency_frames = latency_frames
        self.start_ns = start_ns
        self._process: ProcessFn | None = None
        self._running = False
        self._frame = 0
        self._dropouts: dict[int, int] = {}  # device frame -> frames it runs on without a block (inject_dropout)

    def inject_dropout(self, at_frame: int, frames: int) -> None:
        """A fault for tests: the block that would start at device frame ``at_frame`` (a multiple of the
        blocksize) comes ``frames`` later, reported as an xrun, as a device does after a dropout (the stream
        clock then jumps with it, as it does on a device)."""
        self._dropouts[int(at_frame)] = int(frames)

    def open(self, process, *, sample_rate, blocksize, channels_in, channels_out):
        self._process = process
        self._in = np.zeros((blocksize, channels_in), dtype=np.float32)
        self._out = np.zeros((blocksize, channels_out), dtype=np.float32)
        self.params = StreamParams(sample_rate, blocksize, channels_in, channels_out,
                                   self.latency_frames[0], self.latency_frames[1], "offline")
        return self.params

    def start(self) -> None:
        self._running = True

    def stop(self) -> None:
        self._running = False

    def close(self) -> None:
        self._running = False

    @property
    def host_ns(self) -> int:
        """The virtual host time now (at the start of the next block)."""
        return self.start_ns + self._frame * 1_000_000_000 // self.params.sample_rate

    def run_blocks(self, blocks: int = 1) -> None:
        """Process ``blocks`` blocks now."""
        if not self._running:
            raise RuntimeError("the offline stream is not started")
        p = self.params
        for _ in range(blocks):
            if self.input_source is not None:
                self.input_source(self._frame, self._in)
            else:
                self._in.fill(0.0)
            skipped = self._dropouts.pop(self._frame, None)
            if skipped is not None:
                self._frame += skipped  # the device ran on: host time with it
            self._process(self._in, self._out, p.blocksize, self.host_ns, skipped is not None, skipped or 0)
            self._frame += p.blocksize



class SoundDeviceBackend(Backend):
    """Any PortAudio device through sounddevice (JACK, ALSA, CoreAudio, WASAPI…).

    Parameters
    ----------
    device : int or str, optional
        A sounddevice device id or (part of) its name; the default device if None.
    latency : str or float
        PortAudio's suggested latency ("low" by default).
    """

    name = "sounddevice"

    def __init__(self, *, device: int | str | None = None, latency: str | float = "low") -> None:
        self.device = device
        self.latency = latency
        self._stream = None
        self._process: ProcessFn | None = None
        self._stopping = False
        self._t0_s: float | None = None  # PortAudio stream time of the first block
        self._leads = [0.0] * _LEAD_WINDOW  # recent leads of stream time over our frame count
        self._leads_seen = 0
        self._before_min = 0.0
        self._after_min = 0.0
        self._after_left = 0  # blocks still to watch after an xrun
        self._frames_done = 0
        self._rate = 48_000

    def open(self, process, *, sample_rate, blocksize, channels_in, channels_out):
        sd = _import_sounddevice()
        self._process = process
        try:
            info = sd.query_devices(self.device, kind="output") if channels_out else None
            if channels_in:
                sd.query_devices(self.device, kind="input")
        except (ValueError, sd.PortAudioError) as exc:
            raise AudioDeviceError(_no_device_sentence(self.device, exc)) from None
        device_rate = int(info["default_samplerate"]) if info else sample_rate
        hostapi = sd.query_hostapis(info["hostapi"])["name"] if info else ""
        if "JACK" in hostapi and device_rate != sample_rate:
            raise AudioDeviceError(
                f"The JACK server runs at {device_rate} Hz but Tandem needs {sample_rate} Hz; "
                f"restart JACK at {sample_rate} Hz (jackd ... -r {sample_rate})."
            )
        try:
            self._stream = sd.Stream(
                samplerate=sample_rate, blocksize=blocksize, device=self.device,
                channels=(channels_in, channels_out), dtype="float32",
                latency=self.latency, callback=self._callback,
                finished_callback=self._finished, dither_off=True,
            )
        except sd.PortAudioError as exc:
            raise AudioDeviceError(
                f"The audio device {info['name']!r} refused {sample_rate} Hz with blocks of "
                f"{blocksize} frames ({exc}); try another --blocksize or the device's own rate "
                f"({device_rate} Hz)."
            ) from None
        self._rate = int(self._stream.samplerate)
        in_lat, out_lat = self._stream.latency
        self.params = StreamParams(
            int(self._stream.samplerate), int(self._stream.blocksize), channels_in, channels_out,
            int(round(in_lat * sample_rate)), int(round(out_lat * sample_rate)),
            f"{info['name']} ({hostapi})",
        )
        return self.params

    def _callback(self, indata, outdata, frames, time_info, status) -> None:
        host_ns = time.monotonic_ns()
        skipped = self._dropout(frames, time_info, status)
        self._frames_done += frames
        self._process(indata, outdata, frames, host_ns, bool(status), skipped)

    def _dropout(self, frames: int, time_info, status) -> int:
        """Frames the device ran on without calling us before this block (0 almost always)."""
        # Frames the device played while we were not called (a dropout): its stream
        # time ran on. PortAudio's stream time is "now" within the device's cycle, a
        # little after the cycle started, and that lead jitters by a millisecond or
        # so from block to block; its minimum over many blocks is steady. So after a
        # reported xrun, the minimum lead over the next blocks is compared with the
        # minimum before it, and a difference of whole blocks is a dropout: the clock
        # then jumps by it (the blocks in between went out that much late).
        skipped = 0
        now_s = time_info.outputBufferDacTime or time_info.currentTime
        if now_s > 0.0:
            if self._t0_s is None:
                self._t0_s = now_s
            lead = (now_s - self._t0_s) * self._rate - self._frames_done
            if self._after_left > 0:
                self._after_min = min(self._after_min, lead)
                self._after_left -= 1
                if self._after_left == 0:
                    jump = round((self._after_min - self._before_min) / frames) * frames
                    if jump > 0:
                        skipped = jump
                        self._frames_done += jump
            elif status and self._leads_seen >= _LEAD_WINDOW:
                self._before_min = min(self._leads)
                self._after_min = lead
                self._after_left = _LEAD_WINDOW
            else:
                self._leads[self._leads_seen % _LEAD_WINDOW] = lead
                self._leads_seen += 1
        return skipped

    def _finished(self) -> None:
        if not self._stopping:
            self.failed = "The audio stream stopped on its own: the device was unplugged or its server went away."
            if self.on_failure is not None:
                self.on_failure()

    def start(self) -> None:
        self._stopping = False
        self.failed = None
        self._t0_s = None
        self._leads_seen = 0
        self._after_left = 0
        self._frames_done = 0
        try:
            self._stream.start()
        except Exception as exc:  # PortAudioError, or the device vanished between open and start
            raise AudioDeviceError(f"The audio device could not start ({exc}); check that it is connected.") from None

    def stop(self) -> None:
        if self._stream is not None and not self._stream.closed:
            self._stopping = True
            try:
                self._stream.stop()
            except Exception:
                pass  # the device may already be gone; stopping must never fail

    def close(self) -> None:
        if self._stream is not None:
            self.stop()
            try:
                self._stream.close()
            except Exception:
                pass
            self._stream = None


def _import_sounddevice():
    try:
        import sounddevice as sd  # it scans PortAudio's host APIs at import: only when a device is used
    except OSError:
        raise AudioDeviceError(
            "The PortAudio library is missing; install it (Debian/Ubuntu: apt install libportaudio2) "
            "or use the offline backend."
        ) from None
    return sd


def _no_device_sentence(device, exc) -> str:
    which = "the default audio device" if device is None else f"the audio device {device!r}"
    return (f"Tandem cannot find {which} ({exc}); plug in a sound card or headset, "
            f"or list devices with `tandem devices`.")


BACKENDS: dict[str, Callable[..., Backend]] = {
    "offline": OfflineBackend,
    "sounddevice": SoundDeviceBackend,
}


def make_backend(name: str, **kwargs) -> Backend:
    """A backend by name: ``offline``, ``sounddevice``, or ``module:Class`` (e.g. the JACK MIDI backend)."""
    if ":" in name:
        module, _, cls = name.partition(":")
        return getattr(importlib.import_module(module), cls)(**kwargs)
    try:
        factory = BACKENDS[name]
    except KeyError:
        raise ConfigError(f"Unknown audio backend {name!r}; use one of: {', '.join(BACKENDS)}.") from None
    return factory(**kwargs)
