"""Intervention scripts: TOML files a therapist writes, read and checked.

A script is pure data (nothing in it is ever executed). It names its kind,
tempo and meter, the instruments for cues and feedback, the inputs it
listens to, its phrases in readable notation (:mod:`engine.interventions.notation`),
how many trials or minutes, adaptation rules, prompts and the objectives it
measures. ``docs/scripts.md`` explains every field with examples; a short
one::

    title = "Echo drums"
    kind = "call_and_response"
    tempo_bpm = 90
    meter = "4/4"
    trials = 10

    [instruments]
    cue = "drum:hi_bongo"
    feedback = "drum:low_bongo"

    [input]
    source = "both"

    [[phrases]]
    rhythm = "x.x.x..."

    [[objectives]]
    id = "echo"
    metric = "correct"
    criterion = "k_of_n"
    k = 4
    n = 5
    comparator = "=="
    threshold = true

:func:`load_script` checks everything and raises :class:`ScriptError` with
one sentence per problem, each naming ``file:line``, the field and what is
allowed.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import math
import numbers
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.audio.audiofile import MAX_SAMPLE_SECONDS, AudioFileError, read_audio
from engine.audio.soundbank import GM_PERCUSSION, SoundRequestError, parse_note
from engine.errors import ConfigError
from engine.fileread import TEXT_LIMIT, read_text
from engine.interventions.notation import (
    NotationError,
    parse_grid,
    parse_melody,
    parse_meter,
    parse_rhythm,
)
from engine.interventions.tomlcheck import (
    Checker,
    Problem,
    SyntaxProblem,
    describe,
    did_you_mean,
    objective_problem,
    parse_toml,
)
from engine.midi.midifile import load_midi, read_midi
from engine.midi.playback import note_sound
from engine.scoring.blanks import BlankResult
from engine.scoring.continuation import MIN_CONTINUATION_TAPS, ContinuationResult
from engine.scoring.imitation import ImitationResult
from engine.scoring.inhibition import STOP_GRACE_MS, StopResult
from engine.scoring.objectives import LEVEL_BOUNDS, Objective
from engine.scoring.sync import SyncSummary
from engine.scoring.turns import TurnResult
from engine.text import escape_controls, shown

__all__ = [
    "ALL_METRICS",
    "FIELDS",
    "KINDS",
    "KIND_LEVELS",
    "KIND_METRICS",
    "KIND_TABLES",
    "METRICS",
    "SOURCES",
    "Adaptation",
    "CueingSong",
    "Inputs",
    "Instruments",
    "Phrase",
    "Prompts",
    "Script",
    "ScriptError",
    "SongNote",
    "continuation_key",
    "load_cueing_song",
    "load_script",
]

KINDS = ("call_and_response", "turn_taking", "rhythmic_cueing", "stop_and_go", "fill_in_the_blank")
"""The kinds of intervention a script can be."""

SOURCES = ("midi", "mic", "both")
"""Inputs a script can listen to."""

MIN_TEMPO_BPM = 20.0
MAX_TEMPO_BPM = 300.0
MAX_TRIALS = 500
MAX_DURATION_MIN = 120.0
MAX_COUNT_IN = 16
MAX_TEMPO_STEP_PCT = 20.0
SAMPLE_SUFFIXES = (".wav", ".flac")

# Sizes of what a script holds. They bound what a file can make Tandem do (a million-character rhythm once
# wrote 2 GB of log in 90 s), far above any script written by hand (the shipped ones: titles under 40
# characters, phrases under 30 notes, at most 6 phrases and 3 objectives).
#: The longest text of a field, in characters (titles, names, instruments, meters).
MAX_TEXT = 200
#: The longest description, in characters.
MAX_DESCRIPTION = 4000
#: The longest instrument text: ``file:`` and a path (PATH_MAX on Linux is 4096).
MAX_SOUND_TEXT = 4200
#: The most [[phrases]] entries and [[objectives]] entries.
MAX_PHRASES = 64
MAX_OBJECTIVES = 32
#: The longest phrase as written (rhythm or melody text), in characters.
MAX_PHRASE_TEXT = 2048
#: The most notes (onsets) in one phrase, and its greatest length in beats (64 bars of 4/4).
MAX_PHRASE_NOTES = 256
MAX_PHRASE_BEATS = 256.0
#: The most pads or keys an [input] list names (there are 128 MIDI notes).
MAX_NOTE_LIST = 128
#: The most notes in a [prompts] lead_in, and its longest text.
MAX_LEAD_IN_NOTES = 64
#: The longest objective id, in characters (it heads a column of the CSV export and a line of every report).
MAX_OBJECTIVE_ID = 64

# Ranges of the per-kind tables' fields (low, high). They bound typos, not clinical choices.
#: [response] window_s: seconds after the call for the echo to start.
RESPONSE_WINDOW_S = (0.5, 30.0)
#: [turns] gap_s: a silence this long ends the child's turn.
TURN_GAP_S = (0.3, 10.0)
#: [turns] max_s: the longest child turn.
TURN_MAX_S = (1.0, 60.0)
#: [turns] initiate_within_s: how long after the hand-over the child may start.
TURN_INITIATE_S = (0.5, 30.0)
#: [turns] grace_s: forgiven at each end of the engine's turn.
TURN_GRACE_S = (0.0, 1.0)
#: The engine's musical answers to a child's turn, in the order they are taken.
ANSWERS = ("echo", "variation", "next")
#: [cueing] free_play_s: 0 (no free play) or this long. At least 8 s: the child's tempo needs
#: 8 taps, and 8 s holds 8 taps at 60 BPM, the slow end of children's self-paced tapping (assumption).
FREE_PLAY_S = (8.0, 300.0)
#: [cueing] window_ms: a beat is hit when a tap is within this many ms of it.
CUEING_WINDOW_MS = (20.0, 250.0)
#: [cueing] continuation_beats: 0 (off) or this many silent beats after the synchronisation part; at
#: least the taps engine.scoring.continuation needs to score a continuation (5).
CONTINUATION_BEATS = (MIN_CONTINUATION_TAPS, 64)
#: [cueing] sync_bars: bars of the synchronisation part of a continuation trial.
SYNC_BARS = (1, 16)
DEFAULT_SYNC_BARS = 2
#: [cueing] song: the file endings accepted for a song.
SONG_SUFFIXES = (".mid", ".midi")
#: [stop_and_go] go_bars: bars of music before each stop (a whole number or a [low, high] range).
GO_BARS = (1, 32)
#: [stop_and_go] stop_s: seconds of silence (a number or a [low, high] range).
STOP_S = (1.0, 30.0)
#: [stop_and_go] grace_ms: forgiven reaction time after the stop.
STOP_GRACE_RANGE_MS = (0.0, 1000.0)
#: [fill_in_the_blank] window_beats: the fill window is +- this many beats around the blank
#: (above 0; at most half a beat, past which an onset is nearer to a neighbouring note).
BLANK_WINDOW_BEATS = (0.0, 0.5)


def _metric_names(result_class: type) -> tuple[str, ...]:
    """Score keys of a result dataclass: its numeric and true/false fields.

    Text fields (``reason``, ``failed``), times within the session (``*_s``)
    and settings echoed back (``window_ms``) are not metrics.
    """
    return tuple(f.name for f in dataclasses.fields(result_class)
                 if "str" not in str(f.type) and not f.name.endswith("_s") and f.name not in _SETTINGS)


_SETTINGS = ("window_ms", "grace_ms")
_SYNC_FIELDS = frozenset(f.name for f in dataclasses.fields(SyncSummary))


def continuation_key(name: str) -> str:
    """The score key of a continuation result's field in a trial's scores.

    A synchronisation–continuation trial has both families of scores in one
    table, so a continuation field whose name is also a synchronisation field
    (``iti_cv``, ``tempo_ratio``, ``n_taps``, ``n_cues``, ``scorable``,
    ``reason``) is prefixed ``continuation_``; the others keep their names
    (``drift_pct_per_interval``, ``iti_mean_ms``, ...).
    """
    return f"continuation_{name}" if name in _SYNC_FIELDS else name


METRICS: dict[str, tuple[str, ...]] = {
    "sync": _metric_names(SyncSummary),
    "imitation": _metric_names(ImitationResult),
    "turns": _metric_names(TurnResult),
    "continuation": tuple(continuation_key(m) for m in _metric_names(ContinuationResult)),
    "inhibition": _metric_names(StopResult),
    "blank": _metric_names(BlankResult),
}
"""Metric keys an objective may name, by family of scores (from engine.scoring's results)."""

KIND_METRICS: dict[str, tuple[str, ...]] = {
    "call_and_response": ("imitation",),
    "turn_taking": ("turns",),
    "rhythmic_cueing": ("sync",),
    "stop_and_go": ("inhibition",),
    "fill_in_the_blank": ("blank",),
}
"""The metric families each kind's trials produce (an objective must name one of their metrics).

Besides these, a ``rhythmic_cueing`` script with ``[cueing] continuation_beats`` above 0
(the synchronisation–continuation variant) also produces the ``continuation`` family."""

KIND_LEVELS: dict[str, tuple[str, ...]] = {
    "call_and_response": ("pattern_length", "tempo_bpm"),
    "turn_taking": ("pattern_length", "tempo_bpm"),
    "rhythmic_cueing": ("tempo_bpm",),
    "stop_and_go": ("tempo_bpm",),
    "fill_in_the_blank": ("tempo_bpm",),
}
"""The difficulty each kind's trials carry in their scores, for an objective's ``level``: ``tempo_bpm`` (the
trial's tempo) and, where the length adapts, ``pattern_length`` (notes in the call, or in the engine's turn)."""

KIND_TABLES: dict[str, str] = {
    "response": "call_and_response",
    "turns": "turn_taking",
    "cueing": "rhythmic_cueing",
    "stop_and_go": "stop_and_go",
    "fill_in_the_blank": "fill_in_the_blank",
}
"""The optional per-kind tables and the kind each belongs to."""

ALL_METRICS = tuple(dict.fromkeys(m for names in METRICS.values() for m in names))
"""Every metric an objective may name, each once (in the order of :data:`METRICS`)."""

FIELDS: dict[str, tuple[str, ...]] = {
    "script": ("title", "kind", "description", "tempo_bpm", "meter", "grid", "trials", "duration_min",
               "instruments", "input", "phrases", "adapt", "prompts", "objectives", *KIND_TABLES),
    "instruments": ("cue", "feedback"),
    "input": ("source", "pads", "keys"),
    "phrases": ("name", "rhythm", "melody", "beats", "grid", "blank"),
    "adapt": ("up_after", "down_after", "tempo_step_pct", "length_step", "min_tempo_bpm", "max_tempo_bpm"),
    "prompts": ("count_in_beats", "your_turn_visual", "your_turn_sound", "lead_in"),
    "objectives": tuple(f.name for f in dataclasses.fields(Objective)) + ("max_prompt",),
    "response": ("window_s", "require_pitch", "tempo_invariant", "accompaniment"),
    "turns": ("gap_s", "max_s", "initiate_within_s", "grace_s", "answers"),
    "cueing": ("free_play_s", "window_ms", "entrain_pct", "continuation_beats", "sync_bars", "song"),
    "stop_and_go": ("go_bars", "stop_s", "grace_ms"),
    "fill_in_the_blank": ("window_beats",),
}
"""The fields each table of a script may have (``script``: the top level)."""

_TABLE_NAMES = {"script": "a script", "instruments": "[instruments]", "input": "[input]",
                "phrases": "a [[phrases]] entry", "adapt": "[adapt]", "prompts": "[prompts]",
                "objectives": "an [[objectives]] entry", **{t: f"[{t}]" for t in KIND_TABLES}}


class ScriptError(ConfigError):
    """A script has problems; :attr:`problems` holds one sentence for each."""

    def __init__(self, problems: list[str] | tuple[str, ...]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class Instruments:
    """Sounds for the engine's cues and for feedback to the child's playing.

    Each is a sound-bank request (``drum:hi_bongo``, ``click``, ``tone``,
    ``noise_drum``), ``program:<0-127>`` (a General MIDI instrument whose
    notes come from the phrases), ``file:<absolute path>`` (a sample),
    ``midi_out`` (an external synth or keyboard), or for feedback ``device``
    (the sound the input's device map gives) or ``none``.
    """

    cue: str
    feedback: str = "device"


@dataclass(frozen=True)
class Inputs:
    """What the child plays into: ``source`` midi, mic or both; accepted pads and keys (MIDI notes; empty: any)."""

    source: str
    pads: tuple[int, ...] = ()
    keys: tuple[int, ...] = ()


@dataclass(frozen=True)
class Phrase:
    """One phrase or pattern.

    Attributes
    ----------
    name : str
        The script's name for it, or ``"phrase N"``.
    notation : str
        ``"rhythm"``, ``"melody"`` or ``"beats"``: how it was written.
    text : str
        As written (beats: the list as text).
    onsets_beats : tuple of float
        Onset times in beats from the phrase's start.
    pitches : tuple of int
        MIDI notes, one per onset (melodies only; empty otherwise).
    length_beats : float
        Length in beats (whole bars for rhythms; the notes' sum for melodies;
        up to the beat after the last onset for beat lists).
    blank : int or None
        Fill-in-the-blank phrases only: the 0-based index of the note the
        engine leaves out for the child (written 1-based as ``blank = N``;
        default the last note). None for other kinds.
    """

    name: str
    notation: str
    text: str
    onsets_beats: tuple[float, ...]
    pitches: tuple[int, ...] = ()
    length_beats: float = 0.0
    blank: int | None = None


@dataclass(frozen=True)
class Adaptation:
    """Make it harder after ``up_after`` correct trials in a row, easier after ``down_after`` misses in a row.

    Harder means ``tempo_step_pct`` percent faster (within ``min_tempo_bpm``..``max_tempo_bpm``)
    and ``length_step`` more phrases' worth of notes; easier the reverse.
    """

    up_after: int = 3
    down_after: int = 2
    tempo_step_pct: float = 5.0
    length_step: int = 0
    min_tempo_bpm: float = MIN_TEMPO_BPM
    max_tempo_bpm: float = MAX_TEMPO_BPM


@dataclass(frozen=True)
class Prompts:
    """Help before each turn: a count-in, a visual "your turn", a sound, a musical lead-in (notes, beats)."""

    count_in_beats: int = 4
    your_turn_visual: bool = True
    your_turn_sound: str = "none"
    lead_in: tuple[tuple[int, float], ...] = ()


@dataclass(frozen=True)
class Script:
    """A checked intervention script (see the module docstring); build it with :func:`load_script`."""

    path: Path
    title: str
    kind: str
    tempo_bpm: float
    meter: tuple[int, int]
    grid: str
    instruments: Instruments
    inputs: Inputs
    phrases: tuple[Phrase, ...]
    trials: int | None = None
    duration_min: float | None = None
    adaptation: Adaptation | None = None
    prompts: Prompts = Prompts()
    objectives: tuple[Objective, ...] = ()
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    """The kind's settings from its table (``[turns]``, ``[cueing]``, ...) as keyword options of its
    class in :mod:`engine.interventions.kinds` (e.g. ``[turns] gap_s`` → ``turn_gap_s``); only the fields given."""


@dataclass(frozen=True)
class SongNote:
    """One note of a cueing song: its onset in the file's beats from the song's start, its sound-bank request."""

    beat: float
    sound: str
    note: int


@dataclass(frozen=True)
class CueingSong:
    """A MIDI file played as the beat of rhythmic cueing (``[cueing] song``); see :func:`load_cueing_song`.

    Attributes
    ----------
    path : Path
    file_bpm : float
        The file's own tempo (it has one).
    notes : tuple of SongNote
        In time order; ``beat`` is the note's tick / ticks per beat (the
        file's beat 0 is the first downbeat).
    length_beats : float
        The file's length (its last event) in beats.
    meter : tuple of int or None
        The file's first time signature, if it has one.
    """

    path: Path
    file_bpm: float
    notes: tuple[SongNote, ...]
    length_beats: float
    meter: tuple[int, int] | None = None

    def sounds(self) -> list[str]:
        """Every sound-bank request the song plays."""
        return list(dict.fromkeys(n.sound for n in self.notes))


def load_cueing_song(path: str | Path, tempo_bpm: float) -> CueingSong:
    """Read a song for rhythmic cueing: its notes in beats, their sounds held as at ``tempo_bpm``.

    The file is read with :func:`engine.midi.midifile.load_midi` scaled so that
    its beat is ``tempo_bpm``; each note's sound is
    :func:`engine.midi.playback.note_sound` of it (a pitched note's held
    length is its length at ``tempo_bpm``, kept at every tempo the session
    reaches, so the sound bank is loaded once).

    Raises
    ------
    ConfigError
        One sentence (without the script's file:line; the checker adds it):
        the file is missing, not a MIDI file, has no notes, or changes tempo.
    """
    path = Path(path)
    if not os.path.lexists(path):  # False, not an error, for a name too long; a FIFO or a device: read_midi says so
        raise ConfigError(f"names a file that does not exist ({path}); paths are relative to the script's folder")
    if path.suffix.lower() not in SONG_SUFFIXES:
        raise ConfigError(f"must name a MIDI file (.mid), not {path.name}")
    try:
        mid = read_midi(path)  # a regular file within the size limit, parsed once
        first = load_midi(path)
    except ConfigError as exc:  # MidiFileError says why in a clause; any other sentence is shortened to one
        why = getattr(exc, "why", None) or str(exc).rstrip(".").replace(". ", ", ")
        raise ConfigError(f"is not a MIDI file Tandem can read ({why}); export it again as a standard MIDI "
                          "file") from None
    if not first.notes:
        raise ConfigError(f"names {path.name}, which has no notes to play")
    tempos: list[tuple[int, int]] = []
    meter = None
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                tempos.append((tick, msg.tempo))
            elif msg.type == "time_signature" and meter is None:
                meter = (msg.numerator, msg.denominator)
    tempos.sort()
    changes = [(t, us) for t, us in tempos if us != (tempos[0][1] if tempos and tempos[0][0] == 0 else 500_000)]
    if changes:
        raise ConfigError(f"names {path.name}, which changes tempo at beat {changes[0][0] / mid.ticks_per_beat:g}; "
                          "a cueing song must keep one tempo (the script's tempo_bpm and [adapt] set it)")
    file_bpm = first.tempo_bpm_initial
    song = load_midi(path, tempo_scale=float(tempo_bpm) / file_bpm)
    per_beat = float(tempo_bpm) / 60.0
    notes = tuple(SongNote(round(n.start_s * per_beat, 9), note_sound(n), n.note) for n in song.notes)
    return CueingSong(path=path, file_bpm=file_bpm, notes=notes, length_beats=round(song.duration_s * per_beat, 9),
                      meter=meter)


# --------------------------------------------------------------------------
# Checking


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_BAD = object()  # what a failed check gives back inside the checker

# Control characters a field may not hold: C0 (but in a description: tab and newline), DEL and C1.
_CONTROL_CHARACTERS = frozenset(chr(c) for c in (*range(0x20), *range(0x7F, 0xA0)))
_LINE_CHARACTERS = _CONTROL_CHARACTERS - {"\t", "\n", "\r"}


def _sample_problem(path: Path) -> str | None:
    """Why the sound bank would refuse the sample file ``path``, or None: the bank's own reading of it
    (:func:`~engine.audio.audiofile.read_audio` with the bank's limits, as :mod:`engine.audio.soundbank` reads a
    ``file:`` sound), so `tandem validate` and a session accept the same samples."""
    try:
        read_audio(path, mono=True, what="sample file", max_seconds=MAX_SAMPLE_SECONDS)
    except AudioFileError as exc:
        text = str(exc).rstrip(".")
        return text[:1].lower() + text[1:]
    return None


def _one_safe_line(text: str) -> str:
    return escape_controls(text).replace("\n", "\\n").replace("\t", "\\t")


def _describe(value: Any) -> str:
    """:func:`~engine.interventions.tomlcheck.describe`, kept short: a long text or number is named by its size."""
    if isinstance(value, str) and len(value) > 60:
        return f"a text of {len(value)} characters"
    if _is_int(value) and abs(value) >= 10 ** 15:
        return f"a {len(str(abs(value)))}-digit number"
    return describe(value)


class _Checker(Checker):
    def __init__(self, text: str, path: Path, shown: str, check_samples: bool = True) -> None:
        super().__init__(text, shown)
        self.path = path
        self.check_samples = check_samples  # False: a script read back from a log, to score (samples unused)
        self.tempo: float | None = None  # the script's tempo and meter, once read (for [cueing] song)
        self.meter: tuple[int, int] | None = None

    def report(self, table: str, index: int | None, key: str | None, field: str, problem: str) -> None:
        """As the base class, with any control character a quoted value holds written as an escape: every
        sentence stays one safe line, whatever the file holds (a key, a list item, a name)."""
        super().report(table, index, key, _one_safe_line(field), _one_safe_line(problem))

    # -- typed getters (raise Problem after reporting) ---------------------

    def unknown(self, data: dict, kind: str, table: str, index: int | None, field_prefix: str) -> None:
        self.unknown_fields(data, FIELDS[kind], _TABLE_NAMES[kind], table, index, field_prefix)

    def text(self, data: dict, key: str, where: tuple, field: str, allowed: str, default: Any = ...,
             longest: int = MAX_TEXT, lines: bool = False) -> Any:
        if key not in data:
            if default is ...:
                raise self.fail(*where, None, field, f"is missing; write {allowed}")
            return default
        value = data[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(*where, key, field, f"must be {allowed}, not {_describe(value)}")
        self.no_longer(value, longest, where, key, field, lines)
        return value.strip()

    def no_longer(self, value: str, longest: int, where: tuple, key: str, field: str, lines: bool = False) -> None:
        """Refuse a text of more than ``longest`` characters (a bound of the file, not of the therapist), or one
        holding a control character (``lines``: tabs and line breaks are allowed, as in a description)."""
        if len(value) > longest:
            raise self.fail(*where, key, field, f"is {len(value)} characters long, but it may be at most {longest}; "
                            "shorten it")
        if any(ch in (_LINE_CHARACTERS if lines else _CONTROL_CHARACTERS) for ch in value):
            raise self.fail(*where, key, field, "holds a control character (such as an escape or a line break "
                            "written as \\u001b or \\n); remove it")

    def number(self, data: dict, key: str, where: tuple, field: str, lo: float, hi: float, unit: str,
               default: Any = ..., whole: bool = False, lo_open: bool = False) -> Any:
        kind = "a whole number" if whole else "a number"
        span = f"above {lo:g} and at most {hi:g}" if lo_open else f"from {lo:g} to {hi:g}"
        allowed = f"{kind} {span}{unit}"
        if key not in data:
            if default is ...:
                raise self.fail(*where, None, field, f"is missing; write {allowed}")
            return default
        value = data[key]
        ok_type = _is_int(value) if whole else _is_number(value)
        if not ok_type:
            raise self.fail(*where, key, field, f"must be {allowed}, not {_describe(value)}")
        if value > hi or value < lo or (lo_open and value == lo):
            raise self.fail(*where, key, field, f"is {value:g}, but it must be {allowed}")
        return value

    def table(self, data: dict, key: str, field: str, required: bool) -> dict | None:
        if key not in data:
            if required:
                raise self.fail("", None, None, field, f"is missing; add the [{key}] table (see docs/scripts.md)")
            return None
        value = data[key]
        if not isinstance(value, dict):
            raise self.fail("", None, key, field, f"must be a table [{key}], not {_describe(value)}")
        return value

    def entries(self, data: dict, key: str, required: bool, most: int) -> list[dict]:
        if key not in data:
            if required:
                raise self.fail("", None, None, key, f"are missing; add at least one [[{key}]] entry")
            return []
        value = data[key]
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail("", None, key, key, f"must be [[{key}]] entries, not {_describe(value)}")
        if required and not value:
            raise self.fail("", None, key, key, f"are empty; add at least one [[{key}]] entry")
        if len(value) > most:
            raise self.fail(key, most, None, key, f"are {len(value)} entries, but a script may have at most {most}; "
                            "split it into several scripts")
        return value

    def flag(self, data: dict, key: str, where: tuple, field: str, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(*where, key, field, f"must be true or false, not {_describe(value)}")
        return value

    def span(self, data: dict, key: str, where: tuple, field: str, lo: float, hi: float, unit: str,
             whole: bool) -> tuple[Any, Any]:
        """A number or a ``[low, high]`` range within ``lo..hi``, as (low, high); the key must be present."""
        value = data[key]
        one, many = ("a whole number", "whole numbers") if whole else ("a number", "numbers")
        allowed = f"{one} or a [low, high] range of {many} from {lo:g} to {hi:g}{unit}"
        items = value if isinstance(value, list) else [value]
        if not 1 <= len(items) <= 2 or not all(_is_int(v) if whole else _is_number(v) for v in items):
            raise self.fail(*where, key, field, f"must be {allowed}, not {_describe(value)}")
        if any(v < lo or v > hi for v in items):
            raise self.fail(*where, key, field, f"is {value}, but it must be {allowed}")
        if items[0] > items[-1]:
            raise self.fail(*where, key, field, f"is {value}, but a range must have its low end first")
        return items[0], items[-1]

    # -- sounds and notes --------------------------------------------------

    def sound(self, value: str, where: tuple, key: str, field: str, extra: tuple[str, ...]) -> str:
        """Check an instrument: a built-in, drum:<name>, program:<n>, file:<path>, midi_out or an extra word."""
        allowed = ("a GM drum like \"drum:hi_bongo\", a GM instrument like \"program:0\" (piano), "
                   "\"click\", \"tone\", \"noise_drum\", a sample \"file:<path>\" or \"midi_out\""
                   + "".join(f" or \"{e}\"" for e in extra))
        head, _, rest = value.partition(":")
        head = head.strip().lower()
        rest = rest.strip()
        if value in extra or value == "midi_out" or value in ("click", "click:high", "click:low", "tone",
                                                                 "noise_drum"):
            return value
        if head == "drum" and rest:
            name = rest.lower().replace("-", "_").replace(" ", "_")
            if name.isdigit() and int(name) in GM_PERCUSSION:
                return f"drum:{GM_PERCUSSION[int(name)]}"
            if name in GM_PERCUSSION.values():
                return f"drum:{name}"
            close = difflib.get_close_matches(name, list(GM_PERCUSSION.values()), n=2)
            hint = f" (did you mean {' or '.join('drum:' + c for c in close)}?)" if close else ""
            raise self.fail(*where, key, field, f"'{value}' is not a General MIDI drum{hint}; write drum: and a "
                            "name from docs/scripts.md or a key 35-81, e.g. drum:hi_wood_block")
        if head == "program" and rest:
            if rest.isdigit() and 0 <= int(rest) <= 127:
                return f"program:{int(rest)}"
            raise self.fail(*where, key, field, f"'{value}' is not a General MIDI instrument; write program: and a "
                            "number 0-127, e.g. program:0 (piano) or program:12 (marimba)")
        if head == "file" and rest:
            sample = Path(rest).expanduser()
            if not sample.is_absolute():
                sample = self.path.parent / sample
            if sample.suffix.lower() not in SAMPLE_SUFFIXES:
                raise self.fail(*where, key, field, f"'{value}' must be a WAV or FLAC sample (.wav or .flac)")
            if self.check_samples:
                if not os.path.exists(sample):  # False for a name too long or with a NUL too (never raises)
                    raise self.fail(*where, key, field, f"'{value}' names a sample that does not exist ({sample}); "
                                    "paths are relative to the script's folder")
                problem = _sample_problem(sample)
                if problem is not None:
                    raise self.fail(*where, key, field, f"'{value}' names a sample the sound bank cannot load: "
                                    f"{problem}")
            return f"file:{sample.resolve()}"
        raise self.fail(*where, key, field, f"'{value}' is not an instrument Tandem knows; use {allowed}")

    def notes(self, data: dict, key: str, where: tuple, field: str, drums: bool) -> tuple[int, ...]:
        value = data.get(key, [])
        what = "GM drum names or MIDI note numbers 0-127" if drums else "note names like C4 or MIDI numbers 0-127"
        if not isinstance(value, list):
            raise self.fail(*where, key, field, f"must be a list of {what}, e.g. "
                            + ("[\"acoustic_snare\", 36]" if drums else "[\"C4\", \"E4\", \"G4\"]")
                            + f", not {_describe(value)}")
        if len(value) > MAX_NOTE_LIST:
            raise self.fail(*where, key, field, f"lists {len(value)} notes, but there are only 128 MIDI notes; "
                            f"list each at most once (at most {MAX_NOTE_LIST})")
        out = []
        for item in value:
            if _is_int(item) and 0 <= item <= 127:
                out.append(item)
                continue
            if isinstance(item, str):
                if drums:
                    name = item.strip().lower().replace("-", "_").replace(" ", "_")
                    if name in GM_PERCUSSION.values():
                        out.append(next(k for k, v in GM_PERCUSSION.items() if v == name))
                        continue
                else:
                    try:
                        out.append(parse_note(item))
                        continue
                    except SoundRequestError:
                        pass
            raise self.fail(*where, key, field, f"has {_describe(item)}, but it must list {what}")
        return tuple(out)

    # -- the whole script --------------------------------------------------

    def build(self, data: dict) -> Script:
        top = ("", None)
        self.unknown(data, "script", "", None, "")
        title = self.attempt(self.text, data, "title", top, "title", "a name in quotes, e.g. title = \"Echo drums\"")
        kind = None
        try:
            kind = self.text(data, "kind", top, "kind", "one of " + ", ".join(KINDS))
            if kind not in KINDS:
                hint = did_you_mean(kind.replace("-", "_"), KINDS, quoted=False)
                raise self.fail("", None, "kind", "kind", f"'{kind}' is not one of {', '.join(KINDS)}{hint}")
        except Problem:
            kind = None
        description = self.attempt(self.text, data, "description", top, "description", "text in quotes",
                                   "", MAX_DESCRIPTION, True, default="")
        tempo = self.attempt(self.number, data, "tempo_bpm", top, "tempo_bpm", MIN_TEMPO_BPM, MAX_TEMPO_BPM,
                             " beats per minute")
        meter_text = self.attempt(self.text, data, "meter", top, "meter", "a time signature like \"4/4\"", "4/4")
        meter = None
        if meter_text is not None:
            try:
                meter = parse_meter(meter_text)
            except NotationError as exc:
                self.report("", None, "meter", "meter", str(exc))
        grid = self.attempt(self.text, data, "grid", top, "grid", "a note value like \"1/8\"", "1/8")
        if grid is not None:
            try:
                parse_grid(grid)
            except NotationError as exc:
                self.report("", None, "grid", "grid", str(exc))
                grid = None

        trials = self.attempt(self.number, data, "trials", top, "trials", 1, MAX_TRIALS, "", None, True)
        duration = self.attempt(self.number, data, "duration_min", top, "duration_min", 0, MAX_DURATION_MIN,
                                " minutes", None, False, True)
        if "trials" in data and "duration_min" in data:
            self.report("", None, "duration_min", "duration_min", "cannot be given together with trials; "
                        "give one of them")
        elif "trials" not in data and "duration_min" not in data:
            self.report("", None, None, "trials", "are missing; write trials = <number of trials> or "
                        "duration_min = <minutes>")

        instruments = self.attempt(self.instruments, data)
        inputs = self.attempt(self.inputs, data)
        self.tempo, self.meter = tempo, meter
        cueing = data.get("cueing") if kind == "rhythmic_cueing" else None
        song_given = isinstance(cueing, dict) and "song" in cueing
        if song_given and "phrases" in data:
            self.report("phrases", 0, None, "phrases", "are not played when [cueing] song is given (the song is "
                        "the music); remove the [[phrases]] or the song")
            phrases = ()
        elif song_given:
            phrases = ()
        else:
            phrases = self.attempt(self.phrases, data, meter_text if meter else None, grid, kind)
        adaptation = self.attempt(self.adaptation, data, tempo)
        prompts = self.attempt(self.prompts, data)
        options = self.kind_options(data, kind)
        continuing = isinstance(cueing, dict) and _is_int(cueing.get("continuation_beats")) \
            and cueing["continuation_beats"] > 0
        objectives = self.attempt(self.objectives, data, kind, continuing, trials)

        if self.problems:
            raise ScriptError(self.problems)
        return Script(path=self.path, title=title, kind=kind, tempo_bpm=float(tempo), meter=meter, grid=grid,
                      instruments=instruments, inputs=inputs, phrases=phrases, trials=trials,
                      duration_min=None if duration is None else float(duration), adaptation=adaptation,
                      prompts=prompts, objectives=objectives, description=description, options=options)

    def instruments(self, data: dict) -> Instruments | None:
        table = self.table(data, "instruments", "instruments", required=True)
        where = ("instruments", None)
        self.unknown(table, "instruments", *where, "instruments.")
        cue = self.text(table, "cue", where, "instruments.cue",
                        "the cue instrument in quotes, e.g. cue = \"drum:hi_bongo\" or cue = \"midi_out\"",
                        longest=MAX_SOUND_TEXT)
        cue = self.sound(cue, where, "cue", "instruments.cue", ())
        feedback = self.text(table, "feedback", where, "instruments.feedback",
                             "the feedback instrument in quotes, e.g. \"drum:low_bongo\", \"device\" or \"none\"",
                             "device", MAX_SOUND_TEXT)
        feedback = self.sound(feedback, where, "feedback", "instruments.feedback", ("device", "none"))
        return Instruments(cue=cue, feedback=feedback)

    def inputs(self, data: dict) -> Inputs | None:
        table = self.table(data, "input", "input", required=True)
        where = ("input", None)
        self.unknown(table, "input", *where, "input.")
        source = self.text(table, "source", where, "input.source", "one of " + ", ".join(SOURCES))
        if source not in SOURCES:
            raise self.fail(*where, "source", "input.source", f"'{source}' is not one of {', '.join(SOURCES)}")
        if source == "mic":
            for key in ("pads", "keys"):
                if key in table:
                    raise self.fail(*where, key, f"input.{key}", "applies only to MIDI input; "
                                    "use source = \"midi\" or \"both\", or remove it")
        pads = self.notes(table, "pads", where, "input.pads", drums=True)
        keys = self.notes(table, "keys", where, "input.keys", drums=False)
        return Inputs(source=source, pads=pads, keys=keys)

    def phrases(self, data: dict, meter: str | None, grid: str | None,
                kind: str | None) -> tuple[Phrase, ...] | None:
        out = []
        for i, entry in enumerate(self.entries(data, "phrases", required=True, most=MAX_PHRASES)):
            where = ("phrases", i)
            prefix = f"phrases[{i + 1}]."
            self.unknown(entry, "phrases", *where, prefix)
            try:
                phrase = self.phrase(entry, i, where, prefix, meter, grid)
                out.append(self.blank(entry, phrase, kind, where, prefix))
            except Problem:
                pass
        return tuple(out) if len(out) == len(data["phrases"]) else None

    def phrase(self, entry: dict, i: int, where: tuple, prefix: str, meter: str | None,
               grid: str | None) -> Phrase:
        name = self.text(entry, "name", where, prefix + "name", "text in quotes", f"phrase {i + 1}")
        phrase = self.phrase_notes(entry, where, prefix, meter, grid, name)
        if len(phrase.onsets_beats) > MAX_PHRASE_NOTES:
            raise self.fail(*where, phrase.notation, prefix + phrase.notation, f"has {len(phrase.onsets_beats)} "
                            f"notes, but a phrase may have at most {MAX_PHRASE_NOTES}; split it into several phrases")
        if not phrase.length_beats <= MAX_PHRASE_BEATS:
            raise self.fail(*where, phrase.notation, prefix + phrase.notation, f"is {phrase.length_beats:g} beats "
                            f"long, but a phrase may be at most {MAX_PHRASE_BEATS:g}; split it into several phrases")
        return phrase

    def phrase_notes(self, entry: dict, where: tuple, prefix: str, meter: str | None, grid: str | None,
                     name: str) -> Phrase:
        """The phrase as written (rhythm, melody or beats), its text and list bounded before they are read."""
        given = [k for k in ("rhythm", "melody", "beats") if k in entry]
        if len(given) != 1:
            key = given[1] if given else None
            raise self.fail(*where, key, prefix.rstrip("."), "must have exactly one of rhythm (\"x.x.xx..\"), "
                            "melody (\"C4 E4 G4\") or beats ([0, 1, 2.5])"
                            + (f", not {' and '.join(given)}" if given else ""))
        notation = given[0]
        value = entry[notation]
        field = prefix + notation
        if isinstance(value, str):
            self.no_longer(value, MAX_PHRASE_TEXT, where, notation, field, lines=True)
        if isinstance(value, list) and len(value) > MAX_PHRASE_NOTES:
            raise self.fail(*where, notation, field, f"has {len(value)} onsets, but a phrase may have at most "
                            f"{MAX_PHRASE_NOTES}; split it into several phrases")
        if notation == "beats":
            ok = isinstance(value, list) and value and all(_is_number(b) and 0 <= b <= 256 for b in value)
            if not ok or any(b <= a for a, b in itertools.pairwise(value)):
                raise self.fail(*where, notation, field, "must be a list of rising onset times in beats from 0, "
                                f"e.g. [0, 1, 2, 2.5], not {_describe(value)}")
            onsets = tuple(float(b) for b in value)
            return Phrase(name, notation, str(value), onsets, (), math.floor(onsets[-1]) + 1.0)
        if not isinstance(value, str):
            raise self.fail(*where, notation, field, f"must be text in quotes, not {_describe(value)}")
        try:
            if notation == "rhythm":
                phrase_grid = self.text(entry, "grid", where, prefix + "grid", "a note value like \"1/8\"", grid)
                if meter is None or phrase_grid is None:
                    raise Problem  # the meter or grid was already reported
                try:
                    parse_grid(phrase_grid)
                except NotationError as exc:
                    raise self.fail(*where, "grid", prefix + "grid", str(exc)) from None
                onsets = parse_rhythm(value, phrase_grid, meter)
                steps = sum(1 for c in value if c not in " |\t")
                unit = parse_meter(meter)[1]
                length = steps * unit / parse_grid(phrase_grid)
                return Phrase(name, notation, value, tuple(onsets), (), float(length))
            notes = parse_melody(value)
        except NotationError as exc:
            raise self.fail(*where, notation, field, str(exc)) from None
        if "grid" in entry:
            raise self.fail(*where, "grid", prefix + "grid", "applies only to rhythms; remove it")
        starts, t = [], 0.0
        for _, beats in notes:
            starts.append(t)
            t += beats
        return Phrase(name, notation, value, tuple(starts), tuple(n for n, _ in notes), t)

    def blank(self, entry: dict, phrase: Phrase, kind: str | None, where: tuple, prefix: str) -> Phrase:
        """The phrase with its blank (fill-in-the-blank scripts: ``blank = N``, default the last note)."""
        if kind != "fill_in_the_blank":
            if "blank" in entry and kind is not None:
                raise self.fail(*where, "blank", prefix + "blank", "applies only to fill_in_the_blank scripts; "
                                "remove it")
            return phrase
        n = len(phrase.onsets_beats)
        if n < 2:
            raise self.fail(*where, phrase.notation, prefix + phrase.notation, "has one note, but a "
                            "fill_in_the_blank phrase needs at least two (the engine plays the others)")
        index = self.number(entry, "blank", where, prefix + "blank", 1, n,
                            f" (which note of the {n} the child plays, counted from 1)", n, True)
        return dataclasses.replace(phrase, blank=index - 1)

    # -- the kinds' own tables ---------------------------------------------

    def kind_options(self, data: dict, kind: str | None) -> dict[str, Any]:
        """The kind's table as keyword options of its class; a table of another kind is one problem."""
        options: dict[str, Any] = {}
        for name, owner in KIND_TABLES.items():
            if name not in data:
                continue
            where = (name, None)
            if kind is not None and owner != kind:
                own = next((t for t, k in KIND_TABLES.items() if k == kind), None)
                self.report(*where, None, f"[{name}]", f"applies only to {owner} scripts, but this is a {kind} "
                            f"script (its table is [{own}])")
                continue
            table = self.attempt(self.table, data, name, name, False)
            if table is None or kind is None:
                continue
            self.unknown(table, name, *where, f"{name}.")
            options.update(getattr(self, f"_{name}")(table, where))
        return options

    def _given(self, table: dict, where: tuple, name: str, checks: dict[str, tuple[str, Any]]) -> dict[str, Any]:
        """Run ``checks`` (field → (option name, check)) on the fields given; the options of those that pass."""
        out = {}
        for key, (option, check) in checks.items():
            if key in table:
                value = self.attempt(check, table, key, where, f"{name}.{key}", default=_BAD)
                if value is not _BAD:
                    out[option] = value
        return out

    def _response(self, table: dict, where: tuple) -> dict[str, Any]:
        lo, hi = RESPONSE_WINDOW_S
        return self._given(table, where, "response", {
            "window_s": ("window_s", lambda t, k, w, f: float(self.number(t, k, w, f, lo, hi, " seconds"))),
            "require_pitch": ("require_pitch", lambda t, k, w, f: self.flag(t, k, w, f, True)),
            "tempo_invariant": ("tempo_invariant", lambda t, k, w, f: self.flag(t, k, w, f, False)),
            "accompaniment": ("accompaniment", lambda t, k, w, f: self.sound(
                self.text(t, k, w, f, "an instrument in quotes, e.g. \"drum:closed_hi_hat\", or \"none\"",
                          longest=MAX_SOUND_TEXT),
                w, k, f, ("none",))),
        })

    def _turns(self, table: dict, where: tuple) -> dict[str, Any]:
        def seconds(bounds: tuple[float, float]):
            return lambda t, k, w, f: float(self.number(t, k, w, f, bounds[0], bounds[1], " seconds"))

        def answers(t: dict, k: str, w: tuple, f: str) -> tuple[str, ...]:
            value = t[k]
            ok = isinstance(value, list) and value and all(isinstance(v, str) for v in value)
            if not ok:
                raise self.fail(*w, k, f, f"must be a list of {', '.join(ANSWERS)}, e.g. [\"echo\", \"next\"], "
                                f"not {_describe(value)}")
            wrong = [v for v in value if v not in ANSWERS]
            if wrong:
                raise self.fail(*w, k, f, f"has '{wrong[0]}', but the answers are {', '.join(ANSWERS)}")
            if len(set(value)) != len(value):
                raise self.fail(*w, k, f, "names an answer twice; list each once")
            return tuple(value)

        return self._given(table, where, "turns", {
            "gap_s": ("turn_gap_s", seconds(TURN_GAP_S)),
            "max_s": ("max_turn_s", seconds(TURN_MAX_S)),
            "initiate_within_s": ("initiate_window_s", seconds(TURN_INITIATE_S)),
            "grace_s": ("grace_s", seconds(TURN_GRACE_S)),
            "answers": ("answers", answers),
        })

    def _cueing(self, table: dict, where: tuple) -> dict[str, Any]:
        def free_play(t: dict, k: str, w: tuple, f: str) -> float:
            lo, hi = FREE_PLAY_S
            value = self.number(t, k, w, f, 0, hi, " seconds")
            if 0 < value < lo:
                raise self.fail(*w, k, f, f"is {value:g}, but it must be 0 (no free play) or at least {lo:g} "
                                "seconds (time for the 8 taps that find the child's tempo)")
            return float(value)

        def continuation(t: dict, k: str, w: tuple, f: str) -> int:
            lo, hi = CONTINUATION_BEATS
            value = self.number(t, k, w, f, 0, hi, " beats", whole=True)
            if 0 < value < lo:
                raise self.fail(*w, k, f, f"is {value}, but it must be 0 (no continuation) or from {lo} to {hi} "
                                f"beats (the continuation is scored from at least {lo} taps)")
            return int(value)

        def song(t: dict, k: str, w: tuple, f: str) -> Path:
            value = self.text(t, k, w, f, "a MIDI file in quotes, e.g. song = \"march.mid\" (relative to the "
                              "script's folder)", longest=MAX_SOUND_TEXT)
            file = Path(value).expanduser()
            if not file.is_absolute():
                file = self.path.parent / file
            try:
                loaded = load_cueing_song(file, self.tempo or MIN_TEMPO_BPM)
            except ConfigError as exc:
                raise self.fail(*w, k, f, f"'{value}' {exc}") from None
            if loaded.meter is not None and self.meter is not None and loaded.meter != tuple(self.meter):
                raise self.fail(*w, k, f, f"'{value}' is in {loaded.meter[0]}/{loaded.meter[1]}, but the script's "
                                f"meter is {self.meter[0]}/{self.meter[1]}; make them the same")
            return file.resolve()

        out = self._given(table, where, "cueing", {
            "free_play_s": ("free_play_s", free_play),
            "window_ms": ("window_ms", lambda t, k, w, f: float(self.number(
                t, k, w, f, CUEING_WINDOW_MS[0], CUEING_WINDOW_MS[1], " ms"))),
            "entrain_pct": ("criterion_pct", lambda t, k, w, f: float(self.number(t, k, w, f, 0, 100, " percent"))),
            "continuation_beats": ("continuation_beats", continuation),
            "sync_bars": ("sync_bars", lambda t, k, w, f: int(self.number(
                t, k, w, f, SYNC_BARS[0], SYNC_BARS[1], " bars", whole=True))),
            "song": ("song", song),
        })
        if "free_play_s" in out:
            out["free_play"] = out["free_play_s"] > 0
            if not out["free_play"]:
                del out["free_play_s"]
        if "sync_bars" in table and not table.get("continuation_beats"):
            self.report(*where, "sync_bars", "cueing.sync_bars", "applies only to the synchronisation-continuation "
                        "variant; give continuation_beats above 0, or remove it")
            out.pop("sync_bars", None)
        if out.get("continuation_beats") == 0:
            del out["continuation_beats"]
        return out

    def _stop_and_go(self, table: dict, where: tuple) -> dict[str, Any]:
        out = self._given(table, where, "stop_and_go", {
            "go_bars": ("go_bars", lambda t, k, w, f: self.span(t, k, w, f, GO_BARS[0], GO_BARS[1], " bars", True)),
            "stop_s": ("stop_s", lambda t, k, w, f: tuple(float(v) for v in self.span(
                t, k, w, f, STOP_S[0], STOP_S[1], " seconds", False))),
            "grace_ms": ("grace_ms", lambda t, k, w, f: float(self.number(
                t, k, w, f, STOP_GRACE_RANGE_MS[0], STOP_GRACE_RANGE_MS[1], " ms"))),
        })
        grace = out.get("grace_ms", STOP_GRACE_MS)
        if "stop_s" in out and grace / 1000.0 >= out["stop_s"][0]:
            self.report(*where, "stop_s", "stop_and_go.stop_s", f"leaves no stop to score: the shortest stop "
                        f"({out['stop_s'][0]:g} s) must be longer than the grace ({grace:g} ms)")
            del out["stop_s"]
        return out

    def _fill_in_the_blank(self, table: dict, where: tuple) -> dict[str, Any]:
        lo, hi = BLANK_WINDOW_BEATS
        return self._given(table, where, "fill_in_the_blank", {
            "window_beats": ("window_beats", lambda t, k, w, f: float(self.number(
                t, k, w, f, lo, hi, " beats either side of the blank", lo_open=True))),
        })

    def adaptation(self, data: dict, tempo: float | None) -> Adaptation | None:
        table = self.table(data, "adapt", "adapt", required=False)
        if table is None:
            return None
        where = ("adapt", None)
        self.unknown(table, "adapt", *where, "adapt.")
        d = Adaptation()
        values = {
            "up_after": self.attempt(self.number, table, "up_after", where, "adapt.up_after", 1, 50,
                                     " correct trials in a row", d.up_after, True),
            "down_after": self.attempt(self.number, table, "down_after", where, "adapt.down_after", 1, 50,
                                       " missed trials in a row", d.down_after, True),
            "tempo_step_pct": self.attempt(self.number, table, "tempo_step_pct", where, "adapt.tempo_step_pct",
                                           0, MAX_TEMPO_STEP_PCT, " percent (5-10 is the clinical rule)",
                                           d.tempo_step_pct),
            "length_step": self.attempt(self.number, table, "length_step", where, "adapt.length_step", 0, 16,
                                        " notes", d.length_step, True),
            "min_tempo_bpm": self.attempt(self.number, table, "min_tempo_bpm", where, "adapt.min_tempo_bpm",
                                          MIN_TEMPO_BPM, MAX_TEMPO_BPM, " beats per minute", d.min_tempo_bpm),
            "max_tempo_bpm": self.attempt(self.number, table, "max_tempo_bpm", where, "adapt.max_tempo_bpm",
                                          MIN_TEMPO_BPM, MAX_TEMPO_BPM, " beats per minute", d.max_tempo_bpm),
        }
        if any(v is None for v in values.values()):
            return None
        lo, hi = values["min_tempo_bpm"], values["max_tempo_bpm"]
        if lo > hi:
            raise self.fail(*where, "min_tempo_bpm", "adapt.min_tempo_bpm",
                            f"({lo:g}) must not be above adapt.max_tempo_bpm ({hi:g})")
        if tempo is not None and not lo <= tempo <= hi:
            raise self.fail("", None, "tempo_bpm", "tempo_bpm",
                            f"({tempo:g}) must lie within adapt.min_tempo_bpm..max_tempo_bpm ({lo:g}-{hi:g})")
        floats = ("tempo_step_pct", "min_tempo_bpm", "max_tempo_bpm")
        return Adaptation(**{k: float(v) if k in floats else v for k, v in values.items()})

    def prompts(self, data: dict) -> Prompts | None:
        table = self.table(data, "prompts", "prompts", required=False)
        if table is None:
            return Prompts()
        where = ("prompts", None)
        self.unknown(table, "prompts", *where, "prompts.")
        count_in = self.number(table, "count_in_beats", where, "prompts.count_in_beats", 0, MAX_COUNT_IN,
                               " beats", 4, True)
        visual = table.get("your_turn_visual", True)
        if not isinstance(visual, bool):
            raise self.fail(*where, "your_turn_visual", "prompts.your_turn_visual",
                            f"must be true or false, not {_describe(visual)}")
        sound = self.text(table, "your_turn_sound", where, "prompts.your_turn_sound",
                          "an instrument in quotes or \"none\"", "none", MAX_SOUND_TEXT)
        sound = self.sound(sound, where, "your_turn_sound", "prompts.your_turn_sound", ("none",))
        lead_in: tuple = ()
        if "lead_in" in table:
            if isinstance(table["lead_in"], str):
                self.no_longer(table["lead_in"], MAX_PHRASE_TEXT, where, "lead_in", "prompts.lead_in", lines=True)
            try:
                lead_in = tuple(parse_melody(table["lead_in"]))
            except NotationError as exc:
                raise self.fail(*where, "lead_in", "prompts.lead_in", str(exc)) from None
            if len(lead_in) > MAX_LEAD_IN_NOTES:
                raise self.fail(*where, "lead_in", "prompts.lead_in", f"has {len(lead_in)} notes, but a lead-in may "
                                f"have at most {MAX_LEAD_IN_NOTES}")
        return Prompts(count_in_beats=count_in, your_turn_visual=visual, your_turn_sound=sound, lead_in=lead_in)

    def objectives(self, data: dict, kind: str | None, continuing: bool = False,
                   trials: int | None = None) -> tuple[Objective, ...] | None:
        out, ids = [], set()
        entries = self.entries(data, "objectives", required=False, most=MAX_OBJECTIVES)
        for i, entry in enumerate(entries):
            where = ("objectives", i)
            prefix = f"objectives[{i + 1}]."
            n_before = len(self.problems)
            self.unknown({k: v for k, v in entry.items()}, "objectives", *where, prefix)
            if len(self.problems) > n_before:
                continue
            oid = entry.get("id")
            if isinstance(oid, str) and (len(oid) > MAX_OBJECTIVE_ID or any(ch in _CONTROL_CHARACTERS for ch in oid)):
                self.attempt(self.no_longer, oid, MAX_OBJECTIVE_ID, where, "id", prefix + "id")
                continue
            metric = entry.get("metric")
            if isinstance(metric, str) and metric not in ALL_METRICS:
                hint = did_you_mean(metric, ALL_METRICS) if len(metric) <= MAX_TEXT else ""
                families = "; ".join(f"{fam}: {', '.join(names)}" for fam, names in METRICS.items())
                self.report(*where, "metric", prefix + "metric",
                            f"{shown(metric)} is not a metric Tandem measures{hint}; the metrics are {families}")
                continue
            if isinstance(metric, str) and kind is not None:
                produced = [m for fam in KIND_METRICS[kind] for m in METRICS[fam]]
                if kind == "rhythmic_cueing" and continuing:
                    produced += [m for m in METRICS["continuation"] if m not in produced]
                if metric not in produced and kind == "rhythmic_cueing" and metric in METRICS["continuation"]:
                    self.report(*where, "metric", prefix + "metric",
                                f"'{metric}' is a continuation metric, measured only in the synchronisation-"
                                "continuation variant; give [cueing] continuation_beats above 0, or choose one of "
                                f"{', '.join(produced)}")
                    continue
                if metric not in produced:
                    self.report(*where, "metric", prefix + "metric",
                                f"'{metric}' is not measured in a {kind} script; its metrics are {', '.join(produced)}")
                    continue
            try:
                objective = Objective.from_dict(entry)
            except (ValueError, TypeError) as exc:
                oid = entry.get("id")
                message = objective_problem(exc, oid)
                key = next((k for k in FIELDS["objectives"] if re.search(rf"\b{k}\b", message)), None)
                if key is not None and key not in entry:
                    key_line = None
                else:
                    key_line = key
                self.report(*where, key_line, prefix.rstrip(".") + (f" ({oid})" if isinstance(oid, str) else ""),
                            message)
                continue
            if objective.id in ids:
                self.report(*where, "id", prefix + "id", f"'{objective.id}' is used twice; give each objective "
                            "its own id")
                continue
            carried = KIND_LEVELS.get(kind or "", ())
            unknown_level = [b for b, _ in objective.level if LEVEL_BOUNDS[b][0] not in carried]
            if kind is not None and unknown_level:
                self.report(*where, "level", prefix + "level",
                            f"'{unknown_level[0]}' is not a difficulty a {kind} script's trials carry; its level "
                            f"may name {', '.join(k for k in LEVEL_BOUNDS if LEVEL_BOUNDS[k][0] in carried)}")
                continue
            needed, field = ((objective.min_trials, "min_trials") if objective.criterion == "aggregate"
                             else (objective.n, "n"))
            if trials is not None and needed > trials:
                # A session of this script alone could never be judged on it.
                default = " (the default)" if field == "min_trials" and "min_trials" not in entry else ""
                self.report(*where, field if field in entry else None, prefix + field,
                            f"'{objective.id}' needs {needed} counted trials{default}, but the script has "
                            f"{trials}; give {field} = {trials} or fewer, or more trials")
                continue
            ids.add(objective.id)
            out.append(objective)
        return tuple(out) if len(out) == len(entries) else None


def load_script(path: str | Path, *, check_samples: bool = True, text: str | None = None) -> Script:
    """Read and check one intervention script.

    Parameters
    ----------
    path : str or Path
        A ``.toml`` script; relative sample paths inside it are taken from its folder.
    check_samples : bool
        False: a sample file it names need not exist (a script read back from a session log, to score: the
        sounds are not played).
    text : str, optional
        The script's text, checked as if it were the file ``path`` (a session log's own copy; a song or
        sample it names is looked for in ``path``'s folder). Default: read from ``path``.

    Returns
    -------
    Script

    Raises
    ------
    ScriptError
        With :attr:`ScriptError.problems`, one sentence per problem, each
        naming ``file:line`` (where the field is written), the field and
        what is allowed.
    """
    path = Path(path)
    shown = str(path)
    try:  # a regular file of at most TEXT_LIMIT: never a device, a FIFO or a folder
        if text is None:
            text = read_text(path, what="script", limit_bytes=TEXT_LIMIT,
                             missing=f"{shown}: the script does not exist; check the path.",
                             too_large="a script is a few kilobytes of text, so name the script's .toml file")
        data = parse_toml(text, shown)
    except (ConfigError, SyntaxProblem) as exc:
        raise ScriptError([str(exc)]) from None
    return _Checker(text, path, shown, check_samples).build(data)
