"""Live MIDI input without a MIDI system: stamping, feedback at hit + delay (sample-exact), hot-plug."""

from __future__ import annotations

import queue

import numpy as np
import pytest

from engine.audio.backends import OfflineBackend
from engine.audio.engine import AudioEngine
from engine.audio.sound import Sound
from engine.errors import ConfigError
from engine.events import InputEvent, StatusEvent
from engine.midi import live
from engine.midi.devicemap import DeviceMap
from engine.midi.live import MidiInput, feedback_sounds
from engine.midi.ports import find_port

RATE = 48_000
BLOCK = 128
START_NS = 5_000_000_000  # the offline stream's host time at frame 0
PAD_TOML = """
name = "Test pad"
match = ["test pad"]
makes_own_sound = {own}

[velocity]
curve = "linear"
min = 0.2
max = 1.0

[notes]
38 = {{ role = "snare", sound = "drum:38" }}
42 = {{ role = "hat", sound = "drum:42" }}
50 = {{ role = "tom", sound = "drum:50" }}
"""


def pad_gain(velocity: int) -> float:
    return 0.2 + 0.8 * velocity / 127


def host_ns(frame: float) -> int:
    """The offline stream's host time at ``frame``."""
    return START_NS + round(frame * 1e9 / RATE)


class FakeBusPort:
    """Stands in for an InputPort (or, extended, an OutputPort): a device on a 'bus' of port names
    that can vanish and come back."""

    kind = "input"

    def __init__(self, part: str, bus: list[str]):
        self.part = part
        self.bus = bus
        self.name: str | None = None
        self.messages: queue.SimpleQueue = queue.SimpleQueue()
        self.is_open = False
        self.opened = 0
        self.closed = 0

    def open(self):
        self.name = self.bus[find_port(self.bus, self.part, kind=self.kind)]  # MidiDeviceError when absent
        self.is_open = True
        self.opened += 1
        return self

    def present(self) -> bool:
        return self.is_open and self.name in self.bus

    def close(self):
        if self.is_open:
            self.closed += 1
        self.is_open = False


class FakeScanner:
    def __init__(self, bus: list[str]):
        self.bus = bus
        self.deleted = 0

    def get_ports(self):
        return list(self.bus)

    def delete(self):
        self.deleted += 1


def pad_map(tmp_path, *, own_sound=False) -> DeviceMap:
    path = tmp_path / "pad.toml"
    path.write_text(PAD_TOML.format(own="true" if own_sound else "false"))
    return DeviceMap.load(path)


def impulse(name: str, amp: float) -> Sound:
    data = np.zeros(8, np.float32)
    data[0] = amp
    return Sound(name, data, RATE)


BANK = {"drum:38": impulse("drum:38", 0.5), "drum:42": impulse("drum:42", 0.25)}  # no drum:50


@pytest.fixture
def eng():
    e = AudioEngine(backend=OfflineBackend(start_ns=START_NS), blocksize=BLOCK, channels_in=0, channels_out=1)
    e.start()
    e.backend.run_blocks(20)  # frames 0..2559 rendered: the clock map is running
    yield e
    e.close()


def make_input(eng, device_map, *, bus=None, **kw) -> MidiInput:
    mi = MidiInput(eng, "Test Pad", api=3, device_map=device_map, **kw)  # api given: no probe
    mi.port = FakeBusPort("Test Pad", ["Test Pad MIDI 1"] if bus is None else bus)
    mi.port.open()
    return mi


def output(eng, until_frame: int) -> np.ndarray:
    while eng.now_frame <= until_frame:
        eng.backend.run_blocks(1)
    return eng.output_ring.read(0, eng.output_ring.written)[:, 0]


# ---------------------------------------------------------------- stamping


def test_a_note_on_becomes_an_input_event_at_the_physical_time(eng, tmp_path):
    mi = make_input(eng, pad_map(tmp_path), latency_ms=2.0)  # 96 frames
    arrival = host_ns(2500)
    mi._handle(arrival, bytes([0x99, 38, 100]))
    (ev,) = mi.events
    assert isinstance(ev, InputEvent)
    assert ev.source == "midi" and ev.key == "snare" and ev.note == 38 and ev.velocity == 100
    assert ev.arrival_ns == arrival and ev.arrival_frame == 2500 and ev.frame == 2500 - 96
    assert ev.arrival_frame == round(eng.stamp(arrival))
    assert mi.notes == 1


def test_note_offs_are_midi_off_events_and_control_changes_are_ignored(eng, tmp_path):
    mi = make_input(eng, pad_map(tmp_path))
    mi._handle(host_ns(2400), bytes([0x99, 42, 0]))  # note-on velocity 0
    mi._handle(host_ns(2410), bytes([0x89, 38, 64]))  # note-off
    mi._handle(host_ns(2420), bytes([0xB9, 4, 90]))  # a hi-hat pedal's CC
    assert [(e.source, e.key, e.frame) for e in mi.events] == [("midi-off", "hat", 2400), ("midi-off", "snare", 2410)]
    assert mi.notes == 0 and mi.feedback_played == 0


