"""A simulated child who taps along with a beat, with human-like timing.

Used by ``tandem demo`` and by tests in place of a real child on a drum pad.
The child is *causal*: it is told each cue when it is heard
(:meth:`SimulatedChild.hear_cue`) and plans its next tap only from what it has
heard so far; the caller collects the taps as its clock advances
(:meth:`SimulatedChild.due_taps`).

Timing model
------------
The standard two-level model with linear phase correction (Wing &
Kristofferson 1973; Vorberg & Wing 1996; Repp 2005, *Psychon. Bull. Rev.*
12:969). A central timekeeper issues commands; tap *k* happens a motor delay
after command *k*::

    command[k+1] = command[k] + T[k] − alpha · (A[k] − A*)
    tap[k]       = command[k] + M[k]
    A[k]         = tap[k] − cue[k]                     (asynchrony)

``T[k] = P + N(0, σ_T²)`` is the timekeeper interval around the child's period
estimate ``P``; ``P`` starts at the first heard inter-onset interval (IOI) and
follows later ones by exponential smoothing with gain ``period_correction``
(so the child follows tempo changes). ``M[k] ~ N(0, σ_M²)`` is motor noise,
``alpha`` the phase-correction gain, ``A*`` the child's mean asynchrony
target. For an isochronous beat the asynchronies are then stationary with
mean ``A*``, variance ``γ0 = (σ_T² + 2·alpha·σ_M²) / (1 − (1 − alpha)²)`` and
lag-1 autocorrelation ``r1 = (1 − alpha) − σ_M²/γ0``. Given a target SD and
``r1`` this is solved for ``σ_T`` and ``σ_M`` (:func:`noise_sds_ms`).

Targets come from adult data, ``engine/data/tapping_norms.json`` (Bååth &
Madison 2012; 30 adults, ISI 600–3000 ms, MIT licence), interpolated linearly
in the child's period estimate and held constant outside 600–3000 ms:
``A*`` = ``mean_asynchrony_scale`` × the norm mean asynchrony, SD =
``sd_scale`` × the norm *within-trial* SD (what one run of one person shows),
``r1`` = the norm lag-1 autocorrelation.

Start: with one cue heard the child cannot know the tempo, so it waits; after
the second cue it plans a tap for the third, aimed ``startup_late_ms`` late
(a partly reactive first tap), and phase correction pulls the following taps
in to ``A*``. A tap is never planned earlier than the moment the child could
know what it depends on (the cue just heard, and its own last tap): a tap
that would come earlier is pushed to that moment.

Profiles
--------
What rests on data and what is assumed (all child values are assumptions
shaped by the literature, not fitted to child data):

``adult``
    The norms as they are (data: mean, within-trial SD, r1 per ISI).
    ``alpha`` = 0.4 is an assumption within the range of adult estimates at
    ISIs near 500–600 ms reviewed by Repp (2005) and Repp & Su (2013);
    period-correction gain 0.5, start 40 ms late, velocity 95 ± 8: assumptions.
``typical``
    A typically developing school-age child: SD 1.75 × adult and a mean
    asynchrony 0.7 × adult (slightly less anticipation); weaker correction
    (alpha 0.35). Direction from developmental studies that find children's
    synchronisation more variable than adults' (e.g. Drewing, Aschersleben &
    Li 2006; McAuley et al. 2006); the factors are assumptions. 2 % missed
    beats (lapses of attention), start 80 ms late.
``motor``
    A child with motor-coordination difficulties (e.g. developmental
    coordination disorder, mild cerebral palsy): SD 3 × adult, mean 0.8 ×
    adult, alpha 0.3, 8 % missed beats and 3 % double taps 60–120 ms after
    the tap (tremor / rebound), softer and more uneven velocity (85 ± 18).
    Greater variability in DCD tapping is reported (e.g. Whitall et al.
    2008); every number here is an assumption.
``sensory-seeking``
    A child who seeks strong input: loud (velocity 110 ± 10), rushes (mean
    1.5 × adult), SD 2 × adult, 5 % double taps and 10 % extra off-beat taps
    between beats. A clinical caricature for exercising the scoring of extra
    taps and loud play; all numbers are assumptions.

The model assumes an isochronous beat (a metronome or a song's pulse): a rest
of two beats is taken as a slower tempo. It stops when the cues stop; tapping
on after them (synchronisation–continuation) is modelled by
:meth:`engine.simulation.models.ChildModel.sync_continue`.
"""

from __future__ import annotations

import bisect
import functools
import json
import math
from dataclasses import dataclass
from importlib import resources

import numpy as np

from engine.errors import ConfigError

__all__ = [
    "Tap",
    "ChildProfile",
    "TappingNorm",
    "PROFILES",
    "SimulatedChild",
    "norms_at",
    "noise_sds_ms",
]


