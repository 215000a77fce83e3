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

__all__ = ["SongPlayer", "play_song", "song_sounds", "note_sound"]

DRUM_CHANNEL = 9  # MIDI channel 10
_HOLD_STEP_MS = 250
_HOLD_MAX_MS = 4000


def note_sound(note: MidiNote) -> str:
    """The sound-bank request that plays ``note``."""
    if note.channel == DRUM_CHANNEL:
        return f"drum:{note.note}"
    ms = round(note.duration_s * 1000, 3)  # 0.5000000000000002 s is 500 ms, not a step more
    held = min(_HOLD_MAX_MS, max(_HOLD_STEP_MS, math.ceil(ms / _HOLD_STEP_MS) * _HOLD_STEP_MS))
    return f"program:{note.program}:{note.note}:{held}"


def song_sounds(song: MidiSong) -> set[str]:
    """Every sound request :func:`play_song` needs for ``song`` (load the bank with them)."""
    return {note_sound(n) for n in song.notes}


class _Scheduler:
    """Schedules notes of one song in order; shared by :func:`play_song` and :class:`SongPlayer`."""

    def __init__(self, song: MidiSong, start_frame: int, *, engine, bank, output, gain: float,
                 channel_map: dict[int, int] | None) -> None:
        if engine is None and output is None:
            raise ValueError("play_song needs an engine with a bank, or a MIDI output")
        if engine is not None and bank is None:
            raise ValueError("play_song on the engine needs a sound bank")
        self.engine, self.bank, self.output, self.gain = engine, bank, output, gain
        self.channel_map = channel_map or {}
        clock = engine if engine is not None else output.engine
        self.rate = clock.sample_rate
        self.out_latency = clock.output_latency_frames
        self.notes = song.to_frames(self.rate, start_frame)
        self.i = 0
        self.programs: dict[int, int] = {}  # the program each output channel was last given
        if output is not None:  # each channel's instrument, just before its first note
            for note in song.notes:
                if note.channel != DRUM_CHANNEL:
                    self.programs.setdefault(self.channel_map.get(note.channel, note.channel), note.program)
            for ch, program in sorted(self.programs.items()):
                output.send_at(start_frame - 1, bytes([0xC0 | ch, program]))

    def schedule_until(self, horizon: int | None) -> list[CueEvent]:
        """Schedule the notes starting before ``horizon`` (all when None)."""
        cues: list[CueEvent] = []
        while self.i < len(self.notes) and (horizon is None or self.notes[self.i][0] < horizon):
            frame, note = self.notes[self.i]
            cues.append(self._one(self.i, frame, note))
            self.i += 1
        return cues

    def _one(self, i: int, frame: int, note: MidiNote) -> CueEvent:
        request = note_sound(note)
        attack = 0
        level = self.gain * note.velocity / 127.0
        if self.engine is not None:
            sound = self.bank[request]
            self.engine.play(sound, frame, gain=level)
            attack = sound.attack_frames
        if self.output is not None:
            ch = self.channel_map.get(note.channel, note.channel)
            if note.channel != DRUM_CHANNEL and self.programs.get(ch) != note.program:
                # A program change within the song: at the note's frame, sent before it (same frame, scheduled first).
                self.output.send_at(frame, bytes([0xC0 | ch, note.program]))
                self.programs[ch] = note.program
            duration = max(1, int(round(note.duration_s * self.rate)))
            self.output.note(frame, note.note, velocity=max(1, note.velocity), channel=ch, duration_frames=duration)
        return CueEvent(frame=frame, sound=request, heard_frame=frame + attack + self.out_latency,
                        gain=level, role="song", index=i)


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
    """Schedule every note of ``song`` from stream frame ``start_frame``, all at once.

    Each sound-bank note holds one of the mixer's voices from the moment it
    is scheduled until it has played, so through the bank this suits phrases
    with fewer notes than the engine's ``max_voices``; a whole song goes
    through :class:`SongPlayer`, which schedules a look-ahead at a time.

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
    return _Scheduler(song, start_frame, engine=engine, bank=bank, output=output, gain=gain,
                      channel_map=channel_map).schedule_until(None)


class SongPlayer:
    """A song of any length: call :meth:`step` from the control loop (every few tens of ms).

    Each step schedules the notes that start before the stream's next
    frame + ``lookahead_s``, so only those hold mixer voices. Arguments as
    for :func:`play_song`; ``engine`` is the running engine (its clock
    paces the steps) and ``bank`` may be None to play on ``output`` only.
    """

    def __init__(self, song: MidiSong, start_frame: int, *, engine, bank=None, output=None, gain: float = 1.0,
                 channel_map: dict[int, int] | None = None, lookahead_s: float = 0.5) -> None:
        self.engine = engine
        self.lookahead_frames = int(lookahead_s * engine.sample_rate)
        self._scheduler = _Scheduler(song, start_frame, engine=engine if bank is not None else None, bank=bank,
                                     output=output, gain=gain, channel_map=channel_map)
        self.cues: list[CueEvent] = []

    @property
    def done(self) -> bool:
        return self._scheduler.i >= len(self._scheduler.notes)

    def step(self) -> list[CueEvent]:
        """Schedule the notes due within the look-ahead; returns their cues."""
        new = self._scheduler.schedule_until(self.engine.now_frame + self.lookahead_frames)
        self.cues += new
        return new
