"""What every kind shares: cues, patterns, trial plans and results, and the :class:`Kind` base class.

See :mod:`engine.interventions.kinds` for how a runtime uses a kind.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from engine.errors import ConfigError
from engine.interventions.script import (
    KIND_LEVELS,
    Script,
)
from engine.scoring.objectives import NOT_RECORDED, Trial

__all__ = ["COUNT_IN_SOUNDS", "LEAD_IN_SOUND", "Cue", "Kind", "Pattern", "TrialPlan", "TrialResult", "in_window",
           "is_pitched", "level_scores", "resize", "times_and_notes"]

COUNT_IN_SOUNDS = ("click:high", "click")
#: Lead-in sound when the cue instrument has no pitch (a drum, a click).
LEAD_IN_SOUND = "tone"


@dataclass(frozen=True)
class Cue:
    """One sound the engine must play: at ``time_s`` (when it should be heard), its role, sound and note.

    ``role`` is one of ``lead_in``, ``count_in``, ``call`` and ``accompaniment`` (call-and-response),
    ``engine_turn`` (turn-taking), ``downbeat``/``beat`` (cueing) or
    ``your_turn`` (the prompt sound at the hand-over). ``note`` is a MIDI
    pitch for pitched sounds, else None. ``index`` counts the cue within its role.
    """

    time_s: float
    role: str
    sound: str
    note: int | None = None
    index: int = 0
    gain: float = 1.0  # relative to the session's cue level (an accompaniment plays softer)


@dataclass(frozen=True)
class Pattern:
    """A rhythm or melody in beats: onsets from its start, pitches (melodies only), length."""

    name: str
    onsets_beats: tuple[float, ...]
    pitches: tuple[int, ...] = ()
    length_beats: float = 0.0

    @property
    def notes(self) -> int:
        return len(self.onsets_beats)


@dataclass(frozen=True)
class TrialPlan:
    """What one trial plays and when it listens (all times in seconds on the stream clock).

    Attributes
    ----------
    index : int
        The trial's number in the session (0-based; a free-play phase has its own numbering, see ``phase``).
    kind : str
        The script kind.
    phase : str
        ``"trial"``, or ``"free_play"`` for rhythmic cueing's tempo-finding phase (not a trial).
    start_s, end_s : float
        The plan's span; the next plan starts at ``end_s`` (a runtime may start
        it earlier once the child's turn has ended).
    tempo_bpm : float
        Tempo of this trial.
    pattern : Pattern or None
        The call / the engine's turn / one bar of cues.
    cues : tuple of Cue
        Every sound to play, in time order.
    engine_start_s, engine_end_s : float or None
        The engine's part: the call or the engine's turn (first onset to the
        end of the pattern); for cueing the first and last beat.
    child_start_s, child_end_s : float
        The window in which the child's events are collected and scored.
    params : dict
        The trial's parameters as plain data (pattern text, length, tempo
        step, the answer mode, ...), for the log.
    """

    index: int
    kind: str
    phase: str
    start_s: float
    end_s: float
    tempo_bpm: float
    pattern: Pattern | None
    cues: tuple[Cue, ...]
    engine_start_s: float | None
    engine_end_s: float | None
    child_start_s: float
    child_end_s: float
    params: dict[str, Any] = field(default_factory=dict)

    def cue_times(self, *roles: str) -> list[float]:
        """Times of the cues with these roles (all cues if none given)."""
        return [c.time_s for c in self.cues if not roles or c.role in roles]


@dataclass(frozen=True)
class TrialResult:
    """One scored trial.

    ``scores`` holds the engine/scoring metric keys (``to_dict()`` of the
    result); ``correct`` is the trial's pass flag (imitation correct; waited
    and initiated; within-window share at the criterion) or None for a
    free-play phase; ``trial`` is the :class:`~engine.scoring.objectives.Trial`
    for the objectives (None for free play); ``detail`` the scoring result
    object itself; ``answer`` (turn-taking) the engine's musical answer for the next turn.
    """

    plan: TrialPlan
    scores: dict[str, Any]
    correct: bool | None
    trial: Trial | None
    detail: Any = None
    answer: Pattern | None = None


def level_scores(plan: TrialPlan) -> dict[str, Any]:
    """The trial's difficulty as scores, for an objective's ``level`` (see ``script.KIND_LEVELS``).

    ``tempo_bpm`` (the trial's tempo) and, for the kinds whose length adapts,
    ``pattern_length`` (notes in the call, or in the engine's turn).
    """
    carried = KIND_LEVELS.get(plan.kind, ())
    out: dict[str, Any] = {}
    if "pattern_length" in carried and plan.pattern is not None:
        out["pattern_length"] = plan.pattern.notes
    if "tempo_bpm" in carried:
        out["tempo_bpm"] = plan.tempo_bpm
    return out


def times_and_notes(events: Iterable[Any]) -> tuple[list[float], list[int | None]]:
    """Times (sorted, duplicates dropped) and notes of the child's events."""
    pairs = []
    for e in events:
        if isinstance(e, (tuple, list)):
            t, note = float(e[0]), e[1]
        else:
            t, note = float(e), None
        if note is not None and (isinstance(note, bool) or int(note) < 0):
            note = None
        pairs.append((t, None if note is None else int(note)))
    pairs.sort(key=lambda p: p[0])
    times: list[float] = []
    notes: list[int | None] = []
    for t, n in pairs:
        if times and t <= times[-1]:
            continue
        times.append(t)
        notes.append(n)
    return times, notes


def in_window(times: Sequence[float], notes: Sequence[int | None], lo: float, hi: float,
        *, closed: bool = True) -> tuple[list[float], list[int | None]]:
    keep = [i for i, t in enumerate(times) if lo <= t and (t <= hi if closed else t < hi)]
    return [times[i] for i in keep], [notes[i] for i in keep]


def is_pitched(sound: str) -> bool:
    """Whether a cue sound takes a note (a General MIDI program, a tone, an external instrument)."""
    return sound.startswith(("program:", "tone", "midi_out"))


def resize(pattern: Pattern, notes: int) -> Pattern:
    """The pattern cut to its first ``notes`` onsets, or repeated (whole copies after each other) and cut.

    A cut pattern keeps its length; a repeated one is as long as the copies it uses.
    """
    notes = max(1, int(notes))
    if notes == pattern.notes:
        return pattern
    onsets: list[float] = []
    pitches: list[int] = []
    copies = 0
    while len(onsets) < notes:
        offset = copies * pattern.length_beats
        onsets.extend(offset + b for b in pattern.onsets_beats)
        pitches.extend(pattern.pitches)
        copies += 1
    return Pattern(f"{pattern.name} ({notes} notes)", tuple(onsets[:notes]),
                   tuple(pitches[:notes]), copies * pattern.length_beats)


class Kind:
    """Base of every kind: the script's tempo, prompts, adaptation and end; subclasses plan and score.

    Parameters
    ----------
    script : Script
        A checked script of this kind.
    seed : int, optional
        Seeds the choices a kind may vary (which phrase among equals, which
        musical answer); None: no randomness, choices follow the script's order.
    """

    kind: ClassVar[str] = ""
    #: Play the count-in before every trial (True) or only before the first.
    count_in_every_trial: ClassVar[bool] = False

    def __init__(self, script: Script, *, seed: int | None = None) -> None:
        if self.kind and script.kind != self.kind:
            raise ConfigError(f"{script.path}: is a {script.kind} script, not {self.kind}.")
        self.script = script
        self.rng = random.Random(seed) if seed is not None else None
        self.adaptation = script.adaptation
        self.base_tempo_bpm = float(script.tempo_bpm)
        self.tempo_steps = 0
        self.length_offset = 0  # notes added (+) or taken away (-) by adaptation
        self.run_correct = 0
        self.run_missed = 0
        self.trials_planned = 0
        self.plans_made = 0
        self.lead_in_played = False
        self.first_start_s: float | None = None
        self.planned_until_s: float | None = None
        self.history: list[TrialResult] = []

    @classmethod
    def from_script(cls, script: Script, *, seed: int | None = None, **options: Any) -> Kind:
        """Build the kind from a checked script: its kind table's settings (:attr:`Script.options`),
        overridden by ``options`` (keyword settings of the subclass, e.g. for tests)."""
        return cls(script, seed=seed, **{**script.options, **options})

    def close_s(self, plan: TrialPlan, child_events: Iterable[Any], now_s: float) -> float:
        """When the child's window of ``plan`` can close, given the events heard up to ``now_s``.

        A runtime scores the trial once ``now_s`` reaches this time, passing
        only the events up to it, and starts the next plan there; the scores
        are the same as with the whole window. The base: ``plan.child_end_s``
        (kinds whose window can end early override it).
        """
        return plan.child_end_s

    # -- tempo and difficulty -------------------------------------------------

    @property
    def tempo_bpm(self) -> float:
        """The current tempo: the base tempo stepped ``tempo_steps`` times, within the script's bounds."""
        if self.adaptation is None or self.tempo_steps == 0:
            return self.base_tempo_bpm
        tempo = self.base_tempo_bpm * (1.0 + self.adaptation.tempo_step_pct / 100.0) ** self.tempo_steps
        return min(self.adaptation.max_tempo_bpm, max(self.adaptation.min_tempo_bpm, tempo))

    def _step_tempo(self, direction: int) -> None:
        a = self.adaptation
        if a is None or a.tempo_step_pct == 0:
            return
        at_bound = (self.tempo_bpm >= a.max_tempo_bpm) if direction > 0 else (self.tempo_bpm <= a.min_tempo_bpm)
        if not at_bound:
            self.tempo_steps += direction

    def harder(self) -> None:
        """One step harder: faster and ``length_step`` notes longer (within :meth:`_bound`)."""
        self._step_tempo(+1)
        if self.adaptation is not None:
            self.length_offset += self.adaptation.length_step
        self._bound()

    def easier(self) -> None:
        self._step_tempo(-1)
        if self.adaptation is not None:
            self.length_offset -= self.adaptation.length_step
        self._bound()

    def _bound(self) -> None:
        """Keep ``length_offset`` within what the kind can play (subclasses; none by default)."""

    def adapt(self, result: TrialResult) -> None:
        """Apply the script's rules after a scored trial (counts runs of passes and misses)."""
        self.history.append(result)
        if result.correct is None or self.adaptation is None:
            return
        if result.correct:
            self.run_correct += 1
            self.run_missed = 0
            if self.run_correct >= self.adaptation.up_after:
                self.harder()
                self.run_correct = 0
        else:
            self.run_missed += 1
            self.run_correct = 0
            if self.run_missed >= self.adaptation.down_after:
                self.easier()
                self.run_missed = 0

    # -- the session's end ----------------------------------------------------

    @property
    def finished(self) -> bool:
        """True once the script's trials are planned, or its duration is filled by plans."""
        if self.script.trials is not None:
            return self.trials_planned >= self.script.trials
        if self.script.duration_min is not None and self.first_start_s is not None:
            return self.planned_until_s - self.first_start_s >= self.script.duration_min * 60.0
        return False

    # -- planning helpers -----------------------------------------------------

    def _prelude(self, start_s: float, spb: float, *, count_in: bool) -> tuple[list[Cue], float]:
        """Lead-in (the first time the engine plays music) and count-in cues; returns them and the beats they take."""
        prompts = self.script.prompts
        cues: list[Cue] = []
        beats = 0.0
        if not self.lead_in_played and prompts.lead_in:
            self.lead_in_played = True
            cue = self.script.instruments.cue
            sound = cue if is_pitched(cue) else LEAD_IN_SOUND
            for i, (note, length) in enumerate(prompts.lead_in):
                cues.append(Cue(start_s + beats * spb, "lead_in", sound, note, i))
                beats += length
        if count_in:
            for k in range(prompts.count_in_beats):
                cues.append(Cue(start_s + (beats + k) * spb, "count_in",
                                COUNT_IN_SOUNDS[0] if k == 0 else COUNT_IN_SOUNDS[1], None, k))
            beats += prompts.count_in_beats
        return cues, beats

    def _pattern_cues(self, pattern: Pattern, anchor_s: float, first_beat: float, spb: float,
                      role: str) -> list[Cue]:
        sound = self.script.instruments.cue
        return [Cue(anchor_s + (first_beat + b) * spb, role, sound,
                    pattern.pitches[i] if pattern.pitches else None, i)
                for i, b in enumerate(pattern.onsets_beats)]

    def _your_turn(self, time_s: float) -> list[Cue]:
        sound = self.script.prompts.your_turn_sound
        return [] if sound == "none" else [Cue(time_s, "your_turn", sound)]

    def _record(self, plan: TrialPlan) -> TrialPlan:
        if self.first_start_s is None:
            self.first_start_s = plan.start_s
        self.planned_until_s = plan.end_s
        self.plans_made += 1
        if plan.phase == "trial":
            self.trials_planned += 1
        return plan

    def _phrase(self, i: int) -> Pattern:
        p = self.script.phrases[i]
        return Pattern(p.name, p.onsets_beats, p.pitches, p.length_beats)

    def next_trial(self, start_s: float) -> TrialPlan:  # pragma: no cover - abstract
        raise NotImplementedError

    def score(self, plan: TrialPlan, child_events: Iterable[Any], *,
              prompt: str = NOT_RECORDED) -> TrialResult:  # pragma: no cover - abstract
        """Score one trial on the child's events in its window; ``prompt`` is the therapist's prompt level
        for it (:data:`~engine.scoring.objectives.NOT_RECORDED` when nobody said: never taken as independent)."""
        raise NotImplementedError