def test_running_status_hits_share_their_arrival(eng, tmp_path):
    mi = make_input(eng, pad_map(tmp_path))
    mi._handle(host_ns(2300), bytes([0x99, 38, 90, 42, 80, 0xF8, 77, 70]))
    assert [(e.key, e.velocity, e.frame) for e in mi.events] == [
        ("snare", 90, 2300), ("hat", 80, 2300), ("note:77", 70, 2300)]  # 77 is not in the profile
    assert mi.notes == 3


def test_an_exact_arrival_frame_is_used_as_given_and_the_bank_is_not_played_from_here(eng, tmp_path):
    # The JACK transport knows each message's stream frame; its feedback is started in the audio process.
    mi = MidiInput(eng, "Test Pad", api=3, device_map=pad_map(tmp_path), bank=BANK, latency_ms=1.0,
                   transport="jack")
    mi._handle(host_ns(9999), bytes([0x99, 38, 100]), arrival_frame=2600)
    (ev,) = mi.events
    assert (ev.frame, ev.arrival_frame, ev.key, ev.source) == (2600 - 48, 2600, "snare", "midi")
    assert mi.notes == 1 and mi.feedback_played == 0
    assert not output(eng, 3200).any()


def test_the_builtin_gm_profile_names_roles(eng):
    mi = make_input(eng, DeviceMap.builtin("gm-drums"))
    mi._handle(host_ns(2000), bytes([0x99, 38, 100, 42, 100]))
    assert [e.key for e in mi.events] == ["acoustic_snare", "closed_hi_hat"]


def test_a_hit_before_the_stream_runs_has_no_clock_and_is_not_an_event(tmp_path):
    e = AudioEngine(backend=OfflineBackend(start_ns=START_NS), blocksize=BLOCK, channels_in=0, channels_out=1)
    mi = make_input(e, pad_map(tmp_path))
    mi._handle(START_NS, bytes([0x99, 38, 100]))
    assert list(mi.events) == [] and mi.notes == 0
    e.close()


def test_listeners_hear_every_event_and_a_failing_listener_changes_nothing(eng, tmp_path):
    heard = []

    def listener(event):
        heard.append(event)
        raise RuntimeError("a listener bug")

    mi = make_input(eng, pad_map(tmp_path), on_event=listener)
    mi._handle(host_ns(2000), bytes([0x99, 38, 100]))
    mi._handle(host_ns(2010), bytes([0x99, 42, 100]))
    assert heard == list(mi.events) and len(heard) == 2


def test_an_unknown_transport_is_refused(eng, tmp_path):
    with pytest.raises(ConfigError, match="transport"):
        MidiInput(eng, "pad", api=3, transport="carrier-pigeon")


# ---------------------------------------------------------------- feedback sounds


def test_feedback_plays_the_mapped_sound_at_hit_plus_delay_with_the_profile_gain(eng, tmp_path):
    mi = make_input(eng, pad_map(tmp_path), bank=BANK, latency_ms=2.0, feedback_delay_ms=6.0)
    assert mi.feedback_delay_frames == 288 and mi.latency_frames == 96
    mi._handle(host_ns(2500), bytes([0x99, 38, 100]))
    mi._handle(host_ns(2531), bytes([0x99, 42, 127]))
    mi._handle(host_ns(2540), bytes([0x99, 42, 0]))  # the hat's note-off: no sound
    # Hit at arrival - 96, feedback 288 later: 2692 and 2723.
    assert [e.frame for e in mi.events if e.source == "midi"] == [2404, 2435]
    out = output(eng, 3000)
    assert np.flatnonzero(out).tolist() == [2692, 2723]
    assert out[2692] == pytest.approx(0.5 * pad_gain(100), rel=1e-6)
    assert out[2723] == pytest.approx(0.25 * pad_gain(127), rel=1e-6)
    assert mi.feedback_played == 2 and mi.feedback_missing == 0
    assert eng.mixer.late == 0


@pytest.mark.parametrize("delay_ms, delay_frames", [(0.0, 0), (3.0, 144), (10.0, 480)])
def test_the_feedback_delay_is_fixed_from_the_physical_hit(eng, tmp_path, delay_ms, delay_frames):
    mi = make_input(eng, pad_map(tmp_path), bank=BANK, feedback_delay_ms=delay_ms)
    mi._handle(host_ns(2600), bytes([0x99, 38, 127]))  # arrives in the block still to come
    assert np.flatnonzero(output(eng, 3200)).tolist() == [2600 + delay_frames]


def test_no_feedback_for_a_device_that_makes_its_own_sound(eng, tmp_path):
    mi = make_input(eng, pad_map(tmp_path, own_sound=True), bank=BANK)
    assert not mi.feedback
    mi._handle(host_ns(2500), bytes([0x99, 38, 100]))
    assert len(mi.events) == 1 and mi.notes == 1
    assert not output(eng, 3200).any() and mi.feedback_played == 0


