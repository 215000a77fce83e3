"""The homepack's one-page sheet for the family: what the child works on, the songs, how to play along.

Plain language throughout: the plan's goals by domain in everyday words
(:data:`DOMAIN_WORDS`) and the therapist's own description of each goal,
never an objective's criterion, a metric or a score; for each song the file
to play, one sentence on how to join in (:func:`play_along`) and its speed
in plain words; how to practise at home (how long, how often, what to do
when the child is tired: :mod:`engine.homepack.practice`); the therapist's
note. The child is called by the plan's display name when it has one. The
page is laid out with jinja2 and WeasyPrint (:mod:`engine.reports.render`, template
``engine/reports/templates/homepack.html``) and must fit one A4 page: if it
does not, it is laid out again more compactly, and a note too long even for
that is refused in one sentence (:func:`render_sheet`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from engine.errors import ConfigError
from engine.homepack.practice import general_advice
from engine.interventions.script import Script
from engine.reports.render import environment, import_weasyprint

__all__ = ["DOMAIN_WORDS", "MAX_GOALS", "SheetSong", "play_along", "render_sheet", "sheet_html"]

DOMAIN_WORDS = {
    "communication": "Communicating",
    "cognition": "Thinking and remembering",
    "socialization": "Playing together",
    "motor": "Moving",
    "sensory": "Sounds and the senses",
}
"""The five domains as a family would say them."""
MAX_GOALS = 6
"""Goals shown on the sheet; the rest are counted ("and 2 more")."""
LAYOUTS = ("normal", "compact")


@dataclass(frozen=True)
class SheetSong:
    """One song as the sheet shows it."""

    number: int
    title: str
    files: tuple[str, ...]  # the file names in the folder
    how: str  # how to play along, one or two sentences
    minutes: float
    tempo_bpm: float
    speed: str = ""  # the recording's speed in plain words (engine.homepack.practice.speed_sentence)

    @property
    def length(self) -> str:
        """``about 3 minutes``, ``about 1 minute`` or ``under a minute``."""
        if self.minutes < 0.75:
            return "under a minute"
        n = round(self.minutes)
        return f"about {n} minute{'' if n == 1 else 's'}"


def play_along(script: Script, child: str) -> str:
    """How to join in with a song at home, in one or two plain sentences (by the script's kind)."""
    kind = script.kind
    pitched = any(p.pitches for p in script.phrases)  # a tune, not a rhythm
    if kind == "call_and_response":
        if pitched:
            return ("Listen to the little tune, then play it back on a keyboard or a xylophone, or sing it. "
                    "The quiet moment after each tune is for the answer.")
        return ("Listen to the drum, then play it back on a pot, a box or the table. "
                "The quiet moment after each rhythm is for the answer.")
    if kind == "turn_taking":
        if pitched:
            return (f"The music sings, then waits: that is {child}'s turn to answer, by singing, saying it, "
                    "or with a clap or a drum. Then the music goes on.")
        return (f"The drum plays a little rhythm, then waits: that is {child}'s turn to answer with any rhythm "
                "at all, on a pot, a box or the table. Then the drum answers back.")
    if kind == "rhythmic_cueing":
        if script.options.get("continuation_beats"):
            return ("Tap or clap along with the beat. When it stops, keep the beat going on your own "
                    "until it comes back.")
        return "Clap, tap, drum or march along with the beat."
    if kind == "stop_and_go":
        return "Play or dance while the music plays, and freeze like a statue when it stops!"
    if kind == "fill_in_the_blank":
        return "The tune leaves out its last note: sing it, or play it, in the gap."
    return "Listen, and join in however feels right."


def sheet_html(*, child: str, pseudonymous: bool, goals: Sequence[tuple[str, str]], more_goals: int,
               songs: Sequence[SheetSong], note: str | None, therapist: str | None, made: dt.date,
               layout: str = "normal", measured: bool = True, tips: Sequence[str] | None = None) -> str:
    """The sheet as HTML. ``child``: how the page names the child (the display name when the plan has one);
    ``pseudonymous``: it is the id; ``goals``: (domain in everyday words, the goal's description) pairs;
    ``measured``: whether any song's tempo is one the child worked at (else the sheet does not say so);
    ``tips``: the home-practice advice (:func:`engine.homepack.practice.general_advice` by default)."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, not {layout!r}")
    return environment().get_template("homepack.html").render(
        child=child, pseudonymous=pseudonymous, goals=list(goals), more_goals=more_goals, songs=list(songs),
        note=note, therapist=therapist, made=made, layout=layout, measured=measured,
        tips=list(tips) if tips is not None else general_advice(child, ()))


def render_sheet(**context) -> tuple[bytes, str]:
    """The sheet as a one-page PDF and the HTML it was laid out from (the arguments of :func:`sheet_html`).

    Raises
    ------
    ConfigError
        The page does not fit one A4 page even laid out compactly (only a long note can do that).
    """
    weasyprint = import_weasyprint()
    pages = 0
    for layout in LAYOUTS:
        html = sheet_html(**context, layout=layout)
        document = weasyprint.HTML(string=html).render()
        pages = len(document.pages)
        if pages == 1:
            return document.write_pdf(), html
    note = context.get("note") or ""
    if note:
        raise ConfigError(f"The note ({len(note)} characters) makes the family's sheet longer than one page; "
                          f"shorten it (a few sentences fit) and make the homepack again.")
    raise ConfigError(f"The family's sheet came out {pages} pages long, not one; name fewer songs or goals.")
