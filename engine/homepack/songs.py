"""Which songs go into a child's homepack, and the tempo each is played at.

**The songs** are the scripts the child's plan names for its objectives
(:attr:`PlanObjective.scripts`, file names or stems of ``content/songs``),
in the order the plan writes them; if the plan names none that can be found
(or there is no plan), the scripts of the child's sessions, most recent
first. At most :data:`MAX_SONGS`. A script whose cues play on an external
MIDI instrument (``midi_out``) cannot be rendered and is left out with a
note.

**The working tempo** of a song is the tempo the child actually worked at:

1. ``session``: the tempo of the last scored trial of the child's latest
   session of that script (adaptive scripts change tempo during a session);
2. ``assessment``: for rhythmic cueing only, the child's spontaneous motor
   tempo (task ``spontaneous_tempo``, figure ``smt_bpm``) from the latest
   assessment, when that task was done;
3. ``script``: the script's own tempo.

Every tempo is kept within the script's sensible range: its ``[adapt]``
bounds, else :data:`RANGE_WITHOUT_ADAPT` around its own tempo (a script
without adaptation was written for one calm tempo; a homepack should not
move far from it). :class:`WorkingTempo` records where it came from and
whether it was clamped.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.assessment.results import Assessment
from engine.errors import ConfigError
from engine.interventions.script import (
    MAX_TEMPO_BPM,
    MIN_TEMPO_BPM,
    Script,
    ScriptError,
    load_script,
)
from engine.records.model import SessionRecord
from engine.records.plan import Plan
from engine.scoring.words import format_half_up

__all__ = [
    "MAX_SONGS",
    "RANGE_WITHOUT_ADAPT",
    "SMT_FIGURE",
    "SMT_TASK",
    "Song",
    "WorkingTempo",
    "choose_songs",
    "resolve_script",
    "songs_dirs",
    "tempo_range",
    "working_tempo",
]

MAX_SONGS = 4
"""A family can keep a handful of songs in mind; more is a playlist, not a homepack."""
RANGE_WITHOUT_ADAPT = (0.85, 1.15)
"""A script without ``[adapt]``: its tempo may move by this factor (assumption: ±15 % keeps its character)."""
SMT_TASK = "spontaneous_tempo"
SMT_FIGURE = "smt_bpm"


@dataclass(frozen=True)
class WorkingTempo:
    """The tempo a song is rendered at, and why.

    ``source`` is ``session``, ``assessment`` or ``script``; ``found_bpm``
    the tempo found there before clamping; ``clamped`` whether it was moved
    into ``range_bpm``; ``detail`` one sentence for the therapist.
    """

    bpm: float
    source: str
    found_bpm: float
    range_bpm: tuple[float, float]
    clamped: bool
    detail: str


@dataclass(frozen=True)
class Song:
    """One song of the homepack: the checked script, why it was chosen, the plan's goals it serves."""

    script: Script
    chosen_by: str  # "plan" or "sessions"
    objectives: tuple[str, ...] = ()  # the plan's objective ids that name it
    tempo: WorkingTempo | None = None

    @property
    def stem(self) -> str:
        return self.script.path.stem


def songs_dirs() -> list[Path]:
    """Where scripts named by stem are looked for: ``content/songs`` here, then beside the package."""
    here = Path.cwd() / "content" / "songs"
    shipped = Path(__file__).resolve().parents[2] / "content" / "songs"
    return list(dict.fromkeys([here, shipped]))


def resolve_script(name: str | os.PathLike, dirs: Sequence[Path] | None = None) -> Path | None:
    """The script file a plan or a session log names (a path, a file name or a stem), or None."""
    p = Path(name).expanduser()
    if p.suffix == ".toml" and os.path.isfile(p):  # os.path: False (not an error) for a name too long
        return p
    file = p.name if p.suffix == ".toml" else f"{p.name}.toml"
    for d in songs_dirs() if dirs is None else dirs:
        candidate = d / file
        if os.path.isfile(candidate):
            return candidate
    return None


def _load(path: Path, notes: list[str]) -> Script | None:
    try:
        script = load_script(path)
    except ScriptError as exc:
        notes.append(f"{path.name} was left out: it does not check ({exc.problems[0]}).")
        return None
    if script.instruments.cue == "midi_out":
        notes.append(f"{path.name} was left out: its cues play on an external MIDI instrument, which a "
                     "recording cannot include.")
        return None
    return script


