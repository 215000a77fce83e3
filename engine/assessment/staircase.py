"""The up-down staircase of the imitation tasks: pattern length in notes, one step per trial.

A 1-up/1-down staircase (Levitt 1971, *J. Acoust. Soc. Am.* 49:467–477):
after a correct echo the next pattern is one note longer, after an
incorrect one (no echo included) one note shorter, within ``lo``..``hi``.
It converges on the length the child echoes correctly half of the time.

The battery does not step the length itself: the call-and-response kind
does (``[adapt] up_after = 1``, ``down_after = 1``, ``length_step = 1``,
``tempo_step_pct = 0``; :class:`engine.interventions.kinds.CallAndResponse`
keeps the length within 1 .. twice its longest phrase), so a session log
re-scores exactly as every session does. This class is the same rule on
its own: it says when the staircase has seen enough (:attr:`Staircase.done`),
predicts the levels from the answers (tests check the kind against it) and
turns the levels and answers into the span.

**Reversal**: a trial whose answer differs from the one before (the track
turns); its level is the *reversal level*. **Stop**: ``max_reversals``
reversals, ``max_trials`` trials, ``ceiling_passes`` correct echoes at
``hi`` (nothing longer to try) or ``floor_misses`` misses at ``lo``.

**Span** (:meth:`Staircase.span`): the mean of the reversal levels when
there are at least ``min_reversals_for_mean`` of them (the track has
settled around the child's span); otherwise the longest length echoed
correctly (a track that went up to the ceiling, or too short to settle);
None when nothing was echoed correctly. :meth:`Staircase.span_rule` says
which rule gave it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["Staircase"]


@dataclass
class Staircase:
    """A 1-up/1-down staircase over pattern length (see the module docstring).

    Parameters
    ----------
    start, lo, hi : int
        First level and bounds, in notes per pattern.
    max_reversals, max_trials, ceiling_passes, floor_misses : int
        When it stops (see the module docstring).
    min_reversals_for_mean : int
        Reversals needed for the span to be their mean.
    """

    start: int = 2
    lo: int = 1
    hi: int = 8
    max_reversals: int = 6
    max_trials: int = 14
    ceiling_passes: int = 2
    floor_misses: int = 2
    min_reversals_for_mean: int = 4
    levels: list[int] = field(default_factory=list)
    answers: list[bool] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not 1 <= self.lo <= self.start <= self.hi:
            raise ValueError(f"the staircase needs 1 <= lo <= start <= hi, not {self.lo}, {self.start}, {self.hi}")

    @property
    def level(self) -> int:
        """The level of the next trial."""
        if not self.levels:
            return self.start
        last = self.levels[-1]
        return min(self.hi, last + 1) if self.answers[-1] else max(self.lo, last - 1)

    def record(self, correct: bool, level: int | None = None) -> None:
        """One trial's answer at ``level`` (default: :attr:`level`, the level the rule predicts)."""
        self.levels.append(self.level if level is None else int(level))
        self.answers.append(bool(correct))

    @classmethod
    def replay(cls, answers: Iterable[bool], levels: Iterable[int] | None = None, **settings: int) -> Staircase:
        """A staircase fed ``answers`` (and the ``levels`` they were given at, default: the rule's)."""
        s = cls(**settings)
        lv = list(levels) if levels is not None else None
        for i, a in enumerate(answers):
            s.record(a, None if lv is None else lv[i])
        return s

    @property
    def reversals(self) -> list[int]:
        """Indices (0-based) of the trials that are reversals."""
        return [i for i in range(1, len(self.answers)) if self.answers[i] != self.answers[i - 1]]

    @property
    def reversal_levels(self) -> list[int]:
        return [self.levels[i] for i in self.reversals]

    def _run_at(self, level: int, answer: bool) -> int:
        n = 0
        for lv, a in zip(reversed(self.levels), reversed(self.answers)):
            if lv != level or a != answer:
                break
            n += 1
        return n

    @property
    def stop_reason(self) -> str | None:
        """Why the staircase has seen enough (one phrase), or None while it goes on."""
        if len(self.reversals) >= self.max_reversals:
            return f"{self.max_reversals} reversals"
        if self._run_at(self.hi, True) >= self.ceiling_passes:
            return f"{self.ceiling_passes} correct echoes at the longest pattern ({_notes(self.hi)})"
        if self._run_at(self.lo, False) >= self.floor_misses:
            return f"{self.floor_misses} misses at the shortest pattern ({_notes(self.lo)})"
        if len(self.answers) >= self.max_trials:
            return f"the trial limit ({self.max_trials})"
        return None

    @property
    def done(self) -> bool:
        return self.stop_reason is not None

    def span_rule(self) -> str | None:
        """``"reversal_mean"``, ``"longest_passed"`` or None (nothing passed), as :meth:`span` uses."""
        if len(self.reversals) >= self.min_reversals_for_mean:
            return "reversal_mean"
        return "longest_passed" if any(self.answers) else None

    def span(self) -> float | None:
        """The span in notes (see the module docstring)."""
        rule = self.span_rule()
        if rule == "reversal_mean":
            rl = self.reversal_levels
            return sum(rl) / len(rl)
        if rule == "longest_passed":
            return float(max(lv for lv, a in zip(self.levels, self.answers) if a))
        return None


def _notes(n: int) -> str:
    return f"{n} note" if n == 1 else f"{n} notes"
