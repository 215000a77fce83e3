"""Running calibration on a live engine: play, listen, analyse, make the profile.

Everything is scheduled ahead at exact stream frames with
:meth:`AudioEngine.play`, and the microphone is read afterwards from the
engine's input ring (its frames *are* stream frames, as in
:class:`~engine.audio.micinput.MicInput`), so nothing here is timed by a
Python thread waking up. With the offline backend the engine is driven block
by block; with a device, this waits (coarse sleeps, checking the stream).
Whatever happens (an error, Ctrl-C) every sound calibration scheduled is
cancelled before the exception leaves: the engine is never left sounding.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engine.audio.backends import OfflineBackend
from engine.audio.sound import Sound
from engine.calibration.midilatency import (
    MidiOffset,
    analyse_midi_offset,
    tap_along_offset,
)
from engine.calibration.profiles import DeviceSetup, Profile, now_iso
from engine.calibration.roundtrip import RoundTrip, analyse_roundtrip
from engine.calibration.signals import ProbeSequence, pacing_click, probe_sequence
from engine.errors import TandemError

__all__ = [
    "Calibration",
    "CalibrationError",
    "NoteOnCollector",
    "TapPlan",
    "calibrate",
    "make_profile",
    "measure_midi_offset",
    "measure_roundtrip",
]


ROUNDTRIP_HELP = ("Turn the speakers up to a comfortable level, unplug any headphones and keep the room quiet: "
                  "Tandem plays ten short sweeps and listens for them.")
MIDI_HELP = ("Now tap the pad along with the {count_in} clicks, then keep tapping at the same pace when they "
             "stop, {taps} times in all, with the pad near the microphone.")
TAP_ALONG_HELP = "Now tap the pad exactly along with the clicks, {taps} times, after {count_in} to get the pace."


class CalibrationError(TandemError, RuntimeError):
    """Calibration cannot run on this setup (no microphone input, a dead stream)."""


class NoteOnCollector:
    """An ``on_event`` for :class:`~engine.midi.live.MidiInput`: keeps each note-on's raw stamp.

    ``frames()`` returns the arrival frames (``InputEvent.arrival_frame``:
    the stamp before any calibrated latency is taken off) seen so far.
    """

    def __init__(self) -> None:
        self._frames: list[int] = []
        self._lock = threading.Lock()

    def __call__(self, event) -> None:
        if getattr(event, "source", None) == "midi":
            with self._lock:
                self._frames.append(int(event.arrival_frame))

    def frames(self) -> list[int]:
        with self._lock:
            return list(self._frames)


@dataclass(frozen=True)
class TapPlan:
    """The MIDI part's schedule (stream frames): clicks, and when taps are listened for."""

    click_frames: tuple[int, ...]
    taps_from_frame: int
    taps_until_frame: int
    ioi_frames: int
    taps: int


