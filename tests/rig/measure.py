"""Measuring the engine on the JACK rig, frame-exact, shared by rig tests and benchmarks.

Two clocks meet here: the engine's stream clock (frames since its first block)
and JACK's frame clock (the virtual child's). :class:`JackFrameProbe` relates
them exactly: it is the engine's sounddevice backend plus one read of JACK's
``last_frame_time`` (the current cycle's first frame) in each of the first
blocks, so ``T0`` = the JACK frame of stream frame 0. With it, a cue scheduled
at stream frame F and heard by the virtual child at JACK frame H has an
output-path offset ``H − (F + T0)``, and an impulse the child plays into the
engine at JACK frame J and found in the input ring at stream frame E has an
input-path offset ``E − (J − T0)``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from engine.audio.backends import SoundDeviceBackend
from engine.audio.engine import AudioEngine
from engine.audio.sound import Sound

__all__ = [
    "JackFrameProbe",
    "RigEngine",
    "click",
    "open_engine",
    "jack_system_device",
]

_PROBE_BLOCKS = 64


class JackFrameProbe(SoundDeviceBackend):
    """The sounddevice backend, plus JACK's cycle frame at the first blocks (test instrumentation)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        import jack

        self._jack = jack.Client("tandem-frame-probe", no_start_server=True)
        self._stream_frames = 0
        self._samples: list[tuple[int, int] | None] = [None] * _PROBE_BLOCKS
        self._n = 0

    def _callback(self, indata, outdata, frames, time_info, status) -> None:
        if self._n < _PROBE_BLOCKS:
            self._samples[self._n] = (self._stream_frames, self._jack.last_frame_time)
            self._n += 1
        self._stream_frames += frames
        super()._callback(indata, outdata, frames, time_info, status)

    def info(self) -> dict:
        return {"t0": self.t0, "probe_blocks": self._n}

    @property
    def t0(self) -> int:
        """JACK frame of stream frame 0.

        With blocks smaller than JACK's period, PortAudio calls back several
        times per cycle; the first call of a cycle gives the true offset and
        the later ones smaller values, hence the max.
        """
        samples = [s for s in self._samples[: self._n] if s is not None]
        if not samples:
            raise RuntimeError("the stream has not run yet")
        return max(lft - frame for frame, lft in samples)

    def close(self) -> None:
        super().close()
        try:
            self._jack.close()
        except Exception:
            pass


def jack_system_device() -> int:
    """sounddevice's index of JACK's "system" device."""
    import sounddevice as sd

    for d in sd.query_devices():
        api = sd.query_hostapis(d["hostapi"])["name"]
        if "JACK" in api and d["name"] == "system":
            return d["index"]
    raise RuntimeError("PortAudio sees no JACK 'system' device: is the rig's jackd running?")


def click(rate: int = 48_000, *, amplitude: float = 0.5, decay_ms: float = 3.0) -> Sound:
    """A test click: full amplitude on its first sample, then a short decay (attack at 0)."""
    n = int(rate * decay_ms * 4 / 1000)
    data = (amplitude * np.exp(-np.arange(n) / (rate * decay_ms / 1000))).astype(np.float32)
    return Sound("test-click", data, rate)


@dataclass
class RigEngine:
    engine: AudioEngine
    t0: int  # JACK frame of stream frame 0
    out_port: str
    in_port: str

    def close(self) -> None:
        self.engine.close()


def open_engine(child, *, blocksize: int = 128, backend: str = "tests.rig.measure:JackFrameProbe",
                **engine_kwargs) -> RigEngine:
    """Start an engine on the rig's JACK server and wire it to the virtual child.

    The engine runs as in a session: its core in an audio process of its
    own, by default with the :class:`JackFrameProbe` backend (any backend
    whose ``info()`` reports ``t0`` will do, e.g. the JACK MIDI backend).
    The child's ear hears the engine's left output; its hand plays into the engine's input (the
    dummy capture port stays connected too; it is silent).
    """
    eng = AudioEngine(backend=backend, backend_options={"device": jack_system_device()},
                      blocksize=blocksize, channels_in=1, channels_out=2, **engine_kwargs)
    eng.start()
    deadline = time.monotonic() + 10
    while eng.now_frame < 8 * blocksize or eng.backend_info().get("t0") is None:
        if time.monotonic() > deadline:
            eng.close()
            raise RuntimeError("the engine's stream did not start on the rig")
        time.sleep(0.01)
    t0 = eng.backend_info()["t0"]
    # The audio process's PortAudio client is "PortAudio-NN" when this process has one too,
    # and PortAudio numbers ports on, stream after stream (in_1, out_2, out_3 for the second).
    ports = child.port_names(r"PortAudio.*:(in|out)_")
    outs = sorted((p for p in ports if ":out_" in p), key=lambda p: int(p.rsplit("_", 1)[1]))
    ins = [p for p in ports if ":in_" in p]
    if len(outs) != 2 or len(ins) != 1:
        eng.close()
        raise RuntimeError(f"expected one PortAudio stream on the rig (2 out, 1 in), found ports {ports}")
    child.connect(outs[0], child.ear_port)
    child.connect(child.hand_port, ins[0])
    return RigEngine(eng, t0, outs[0], ins[0])


