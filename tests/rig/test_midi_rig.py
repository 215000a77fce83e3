"""MIDI through the JACK rig: the virtual child plays a pad into the engine and listens to its MIDI out.

The child sends notes at known JACK frames and hears MIDI and sound at exact
JACK frames, so every check is against the truth (see
:mod:`tests.rig.midi_measure`). Asserts are on frames and counts: the rtmidi
transport stamps on arrival, which JACK delivers once per period, so its
stamps may be up to one period (plus a little clock-map noise, ``SLACK``)
off; a frame-exact transport must be exact. Timing figures (medians, SDs)
belong to ``benchmarks/midi.py``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from engine.audio.sound import Sound
from engine.midi.live import TRANSPORTS
from engine.midi.midifile import load_midi
from engine.midi.playback import play_song, song_sounds
from tests.rig.midi_measure import (
    ON_TIME_NS,
    XrunWindow,
    click_bank,
    flood_events,
    hit_frames,
    note_on,
    open_midi_engine,
    open_midi_output,
    pad_map,
    rig_path,
    send_hits,
    sent_offsets,
    song_slice,
    start_midi_input,
    statuses,
    wait_for_inputs,
    wait_until_jack_frame,
)
from tests.rig.midi_measure import (
    SLACK_FRAMES as SLACK,
)
from tests.rig.retry import xrun_free

pytestmark = pytest.mark.rig

FIXTURES = sorted((Path(__file__).parents[1] / "fixtures" / "groove_midi").glob("*.mid"))
FRAME_EXACT = {"jack"}  # transports that know each event's frame, not just its period


def transports(*, rtmidi_mark=None, jack_mark=None) -> list:
    """TRANSPORTS as parameters, with known failures of one transport marked."""
    marks = {"rtmidi": rtmidi_mark, "jack": jack_mark}
    return [pytest.param(t, marks=marks[t]) if marks.get(t) is not None else t for t in TRANSPORTS]


def wait_for_status(obj, what: str, timeout_s: float = 5.0) -> list[str]:
    """``obj.events``' status names once ``what`` is among them (polls the engine side, not the child)."""
    deadline = time.monotonic() + timeout_s
    while what not in statuses(obj.events) and time.monotonic() < deadline:
        time.sleep(0.02)
    return statuses(obj.events)


def within_period(errors, period: int, transport: str) -> bool:
    if transport in FRAME_EXACT:
        return all(e == 0 for e in errors)
    return all(abs(e) <= period + SLACK for e in errors)


