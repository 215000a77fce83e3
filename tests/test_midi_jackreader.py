"""The control side of the frame-exact JACK MIDI ring: order, exact frames, bytes, and losses counted."""

from __future__ import annotations

from engine.audio.shared import C, Layout, SharedState
from engine.midi.jackmidi import JackMidiReader


def _state(size: int = 8) -> SharedState:
    return SharedState(Layout(channels_in=1, channels_out=2, ring_frames=16, arena_frames=16, timing_size=4,
                              midi_ring_size=size))


def _write(state: SharedState, frame: int, data: bytes, arrival_ns: int = 0) -> None:
    """What the audio process's JACK callback does for one event."""
    w = int(state.counters[C.MIDI_WRITTEN])
    row = state.midi_in[w % state.midi_in.shape[0]]
    row[0], row[1], row[2], row[3] = frame, arrival_ns, int.from_bytes(data, "little"), len(data)
    state.counters[C.MIDI_WRITTEN] = w + 1


def test_events_come_back_in_order_with_their_frames_and_bytes():
    state = _state()
    reader = JackMidiReader(state)
    sent = [(100, bytes([0x99, 38, 100])), (101, bytes([0x89, 38, 0])), (5000, bytes([0xC0, 5])),
            (5001, bytes([0xF0, 0x7D, 1, 2, 3, 4, 0xF7]))]
    for k, (frame, data) in enumerate(sent):
        _write(state, frame, data, arrival_ns=1000 + k)
    got = reader.read()
    assert [(f, d) for f, _, d in got] == sent
    assert [a for _, a, _ in got] == [1000, 1001, 1002, 1003]
    assert reader.read() == [] and reader.lost == 0


def test_a_reader_that_falls_behind_counts_what_was_overwritten():
    state = _state(size=8)
    reader = JackMidiReader(state)
    for k in range(11):  # 3 more than the ring holds before anyone reads
        _write(state, k, bytes([0x90, k, 100]))
    got = reader.read()
    assert reader.lost == 3
    assert [f for f, _, _ in got] == list(range(3, 11))  # the newest 8, in order


def test_a_reader_starts_at_what_comes_after_it_was_made():
    state = _state()
    _write(state, 1, bytes([0x90, 60, 1]))
    reader = JackMidiReader(state)
    _write(state, 2, bytes([0x90, 61, 1]))
    assert [d[1] for _, _, d in reader.read()] == [61]
