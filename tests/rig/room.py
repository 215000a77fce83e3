"""The virtual room: a JACK client that returns the engine's output to its input, and a pad in it.

Calibration's truth on the rig. The room is the virtual child (same process
machinery, same ports, same commands: :mod:`tests.rig.child`) with a room
added to its process callback:

- **delay line**: what the room's ``ear`` hears (the engine's output) comes
  out of its ``hand`` (into the engine's input) exactly ``delay_frames``
  later, plus a quieter copy (``echo_gain``, default −12 dB) ``echo_frames``
  after that (a reflection) and white noise of RMS ``noise_rms`` (the room
  and the microphone);
- **pad**: :meth:`VirtualRoom.pad_hits` sends a note-on on ``midi_out`` at
  JACK frame J and plays a drum-like hit into ``hand`` at J + K, as a drum
  pad whose MIDI leaves K frames before its stick is heard.

Frame conventions are the child's: frame ``t + i`` is sample ``i`` of the
cycle whose ``last_frame_time`` is ``t``; the callback reads ``ear`` before
it writes ``hand``, so ``delay_frames = 0`` passes a frame through in the
same cycle. The round trip the engine should measure is then exactly
``output path + delay_frames + input path``, where both paths are measured
independently with the child's tools (:func:`tests.rig.measure.cue_offsets`
and :func:`tests.rig.measure.measure_input_offsets`).

The delay line runs in the room's own process, in preallocated arrays; its
settings change atomically (one tuple) between cycles.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from multiprocessing.connection import Connection

import numpy as np

from tests.rig import child as _child
from tests.rig.child import VirtualChild, VirtualChildError

__all__ = ["VirtualRoom", "calibrate_in_room", "pad_hit"]

_NOISE_SECONDS = 1


def pad_hit(rate: int = 48_000, *, amplitude: float = 0.5, echo_gain: float = 0.25,
            echo_ms: float = 4.0, seed: int = 11) -> np.ndarray:
    """A drum-pad hit as a microphone hears it: full attack at sample 0, a thump and a rattle
    decaying over ~40 ms, and its own reflection ``echo_ms`` later (float32)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(0.06 * rate))
    x = (rng.standard_normal(t.size) * np.exp(-t / (0.004 * rate))
         + np.sin(2 * np.pi * 160 * t / rate) * np.exp(-t / (0.015 * rate)))
    x[0] = 2.0 * np.abs(x).max()  # the stick's contact: the onset, to the sample
    e = int(echo_ms * rate / 1000)
    x[e:] += echo_gain * x[: x.size - e]
    return (amplitude * x / np.abs(x).max()).astype(np.float32)


class VirtualRoom(VirtualChild):
    """Parent-side handle of the room process (a :class:`VirtualChild` with a room in it).

    Parameters
    ----------
    server_name : str
        The rig's JACK server.
    name : str
        JACK client name (its MIDI port is ``f"{name}:midi_out"``).
    max_delay_frames : int
        Longest delay (plus echo) the delay line holds.
    """

    def __init__(self, server_name: str, *, name: str = "virtual-room", max_delay_frames: int = 48_000,
                 **kwargs) -> None:
        super().__init__(server_name, name=name, **kwargs)
        self.max_delay_frames = int(max_delay_frames)

    def start(self) -> VirtualRoom:
        """Start the room process (the child's, with the room's engine) and wait until it runs."""
        if self._proc is not None:
            return self
        parent_sock, child_sock = socket.socketpair()
        config = {"server_name": self.server_name, "name": self.name, "threshold": self.threshold,
                  "quiet_frames": self.quiet_frames, "record_seconds": self.record_seconds,
                  "max_delay_frames": self.max_delay_frames}
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_child._IMPORT_ROOT, env.get("PYTHONPATH")) if p)
        proc = subprocess.Popen(
            [sys.executable, "-c", f"import tests.rig.room as r; r._room_main({child_sock.fileno()})"],
            pass_fds=(child_sock.fileno(),), env=env, stdin=subprocess.DEVNULL,
        )
        child_sock.close()
        self._proc, self._conn = proc, Connection(parent_sock.detach())
        _child._LIVE_CHILDREN.add(self)
        try:
            self._conn.send(config)
            if not self._conn.poll(_child._START_TIMEOUT_S):
                raise VirtualChildError(f"virtual room {self.name!r} did not start in time")
            kind, payload = self._conn.recv()
            if kind != "ready":
                raise VirtualChildError(f"virtual room {self.name!r} failed to start:\n{payload}")
        except BaseException as exc:
            self.close()
            if isinstance(exc, (EOFError, OSError)):
                raise VirtualChildError(f"virtual room {self.name!r} exited during start-up") from exc
            raise
        self.rate, self.blocksize = payload["rate"], payload["blocksize"]
        self.ear_port, self.hand_port = payload["ear"], payload["hand"]
        self.midi_port, self.midi_ear_port = payload["midi_out"], payload["midi_ear"]
        return self

    def set_room(self, *, delay_frames: int, noise_rms: float = 0.0, echo_gain: float = 0.25,
                 echo_frames: int = 240) -> None:
        """Set the delay line: ``hand`` = ``ear`` ``delay_frames`` ago + ``echo_gain`` × ``ear``
        ``delay_frames + echo_frames`` ago + noise of RMS ``noise_rms``."""
        if delay_frames < 0 or echo_frames < 0 or delay_frames + echo_frames > self.max_delay_frames:
            raise ValueError(f"delay {delay_frames} + echo {echo_frames} frames must be within "
                             f"0..{self.max_delay_frames}")
        self._call("room", int(delay_frames), float(noise_rms), float(echo_gain), int(echo_frames))

    def room_off(self) -> None:
        """No delay line: ``hand`` carries only what is played on it (the child's behaviour)."""
        self._call("room_off")

    def pad_hits(self, jack_frames: list[int], *, sound_after_frames: int, hit: np.ndarray,
                 note: int = 38) -> None:
        """The pad: a note-on at each JACK frame J, its ``hit`` into the room at J + ``sound_after_frames``."""
        self.send_midi_many([(j, bytes([0x99, note, 100])) for j in jack_frames])
        for j in jack_frames:
            self.play_audio(j + sound_after_frames, hit)