# ---------------------------------------------------------------------------------------- MIDI in


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_notes_are_stamped_within_a_period_of_when_they_were_played(virtual_child, tmp_path, transport):
    """Notes at random offsets within the period: each one stamped once, in order, near its true frame;
    a velocity-0 note-on is a note-off."""
    period = virtual_child.blocksize
    n = 100
    notes = [36 + k % 40 for k in range(n)]

    def measure():
        rig = open_midi_engine(virtual_child, transport)
        mi = None
        try:
            mi = start_midi_input(rig, transport, device_map=pad_map(tmp_path, makes_own_sound=True))
            frames = hit_frames(virtual_child.frame_time() + 9600, n, spacing=800, period=period)
            run = send_hits(rig, virtual_child, mi, frames, notes=notes, off_after=400)
            return (run, mi.decoder.malformed), run.stats
        finally:
            if mi is not None:
                mi.stop()
            rig.close()

    (run, malformed), stats = xrun_free(measure)
    assert [e.note for e in run.events] == notes  # none lost, none duplicated, in order
    stamps = [e.frame for e in run.events]
    assert stamps == sorted(stamps)
    errors = run.stamp_errors
    assert len(errors) == n
    assert within_period(errors, period, transport), f"stamp − truth (frames): {sorted(set(errors))}"
    assert [(e.note, e.velocity) for e in run.offs] == [(m, 0) for m in notes]
    assert all(off.frame > on.frame for on, off in zip(run.events, run.offs))
    assert malformed == 0 and stats["callback_errors"] == 0


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_each_hit_sounds_once_at_hit_plus_delay_plus_output_latency(virtual_child, tmp_path, transport):
    """A pad without a sound of its own: one feedback click per hit, heard by the child at
    hit + feedback delay + the output path (within a period). Then the same pad marked
    ``makes_own_sound``: its notes arrive and nothing sounds."""
    period = virtual_child.blocksize
    n = 60

    def measure():
        rig = open_midi_engine(virtual_child, transport)
        mi = quiet = None
        try:
            window = XrunWindow(rig, virtual_child)
            path = rig_path(rig, virtual_child)
            mi = start_midi_input(rig, transport, device_map=pad_map(tmp_path), bank=click_bank())
            frames = hit_frames(virtual_child.frame_time() + 9600, n, spacing=800, period=period)
            run = send_hits(rig, virtual_child, mi, frames, off_after=300)
            played = mi.feedback_played
            mi.stop()
            mi = None
            quiet = start_midi_input(rig, transport, device_map=pad_map(tmp_path, makes_own_sound=True),
                                     bank=click_bank())
            frames = hit_frames(virtual_child.frame_time() + 9600, 10, spacing=800, period=period)
            own = send_hits(rig, virtual_child, quiet, frames, off_after=300)
            nominal = path + quiet.feedback_delay_frames
            stats = {**run.stats, **window.close()}
            return (run, own, played, nominal, quiet.feedback), stats
        finally:
            for m in (mi, quiet):
                if m is not None:
                    m.stop()
            rig.close()

    (run, own, played, nominal, own_feedback), stats = xrun_free(measure)
    assert len(run.events) == n and played == n
    latencies = run.feedback_latencies(earliest=0, latest=nominal + 2 * period + SLACK)
    assert None not in latencies, f"hits without feedback: {[k for k, x in enumerate(latencies) if x is None]}"
    assert len(run.heard) == n, f"{len(run.heard)} sounds for {n} hits"  # exactly one each
    assert within_period([x - nominal for x in latencies], period, transport), sorted(set(latencies))
    assert stats["late_sounds"] == 0 and stats["callback_errors"] == 0
    # makes_own_sound: the notes, and silence.
    assert not own_feedback
    assert len(own.events) == 10 and own.heard == []


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_pad_unplugged_and_plugged_back_in(virtual_child, tmp_path, transport):
    """The pad's port vanishes mid-session: notes so far kept, device_lost logged, the clock runs on;
    plugged back in: device_back, and its notes arrive again."""
    rig = open_midi_engine(virtual_child, transport)
    eng = rig.engine
    mi = start_midi_input(rig, transport, device_map=pad_map(tmp_path, makes_own_sound=True), retry_s=0.1)
    try:
        period = virtual_child.blocksize
        virtual_child.send_midi_many(
            [(f, note_on(40 + k)) for k, f in enumerate(hit_frames(virtual_child.frame_time() + 4800, 4,
                                                                   spacing=2400, period=period))])
        assert [e.note for e in wait_for_inputs(mi, 4)] == [40, 41, 42, 43]
        frame_at_unplug = eng.now_frame
        virtual_child.unplug_midi("midi_out")
        assert wait_for_status(mi, "device_lost") == ["device_lost"]
        assert not mi.connected
        # While it is away: what the pad "plays" goes nowhere, the stream goes on.
        virtual_child.send_midi_many([(virtual_child.frame_time() + 2400 * (k + 1), note_on(50 + k))
                                      for k in range(3)])
        time.sleep(0.3)
        assert eng.now_frame - frame_at_unplug >= eng.sample_rate // 4
        eng.check()  # no engine failure
        virtual_child.replug_midi("midi_out")
        assert wait_for_status(mi, "device_back") == ["device_lost", "device_back"]
        assert mi.connected
        virtual_child.send_midi_many(
            [(f, note_on(60 + k)) for k, f in enumerate(hit_frames(virtual_child.frame_time() + 4800, 4,
                                                                   spacing=2400, period=period))])
        got = wait_for_inputs(mi, 8)
        assert [e.note for e in got] == [40, 41, 42, 43, 60, 61, 62, 63]
        lost, back = [e for e in list(mi.events) if hasattr(e, "what")]
        assert got[3].frame < lost.frame <= back.frame < got[4].frame  # logged on the one clock, in order
        assert mi.lost == 1
        assert virtual_child.stats()["midi_unplugged_dropped"] == 3
        eng.check()
        assert eng.stats()["callback_errors"] == 0
    finally:
        mi.stop()
        rig.close()


