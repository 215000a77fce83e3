"""Calibration profiles: what was measured, per device setup, kept in the data directory.

A setup is the audio device, its blocksize and sample rate, and the MIDI
input device (none for microphone-only work): change any of them and the
latencies change. Each profile is one small JSON file in
``<data dir>/calibration/`` (folder 0700, file 0600, written atomically:
a temporary file, fsync, rename), named after the setup, so measuring again
replaces the old one.

What is stored is what was measured, not what to apply:

- ``roundtrip_ms``: output frame of a sound → input frame where the
  microphone has it (speaker, air and both converters);
- ``reported_input_ms`` / ``reported_output_ms``: what the stream reported
  for itself when it was measured;
- ``midi_offset_ms``: a pad hit's MIDI stamp minus its acoustic onset in
  the input (``midi latency − input latency``), with how it was measured.

:func:`applied_latencies` turns that into the two numbers the engine's
inputs take (see its docstring for why they are the right ones).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from engine.errors import ConfigError, DataDirError
from engine.paths import write_private

__all__ = [
    "FORMAT_VERSION",
    "AppliedLatencies",
    "DeviceSetup",
    "Profile",
    "applied_latencies",
    "engine_latencies",
    "find_profile",
    "load_profiles",
    "log_header",
    "now_iso",
    "profiles_dir",
    "save_profile",
]

FORMAT_VERSION = 1
_SUBDIR = "calibration"


@dataclass(frozen=True)
class DeviceSetup:
    """The device combination a profile belongs to."""

    audio_device: str
    blocksize: int
    sample_rate: int
    midi_device: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.audio_device, str) or not self.audio_device:
            raise ConfigError("A calibration profile needs the audio device's name.")
        if int(self.blocksize) <= 0 or int(self.sample_rate) <= 0:
            raise ConfigError(f"A calibration profile needs a positive blocksize and sample rate, not "
                              f"{self.blocksize} and {self.sample_rate}.")
        object.__setattr__(self, "blocksize", int(self.blocksize))
        object.__setattr__(self, "sample_rate", int(self.sample_rate))
        midi = self.midi_device
        if midi is not None:
            # ALSA appends "client:port" numbers that change from one plugging-in to the next.
            midi = re.sub(r"\s+\d+:\d+$", "", str(midi)).strip() or None
        object.__setattr__(self, "midi_device", midi)

    @classmethod
    def of_engine(cls, engine, midi_device: str | None = None) -> DeviceSetup:
        """The setup of a running (opened) :class:`~engine.audio.engine.AudioEngine`."""
        params = engine.params
        if params is None:
            raise ConfigError("The audio engine is not open, so its device is not known yet.")
        return cls(params.device, params.blocksize, params.sample_rate, midi_device)

    @property
    def audio_key(self) -> tuple:
        return (self.audio_device, self.blocksize, self.sample_rate)

    def file_stem(self) -> str:
        """A safe, stable file name for this setup: readable part plus a short hash of the whole."""
        raw = json.dumps([self.audio_device, self.blocksize, self.sample_rate, self.midi_device])
        digest = hashlib.sha256(raw.encode()).hexdigest()[:12]
        words = f"{self.audio_device}-{self.blocksize}-{self.sample_rate}-{self.midi_device or 'no-midi'}"
        slug = re.sub(r"[^A-Za-z0-9]+", "-", words).strip("-").lower()[:60]
        return f"{slug}-{digest}"


@dataclass(frozen=True)
class Profile:
    """One calibration of one :class:`DeviceSetup` (times in ms, ``measured_at`` ISO 8601 UTC)."""

    setup: DeviceSetup
    measured_at: str
    roundtrip_ms: float | None
    roundtrip_spread_ms: float | None
    reported_input_ms: float
    reported_output_ms: float
    midi_offset_ms: float | None = None
    midi_spread_ms: float | None = None
    midi_method: str | None = None  # "acoustic" or "tap-along"
    midi_exact: bool = False
    details: dict = field(default_factory=dict)  # per-repetition figures, counts, levels
    version: int = FORMAT_VERSION

    @property
    def mic_extra_latency_ms(self) -> float | None:
        """Round trip beyond what the stream reports (attributed to the input side)."""
        if self.roundtrip_ms is None:
            return None
        return self.roundtrip_ms - self.reported_input_ms - self.reported_output_ms

    def to_dict(self) -> dict:
        """JSON-ready; with ``mic_extra_latency_ms`` for readers (``tandem devices``, session logs)."""
        d = asdict(self)
        d["mic_extra_latency_ms"] = self.mic_extra_latency_ms
        return d

    @classmethod
    def from_dict(cls, d: dict, *, source: str = "profile") -> Profile:
        """Rebuild from :meth:`to_dict`'s output. Raises ConfigError (one sentence) if it is not one."""
        try:
            if int(d.get("version", 0)) > FORMAT_VERSION:
                raise ConfigError(f"{source} was written by a newer Tandem (format {d['version']}); "
                                  f"calibrate again or update Tandem.")
            setup = DeviceSetup(**d["setup"])
            opt = (lambda v: None if v is None else float(v))
            return cls(
                setup=setup, measured_at=str(d["measured_at"]), roundtrip_ms=opt(d["roundtrip_ms"]),
                roundtrip_spread_ms=opt(d.get("roundtrip_spread_ms")),
                reported_input_ms=float(d["reported_input_ms"]), reported_output_ms=float(d["reported_output_ms"]),
                midi_offset_ms=opt(d.get("midi_offset_ms")), midi_spread_ms=opt(d.get("midi_spread_ms")),
                midi_method=d.get("midi_method"), midi_exact=bool(d.get("midi_exact", False)),
                details=dict(d.get("details") or {}), version=FORMAT_VERSION,
            )
        except ConfigError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"{source} is not a calibration profile Tandem can read ({exc}); "
                              f"calibrate again with `tandem calibrate`.") from None

    def without_midi(self) -> Profile:
        return replace(self, setup=replace(self.setup, midi_device=None), midi_offset_ms=None,
                       midi_spread_ms=None, midi_method=None, midi_exact=False)