def test_feedback_can_be_forced_off_and_needs_a_bank(eng, tmp_path):
    off = make_input(eng, pad_map(tmp_path), bank=BANK, feedback=False)
    no_bank = make_input(eng, pad_map(tmp_path), feedback=True)
    assert not off.feedback and not no_bank.feedback
    off._handle(host_ns(2500), bytes([0x99, 38, 100]))
    no_bank._handle(host_ns(2500), bytes([0x99, 38, 100]))
    assert not output(eng, 3200).any()
    assert len(off.events) == len(no_bank.events) == 1


def test_a_hit_whose_sound_is_not_in_the_bank_is_counted(eng, tmp_path):
    mi = make_input(eng, pad_map(tmp_path), bank=BANK)
    mi._handle(host_ns(2500), bytes([0x99, 50, 100, 38, 100]))  # the tom has no sound; the snare does
    assert mi.feedback_missing == 1 and mi.feedback_played == 1 and mi.notes == 2
    assert np.flatnonzero(output(eng, 3200)).tolist() == [2500 + 288]


def test_feedback_sounds_of_a_profile():
    gm = DeviceMap.builtin("gm-drums")
    assert feedback_sounds(gm) == gm.sounds() and "drum:38" in feedback_sounds(gm)
    generic = DeviceMap.builtin("generic")
    assert generic.unknown_notes == "drum_or_click"
    assert {"drum:35", "drum:81", "click"} <= feedback_sounds(generic)


# ---------------------------------------------------------------- the thread and hot-plug


def test_the_thread_handles_what_arrives_and_stop_drains_the_rest(eng, tmp_path, monkeypatch):
    scanner = FakeScanner(["Test Pad MIDI 1"])
    monkeypatch.setattr(live, "_open_client", lambda kind, api, name: scanner)
    mi = MidiInput(eng, "Test Pad", api=3, device_map=pad_map(tmp_path), bank=BANK, retry_s=60.0)
    mi.port = FakeBusPort("Test Pad", ["Test Pad MIDI 1"])
    mi.start()
    assert mi.connected
    for k in range(5):
        mi.port.messages.put((host_ns(2600 + 10 * k), bytes([0x99, 38 if k % 2 else 42, 100])))
    mi.stop()
    assert [e.frame for e in mi.events] == [2600, 2610, 2620, 2630, 2640]
    assert mi.feedback_played == 5 and not mi.connected and scanner.deleted == 1
    mi.stop()  # safe twice


def test_a_vanished_device_is_logged_and_comes_back(eng, tmp_path):
    bus = ["Test Pad MIDI 1"]
    mi = make_input(eng, pad_map(tmp_path), bus=bus)
    mi._scanner = FakeScanner(bus)
    mi._check_device()  # still there: nothing happens
    assert list(mi.events) == [] and mi.port.closed == 0
    mi.port.messages.put((host_ns(2500), bytes([0x99, 38, 100])))  # arrived just before the unplug
    bus.clear()
    mi._check_device()
    hit, lost = mi.events
    assert hit.source == "midi"  # what had arrived is handled first
    assert isinstance(lost, StatusEvent) and lost.what == "device_lost"
    assert lost.frame == eng.now_frame and lost.detail == {"kind": "midi_in", "port": "Test Pad MIDI 1"}
    assert not mi.connected and mi.port.closed == 1 and mi.lost == 1
    eng.backend.run_blocks(3)
    mi._check_device()  # still away: nothing new
    assert len(mi.events) == 2 and not mi.connected
    bus.append("Test Pad MIDI 1")
    mi._check_device()
    back = mi.events[-1]
    assert back.what == "device_back" and back.frame == eng.now_frame and back.detail["port"] == "Test Pad MIDI 1"
    assert mi.connected and mi.port.opened == 2 and mi.lost == 1
    mi._handle(host_ns(3000), bytes([0x99, 38, 100]))  # the session goes on, on the same clock
    assert mi.events[-1].frame == 3000


def test_an_ambiguous_bus_leaves_the_device_away(eng, tmp_path):
    bus = ["Test Pad MIDI 1"]
    mi = make_input(eng, pad_map(tmp_path), bus=bus)
    mi._scanner = FakeScanner(bus)
    bus.clear()
    mi._check_device()
    bus += ["Test Pad MIDI 1 copy", "Test Pad MIDI 1 other"]  # neither is exactly the name
    mi._check_device()
    assert not mi.connected and mi.events[-1].what == "device_lost"


def test_a_device_back_under_a_new_client_number_is_found(eng, tmp_path):
    bus = ["Test Pad:Test Pad MIDI 1 20:0"]
    mi = make_input(eng, pad_map(tmp_path), bus=bus)
    mi._scanner = FakeScanner(bus)
    bus.clear()
    mi._check_device()
    bus.append("Test Pad:Test Pad MIDI 1 24:0")
    mi._check_device()
    assert mi.connected and mi.events[-1].what == "device_back"