RAW_SEQUENCE = [  # (bytes, note-on it gives, note-off it gives)
    (bytes([0x99, 38, 100]), 38, None),
    (bytes([0xF0, 0x7E, 0x7F, 0x06, 0x01, 0xF7]), None, None),  # a short sysex (identity request)
    (bytes([0x99, 40, 100]), 40, None),
    (bytes([0xF0, 0x7D]) + bytes(i % 128 for i in range(597)) + bytes([0xF7]), None, None),  # 600 bytes
    (bytes([0x99, 42, 100]), 42, None),
    (bytes([0xF0, 0x7D, 1, 2]), None, None),  # a sysex in three parts
    (bytes([3, 4, 5]), None, None),
    (bytes([6, 7, 0xF7]), None, None),
    (bytes([0x99, 44, 100]), 44, None),
    (bytes([46, 100]), 46, None),  # running status: note-on 46
    (bytes([46, 0]), None, 46),  # running status, velocity 0: its note-off
    (bytes([0xF8]), None, None),  # real-time: clock, active sensing, start, stop
    (bytes([0xFE]), None, None),
    (bytes([0xFA]), None, None),
    (bytes([0xFC]), None, None),
    (bytes([0x99, 48, 100]), 48, None),
    (bytes([0xF6]), None, None),  # tune request: ends running status
    (bytes([0x12, 0x34]), None, None),  # garbage: data bytes with no status (2 malformed)
    (bytes([0x99, 49]), None, None),  # a message cut short (1 malformed)
    (bytes([0x99, 50, 100]), 50, None),
    (bytes([0x99, 50, 0]), None, 50),  # velocity-0 note-on
    (bytes([0x99, 51, 0xF8, 100]), 51, None),  # a clock byte inside a note-on
    (bytes([0x89, 51, 0]), None, 51),
]
RAW_MALFORMED = 3


@pytest.mark.parametrize("transport", transports())
def test_malformed_midi_is_skipped_and_every_real_note_arrives(virtual_child, tmp_path, transport):
    rig = open_midi_engine(virtual_child, transport)
    mi = start_midi_input(rig, transport, device_map=pad_map(tmp_path, makes_own_sound=True))
    try:
        start = virtual_child.frame_time() + 4800
        virtual_child.send_midi_many([(start + k * 1200, data) for k, (data, _, _) in enumerate(RAW_SEQUENCE)],
                                     raw=True)
        ons = [on for _, on, _ in RAW_SEQUENCE if on is not None]
        offs = [off for _, _, off in RAW_SEQUENCE if off is not None]
        wait_until_jack_frame(virtual_child, start + len(RAW_SEQUENCE) * 1200, engine=rig.engine)
        assert [e.note for e in wait_for_inputs(mi, len(ons))] == ons
        assert [e.note for e in wait_for_inputs(mi, len(offs), source="midi-off")] == offs
        assert mi.decoder.malformed == RAW_MALFORMED
        rig.engine.check()
        assert rig.engine.stats()["callback_errors"] == 0
        mi.stop()
        mi.stop()  # stopping twice is harmless (a session's clean-up may stop a part again)
    finally:
        mi.stop()
        rig.close()


@pytest.mark.parametrize("transport", transports(
    rtmidi_mark=pytest.mark.xfail(strict=True, reason="rtmidi's JACK input takes every message after an F0 "
                                  "without F7 for more sysex until one ends in F7, and drops it as sysex")))
def test_a_sysex_that_lost_its_end_swallows_no_notes(virtual_child, tmp_path, transport):
    """A status byte ends a sysex whose F7 never came (MIDI 1.0): the notes after it count."""
    rig = open_midi_engine(virtual_child, transport)
    mi = start_midi_input(rig, transport, device_map=pad_map(tmp_path, makes_own_sound=True))
    try:
        start = virtual_child.frame_time() + 4800
        seq = [bytes([0xF0, 0x7D, 1, 2]), note_on(60), note_on(61), bytes([0xF7]), note_on(62)]
        virtual_child.send_midi_many([(start + k * 1200, d) for k, d in enumerate(seq)], raw=True)
        wait_until_jack_frame(virtual_child, start + len(seq) * 1200, engine=rig.engine)
        assert [e.note for e in wait_for_inputs(mi, 3, timeout_s=1.0)] == [60, 61, 62]
        assert rig.engine.stats()["callback_errors"] == 0
    finally:
        mi.stop()
        rig.close()


