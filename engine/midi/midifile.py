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
import math
from collections import defaultdict, deque
from dataclasses import dataclass
from pathlib import Path

from engine.errors import ConfigError

__all__ = ["DEFAULT_TEMPO_US", "MidiNote", "MidiSong", "load_midi"]

DEFAULT_TEMPO_US = 500_000
"""Microseconds per beat before any set_tempo (120 BPM), as the MIDI standard says."""


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
        not a positive number.
    """
    import mido  # heavy (70 ms): only when a MIDI file is read

    path = Path(path)
    if isinstance(tempo_scale, bool) or not isinstance(tempo_scale, (int, float)) or not (
        math.isfinite(tempo_scale) and tempo_scale > 0
    ):
        raise ConfigError(f"The tempo scale must be a positive number (1.0 = as written), not {tempo_scale!r}.")
    if not path.is_file():
        raise ConfigError(f"MIDI file {path} does not exist; check the path.")
    try:
        mid = mido.MidiFile(path)
    except Exception as exc:  # mido raises OSError, EOFError, ValueError, KeyError… on bad data
        why = "it ends in the middle of its data" if isinstance(exc, EOFError) else f"{type(exc).__name__}: {exc}"
        raise ConfigError(f"{path} could not be read as a MIDI file ({why}); export it again as a "
                          f"standard MIDI file (.mid).") from None
    tpb = mid.ticks_per_beat
    if not tpb or tpb <= 0:
        raise ConfigError(f"{path} uses SMPTE time division, which Tandem cannot read; save it with ticks per beat.")

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

    tempo_map = _TempoMap([(t, m.tempo) for t, _, m in events if m.type == "set_tempo"], tpb)

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
    notes = []
    for start, end, note, vel, channel, prog in raw:
        start_s = tempo_map.at(start) / scale
        notes.append(MidiNote(start_s, tempo_map.at(end) / scale - start_s, note, vel, channel, prog))
    notes.sort(key=lambda n: (n.start_s, n.channel, n.note))

    return MidiSong(
        notes=tuple(notes),
        duration_s=tempo_map.at(end_tick) / scale,
        tempo_bpm_initial=60e6 / tempo_map.tempos[0] * scale,
        ticks_per_beat=tpb,
        source=path,
        tempo_scale=scale,
    )
