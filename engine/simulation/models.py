"""Behaviour models of a child, with known ground truth, for the five kinds.

A model answers the five situations an intervention creates:

* :meth:`ChildModel.tap_along` — rhythmic cueing: tap with the beat;
* :meth:`ChildModel.sync_continue` — synchronisation–continuation: tap with
  the beat, then keep going at its own tempo after the cue stops;
* :meth:`ChildModel.respond` — call-and-response: echo the engine's call;
* :meth:`ChildModel.take_turn` — turn-taking: what the child does during the
  engine's turn and after the hand-over;
* :meth:`ChildModel.play_stop_go` — stop-and-go: play along while the music
  plays, freeze when it stops;
* :meth:`ChildModel.fill_blank` — fill-in-the-blank: sing or play the note
  the music leaves out.

Each returns :class:`SimEvent` records (time in seconds on the engine clock,
MIDI velocity, an optional MIDI note) in time order. Every event carries a
``truth`` dict saying what the model *intended* (the asynchrony it aimed at,
whether it waited, its latency, whether a hit is a tremor double), so tests
can check that the scores of :mod:`engine.scoring` report what the model did.

This is a pure model layer: it plans a whole trial at once from the times
the engine gives it. Turning the events into MIDI/audio input events and
feeding them through the engine's input path is the caller's job
(``tandem demo``). Tapping along is modelled causally by
:class:`engine.simulation.tapping.SimulatedChild` (it hears each cue, then plans the
next tap), so as there, the first two cues of a run get no tap: the child
needs two cues to find the tempo.

Models (``make_model(name, seed=..., trial_index=...)``)
--------------------------------------------------------
Numbers marked *data* come from the adult tapping norms of Bååth & Madison
(2012) through :func:`engine.simulation.tapping.norms_at`; everything else is an
assumption chosen to make the behaviour plain, not fitted to child data.

``steady``
    Taps with mean asynchrony 0 and 0.4 × the adult within-trial SD (about
    15 ms at a 600 ms beat; phase correction 0.5): assumptions, a child well
    inside a ±80 ms window. Echoes correctly (every interval within a
    3 % Weber fraction of timing noise, assumption after the 2–5 % of
    interval-production studies reviewed by Repp 2005), starting 0.2–0.6 s
    after the call (assumption); waits for the hand-over and starts its turn
    0.3–0.8 s after it (assumption).
``early``
    Taps like the norms (``engine.simulation.tapping`` profile ``adult``: mean
    asynchrony −40 ms, within-trial SD 37 ms at 600 ms; *data*). Starts its
    echo and its turn early: at the norm mean asynchrony for the call's beat
    (or the 0.5 s turn beat), drawn with the norm within-trial SD (*data*,
    carried over from tapping to starting a phrase: an assumption); its
    intervals then have ``steady``'s 3 % noise.
``drifting``
    Finds the tempo from the first two cues, then its tapping interval
    changes by ``drift_pct_per_beat`` = +1.5 % per beat (slows; assumption,
    chosen so that drift is plain within a 16-beat run) without phase
    correction, each tap jittered by ``steady``'s SD (0.4 × the norm); echoes
    and plays its turn with the same drift per interval.
``impulsive``
    Taps like ``sensory-seeking`` in ``engine.simulation.tapping`` (rushes, double and
    off-beat extra taps; assumptions there). Jumps into the echo 0.4–0.8 s
    before the call ends, and plays 2–4 taps during the engine's turn
    (between 15 % and 85 % of it), then starts its own turn 0–0.15 s after
    the hand-over (assumptions).
``slow``
    Response latencies of 1.5–3 s (uniform; the range asked for in the
    brief, an assumption): starts tapping that long after the first cue,
    echoes and takes its turn that long after the call / the hand-over.
    Otherwise like ``steady``.
``silent``
    Never responds: every method returns an empty list.
``double``
    Like ``steady``, but every hit is followed by a second one 20–40 ms
    later (uniform; as with tremor or a bouncing stick; assumption), at 0.7 ×
    the velocity (as in ``engine.simulation.tapping``).
``learning``
    Its error shrinks across trials (``trial_index``): an error factor
    ``e = 0.15 + 0.85 · exp(−trial_index / 3)`` (1 at trial 0, near 0.15 by
    trial 10; assumption) scales its tapping SD (``typical`` profile's
    1.75 × adult), its echo interval noise (25 % at trial 0) and the mean
    number of taps it plays over the engine's turn (2 at trial 0).

**Stop-and-go and fill-in-the-blank** (all assumptions, chosen to make
the behaviour plain). Every model plays along with the go notes with its
start offset, drift and interval noise (as its echoes). A model *stops*
when it cancels every tap planned later than its reaction time after the
stop, 0.15–0.3 s (uniform, :data:`STOP_REACTION_S`: at and below the
250–300 ms stop-signal reaction times of school-age children, Williams et
al. 1999); a tap already prepared for the next beat still comes, as in
people. ``steady``, ``early``, ``drifting`` and ``double`` stop;
``impulsive`` keeps playing 0.5–1.5 s into the stop and ends with a last
hit there; ``slow`` joins 1.5–3 s after the music starts and keeps going
1.5–3 s into the stop; ``learning`` keeps going 0.5–1.5 s times its error
factor (not stopping at first, stopping after a few trials); ``silent``
plays nothing. At a blank, ``steady`` and ``double`` sing on time with the
steady SD, ``early`` at the norm mean asynchrony, ``drifting`` late by its
accumulated drift, ``impulsive`` 0–0.15 s early while singing along with
2–4 of the engine's notes, ``slow`` 0.2–0.8 beats late (outside a
half-beat window about half the time), ``learning`` 0.3–0.9 beats late times
its error factor.

**Free tapping** (rhythmic cueing's free-play phase, the spontaneous
motor tempo; all assumptions, chosen to make the behaviour plain): the
child starts 0.5–1 s into the free play (``slow``: its ``latency_s``) and
taps at its own tempo ``own_tempo_bpm`` (100 BPM, a 600 ms interval, for
every model but ``impulsive``, 140 BPM, and ``slow``, 80 BPM), each
interval drawn independently with the SD ``free_iti_cv`` × the interval
(4 %; ``impulsive`` 10 %, ``learning`` 10 % times its error factor);
``drifting`` lengthens each interval by its 1.5 %, ``double`` adds its
second hits, ``silent`` plays nothing (:meth:`ChildModel.free_tap`).

Velocities follow the tapping profile (95 ± 8 for ``steady``; assumption,
as in ``engine.simulation.tapping``).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.errors import ConfigError
from engine.simulation.tapping import PROFILES, ChildProfile, SimulatedChild, noise_sds_ms, norms_at

__all__ = ["MODELS", "ChildModel", "ModelParams", "SimEvent", "events_for", "make_model"]


@dataclass(frozen=True, slots=True)
class SimEvent:
    """One onset the simulated child plays.

    Attributes
    ----------
    time_s : float
        When it happens, seconds on the engine clock.
    velocity : int
        MIDI velocity, 1–127.
    note : int or None
        MIDI note (the echoed pitch of a melodic call); None where the child
        plays "its pad", which the caller chooses.
    truth : dict
        What the model intended; keys by situation (see the methods).
    """

    time_s: float
    velocity: int
    note: int | None = None
    truth: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ModelParams:
    """Parameters of one behaviour model (see the module docstring for sources).

    Attributes
    ----------
    name, description : str
    tap_profile : ChildProfile or None
        Profile of :class:`engine.simulation.tapping.SimulatedChild` used for tapping
        along; None for ``drifting`` (its own model) and ``silent``.
    silent : bool
        Never plays.
    drift_pct_per_beat : float
        Change of each interval over the one before, percent (> 0 slows).
    latency_s : tuple of float
        Range (uniform) of the echo's start after the end of the call, and of
        the turn's start after the hand-over, seconds; for ``slow`` also the
        delay before it starts tapping along.
    early_like_norms : bool
        Echo and turn start at the norm mean asynchrony (negative), drawn
        with the norm within-trial SD, instead of within ``latency_s``.
    ioi_noise_rel : float
        SD of each echo/turn onset's timing error as a fraction of the
        interval before it (errors do not accumulate).
    jump_in_s : tuple of float or None
        Range of how long before the call ends the echo starts (impulsive).
    interruptions : tuple of int
        Range (inclusive) of taps played during the engine's turn.
    interruption_mean : float
        If > 0, taps during the engine's turn are Poisson with this mean
        (times the learning factor) instead of ``interruptions``.
    double_gap_ms : tuple of float or None
        Range of the gap before a double hit, ms; None for no double hits.
    turn_notes : int
        Notes the child plays in its own turn.
    turn_ioi_s : float
        Interval between them, seconds (before drift and noise).
    learning_tau : float or None
        Trials over which the error factor decays (None: no learning).
    stop_overrun_s : tuple of float or None
        Range of how long the child keeps playing after the music stops
        (stop-and-go; times the learning factor); None: it stops within its
        reaction time, :data:`STOP_REACTION_S`.
    fill_late_beats : tuple of float or None
        Range of how late the child fills a blank, in beats (times the
        learning factor); None: on time, with the tapping noise.
    own_tempo_bpm : float
        The child's own tempo when it taps freely (spontaneous motor tempo), BPM.
    free_iti_cv : float
        SD of each free-tapping interval as a fraction of the interval (times the learning factor).
    prompt : str
        The prompt level the model plays at in every trial
        (:data:`engine.scoring.objectives.PROMPT_LEVELS`): the help it is given. No model here is
        given any (what each plays is its own behaviour, above), so each is ``"independent"``; its
        trials are logged at this level (the model is the truth, nothing is guessed).
    sensory_rating : str
        How the model reacts to every sensory probe of the assessment, as a therapist would rate it
        (``calm``, ``avoids``, ``seeks``; assumption): ``impulsive``, whose tapping is the
        ``sensory-seeking`` profile's, seeks; every other model stays calm.
    """

    name: str
    description: str
    tap_profile: ChildProfile | None
    silent: bool = False
    drift_pct_per_beat: float = 0.0
    latency_s: tuple[float, float] = (0.2, 0.6)
    early_like_norms: bool = False
    ioi_noise_rel: float = 0.03
    jump_in_s: tuple[float, float] | None = None
    interruptions: tuple[int, int] = (0, 0)
    interruption_mean: float = 0.0
    double_gap_ms: tuple[float, float] | None = None
    turn_notes: int = 4
    turn_ioi_s: float = 0.5
    learning_tau: float | None = None
    stop_overrun_s: tuple[float, float] | None = None
    fill_late_beats: tuple[float, float] | None = None
    own_tempo_bpm: float = 100.0
    free_iti_cv: float = 0.04
    prompt: str = "independent"
    sensory_rating: str = "calm"


_STEADY_PROFILE = ChildProfile(
    name="steady", description="Taps in time, a little variable.",
    mean_asynchrony_scale=0.0, sd_scale=0.4, alpha=0.5, period_correction=0.5,
    startup_late_ms=0.0, velocity_mean=95.0, velocity_sd=8.0,
)
_TURN_LATENCY_S = (0.3, 0.8)
#: Free tapping: how long into the free play the child starts (uniform, seconds; assumption).
FREE_START_S = (0.5, 1.0)
#: Stop-and-go: a child who stops cancels every tap planned later than this after the music stops
#: (uniform, seconds; assumption, at and below the 250-300 ms stop-signal reaction times of
#: school-age children, Williams et al. 1999), so a tap already prepared for the next beat still comes.
STOP_REACTION_S = (0.15, 0.3)
#: Fill-in-the-blank: how early the impulsive child comes in (uniform, seconds before the blank; assumption).
_FILL_JUMP_S = (0.0, 0.15)

MODELS: dict[str, ModelParams] = {
    p.name: p
    for p in (
        ModelParams("steady", "Taps in time, echoes correctly, waits for its turn.",
                    _STEADY_PROFILE),
        ModelParams("early", "Taps ahead of the beat, like adults do (Bååth & Madison 2012 norms).",
                    PROFILES["adult"], early_like_norms=True),
        ModelParams("drifting", "Its tempo drifts: each interval 1.5 % longer than the last.",
                    None, drift_pct_per_beat=1.5),
        ModelParams("impulsive", "Rushes, plays over the engine, jumps in before the call ends.",
                    PROFILES["sensory-seeking"], jump_in_s=(0.4, 0.8), interruptions=(2, 4),
                    latency_s=(0.0, 0.15), stop_overrun_s=(0.5, 1.5), own_tempo_bpm=140.0, free_iti_cv=0.10,
                    sensory_rating="seeks"),
        ModelParams("slow", "Answers late: 1.5–3 s after the call or the hand-over.",
                    _STEADY_PROFILE, latency_s=(1.5, 3.0), stop_overrun_s=(1.5, 3.0), fill_late_beats=(0.2, 0.8),
                    own_tempo_bpm=80.0),
        ModelParams("silent", "Never responds.", None, silent=True),
        ModelParams("double", "Every hit comes twice, 20–40 ms apart (tremor).",
                    _STEADY_PROFILE, double_gap_ms=(20.0, 40.0)),
        ModelParams("learning", "Its errors shrink from trial to trial.",
                    dataclasses.replace(PROFILES["typical"], miss_prob=0.0),
                    ioi_noise_rel=0.25, interruption_mean=2.0, learning_tau=3.0,
                    stop_overrun_s=(0.5, 1.5), fill_late_beats=(0.3, 0.9), free_iti_cv=0.10),
    )
}
"""The behaviour models by name."""

_LEARNING_FLOOR = 0.15


class ChildModel:
    """A simulated child following one behaviour model, seeded and deterministic.

    Parameters
    ----------
    params : ModelParams
        The model (see :data:`MODELS`).
    seed : int, optional
        Seed; the same seed, trial index and calls give the same events.
    trial_index : int
        Which trial of the session this is (0-based); only ``learning`` uses it.
    """

    def __init__(self, params: ModelParams, *, seed: int | None = None, trial_index: int = 0) -> None:
        if isinstance(trial_index, bool) or int(trial_index) != trial_index or trial_index < 0:
            raise ValueError("trial_index must be a non-negative whole number")
        self.params = params
        self.seed = seed
        self.trial_index = int(trial_index)
        entropy = None if seed is None else [int(seed), self.trial_index]
        self._rng = np.random.default_rng(entropy)

    @property
    def name(self) -> str:
        """The model's name."""
        return self.params.name

    @property
    def error_factor(self) -> float:
        """Learning factor ``0.15 + 0.85 · exp(−trial / tau)``; 1 without learning."""
        tau = self.params.learning_tau
        if tau is None:
            return 1.0
        return _LEARNING_FLOOR + (1.0 - _LEARNING_FLOOR) * math.exp(-self.trial_index / tau)

    # -- helpers -------------------------------------------------------------

    def _velocity(self, *, scale: float = 1.0) -> int:
        prof = self.params.tap_profile or _STEADY_PROFILE
        value = scale * (prof.velocity_mean + prof.velocity_sd * float(self._rng.normal()))
        return int(min(127, max(1, round(value))))

    def _with_doubles(self, events: list[SimEvent]) -> list[SimEvent]:
        gap = self.params.double_gap_ms
        if gap is None:
            return events
        out = []
        for ev in events:
            out.append(ev)
            if ev.truth.get("kind") in ("extra", "double"):
                continue
            gap_ms = float(self._rng.uniform(*gap))
            truth = {**ev.truth, "kind": "double", "double_gap_ms": gap_ms}
            out.append(SimEvent(ev.time_s + gap_ms / 1000.0, self._velocity(scale=0.7), ev.note, truth))
        return _sorted(out)

    def _phrase(self, start_s: float, iois_s: Sequence[float], notes: Sequence[int | None],
                truth: dict[str, Any]) -> list[SimEvent]:
        """Onsets from ``start_s`` with the given intervals, drifted and noised as the model says."""
        p = self.params
        noise = p.ioi_noise_rel * self.error_factor
        # The child keeps a pulse: each onset is off its intended place by
        # noise × the interval before it, and the errors do not add up (a
        # random walk would lose a steady child's long echoes). Onsets stay
        # at least 50 ms apart.
        times = [start_s]
        grid_s = start_s
        intended = []
        for k, ioi in enumerate(iois_s):
            ioi_k = ioi * (1.0 + p.drift_pct_per_beat / 100.0) ** (k + 1)
            intended.append(ioi_k)
            grid_s += ioi_k
            times.append(max(grid_s + noise * ioi_k * float(self._rng.normal()), times[-1] + 0.05))
        events = []
        for k, t in enumerate(times):
            ev_truth = {**truth, "index": k, "kind": "main",
                        "intended_ioi_s": intended[k - 1] if k else None}
            events.append(SimEvent(float(t), self._velocity(), notes[k], ev_truth))
        return self._with_doubles(events)

    def _start_latency_s(self, beat_s: float) -> float:
        p = self.params
        if p.early_like_norms:
            norm = norms_at(beat_s * 1000.0)
            return (norm.mean_asynchrony_ms + norm.within_trial_sd_ms * float(self._rng.normal())) / 1000.0
        return float(self._rng.uniform(*p.latency_s))

    # -- the three situations ------------------------------------------------

    def free_tap(self, start_s: float, end_s: float) -> list[SimEvent]:
        """Tap freely at the model's own tempo from ``start_s`` until ``end_s`` (no cue: free play).

        See "Free tapping" in the module docstring. Truth keys: ``situation``
        ("free_tap"), ``kind`` ("beat", "double"), ``index``, ``own_tempo_bpm``,
        ``iti_cv`` (the SD of the intervals over their mean, as intended),
        ``intended_iti_s`` (None for the first tap), ``drift_pct_per_beat``.
        """
        p = self.params
        start, end = float(start_s), float(end_s)
        if p.silent or not end > start:
            return []
        lead = p.latency_s if p.name == "slow" else FREE_START_S
        t = start + float(self._rng.uniform(*lead))
        period_s = 60.0 / p.own_tempo_bpm
        cv = p.free_iti_cv * self.error_factor
        rate = 1.0 + p.drift_pct_per_beat / 100.0
        truth = {"situation": "free_tap", "kind": "beat", "own_tempo_bpm": p.own_tempo_bpm, "iti_cv": cv,
                 "drift_pct_per_beat": p.drift_pct_per_beat}
        events: list[SimEvent] = []
        iti_s = None
        for k in itertools.count():
            if t >= end:
                break
            events.append(SimEvent(t, self._velocity(), None, {**truth, "index": k, "intended_iti_s": iti_s}))
            iti_s = period_s * rate ** k
            t += max(0.05, iti_s * (1.0 + cv * float(self._rng.normal())))
        return self._with_doubles(events)

    def tap_along(self, cue_s: Sequence[float]) -> list[SimEvent]:
        """Tap along with a beat whose cues are heard at ``cue_s`` (seconds, increasing).

        Truth keys: ``situation`` ("tap_along"), ``kind`` ("beat", "extra"
        for an off-beat or profile double tap, "double" for a tremor double),
        ``cue_index`` (the cue a beat tap aims at, else None),
        ``intended_asynchrony_ms`` (tap − the cue it aims at; None for extras),
        and per model ``start_latency_s`` (slow), ``intended_iti_s`` and
        ``drift_pct_per_beat`` (drifting), ``error_factor`` (learning).
        """
        cues = [float(t) for t in cue_s]
        p = self.params
        if p.silent or len(cues) < 2:
            return []
        if p.tap_profile is None:
            return self._drifting_taps(cues)
        profile = p.tap_profile
        if p.learning_tau is not None:
            profile = dataclasses.replace(profile, sd_scale=profile.sd_scale * self.error_factor)
        child = SimulatedChild(profile, seed=int(self._rng.integers(2**63)))
        start_s = -math.inf
        extra_truth: dict[str, Any] = {}
        if p.name == "slow":
            latency = float(self._rng.uniform(*p.latency_s))
            start_s = cues[0] + latency
            extra_truth["start_latency_s"] = latency
        if p.learning_tau is not None:
            extra_truth["error_factor"] = self.error_factor
        taps = []
        offset = None  # index of the first cue the child hears
        for k, t in enumerate(cues):
            taps += child.due_taps(t)
            if t >= start_s:
                if offset is None:
                    offset = k
                child.hear_cue(t)
        child.stop()
        taps += child.due_taps(math.inf)
        events = []
        for tap in taps:
            beat = tap.cue_index is not None
            truth = {"situation": "tap_along", "kind": "beat" if beat else "extra",
                     "cue_index": tap.cue_index + offset if beat else None,
                     "intended_asynchrony_ms": tap.intended_asynchrony_ms, **extra_truth}
            events.append(SimEvent(tap.time_s, tap.velocity, None, truth))
        return self._with_doubles(events)

    def _drifting_taps(self, cues: list[float], end_s: float | None = None) -> list[SimEvent]:
        """The drifting model's taps from the third cue on, up to ``end_s`` (default half an interval
        after the last cue); past the last cue they go on at its own drifting tempo."""
        p = self.params
        period_s = cues[1] - cues[0]
        jitter_s = _STEADY_PROFILE.sd_scale * norms_at(period_s * 1000.0).within_trial_sd_ms / 1000.0
        rate = 1.0 + p.drift_pct_per_beat / 100.0
        if end_s is None:
            end_s = cues[-1] + 0.5 * (cues[-1] - cues[-2])
        events = []
        command_s = cues[2] if len(cues) > 2 else cues[1] + period_s  # aims at cue 2, in time
        k, iti_s = 2, None
        while command_s <= end_s:
            tap_s = command_s + jitter_s * float(self._rng.normal())
            cue = cues[k] if k < len(cues) else None
            truth = {"situation": "tap_along", "kind": "beat", "cue_index": k if cue is not None else None,
                     "intended_asynchrony_ms": (command_s - cue) * 1000.0 if cue is not None else None,
                     "intended_iti_s": iti_s, "drift_pct_per_beat": p.drift_pct_per_beat}
            events.append(SimEvent(tap_s, self._velocity(), None, truth))
            iti_s = period_s * rate ** (k - 1)
            command_s += iti_s
            k += 1
        return events

    def sync_continue(self, cue_s: Sequence[float], end_s: float, *, sync_end_s: float | None = None,
                      virtual_cues: int = 0) -> list[SimEvent]:
        """Tap along with the cues ``cue_s``, then keep tapping on its own after they stop, until ``end_s``.

        The synchronisation–continuation paradigm (Wing & Kristofferson 1973;
        Repp 2005). The synchronisation taps are :meth:`tap_along`'s, up to
        ``sync_end_s`` (default half an interval after the last cue). After
        it the child keeps going (assumptions, chosen to make the behaviour
        plain): a model that taps with :class:`~engine.simulation.tapping.SimulatedChild`
        keeps the last inter-cue interval ``P`` as its period and produces
        Wing–Kristofferson intervals: an internal clock ``T_j = T_{j-1} + P
        + c_j`` from ``T_0`` = the last cue, a tap at ``T_j + m_j``, with
        ``c`` and ``m`` normal with the timekeeper and motor SDs of its own
        synchronisation tapping (:func:`engine.simulation.tapping.noise_sds_ms` at
        ``P``; ``learning`` scaled by its error factor); ``double`` adds its
        second hits. ``drifting`` goes on with its own drifting tempo (each
        interval 1.5 % longer than the last, as while the cues played, with
        its jitter) from where its synchronisation taps were. ``silent``
        plays nothing. The first ``virtual_cues`` cues are not heard sounds
        but the child's own beat going on (see :func:`events_for`): no tap
        is made for them.

        Truth keys of the continuation taps: ``situation`` ("sync_continue"),
        ``phase`` ("continuation"), ``kind`` ("beat", "double"), ``index``
        (0 = the first tap after the cues), ``period_s`` (P),
        ``intended_iti_s`` (the clock interval it aimed at, None for the
        first), ``drift_pct_per_beat``, ``clock_sd_ms`` and ``motor_sd_ms``
        (None for ``drifting``: jitter only, ``jitter_sd_ms``). Synchronisation
        taps keep :meth:`tap_along`'s truth with ``phase`` "sync".
        """
        cues = [float(t) for t in cue_s]
        p = self.params
        if p.silent or len(cues) < 2:
            return []
        end_s = float(end_s)
        if sync_end_s is None:
            sync_end_s = cues[-1] + 0.5 * (cues[-1] - cues[-2])
        lo = cues[virtual_cues] - 0.5 * (cues[1] - cues[0]) if 0 < virtual_cues < len(cues) else -math.inf
        period_s = cues[-1] - cues[-2]
        if p.tap_profile is None:  # drifting: its own tempo goes on
            taps = [e for e in self._drifting_taps(cues, end_s) if lo <= e.time_s < end_s]
            jitter_ms = _STEADY_PROFILE.sd_scale * norms_at(period_s * 1000.0).within_trial_sd_ms
            out = []
            j = 0
            for e in taps:
                if e.time_s < sync_end_s:
                    out.append(dataclasses.replace(e, truth={**e.truth, "phase": "sync"}))
                    continue
                out.append(dataclasses.replace(e, truth={
                    "situation": "sync_continue", "phase": "continuation", "kind": "beat", "index": j,
                    "period_s": period_s, "intended_iti_s": e.truth["intended_iti_s"],
                    "drift_pct_per_beat": p.drift_pct_per_beat, "clock_sd_ms": None, "motor_sd_ms": None,
                    "jitter_sd_ms": jitter_ms}))
                j += 1
            return out
        sync = [dataclasses.replace(e, truth={**e.truth, "phase": "sync"})
                for e in self.tap_along(cues) if lo <= e.time_s < sync_end_s and e.truth.get("kind") != "double"]
        profile = p.tap_profile
        sd_scale = profile.sd_scale * (self.error_factor if p.learning_tau is not None else 1.0)
        norm = norms_at(period_s * 1000.0)
        clock_sd_ms, motor_sd_ms = noise_sds_ms(sd_ms=sd_scale * norm.within_trial_sd_ms,
                                                lag1_autocorr=norm.lag1_autocorr, alpha=profile.alpha)
        rate = 1.0 + p.drift_pct_per_beat / 100.0
        truth = {"situation": "sync_continue", "phase": "continuation", "kind": "beat", "period_s": period_s,
                 "drift_pct_per_beat": p.drift_pct_per_beat, "clock_sd_ms": clock_sd_ms, "motor_sd_ms": motor_sd_ms}
        cont = []
        clock_s = cues[-1]
        last = sync[-1].time_s if sync else -math.inf
        for j in itertools.count():
            iti_s = period_s * rate ** j
            clock_s += iti_s + clock_sd_ms / 1000.0 * float(self._rng.normal())
            tap_s = max(clock_s + motor_sd_ms / 1000.0 * float(self._rng.normal()), last + 0.05)
            if tap_s >= end_s:
                break
            if tap_s >= sync_end_s:
                cont.append(SimEvent(tap_s, self._velocity(), None,
                                     {**truth, "index": len(cont), "intended_iti_s": iti_s if cont else None}))
            last = tap_s
        return self._with_doubles(_sorted(sync + cont))

    def respond(self, call_s: Sequence[float], call_pitches: Sequence[int] | None = None,
                call_end_s: float | None = None) -> list[SimEvent]:
        """Echo a call with onsets ``call_s`` (seconds) ending at ``call_end_s``.

        ``call_end_s`` defaults to the rule of
        :func:`engine.scoring.imitation.score_imitation` (the last onset plus
        the last interval). The echo copies the call's pitches (None without).

        Truth keys: ``situation`` ("respond"), ``index`` (which call onset
        it echoes), ``kind`` ("main" or "double"), ``latency_s`` (first echo
        onset − ``call_end_s``, negative = jumped in), ``intended_ioi_s``,
        ``error_factor``.
        """
        call = [float(t) for t in call_s]
        p = self.params
        if p.silent or not call:
            return []
        iois = np.diff(call).tolist()
        if call_end_s is None:
            call_end_s = call[-1] + iois[-1] if iois else call[-1]
        beat_s = float(np.median(iois)) if iois else 0.5
        if p.jump_in_s is not None:
            start_s = max(call[0], call_end_s - float(self._rng.uniform(*p.jump_in_s)))
        else:
            start_s = call_end_s + self._start_latency_s(beat_s)
        notes = list(call_pitches) if call_pitches is not None else [None] * len(call)
        truth = {"situation": "respond", "latency_s": start_s - call_end_s, "error_factor": self.error_factor}
        return self._phrase(start_s, iois, notes, truth)

    def take_turn(self, engine_turn_start_s: float, engine_turn_end_s: float) -> list[SimEvent]:
        """Play through one hand-over: the engine plays, then hands the turn to the child.

        Truth keys: ``situation`` ("take_turn"), ``phase`` ("engine_turn" for
        a tap played over the engine, "own_turn"), ``waited`` (no tap over the
        engine's turn), ``interruptions`` (how many), ``latency_s`` (own turn
        start − hand-over), ``index``, ``kind``, ``intended_ioi_s``.
        """
        start, end = float(engine_turn_start_s), float(engine_turn_end_s)
        if not end > start:
            raise ValueError("engine_turn_end_s must be later than engine_turn_start_s")
        p = self.params
        if p.silent:
            return []
        if p.interruption_mean > 0:
            n_int = int(self._rng.poisson(p.interruption_mean * self.error_factor))
        else:
            n_int = int(self._rng.integers(p.interruptions[0], p.interruptions[1] + 1))
        span = end - start
        during_s = np.sort(start + span * self._rng.uniform(0.15, 0.85, size=n_int)).tolist()
        if p.name == "slow" or p.early_like_norms or p.jump_in_s is not None:
            latency = self._start_latency_s(p.turn_ioi_s)
        else:
            latency = float(self._rng.uniform(*_TURN_LATENCY_S))
        base = {"situation": "take_turn", "waited": n_int == 0, "interruptions": n_int,
                "latency_s": latency, "error_factor": self.error_factor}
        interrupting = [SimEvent(float(t), self._velocity(), None,
                                 {**base, "phase": "engine_turn", "index": i, "kind": "main",
                                  "intended_ioi_s": None})
                        for i, t in enumerate(during_s)]
        own = self._phrase(end + latency, [p.turn_ioi_s] * (p.turn_notes - 1),
                           [None] * p.turn_notes, {**base, "phase": "own_turn"})
        return _sorted(self._with_doubles(interrupting) + own)


    def play_stop_go(self, go_s: Sequence[float], stop_s: float, stop_end_s: float, *,
                     stopped_notes_s: Sequence[float] | None = None, cued: bool = False) -> list[SimEvent]:
        """Play along with the music's notes ``go_s``, then (try to) freeze when it stops at ``stop_s``.

        The child aims at every go note, from the second one (it needs to
        hear the music start) or from the first when ``cued`` (a count-in
        gave the tempo); ``slow`` joins ``latency_s`` after the first note.
        Its taps follow the notes with the model's start offset, drift and
        noise (as its echoes). At the stop it keeps aiming at the notes the
        music would have played (``stopped_notes_s``; default the go notes'
        last interval continued): a model without ``stop_overrun_s`` makes
        those planned before its reaction time (:data:`STOP_REACTION_S`)
        and no more; one with it keeps going for the overrun and plays a
        last hit at its end (``stop_s + overrun``). Nothing at or after ``stop_end_s``.

        Truth keys: ``situation`` ("stop_go"), ``phase`` ("go" before the
        stop, "stop" after it), ``kept_going_s`` (the reaction time or the
        overrun: taps planned before ``stop_s`` + this are made),
        ``overrun`` (True for a model that keeps going), ``start_offset_s``
        (the first tap's intended offset from its note), ``index``, ``kind``
        ("main", "last" for the overrun's last hit, "double"), ``intended_ioi_s``, ``error_factor``.
        """
        go = sorted(float(t) for t in go_s)
        p = self.params
        if p.silent or not go:
            return []
        stop, end = float(stop_s), float(stop_end_s)
        if stopped_notes_s is None:
            ioi = go[-1] - go[-2] if len(go) > 1 else 0.5
            stopped_notes_s = [t for t in (go[-1] + k * ioi for k in range(1, 1000)) if t < end]
        aims = go + sorted(float(t) for t in stopped_notes_s if stop <= t < end)
        first = 0 if cued else 1
        if p.name == "slow":
            join = go[0] + float(self._rng.uniform(*p.latency_s))
            first = max(first, next((k for k, t in enumerate(aims) if t >= join), len(aims)))
        aims = aims[first:]
        if p.stop_overrun_s is not None:
            kept = float(self._rng.uniform(*p.stop_overrun_s)) * self.error_factor
        else:
            kept = float(self._rng.uniform(*STOP_REACTION_S))
        cutoff = min(stop + kept, end)
        if not aims:
            return []
        offset = 0.0
        if p.early_like_norms:
            offset = self._start_latency_s(aims[1] - aims[0] if len(aims) > 1 else 0.5)
        truth = {"situation": "stop_go", "kept_going_s": kept, "overrun": p.stop_overrun_s is not None,
                 "start_offset_s": offset, "error_factor": self.error_factor}
        events = self._phrase(aims[0] + offset, np.diff(aims).tolist(), [None] * len(aims), truth)
        events = [e for e in events if e.time_s < cutoff]
        if p.stop_overrun_s is not None and stop + kept < end:
            events.append(SimEvent(stop + kept, self._velocity(), None,
                                   {**truth, "index": len(aims), "kind": "last", "intended_ioi_s": None}))
        return _sorted([dataclasses.replace(e, truth={**e.truth, "phase": "go" if e.time_s < stop else "stop"})
                        for e in events])

    def fill_blank(self, blank_s: float, beat_s: float, *, phrase_s: Sequence[float] = ()) -> list[SimEvent]:
        """Sing or play the note the music leaves out at ``blank_s`` (a beat is ``beat_s`` seconds).

        ``phrase_s`` are the engine's notes around the blank. ``steady`` and
        ``double`` fill on time with the steady tapping SD (``double`` adds
        its second hit); ``early`` at the norm mean asynchrony with the norm
        SD; ``drifting`` late by what its 1.5 %-per-beat slowing adds up to
        from the phrase's first note (``phrase_s[0]``); ``impulsive`` comes in
        0–0.15 s early and sings along with 2–4 of the engine's notes
        (``interruptions``); ``slow`` late by ``fill_late_beats`` (0.2–0.8
        beats: past a half-beat window half the time); ``learning`` late by
        0.3–0.9 beats times its error factor (it misses at first, not later);
        ``silent`` nothing.

        Truth keys: ``situation`` ("fill_blank"), ``kind`` ("fill", "extra"
        for a sung-along note, "double"), ``intended_offset_ms`` (the fill's
        intended time − ``blank_s``; None for extras), ``error_factor``.
        """
        p = self.params
        if p.silent:
            return []
        blank, beat = float(blank_s), float(beat_s)
        sd_s = _STEADY_PROFILE.sd_scale * norms_at(beat * 1000.0).within_trial_sd_ms / 1000.0
        if p.fill_late_beats is not None:
            intended = float(self._rng.uniform(*p.fill_late_beats)) * beat * self.error_factor
        elif p.early_like_norms:
            intended = self._start_latency_s(beat)
        elif p.jump_in_s is not None:
            intended = -float(self._rng.uniform(*_FILL_JUMP_S))
        else:
            intended = 0.0
        if p.drift_pct_per_beat and phrase_s:
            beats = max(0, round((blank - float(phrase_s[0])) / beat))
            rate = 1.0 + p.drift_pct_per_beat / 100.0
            intended += beat * sum(rate ** k - 1.0 for k in range(1, beats + 1))
        noise = 0.0 if p.early_like_norms else sd_s * float(self._rng.normal())
        truth = {"situation": "fill_blank", "error_factor": self.error_factor}
        events = [SimEvent(blank + intended + noise, self._velocity(), None,
                           {**truth, "kind": "fill", "intended_offset_ms": intended * 1000.0})]
        before = [float(t) for t in phrase_s if float(t) < blank]
        if p.interruptions[1] > 0 and before:
            n = min(len(before), int(self._rng.integers(p.interruptions[0], p.interruptions[1] + 1)))
            for t in np.sort(self._rng.choice(before, size=n, replace=False)).tolist():
                events.append(SimEvent(t + sd_s * float(self._rng.normal()), self._velocity(), None,
                                       {**truth, "kind": "extra", "intended_offset_ms": None}))
        return self._with_doubles(_sorted(events))