@pytest.mark.parametrize("transport", transports())
def test_a_flood_of_clock_and_sysex_loses_no_note(virtual_child, tmp_path, transport):
    """2,000 messages/s for 3 s, mostly timing clock and active sensing, some sysex, notes among them
    (the benchmark floods for 10 s): every note arrives, no xrun, the engine runs on."""
    seconds = 3.0

    def measure():
        rig = open_midi_engine(virtual_child, transport)
        eng = rig.engine
        mi = None
        try:
            mi = start_midi_input(rig, transport, device_map=pad_map(tmp_path, makes_own_sound=True))
            start = virtual_child.frame_time() + eng.sample_rate // 2  # the child takes in 256 items a cycle
            events, frames, notes = flood_events(start, seconds=seconds, period=virtual_child.blocksize)
            window = XrunWindow(rig, virtual_child)
            frame0 = eng.now_frame
            virtual_child.send_midi_many(events)
            wait_until_jack_frame(virtual_child, max(f for f, _ in events) + 2400, engine=eng)
            got = wait_for_inputs(mi, len(notes))
            offs = wait_for_inputs(mi, len(notes), source="midi-off")
            stats = {**eng.stats(), **window.close()}
            result = dict(notes=notes, got=[e.note for e in got], offs=[e.note for e in offs],
                          ran=eng.now_frame - frame0, late_midi=stats["child_late_midi"],
                          malformed=mi.decoder.malformed, lost_events=mi.lost_events)
            return result, stats
        finally:
            if mi is not None:
                mi.stop()
            rig.close()

    r, stats = xrun_free(measure)
    assert r["late_midi"] == 0  # the child sent it all on time
    assert len(r["notes"]) == int(seconds * 2000 / 20)
    assert r["got"] == r["notes"] and r["offs"] == r["notes"]
    assert r["malformed"] == 0 and r["lost_events"] == 0
    assert r["ran"] >= seconds * 48_000
    assert stats["callback_errors"] == 0
    # On the JACK transport the audio process dropped the clock and active-sensing bytes
    # itself, before the ring; through rtmidi, rtmidi dropped them and this counter stays 0.
    assert (stats["midi_skipped"] > 0) == (transport == "jack")


# ---------------------------------------------------------------------------------------- MIDI out


def on_time_offsets(pairs) -> list[int]:
    """The offsets of the messages sent on time (all, for an output without a sender thread)."""
    return [o for o, late_ns in pairs if late_ns is None or late_ns <= ON_TIME_NS]


