"""MIDI out on the engine's clock, without a MIDI system: due times, order, drops, hot-plug."""

from __future__ import annotations

import random
import threading
import time

import pytest

from engine.audio.backends import OfflineBackend
from engine.audio.engine import AudioEngine
from engine.events import StatusEvent
from engine.midi import sender
from engine.midi.sender import MidiOutput
from tests.test_midi_live import FakeBusPort, FakeScanner

RATE = 48_000
BLOCK = 128


class FakeOutPort(FakeBusPort):
    """Stands in for an OutputPort: records what is sent and when."""

    kind = "output"

    def __init__(self, part: str, bus: list[str]):
        super().__init__(part, bus)
        self.sent: list[tuple[int, bytes]] = []  # (monotonic ns just before sending, message)
        self.on: set[tuple[int, int]] = set()
        self.all_sent = threading.Event()
        self.expect = -1
        self.panics = 0

    def send(self, data) -> bool:
        self.sent.append((time.monotonic_ns(), bytes(data)))
        if len(self.sent) == self.expect:
            self.all_sent.set()
        return True

    def notes_on(self):
        return set(self.on)

    def panic(self) -> None:
        self.panics += 1


def make_engine(*, start_ns=0, latency_out=0) -> AudioEngine:
    eng = AudioEngine(backend=OfflineBackend(start_ns=start_ns, latency_frames=(0, latency_out)),
                      blocksize=BLOCK, channels_in=0, channels_out=1)
    eng.start()
    eng.backend.run_blocks(4)
    return eng


def make_output(eng, bus=None, **kw) -> MidiOutput:
    mo = MidiOutput(eng, "Synth", api=3, **kw)  # api given: no probe at construction
    mo.port = FakeOutPort("Synth", ["Synth MIDI 1"] if bus is None else bus)
    return mo


# ---------------------------------------------------------------- due times


def test_a_message_is_due_when_a_sound_at_its_frame_is_heard_minus_the_device_latency():
    eng = make_engine(start_ns=3_000_000_000, latency_out=96)
    mo = make_output(eng, latency_ms=2.5)
    for frame in (0, 1000, 48_000, 123_457):
        due = mo.due_ns(frame)
        assert due == int(eng.clock_map.host_ns_at(frame + 96)) - 2_500_000
        # The offline clock is exact: frame f is heard at start + (f + 96) / rate.
        assert abs(due - (3_000_000_000 + (frame + 96) * 1e9 / RATE - 2_500_000)) < 1_000
    plain = make_output(eng, align_to_audio=False)
    assert plain.due_ns(48_000) == int(eng.clock_map.host_ns_at(48_000))
    assert mo.due_ns(48_000) - plain.due_ns(48_000) == pytest.approx(2_000_000 - 2_500_000, abs=2)
    eng.close()


def test_before_the_stream_runs_there_is_no_due_time():
    eng = AudioEngine(backend="offline", blocksize=BLOCK, channels_in=0)
    with pytest.raises(RuntimeError):
        make_output(eng).due_ns(0)
    eng.close()


# ---------------------------------------------------------------- scheduling


def test_notes_and_messages_are_checked():
    eng = make_engine()
    mo = make_output(eng)
    for bad in (dict(note=128), dict(velocity=0), dict(velocity=128), dict(channel=16), dict(note=-1)):
        args = dict(note=60, velocity=100, channel=0) | bad
        with pytest.raises(ValueError):
            mo.note(0, args["note"], velocity=args["velocity"], channel=args["channel"], duration_frames=10)
    for bad in (b"", bytes([60, 100]), [0x3C]):
        with pytest.raises(ValueError, match="status"):
            mo.send_at(0, bad)
    assert mo.pending == 0
    mo.note(500, 60, velocity=90, channel=2, duration_frames=0)  # an off at least one frame after the on
    assert sorted(mo._heap)[0][::2] == (500, bytes([0x92, 60, 90]))
    assert sorted(mo._heap)[1][::2] == (501, bytes([0x82, 60, 0]))
    eng.close()


def test_clear_drops_the_schedule_and_turns_off_what_is_on():
    eng = make_engine()
    mo = make_output(eng)
    mo.port.open()
    mo.port.on = {(0, 60), (9, 38)}
    mo.note(10_000, 64, duration_frames=100)
    mo.clear()
    assert mo.pending == 0
    assert [m for _, m in mo.port.sent] == [bytes([0x80, 60, 0]), bytes([0x89, 38, 0])]
    eng.close()


def run_sender(monkeypatch, mo, bus):
    scanner = FakeScanner(bus)
    monkeypatch.setattr(sender, "_open_client", lambda kind, api, name: scanner)
    mo.start()
    return scanner