def _room_main(fd: int) -> None:
    """Entry point of the room process: the child's, with the room's engine class."""
    _child._ChildEngine = _RoomEngine  # this process only: here the child is a room
    _child._child_main(fd)


class _RoomEngine(_child._ChildEngine):
    """The child's JACK client plus the delay line (runs in the room process)."""

    def __init__(self, *, max_delay_frames: int, **config) -> None:
        super().__init__(**config)
        self._line = np.zeros(max_delay_frames + 8192, dtype=np.float32)  # ear, by absolute frame
        self._scratch = np.zeros(8192, dtype=np.float32)
        self._noise = np.random.default_rng(2).standard_normal(_NOISE_SECONDS * self.rate).astype(np.float32)
        self._room = (0, 0.0, 0.0, 0)  # delay, noise RMS, echo gain, echo frames: swapped whole
        self._room_on = False

    def _cmd_room(self, delay: int, noise: float, echo_gain: float, echo: int) -> None:
        self._room = (delay, noise, echo_gain, echo)
        self._room_on = True

    def _cmd_room_off(self) -> None:
        self._room_on = False

    def _process(self, frames: int) -> None:
        super()._process(frames)  # ear heard and recorded, hand = scheduled sounds, MIDI out
        if not self._room_on:
            return
        try:
            t = self.client.last_frame_time
            self._room_cycle(t, self._ear.get_array(), self._hand.get_array(), frames)
        except Exception:  # noqa: BLE001 - counted as the child counts its own
            self._callback_errors += 1

    def _room_cycle(self, t: int, ear: np.ndarray, hand: np.ndarray, frames: int) -> None:
        delay, noise, echo_gain, echo = self._room
        line = self._line
        size = line.size
        pos = t % size  # the ear goes in first: a delay of 0 passes this very cycle through
        first = min(frames, size - pos)
        line[pos:pos + first] = ear[:first]
        if first < frames:
            line[: frames - first] = ear[first:frames]
        self._add_from(line, t - delay, 1.0, hand, frames)
        if echo_gain:
            self._add_from(line, t - delay - echo, echo_gain, hand, frames)
        if noise:
            self._add_from(self._noise, t, noise, hand, frames)

    def _add_from(self, ring: np.ndarray, start: int, gain: float, out: np.ndarray, frames: int) -> None:
        """``out += gain × ring[start .. start + frames)`` (indices modulo the ring), without allocating."""
        size = ring.size
        scratch = self._scratch[:frames]
        pos = start % size
        first = min(frames, size - pos)
        np.multiply(ring[pos:pos + first], gain, out=scratch[:first])
        if first < frames:
            np.multiply(ring[: frames - first], gain, out=scratch[first:frames])
        np.add(out, scratch, out=out)


# ---------------------------------------------------------------------------
# Calibration against the room's truth (shared by the rig test and the benchmark)
# ---------------------------------------------------------------------------


class RigUnsteady(RuntimeError):
    """The truth could not be measured: the rig's own path changed (an xrun) while it was measured."""


