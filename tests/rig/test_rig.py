"""The JACK test rig proves itself with real parts, independent of the engine.

Everything is asserted on JACK frames and counts, never on wall-clock time;
waits poll JACK's frame clock, and their timeouts only guard against a stall.

Constants measured here (jackd 1.9.21, dummy driver, 48 kHz, 128-frame period):

- child hand -> child ear (a self-loop): exactly one period (128 frames),
  because the child reads its inputs before it writes its outputs;
- child midi_out -> child midi_ear: exactly one period, for the same reason;
- child hand -> PortAudio duplex stream (callback copies in to out) -> child
  ear: 256 frames at stream blocksize 128, 192 at blocksize 64 (see
  ``ROUND_TRIP_FRAMES``); the same to the sample for every impulse.
"""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest

from tests.rig.child import VirtualChild, VirtualChildError
from tests.rig.server import JackServer

pytestmark = pytest.mark.rig

JACK_HOSTAPI = "JACK Audio Connection Kit"
RATE = 48000
PERIOD = 128
LEAD_FRAMES = RATE // 10          # schedule 100 ms ahead of "now"
SPACING_FRAMES = 2400             # 50 ms between test impulses (> quiet_frames)
CLICK = np.array([0.8, -0.5, 0.25, -0.1], dtype=np.float32)

# Round trip child hand -> PortAudio in -> (callback copies) -> PortAudio out
# -> child ear, by stream blocksize, measured on the dummy driver at a
# 128-frame period (connections made hand -> PortAudio first, then PortAudio
# -> ear). One period is the graph's feedback edge: the child runs before
# PortAudio in each cycle, so it hears PortAudio's output of the previous
# cycle. The rest (one stream block) is PortAudio's own buffering. Both equal
# the stream's reported latency (input 0 + output 0.00533 s / 0.004 s).
ROUND_TRIP_FRAMES = {128: 256, 64: 192}

def _impulse_frames(start: int, count: int) -> list[int]:
    """``count`` frames from ``start``, spaced ~50 ms, landing on varied offsets in a block."""
    return [start + k * SPACING_FRAMES + (k * 37) % PERIOD for k in range(count)]


def _play_clicks(child: VirtualChild, frames: list[int]) -> None:
    for frame in frames:
        child.play_audio(frame, CLICK)


def _wait_past(child: VirtualChild, frame: int) -> None:
    """Wait until ``frame`` and a little more have certainly been processed."""
    child.wait_for_frame(frame + 4 * PERIOD + child.quiet_frames)


def _assert_clean(stats: dict) -> None:
    assert stats["late_items"] == 0, stats
    assert stats["callback_errors"] == 0, stats
    assert stats["midi_write_errors"] == 0, stats


# -- (a) the server ------------------------------------------------------------


def test_server_is_seen_by_portaudio(jack_server):
    import sounddevice as sd

    assert os.environ["JACK_DEFAULT_SERVER"] == jack_server.name
    assert (jack_server.rate, jack_server.period) == (RATE, PERIOD)
    hostapis = [api["name"] for api in sd.query_hostapis()]
    assert JACK_HOSTAPI in hostapis, hostapis
    api_index = hostapis.index(JACK_HOSTAPI)
    devices = [d for d in sd.query_devices() if d["hostapi"] == api_index]
    system = [d for d in devices if d["name"] == "system"]
    assert system, devices
    assert system[0]["default_samplerate"] == RATE
    assert system[0]["max_input_channels"] >= 1
    assert system[0]["max_output_channels"] >= 2