def test_messages_scheduled_out_of_order_are_sent_in_frame_order(monkeypatch):
    # Due a few ms to ~40 ms from now, on the host clock.
    eng = make_engine(start_ns=time.monotonic_ns())
    mo = make_output(eng, retry_s=60.0)
    base = eng.now_frame + 480
    frames = [base + 96 * k for k in range(20)]
    order = list(range(20))
    random.Random(7).shuffle(order)
    for k in order:
        mo.send_at(frames[k], bytes([0x90, 40 + k, 100]))
    mo.send_at(frames[3], bytes([0x80, 43, 0]))  # same frame as an earlier-scheduled message: after it
    mo.port.expect = 21
    scanner = run_sender(monkeypatch, mo, ["Synth MIDI 1"])
    assert mo.port.all_sent.wait(10.0)
    mo.stop()
    sent = [m for _, m in mo.port.sent]
    want = [bytes([0x90, 40 + k, 100]) for k in range(20)]
    want.insert(4, bytes([0x80, 43, 0]))
    assert sent == want
    assert [f for f, _, _ in mo.sent] == sorted(frames + [frames[3]])
    # Never early: each went out at or after its due time (the spin ends there).
    assert all(sent_ns >= due for _, due, sent_ns in mo.sent)
    assert all(t >= mo.due_ns(f) for (t, _), f in zip(mo.port.sent, sorted(frames + [frames[3]])))
    assert mo.dropped == 0 and mo.pending == 0
    assert mo.port.closed == 1 and scanner.deleted == 1
    eng.close()


def test_an_earlier_message_scheduled_while_waiting_goes_first_and_stop_drops_the_rest(monkeypatch):
    eng = make_engine(start_ns=time.monotonic_ns())
    mo = make_output(eng, retry_s=60.0)
    now = eng.now_frame
    mo.send_at(now + 30 * RATE, bytes([0x90, 100, 1]))  # 30 s ahead: never due during this test
    mo.port.expect = 2
    run_sender(monkeypatch, mo, ["Synth MIDI 1"])
    mo.send_at(now + 960, bytes([0x90, 61, 100]))
    mo.send_at(now + 480, bytes([0x90, 60, 100]))
    assert mo.port.all_sent.wait(10.0)
    assert mo.pending == 1
    mo.stop()
    mo.stop()  # safe twice
    assert [m for _, m in mo.port.sent] == [bytes([0x90, 60, 100]), bytes([0x90, 61, 100])]
    assert mo.pending == 0
    eng.close()


def test_messages_already_due_go_out_at_once_and_are_counted_late(monkeypatch):
    eng = make_engine(start_ns=0)  # host time 0: every frame was due long ago
    mo = make_output(eng, retry_s=60.0)
    for k in (3, 1, 2):
        mo.send_at(1000 * k, bytes([0xB0, 7, k]))
    mo.port.expect = 3
    run_sender(monkeypatch, mo, ["Synth MIDI 1"])
    assert mo.port.all_sent.wait(10.0)
    mo.stop()
    assert [m[2] for _, m in mo.port.sent] == [1, 2, 3]
    assert mo.late == 3 and mo.dropped == 0
    eng.close()


# ---------------------------------------------------------------- a device that goes away


def test_messages_due_while_the_device_is_away_are_dropped_and_counted():
    eng = make_engine()
    mo = make_output(eng)
    mo._send(1000, mo.due_ns(1000), bytes([0x90, 60, 100]))  # closed port
    assert mo.dropped == 1 and mo.port.sent == [] and len(mo.sent) == 0
    mo.port.open()
    mo._send(1000, mo.due_ns(1000), bytes([0x90, 60, 100]))
    assert mo.dropped == 1 and len(mo.port.sent) == 1 and list(mo.sent)[0][0] == 1000
    eng.close()


def test_a_vanished_output_is_logged_and_comes_back():
    bus = ["Synth MIDI 1"]
    eng = make_engine()
    heard = []
    mo = make_output(eng, bus, on_event=heard.append)
    mo.port.open()
    mo._scanner = FakeScanner(bus)
    mo._check_device()
    assert list(mo.events) == []
    bus.clear()
    mo._check_device()
    (lost,) = mo.events
    assert isinstance(lost, StatusEvent) and lost.what == "device_lost" and lost.frame == eng.now_frame
    assert lost.detail == {"kind": "midi_out", "port": "Synth MIDI 1"}
    assert not mo.port.is_open and mo.port.closed == 1 and mo.lost == 1
    mo._check_device()
    assert len(mo.events) == 1
    eng.backend.run_blocks(2)
    bus.append("Synth MIDI 1")
    mo._check_device()
    assert mo.events[-1].what == "device_back" and mo.events[-1].frame == eng.now_frame
    assert mo.port.panics == 1, "a device that is back is silenced first (notes held when it went away)"
    assert mo.port.is_open and mo.port.opened == 2
    assert heard == list(mo.events)
    eng.close()


def test_an_output_back_under_a_new_client_number_is_found():
    bus = ["Synth:Synth MIDI 1 20:0"]
    eng = make_engine()
    mo = make_output(eng, bus)
    mo.port.open()
    mo._scanner = FakeScanner(bus)
    bus.clear()
    mo._check_device()
    bus.append("Synth:Synth MIDI 1 24:0")
    mo._check_device()
    assert mo.port.is_open and mo.events[-1].what == "device_back"
    eng.close()
