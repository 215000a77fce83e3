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
import math
import os
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from engine.errors import ConfigError, DataDirError, TandemError
from engine.fileread import JSON_LIMIT, read_text
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
_MAX_MS = 10_000.0  # a latency or an offset beyond ten seconds is no measurement (a profile's fields are checked)
_MAX_BLOCKSIZE = 1 << 16
_MAX_RATE = 1_000_000


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    """A finite JSON number (an int of 400 digits is one; math.isfinite would overflow on it)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _plain(value: object, depth: int = 0) -> bool:
    """JSON data a log header can hold as it is: finite numbers only, nested at most 16 deep."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return depth < 16 and all(isinstance(k, str) and _plain(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return depth < 16 and all(_plain(v, depth + 1) for v in value)
    return value is None or isinstance(value, (str, int))


def _shown(value: object) -> str:
    """A value read from JSON as a sentence shows it (a long one cut)."""
    text = json.dumps(value) if _is_number(value) or isinstance(value, (str, bool)) or value is None else (
        "a list" if isinstance(value, list) else "an object" if isinstance(value, dict) else repr(value))
    return text if len(text) <= 40 else text[:37] + "..."


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
        """Rebuild from :meth:`to_dict`'s output. Raises ConfigError (one sentence) if it is not one.

        Every field is checked for its type and range (a latency is a finite number of milliseconds,
        never NaN or infinity; a blocksize and a rate are whole numbers), so a damaged or hand-edited
        file is refused here, not met as a wrong latency in a session.
        """
        def bad(what: str) -> ConfigError:
            return ConfigError(f"{source} is not a calibration profile Tandem can read ({what}); calibrate again "
                               f"with `tandem calibrate`.")

        if not isinstance(d, dict):
            raise bad("it is not a JSON object")
        version = d.get("version", 0)
        if not _is_int(version):
            raise bad(f"its version must be a whole number, not {_shown(version)}")
        if version > FORMAT_VERSION:
            raise ConfigError(f"{source} was written by a newer Tandem (format {version}); "
                              f"calibrate again or update Tandem.")
        raw = d.get("setup")
        if not isinstance(raw, dict):
            raise bad("its setup is missing")
        unknown = set(raw) - {"audio_device", "blocksize", "sample_rate", "midi_device"}
        if unknown:
            raise bad(f"its setup has an unknown field {sorted(unknown)[0]!r}")
        if not isinstance(raw.get("audio_device"), str) or not raw["audio_device"]:
            raise bad("setup.audio_device must be the device's name")
        for key, top in (("blocksize", _MAX_BLOCKSIZE), ("sample_rate", _MAX_RATE)):
            value = raw.get(key)
            if not _is_int(value) or not 1 <= value <= top:
                raise bad(f"setup.{key} must be a whole number from 1 to {top}, not {_shown(value)}")
        if raw.get("midi_device") is not None and not isinstance(raw["midi_device"], str):
            raise bad(f"setup.midi_device must be a name or null, not {_shown(raw['midi_device'])}")
        if not isinstance(d.get("measured_at"), str):
            raise bad(f"measured_at must be a date and time, not {_shown(d.get('measured_at'))}")
        for key in ("reported_input_ms", "reported_output_ms", "roundtrip_ms"):
            if key not in d:
                raise bad(f"{key} is missing")

        def ms(key: str, required: bool = False) -> float | None:
            value = d.get(key)
            if value is None and not required:
                return None
            if not _is_number(value) or not abs(value) <= _MAX_MS:
                raise bad(f"{key} must be a number of milliseconds within ±{_MAX_MS:g}"
                          f"{'' if required else ' or null'}, not {_shown(value)}")
            return float(value)

        if d.get("midi_method") is not None and not isinstance(d["midi_method"], str):
            raise bad(f"midi_method must be a word or null, not {_shown(d['midi_method'])}")
        if not isinstance(d.get("midi_exact", False), bool):
            raise bad(f"midi_exact must be true or false, not {_shown(d['midi_exact'])}")
        details = d.get("details") or {}
        if not isinstance(details, dict) or not _plain(details):
            raise bad(f"details must be a JSON object of finite numbers and words, not {_shown(details)}")
        return cls(
            setup=DeviceSetup(raw["audio_device"], raw["blocksize"], raw["sample_rate"], raw.get("midi_device")),
            measured_at=d["measured_at"], roundtrip_ms=ms("roundtrip_ms"),
            roundtrip_spread_ms=ms("roundtrip_spread_ms"),
            reported_input_ms=ms("reported_input_ms", True), reported_output_ms=ms("reported_output_ms", True),
            midi_offset_ms=ms("midi_offset_ms"), midi_spread_ms=ms("midi_spread_ms"),
            midi_method=d.get("midi_method"), midi_exact=d.get("midi_exact", False),
            details=dict(details), version=FORMAT_VERSION,
        )

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


def load_profiles(root: str | os.PathLike, skipped: list[str] | None = None) -> list[Profile]:
    """Every readable profile under ``root``, newest first.

    A file that cannot be read is skipped (a damaged profile is as good as none: the setup is simply
    uncalibrated): not a regular file inside the data folder (a device, a FIFO, a link out of it), over
    :data:`~engine.fileread.JSON_LIMIT`, not JSON, or not a profile (any field of the wrong type or range).
    ``skipped``, when given, receives one sentence for each.
    """
    folder = profiles_dir(root)
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("*.json")):
        try:
            text = read_text(path, what="calibration profile", limit_bytes=JSON_LIMIT, root=root,
                             too_large="move it away and calibrate again")
            out.append(Profile.from_dict(_json(text, path), source=str(path)))
        except TandemError as exc:
            if skipped is not None:
                skipped.append(str(exc))
    out.sort(key=lambda p: p.measured_at, reverse=True)
    return out


def _json(text: str, path: Path) -> object:
    """JSON text as data, or ConfigError naming the file (a nesting too deep and a number of thousands of
    digits too: Python refuses them with RecursionError and ValueError)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
        raise ConfigError(f"The calibration profile {path} is not valid JSON; move it away and calibrate "
                          f"again.") from None


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