@dataclass(frozen=True, slots=True)
class Tap:
    """One tap of the simulated child.

    Attributes
    ----------
    time_s : float
        Physical time of the tap, seconds on the engine clock.
    velocity : int
        MIDI velocity, 1–127.
    intended_asynchrony_ms : float or None
        Tap time minus the time the child expected the cue at, ms (negative =
        early). For a steady beat the expected time is the cue's time, so this
        is the true asynchrony. None for an extra tap.
    cue_index : int or None
        Index (0-based, in the order of :meth:`SimulatedChild.hear_cue` calls)
        of the cue the tap aims at; None for an extra tap.
    """

    time_s: float
    velocity: int
    intended_asynchrony_ms: float | None
    cue_index: int | None


@dataclass(frozen=True, slots=True)
class ChildProfile:
    """Parameters of a simulated child (see the module docstring for sources).

    Attributes
    ----------
    name, description : str
        Profile name and one line on who it stands for.
    mean_asynchrony_scale : float
        Mean asynchrony target = this × the adult norm mean (norm is negative).
    sd_scale : float
        SD of asynchrony = this × the adult norm within-trial SD.
    alpha : float
        Phase-correction gain, 0 < alpha < 1.
    period_correction : float
        Gain (0–1] with which the period estimate follows each heard IOI.
    startup_late_ms : float
        How late the first tap aims, ms (capped at a quarter of the period).
    miss_prob : float
        Probability that a planned tap is not made.
    double_tap_prob : float
        Probability that a tap is followed by a second one.
    double_tap_gap_ms : tuple of float
        Range of the gap before the second tap, ms (uniform).
    offbeat_tap_prob : float
        Probability of an extra tap between two beats (35–65 % of the period).
    velocity_mean, velocity_sd : float
        MIDI velocity distribution (normal, rounded, clipped to 1–127).
    """

    name: str
    description: str
    mean_asynchrony_scale: float
    sd_scale: float
    alpha: float
    period_correction: float
    startup_late_ms: float
    miss_prob: float = 0.0
    double_tap_prob: float = 0.0
    double_tap_gap_ms: tuple[float, float] = (60.0, 120.0)
    offbeat_tap_prob: float = 0.0
    velocity_mean: float = 95.0
    velocity_sd: float = 8.0

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be between 0 and 1, not {self.alpha}")
        if not 0.0 < self.period_correction <= 1.0:
            raise ValueError("period_correction must be in (0, 1]")
        for name in ("miss_prob", "double_tap_prob", "offbeat_tap_prob"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1)")
        if self.sd_scale <= 0 or self.velocity_sd < 0 or self.startup_late_ms < 0:
            raise ValueError("sd_scale must be positive, velocity_sd and startup_late_ms not negative")
        lo, hi = self.double_tap_gap_ms
        if not 0.0 < lo <= hi:
            raise ValueError("double_tap_gap_ms must be (low, high) with 0 < low <= high")


PROFILES: dict[str, ChildProfile] = {
    p.name: p
    for p in (
        ChildProfile(
            name="adult",
            description="An adult tapping to a metronome (the norms as they are).",
            mean_asynchrony_scale=1.0, sd_scale=1.0, alpha=0.4,
            period_correction=0.5, startup_late_ms=40.0,
            velocity_mean=95.0, velocity_sd=8.0,
        ),
        ChildProfile(
            name="typical",
            description="A typically developing school-age child.",
            mean_asynchrony_scale=0.7, sd_scale=1.75, alpha=0.35,
            period_correction=0.4, startup_late_ms=80.0, miss_prob=0.02,
            velocity_mean=92.0, velocity_sd=12.0,
        ),
        ChildProfile(
            name="motor",
            description="A child with motor-coordination difficulties.",
            mean_asynchrony_scale=0.8, sd_scale=3.0, alpha=0.3,
            period_correction=0.3, startup_late_ms=120.0, miss_prob=0.08,
            double_tap_prob=0.03, velocity_mean=85.0, velocity_sd=18.0,
        ),
        ChildProfile(
            name="sensory-seeking",
            description="A child who seeks strong input: loud, rushing, extra taps.",
            mean_asynchrony_scale=1.5, sd_scale=2.0, alpha=0.35,
            period_correction=0.4, startup_late_ms=40.0, double_tap_prob=0.05,
            offbeat_tap_prob=0.10, velocity_mean=110.0, velocity_sd=10.0,
        ),
    )
}