def wait_until_stream_frame(rig: RigEngine, frame: int, *, timeout_s: float = 30.0) -> None:
    """Poll (coarse sleeps) until the engine has rendered past ``frame``."""
    deadline = time.monotonic() + timeout_s
    while rig.engine.now_frame <= frame:
        rig.engine.check()
        if time.monotonic() > deadline:
            raise TimeoutError(f"the engine did not reach frame {frame} (at {rig.engine.now_frame})")
        time.sleep(0.005)


def match_nearest(expected: list[int], found: list[int], *, max_distance: int) -> list[int | None]:
    """For each expected frame, the nearest found frame within ``max_distance`` (or None)."""
    found_arr = np.asarray(sorted(found), dtype=np.int64)
    out: list[int | None] = []
    for e in expected:
        if found_arr.size == 0:
            out.append(None)
            continue
        i = int(np.searchsorted(found_arr, e))
        cands = [found_arr[j] for j in (i - 1, i) if 0 <= j < found_arr.size]
        best = min(cands, key=lambda f: abs(int(f) - e))
        out.append(int(best) if abs(int(best) - e) <= max_distance else None)
    return out


def measure_input_offsets(rig: RigEngine, child, *, impulses: int = 10, spacing_frames: int = 4800) -> list[int | None]:
    """Input path: the child plays impulses at JACK frames J; where does the engine's ring have them?

    Returns ``E − (J − T0)`` per impulse (None if not found).
    """
    eng = rig.engine
    imp = np.zeros(64, np.float32)
    imp[0] = 0.5
    start_j = child.frame_time() + 9600  # 200 ms ahead
    js = [start_j + k * spacing_frames for k in range(impulses)]
    for j in js:
        child.play_audio(j, imp)
    last_stream = js[-1] - rig.t0 + 4800
    wait_until_stream_frame(rig, last_stream)
    first = js[0] - rig.t0 - 2400
    block = eng.input_ring.read(first, last_stream - first)[:, 0]
    found = (np.flatnonzero(np.abs(block) >= 0.25) + first).tolist()
    onsets = [f for k, f in enumerate(found) if k == 0 or f - found[k - 1] > 100]
    matched = match_nearest([j - rig.t0 for j in js], onsets, max_distance=1200)
    return [None if m is None else m - (j - rig.t0) for m, j in zip(matched, js)]


def schedule_cues(rig: RigEngine, sound: Sound, frames: list[int], *, lookahead_frames: int = 9600,
                  on_idle=None) -> None:
    """Schedule cues at stream ``frames`` as the stream advances (look-ahead scheduling)."""
    eng = rig.engine
    k = 0
    while k < len(frames):
        horizon = eng.now_frame + lookahead_frames
        while k < len(frames) and frames[k] < horizon:
            eng.play(sound, frames[k], gain=1.0, pan=-1.0)  # left only: the ear hears out_0
            k += 1
        if on_idle is not None:
            on_idle()
        eng.check()
        time.sleep(0.01)


def cue_offsets(rig: RigEngine, child, frames: list[int], *, heard: list[int] | None = None,
                max_distance: int = 1200) -> list[int | None]:
    """Output path: ``H − (F + T0)`` for each cue scheduled at stream frame F (None if unheard).

    ``heard`` is the child's onsets (JACK frames) if already collected; asked for if None.
    """
    if heard is None:
        heard = child.heard_onsets()
    matched = match_nearest([f + rig.t0 for f in frames], heard, max_distance=max_distance)
    return [None if h is None else h - (f + rig.t0) for h, f in zip(matched, frames)]