def calibrate_in_room(room: VirtualRoom, *, delay_frames: int, transport: str = "jack",
                      sound_after_frames: int = 240, noise_rms: float = 0.003, echo_gain: float = 0.25,
                      echo_frames: int = 240, taps: int = 12, ioi_ms: float = 400.0, blocksize: int = 128,
                      midi: bool = True) -> dict:
    """Open an engine in the room, measure the truth, run calibration, compare; one result row.

    The truth: the input path (the room plays impulses into the engine) and the output path (the
    engine plays clicks to the room) are measured with the room's delay line off, each as the
    virtual child measures them; the round trip is then ``output path + delay_frames + input
    path``. For MIDI, each note-on the pad sent at JACK frame J was stamped by the engine at
    ``s``, and its hit is in the engine's input at ``J + K − T0 + input path``. The true offset
    (what calibration measures) is ``−K − input path``, for a stamp exactly at the note's frame
    ``J − T0``; ``midi_latency_error_ms`` is against that, so it includes how the engine stamps
    (``midi_stamp_frames`` = ``s − (J − T0)``: 0 on the frame-exact JACK transport, within a
    period through rtmidi); ``midi_onset_error_ms`` is against the median of ``s − (onset
    frame)`` over the engine's actual stamps: the acoustic onsets' error alone.
    """
    from engine.calibration.procedure import (
        NoteOnCollector,
        measure_midi_offset,
        measure_roundtrip,
    )
    from engine.midi.live import MidiInput
    from tests.rig.measure import match_nearest, measure_input_offsets
    from tests.rig.midi_measure import open_midi_engine, rig_path

    room.room_off()
    rig = open_midi_engine(room, transport, blocksize=blocksize)
    eng = rig.engine
    rate = eng.sample_rate
    ms = 1000.0 / rate
    row: dict = {"delay_frames": delay_frames, "transport": transport, "blocksize": blocksize,
                 "sound_after_frames": sound_after_frames, "noise_rms": noise_rms,
                 "echo_gain": echo_gain, "echo_frames": echo_frames,
                 "reported_input_frames": eng.input_latency_frames,
                 "reported_output_frames": eng.output_latency_frames}
    mi = None
    try:
        xruns0, room0 = eng.xruns, room.stats()["xruns"]
        ins = measure_input_offsets(rig, room, impulses=4)
        if None in ins or len(set(ins)) != 1:
            raise RigUnsteady(f"the rig's input path is not one constant: {ins} (an xrun while it was measured)")
        in_path, out_path = ins[0], rig_path(rig, room)
        truth = out_path + delay_frames + in_path
        row.update(input_path_frames=in_path, output_path_frames=out_path, roundtrip_truth_frames=truth)

        room.set_room(delay_frames=delay_frames, noise_rms=noise_rms, echo_gain=echo_gain, echo_frames=echo_frames)
        rt = measure_roundtrip(eng)
        row["roundtrip"] = rt.to_dict()
        row["roundtrip_error_frames"] = None if rt.latency_frames is None else rt.latency_frames - truth
        row["roundtrip_error_ms"] = None if rt.latency_frames is None else abs(rt.latency_frames - truth) * ms

        if midi and rt.ok:
            collector = NoteOnCollector()
            mi = MidiInput(eng, room.name, transport=transport, feedback=False, on_event=collector)
            mi.start()
            sent: list[int] = []
            hit = pad_hit(rate)

            def play_pad(plan) -> None:
                frames = [plan.taps_from_frame + plan.ioi_frames // 2 + k * plan.ioi_frames + (37 * k) % 128
                          for k in range(plan.taps)]  # on the beat, at every offset within a period
                sent.extend(f + rig.t0 for f in frames)
                room.pad_hits(list(sent), sound_after_frames=sound_after_frames, hit=hit)

            m = measure_midi_offset(eng, collector.frames, roundtrip_frames=rt.latency_frames, on_plan=play_pad,
                                    taps=taps, ioi_ms=ioi_ms)
            mi.stop()
            mi = None  # MidiInput.stop is not safe twice on the JACK transport
            stamps = match_nearest([j - rig.t0 for j in sent], collector.frames(), max_distance=1200)
            pairs = [(s, j) for s, j in zip(stamps, sent) if s is not None]
            stamped_d = [s - (j + sound_after_frames - rig.t0 + in_path) for s, j in pairs]
            d_truth = -sound_after_frames - in_path  # a stamp exactly when the pad sent its note
            row["midi"] = m.to_dict()
            row["midi_taps_sent"], row["midi_taps_stamped"] = len(sent), len(pairs)
            row["midi_stamp_frames"] = sorted({s - (j - rig.t0) for s, j in pairs})
            row["midi_offset_truth_frames"] = d_truth
            row["midi_offset_frames"] = m.offset_frames
            row["midi_latency_error_ms"] = None
            if stamped_d and m.offset_frames is not None:
                # Against the pad: includes how the engine stamps (exact on JACK, ±1 period via rtmidi).
                row["midi_latency_error_ms"] = abs(m.offset_frames - d_truth) * ms
                # Against the engine's own stamps: the acoustic onsets alone.
                row["midi_onset_error_ms"] = abs(m.offset_frames - float(np.median(stamped_d))) * ms
                # What tandem run would apply, and what it should (the same input side for both).
                in_eff_ms = rt.latency_ms - eng.output_latency_frames * ms
                row["midi_latency_ms"] = m.offset_frames * ms + in_eff_ms
                row["midi_latency_truth_ms"] = d_truth * ms + in_eff_ms
        row["xruns"] = (eng.xruns - xruns0) + (room.stats()["xruns"] - room0)
    finally:
        if mi is not None:
            mi.stop()
        room.room_off()
        rig.close()
    return row
