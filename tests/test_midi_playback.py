"""Playing a MIDI song on the engine's clock: sample-exact bank voices, and the same frames on a MIDI output."""

from __future__ import annotations

import heapq
from pathlib import Path

import mido
import numpy as np
import pytest

from engine.audio.backends import OfflineBackend
from engine.audio.engine import AudioEngine
from engine.audio.sound import Sound
from engine.midi.midifile import MidiNote, load_midi
from engine.midi.playback import SongPlayer, note_sound, play_song, song_sounds
from engine.midi.sender import MidiOutput

RATE = 48_000
BLOCK = 128
FIXTURES = sorted((Path(__file__).parent / "fixtures" / "groove_midi").glob("*.mid"))
TPB = 480
# At 480 ticks per beat a tick is 50 frames at 120 BPM and 100 frames at 60 BPM (48 kHz).


def known_song(tmp_path) -> Path:
    """Two channels and drums, a tempo change, program changes; every frame is known by hand."""
    mid = mido.MidiFile(type=1, ticks_per_beat=TPB)
    mid.tracks.append(mido.MidiTrack([
        mido.MetaMessage("set_tempo", tempo=500_000, time=0),  # 120 BPM
        mido.MetaMessage("set_tempo", tempo=1_000_000, time=960),  # 60 BPM from tick 960 (1.0 s)
    ]))
    mid.tracks.append(mido.MidiTrack([
        mido.Message("program_change", channel=0, program=5, time=0),
        mido.Message("note_on", channel=0, note=60, velocity=127, time=7),  # tick 7: 350 frames
        mido.Message("note_off", channel=0, note=60, velocity=0, time=473),  # tick 480: held 473 * 50 frames
        mido.Message("program_change", channel=0, program=7, time=1000),  # tick 1480
        mido.Message("note_on", channel=0, note=62, velocity=64, time=0),  # tick 1480: 48 000 + 520 * 100 frames
        mido.Message("note_on", channel=0, note=62, velocity=0, time=30),  # held 30 ticks = 3000 frames
    ]))
    mid.tracks.append(mido.MidiTrack([
        mido.Message("program_change", channel=1, program=33, time=0),
        mido.Message("note_on", channel=1, note=40, velocity=100, time=481),  # tick 481: 24 050 frames
        mido.Message("note_off", channel=1, note=40, velocity=0, time=2000),  # tick 2481: 48 000 + 1521 * 100 frames
        mido.Message("note_on", channel=9, note=36, velocity=90, time=0),  # drums at tick 2481 too
        mido.Message("note_on", channel=9, note=36, velocity=0, time=10),
    ]))
    path = tmp_path / "known.mid"
    mid.save(path)
    return path


# (frame from the song's start, sound request, velocity), worked out from the ticks by hand:
# tick 7 = 350; tick 481 = 24 050; tick 1480 = 48 000 + 520 * 100; tick 2481 = 48 000 + 1521 * 100.
KNOWN = [
    (350, "program:5:60:500", 127),  # held ticks 7..480 = 23 650 frames (0.49 s): the 500 ms step
    (24_050, "program:33:40:3750", 100),  # held to 200 100: 176 050 frames (3.67 s): 3750 ms
    (100_000, "program:7:62:250", 64),  # the program changed to 7 just before it; held 30 ticks (62.5 ms)
    (200_100, "drum:36", 90),
]


def engine(*, latency_out=0, voices=64, channels_in=0):
    eng = AudioEngine(backend=OfflineBackend(latency_frames=(0, latency_out)), blocksize=BLOCK,
                      channels_in=channels_in, channels_out=1, max_voices=voices)
    eng.start()
    return eng


def impulse_bank(requests, *, attack=None):
    """A distinct single-impulse Sound per request: amplitude 0.05, 0.10, ... in sorted order."""
    bank = {}
    for i, request in enumerate(sorted(requests)):
        data = np.zeros(4, np.float32)
        offset = 0 if attack is None else attack[request]
        data[offset] = 0.05 * (i + 1)
        bank[request] = Sound(request, data, RATE, attack_frames=offset)
    return bank


def rendered(eng, until_frame):
    blocks = -(-(until_frame + 1 - eng.now_frame) // BLOCK) + 1
    eng.backend.run_blocks(max(1, blocks))
    return eng.output_ring.read(0, eng.output_ring.written)[:, 0]


def expected_output(length, placements):
    """The mix of single impulses: sum of amplitude * gain at each frame."""
    out = np.zeros(length, np.float64)
    for frame, amp, gain in placements:
        out[frame] += amp * gain
    return out


def assert_song_played(eng, song, bank, start, cues):
    """Every note's impulse at start + round(start_s * rate), scaled by velocity / 127; nothing else."""
    frames = [start + round(n.start_s * RATE) for n in song.notes]
    assert [c.frame for c in cues] == frames
    out = rendered(eng, frames[-1])
    want = expected_output(out.size, [(f, float(bank[note_sound(n)].data[0]), n.velocity / 127)
                                      for f, n in zip(frames, song.notes)])
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-7)
    assert np.flatnonzero(out).tolist() == sorted(set(frames))
    assert eng.mixer.dropped == 0 and eng.mixer.late == 0 and eng.mixer.clipped_blocks == 0