def offsets_ok(offsets, period: int, transport: str) -> bool:
    """One offset for a frame-exact output; else all within one period (plus clock-map noise)."""
    if transport in FRAME_EXACT:
        return len(set(offsets)) == 1
    return max(offsets) - min(offsets) <= period + SLACK


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_midi_out_arrives_in_order_at_a_constant_offset(virtual_child, transport):
    """Messages scheduled at stream frames reach the child in order, at one offset within a period.

    JACK takes what the rtmidi sender thread sends at the start of the next period, so a message
    sent on time is heard within a period of its frame + T0 + output latency. Whether the thread
    *is* woken on time is the operating system's affair: the few it sent late are counted, not
    timed here. The JACK output writes each message at its frame: one offset, exactly.
    """
    period = virtual_child.blocksize
    n = 100
    notes = [30 + k % 60 for k in range(n)]

    def measure():
        rig = open_midi_engine(virtual_child, transport)
        eng = rig.engine
        mo = open_midi_output(rig, transport)
        try:
            virtual_child.heard_midi(clear=True)
            window = XrunWindow(rig, virtual_child)
            frames = hit_frames(eng.now_frame + eng.sample_rate // 5, n, spacing=800, period=period, seed=5)
            for f, m in zip(frames, notes):
                mo.send_at(f, note_on(m, 90, channel=0))
            wait_until_jack_frame(virtual_child, frames[-1] + rig.t0 + 4800, engine=eng)
            heard = virtual_child.heard_midi(clear=True)
            stats = {**eng.stats(), **window.close()}
            return (heard, sent_offsets(mo, heard, t0=rig.t0, frames=frames), mo.dropped), stats
        finally:
            mo.stop()
            rig.close()

    (heard, pairs, dropped), _ = xrun_free(measure)
    assert [d for _, d in heard] == [note_on(m, 90, channel=0) for m in notes]  # all, in order
    assert dropped == 0
    on_time = on_time_offsets(pairs)
    assert len(on_time) >= 0.9 * n, f"only {len(on_time)} of {n} sent on time: {sorted(l for _, l in pairs)[-10:]} ns"
    assert offsets_ok(on_time, period, transport), sorted(set(on_time))


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_midi_out_device_unplugged_and_plugged_back_in(virtual_child, transport):
    """The synth's port vanishes: device_lost, the clock runs on, what was due meanwhile is never
    heard (not even late); back: device_back, and messages reach it again."""
    rig = open_midi_engine(virtual_child, transport)
    eng = rig.engine
    mo = open_midi_output(rig, transport, retry_s=0.1)
    try:
        def send(notes):
            start = eng.now_frame + eng.sample_rate // 10
            for k, m in enumerate(notes):
                mo.send_at(start + k * 2400, note_on(m, 90, channel=0))
            wait_until_jack_frame(virtual_child, start + rig.t0 + len(notes) * 2400 + 4800, engine=eng)

        virtual_child.heard_midi(clear=True)
        send([40, 41, 42])
        virtual_child.unplug_midi("midi_ear")
        assert wait_for_status(mo, "device_lost") == ["device_lost"]
        frame_at_unplug = eng.now_frame
        send([50, 51, 52])
        if transport == "rtmidi":
            assert mo.dropped == 3  # the sender thread drops and counts them (the JACK output sends into no port)
        virtual_child.replug_midi("midi_ear")
        assert wait_for_status(mo, "device_back") == ["device_lost", "device_back"]
        send([60, 61, 62])
        heard = [d[1] for _, d in virtual_child.heard_midi(clear=True) if d[0] == 0x90]
        assert heard == [40, 41, 42, 60, 61, 62]
        assert eng.now_frame - frame_at_unplug >= eng.sample_rate // 4
        eng.check()
        assert mo.lost == 1
    finally:
        mo.stop()
        rig.close()


def clicks_for(requests, rate: int) -> dict[str, Sound]:
    """A bank of clicks, one per request (1 ms decay, full scale on the first sample)."""
    data = np.exp(-np.arange(int(rate * 0.004)) / (rate * 0.001)).astype(np.float32)
    return {r: Sound(r, data, rate) for r in sorted(requests)}


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_a_midi_file_plays_on_the_clock_through_midi_out_and_the_bank(virtual_child, path, transport):
    """``play_song`` of a Groove MIDI performance (its first 3 s) through MIDI out and the sound bank:
    every note heard by the child, in order; MIDI at one offset (within a period) from its frame
    + T0 + output latency; each sound exactly at its scheduled frame (one constant path)."""
    period = virtual_child.blocksize
    song = song_slice(load_midi(path), 3.0)

    def measure():
        rig = open_midi_engine(virtual_child, transport)
        eng = rig.engine
        mo = open_midi_output(rig, transport)
        try:
            window = XrunWindow(rig, virtual_child)
            path_frames = rig_path(rig, virtual_child)
            bank = clicks_for(song_sounds(song), eng.sample_rate)
            virtual_child.heard_midi(clear=True)
            virtual_child.heard_onsets(clear=True)
            # gain 2: the softest ghost notes (velocity 7) still reach the child's onset threshold
            cues = play_song(song, eng.now_frame + eng.sample_rate // 2, engine=eng, bank=bank, output=mo, gain=2.0)
            last_off = max(c.frame + int(n.duration_s * eng.sample_rate) for c, n in zip(cues, song.notes))
            wait_until_jack_frame(virtual_child, last_off + rig.t0 + 9600, engine=eng)
            heard = virtual_child.heard_midi(clear=True)
            ons = [(h, d) for h, d in heard if d[0] & 0xF0 == 0x90 and d[2] > 0]
            if getattr(mo, "sent", None):  # a sender thread's records: every message, and how late it went
                pairs = sent_offsets(mo, heard, t0=rig.t0)
            else:
                pairs = sent_offsets(mo, ons, t0=rig.t0, frames=[c.frame for c in cues])
            onsets = virtual_child.heard_onsets(clear=True)
            stats = {**eng.stats(), **window.close()}
            return (cues, heard, ons, pairs, onsets, path_frames, rig.t0), stats
        finally:
            mo.stop()
            rig.close()

    (cues, heard, ons, pairs, onsets, path_frames, t0), stats = xrun_free(measure)
    assert len(cues) == len(song.notes) >= 10
    # MIDI out: every note, in order; heard within a period of frame + T0 + output latency.
    assert [d[1] for _, d in ons] == [n.note for n in song.notes]
    assert len(heard) == 2 * len(song.notes)  # each note's on and off, nothing else
    on_time = on_time_offsets(pairs)
    assert len(on_time) >= 0.9 * len(pairs)
    assert offsets_ok(on_time, period, transport), sorted(set(on_time))
    # Sound bank: every onset the child heard is a note's frame, exactly, through the one path;
    # every note with 30 ms of room before it was heard (closer ones merge into the sound before).
    frames = sorted({c.frame + t0 + path_frames for c in cues})
    assert set(onsets) <= set(frames), sorted(set(onsets) - set(frames))
    apart = [f for k, f in enumerate(frames) if k == 0 or f - frames[k - 1] >= 1440]
    assert set(apart) <= set(onsets), sorted(set(apart) - set(onsets))
    assert stats["late_sounds"] == 0 and stats["callback_errors"] == 0
