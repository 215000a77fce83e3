"""Players for live sessions on the rig: the virtual child answering what it hears (tests and benchmarks)."""

from __future__ import annotations

import threading
import time

import numpy as np

from tests.fixture_files import script_text

__all__ = ["MARCH", "NOTE", "EchoingChild"]

NOTE = 38  # the pad the child plays (GM acoustic snare)

#: benchmarks.latency's march (tests/fixtures/scripts/rig-march.toml), its length left as ``{length}``:
#: ``trials = N`` or ``duration_min = M``. Tests take the fixture itself: ``script_text("rig-march", trials=N)``.
MARCH = "{length}\n" + script_text("rig-march", trials=None)


class EchoingChild:
    """Plays every onset the virtual child hears back ``delay_s`` later (frame-exact).

    On its MIDI pad, or with ``mic=True`` as a tap (a short noise burst) into the engine's input.
    ``ignore_own_ms``: a sound heard within that long after one of its own taps is the engine's feedback
    for that tap (a script with a feedback sound), not something to echo.
    """

    def __init__(self, child, delay_s: float, *, mic: bool = False, ignore_own_ms: float | None = None) -> None:
        self.child = child
        self.mic = mic
        self.ignore = None if ignore_own_ms is None else round(ignore_own_ms * child.rate / 1000)
        self.rng = np.random.default_rng(7)
        self.delay = round(delay_s * child.rate)
        self.heard: list[int] = []
        self.sent: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> EchoingChild:
        self.child.heard_onsets(clear=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        child = self.child
        # `tandem run` opens its own stream: once its output exists, the child's ear listens to it.
        deadline = time.monotonic() + 10
        while not (outs := child.port_names(r"PortAudio.*:out_")) and time.monotonic() < deadline:
            if self._stop.wait(0.01):
                return
        if not outs:
            return
        child.connect(min(outs), child.ear_port)  # out_0: the left channel
        if self.mic:
            ins = child.port_names(r"PortAudio.*:in_")
            if not ins:
                return
            child.connect(child.hand_port, min(ins))
        while not self._stop.wait(0.01):
            heard = child.heard_onsets(clear=True)
            if not heard:
                continue
            if self.ignore is not None:
                heard = [h for h in heard if not any(0 <= h - t <= self.ignore for t in self.sent)]
            self.heard += heard
            taps = [h + self.delay for h in heard]
            self.sent += taps
            if self.mic:
                n = 1200  # 25 ms of decaying noise: a clap or a tap on a table
                for f in taps:
                    burst = 0.3 * self.rng.standard_normal(n) * np.exp(-np.arange(n) / 240)
                    child.play_audio(f, burst.astype(np.float32))
            else:
                child.send_midi_many([(f, bytes([0x99, NOTE, 96])) for f in taps]
                                     + [(f + 2000, bytes([0x89, NOTE, 0])) for f in taps])
