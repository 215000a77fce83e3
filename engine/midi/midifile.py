"""MIDI files as notes on the engine's clock.

:func:`load_midi` reads a Standard MIDI File with mido and returns a
:class:`MidiSong`: every note with its start and duration in seconds (the tempo
map of all tracks applied, every ``set_tempo`` honoured), its channel and the
program in effect on that channel when it started. :meth:`MidiSong.to_frames`
then places the notes on the audio stream's frame clock for scheduling.

Conventions
-----------
- Times are computed per tick from the tempo map, not by summing rounded
  deltas, so an hour-long file does not drift.
- A note-on with velocity 0 is a note-off (running-status files use it).
- Notes of the same (channel, note) that overlap are paired first-in,
  first-out: the first note-off ends the earliest sounding note.
- A note never switched off ends at the end of the song.
- Type 2 files (independent sequences) are read like type 1: all tracks on
  one timeline from tick 0. Tempo events of any track apply to all tracks.
"""

from __future__ import annotations

import bisect
import io
import math
from collections import defaultdict, deque
from dataclasses import dataclass
from pathlib import Path

from engine.errors import ConfigError
from engine.fileread import MIDI_LIMIT, printable, read_bytes

__all__ = ["DEFAULT_TEMPO_US", "MAX_SONG_NOTES", "MAX_SONG_SECONDS", "MIN_TEMPO_US", "MidiFileError", "MidiNote",
           "MidiSong", "load_midi", "read_midi"]

DEFAULT_TEMPO_US = 500_000
"""Microseconds per beat before any set_tempo (120 BPM), as the MIDI standard says."""

MIN_TEMPO_US = 60_000
"""The fastest tempo a song may set: 60 000 microseconds per beat is 1000 BPM. A faster one (0 above all,
which MIDI allows) would put every later note at the same instant."""

MAX_SONG_SECONDS = 3600.0
"""The longest song Tandem plays, as played (after the tempo scale): a song in a session is a few minutes;
a longer file is damaged (a delta time of years) or not a song."""

MAX_SONG_NOTES = 100_000
"""The most notes a song may hold: a whole symphony in General MIDI has a few tens of thousands."""


@dataclass(frozen=True)
class MidiNote:
    """One note of a song; seconds from the song's start (tempo-scaled)."""

    start_s: float
    duration_s: float
    note: int
    velocity: int
    channel: int
    program: int


@dataclass(frozen=True)
class MidiSong:
    """A loaded MIDI file.

    Attributes
    ----------
    notes : tuple of MidiNote
        Sorted by start (then channel, note).
    duration_s : float
        Time of the file's last event (what ``mido.MidiFile.length`` gives), scaled.
    tempo_bpm_initial : float
        Beats per minute at the start, after ``tempo_scale``.
    ticks_per_beat : int
    source : Path
    tempo_scale : float
    """

    notes: tuple[MidiNote, ...]
    duration_s: float
    tempo_bpm_initial: float
    ticks_per_beat: int
    source: Path
    tempo_scale: float = 1.0

    def to_frames(self, sample_rate: int, start_frame: int = 0) -> list[tuple[int, MidiNote]]:
        """Each note with the stream frame where it starts.

        Each frame is ``start_frame + round(start_s * sample_rate)`` from the
        note's exact time (halves round up), so rounding never accumulates.
        """
        if not (isinstance(sample_rate, int) and sample_rate > 0):
            raise ConfigError(f"The sample rate must be a positive whole number of frames per second, not {sample_rate!r}.")
        return [(start_frame + math.floor(n.start_s * sample_rate + 0.5), n) for n in self.notes]


class _TempoMap:
    """Ticks → seconds, piecewise linear between tempo changes."""

    def __init__(self, changes: list[tuple[int, int]], ticks_per_beat: int) -> None:
        # changes: (tick, microseconds per beat), sorted by tick; last one at a tick wins.
        self.ticks = [0]
        self.tempos = [DEFAULT_TEMPO_US]
        self.seconds = [0.0]
        self.tpb = ticks_per_beat
        for tick, tempo in changes:
            if tick == self.ticks[-1]:
                self.tempos[-1] = tempo
                continue
            self.seconds.append(self.at(tick))
            self.ticks.append(tick)
            self.tempos.append(tempo)

    def at(self, tick: int) -> float:
        i = bisect.bisect_right(self.ticks, tick) - 1
        return self.seconds[i] + (tick - self.ticks[i]) * self.tempos[i] / (self.tpb * 1e6)


class MidiFileError(ConfigError):
    """A MIDI file cannot be read; :attr:`why` is the reason as a clause ("it ends in the middle of its data")."""

    def __init__(self, message: str, why: str) -> None:
        super().__init__(message)
        self.why = why


