"""The kinds of intervention: pure, clock-free planners and scorers.

Each kind is one small class built from a checked :class:`~engine.interventions.script.Script`.
It never touches audio, MIDI or a clock: the runtime asks it for the next
trial's plan, plays the plan's cues, collects the child's events in the plan's
windows and hands them back to be scored; then it lets the kind adapt::

    kind = make_kind(script)                 # with the script's kind table ([turns], [cueing], ...)
    t = start_s
    while not kind.finished:
        plan = kind.next_trial(t)            # cues to schedule, windows to listen in
        ...                                  # play plan.cues; collect the child's events until
                                             # now_s >= close = kind.close_s(plan, events, now_s)
        result = kind.score(plan, events)    # the events up to close: metrics + an objectives Trial
        kind.adapt(result)                   # the script's [adapt] rules
        t = plan.end_s                       # (or close, when it came before plan.child_end_s)

The kinds: :class:`CallAndResponse`, :class:`TurnTaking`,
:class:`RhythmicCueing`, :class:`StopAndGo`, :class:`FillInTheBlank`.

**Logical time.** Every time in a plan is ``anchor_s + b * 60 / tempo_bpm``
where ``b`` is a position in beats counted from the anchor (the plan's start,
or for continuous cueing the start of the run at that tempo): never a sum of
rounded intervals, so nothing drifts.

**Child events** are onset times in seconds on the same clock, or
``(time_s, note)`` pairs (``note``: MIDI pitch, or None / -1 when unknown,
e.g. a microphone onset). Note-offs and therapist keys are the runtime's to
filter out.

**Adaptation** (the script's ``[adapt]``; none: the difficulty never changes):
``up_after`` passed trials in a row make it harder, ``down_after`` failed
trials in a row make it easier; each step resets both runs. A tempo step
multiplies by ``(1 + tempo_step_pct / 100)`` (easier: divides), computed as
``base * (1 + p) ** steps`` from an integer step count so that up and down
steps cancel exactly; the tempo stays within ``min_tempo_bpm``..``max_tempo_bpm``
(a step that would cross a bound stops at it). ``length_step`` notes are added
(harder) or taken away (easier); patterns never shrink below one note.

**Sounds** in cues are sound-bank requests: the script's cue instrument for
the engine's music, ``click:high``/``click`` for the count-in (first beat
high), the prompt's ``your_turn_sound``, and for a lead-in melody on an
unpitched cue instrument ``tone``.
"""

from __future__ import annotations

import itertools
import math
import random
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from engine.errors import ConfigError
from engine.interventions.notation import parse_grid
from engine.interventions.script import ANSWERS as SCRIPT_ANSWERS
from engine.interventions.script import (
    CONTINUATION_BEATS,
    DEFAULT_SYNC_BARS,
    SYNC_BARS,
    CueingSong,
    Script,
    continuation_key,
    load_cueing_song,
)
from engine.scoring.blanks import DEFAULT_WINDOW_BEATS, BlankResult, score_blank
from engine.scoring.continuation import ContinuationResult, score_continuation
from engine.scoring.imitation import ImitationResult, score_imitation
from engine.scoring.inhibition import STOP_GRACE_MS, StopResult, score_stop
from engine.scoring.objectives import Trial
from engine.scoring.sync import match_taps, summarize
from engine.scoring.turns import TurnResult, score_turn

__all__ = [
    "CallAndResponse",
    "Cue",
    "FillInTheBlank",
    "Kind",
    "Pattern",
    "RhythmicCueing",
    "StopAndGo",
    "TrialPlan",
    "TrialResult",
    "TurnTaking",
    "is_pitched",
    "make_kind",
]

#: Count-in sounds: the first beat, then the others.
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


def _child(events: Iterable[Any]) -> tuple[list[float], list[int | None]]:
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


def _in(times: Sequence[float], notes: Sequence[int | None], lo: float, hi: float,
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
              prompt: str = "independent") -> TrialResult:  # pragma: no cover - abstract
        raise NotImplementedError