class FakeOutput:
    """Records what play_song asks a MidiOutput to do, in order."""

    def __init__(self, engine):
        self.engine = engine
        self.calls: list[tuple] = []

    def send_at(self, frame, data):
        self.calls.append(("send_at", frame, bytes(data)))

    def note(self, frame, note, *, velocity=100, channel=0, duration_frames):
        self.calls.append(("note", frame, note, velocity, channel, duration_frames))


# ---------------------------------------------------------------- which sound each note asks for


def mnote(duration_s, *, channel=0, program=0, note=60):
    return MidiNote(0.0, duration_s, note, 100, channel, program)


@pytest.mark.parametrize("duration_s, held_ms", [(0.0, 250), (0.1, 250), (0.25, 250), (0.26, 500),
                                                 (0.6, 750), (3.9, 4000), (60.0, 4000)])
def test_a_pitched_note_asks_for_its_program_pitch_and_held_length_in_steps(duration_s, held_ms):
    assert note_sound(mnote(duration_s, program=19, note=67)) == f"program:19:67:{held_ms}"


def test_a_channel_10_note_is_a_drum_whatever_its_program():
    assert note_sound(mnote(2.0, channel=9, program=40, note=38)) == "drum:38"


def test_the_known_song_needs_exactly_its_sounds(tmp_path):
    song = load_midi(known_song(tmp_path))
    assert song_sounds(song) == {r for _, r, _ in KNOWN}
    assert len(KNOWN) == 4


# ---------------------------------------------------------------- through the sound bank


def test_the_known_song_plays_each_note_at_its_frame_with_velocity_gain(tmp_path):
    song = load_midi(known_song(tmp_path))
    bank = impulse_bank(song_sounds(song))
    start = 1_000
    eng = engine()
    cues = play_song(song, start, engine=eng, bank=bank)
    expected = [(start + f, request, vel) for f, request, vel in KNOWN]
    assert [(c.frame, c.sound) for c in cues] == [(f, r) for f, r, _ in expected]
    out = rendered(eng, cues[-1].frame)
    assert np.flatnonzero(out).tolist() == [f for f, _, _ in expected]
    want = expected_output(out.size, [(f, float(bank[r].data[0]), v / 127) for f, r, v in expected])
    np.testing.assert_allclose(out, want, rtol=1e-6, atol=0)
    assert [c.gain for c in cues] == pytest.approx([v / 127 for _, _, v in expected])
    assert [c.index for c in cues] == [0, 1, 2, 3] and {c.role for c in cues} == {"song"}
    assert eng.mixer.dropped == 0 and eng.mixer.late == 0
    eng.close()


def test_cues_say_when_each_note_is_heard(tmp_path):
    song = load_midi(known_song(tmp_path))
    attack = {r: k for k, r in enumerate(sorted(song_sounds(song)))}  # 0..3 frames into each sound
    bank = impulse_bank(song_sounds(song), attack=attack)
    eng = engine(latency_out=96)
    cues = play_song(song, 500, engine=eng, bank=bank, gain=0.5)
    assert [c.heard_frame - c.frame for c in cues] == [attack[c.sound] + 96 for c in cues]
    out = rendered(eng, cues[-1].frame + 4)
    # The attack really is where the sound's first sample is played from + its offset.
    assert np.flatnonzero(out).tolist() == [500 + f + attack[r] for f, r, _ in KNOWN]
    assert [c.gain for c in cues] == pytest.approx([0.5 * v / 127 for _, _, v in KNOWN])
    eng.close()


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_groove_midi_fixtures_play_sample_exact(path):
    song = load_midi(path)
    bank = impulse_bank(song_sounds(song))
    start = 777
    # Voices for every note: play_song schedules the whole song at once (SongPlayer does not).
    eng = engine(voices=len(song.notes) + 8)
    cues = play_song(song, start, engine=eng, bank=bank)
    assert_song_played(eng, song, bank, start, cues)
    eng.close()


def test_play_song_beyond_the_voice_count_loses_no_note_silently():
    """play_song holds a voice per scheduled note (as it documents): what finds none is counted."""
    song = load_midi(next(p for p in FIXTURES if "rock" in p.name))
    assert len(song.notes) > 64
    eng = engine(voices=64)
    play_song(song, 0, engine=eng, bank=impulse_bank(song_sounds(song)))
    rendered(eng, round(song.notes[-1].start_s * RATE))
    assert eng.mixer.voices_started + eng.mixer.dropped == len(song.notes)
    eng.close()


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_a_song_player_plays_a_whole_song_sample_exact_with_few_voices(path):
    song = load_midi(path)
    bank = impulse_bank(song_sounds(song))
    start = 777
    eng = engine(voices=16)
    player = SongPlayer(song, start, engine=eng, bank=bank, lookahead_s=0.1)
    steps = 0
    while not player.done:
        new = player.step()
        assert all(c.frame >= eng.now_frame for c in new)  # scheduled ahead, never for the past
        steps += 1
        eng.backend.run_blocks(8)  # the control loop wakes every 8 blocks (21 ms)
    assert steps > 10  # the song went out in pieces, not at once
    assert [c.index for c in player.cues] == list(range(len(song.notes)))
    assert_song_played(eng, song, bank, start, player.cues)
    eng.close()


