"""MIDI files: tempo maps, pairing, programs, tempo scaling, frames, fixtures, bad files."""

from __future__ import annotations

import os
from pathlib import Path

import mido
import pytest

from engine.errors import ConfigError
from engine.midi.midifile import MidiNote, load_midi

FIXTURES = Path(__file__).parent / "fixtures" / "groove_midi"
TPB = 480


def save(tmp_path, tracks, name="song.mid", type_=1):
    mid = mido.MidiFile(type=type_, ticks_per_beat=TPB)
    for msgs in tracks:
        mid.tracks.append(mido.MidiTrack(msgs))
    path = tmp_path / name
    mid.save(path)
    return path


def on(note, time, vel=100, ch=0):
    return mido.Message("note_on", note=note, velocity=vel, channel=ch, time=time)


def off(note, time, ch=0, zero_velocity=False):
    if zero_velocity:
        return mido.Message("note_on", note=note, velocity=0, channel=ch, time=time)
    return mido.Message("note_off", note=note, velocity=64, channel=ch, time=time)


def tempo(bpm, time=0):
    return mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=time)


@pytest.fixture
def song_path(tmp_path):
    # Track 0: tempo map: 120 BPM, then 60 BPM at beat 2, then 240 BPM at beat 4.
    conductor = [tempo(120), tempo(60, 2 * TPB), tempo(240, 2 * TPB)]
    # Track 1, channel 0: piano notes on every beat, velocity-0 note-offs (half a beat long).
    piano = [mido.Message("program_change", program=5, channel=0, time=0)]
    for beat in range(6):
        piano += [on(60 + beat, 0 if beat == 0 else TPB // 2), off(60 + beat, TPB // 2, zero_velocity=True)]
    # Track 2, channel 9: a drum hit at beat 3 (in the 60 BPM part), then a program change on ch 1.
    drums = [on(38, 3 * TPB, ch=9), off(38, TPB // 4, ch=9),
             mido.Message("program_change", program=40, channel=1, time=0), on(72, 0, ch=1), off(72, TPB, ch=1)]
    return save(tmp_path, [conductor, piano, drums])


def test_tempo_changes_mid_file(song_path):
    song = load_midi(song_path)
    piano = [n for n in song.notes if n.channel == 0]
    # Beats 0,1 at 0.5 s/beat; beats 2,3 at 1 s/beat; beats 4,5 at 0.25 s/beat.
    assert [n.start_s for n in piano] == pytest.approx([0.0, 0.5, 1.0, 2.0, 3.0, 3.25], abs=1e-12)
    assert [n.duration_s for n in piano] == pytest.approx([0.25, 0.25, 0.5, 0.5, 0.125, 0.125], abs=1e-12)
    assert all(n.program == 5 for n in piano)
    assert song.tempo_bpm_initial == pytest.approx(120)
    assert song.ticks_per_beat == TPB
    assert song.source == song_path


def test_two_tracks_channels_and_programs(song_path):
    song = load_midi(song_path)
    snare = [n for n in song.notes if n.channel == 9]
    assert snare == [MidiNote(2.0, 0.25, 38, 100, 9, 0)]
    lead = [n for n in song.notes if n.channel == 1]
    assert len(lead) == 1 and lead[0].program == 40
    assert lead[0].start_s == pytest.approx(2.25) and lead[0].duration_s == pytest.approx(0.75 + 0.0625)  # across the change to 240 BPM
    starts = [n.start_s for n in song.notes]
    assert starts == sorted(starts)


def test_duration_matches_mido_length(song_path):
    assert load_midi(song_path).duration_s == pytest.approx(mido.MidiFile(song_path).length, abs=1e-9)


def test_overlapping_same_note_pairs_first_in_first_out(tmp_path):
    path = save(tmp_path, [[tempo(60), on(60, 0, vel=10), on(60, TPB, vel=20), off(60, TPB), off(60, TPB)]])
    notes = load_midi(path).notes
    assert [(n.start_s, n.duration_s, n.velocity) for n in notes] == [(0.0, 2.0, 10), (1.0, 2.0, 20)]


def test_unterminated_note_ends_at_song_end(tmp_path):
    path = save(tmp_path, [[tempo(60), on(60, 0), off(61, 2 * TPB)]])  # stray note-off, 60 never ends
    notes = load_midi(path).notes
    assert notes == (MidiNote(0.0, 2.0, 60, 100, 0, 0),)


def test_default_tempo_is_120(tmp_path):
    path = save(tmp_path, [[on(60, TPB), off(60, TPB)]])
    song = load_midi(path)
    assert song.notes[0].start_s == 0.5 and song.tempo_bpm_initial == 120


@pytest.mark.parametrize("scale", [0.5, 2.0, 1.25])
def test_tempo_scale(song_path, scale):
    plain, fast = load_midi(song_path), load_midi(song_path, tempo_scale=scale)
    for a, b in zip(plain.notes, fast.notes):
        assert b.start_s == pytest.approx(a.start_s / scale, abs=1e-12)
        assert b.duration_s == pytest.approx(a.duration_s / scale, abs=1e-12)
    assert fast.duration_s == pytest.approx(plain.duration_s / scale)
    assert fast.tempo_bpm_initial == pytest.approx(120 * scale)


@pytest.mark.parametrize("scale", [0, -1, float("nan"), "2", True])
def test_bad_tempo_scale(song_path, scale):
    with pytest.raises(ConfigError, match="tempo scale"):
        load_midi(song_path, tempo_scale=scale)


def test_to_frames_exact_without_accumulation(tmp_path):
    # 1000 notes a third of a beat apart at 120 BPM: 1/6 s, never a whole number of frames at 44.1 kHz.
    msgs = [tempo(120)]
    for _ in range(1000):
        msgs += [on(60, 0 if len(msgs) == 1 else TPB // 3 - 1), off(60, 1)]
    song = load_midi(save(tmp_path, [msgs]))
    frames = song.to_frames(44100, start_frame=1000)
    for i, (frame, note) in enumerate(frames):
        exact = i * (TPB // 3) * 0.5 / TPB * 44100  # seconds per tick × ticks × rate
        assert frame == 1000 + int(exact + 0.5)
        assert note is song.notes[i]
    assert song.to_frames(48000)[1][0] == round(48000 / 6)


def test_to_frames_bad_rate(song_path):
    with pytest.raises(ConfigError, match="sample rate"):
        load_midi(song_path).to_frames(0)


def mido_timed_notes(path):
    """Note-ons with their times as mido's own playback iteration gives them."""
    now, out = 0.0, []
    for msg in mido.MidiFile(path):
        now += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            out.append(now)
    return out, now


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.mid")), ids=lambda p: p.name)
def test_groove_fixture_matches_mido_playback(path):
    song = load_midi(path)
    starts, end = mido_timed_notes(path)
    assert len(song.notes) == len(starts) > 0
    assert song.notes[0].start_s == pytest.approx(starts[0], abs=1e-9)
    assert song.notes[-1].start_s == pytest.approx(max(starts), abs=1e-9)
    assert sorted(n.start_s for n in song.notes) == pytest.approx(sorted(starts), abs=1e-9)
    assert song.duration_s == pytest.approx(end, abs=1e-9)
    assert all(n.channel == 9 for n in song.notes)


def test_fixture_count():
    assert 1 <= len(list(FIXTURES.glob("*.mid"))) <= 3  # a few small files: the suite stays light
    assert "CC BY 4.0" in (FIXTURES / "LICENSE-groove-midi.txt").read_text()


def test_corrupt_file(tmp_path):
    path = tmp_path / "noise.mid"
    path.write_bytes(os.urandom(2000))
    with pytest.raises(ConfigError) as info:
        load_midi(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_truncated_midi(tmp_path, song_path):
    path = tmp_path / "cut.mid"
    path.write_bytes(song_path.read_bytes()[:40])
    with pytest.raises(ConfigError, match="could not be read as a MIDI file"):
        load_midi(path)


def test_missing_and_non_midi(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_midi(tmp_path / "none.mid")
    text = tmp_path / "notes.mid"
    text.write_text("not a midi file at all\n")
    with pytest.raises(ConfigError, match="could not be read"):
        load_midi(text)
    with pytest.raises(ConfigError):
        load_midi(tmp_path)  # a folder
