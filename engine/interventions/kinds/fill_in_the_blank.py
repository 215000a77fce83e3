"""Fill-in-the-blank: the music leaves out a beat and the child sings or plays it (:mod:`engine.scoring.blanks`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from engine.errors import ConfigError
from engine.interventions.kinds.base import (
    Cue,
    Kind,
    TrialPlan,
    TrialResult,
    in_window,
    level_scores,
    times_and_notes,
)
from engine.interventions.script import (
    Script,
)
from engine.scoring.blanks import DEFAULT_WINDOW_BEATS, BlankResult, score_blank
from engine.scoring.objectives import NOT_RECORDED, Trial

__all__ = ["FillInTheBlank"]


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

    def score(self, plan: TrialPlan, child_events: Iterable[Any], *, prompt: str = NOT_RECORDED) -> TrialResult:
        times, notes = times_and_notes(child_events)
        times, _ = in_window(times, notes, plan.child_start_s, plan.child_end_s)
        result: BlankResult = score_blank(plan.params["blank_s"], times, window_ms=plan.params["window_ms"])
        scores = result.to_dict() | level_scores(plan)  # the difficulty, for an objective's level
        return TrialResult(plan, scores, result.correct, Trial(scores, prompt=prompt), result)