class CallAndResponse(Kind):
    """The engine plays a call, the child echoes it; scored with :func:`~engine.scoring.imitation.score_imitation`.

    Each trial: lead-in (first trial only), count-in, the call at the current
    tempo, then a response window from the end of the call (the end of its
    bar) lasting ``window_s`` plus the call's own span plus one beat, so a
    late but complete echo still fits.

    **Which call.** With ``length_step`` 0 the phrases are played as written,
    in the script's order (round robin; with a seed, a random one). With
    ``length_step`` > 0 the difficulty is a call length in notes, starting at
    the first phrase's; the call is the first phrase (in script order) with
    at least that many notes, cut to that many (with a seed, a random one of
    the shortest such phrases); beyond the longest phrase, the longest is
    repeated. The length stays within 1 .. twice the longest phrase's notes.

    Melodies are scored with pitches when every response note has one, and
    then the right pitches are part of "correct" (``require_pitch``).

    The script's ``[response]`` table sets ``window_s`` (3 s),
    ``require_pitch`` (true), ``tempo_invariant`` (false) and ``accompaniment``.

    **Echo with accompaniment** (``[response] accompaniment``, a sound; none
    by default): that sound plays softly (``ACCOMPANIMENT_GAIN``) on every
    beat from the call's first beat to the end of the response window, on
    the call's grid, so the echo lands in a groove. Its cues have role
    ``accompaniment``; they are never scored.
    """

    kind = "call_and_response"
    count_in_every_trial = True
    ACCOMPANIMENT_GAIN: ClassVar[float] = 0.45  # under the call (gain 1): heard, never louder than the music

    def __init__(self, script: Script, *, seed: int | None = None, window_s: float = 3.0,
                 require_pitch: bool = True, tempo_invariant: bool = False,
                 accompaniment: str | None = None) -> None:
        super().__init__(script, seed=seed)
        self.accompaniment = None if accompaniment in (None, "none") else accompaniment
        self.window_s = window_s
        self.require_pitch = require_pitch
        self.tempo_invariant = tempo_invariant
        self.phrase_notes = [len(p.onsets_beats) for p in script.phrases]
        self.max_notes = 2 * max(self.phrase_notes)

    @property
    def call_notes(self) -> int:
        """The call length in notes (``length_step`` > 0), within its bounds."""
        return min(self.max_notes, max(1, self.phrase_notes[0] + self.length_offset))

    def _bound(self) -> None:
        self.length_offset = self.call_notes - self.phrase_notes[0]

    def _choose(self) -> Pattern:
        step = self.adaptation.length_step if self.adaptation else 0
        if step == 0:
            i = (self.rng.randrange(len(self.phrase_notes)) if self.rng
                 else self.trials_planned % len(self.phrase_notes))
            return self._phrase(i)
        n = self.call_notes
        long_enough = [i for i, k in enumerate(self.phrase_notes) if k >= n]
        if not long_enough:
            return resize(self._phrase(self.phrase_notes.index(max(self.phrase_notes))), n)
        if self.rng:
            shortest = min(self.phrase_notes[i] for i in long_enough)
            i = self.rng.choice([i for i in long_enough if self.phrase_notes[i] == shortest])
        else:
            i = long_enough[0]
        return resize(self._phrase(i), n)

    def next_trial(self, start_s: float) -> TrialPlan:
        tempo = self.tempo_bpm
        spb = 60.0 / tempo
        pattern = self._choose()
        cues, pre = self._prelude(start_s, spb, count_in=self.count_in_every_trial or self.plans_made == 0)
        cues += self._pattern_cues(pattern, start_s, pre, spb, "call")
        call_start = start_s + (pre + pattern.onsets_beats[0]) * spb
        call_end = start_s + (pre + pattern.length_beats) * spb
        cues += self._your_turn(call_end)
        span = (pattern.onsets_beats[-1] - pattern.onsets_beats[0] + 1.0) * spb
        child_end = call_end + self.window_s + span
        if self.accompaniment is not None:
            # Every beat from the call's bar to the window's end, on the same logical grid as the call.
            first = math.floor(pattern.onsets_beats[0])
            beats = range(first, math.floor((child_end - start_s) / spb - pre) + 1)
            cues += [Cue(start_s + (pre + b) * spb, "accompaniment", self.accompaniment, None, i,
                         self.ACCOMPANIMENT_GAIN) for i, b in enumerate(beats)
                     if start_s + (pre + b) * spb <= child_end]
            cues.sort(key=lambda c: c.time_s)
        # With a groove the next trial starts on the next beat, so the pulse goes on through it.
        end_s = child_end if self.accompaniment is None else start_s + math.ceil((child_end - start_s) / spb) * spb
        return self._record(TrialPlan(
            index=self.trials_planned, kind=self.kind, phase="trial", start_s=start_s, end_s=end_s,
            tempo_bpm=tempo, pattern=pattern, cues=tuple(cues), engine_start_s=call_start,
            engine_end_s=call_end, child_start_s=call_start, child_end_s=child_end,
            params={"pattern": pattern.name, "onsets_beats": list(pattern.onsets_beats),
                    "pitches": list(pattern.pitches), "notes": pattern.notes, "tempo_bpm": tempo,
                    "accompaniment": self.accompaniment,
                    "tempo_steps": self.tempo_steps, "your_turn_visual": self.script.prompts.your_turn_visual},
        ))

    def score(self, plan: TrialPlan, child_events: Iterable[Any], *, prompt: str = "independent") -> TrialResult:
        times, notes = _child(child_events)
        times, notes = _in(times, notes, plan.child_start_s, plan.child_end_s)
        call = plan.cue_times("call")
        pitched = bool(plan.pattern.pitches) and all(n is not None for n in notes)
        result: ImitationResult = score_imitation(
            call, times,
            call_pitches=list(plan.pattern.pitches) if pitched else None,
            response_pitches=notes if pitched else None,
            call_end_s=plan.engine_end_s, window_s=self.window_s,
            tempo_invariant=self.tempo_invariant,
            require_pitch=pitched and self.require_pitch,
        )
        scores = result.to_dict()
        return TrialResult(plan, scores, result.correct, Trial(scores, prompt=prompt), result)


