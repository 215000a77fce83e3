"""Call-and-response: the engine plays a phrase, the child echoes it (scored with :mod:`engine.scoring.imitation`)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, ClassVar

from engine.interventions.kinds.base import (
    Cue,
    Kind,
    Pattern,
    TrialPlan,
    TrialResult,
    in_window,
    level_scores,
    resize,
    times_and_notes,
)
from engine.interventions.script import (
    Script,
)
from engine.scoring.imitation import ImitationResult, score_imitation
from engine.scoring.objectives import NOT_RECORDED, Trial

__all__ = ["CallAndResponse"]


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

    def score(self, plan: TrialPlan, child_events: Iterable[Any], *, prompt: str = NOT_RECORDED) -> TrialResult:
        times, notes = times_and_notes(child_events)
        times, notes = in_window(times, notes, plan.child_start_s, plan.child_end_s)
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
        scores = result.to_dict() | level_scores(plan)  # the difficulty, for an objective's level
        return TrialResult(plan, scores, result.correct, Trial(scores, prompt=prompt), result)
