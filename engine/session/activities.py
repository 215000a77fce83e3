"""What a session plays: an intervention script, a MIDI song to play along with, or free play.

An activity is started by the driver at a time on the stream clock and
stepped from the session loop; it knows when it is done. Only a script has
trials and objectives (its :attr:`Activity.runner`, a
:class:`~engine.session.runner.ScriptSession`); a song and free play record
what the child played, scored by nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from engine.audio.soundbank import SoundBank
from engine.events import InputEvent
from engine.interventions.kinds import Kind, TrialResult
from engine.interventions.script import Script
from engine.midi.midifile import MidiSong
from engine.midi.playback import SongPlayer
from engine.records.plan import objective_data
from engine.scoring.objectives import Objective
from engine.session.parts import Context
from engine.session.runner import ScriptSession

__all__ = ["Activity", "FreePlay", "ScriptActivity", "SongActivity"]

#: Recorded after a song's last note.
SONG_TAIL_S = 2.0


class Activity:
    """One activity of a session (see the module docstring)."""

    #: The session folder's short name.
    name: str = "free-play"
    #: The script's runner once started (None: a song or free play).
    runner: ScriptSession | None = None

    def header(self) -> dict[str, Any]:
        """The activity's fields of the log's header."""
        return {}

    def begin(self, ctx: Context, *, start_s: float, lookahead_s: float,
              on_plan: Callable[[Any], list[dict]]) -> None:
        """Start at ``start_s`` seconds on the stream clock, scheduling ``lookahead_s`` ahead; ``on_plan``
        gives the ground truth to log with each trial planned."""

    def take(self, event: InputEvent) -> None:
        """One input event from the devices or the simulated child."""

    def step(self) -> None:
        """Schedule what is due (called every step of the session loop)."""

    @property
    def done(self) -> bool:
        return False

    @property
    def finished(self) -> bool:
        """Ended by itself (all trials scored, the song played), not stopped."""
        return True

    def stop(self, reason: str) -> None:
        """End now (silence what sounds, keep what was scored)."""

    def summary(self) -> dict[str, Any]:
        """The activity's fields of ``summary.json``: ``trials``, ..."""
        return {"trials": []}

    def judging(self) -> tuple[Any, list, Sequence[Objective]] | None:
        """What the visit's objectives are judged on (:func:`~engine.scoring.judge.judge_visit`): ``(script,
        results, plan objectives)`` once a script started; None for a song or free play."""
        return None


class FreePlay(Activity):
    """No cues: the child plays, the devices answer each hit, everything is recorded."""

    def header(self) -> dict[str, Any]:
        return {"script": "free", "intervention": None, "title": None}


class SongActivity(Activity):
    """A MIDI song played through the sound bank and/or an external synth while the child plays along."""

    def __init__(self, song: MidiSong, path: str | Path, *, bank: SoundBank | None, output: Any = None) -> None:
        self.song = song
        self.path = Path(path)
        self.name = self.path.stem
        self.bank = bank
        self.output = output
        self.player: SongPlayer | None = None
        self._ctx: Context | None = None
        self.end_frame: int | None = None

    def header(self) -> dict[str, Any]:
        return {"script": str(self.path), "intervention": None, "title": None}

    def begin(self, ctx: Context, *, start_s: float, lookahead_s: float, on_plan) -> None:
        self._ctx = ctx
        start = round(start_s * ctx.rate)
        self.player = SongPlayer(self.song, start, engine=ctx.engine, bank=self.bank, output=self.output)
        self.end_frame = start + int((self.song.duration_s + SONG_TAIL_S) * ctx.rate)

    def step(self) -> None:
        for cue in self.player.step():
            self._ctx.write(cue)

    @property
    def done(self) -> bool:
        return self.end_frame is not None and self._ctx.engine.now_frame >= self.end_frame


class ScriptActivity(Activity):
    """An intervention script: its trials planned, cued, scored and adapted by a
    :class:`~engine.session.runner.ScriptSession`; its objectives (and the plan's it measures) judged at the end.

    ``kind_seed`` and ``kind_options`` are how ``kind`` was built (the log
    records them, so re-scoring rebuilds the same kind); ``max_trials`` and
    ``stop_when`` end it early (see :class:`~engine.session.runner.ScriptSession`);
    ``overrides`` are the changes ``script`` was loaded with (``script_overrides``:
    :func:`~engine.interventions.overrides.apply_overrides`), logged with it.
    """

    def __init__(self, script: Script, kind: Kind, bank: SoundBank, *, kind_seed: int | None = None,
                 kind_options: dict[str, Any] | None = None, plan_objectives: Sequence[Objective] = (),
                 max_trials: int | None = None, stop_when: Callable[[list[TrialResult]], str | None] | None = None,
                 midi_out: Any = None, name: str | None = None, overrides: dict[str, Any] | None = None) -> None:
        self.script = script
        self.overrides = dict(overrides or {})
        self.kind = kind
        self.bank = bank
        self.kind_seed = kind_seed
        self.kind_options = dict(kind_options or {})
        self.plan_objectives = tuple(plan_objectives)
        self.max_trials = max_trials
        self.stop_when = stop_when
        self.midi_out = midi_out
        self.name = name or script.path.stem
        self.runner = None

    def header(self) -> dict[str, Any]:
        s = self.script
        return {"script": str(s.path), "intervention": s.kind, "title": s.title, "kind_seed": self.kind_seed,
                **({"kind_options": self.kind_options} if self.kind_options else {}),
                "max_trials": self.max_trials, "plan_objectives": [objective_data(o) for o in self.plan_objectives],
                **({"script_overrides": self.overrides} if self.overrides else {})}

    def begin(self, ctx: Context, *, start_s: float, lookahead_s: float, on_plan) -> None:
        self.runner = ScriptSession(self.script, self.kind, ctx.engine, self.bank, ctx.write, start_s=start_s,
                                    lookahead_s=lookahead_s, max_trials=self.max_trials, on_plan=on_plan,
                                    midi_out=self.midi_out, stop_when=self.stop_when)

    def take(self, event: InputEvent) -> None:
        self.runner.child_event(event)

    def step(self) -> None:
        self.runner.step()

    @property
    def done(self) -> bool:
        return self.runner.done

    @property
    def finished(self) -> bool:
        return self.runner.state == "completed"

    def stop(self, reason: str) -> None:
        if self.runner is not None and self.runner.state in ("running", "paused"):
            self.runner.stop(reason)

    def summary(self) -> dict[str, Any]:
        r = self.runner
        return {
            "title": self.script.title, "kind": self.script.kind, "trials_abandoned": r.abandoned,
            "stop_reason": r.stop_reason,
            "trials": [{"n": i + 1, "tempo_bpm": t.plan.tempo_bpm, "scores": t.scores, "correct": t.correct}
                       for i, t in enumerate(r.results)],
        }

    def judging(self) -> tuple[Any, list, Sequence[Objective]] | None:
        return None if self.runner is None else (self.script, self.runner.results, self.plan_objectives)
