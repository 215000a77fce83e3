"""Rhythmic cueing (RAS/TIMP): a steady beat to tap or step with, free play, songs and synchronisation-continuation (:mod:`engine.scoring.sync`)."""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from engine.errors import ConfigError
from engine.interventions.kinds.base import (
    Cue,
    Kind,
    Pattern,
    TrialPlan,
    TrialResult,
    in_window,
    level_scores,
    times_and_notes,
)
from engine.interventions.script import (
    CONTINUATION_BEATS,
    DEFAULT_SYNC_BARS,
    SYNC_BARS,
    CueingSong,
    Script,
    continuation_key,
    load_cueing_song,
)
from engine.scoring.continuation import ContinuationResult, score_continuation
from engine.scoring.objectives import NOT_RECORDED, Trial
from engine.scoring.sync import match_taps, summarize

__all__ = ["RhythmicCueing"]


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

    def score(self, plan: TrialPlan, child_events: Iterable[Any], *, prompt: str = NOT_RECORDED) -> TrialResult:
        times, notes = times_and_notes(child_events)
        if plan.phase == "free_play":
            times, _ = in_window(times, notes, plan.child_start_s, plan.child_end_s)
            tempo = None
            if len(times) >= self.min_free_taps:
                median = statistics.median(b - a for a, b in itertools.pairwise(times))
                tempo = 60.0 / median
                if self.adaptation is not None:
                    tempo = min(self.adaptation.max_tempo_bpm, max(self.adaptation.min_tempo_bpm, tempo))
            scores = {"free_play_taps": len(times), "free_tempo_bpm": tempo, "scorable": tempo is not None}
            return TrialResult(plan, scores, None, None, None)
        cues = plan.params.get("beats_s") or plan.cue_times("downbeat", "beat")
        window, _ = in_window(times, notes, plan.child_start_s, plan.child_end_s, closed=False)
        sync_end = plan.params.get("sync_end_s", plan.child_end_s)
        sync_taps = [t for t in window if t < sync_end]
        matches = match_taps(cues, sync_taps)
        summary = summarize(matches, len(sync_taps), window_ms=self.window_ms, tap_s=sync_taps)
        scores = summary.to_dict() | level_scores(plan)  # the difficulty, for an objective's level
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