def read_midi(path: str | Path):
    """The ``mido.MidiFile`` of a regular file of at most :data:`~engine.fileread.MIDI_LIMIT`, in ticks per beat.

    Raises
    ------
    MidiFileError
        One sentence naming the file: missing, not a regular file, too large,
        not a Standard MIDI File (truncated, garbage in a track), or in SMPTE time.
    """
    import mido  # heavy (70 ms): only when a MIDI file is read

    path = Path(path)
    try:
        raw = read_bytes(path, what="MIDI file", limit_bytes=MIDI_LIMIT,
                         too_large="split the song, or save it without the tracks it does not need")
    except ConfigError as exc:
        why = "it " + str(exc).split(f"{printable(path)} ", 1)[-1].split(";")[0].rstrip(".")  # "it is a folder..."
        raise MidiFileError(str(exc), why) from None
    if not raw:
        raise MidiFileError(f"The MIDI file {path} is empty (0 bytes); export it again as a standard MIDI file "
                            f"(.mid).", "it is empty (0 bytes)")
    try:
        mid = mido.MidiFile(file=io.BytesIO(raw))
    except Exception as exc:  # noqa: BLE001 - mido raises OSError, EOFError, ValueError, KeyError... on bad data
        why = ("it ends in the middle of its data" if isinstance(exc, EOFError)
               else f"{type(exc).__name__}: {str(exc)[:100]}".replace(". ", ", ").rstrip(". "))
        raise MidiFileError(f"{path} could not be read as a MIDI file ({why}); export it again as a "
                            f"standard MIDI file (.mid).", why) from None
    tpb = mid.ticks_per_beat
    if not isinstance(tpb, int) or tpb <= 0:
        raise MidiFileError(f"{path} uses SMPTE time division, which Tandem cannot read; save it with ticks per "
                            f"beat.", "it uses SMPTE time, not ticks per beat")
    return mid


def load_midi(path: str | Path, *, tempo_scale: float = 1.0) -> MidiSong:
    """Read a ``.mid`` file into a :class:`MidiSong`.

    Parameters
    ----------
    path : str or Path
    tempo_scale : float, keyword-only
        Playback speed factor: 2.0 plays twice as fast (all times halved).

    Raises
    ------
    ConfigError
        The file is missing, unreadable or not a MIDI file, or tempo_scale is
        not a positive number; :class:`MidiFileError` for a song that sets a
        tempo faster than :data:`MIN_TEMPO_US` (0 above all), holds more than
        :data:`MAX_SONG_NOTES` notes or plays longer than :data:`MAX_SONG_SECONDS`.
    """
    path = Path(path)
    if isinstance(tempo_scale, bool) or not isinstance(tempo_scale, (int, float)) or not (
        math.isfinite(tempo_scale) and tempo_scale > 0
    ):
        raise ConfigError(f"The tempo scale must be a positive number (1.0 = as written), not {tempo_scale!r}.")
    mid = read_midi(path)
    tpb = mid.ticks_per_beat

    # Every message with its absolute tick; a stable sort keeps track order at equal ticks (as mido merges).
    events = []
    end_tick = 0
    for track_index, track in enumerate(mid.tracks):
        tick = 0
        for msg in track:
            tick += msg.time
            events.append((tick, track_index, msg))
        end_tick = max(end_tick, tick)
    events.sort(key=lambda e: (e[0], e[1]))

    tempos = [(t, m.tempo) for t, _, m in events if m.type == "set_tempo"]
    fast = next(((t, us) for t, us in tempos if us < MIN_TEMPO_US), None)
    if fast is not None:
        bpm = "0 microseconds per beat" if fast[1] == 0 else f"{60e6 / fast[1]:.0f} BPM"
        why = f"it sets the tempo to {bpm} at beat {fast[0] / tpb:g}, faster than the 1000 BPM any song has"
        raise MidiFileError(f"{path} could not be read as a MIDI file ({why}); export it again from the program "
                            f"that made it, with its real tempo.", why)
    tempo_map = _TempoMap(tempos, tpb)

    programs = [0] * 16
    sounding: dict[tuple[int, int], deque] = defaultdict(deque)
    raw: list[tuple[int, int, int, int, int, int]] = []  # start, end tick, note, vel, chan, prog
    for tick, _, msg in events:
        kind = msg.type
        if kind == "program_change":
            programs[msg.channel] = msg.program
        elif kind == "note_on" and msg.velocity > 0:
            sounding[(msg.channel, msg.note)].append((tick, msg.velocity, programs[msg.channel]))
        elif kind in ("note_off", "note_on"):
            queue = sounding.get((msg.channel, msg.note))
            if queue:
                start, vel, prog = queue.popleft()
                raw.append((start, tick, msg.note, vel, msg.channel, prog))
    for (channel, note), queue in sounding.items():
        for start, vel, prog in queue:
            raw.append((start, end_tick, note, vel, channel, prog))

    scale = float(tempo_scale)
    duration_s = tempo_map.at(end_tick) / scale
    if len(raw) > MAX_SONG_NOTES or not duration_s <= MAX_SONG_SECONDS:
        why = (f"it has {len(raw)} notes, more than the {MAX_SONG_NOTES} Tandem plays" if len(raw) > MAX_SONG_NOTES
               else f"it is {duration_s / 3600:.1f} hours long as played, more than the hour Tandem plays")
        raise MidiFileError(f"{path} could not be played ({why}); name a song of a few minutes, or export it "
                            f"again if it is one.", why)
    notes = []
    for start, end, note, vel, channel, prog in raw:
        start_s = tempo_map.at(start) / scale
        notes.append(MidiNote(start_s, tempo_map.at(end) / scale - start_s, note, vel, channel, prog))
    notes.sort(key=lambda n: (n.start_s, n.channel, n.note))

    return MidiSong(
        notes=tuple(notes),
        duration_s=duration_s,
        tempo_bpm_initial=60e6 / tempo_map.tempos[0] * scale,
        ticks_per_beat=tpb,
        source=path,
        tempo_scale=scale,
    )