@dataclass(frozen=True, slots=True)
class TappingNorm:
    """Adult synchronisation norms at one inter-stimulus interval.

    Attributes
    ----------
    isi_ms : float
        Inter-stimulus interval, ms.
    mean_asynchrony_ms : float
        Mean asynchrony, ms (negative = early).
    within_trial_sd_ms : float
        Pooled within-trial SD of asynchrony, ms.
    lag1_autocorr : float
        Pooled within-trial lag-1 autocorrelation of asynchronies.
    """

    isi_ms: float
    mean_asynchrony_ms: float
    within_trial_sd_ms: float
    lag1_autocorr: float


@functools.cache
def _norm_table() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    text = resources.files("engine").joinpath("data", "tapping_norms.json").read_text("utf-8")
    rows = sorted(json.loads(text)["norms"], key=lambda r: r["isi_ms"])
    return tuple(
        np.array([float(r[key]) for r in rows])
        for key in ("isi_ms", "mean_asynchrony_ms", "within_trial_sd_ms", "lag1_autocorr")
    )


def norms_at(isi_ms: float) -> TappingNorm:
    """Adult norms interpolated linearly at ``isi_ms``.

    Outside the measured range (600–3000 ms) the nearest measured values are
    used: there are no data to extrapolate from.

    Parameters
    ----------
    isi_ms : float
        Inter-stimulus interval, ms.

    Returns
    -------
    TappingNorm
    """
    isi, mean, sd, r1 = _norm_table()
    return TappingNorm(
        isi_ms=float(isi_ms),
        mean_asynchrony_ms=float(np.interp(isi_ms, isi, mean)),
        within_trial_sd_ms=float(np.interp(isi_ms, isi, sd)),
        lag1_autocorr=float(np.interp(isi_ms, isi, r1)),
    )


def noise_sds_ms(*, sd_ms: float, lag1_autocorr: float, alpha: float) -> tuple[float, float]:
    """Timekeeper and motor noise SDs that give asynchronies a target SD and r1.

    Solves ``r1 = (1 − alpha) − σ_M²/γ0`` and
    ``γ0 (1 − (1 − alpha)²) = σ_T² + 2·alpha·σ_M²`` with ``γ0 = sd_ms²``.
    If ``r1 >= 1 − alpha`` the motor noise is 0 (the model cannot reach r1).

    Parameters
    ----------
    sd_ms : float
        Target SD of asynchrony, ms.
    lag1_autocorr : float
        Target lag-1 autocorrelation of asynchronies.
    alpha : float
        Phase-correction gain.

    Returns
    -------
    (timekeeper_sd_ms, motor_sd_ms) : tuple of float
    """
    beta = 1.0 - alpha
    var = sd_ms * sd_ms
    motor_var = max(0.0, (beta - lag1_autocorr) * var)
    timekeeper_var = max(0.0, var * (1.0 - beta * beta) - 2.0 * alpha * motor_var)
    return math.sqrt(timekeeper_var), math.sqrt(motor_var)


@dataclass(slots=True)
class _Plan:
    """The command issued for the next cue and the tap it produced (None = missed)."""

    cue_index: int
    command_s: float
    tap_s: float | None


@dataclass(slots=True)
class _Phrase:
    """What the child knows of the current stretch of music."""

    last_cue_s: float | None = None
    period_s: float | None = None
    plan: _Plan | None = None