def test_server_of_same_name_is_adopted_not_stopped(jack_server):
    other = JackServer(jack_server.name)
    with other:
        assert not other.owned
    out = subprocess.run(["jack_wait", "-s", jack_server.name, "-c"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "running"


def test_second_server_starts_and_stops_twice(jack_server):
    import sounddevice as sd

    name = f"{jack_server.name}-extra"
    for _ in range(2):
        server = JackServer(name, period=256)
        server.start()
        try:
            assert server.owned
            assert os.environ["JACK_DEFAULT_SERVER"] == name
            with VirtualChild(name, name="extra-child") as child:
                assert child.blocksize == 256
                child.close()
                child.close()   # safe twice
        finally:
            server.close()
            server.close()      # safe twice
        out = subprocess.run(["jack_wait", "-s", name, "-c"],
                             capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "not running"
        # The session's server is the default again, and PortAudio sees it.
        assert os.environ["JACK_DEFAULT_SERVER"] == jack_server.name
        assert JACK_HOSTAPI in [api["name"] for api in sd.query_hostapis()]


# -- (b) the child alone -------------------------------------------------------


def test_child_close_ends_its_process(jack_server):
    child = VirtualChild(jack_server.name, name="short-lived-child").start()
    pid = child.pid
    child.close()
    child.close()
    assert not os.path.exists(f"/proc/{pid}") or _is_zombie(pid)
    with pytest.raises(VirtualChildError):
        child.frame_time()


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_loopback_hears_every_impulse_one_period_later(virtual_child):
    child = virtual_child
    child.connect(child.hand_port, child.ear_port)
    child.stats(reset=True)
    played = _impulse_frames(child.frame_time() + LEAD_FRAMES, 24)
    _play_clicks(child, played)
    _wait_past(child, played[-1])

    heard = child.heard_onsets(clear=True)
    offsets = [h - p for h, p in zip(heard, played)]
    assert len(heard) == len(played), (heard, played)
    assert set(offsets) == {PERIOD}, f"hand -> ear offsets {offsets}"
    _assert_clean(child.stats())
    assert child.heard_onsets() == []


def test_loopback_mixes_sounds_across_blocks_exactly(virtual_child):
    child = virtual_child
    child.connect(child.hand_port, child.ear_port)
    rng = np.random.default_rng(7)
    long_a = (rng.uniform(-0.3, 0.3, 1000)).astype(np.float32)   # spans ~8 blocks
    long_b = (rng.uniform(-0.3, 0.3, 333)).astype(np.float32)
    start = child.frame_time() + LEAD_FRAMES + 61
    child.play_audio(start, long_a)
    child.play_audio(start + 500, long_b)          # overlaps a's second half
    _wait_past(child, start + 1000)

    expected = np.zeros(1200, dtype=np.float32)
    expected[:1000] += long_a
    expected[500:833] += long_b
    got = child.recording(start + PERIOD, 1200)
    np.testing.assert_array_equal(got, expected)
    _assert_clean(child.stats())


def test_onset_needs_quiet_frames_before_it(virtual_child):
    child = virtual_child
    child.connect(child.hand_port, child.ear_port)
    q, n = child.quiet_frames, CLICK.size
    first = child.frame_time() + LEAD_FRAMES
    # Gaps are counted from the end of the previous click (it is n samples loud).
    frames = [first]
    frames.append(frames[-1] + n + 196)        # 196 quiet frames: not an onset
    frames.append(frames[-1] + n + q - 1)      # q - 1 quiet frames: not an onset
    frames.append(frames[-1] + n + q)          # exactly q quiet frames: an onset
    _play_clicks(child, frames)
    _wait_past(child, frames[-1])
    heard = child.heard_onsets(clear=True)
    assert heard == [frames[0] + PERIOD, frames[3] + PERIOD], (heard, frames)


def test_late_items_are_counted_and_dropped(virtual_child):
    child = virtual_child
    child.connect(child.hand_port, child.ear_port)
    child.connect(child.midi_port, child.midi_ear_port)
    child.stats(reset=True)
    past = child.frame_time() - PERIOD * 4
    child.play_audio(past, CLICK)
    child.send_midi(past, b"\x90\x3c\x64")
    _wait_past(child, child.frame_time())
    stats = child.stats()
    assert stats["late_audio"] == 1 and stats["late_midi"] == 1, stats
    assert stats["late_items"] == 2, stats
    assert child.heard_onsets() == []
    assert child.heard_midi() == []


# -- (c) round trip through a real PortAudio duplex stream ----------------------


def _jack_system_device() -> int:
    import sounddevice as sd

    api = [a["name"] for a in sd.query_hostapis()].index(JACK_HOSTAPI)
    for index, dev in enumerate(sd.query_devices()):
        if dev["hostapi"] == api and dev["name"] == "system":
            return index
    raise AssertionError("no JACK 'system' device")


def _portaudio_ports(child: VirtualChild) -> tuple[str, str]:
    """(input port, first output port) of the one PortAudio client on the server.

    PortAudio numbers its JACK ports with a counter that keeps counting across
    the streams of a process ("in_0" for the first stream, then "in_1", ...):
    never hard-code "PortAudio:in_0".
    """
    def number(port: str) -> int:
        return int(port.rsplit("_", 1)[1])

    names = child.port_names(r"^PortAudio[^:]*:(in|out)_[0-9]+$")
    assert len({n.split(":")[0] for n in names}) == 1, names   # one PortAudio client
    ins = sorted((n for n in names if ":in_" in n), key=number)
    outs = sorted((n for n in names if ":out_" in n), key=number)
    assert len(ins) == 1 and len(outs) == 2, names
    return ins[0], outs[0]


@pytest.mark.parametrize("blocksize", [128, 64])
def test_portaudio_round_trip_is_the_same_to_the_sample(virtual_child, blocksize):
    import sounddevice as sd

    child = virtual_child
    errors = [0]
    cycles = [0]

    def copy_in_to_out(indata, outdata, frames, time_info, status):
        try:
            cycles[0] += 1
            outdata[:, 0] = indata[:, 0]
            outdata[:, 1] = indata[:, 0]
        except Exception:   # noqa: BLE001 - sounddevice would swallow it
            errors[0] += 1
            outdata.fill(0)

    device = _jack_system_device()
    stream = sd.Stream(device=(device, device), samplerate=RATE, blocksize=blocksize,
                       channels=(1, 2), dtype="float32", callback=copy_in_to_out)
    with stream:
        pa_in, pa_out = _portaudio_ports(child)
        for src in child.connections(pa_in):       # PortAudio auto-connects capture
            child.disconnect(src, pa_in)
        child.connect(child.hand_port, pa_in)
        child.connect(pa_out, child.ear_port)
        child.wait_for_frame(child.frame_time() + 8 * PERIOD)   # graph settled
        child.heard_onsets(clear=True)
        child.stats(reset=True)

        played = _impulse_frames(child.frame_time() + LEAD_FRAMES, 24)
        _play_clicks(child, played)
        _wait_past(child, played[-1])
        heard = child.heard_onsets(clear=True)
        stats = child.stats()
        latency_s = stream.latency

    offsets = [h - p for h, p in zip(heard, played)]
    report = (f"blocksize {blocksize}: round-trip offsets {offsets}, stream.latency "
              f"{latency_s}, child stats {stats}, stream callback errors {errors[0]}")
    print(report)
    assert errors[0] == 0, report
    assert cycles[0] > 0, report
    assert len(heard) == len(played), report
    assert len(set(offsets)) == 1, report                      # same to the sample
    assert offsets[0] == ROUND_TRIP_FRAMES[blocksize], report
    _assert_clean(stats)


# -- (d) MIDI ------------------------------------------------------------------


def test_midi_arrives_frame_exact(virtual_child):
    child = virtual_child
    child.connect(child.midi_port, child.midi_ear_port)
    child.heard_midi(clear=True)
    child.stats(reset=True)
    start = child.frame_time() + LEAD_FRAMES
    sent = []
    for k in range(20):
        frame = start + k * 997 + (k * 29) % PERIOD
        sent.append((frame, bytes([0x90, 36 + k, 100])))
        sent.append((frame + 1 + k, bytes([0x80, 36 + k, 0])))
    # Two events on one frame and a two-byte message: order is kept.
    sent.append((start + 20 * 997, bytes([0xC0, 5])))
    sent.append((start + 20 * 997, bytes([0xB0, 123, 0])))
    for frame, data in reversed(sent):      # out of order on purpose: the child sorts
        child.send_midi(frame, data)
    _wait_past(child, sent[-1][0])

    heard = child.heard_midi(clear=True)
    expected = sorted(((f + PERIOD, d) for f, d in sent), key=lambda e: e[0])
    # Equal frames keep the order they were sent in (here: reversed).
    assert [f for f, _ in heard] == [f for f, _ in expected], heard
    assert sorted(heard) == sorted(expected)
    _assert_clean(child.stats())