def _wait_for_input(engine, frame: int, *, poll_s: float, timeout_s: float,
                    failure: str = "The audio stream stopped moving during calibration; check the audio "
                                   "device and calibrate again.") -> None:
    """Until the stream has passed ``frame``: the input ring holds everything before it (when the
    stream has an input; without one the ring stands still). Offline: render up to it now."""
    def reached() -> int:
        return engine.input_ring.written if engine.channels_in else engine.now_frame

    if isinstance(engine.backend, OfflineBackend):
        missing = frame - reached()
        if missing > 0:
            engine.backend.run_blocks(-(-missing // engine.blocksize))
        return
    deadline = time.monotonic() + timeout_s
    while reached() < frame:
        engine.check()
        if time.monotonic() > deadline:
            raise CalibrationError(failure)
        time.sleep(poll_s)


def _check_input(engine, channel: int) -> None:
    if engine.channels_in <= channel:
        raise CalibrationError("Calibration needs a microphone, but the audio stream has no input channel "
                               f"{channel}; choose an audio device with an input.")


def _cancel(engine, voices: list[int]) -> None:
    for v in voices:
        with contextlib.suppress(Exception):  # silencing must not fail on the way out
            engine.cancel(v)


def measure_roundtrip(
    engine,
    *,
    sequence: ProbeSequence | None = None,
    channel: int = 0,
    gain: float = 1.0,
    lookahead_ms: float = 150.0,
    max_latency_ms: float = 500.0,
    poll_s: float = 0.01,
    **analysis,
) -> RoundTrip:
    """Play the probe sequence on a running engine and measure the round trip from its input.

    ``analysis`` goes to :func:`~engine.calibration.roundtrip.analyse_roundtrip`
    (``max_spread_ms``, ``min_snr_db``…). Takes the sequence's length plus
    ``max_latency_ms`` (about 4 s).

    Raises
    ------
    CalibrationError
        When the engine has no input channel ``channel``, or its stream stops.
    """
    _check_input(engine, channel)
    rate = engine.sample_rate
    seq = sequence or probe_sequence(rate)
    sound = Sound("calibration-probe", seq.probe, rate)
    first = engine.now_frame + int(lookahead_ms * rate / 1000)
    end = first + seq.frames + int(max_latency_ms * rate / 1000) + engine.blocksize
    voices: list[int] = []
    try:
        for off in seq.offsets_frames:
            voices.append(engine.play(sound, first + off, gain=gain))
        _wait_for_input(engine, end, poll_s=poll_s, timeout_s=(end - engine.now_frame) / rate + 5.0)
        recording = engine.input_ring.read(first, end - first)[:, channel]
    except BaseException:
        _cancel(engine, voices)
        raise
    return analyse_roundtrip(recording, start_frame=first, sequence=seq, first_frame=first,
                             max_latency_ms=max_latency_ms, **analysis)


def measure_midi_offset(
    engine,
    stamps: Callable[[], Sequence[float]],
    *,
    roundtrip_frames: float | None = None,
    microphone: bool = True,
    taps: int = 12,
    count_in: int = 4,
    ioi_ms: float = 500.0,
    channel: int = 0,
    lookahead_ms: float = 1000.0,
    on_plan: Callable[[TapPlan], None] | None = None,
    poll_s: float = 0.01,
    **analysis,
) -> MidiOffset:
    """The pad's MIDI stamp minus its acoustic onset (or the tap-along estimate without a microphone).

    ``count_in`` clicks ``ioi_ms`` apart set the pace; with a microphone
    the clicks then stop and the therapist keeps tapping ``taps`` times (a
    hit that falls on a click is not used: the click would blur its onset),
    without one the clicks go on through the taps and each tap is paired
    with its click (:func:`tap_along_offset`, ``exact=False``).

    Parameters
    ----------
    stamps : callable
        Returns the note-on stamps so far (stream frames), e.g. :meth:`NoteOnCollector.frames`
        of a :class:`~engine.midi.live.MidiInput` started with this engine.
    roundtrip_frames : float, optional
        The measured round trip; the stream's reported input + output latency if None.
    on_plan : callable, optional
        Called with the :class:`TapPlan` as soon as it is scheduled (a screen can show it).
    """
    if microphone:
        _check_input(engine, channel)
    rate = engine.sample_rate
    if roundtrip_frames is None:
        roundtrip_frames = float(engine.input_latency_frames + engine.output_latency_frames)
    ioi = round(ioi_ms * rate / 1000)
    first = engine.now_frame + int(lookahead_ms * rate / 1000)
    n_clicks = count_in if microphone else count_in + taps
    clicks = tuple(first + k * ioi for k in range(n_clicks))
    taps_from = first + count_in * ioi - ioi // 2
    taps_until = first + (count_in + taps) * ioi - ioi // 2
    end = taps_until + ioi // 2 + int(0.1 * rate) + int(roundtrip_frames) + engine.blocksize
    click = Sound("calibration-click", pacing_click(rate), rate)
    voices: list[int] = []
    t0 = None
    try:
        for f in clicks:
            voices.append(engine.play(click, f))
        plan = TapPlan(clicks, taps_from, taps_until, ioi, taps)
        if on_plan is not None:
            on_plan(plan)
        t0 = max(0, first - ioi)
        _wait_for_input(engine, end, poll_s=poll_s, timeout_s=(end - engine.now_frame) / rate + 5.0)
        recording = engine.input_ring.read(t0, end - t0)[:, channel] if microphone else None
    except BaseException:
        _cancel(engine, voices)
        raise
    got = [float(s) for s in stamps() if t0 <= s < end]
    if not microphone:
        return tap_along_offset(got, clicks, roundtrip_frames=roundtrip_frames, sample_rate=rate, **analysis)
    busy_ms_before, busy_ms_after = 5.0, 80.0  # the click at the microphone, and its room tail
    busy = [(int(f + roundtrip_frames - busy_ms_before * rate / 1000),
             int(f + roundtrip_frames + click.frames + busy_ms_after * rate / 1000)) for f in clicks]
    # The hit is in the input at most a round trip after its stamp (MIDI can be no faster than 0 ms).
    analysis.setdefault("search_ms", (-60.0, max(60.0, 1000.0 * roundtrip_frames / rate + 20.0)))
    return analyse_midi_offset(got, recording, start_frame=t0, sample_rate=rate, busy_frames=busy, **analysis)


def make_profile(setup: DeviceSetup, roundtrip: RoundTrip | None, midi: MidiOffset | None, *,
                 reported_input_ms: float, reported_output_ms: float, measured_at: str | None = None) -> Profile:
    """A :class:`Profile` from accepted measurements (a rejected one is left out)."""
    rt = roundtrip if roundtrip is not None and roundtrip.ok else None
    md = midi if midi is not None and midi.ok else None
    details: dict = {}
    if rt is not None:
        details["roundtrip"] = {"repetitions": rt.repetitions, "found": rt.found, "range_ms": rt.range_ms,
                                "level_db": rt.level_db, "noise_db": rt.noise_db, "snr_db": rt.snr_db}
    if md is not None:
        details["midi"] = {"taps": md.taps, "used": md.used}
    return Profile(
        setup=setup, measured_at=measured_at or now_iso(),
        roundtrip_ms=rt.latency_ms if rt else None, roundtrip_spread_ms=rt.spread_ms if rt else None,
        reported_input_ms=reported_input_ms, reported_output_ms=reported_output_ms,
        midi_offset_ms=md.offset_ms if md else None, midi_spread_ms=md.spread_ms if md else None,
        midi_method=md.method if md else None, midi_exact=md.exact if md else False, details=details,
    )


@dataclass(frozen=True)
class Calibration:
    """What :func:`calibrate` measured; ``profile`` is None when nothing was accepted."""

    roundtrip: RoundTrip | None
    midi: MidiOffset | None
    profile: Profile | None

    @property
    def ok(self) -> bool:
        parts = [p for p in (self.roundtrip, self.midi) if p is not None]
        return bool(parts) and all(p.ok for p in parts)

    @property
    def reasons(self) -> list[str]:
        """One sentence per rejected part."""
        return [p.reason for p in (self.roundtrip, self.midi) if p is not None and not p.ok and p.reason]

    def to_dict(self) -> dict:
        return {"ok": self.ok, "reasons": self.reasons,
                "roundtrip": self.roundtrip.to_dict() if self.roundtrip else None,
                "midi": self.midi.to_dict() if self.midi else None,
                "profile": self.profile.to_dict() if self.profile else None}


def calibrate(
    engine,
    *,
    stamps: Callable[[], Sequence[float]] | None = None,
    midi_device: str | None = None,
    microphone: bool = True,
    roundtrip_options: dict | None = None,
    midi_options: dict | None = None,
    echo: Callable[[str], None] | None = None,
) -> Calibration:
    """The whole calibration on a running engine: the round trip, then (with ``stamps``) the MIDI offset.

    Without a microphone only the tap-along MIDI estimate is made (against
    the stream's reported latencies). The MIDI part runs only after an
    accepted round trip, since the acoustic method needs it. The profile
    (not yet saved: see :func:`~engine.calibration.profiles.save_profile`)
    holds what was accepted. ``echo`` gets the instructions for the therapist, each before
    its part starts (the MIDI part's clicks begin a second after its instruction).
    """
    say = echo or (lambda text: None)
    rate = engine.sample_rate
    rt = None
    if microphone:
        say(ROUNDTRIP_HELP)
        rt = measure_roundtrip(engine, **(roundtrip_options or {}))
    midi = None
    if stamps is not None and (rt is None or rt.ok):
        opts = {"taps": 12, "count_in": 4, **(midi_options or {})}
        say((MIDI_HELP if microphone else TAP_ALONG_HELP).format(**opts))
        midi = measure_midi_offset(engine, stamps, microphone=microphone,
                                   roundtrip_frames=rt.latency_frames if rt is not None else None, **opts)
    setup = DeviceSetup.of_engine(engine, midi_device if stamps is not None else None)
    profile = None
    if (rt is not None and rt.ok) or (midi is not None and midi.ok):
        profile = make_profile(setup, rt, midi, reported_input_ms=1000.0 * engine.input_latency_frames / rate,
                               reported_output_ms=1000.0 * engine.output_latency_frames / rate)
    return Calibration(rt, midi, profile)
