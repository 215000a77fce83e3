"""Home practice in plain words: which songs, at which speed, how often, and what to do when the child is tired.

The same sentences go on the family's page (:mod:`engine.homepack.sheet`) and,
through :func:`engine.homepack.home_practice`, into the progress report's
recommendations, so the family and the report say the same thing.

Plain words only: a speed is "a calm walking pace (about 88 beats a
minute)", never a BPM figure; no objective, criterion or score. A speed is
called the child's own only when it was measured with the child (a session
or an assessment, never a simulated child): otherwise it is the song's own
speed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.homepack.songs import Song, WorkingTempo
from engine.interventions.script import Script

__all__ = ["Practice", "general_advice", "practice", "song_sentence", "speed_sentence", "speed_words", "tempo_words"]

_PACES = ((66.0, "a slow, gentle pace"), (90.0, "a calm walking pace"), (100.0, "an easy walking pace"),
          (116.0, "a lively walking pace"), (float("inf"), "a quick, bouncy pace"))
"""A tempo in everyday words: the first whose upper bound (beats a minute, exclusive) is above it."""


def tempo_words(bpm: float) -> str:
    """A tempo as a family would say it: ``"a calm walking pace (about 88 beats a minute)"``.

    >>> tempo_words(88.2)
    'a calm walking pace (about 88 beats a minute)'
    """
    pace = next(words for upper, words in _PACES if bpm < upper)
    return f"{pace} (about {round(bpm):d} beats a minute)"


def speed_words(tempo: WorkingTempo, name: str, *, measured: bool) -> str:
    """Where a song's speed comes from, in one clause: ``"the speed Sam reached in the last session"``.

    ``measured`` is False when the speed must not be called the child's own (simulated data was used, or
    there is none).
    """
    if measured and tempo.source == "session":
        return f"the speed {name} reached in the last session"
    if measured and tempo.source == "assessment":
        return f"{name}'s own tapping speed"
    if tempo.source != "script":  # found in a simulated child's data (--include-simulated): not the child's
        return f"a speed found in simulated visits, not {name}'s own"
    return f"the song's own speed, until {name} has played it in a session"


@dataclass(frozen=True)
class Practice:
    """The home practice: one sentence per song (``songs``, in the homepack's order) and the general advice."""

    songs: tuple[str, ...]
    general: tuple[str, ...]

    @property
    def sentences(self) -> list[str]:
        """Every sentence, the songs first (what :func:`engine.homepack.home_practice` returns)."""
        return [*self.songs, *self.general]


def speed_sentence(tempo: WorkingTempo, name: str, *, measured: bool) -> str:
    """``"Recorded at a calm walking pace (about 88 beats a minute), the speed Sam reached in the last session."``"""
    return f"Recorded at {tempo_words(tempo.bpm)}, {speed_words(tempo, name, measured=measured)}."


def song_sentence(script: Script, tempo: WorkingTempo, name: str, *, how: str, measured: bool) -> str:
    """One song's recommendation: its title, how to join in, and its speed in plain words."""
    return f"{script.title}: {how} {speed_sentence(tempo, name, measured=measured)}"


def general_advice(name: str, songs: Sequence[Song]) -> list[str]:
    """How long and how often, when the child is tired, joining in, the volume (plain sentences)."""
    calmest = min(songs, key=lambda s: s.tempo.bpm if s.tempo is not None else s.script.tempo_bpm, default=None)
    tired = (f"When {name} is tired or upset, keep it very short: play the calmest song"
             + (f" ({calmest.script.title})" if calmest is not None and len(songs) > 1 else "")
             + " and just listen or sway together, or stop and try another day. Never insist.")
    return [
        ("A few minutes, most days: one or two songs, 5 to 10 minutes, 4 or 5 days a week. Short and regular "
         "helps more than long now and then."),
        "Stop while it is still fun: a short, happy time does more than a long, tired one.",
        tired,
        f"Join in yourself: take turns, copy each other, be silly. Any way {name} joins in counts.",
        "Keep the volume soft to medium; if a sound seems too much, turn it down or stop.",
    ]


def practice(songs: Sequence[Song], name: str, *, measured: bool, how: Sequence[str]) -> Practice:
    """The home practice for ``songs`` (each with its working tempo) and ``how`` to join in with each."""
    lines = tuple(song_sentence(s.script, s.tempo, name, how=h, measured=measured)
                  for s, h in zip(songs, how, strict=True) if s.tempo is not None)
    return Practice(lines, tuple(general_advice(name, songs)))