class TurnTaking(Kind):
    """Engine and child alternate; scored with :func:`~engine.scoring.turns.score_turn`.

    The engine plays its turn (a phrase: the script's phrases in order, round
    robin), hands over at the end of the phrase's bar (the ``your_turn``
    sound, and the visual prompt), and listens from the start of its turn
    until ``initiate_window_s + max_turn_s`` after the hand-over. The child's
    turn ends at a silence of ``turn_gap_s`` or after ``max_turn_s`` (the
    script's ``[turns]`` table: ``initiate_within_s`` 3 s, ``gap_s`` 1.5 s,
    ``max_s`` 10 s, ``grace_s`` 0.2 s by default). A runtime closes the
    window early once the child's turn is over, or once the child has not
    started within ``initiate_window_s`` (:meth:`close_s`).

    **The engine's answer.** If the child played a turn, the engine's next
    turn answers it: ``echo`` (the child's onsets quantised to the script's
    grid at the current tempo, at most 16 notes, the child's pitches on a
    keyboard), ``variation`` (the same intervals in reverse order) or
    ``next`` (the song's next phrase), taking the modes of ``answers``
    (``[turns] answers``, default all three) in that order turn by turn
    (with a seed, at random). If the child did not play, the engine
    plays the next phrase. Passing a trial means ``waited`` and ``initiated``;
    harder = faster and ``length_step`` more notes in the engine's phrase turns
    (a longer wait), easier the reverse.
    """

    kind = "turn_taking"
    ANSWERS: ClassVar[tuple[str, ...]] = SCRIPT_ANSWERS
    MAX_ECHO_NOTES: ClassVar[int] = 16

    def __init__(self, script: Script, *, seed: int | None = None, initiate_window_s: float = 3.0,
                 turn_gap_s: float = 1.5, max_turn_s: float = 10.0, grace_s: float = 0.2,
                 answers: Sequence[str] = ANSWERS) -> None:
        super().__init__(script, seed=seed)
        self.initiate_window_s = initiate_window_s
        self.turn_gap_s = turn_gap_s
        self.max_turn_s = max_turn_s
        self.grace_s = grace_s
        if not answers or any(a not in self.ANSWERS for a in answers):
            raise ConfigError(f"The answers must be some of {', '.join(self.ANSWERS)}, not {list(answers)}.")
        self.answers = tuple(answers)
        self.next_phrase = 0
        self.answers_given = 0
        self.pending: tuple[str, Pattern] | None = None
        meter_beats, unit = script.meter
        self.bar_beats = float(meter_beats)
        self.step_beats = unit / parse_grid(script.grid)

    def _bound(self) -> None:
        notes = [len(p.onsets_beats) for p in self.script.phrases]
        self.length_offset = min(max(notes), max(1 - min(notes), self.length_offset))

    def _answer_mode(self) -> str:
        if self.rng:
            return self.rng.choice(self.answers)
        return self.answers[self.answers_given % len(self.answers)]

    def next_trial(self, start_s: float) -> TrialPlan:
        tempo = self.tempo_bpm
        spb = 60.0 / tempo
        if self.pending is not None and self.pending[0] != "next":
            answer, pattern = self.pending
        else:
            answer = "next" if self.pending is not None else "phrase"
            base = self._phrase(self.next_phrase % len(self.script.phrases))
            self.next_phrase += 1
            pattern = resize(base, base.notes + self.length_offset)
        self.pending = None
        cues, pre = self._prelude(start_s, spb, count_in=self.plans_made == 0)
        cues += self._pattern_cues(pattern, start_s, pre, spb, "engine_turn")
        engine_start = start_s + (pre + pattern.onsets_beats[0]) * spb
        hand_over = start_s + (pre + pattern.length_beats) * spb
        cues += self._your_turn(hand_over)
        child_end = hand_over + self.initiate_window_s + self.max_turn_s
        return self._record(TrialPlan(
            index=self.trials_planned, kind=self.kind, phase="trial", start_s=start_s, end_s=child_end,
            tempo_bpm=tempo, pattern=pattern, cues=tuple(cues), engine_start_s=engine_start,
            engine_end_s=hand_over, child_start_s=engine_start, child_end_s=child_end,
            params={"pattern": pattern.name, "onsets_beats": list(pattern.onsets_beats),
                    "pitches": list(pattern.pitches), "answer": answer, "tempo_bpm": tempo,
                    "tempo_steps": self.tempo_steps, "your_turn_visual": self.script.prompts.your_turn_visual},
        ))

    def _quantise(self, times: Sequence[float], notes: Sequence[int | None], spb: float) -> Pattern | None:
        if not times:
            return None
        onsets: list[float] = []
        pitches: list[int] = []
        for t, n in zip(times, notes):
            b = round((t - times[0]) / spb / self.step_beats) * self.step_beats
            if onsets and b <= onsets[-1]:
                continue
            onsets.append(b)
            pitches.append(n)
            if len(onsets) >= self.MAX_ECHO_NOTES:
                break
        keep = all(p is not None for p in pitches)
        length = math.floor(onsets[-1] / self.bar_beats + 1) * self.bar_beats
        return Pattern("echo", tuple(onsets), tuple(pitches) if keep else (), length)

    def _grace(self, plan: TrialPlan) -> float:
        return min(self.grace_s, 0.25 * (plan.engine_end_s - plan.engine_start_s))

    def close_s(self, plan: TrialPlan, child_events: Iterable[Any], now_s: float) -> float:
        """The end of the child's turn once it is known by ``now_s``, else ``plan.child_end_s``.

        The child started (an onset from the hand-over's grace to
        ``initiate_window_s`` after it) and then was silent for ``turn_gap_s``
        → the last onset + ``turn_gap_s``; or its turn reached ``max_turn_s``
        → its first onset + ``max_turn_s``. The child did not start by the
        hand-over + ``initiate_window_s`` → that time. Scoring the events up
        to the returned time gives the scores of the whole window: these are
        the rules of :func:`~engine.scoring.turns.score_turn`.
        """
        times, _ = _child(child_events)
        times = [t for t in times if plan.engine_start_s <= t <= min(now_s, plan.child_end_s)]
        hand = plan.engine_end_s
        deadline = hand + self.initiate_window_s
        after = [t for t in times if hand - self._grace(plan) <= t <= deadline]
        if not after:
            return min(deadline, plan.child_end_s) if now_s >= deadline else plan.child_end_s
        first = last = after[0]
        cap = first + self.max_turn_s
        for t in times:
            if t <= first:
                continue
            if t - last > self.turn_gap_s or t >= cap:
                break
            last = t
        end = min(last + self.turn_gap_s, cap, plan.child_end_s)
        return end if now_s >= end else plan.child_end_s

    def score(self, plan: TrialPlan, child_events: Iterable[Any], *, prompt: str = "independent") -> TrialResult:
        times, notes = _child(child_events)
        times, notes = _in(times, notes, plan.engine_start_s, plan.child_end_s)
        result: TurnResult = score_turn(
            plan.engine_start_s, plan.engine_end_s, times, grace_s=self._grace(plan),
            initiate_window_s=self.initiate_window_s, turn_gap_s=self.turn_gap_s, max_turn_s=self.max_turn_s,
        )
        answer = None
        if result.initiated:
            first = plan.engine_end_s + result.initiation_latency_ms / 1000.0
            i = next(k for k, t in enumerate(times) if t >= first - 1e-9)
            echo = self._quantise(times[i:i + result.turn_length_notes], notes[i:i + result.turn_length_notes],
                                  60.0 / plan.tempo_bpm)
            answer = echo
        scores = result.to_dict()
        correct = result.waited is True and result.initiated
        return TrialResult(plan, scores, correct, Trial(scores, prompt=prompt), result, answer)

    def adapt(self, result: TrialResult) -> None:
        """The script's rules, then the engine's answer to the child's turn for the next plan."""
        super().adapt(result)
        if result.answer is None:
            self.pending = None
            return
        mode = self._answer_mode()
        self.answers_given += 1
        echo = result.answer
        if mode == "variation" and echo.notes >= 2:
            iois = [b - a for a, b in itertools.pairwise(echo.onsets_beats)][::-1]
            onsets = [0.0]
            for d in iois:
                onsets.append(onsets[-1] + d)
            echo = Pattern("variation", tuple(onsets), echo.pitches[::-1], echo.length_beats)
        self.pending = (mode, echo)