def choose_songs(plan: Plan | None, records: Sequence[SessionRecord], *, child: str,
                 max_songs: int = MAX_SONGS, dirs: Sequence[Path] | None = None) -> tuple[list[Song], list[str]]:
    """The homepack's songs and notes on what was left out (see the module docstring).

    Raises
    ------
    ConfigError
        One sentence when there is nothing to choose from (no plan scripts and no sessions).
    """
    notes: list[str] = []
    songs: list[Song] = []
    seen: set[str] = set()
    if plan is not None:
        named: dict[str, list[str]] = {}
        for o in plan.objectives:
            for s in o.scripts:
                named.setdefault(s, []).append(o.id)
        for name, ids in named.items():
            path = resolve_script(name, dirs)
            if path is None:
                notes.append(f"The plan names the script '{name}', which Tandem cannot find; it was left out.")
                continue
            if path.stem in seen or len(songs) >= max_songs:
                continue
            script = _load(path, notes)
            if script is not None:
                seen.add(path.stem)
                songs.append(Song(script, "plan", tuple(ids)))
    if songs:
        return songs, notes
    # Each activity of each visit, the latest visit first.
    played = [a for r in sorted(records, key=lambda r: r.started, reverse=True) for a in r.activities]
    for a in played:
        if not a.script.endswith(".toml") or Path(a.script).stem in seen or len(songs) >= max_songs:
            continue
        seen.add(Path(a.script).stem)
        path = resolve_script(a.script, dirs)
        if path is None:
            notes.append(f"A session used the script {a.script}, which Tandem cannot find now; it was left out.")
            continue
        script = _load(path, notes)
        if script is not None:
            songs.append(Song(script, "sessions"))
    if songs:
        return songs, notes
    if plan is None and not records:
        raise ConfigError(f"Child {child} has no plan and no sessions yet, so Tandem does not know which songs to "
                          f"put in the homepack; write a plan naming the child's scripts (`tandem plan new {child}`) "
                          f"or run a session first.")
    why = " ".join(notes) or "the plan's objectives name no scripts and there are no sessions."
    raise ConfigError(f"No song for child {child}'s homepack could be made: {why} Name the child's scripts in the "
                      f"plan's objectives (scripts = [\"echo-drums\"]), or run a session first.")


def tempo_range(script: Script) -> tuple[float, float]:
    """The tempi the script is meant for: its ``[adapt]`` bounds, else :data:`RANGE_WITHOUT_ADAPT` around it."""
    a = script.adaptation
    if a is not None:
        return float(a.min_tempo_bpm), float(a.max_tempo_bpm)
    lo, hi = RANGE_WITHOUT_ADAPT
    return max(MIN_TEMPO_BPM, script.tempo_bpm * lo), min(MAX_TEMPO_BPM, script.tempo_bpm * hi)


def _day(iso: str) -> str:
    try:
        return dt.datetime.fromisoformat(iso).date().isoformat()
    except (TypeError, ValueError):
        return "an unknown day"


def _last_session_tempo(script: Script, records: Sequence[SessionRecord]) -> tuple[float, SessionRecord] | None:
    stem = script.path.stem
    # The visits' activities that ran this script and scored a trial (a visit may have several activities).
    mine = [(r, a) for r in records for a in r.activities
            if a.script and Path(a.script).stem == stem and any(t.phase == "trial" for t in a.trials)]
    if not mine:
        return None
    latest, act = max(mine, key=lambda ra: (ra[0].started, ra[1].index))
    last = [t for t in act.trials if t.phase == "trial"][-1]
    return float(last.tempo_bpm), latest


def _smt(assessment: Assessment | None) -> float | None:
    if assessment is None:
        return None
    task = assessment.task(SMT_TASK)
    if task is None or task.status != "done":
        return None
    fig = task.figure(SMT_FIGURE)
    if fig is None or isinstance(fig.value, bool) or not isinstance(fig.value, (int, float)) or fig.value <= 0:
        return None
    return float(fig.value)


def working_tempo(script: Script, records: Sequence[SessionRecord], assessment: Assessment | None) -> WorkingTempo:
    """The tempo the child works at in this script (see the module docstring)."""
    lo, hi = tempo_range(script)
    found = _last_session_tempo(script, records)
    smt = _smt(assessment) if script.kind == "rhythmic_cueing" else None
    if found is not None:
        bpm, rec = found
        source = "session"
        detail = f"the last trial of the session of {_day(rec.started)} was at {format_half_up('{:.1f}', bpm)} BPM"
    elif smt is not None:
        bpm = smt
        source = "assessment"
        detail = (f"the child's own tapping tempo in the assessment of {assessment.date.isoformat()} was "
                  f"{format_half_up('{:.1f}', bpm)} BPM")
    else:
        bpm, source, detail = float(script.tempo_bpm), "script", f"the script's own tempo, {script.tempo_bpm:g} BPM"
    kept = min(hi, max(lo, bpm))
    clamped = abs(kept - bpm) > 1e-9
    if clamped:
        detail += f", kept within the script's range {lo:g}-{hi:g} BPM"
    return WorkingTempo(bpm=round(kept, 2), source=source, found_bpm=bpm, range_bpm=(lo, hi), clamped=clamped,
                        detail=detail[0].upper() + detail[1:] + ".")