def test_a_song_player_on_a_midi_output_only(tmp_path):
    song = load_midi(known_song(tmp_path))
    eng = engine()
    out = FakeOutput(eng)
    player = SongPlayer(song, 1000, engine=eng, output=out, lookahead_s=0.1)  # 4800 frames ahead
    assert [c[:2] for c in out.calls] == [("send_at", 999), ("send_at", 999)]  # programs at once
    player.step()
    assert [c[1] for c in out.calls if c[0] == "note"] == [1350]  # only what starts within the look-ahead
    while not player.done:
        eng.backend.run_blocks(8)
        player.step()
    assert [c[1] for c in out.calls if c[0] == "note"] == [1000 + f for f, _, _ in KNOWN]
    assert ("send_at", 101_000, bytes([0xC0, 7])) in out.calls
    assert not eng.output_ring.read(0, eng.output_ring.written).any()  # no bank: nothing played
    eng.close()


def test_a_missing_sound_or_no_target_is_refused(tmp_path):
    song = load_midi(known_song(tmp_path))
    eng = engine()
    bank = impulse_bank(song_sounds(song))
    del bank["drum:36"]
    with pytest.raises(KeyError):
        play_song(song, 0, engine=eng, bank=bank)
    with pytest.raises(ValueError, match="bank"):
        play_song(song, 0, engine=eng)
    with pytest.raises(ValueError):
        play_song(song, 0)
    eng.close()


# ---------------------------------------------------------------- through a MIDI output


def test_output_gets_programs_first_then_notes_at_the_bank_frames(tmp_path):
    song = load_midi(known_song(tmp_path))
    eng = engine()
    out = FakeOutput(eng)
    start = 2_000
    cues = play_song(song, start, engine=eng, bank=impulse_bank(song_sounds(song)), output=out)
    notes = [c for c in out.calls if c[0] == "note"]
    assert [c[1] for c in notes] == [c.frame for c in cues]
    assert notes == [
        ("note", start + 350, 60, 127, 0, 23_650),
        ("note", start + 24_050, 40, 100, 1, 176_050),
        ("note", start + 100_000, 62, 64, 0, 3_000),
        ("note", start + 200_100, 36, 90, 9, 1_000),
    ]
    programs = [c for c in out.calls if c[0] == "send_at"]
    # Each channel's first program before the first note; the change to program 7 just before its note.
    assert out.calls[:2] == [("send_at", start - 1, bytes([0xC0, 5])), ("send_at", start - 1, bytes([0xC1, 33]))]
    change = out.calls.index(("send_at", start + 100_000, bytes([0xC0, 7])))
    assert out.calls[change + 1] == notes[2]
    assert len(programs) == 3  # drums get no program change
    eng.close()


def test_output_only_and_a_channel_map(tmp_path):
    song = load_midi(known_song(tmp_path))
    eng = engine(latency_out=64)
    out = FakeOutput(eng)
    cues = play_song(song, 0, output=out, channel_map={0: 3})
    assert [c[4] for c in out.calls if c[0] == "note"] == [3, 1, 3, 9]
    assert [c[2] for c in out.calls if c[0] == "send_at"] == [bytes([0xC1, 33]), bytes([0xC3, 5]),
                                                               bytes([0xC3, 7])]
    assert [c.heard_frame - c.frame for c in cues] == [64] * 4  # no bank sound: no attack offset
    assert not rendered(eng, cues[0].frame + BLOCK).any()  # nothing went to the sound bank
    eng.close()


def test_messages_a_real_midi_output_would_send_in_order(tmp_path):
    """Through MidiOutput's own schedule (not started: nothing is sent), popped in sending order."""
    song = load_midi(known_song(tmp_path))
    eng = engine()
    mo = MidiOutput(eng, "synth", api=3)
    play_song(song, 10_000, output=mo)
    sent = []
    while mo._heap:
        frame, _, data = heapq.heappop(mo._heap)
        sent.append((frame, data))
    assert sent == [
        (9_999, bytes([0xC0, 5])), (9_999, bytes([0xC1, 33])),
        (10_350, bytes([0x90, 60, 127])),
        (34_000, bytes([0x80, 60, 0])),
        (34_050, bytes([0x91, 40, 100])),
        (110_000, bytes([0xC0, 7])), (110_000, bytes([0x90, 62, 64])),  # program first at the same frame
        (113_000, bytes([0x80, 62, 0])),
        (210_100, bytes([0x81, 40, 0])), (210_100, bytes([0x99, 36, 90])),  # off before on at one frame
        (211_100, bytes([0x89, 36, 0])),
    ]
    eng.close()