class RhythmicCueing(Kind):
    """A steady beat to tap or step with (RAS/TIMP), scored per bar with :mod:`engine.scoring.sync`.

    **Free play** (the script's ``[cueing] free_play_s`` above 0; keyword
    options ``free_play=True`` and ``free_play_s``): the first plan has no
    beat, only a window of ``free_play_s`` seconds; the child's own tempo is 60 / the median
    inter-tap interval of at least ``min_free_taps`` (8) taps, kept within the
    script's tempo bounds. Cueing then starts there (with fewer taps, at the
    script's tempo). Free play is a phase, not a trial.

    **Cueing**: each trial is one pass of the phrase (one bar of ``xxxx``),
    played back to back; the count-in (and lead-in) comes before the first
    bar only. Beats are ``anchor + k * 60 / tempo`` from the start of the run
    at that tempo, so consecutive bars never accumulate rounding. A bar is
    *entrained* when its share of beats hit within ±``window_ms`` (``[cueing]
    window_ms``, 80) is at least ``criterion_pct`` (``[cueing] entrain_pct``,
    else the threshold of the script's ``within_window_pct`` objective, else
    70); ``up_after`` entrained bars
    in a row (that many bars' beats) step the tempo up by ``tempo_step_pct``,
    ``down_after`` bars not entrained step it down. A bar that cannot be
    scored (too few taps) counts as not entrained.

    **A song** (``[cueing] song = "file.mid"``, keyword ``song``: its path):
    the song's notes replace the phrase. The file must keep one tempo; it is
    played at the current tempo (its beat = ``tempo_bpm``, then the adapted
    tempo: the file's tempo map scaled), one bar per trial (bars of the
    script's meter from the file's beat 0), the next bar each trial, from
    the start again after the last. Its notes are cues of role ``song`` whose
    sound is :func:`~engine.midi.playback.note_sound` of the note as held at
    the script's tempo (see :func:`~engine.interventions.script.load_cueing_song`).
    The child taps the beat: a bar is scored against its beat grid (every
    beat of the bar, a note on it or not; ``params["beats_s"]``).

    **Synchronisation–continuation** (``[cueing] continuation_beats`` N above
    0, the paradigm of Wing & Kristofferson 1973 and Repp 2005): each trial
    is a synchronisation part of ``sync_bars`` bars (default 2; the phrase
    repeated over them, or that many bars of the song), then N silent beats
    in which the child keeps tapping on its own; the next trial starts on
    the beat after them (the logical grid goes on, so a child who kept the
    tempo is on the next trial's first cue). The synchronisation part is
    scored with :func:`~engine.scoring.sync.summarize` against its cues (the
    phrase's notes; a song's beat grid), from half a beat before its first
    cue to half a beat after its last; the whole window (up to half a beat
    before the next trial) with
    :func:`~engine.scoring.continuation.score_continuation` on the same cues
    (it keeps the taps later than the last cue plus half the paced
    interval). The scores hold both, the continuation's under
    :func:`~engine.interventions.script.continuation_key` (``continuation_iti_cv``,
    ``drift_pct_per_interval``, ...). A trial whose synchronisation part
    cannot be scored is unscorable for every objective (without the tempo,
    its continuation means nothing). **Adaptation** follows the
    synchronisation part only: a trial is *correct* when that part is
    entrained, and the script's rules step the tempo as above; the
    continuation figures are measured for the objectives, never used to
    change the difficulty (a child who cannot keep going alone is not
    given a different tempo to keep).

    ``params`` of every cueing plan: ``beats_s`` (the cues scored), and with
    continuation ``sync_end_s``, ``continuation_beats_s`` (the silent
    beats), with a song ``song`` (the file's name) and ``song_bars`` (1-based).
    """

    kind = "rhythmic_cueing"

    def __init__(self, script: Script, *, seed: int | None = None, free_play: bool = False,
                 free_play_s: float = 20.0, min_free_taps: int = 8, window_ms: float = 80.0,
                 criterion_pct: float | None = None, continuation_beats: int = 0,
                 sync_bars: int = DEFAULT_SYNC_BARS, song: str | Path | None = None) -> None:
        super().__init__(script, seed=seed)
        self.free_play = free_play
        self.free_play_s = free_play_s
        self.min_free_taps = min_free_taps
        self.window_ms = window_ms
        if criterion_pct is None:
            criterion_pct = next((float(o.threshold) for o in script.objectives
                                  if o.metric == "within_window_pct"), 70.0)
        self.criterion_pct = criterion_pct
        if isinstance(continuation_beats, bool) or int(continuation_beats) != continuation_beats or not (
                continuation_beats == 0 or CONTINUATION_BEATS[0] <= continuation_beats <= CONTINUATION_BEATS[1]):
            raise ConfigError(f"continuation_beats must be 0 (off) or a whole number from {CONTINUATION_BEATS[0]} "
                              f"to {CONTINUATION_BEATS[1]}, not {continuation_beats!r}.")
        if isinstance(sync_bars, bool) or int(sync_bars) != sync_bars or not SYNC_BARS[0] <= sync_bars <= SYNC_BARS[1]:
            raise ConfigError(f"sync_bars must be a whole number from {SYNC_BARS[0]} to {SYNC_BARS[1]}, "
                              f"not {sync_bars!r}.")
        self.continuation_beats = int(continuation_beats)
        self.sync_bars = int(sync_bars)
        self.song: CueingSong | None = None
        if song is not None:
            try:
                self.song = load_cueing_song(song, script.tempo_bpm)
            except ConfigError as exc:
                raise ConfigError(f"{script.path}: [cueing] song {exc}.") from None
        elif not script.phrases:
            raise ConfigError(f"{script.path}: a rhythmic_cueing script needs [[phrases]] or a [cueing] song.")
        self.free_tempo_bpm: float | None = None
        self.free_play_done = not free_play
        self.meter_beats = script.meter[0]
        self.song_bar = 0  # the song's next bar (0-based)
        self._anchor: tuple[float, float, float] | None = None  # (anchor_s, beats since it, tempo)
        self._last_child_end: float | None = None

    @property
    def in_free_play(self) -> bool:
        return not self.free_play_done

    @property
    def continuation(self) -> bool:
        """Whether trials end with continuation beats (the synchronisation–continuation variant)."""
        return self.continuation_beats > 0

    @property
    def song_bars(self) -> int:
        """The song's length in bars of the script's meter (at least 1)."""
        if self.song is None:
            return 0
        return max(1, math.ceil(self.song.length_beats / self.meter_beats - 1e-9))

    def harder(self) -> None:
        self._step_tempo(+1)

    def easier(self) -> None:
        self._step_tempo(-1)

    def _material(self) -> tuple[Pattern, list[tuple[float, str, str, int | None]], list[float], dict[str, Any]]:
        """This trial's synchronisation part, from its first beat: the pattern, its sounding notes
        (beat, role, sound, note), the beats scored, and params."""
        bars = self.sync_bars if self.continuation else 1
        if self.song is not None:
            bar_beats = self.meter_beats
            n = self.song_bars
            notes: list[tuple[float, str, str, int | None]] = []
            which = []
            for i in range(bars):
                b = (self.song_bar + i) % n
                which.append(b + 1)
                lo, hi = b * bar_beats, (b + 1) * bar_beats
                notes += [(i * bar_beats + (sn.beat - lo), "song", sn.sound, sn.note)
                          for sn in self.song.notes if lo <= sn.beat < hi]
            self.song_bar = (self.song_bar + bars) % n
            length = float(bars * bar_beats)
            grid = [float(k) for k in range(int(length))]
            onsets = tuple(b for b, *_ in notes)
            name = f"{self.song.path.name} bar{'s' if bars > 1 else ''} {', '.join(map(str, which))}"
            pattern = Pattern(name, onsets, (), length)
            return pattern, notes, grid, {"song": self.song.path.name, "song_bars": which}
        phrase = self._phrase(self.trials_planned % len(self.script.phrases))
        sound = self.script.instruments.cue
        if not self.continuation:
            pattern = phrase
        else:
            length = float(bars * self.meter_beats)
            onsets: list[float] = []
            pitches: list[int] = []
            for k in itertools.count():
                b = (k // phrase.notes) * phrase.length_beats + phrase.onsets_beats[k % phrase.notes]
                if b >= length:
                    break
                onsets.append(b)
                if phrase.pitches:
                    pitches.append(phrase.pitches[k % phrase.notes])
            pattern = Pattern(f"{phrase.name} ({bars} bars)", tuple(onsets), tuple(pitches), length)
        notes = [(b, "downbeat" if b % self.meter_beats == 0 else "beat", sound,
                  pattern.pitches[i] if pattern.pitches else None) for i, b in enumerate(pattern.onsets_beats)]
        return pattern, notes, list(pattern.onsets_beats), {}

    def next_trial(self, start_s: float) -> TrialPlan:
        if self.in_free_play and self.plans_made == 0:
            cues = self._your_turn(start_s)
            return self._record(TrialPlan(
                index=0, kind=self.kind, phase="free_play", start_s=start_s, end_s=start_s + self.free_play_s,
                tempo_bpm=self.tempo_bpm, pattern=None, cues=tuple(cues), engine_start_s=None,
                engine_end_s=None, child_start_s=start_s, child_end_s=start_s + self.free_play_s,
                params={"phase": "free_play", "min_taps": self.min_free_taps},
            ))
        self.free_play_done = True
        tempo = self.tempo_bpm
        spb = 60.0 / tempo
        pattern, notes, scored, extra = self._material()
        if self._anchor is not None and self._anchor[2] == tempo and start_s == self.planned_until_s:
            anchor_s, first_beat = self._anchor[0], self._anchor[1]
            cues: list[Cue] = []
        else:
            cues, pre = self._prelude(start_s, spb, count_in=self.trials_planned == 0)
            anchor_s, first_beat = start_s, pre
        for i, (b, role, sound, note) in enumerate(notes):
            cues.append(Cue(anchor_s + (first_beat + b) * spb, role, sound, note, i))
        beats_s = [anchor_s + (first_beat + b) * spb for b in scored]
        end_beat = first_beat + pattern.length_beats + self.continuation_beats
        self._anchor = (anchor_s, end_beat, tempo)
        end_s = anchor_s + end_beat * spb
        # The child's window: half a beat around the bar's beats, half-open and never before the
        # previous bar's window ended, so bars never share a tap (also when the tempo steps down).
        child_start = beats_s[0] - 0.5 * spb
        if self._last_child_end is not None and start_s == self.planned_until_s:
            child_start = max(child_start, self._last_child_end)
        sync_end = beats_s[-1] + 0.5 * spb
        params = {"pattern": pattern.name, "tempo_bpm": tempo, "tempo_steps": self.tempo_steps,
                  "criterion_pct": self.criterion_pct, "window_ms": self.window_ms, "beats_s": beats_s, **extra}
        if self.continuation:
            # Up to half a beat before the next trial's first beat (the logical grid goes on).
            child_end = end_s - 0.5 * spb
            params.update(continuation_beats=self.continuation_beats, sync_bars=self.sync_bars, sync_end_s=sync_end,
                          continuation_beats_s=[anchor_s + (first_beat + pattern.length_beats + j) * spb
                                                for j in range(self.continuation_beats)])
        else:
            child_end = sync_end
        self._last_child_end = child_end
        return self._record(TrialPlan(
            index=self.trials_planned, kind=self.kind, phase="trial", start_s=start_s, end_s=end_s,
            tempo_bpm=tempo, pattern=pattern, cues=tuple(cues), engine_start_s=beats_s[0],
            engine_end_s=beats_s[-1], child_start_s=child_start, child_end_s=child_end, params=params,
        ))

    def score(self, plan: TrialPlan, child_events: Iterable[Any], *, prompt: str = "independent") -> TrialResult:
        times, notes = _child(child_events)
        if plan.phase == "free_play":
            times, _ = _in(times, notes, plan.child_start_s, plan.child_end_s)
            tempo = None
            if len(times) >= self.min_free_taps:
                median = statistics.median(b - a for a, b in itertools.pairwise(times))
                tempo = 60.0 / median
                if self.adaptation is not None:
                    tempo = min(self.adaptation.max_tempo_bpm, max(self.adaptation.min_tempo_bpm, tempo))
            scores = {"free_play_taps": len(times), "free_tempo_bpm": tempo, "scorable": tempo is not None}
            return TrialResult(plan, scores, None, None, None)
        cues = plan.params.get("beats_s") or plan.cue_times("downbeat", "beat")
        window, _ = _in(times, notes, plan.child_start_s, plan.child_end_s, closed=False)
        sync_end = plan.params.get("sync_end_s", plan.child_end_s)
        sync_taps = [t for t in window if t < sync_end]
        matches = match_taps(cues, sync_taps)
        summary = summarize(matches, len(sync_taps), window_ms=self.window_ms, tap_s=sync_taps)
        scores = summary.to_dict()
        correct = bool(summary.scorable and summary.within_window_pct >= self.criterion_pct)
        detail: Any = summary
        if plan.params.get("continuation_beats"):
            cont: ContinuationResult = score_continuation(cues, window)
            scores.update({continuation_key(k): v for k, v in cont.to_dict().items()})
            detail = (summary, cont)
        return TrialResult(plan, scores, correct, Trial(scores, prompt=prompt), detail)

    def adapt(self, result: TrialResult) -> None:
        """Free play: start cueing at the child's tempo. A bar: the script's rules (entrainment)."""
        if result.plan.phase == "free_play":
            self.history.append(result)
            tempo = result.scores.get("free_tempo_bpm")
            if tempo is not None:
                self.free_tempo_bpm = tempo
                self.base_tempo_bpm = tempo
                self.tempo_steps = 0
            self.free_play_done = True
            return
        super().adapt(result)


def _span(value: Any) -> tuple[Any, Any]:
    """A number or a (low, high) pair as (low, high)."""
    if isinstance(value, (tuple, list)):
        return value[0], value[-1]
    return value, value


class StopAndGo(Kind):
    """Play while the music plays, freeze when it stops (impulse control); scored with
    :func:`~engine.scoring.inhibition.score_stop`.

    Each trial is a **go** span and a **stop** span. Go: the script's
    phrase (round robin over the phrases; with a seed, a random one) is
    played over and over for ``go_bars`` bars (cues of role ``go``), the
    count-in and lead-in before the first trial only. The music stops where
    its next note would have sounded (``params["stop_at_s"]``: a phrase
    that starts on the beat stops at the end of its last bar); the child
    must freeze for ``stop_s`` seconds; the next trial's music starts at the
    end of the stop (the plan's end).

    ``go_bars`` (``[stop_and_go] go_bars``, default 2 to 4 bars) is drawn
    at random from its range with a seed; without one it steps through the
    range in order (2, 3, 4, 2, ...), so a session is the same every time.
    ``stop_s`` (default 3 s; a range is drawn likewise, its middle without a
    seed). The child's window runs from half a beat before the first go
    note to the end of the stop; ``grace_ms`` (400) after the stop is
    forgiven reaction time (see :mod:`engine.scoring.inhibition`).

    Passing a trial means ``stopped`` and ``played_during_go``. **Harder** =
    one tempo step faster (``tempo_step_pct``) and the go span's lower bound
    one bar shorter (down to 1 bar): go spans get shorter and less
    predictable, since the range widens; **easier** = one step slower and
    the lower bound one bar back towards the script's (never beyond it).
    ``length_step`` does not apply.
    """

    kind = "stop_and_go"
    DEFAULT_GO_BARS: ClassVar[tuple[int, int]] = (2, 4)
    DEFAULT_STOP_S: ClassVar[float] = 3.0
    MIN_GO_BARS: ClassVar[int] = 1

    def __init__(self, script: Script, *, seed: int | None = None, go_bars: Any = DEFAULT_GO_BARS,
                 stop_s: Any = DEFAULT_STOP_S, grace_ms: float = STOP_GRACE_MS) -> None:
        super().__init__(script, seed=seed)
        lo, hi = (int(v) for v in _span(go_bars))
        s_lo, s_hi = (float(v) for v in _span(stop_s))
        if not self.MIN_GO_BARS <= lo <= hi or not 0 < s_lo <= s_hi:
            raise ConfigError(f"go_bars must be a range of at least {self.MIN_GO_BARS} bar and stop_s a range "
                              f"of positive seconds, not {go_bars!r} and {stop_s!r}.")
        if not grace_ms / 1000.0 < s_lo:
            raise ConfigError(f"The grace ({grace_ms:g} ms) must be shorter than the shortest stop ({s_lo:g} s).")
        self.go_bars = (lo, hi)
        self.stop_range_s = (s_lo, s_hi)
        self.grace_ms = float(grace_ms)
        self.shorten = 0  # bars taken off the go span's lower bound by adaptation
        self.spans_drawn = 0
        self.bar_beats = float(script.meter[0])

    @property
    def go_range(self) -> tuple[int, int]:
        """The go span's range in bars now (the script's, its lower bound shortened by adaptation)."""
        lo, hi = self.go_bars
        return max(self.MIN_GO_BARS, lo - self.shorten), hi

    def harder(self) -> None:
        self._step_tempo(+1)
        if self.go_range[0] > self.MIN_GO_BARS:
            self.shorten += 1

    def easier(self) -> None:
        self._step_tempo(-1)
        self.shorten = max(0, self.shorten - 1)

    def _draw(self) -> tuple[int, float]:
        lo, hi = self.go_range
        s_lo, s_hi = self.stop_range_s
        if self.rng:
            bars = self.rng.randint(lo, hi)
            stop = self.rng.uniform(s_lo, s_hi) if s_hi > s_lo else s_lo
        else:
            bars = lo + self.spans_drawn % (hi - lo + 1)
            stop = 0.5 * (s_lo + s_hi)
        self.spans_drawn += 1
        return bars, stop

    def next_trial(self, start_s: float) -> TrialPlan:
        tempo = self.tempo_bpm
        spb = 60.0 / tempo
        n = len(self.script.phrases)
        phrase = self._phrase(self.rng.randrange(n) if self.rng else self.trials_planned % n)
        bars, stop_span = self._draw()
        go_beats = bars * self.bar_beats
        # The phrase over and over: its onsets in the go span (at least one), and the first one after it.
        repeated = ((k // phrase.notes) * phrase.length_beats + phrase.onsets_beats[k % phrase.notes]
                    for k in itertools.count())
        onsets: list[float] = []
        pitches: list[int] = []
        for k, b in enumerate(repeated):
            if b >= go_beats and onsets:
                stop_beat = b
                break
            onsets.append(b)
            if phrase.pitches:
                pitches.append(phrase.pitches[k % phrase.notes])
        pattern = Pattern(f"{phrase.name} ({bars} bars)", tuple(onsets), tuple(pitches), go_beats)
        cues, pre = self._prelude(start_s, spb, count_in=self.plans_made == 0)
        cues += self._pattern_cues(pattern, start_s, pre, spb, "go")
        first_go = start_s + (pre + onsets[0]) * spb
        stop_at = start_s + (pre + stop_beat) * spb
        stop_end = stop_at + stop_span
        child_start = max(start_s, first_go - 0.5 * spb)
        # The notes the music would have played in the stop (for a simulated child that keeps going).
        would_be = []
        for k in itertools.count(len(onsets)):
            t = start_s + (pre + (k // phrase.notes) * phrase.length_beats
                           + phrase.onsets_beats[k % phrase.notes]) * spb
            if t >= stop_end:
                break
            would_be.append(t)
        return self._record(TrialPlan(
            index=self.trials_planned, kind=self.kind, phase="trial", start_s=start_s, end_s=stop_end,
            tempo_bpm=tempo, pattern=pattern, cues=tuple(cues), engine_start_s=first_go,
            engine_end_s=start_s + (pre + go_beats) * spb, child_start_s=child_start, child_end_s=stop_end,
            params={"pattern": phrase.name, "go_bars": bars, "go_range_bars": list(self.go_range),
                    "stop_at_s": stop_at, "stop_end_s": stop_end, "stop_span_s": stop_span,
                    "stopped_notes_s": would_be, "grace_ms": self.grace_ms, "tempo_bpm": tempo,
                    "tempo_steps": self.tempo_steps},
        ))

    def score(self, plan: TrialPlan, child_events: Iterable[Any], *, prompt: str = "independent") -> TrialResult:
        times, notes = _child(child_events)
        times, _ = _in(times, notes, plan.child_start_s, plan.child_end_s, closed=False)
        result: StopResult = score_stop(plan.child_start_s, plan.params["stop_at_s"], plan.child_end_s, times,
                                        grace_ms=self.grace_ms)
        scores = result.to_dict()
        return TrialResult(plan, scores, result.correct, Trial(scores, prompt=prompt), result)


class FillInTheBlank(Kind):
    """The engine plays a phrase with one note left out; the child sings or plays it; scored with
    :func:`~engine.scoring.blanks.score_blank`.

    Each trial: count-in (every trial; the lead-in before the first), then
    one phrase (round robin; with a seed, a random one) with its blank note
    (``[[phrases]] blank``, default the last) left out: cues of role
    ``phrase`` for the other notes, no sound at the blank (the silence is
    the prompt; ``your_turn_visual`` is in the params for a screen). The
    blank's time is ``params["blank_s"]``. The child's window runs from half
    a beat before the phrase's first note to the end of the phrase (or the
    end of the fill window, if that is later); the fill window is
    ±``window_beats`` (``[fill_in_the_blank] window_beats``, default half a
    beat) around the blank. Every other onset in the child's window is an
    extra (a child who sings along has extras, and still fills the blank).

    Passing a trial means ``filled``. **Harder** = one tempo step faster,
    **easier** one slower; ``length_step`` does not apply.
    """

    kind = "fill_in_the_blank"
    count_in_every_trial = True

    def __init__(self, script: Script, *, seed: int | None = None,
                 window_beats: float = DEFAULT_WINDOW_BEATS) -> None:
        super().__init__(script, seed=seed)
        if not 0 < window_beats <= DEFAULT_WINDOW_BEATS:
            raise ConfigError(f"window_beats must be above 0 and at most {DEFAULT_WINDOW_BEATS:g}, "
                              f"not {window_beats!r}.")
        self.window_beats = float(window_beats)

    def harder(self) -> None:
        self._step_tempo(+1)

    def easier(self) -> None:
        self._step_tempo(-1)

    def next_trial(self, start_s: float) -> TrialPlan:
        tempo = self.tempo_bpm
        spb = 60.0 / tempo
        n = len(self.script.phrases)
        i = self.rng.randrange(n) if self.rng else self.trials_planned % n
        written = self.script.phrases[i]
        blank = written.blank if written.blank is not None else len(written.onsets_beats) - 1
        pattern = self._phrase(i)
        cues, pre = self._prelude(start_s, spb, count_in=True)
        sound = self.script.instruments.cue
        for j, b in enumerate(pattern.onsets_beats):
            if j != blank:
                cues.append(Cue(start_s + (pre + b) * spb, "phrase", sound,
                                pattern.pitches[j] if pattern.pitches else None, j))
        first = start_s + (pre + pattern.onsets_beats[0]) * spb
        blank_s = start_s + (pre + pattern.onsets_beats[blank]) * spb
        phrase_end = start_s + (pre + pattern.length_beats) * spb
        window_s = self.window_beats * spb
        child_start = max(start_s, first - 0.5 * spb)
        child_end = max(phrase_end, blank_s + window_s)
        return self._record(TrialPlan(
            index=self.trials_planned, kind=self.kind, phase="trial", start_s=start_s, end_s=child_end,
            tempo_bpm=tempo, pattern=pattern, cues=tuple(cues), engine_start_s=first, engine_end_s=phrase_end,
            child_start_s=child_start, child_end_s=child_end,
            params={"pattern": pattern.name, "blank": blank + 1, "blank_s": blank_s,
                    "blank_pitch": pattern.pitches[blank] if pattern.pitches else None,
                    "window_ms": window_s * 1000.0, "tempo_bpm": tempo, "tempo_steps": self.tempo_steps,
                    "your_turn_visual": self.script.prompts.your_turn_visual},
        ))

    def score(self, plan: TrialPlan, child_events: Iterable[Any], *, prompt: str = "independent") -> TrialResult:
        times, notes = _child(child_events)
        times, _ = _in(times, notes, plan.child_start_s, plan.child_end_s)
        result: BlankResult = score_blank(plan.params["blank_s"], times, window_ms=plan.params["window_ms"])
        scores = result.to_dict()
        return TrialResult(plan, scores, result.correct, Trial(scores, prompt=prompt), result)


KIND_CLASSES: dict[str, type[Kind]] = {
    "call_and_response": CallAndResponse,
    "turn_taking": TurnTaking,
    "rhythmic_cueing": RhythmicCueing,
    "stop_and_go": StopAndGo,
    "fill_in_the_blank": FillInTheBlank,
}


def make_kind(script: Script, *, seed: int | None = None, **options: Any) -> Kind:
    """The kind a script names, built from it (its kind table's settings, then ``options``).

    Raises
    ------
    ConfigError
        For a kind that is not built yet, as one sentence (every kind of
        :data:`~engine.interventions.script.KINDS` is built now).
    """
    cls = KIND_CLASSES.get(script.kind)
    if cls is None:
        raise ConfigError(f"{script.path}: kind '{script.kind}' cannot be run yet; the kinds that run are "
                          f"{', '.join(KIND_CLASSES)}.")
    return cls.from_script(script, seed=seed, **options)
