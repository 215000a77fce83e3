"""Turn-taking: engine and child alternate; the child waits, then starts within a window after the hand-over (:mod:`engine.scoring.turns`)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from engine.errors import ConfigError
from engine.interventions.kinds.base import (
    Kind,
    Pattern,
    TrialPlan,
    TrialResult,
    in_window,
    level_scores,
    resize,
    times_and_notes,
)
from engine.interventions.notation import parse_grid
from engine.interventions.script import ANSWERS as SCRIPT_ANSWERS
from engine.interventions.script import (
    Script,
)
from engine.scoring.objectives import NOT_RECORDED, Trial
from engine.scoring.turns import TurnResult, score_turn

__all__ = ["TurnTaking"]


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

    **The engine's answer.** If the child took a turn (it waited through the
    engine's turn, then played), the engine's next turn answers it: ``echo``
    (the child's onsets quantised to the script's grid at the current tempo,
    at most 16 notes, the child's pitches on a keyboard), ``variation`` (the
    same intervals in reverse order) or ``next`` (the song's next phrase),
    taking the modes of ``answers`` (``[turns] answers``, default all three)
    in that order turn by turn (with a seed, at random). If the child did
    not take a turn (silent, or it played over the engine's turn: that
    playing is not answered, so interrupting is not rewarded), the engine
    plays the next phrase. Passing a trial means ``initiated``, which
    includes ``waited`` (``docs/definitions.md``); harder = faster and
    ``length_step`` more notes in the engine's phrase turns (a longer wait),
    easier the reverse.
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
        the rules of :func:`~engine.scoring.turns.score_turn`. A child who
        played during the engine's turn is not credited with a turn, but its
        playing after the hand-over closes the window the same way.
        """
        times, _ = times_and_notes(child_events)
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

    def score(self, plan: TrialPlan, child_events: Iterable[Any], *, prompt: str = NOT_RECORDED) -> TrialResult:
        times, notes = times_and_notes(child_events)
        times, notes = in_window(times, notes, plan.engine_start_s, plan.child_end_s)
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
        scores = result.to_dict() | level_scores(plan)  # the difficulty, for an objective's level
        correct = result.initiated  # initiated only after a wait (score_turn); silent → False
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