def _sorted(events: list[SimEvent]) -> list[SimEvent]:
    return sorted(events, key=lambda e: e.time_s)


def make_model(name: str, *, seed: int | None = None, trial_index: int = 0) -> ChildModel:
    """The behaviour model called ``name`` (see :data:`MODELS`).

    Raises
    ------
    engine.errors.ConfigError
        If there is no model of that name.
    """
    if name not in MODELS:
        raise ConfigError(f"Unknown child model {name!r}; choose one of: {', '.join(MODELS)}.")
    return ChildModel(MODELS[name], seed=seed, trial_index=trial_index)


#: Beats before a cueing bar that the model taps through first (finding the tempo takes two;
#: the rest lets phase correction and drift settle as in a longer run).
RUN_LEAD_BEATS = 8


def events_for(plan: Any, model: ChildModel, beat_history: list[float]) -> list[SimEvent]:
    """What ``model`` plays in one trial plan (an :class:`engine.interventions.kinds.TrialPlan`).

    Call-and-response → :meth:`ChildModel.respond` (the call's cue times and
    pitches, the call's end); turn-taking → :meth:`ChildModel.take_turn`;
    rhythmic cueing's free play → :meth:`ChildModel.free_tap` over its window;
    rhythmic cueing → :meth:`ChildModel.tap_along` over the beat cues of this
    bar and the ``RUN_LEAD_BEATS`` before it (``beat_history``, extended
    here; count-in included), keeping the taps in this bar's window: the
    model taps a run into the bar, not the bar alone;
    stop-and-go → :meth:`ChildModel.play_stop_go` (the go cues, the stop, the
    notes the music would have played; ``cued`` when a count-in or lead-in
    came first); fill-in-the-blank → :meth:`ChildModel.fill_blank` (the
    blank's time, the beat, the phrase's notes).
    """
    if plan.kind == "call_and_response":
        pitches = list(plan.pattern.pitches) if plan.pattern and plan.pattern.pitches else None
        return model.respond(plan.cue_times("call"), pitches, plan.engine_end_s)
    if plan.kind == "turn_taking":
        return model.take_turn(plan.engine_start_s, plan.engine_end_s)
    if plan.kind == "rhythmic_cueing":
        count_in = plan.cue_times("count_in")
        beats = list(plan.params.get("beats_s") or plan.cue_times("downbeat", "beat"))
        lo, hi = plan.child_start_s, plan.child_end_s
        if plan.params.get("continuation_beats"):
            # Synchronisation-continuation: one run per trial. After a count-in the child hears it;
            # otherwise, if it has tapped before, it is still going from the last trial's continuation
            # (it does not need two cues to find the beat): two beats before the first cue stand in.
            spb = 60.0 / plan.tempo_bpm
            virtual = [] if count_in or not beat_history else [beats[0] - 2 * spb, beats[0] - spb]
            beat_history.extend(count_in + beats)
            events = model.sync_continue(virtual + count_in + beats, hi, sync_end_s=plan.params["sync_end_s"],
                                         virtual_cues=len(virtual))
            return [e for e in events if lo <= e.time_s < hi]
        if plan.phase == "free_play":  # no cue: the child taps at its own tempo
            return model.free_tap(lo, hi)
        beat_history.extend(count_in + beats)
        # The run the model taps: this bar's beats and the RUN_LEAD_BEATS before them (not the whole
        # session: a model is made afresh per trial anyway, and an hour of beats per bar costs O(n²)).
        run = beat_history[-(len(count_in) + len(beats) + RUN_LEAD_BEATS):]
        return [e for e in model.tap_along(run) if lo <= e.time_s < hi]
    if plan.kind == "stop_and_go":
        return model.play_stop_go(plan.cue_times("go"), plan.params["stop_at_s"], plan.params["stop_end_s"],
                                  stopped_notes_s=plan.params["stopped_notes_s"],
                                  cued=bool(plan.cue_times("count_in", "lead_in")))
    if plan.kind == "fill_in_the_blank":
        return model.fill_blank(plan.params["blank_s"], 60.0 / plan.tempo_bpm, phrase_s=plan.cue_times("phrase"))
    raise ConfigError(f"The simulated child cannot play the kind '{plan.kind}' yet.")