@dataclass(frozen=True)
class AppliedLatencies:
    """What to give the engine's inputs: ``MicInput(latency_ms=mic_extra_latency_ms)`` and
    ``MidiInput(latency_ms=midi_latency_ms)``; ``note`` is a plain sentence for the log."""

    mic_extra_latency_ms: float
    midi_latency_ms: float
    calibrated_audio: bool
    calibrated_midi: bool
    midi_exact: bool
    note: str

    def to_dict(self) -> dict:
        return asdict(self)


def applied_latencies(profile: Profile | None, *, input_latency_ms: float) -> AppliedLatencies:
    """The microphone's extra latency and the MIDI latency for a stream, from a profile.

    Scores compare physical times. A cue scheduled at stream frame F is
    heard at F + out (output latency); a sound that reaches the microphone
    at physical time P is in the input at P + in. So a microphone onset
    compared with a cue only ever involves ``out + in`` = the round trip R,
    which calibration measures; how R splits between the two sides cannot be
    measured with one clock and does not matter, as long as one side takes
    it all consistently. The output latency stays the stream's reported
    figure (cue times use it), and everything unreported goes to the input:

        mic_extra_latency_ms = R − (reported input + reported output),

    added by :class:`~engine.audio.micinput.MicInput` to the stream's input
    latency, so its effective input latency is ``input_latency_ms + extra``.
    (The reported figures are those at measurement time; if the stream
    reports differently later, the unreported part is what carries over.)

    A pad hit at P is stamped at ``P + midi_latency`` and heard in the input
    at ``P + effective input latency``; calibration measured their
    difference ``d = midi_latency − effective input latency``. For MIDI
    and microphone events, and MIDI events and cues, to agree on P:

        midi_latency_ms = d + input_latency_ms + mic_extra_latency_ms.

    Without a profile (or a part of it) both are 0, the engine's behaviour
    before calibration, and ``note`` says so.

    Parameters
    ----------
    input_latency_ms : float
        The running stream's reported input latency (``engine.input_latency_frames`` in ms).
    """
    if profile is None or (profile.roundtrip_ms is None and profile.midi_offset_ms is None):
        return AppliedLatencies(0.0, 0.0, False, False, False,
                                "This setup has no calibration profile: timing uses the device's "
                                "reported latencies only; run `tandem calibrate` to measure them.")
    date = profile.measured_at[:10]
    extra = float(profile.mic_extra_latency_ms or 0.0)  # no microphone: the reported latencies stand
    audio = profile.roundtrip_ms is not None
    if profile.midi_offset_ms is None:
        return AppliedLatencies(extra, 0.0, True, False, False,
                                f"Audio calibrated on {date}; the MIDI device has no calibration, so its "
                                f"latency is taken as 0 ms.")
    midi = float(profile.midi_offset_ms) + input_latency_ms + extra
    how = "" if profile.midi_exact else " (from tapping along, less exact)"
    what = "Audio and MIDI" if audio else "MIDI (no microphone, so not the audio)"
    return AppliedLatencies(extra, midi, audio, True, profile.midi_exact, f"{what} calibrated on {date}{how}.")


