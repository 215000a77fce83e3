"""Playing a MIDI file (a song, an accompaniment) on the engine's clock.

A :class:`~engine.midi.midifile.MidiSong` already has exact note times from
its tempo map; here they become frames from a start frame and are scheduled
ahead, either as sound-bank voices (channel 10 as General MIDI drums,
every other channel with its program) or as messages on a MIDI output, or
both. Each note played is returned as a :class:`CueEvent` (role ``song``),
so a session log has the song's notes on the one clock like any other cue.

Sounds for the bank: a drum note is ``drum:<key>``; a pitched note is
``program:<p>:<note>:<ms>`` with its held length rounded up to a step of
``_HOLD_STEP_MS`` (so a song needs a few dozen renders, not one per note).
"""

from __future__ import annotations

import math

from engine.events import CueEvent
from engine.midi.midifile import MidiNote, MidiSong

__all__ = ["play_song", "song_sounds", "note_sound"]

DRUM_CHANNEL = 9  # MIDI channel 10
_HOLD_STEP_MS = 250
_HOLD_MAX_MS = 4000


def note_sound(note: MidiNote) -> str:
    """The sound-bank request that plays ``note``."""
    if note.channel == DRUM_CHANNEL:
        return f"drum:{note.note}"
    held = min(_HOLD_MAX_MS, max(_HOLD_STEP_MS, math.ceil(note.duration_s * 1000 / _HOLD_STEP_MS) * _HOLD_STEP_MS))
    return f"program:{note.program}:{note.note}:{held}"


def song_sounds(song: MidiSong) -> set[str]:
    """Every sound request :func:`play_song` needs for ``song`` (load the bank with them)."""
    return {note_sound(n) for n in song.notes}


def play_song(
    song: MidiSong,
    start_frame: int,
    *,
    engine=None,
    bank=None,
    output=None,
    gain: float = 1.0,
    channel_map: dict[int, int] | None = None,
) -> list[CueEvent]:
    """Schedule every note of ``song`` from stream frame ``start_frame``.

    Parameters
    ----------
    engine : AudioEngine, optional
        With ``bank``: play the notes through the sound bank.
    bank : mapping of request to Sound, optional
        Must hold :func:`song_sounds` (a note whose sound is missing raises KeyError).
    output : MidiOutput, optional
        Also (or instead) send the notes to this output, at the same frames.
    gain : float
        Overall gain of bank voices (velocity scales each note too).
    channel_map : dict, optional
        Re-route MIDI channels on the output (e.g. ``{0: 9}``).

    Returns
    -------
    list of CueEvent
        One per note, in time order, with the frame its sound starts at and
        the frame it is heard at.
    """
    if engine is None and output is None:
        raise ValueError("play_song needs an engine with a bank, or a MIDI output")
    if engine is not None and bank is None:
        raise ValueError("play_song on the engine needs a sound bank")
    rate = engine.sample_rate if engine is not None else output.engine.sample_rate
    out_latency = (engine or output.engine).output_latency_frames
    cues: list[CueEvent] = []
    programs: dict[int, int] = {}  # the program each output channel was last given
    if output is not None:  # each channel's instrument, just before its first note
        for note in song.notes:
            if note.channel != DRUM_CHANNEL:
                programs.setdefault((channel_map or {}).get(note.channel, note.channel), note.program)
        for ch, program in sorted(programs.items()):
            output.send_at(start_frame - 1, bytes([0xC0 | ch, program]))
    for i, (frame, note) in enumerate(song.to_frames(rate, start_frame)):
        request = note_sound(note)
        attack = 0
        if engine is not None:
            sound = bank[request]
            engine.play(sound, frame, gain=gain * note.velocity / 127.0)
            attack = sound.attack_frames
        if output is not None:
            ch = (channel_map or {}).get(note.channel, note.channel)
            if note.channel != DRUM_CHANNEL and programs.get(ch) != note.program:
                # A program change within the song: at the note's frame, sent before it (same frame, scheduled first).
                output.send_at(frame, bytes([0xC0 | ch, note.program]))
                programs[ch] = note.program
            duration = max(1, int(round(note.duration_s * rate)))
            output.note(frame, note.note, velocity=max(1, note.velocity), channel=ch, duration_frames=duration)
        cues.append(CueEvent(frame=frame, sound=request, heard_frame=frame + attack + out_latency,
                             gain=gain * note.velocity / 127.0, role="song", index=i))
    return cues
