"""Stop-and-go: play while the music plays, freeze when it stops (:mod:`engine.scoring.inhibition`)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any, ClassVar

from engine.errors import ConfigError
from engine.interventions.kinds.base import (
    Kind,
    Pattern,
    TrialPlan,
    TrialResult,
    in_window,
    level_scores,
    times_and_notes,
)
from engine.interventions.script import (
    Script,
)
from engine.scoring.inhibition import STOP_GRACE_MS, StopResult, score_stop
from engine.scoring.objectives import NOT_RECORDED, Trial

__all__ = ["StopAndGo"]


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

    def score(self, plan: TrialPlan, child_events: Iterable[Any], *, prompt: str = NOT_RECORDED) -> TrialResult:
        times, notes = times_and_notes(child_events)
        times, _ = in_window(times, notes, plan.child_start_s, plan.child_end_s, closed=False)
        result: StopResult = score_stop(plan.child_start_s, plan.params["stop_at_s"], plan.child_end_s, times,
                                        grace_ms=self.grace_ms)
        scores = result.to_dict() | level_scores(plan)  # the difficulty, for an objective's level
        return TrialResult(plan, scores, result.correct, Trial(scores, prompt=prompt), result)