def engine_latencies(profile: Profile | None, engine) -> AppliedLatencies:
    """:func:`applied_latencies` for a running engine (its reported input latency)."""
    return applied_latencies(profile, input_latency_ms=1000.0 * engine.input_latency_frames / engine.sample_rate)



def log_header(profile: Profile | None, engine) -> dict:
    """The ``calibration`` entry for a session log's header: the profile (or None), what was applied,
    and a plain note (which says when the setup has no profile)."""
    applied = engine_latencies(profile, engine)
    return {"profile": None if profile is None else profile.to_dict(), "applied": applied.to_dict(),
            "note": applied.note}


# ---------------------------------------------------------------------------- storage


def profiles_dir(root: str | os.PathLike) -> Path:
    """Where profiles live under the data directory ``root`` (not created)."""
    return Path(root) / _SUBDIR


def save_profile(profile: Profile, root: str | os.PathLike) -> Path:
    """Write ``profile`` (0600, atomically) under the data directory ``root``; returns its path.

    Raises
    ------
    DataDirError
        With a plain sentence when the folder or file cannot be written.
    """
    folder = profiles_dir(root)
    text = json.dumps(profile.to_dict(), indent=2, sort_keys=True) + "\n"
    return write_private(folder / f"{profile.setup.file_stem()}.json", text, error=lambda exc: DataDirError(
        f"Tandem cannot save the calibration in {folder} ({exc.strerror or exc}); free some space or fix the "
        f"folder's permissions."))


def load_profiles(root: str | os.PathLike) -> list[Profile]:
    """Every readable profile under ``root``, newest first (unreadable files are skipped)."""
    folder = profiles_dir(root)
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("*.json")):
        try:
            out.append(Profile.from_dict(json.loads(path.read_text(encoding="utf-8")), source=str(path)))
        except (OSError, ValueError, ConfigError):
            continue  # a damaged profile is as good as none: the setup is simply uncalibrated
    out.sort(key=lambda p: p.measured_at, reverse=True)
    return out


def find_profile(root: str | os.PathLike, setup: DeviceSetup) -> Profile | None:
    """The profile for ``setup``, or None.

    An exact match (the same MIDI device too) wins. Otherwise the newest
    profile of the same audio device, blocksize and rate is returned without
    its MIDI part: the audio round trip does not depend on the MIDI device.
    """
    profiles = load_profiles(root)
    for p in profiles:
        if p.setup == setup:
            return p
    for p in profiles:
        if p.setup.audio_key == setup.audio_key:
            return p.without_midi()
    return None


def now_iso() -> str:
    """The current UTC time as profiles store it."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()