class SimulatedChild:
    """A child who taps along with heard cues, causally and reproducibly.

    Parameters
    ----------
    profile : str or ChildProfile
        A name from :meth:`profiles` or a profile of one's own.
    seed : int, optional
        Seed of the child's random numbers; the same seed and the same calls
        give the same taps.

    Raises
    ------
    engine.errors.ConfigError
        If the profile name is unknown.

    Examples
    --------
    >>> child = SimulatedChild("adult", seed=1)
    >>> for k in range(4):
    ...     child.hear_cue(0.6 * k)
    >>> [tap.cue_index for tap in child.due_taps(10.0)]
    [2, 3, 4]
    """

    def __init__(self, profile: str | ChildProfile = "typical", *, seed: int | None = None) -> None:
        if isinstance(profile, ChildProfile):
            self._profile = profile
        elif profile in PROFILES:
            self._profile = PROFILES[profile]
        else:
            raise ConfigError(
                f"Unknown simulated-child profile {profile!r}; "
                f"choose one of: {', '.join(PROFILES)}."
            )
        self._rng = np.random.default_rng(seed)
        self._cues_heard = 0
        self._last_heard_s = -math.inf
        self._phrase = _Phrase()
        self._stopped = False
        self._queue: list[Tap] = []  # planned, not yet returned, sorted by time

    @staticmethod
    def profiles() -> list[str]:
        """Names of the built-in profiles."""
        return list(PROFILES)

    @property
    def profile(self) -> ChildProfile:
        """The child's profile."""
        return self._profile

    def hear_cue(self, t_s: float) -> None:
        """Tell the child a cue was heard at ``t_s`` (seconds, physical time).

        Cues must come in time order, and before :meth:`due_taps` is asked
        for a time after them (otherwise a tap planned from a late cue may be
        returned after taps later than it). After :meth:`stop`, a cue starts a
        new stretch of music: the child needs two cues again to find the tempo.

        Raises
        ------
        ValueError
            If ``t_s`` is not finite or not later than the previous cue.
        """
        t_s = float(t_s)
        if not math.isfinite(t_s):
            raise ValueError("cue time must be a finite number of seconds")
        if t_s <= self._last_heard_s:
            raise ValueError(f"cue at {t_s} s is not later than the previous cue at {self._last_heard_s} s")
        if self._stopped:
            self._stopped = False
            self._phrase = _Phrase()
        index = self._cues_heard
        self._cues_heard += 1
        self._last_heard_s = t_s
        phrase = self._phrase
        if phrase.last_cue_s is None:
            phrase.last_cue_s = t_s
            return
        interval_s = t_s - phrase.last_cue_s
        if phrase.period_s is None:
            phrase.period_s = interval_s
        else:
            phrase.period_s += self._profile.period_correction * (interval_s - phrase.period_s)
        phrase.last_cue_s = t_s
        self._plan_next(index, t_s)

    def _plan_next(self, index: int, cue_s: float) -> None:
        """Plan the tap for cue ``index + 1`` right after hearing cue ``index``."""
        prof, rng, phrase = self._profile, self._rng, self._phrase
        period_s = phrase.period_s
        norm = norms_at(period_s * 1000.0)
        target_ms = prof.mean_asynchrony_scale * norm.mean_asynchrony_ms
        timekeeper_sd_ms, motor_sd_ms = noise_sds_ms(
            sd_ms=prof.sd_scale * norm.within_trial_sd_ms,
            lag1_autocorr=norm.lag1_autocorr,
            alpha=prof.alpha,
        )
        # Draw everything up front, in a fixed order, so the stream of random
        # numbers does not depend on which branch is taken.
        t_noise_s, m_noise_s = rng.normal(0.0, (timekeeper_sd_ms / 1000.0, motor_sd_ms / 1000.0))
        miss_u, double_u, offbeat_u = rng.random(3)
        gap_s = rng.uniform(*prof.double_tap_gap_ms) / 1000.0
        offbeat_phase = rng.uniform(0.35, 0.65)
        vel_z = rng.normal(size=3)

        interval_s = period_s + t_noise_s
        plan = phrase.plan
        known_s = cue_s
        if plan is None or plan.cue_index != index:
            # First tap of the stretch: aimed at the expected cue, partly late.
            late_s = min(prof.startup_late_ms / 1000.0, 0.25 * period_s)
            command_s = cue_s + interval_s + target_ms / 1000.0 + late_s
        elif plan.tap_s is None:
            # No tap last beat, so no asynchrony to correct.
            command_s = plan.command_s + interval_s
        else:
            asyn_s = plan.tap_s - cue_s
            command_s = plan.command_s + interval_s - prof.alpha * (asyn_s - target_ms / 1000.0)
            known_s = max(cue_s, plan.tap_s)
        tap_s = max(command_s + m_noise_s, known_s)
        expected_cue_s = cue_s + period_s

        made = miss_u >= prof.miss_prob
        phrase.plan = _Plan(index + 1, command_s, tap_s if made else None)
        if made:
            velocity = self._velocity(vel_z[0])
            self._push(Tap(tap_s, velocity, (tap_s - expected_cue_s) * 1000.0, index + 1))
            if double_u < prof.double_tap_prob:
                self._push(Tap(tap_s + gap_s, self._velocity(vel_z[1], scale=0.7), None, None))
        if offbeat_u < prof.offbeat_tap_prob:
            self._push(Tap(cue_s + offbeat_phase * period_s, self._velocity(vel_z[2]), None, None))

    def _velocity(self, z: float, *, scale: float = 1.0) -> int:
        prof = self._profile
        value = scale * (prof.velocity_mean + prof.velocity_sd * z)
        return int(min(127, max(1, round(value))))

    def _push(self, tap: Tap) -> None:
        bisect.insort(self._queue, tap, key=lambda t: t.time_s)

    def due_taps(self, until_s: float) -> list[Tap]:
        """Taps at or before ``until_s`` not returned yet, in time order.

        Parameters
        ----------
        until_s : float
            Time up to which the caller's clock has advanced, seconds.

        Returns
        -------
        list of Tap
            Each tap is returned by exactly one call.
        """
        cut = bisect.bisect_right(self._queue, until_s, key=lambda t: t.time_s)
        due, self._queue = self._queue[:cut], self._queue[cut:]
        return due

    def stop(self) -> None:
        """The music stopped: plan no further taps (taps already planned still come)."""
        self._stopped = True
        self._phrase = _Phrase()
