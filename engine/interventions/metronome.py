"""A metronome that schedules its beats ahead on the stream clock.

Beat k starts at ``start_frame + round(k * ioi_frames)``: logical time, never
a sum of sleeps or of rounded intervals, so there is no drift and no jitter.
:meth:`Metronome.step` is called from the control loop as often as it likes
and schedules every beat that falls within the look-ahead; the mixer plays
each one at its exact frame.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.audio.engine import AudioEngine
from engine.audio.sound import Sound
from engine.events import CueEvent

__all__ = ["Metronome", "MetronomeSounds"]


@dataclass(frozen=True)
class MetronomeSounds:
    count_in: Sound
    downbeat: Sound
    beat: Sound


class Metronome:
    """``count_in`` count-in beats, then ``beats`` beats at ``tempo_bpm``.

    Parameters
    ----------
    engine : AudioEngine
        Where the beats are played.
    start_frame : int
        Output frame of the first count-in beat.
    lookahead_frames : int
        How far ahead of the stream beats are scheduled (tens of ms).
    """

    def __init__(
        self,
        engine: AudioEngine,
        sounds: MetronomeSounds,
        *,
        tempo_bpm: float,
        beats: int,
        count_in: int = 4,
        beats_per_bar: int = 4,
        start_frame: int,
        lookahead_frames: int,
        gain: float = 0.8,
        pan: float = 0.0,
    ) -> None:
        if not 20 <= tempo_bpm <= 300:
            raise ValueError(f"tempo_bpm must be within 20..300, got {tempo_bpm}")
        self.engine = engine
        self.sounds = sounds
        self.tempo_bpm = tempo_bpm
        self.ioi_frames = 60.0 * engine.sample_rate / tempo_bpm
        self.beats = beats
        self.count_in = count_in
        self.beats_per_bar = beats_per_bar
        self.start_frame = start_frame
        self.lookahead_frames = lookahead_frames
        self.gain = gain
        self.pan = pan
        self._next = 0
        self.total = count_in + beats

    def frame_of(self, k: int) -> int:
        """Output frame of beat ``k`` (count-in beats first)."""
        return self.start_frame + round(k * self.ioi_frames)

    @property
    def finished_scheduling(self) -> bool:
        return self._next >= self.total

    @property
    def end_frame(self) -> int:
        """One beat after the last beat starts."""
        return self.frame_of(self.total)

    def step(self) -> list[CueEvent]:
        """Schedule every beat due within the look-ahead; the cues scheduled now."""
        horizon = self.engine.now_frame + self.lookahead_frames
        cues = []
        latency = self.engine.output_latency_frames
        while self._next < self.total and self.frame_of(self._next) < horizon:
            k = self._next
            if k < self.count_in:
                sound, role, index = self.sounds.count_in, "count_in", k
            else:
                index = k - self.count_in
                downbeat = index % self.beats_per_bar == 0
                sound, role = (self.sounds.downbeat, "downbeat") if downbeat else (self.sounds.beat, "beat")
            frame = self.frame_of(k)
            self.engine.play(sound, frame, gain=self.gain, pan=self.pan)
            cues.append(CueEvent(frame=frame, sound=sound.name, heard_frame=frame + sound.attack_frames + latency,
                                 gain=self.gain, pan=self.pan, role=role, index=index))
            self._next += 1
        return cues
