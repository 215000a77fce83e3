"""The MIDI byte decoder: running status, sysex, real-time bytes, garbage; never raises."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.midi.decode import MidiDecoder, Note

CLOCK, ACTIVE_SENSING, START, STOP = 0xF8, 0xFE, 0xFA, 0xFC
REAL_TIME = [0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE, 0xFF]


def decode(*feeds: bytes | list[int]) -> tuple[list[Note], MidiDecoder]:
    dec = MidiDecoder()
    notes: list[Note] = []
    for feed in feeds:
        notes += dec.feed(bytes(feed))
    return notes, dec


def test_note_on_off_and_control_change():
    notes, dec = decode([0x90, 60, 100], [0x85, 62, 40], [0xB3, 64, 127])
    assert notes == [Note("on", 0, 60, 100), Note("off", 5, 62, 40), Note("cc", 3, 64, 127)]
    assert dec.malformed == 0


def test_note_on_with_velocity_zero_is_a_note_off():
    notes, _ = decode([0x99, 38, 0])
    assert notes == [Note("off", 9, 38, 0)]


def test_running_status_within_one_feed_and_across_feeds():
    # Three notes on channel 10 with one status byte; the last pair comes in a later feed.
    notes, dec = decode([0x99, 36, 90, 38, 0, 42], [70], [44, 60])
    # [42] then [70] in separate feeds: a message cut at the end of a feed is garbage, not glued.
    assert notes == [Note("on", 9, 36, 90), Note("off", 9, 38, 0), Note("on", 9, 44, 60)]
    assert dec.malformed == 2  # "42" cut at the end of the first feed, "70" alone in the second


def test_running_status_survives_real_time_but_not_system_common():
    notes, dec = decode([0x90, 60, 100, CLOCK, 61, 101, 0xF3, 5, 62, 102])
    # The song-select (F3 05) cancels running status: 62 102 have no status left.
    assert notes == [Note("on", 0, 60, 100), Note("on", 0, 61, 101)]
    assert dec.malformed == 2 and dec.skipped == 1


def test_real_time_bytes_inside_a_message_are_ignored():
    notes, dec = decode([0x90, CLOCK, 60, ACTIVE_SENSING, START, 100, STOP])
    assert notes == [Note("on", 0, 60, 100)]
    assert dec.malformed == 0


def test_sysex_is_skipped_including_over_several_feeds():
    notes, dec = decode([0xF0, 0x41, 0x10, 0x42], [0x12, 0x40, CLOCK, 0x00], [0x7F, 0xF7, 0x90, 60, 1])
    assert notes == [Note("on", 0, 60, 1)]
    assert dec.malformed == 0 and dec.skipped == 1


def test_sysex_data_is_never_read_as_notes_even_with_running_status_before_it():
    notes, dec = decode([0x90, 60, 100, 0xF0, 61, 101, 62, 102, 0xF7, 63, 103])
    # After the sysex there is no running status, so 63 103 are stray data bytes.
    assert notes == [Note("on", 0, 60, 100)]
    assert dec.malformed == 2


def test_a_sysex_that_loses_its_end_is_closed_by_the_next_status_byte():
    notes, dec = decode([0xF0, 1, 2, 3], [4, 5, 0x80, 60, 0])
    assert notes == [Note("off", 0, 60, 0)]
    assert dec.malformed == 1


def test_an_end_of_sysex_with_no_start_is_garbage():
    notes, dec = decode([0xF7, 0x90, 60, 100])
    assert notes == [Note("on", 0, 60, 100)]
    assert dec.malformed == 1


def test_other_channel_and_system_common_messages_are_skipped_whole():
    data = [
        0xC0, 5,  # program change
        0xD0, 70,  # channel pressure
        0xA0, 60, 10,  # poly pressure
        0xE0, 0, 64,  # pitch bend
        0xF1, 0x10,  # MTC quarter frame
        0xF2, 0, 8,  # song position
        0xF3, 2,  # song select
        0xF6,  # tune request (no data)
        0x90, 60, 100,
    ]
    notes, dec = decode(data)
    assert notes == [Note("on", 0, 60, 100)]
    assert dec.skipped == 8 and dec.malformed == 0


def test_running_status_applies_to_skipped_messages_too():
    notes, dec = decode([0xC0, 5, 6, 7, 0xE1, 0, 64, 1, 64])
    assert notes == []
    assert dec.skipped == 5 and dec.malformed == 0


def test_garbage_is_counted_and_skipped():
    # Stray data bytes with no status, a note cut short by a status byte, one cut at the end.
    notes, dec = decode([60, 100, 0x90, 61, 0x80, 62, 0, 0x90, 63])
    assert notes == [Note("off", 0, 62, 0)]
    assert dec.malformed == 4  # 60, 100, the cut "90 61", the cut "90 63"


def test_a_system_common_message_cut_short_is_garbage():
    _, dec = decode([0xF2, 1, 0x90, 60, 100])
    assert dec.malformed == 1
    _, dec = decode([0xF3])
    assert dec.malformed == 1


def test_empty_feed_does_nothing():
    notes, dec = decode(b"")
    assert notes == [] and dec.malformed == 0 and dec.skipped == 0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=8))
def test_random_bytes_never_raise_and_give_only_valid_notes(feeds):
    dec = MidiDecoder()
    for feed in feeds:
        for n in dec.feed(feed):
            assert n.kind in ("on", "off", "cc")
            assert 0 <= n.channel <= 15
            assert 0 <= n.note <= 127 and 0 <= n.velocity <= 127
            assert n.kind != "on" or n.velocity > 0
    assert dec.malformed >= 0 and dec.skipped >= 0


_message = st.tuples(
    st.sampled_from([0x80, 0x90, 0xB0]),
    st.integers(0, 15),
    st.integers(0, 127),
    st.integers(0, 127),
)


def _expected(kind: int, channel: int, a: int, b: int) -> Note:
    if kind == 0xB0:
        return Note("cc", channel, a, b)
    if kind == 0x90 and b > 0:
        return Note("on", channel, a, b)
    return Note("off", channel, a, b)


@settings(max_examples=300, deadline=None)
@given(
    messages=st.lists(_message, min_size=1, max_size=20),
    running=st.booleans(),
    real_time=st.data(),
)
def test_real_time_bytes_anywhere_do_not_change_the_notes(messages, running, real_time):
    stream: list[int] = []
    last_status = None
    for kind, channel, a, b in messages:
        status = kind | channel
        if not (running and status == last_status):
            stream.append(status)
        stream += [a, b]
        last_status = status
    # Insert real-time bytes at random places, inside messages included.
    inserts = real_time.draw(st.lists(
        st.tuples(st.integers(0, len(stream)), st.sampled_from(REAL_TIME)), max_size=30))
    noisy = list(stream)
    for pos, byte in sorted(inserts, reverse=True):
        noisy.insert(pos, byte)

    expected = [_expected(*m) for m in messages]
    clean_notes, clean = decode(stream)
    noisy_notes, dec = decode(noisy)
    assert clean_notes == expected
    assert noisy_notes == expected
    assert dec.malformed == 0 and clean.malformed == 0
