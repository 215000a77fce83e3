"""``tandem homepack CHILD``: a folder a family can use at home.

The folder (default ``<data dir>/homepacks/<child>/<YYYYMMDD>/``, 0700, every
file 0600; nothing leaves the machine) holds:

- each of the child's current songs (:mod:`engine.homepack.songs`: the plan's
  scripts, else the recent sessions'; at most four) rendered offline at the
  child's working tempo with no adaptation (:mod:`engine.homepack.render`),
  as ``NN-<script>.wav`` (PCM 16-bit, 48 kHz, stereo) and ``NN-<script>.ogg``
  (Ogg Vorbis);
- ``music-at-home.pdf``: one A4 page in plain language for the parents
  (:mod:`engine.homepack.sheet`), with the home-practice advice
  (:mod:`engine.homepack.practice`: which songs, at which speed, how often,
  what to do when the child is tired), calling the child by the plan's
  display name when it has one (the id names only the folder);
- ``README.txt``: what each file is.

:func:`make_homepack` returns what it did, including where each tempo came
from (``session``, ``assessment`` or ``script``), for the therapist; the
family's files do not carry it.

Only the child's own data chooses songs and tempi: simulated visits and
simulated assessments (a simulated child: ``tandem demo``, ``tandem assess
--simulate``) are left out unless ``include_simulated``, and assessment
probes always (a task's generated script is not the song, though it may
share its name); a note says what was left out, and plainly when nothing
real is left.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.assessment.results import latest_assessment, list_assessments, load_assessment
from engine.errors import ConfigError, DataDirError
from engine.homepack.practice import practice, speed_sentence
from engine.homepack.render import MAX_MINUTES, encode, render_song
from engine.homepack.sheet import (
    DOMAIN_WORDS,
    MAX_GOALS,
    SheetSong,
    play_along,
    render_sheet,
)
from engine.homepack.songs import (
    MAX_SONGS,
    Song,
    WorkingTempo,
    choose_songs,
    working_tempo,
)
from engine.paths import ensure_private_dir, write_private
from engine.records.index import load_records
from engine.records.model import SessionRecord
from engine.records.plan import Plan, check_child_id, load_plan, plan_path

__all__ = ["MAX_NOTE_CHARS", "PDF_NAME", "README_NAME", "cmd_homepack", "home_practice", "homepack_dir",
           "make_homepack"]

PDF_NAME = "music-at-home.pdf"
README_NAME = "README.txt"
MAX_NOTE_CHARS = 900
"""Longer than this cannot fit the one-page sheet beside four songs (the layout is the final judge)."""


def homepack_dir(root: str | os.PathLike, child: str, day: dt.date) -> Path:
    """``<root>/homepacks/<child>/<YYYYMMDD>``, or ``-2``, ``-3``... when that one is already used (not created)."""
    base = Path(root) / "homepacks" / child
    first = base / f"{day:%Y%m%d}"
    candidate, n = first, 1
    while candidate.exists() and (not candidate.is_dir() or any(candidate.iterdir())):
        n += 1
        candidate = base / f"{first.name}-{n}"
    return candidate


def _file_stem(i: int, song: Song) -> str:
    return f"{i:02d}-" + (re.sub(r"[^A-Za-z0-9_-]+", "-", song.stem).strip("-") or "song")


def _readme(child: str, made: dt.date, rows: list[tuple[str, str]]) -> str:
    width = max(len(name) for name, _ in rows)
    lines = [f"Music at home for {child}, made on {made:%d %B %Y}.", "",
             "What is in this folder:", ""]
    lines += [f"  {name.ljust(width)}  {what}" for name, what in rows]
    lines += ["", "Start with the PDF: it says what the songs are for and how to play along.",
              "The .ogg and .wav files hold the same music: use whichever your phone, tablet or computer plays.",
              "These files are for your family: please keep them private and do not share them online.", ""]
    return "\n".join(lines)


def make_homepack(root: str | os.PathLike, child: str, *, out_dir: str | os.PathLike | None = None,
                  note: str | None = None, names: bool = False, minutes: float = 3.0,
                  today: dt.date | None = None, soundfont: str | None = None,
                  include_simulated: bool = False) -> dict[str, Any]:
    """Make the family's folder for ``child`` (see the module docstring); returns what was made.

    Parameters
    ----------
    root : path
        The data directory (plans, sessions, assessments).
    child : str
        The child's pseudonymous id.
    out_dir : path, optional
        Where to write (created 0700; must be empty if it exists). Default
        ``<root>/homepacks/<child>/<YYYYMMDD>`` (``-2``... if that is used).
    note : str, optional
        The therapist's free text for the family, printed on the sheet.
    names : bool
        Ignored (kept for older callers): the page always calls the child by the plan's ``display_name`` when
        it has one (the homepack is the family's, private, and the family knows the name), else by the id; the
        folder is always named by the id.
    minutes : float
        About how long each song's recording is (at most ``MAX_MINUTES``; the last phrase is finished).
    today : date, optional
        The day the homepack is made (tests).
    soundfont : str, optional
        A SoundFont for the sound bank (default: the bank's own choice).
    include_simulated : bool
        Also take songs and tempi from simulated visits and assessments (see the module docstring).

    Returns
    -------
    dict
        ``folder``, ``child``, ``shown_as`` (how the page names the child),
        ``practice`` (the home-practice sentences, as :func:`home_practice`),
        ``files`` (names in the folder), ``pdf``,
        ``readme``, ``pdf_pages`` (1), ``songs`` (per song: ``title``,
        ``script``, ``kind``, ``chosen_by``, ``objectives``, ``tempo_bpm``,
        ``tempo_source``, ``tempo_detail``, ``found_bpm``, ``clamped``,
        ``wav``, ``ogg``, ``duration_s``, ``gain_db``, ``sound_source``),
        ``left_out`` (``simulated_sessions``, ``simulated_assessments``: how
        many were not used) and ``notes`` (sentences on what was left out or
        assumed).

    Raises
    ------
    ConfigError
        A bad child id, minutes or note; a plan with problems; no plan and no
        sessions (one sentence saying what to do); an ``out_dir`` that is not empty.
    DataDirError
        The folder cannot be written.
    """
    check_child_id(child)
    if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not 0 < minutes <= MAX_MINUTES:
        raise ConfigError(f"--minutes must be more than 0 and at most {MAX_MINUTES} (minutes of music per song), "
                          f"not {minutes!r}.")
    note = (note or "").strip() or None
    if note is not None and len(note) > MAX_NOTE_CHARS:
        raise ConfigError(f"The note is {len(note)} characters long; the family's sheet has room for about "
                          f"{MAX_NOTE_CHARS}. Shorten it to a few sentences.")
    made = today or dt.date.today()
    notes: list[str] = []
    # A plan that is a FIFO, a device or a link out of the data folder gets its sentence, not silence.
    plan = load_plan(root, child) if os.path.lexists(plan_path(root, child)) else None
    visits = [r for r in load_records(root, child) if not r.probe]
    records = [r for r in visits if include_simulated or not r.simulated]
    sim_sessions = len(visits) - len(records)
    try:
        assessment = latest_assessment(root, child, include_simulated=include_simulated)
    except DataDirError as exc:
        assessment = None
        notes.append(f"The latest assessment could not be read ({exc}); tempi come from sessions and scripts.")
    sim_assessments = 0 if include_simulated else _simulated_assessments(root, child)
    notes += _left_out_notes(child, sim_sessions, sim_assessments, real=bool(records) or assessment is not None)
    if plan is None and not records and sim_sessions:
        raise ConfigError(f"Child {child} has no plan and only simulated sessions ({sim_sessions}, a simulated "
                          f"child, not {child}), so there is no real data to choose songs from; write a plan naming "
                          f"the child's scripts (`tandem plan new {child}`), run a session with the child, or give "
                          f"--include-simulated.")
    songs, left_out = choose_songs(plan, records, child=child, max_songs=MAX_SONGS)
    notes += left_out
    songs = [dataclasses.replace(s, tempo=working_tempo(s.script, records, assessment)) for s in songs]
    simulated_used = any(r.simulated for r in records) or (assessment is not None and bool(assessment.simulated))
    if simulated_used:
        notes.append("Simulated visits or a simulated assessment were used (--include-simulated): the family's "
                     "sheet does not call these tempi the child's own.")

    # The family's page is private and the family knows the child's name: the plan's display name when it has
    # one; the id only where a file needs it (the folder). ``names`` no longer changes anything.
    del names
    shown = plan.display_name if plan is not None and plan.display_name else child

    if out_dir is None:
        folder = homepack_dir(root, child, made)
    else:
        folder = Path(out_dir).expanduser()
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise ConfigError(f"{folder} is not an empty folder; give --out a new or empty folder, so nothing of "
                              f"the family's is overwritten.")
    made_folder = not folder.exists()
    ensure_private_dir(folder)  # a folder given that exists keeps its mode; one made here is 0700
    written: list[Path] = []

    def put(name: str, data: bytes | str) -> None:
        written.append(write_private(folder / name, data))

    try:
        return _write_homepack(folder, put, songs=songs, notes=notes, shown=shown, child=child, plan=plan,
                               note=note, made=made, minutes=minutes, soundfont=soundfont,
                               simulated_used=simulated_used, sim_sessions=sim_sessions,
                               sim_assessments=sim_assessments)
    except BaseException:
        # Half a homepack is no use to a family (and would push the next one to "-2"): what this call wrote
        # goes, and the folder too if it made it. Nothing that was there before is touched.
        for path in written:
            with contextlib.suppress(OSError):
                path.unlink()
        if made_folder:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def _write_homepack(folder: Path, put: Callable[[str, bytes | str], None], *, songs: list, notes: list[str],
                    shown: str, child: str, plan: Any, note: str | None, made: dt.date, minutes: float,
                    soundfont: str | None, simulated_used: bool, sim_sessions: int,
                    sim_assessments: int) -> dict[str, Any]:
    """The songs, the sheet and the README written into ``folder`` by ``put``; what :func:`make_homepack` returns."""
    # A tempo found in a simulated child's visits is not "the speed the child is comfortable with": the sheet
    # then speaks of the songs' own speed.
    measured = _measured(songs, simulated_used)
    readme_rows: list[tuple[str, str]] = [(PDF_NAME, "one page for the family: the songs and how to play along")]
    sheet_songs: list[SheetSong] = []
    out_songs: list[dict[str, Any]] = []
    for i, song in enumerate(songs, start=1):
        tempo: WorkingTempo = song.tempo  # type: ignore[assignment]  # set by make_homepack
        rendered = render_song(song.script, tempo.bpm, minutes=minutes, soundfont=soundfont)
        for w in rendered.warnings:
            if w not in notes:
                notes.append(w)
        stem = _file_stem(i, song)
        wav, ogg = f"{stem}.wav", f"{stem}.ogg"
        put(wav, encode(rendered, "wav"))
        put(ogg, encode(rendered, "ogg"))
        mins = rendered.duration_s / 60.0
        readme_rows += [(ogg, f"{song.script.title}, smaller file (Ogg Vorbis)"),
                        (wav, f"{song.script.title}, plays almost anywhere (WAV)")]
        sheet_songs.append(SheetSong(number=i, title=song.script.title, files=(ogg, wav),
                                     how=play_along(song.script, shown), minutes=mins, tempo_bpm=tempo.bpm,
                                     speed=speed_sentence(tempo, shown, measured=measured)))
        out_songs.append({
            "title": song.script.title, "script": str(song.script.path), "kind": song.script.kind,
            "chosen_by": song.chosen_by, "objectives": list(song.objectives),
            "tempo_bpm": tempo.bpm, "tempo_source": tempo.source, "tempo_detail": tempo.detail,
            "found_bpm": tempo.found_bpm, "clamped": tempo.clamped, "range_bpm": list(tempo.range_bpm),
            "wav": wav, "ogg": ogg, "duration_s": round(rendered.duration_s, 3),
            "gain_db": round(rendered.gain_db, 2), "sound_source": rendered.sound_source,
        })

    goals = [(DOMAIN_WORDS.get(g.domain, g.domain.capitalize()), g.description)
             for g in (plan.goals if plan is not None else ())]
    advice = practice(songs, shown, measured=measured, how=[s.how for s in sheet_songs])
    pdf, _html = render_sheet(child=shown, pseudonymous=shown == child, goals=goals[:MAX_GOALS],
                              more_goals=max(0, len(goals) - MAX_GOALS), songs=sheet_songs, note=note,
                              therapist=plan.therapist if plan is not None else None, made=made,
                              measured=measured, tips=advice.general)
    put(PDF_NAME, pdf)
    readme_rows.append((README_NAME, "this list"))
    put(README_NAME, _readme(shown, made, readme_rows))
    return {
        "folder": str(folder), "child": child, "shown_as": shown, "made": made.isoformat(),
        "files": [name for name, _ in readme_rows], "pdf": PDF_NAME, "readme": README_NAME, "pdf_pages": 1,
        "songs": out_songs, "practice": advice.sentences, "notes": notes,
        "left_out": {"simulated_sessions": sim_sessions, "simulated_assessments": sim_assessments},
    }


def _measured(songs: list[Song], simulated_used: bool) -> bool:
    """Whether any song's tempo is one the child worked at (a session or an assessment with the child)."""
    return not simulated_used and any(s.tempo is not None and s.tempo.source != "script" for s in songs)


def home_practice(root: str | os.PathLike, child: str, plan: Plan | None, records: list[SessionRecord], *,
                  name: str | None = None) -> list[str]:
    """The home-practice recommendations for the family, as plain sentences (no files written).

    The same sentences as the homepack's page: one per song (which song, how to join in, at which speed in
    plain words and where that speed comes from), then how long and how often, what to do when the child is
    tired, joining in, the volume. For a progress report's recommendations.

    Parameters
    ----------
    root : path
        The data directory (the child's latest assessment gives a rhythmic song's tempo when no session has).
    child : str
        The child's pseudonymous id.
    plan : Plan or None
        The child's plan (its objectives' scripts are the songs).
    records : list of SessionRecord
        The visits the caller counts (a report's: simulated ones only when it includes them). Assessment
        probes are left out here; when a simulated visit is among them, a simulated assessment may give a
        tempo too, and no speed is called the child's own.
    name : str, optional
        How the sentences call the child (default: the id; a report names the child as it does elsewhere).

    Returns
    -------
    list of str
        The sentences; empty when there is no song to recommend (no plan scripts and no visits).
    """
    check_child_id(child)
    shown = name or child
    visits = [r for r in records if not r.probe]
    simulated = any(r.simulated for r in visits)
    try:
        assessment = latest_assessment(root, child, include_simulated=simulated)
    except DataDirError:
        assessment = None
    try:
        songs, _notes = choose_songs(plan, visits, child=child, max_songs=MAX_SONGS)
    except ConfigError:
        return []
    songs = [dataclasses.replace(s, tempo=working_tempo(s.script, visits, assessment)) for s in songs]
    used = simulated or (assessment is not None and bool(assessment.simulated))
    return practice(songs, shown, measured=_measured(songs, used),
                    how=[play_along(s.script, shown) for s in songs]).sentences


def _left_out_notes(child: str, sessions: int, assessments: int, *, real: bool) -> list[str]:
    """What was left out as simulated, and plainly when no real data is left (the tempi are the scripts')."""
    notes = []
    if sessions or assessments:
        what = " and ".join(x for x in (
            f"{sessions} simulated session{'s' if sessions != 1 else ''}" if sessions else "",
            f"{assessments} simulated assessment{'s' if assessments != 1 else ''}" if assessments else "") if x)
        notes.append(f"{what[0].upper()}{what[1:]} (a simulated child, not {child}) "
                     f"{'were' if sessions + assessments != 1 else 'was'} left out; --include-simulated uses them.")
    if not real:
        notes.append(f"There is no real data for {child} yet (no session or assessment with the child): every "
                     f"tempo is the script's own, not a tempo {child} has worked at.")
    return notes


def _simulated_assessments(root: str | os.PathLike, child: str) -> int:
    """How many of the child's assessments a simulated child played (an unreadable one is not counted)."""
    n = 0
    for folder in list_assessments(root, child):
        try:
            n += bool(load_assessment(folder).simulated)
        except DataDirError:
            continue
    return n


def cmd_homepack(root: str | os.PathLike, child: str, *, out: str | None, note: str | None, names: bool,
                 minutes: float, echo: Callable[[str], None] = print, include_simulated: bool = False) -> int:
    """``tandem homepack CHILD [--out DIR] [--note TEXT] [--names] [--minutes M] [--include-simulated]``: make it
    and say what was made."""
    result = make_homepack(root, child, out_dir=out, note=note, names=names, minutes=minutes,
                           include_simulated=include_simulated)
    echo(f"Homepack for {child} in {result['folder']}:")
    for s in result["songs"]:
        m, sec = divmod(round(s["duration_s"]), 60)
        echo(f"  {s['ogg'][:-4]}.ogg/.wav  {s['title']} at {s['tempo_bpm']:g} BPM, {m}:{sec:02d} "
             f"({s['tempo_detail'][0].lower()}{s['tempo_detail'][1:].rstrip('.')})")
    echo(f"  {result['pdf']}  one page for the family")
    echo(f"  {result['readme']}  the list of files")
    for n in result["notes"]:
        echo(f"note: {n}")
    return 0
