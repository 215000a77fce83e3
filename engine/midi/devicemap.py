"""Device maps: what each note of a MIDI pad or keyboard means to Tandem.

A device map is a small TOML profile, pure data (nothing in it is ever
executed). It says which ports it is for, whether the device makes its own
sound, how velocity becomes gain, and for each note a *role* (``pad1``, a
General MIDI drum name such as ``acoustic_snare``, or ``key``) and the sound-bank
request to play as feedback (``drum:38``, ``program:0:60``; see
:mod:`engine.audio.soundbank`).

Profile format::

    name = "My pad"                      # required, text
    match = ["my pad", "usb drum"]       # case-insensitive substrings of port names
    makes_own_sound = false              # required, true/false
    unknown_notes = "ignore"             # or "drum_or_click" (see below); optional

    [velocity]                           # optional; default linear 0..1
    curve = "soft"                       # linear | soft | hard | fixed
    min = 0.1                            # gain at velocity 0 (fixed: unused)
    max = 1.0                            # gain at velocity 127 (fixed: the gain)

    [notes]                              # MIDI note number → role and sound
    36 = { role = "bass_drum_1", sound = "drum:36" }

    [[ranges]]                           # a keyboard: every note low..high
    low = 21
    high = 108
    role = "key"
    program = 0                          # sound = "program:<program>:<note>"

Curves map x = velocity / 127 to ``min + (max - min) * f(x)`` with
f(x) = x (linear), sqrt(x) (soft: light hits still sound) or x² (hard: only
firm hits are loud); ``fixed`` always gives ``max``. Every curve is
non-decreasing in velocity and stays within 0..1.

Unknown notes: with ``unknown_notes = "drum_or_click"`` (the generic profile) a
note without an entry still maps, to role ``note:<n>`` and sound ``drum:<n>``
when n is a General MIDI percussion key (35–81, what a channel-10 pad most
likely sends) or ``click`` otherwise, so an unknown pad always gives feedback.
With ``"ignore"`` such notes map to None.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from engine.errors import ConfigError
from engine.fileread import TEXT_LIMIT, read_text, toml_hazard

__all__ = [
    "BUILTIN_NAMES",
    "CURVES",
    "DeviceMap",
    "NoteRole",
    "builtin_maps",
    "map_for_port",
]

CURVES = ("linear", "soft", "hard", "fixed")
"""The velocity curves a profile can name."""

UNKNOWN_NOTE_POLICIES = ("ignore", "drum_or_click")

BUILTIN_NAMES = ("roland-td", "gm-drums", "generic-keyboard", "generic")
"""Shipped profiles in the order :func:`map_for_port` tries them (generic last)."""

_GM_PERCUSSION_RANGE = range(35, 82)
_FALLBACK_SOUND = "click"


@dataclass(frozen=True)
class NoteRole:
    """What one incoming note means.

    Attributes
    ----------
    note : int
        MIDI note number 0–127.
    role : str
        ``pad1``…, a GM drum name, ``key`` or ``note:<n>``.
    sound : str
        Sound-bank request for the feedback sound.
    gain : float
        0..1, from the profile's velocity curve.
    """

    note: int
    role: str
    sound: str
    gain: float


@dataclass(frozen=True)
class _Entry:
    role: str
    sound: str


@dataclass(frozen=True)
class DeviceMap:
    """One device's profile; build it with :meth:`load` or :meth:`builtin`."""

    name: str
    match: tuple[str, ...]
    makes_own_sound: bool
    curve: str = "linear"
    gain_min: float = 0.0
    gain_max: float = 1.0
    unknown_notes: str = "ignore"
    notes: dict[int, _Entry] = field(default_factory=dict, compare=False, hash=False)
    source: Path | None = None

    # ------------------------------------------------------------------
    # Loading

    @classmethod
    def load(cls, path: str | Path) -> DeviceMap:
        """Read and check a profile.

        Raises
        ------
        ConfigError
            One sentence naming the file, the line where known, and the field.
        """
        path = Path(path)
        text = read_text(path, what="device profile", limit_bytes=TEXT_LIMIT,  # never a device, a FIFO, a folder
                         missing=f"Device profile {path} does not exist; check the path.",
                         too_large="a device profile is a few kilobytes of text, so name the profile's .toml file")
        return cls._from_text(text, path)

    @classmethod
    def builtin(cls, name: str) -> DeviceMap:
        """A shipped profile by name (see :data:`BUILTIN_NAMES`)."""
        if name not in BUILTIN_NAMES:
            raise ConfigError(f"There is no built-in device profile {name!r}; choose one of {', '.join(BUILTIN_NAMES)}.")
        res = resources.files("engine").joinpath("data", "devices", f"{name}.toml")
        return cls._from_text(res.read_text("utf-8"), Path(str(res)))

    @classmethod
    def _from_text(cls, text: str, path: Path) -> DeviceMap:
        hazard = toml_hazard(text)  # what tomllib cannot take safely: refused before parsing
        if hazard is not None:
            raise ConfigError(f"Device profile {path} is not valid TOML: {hazard[2]} (at line {hazard[0]}, column "
                              f"{hazard[1]}).")
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"Device profile {path} is not valid TOML: {exc}.") from None
        except (ValueError, RecursionError, MemoryError):  # a number of thousands of digits
            raise ConfigError(f"Device profile {path} is not valid TOML: it holds a number too long to "
                              f"read.") from None
        return _Checker(text, path).build(data)

    # ------------------------------------------------------------------
    # Use

    def gain(self, velocity: int) -> float:
        """Gain 0..1 for a velocity 0–127 under this profile's curve."""
        if self.curve == "fixed":
            return self.gain_max
        x = min(max(int(velocity), 0), 127) / 127.0
        if self.curve == "soft":
            x = math.sqrt(x)
        elif self.curve == "hard":
            x = x * x
        return self.gain_min + (self.gain_max - self.gain_min) * x

    def lookup(self, note: int, velocity: int) -> NoteRole | None:
        """Role, sound and gain of a note, or None when the profile ignores it."""
        entry = self.notes.get(note)
        if entry is None:
            if self.unknown_notes != "drum_or_click" or not 0 <= note <= 127:
                return None
            sound = f"drum:{note}" if note in _GM_PERCUSSION_RANGE else _FALLBACK_SOUND
            entry = _Entry(f"note:{note}", sound)
        return NoteRole(note, entry.role, entry.sound, self.gain(velocity))

    def matches(self, port_name: str) -> bool:
        """Whether one of :attr:`match` is a case-insensitive substring of ``port_name``."""
        low = port_name.lower()
        return any(m in low for m in self.match)

    def sounds(self) -> set[str]:
        """Every sound request the profile names (for preloading the bank)."""
        return {e.sound for e in self.notes.values()}


def builtin_maps() -> list[DeviceMap]:
    """All shipped profiles, in :data:`BUILTIN_NAMES` order (generic last)."""
    return [DeviceMap.builtin(name) for name in BUILTIN_NAMES]


def map_for_port(port_name: str, maps: list[DeviceMap] | None = None) -> DeviceMap:
    """The first profile whose ``match`` hits ``port_name``, else the generic profile."""
    for dm in builtin_maps() if maps is None else maps:
        if dm.matches(port_name):
            return dm
    return DeviceMap.builtin("generic")


# --------------------------------------------------------------------------
# Checking


class _Checker:
    """Turns parsed TOML into a DeviceMap, with errors that point at the line."""

    def __init__(self, text: str, path: Path) -> None:
        self.lines = text.splitlines()
        self.path = path

    def line_of(self, key: str, section: str | None = None) -> int | None:
        """1-based line of ``key = ...`` (within ``[section]`` if given), best effort."""
        pat = re.compile(rf'^\s*"?{re.escape(key)}"?\s*=')
        in_section = section is None
        for i, line in enumerate(self.lines, 1):
            stripped = line.strip()
            if stripped.startswith("["):
                in_section = section is not None and stripped.strip("[]").strip() == section
                continue
            if in_section and pat.match(line):
                return i
        if section is not None:
            for i, line in enumerate(self.lines, 1):
                if line.strip().strip("[]").strip() == section:
                    return i
        return None

    def fail(self, field_name: str, problem: str, key: str | None = None, section: str | None = None) -> ConfigError:
        line = self.line_of(key or field_name.rsplit(".", 1)[-1], section)
        where = f"{self.path}, line {line}" if line else f"{self.path}"
        return ConfigError(f"Device profile {where}: field '{field_name}' {problem}.")

    def build(self, data: dict[str, Any]) -> DeviceMap:
        name = self.need(data, "name", str)
        match = data.get("match", [])
        if not isinstance(match, list) or not all(isinstance(m, str) and m.strip() for m in match):
            raise self.fail("match", "must be a list of port-name pieces in quotes, e.g. [\"td-11\"]")
        makes_own_sound = self.need(data, "makes_own_sound", bool)
        unknown = data.get("unknown_notes", "ignore")
        if unknown not in UNKNOWN_NOTE_POLICIES:
            raise self.fail("unknown_notes", f"must be one of {', '.join(UNKNOWN_NOTE_POLICIES)}")

        vel = data.get("velocity", {})
        if not isinstance(vel, dict):
            raise self.fail("velocity", "must be a table with curve, min and max")
        curve = vel.get("curve", "linear")
        if curve not in CURVES:
            raise self.fail("velocity.curve", f"must be one of {', '.join(CURVES)}", section="velocity")
        gains = []
        for key, default in (("min", 0.0), ("max", 1.0)):
            value = vel.get(key, default)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise self.fail(f"velocity.{key}", "must be a number from 0 to 1", section="velocity")
            gains.append(float(value))
        if gains[0] > gains[1]:
            raise self.fail("velocity.min", "must not be larger than velocity.max", section="velocity")

        notes: dict[int, _Entry] = {}
        table = data.get("notes", {})
        if not isinstance(table, dict):
            raise self.fail("notes", "must be a table of note numbers, e.g. 38 = { role = \"snare\", sound = \"drum:38\" }")
        for key, value in table.items():
            fname = f"notes.{key}"
            if not key.strip().isdigit() or not 0 <= int(key) <= 127:
                raise self.fail(fname, "is not a MIDI note number from 0 to 127", key=key, section="notes")
            if not isinstance(value, dict):
                raise self.fail(fname, "must be a table like { role = \"snare\", sound = \"drum:38\" }", key=key, section="notes")
            role = self.need(value, "role", str, prefix=fname, line_key=key, section="notes")
            sound = self.need(value, "sound", str, prefix=fname, line_key=key, section="notes")
            self.check_sound(sound, fname + ".sound", key, "notes")
            notes[int(key)] = _Entry(role, sound)

        ranges = data.get("ranges", [])
        if not isinstance(ranges, list):
            raise self.fail("ranges", "must be an array of tables ([[ranges]])")
        for i, rng in enumerate(ranges):
            fname = f"ranges[{i}]"
            if not isinstance(rng, dict):
                raise self.fail(fname, "must be a table with low, high, role and program", key="ranges")
            low = self.need_note(rng, "low", fname)
            high = self.need_note(rng, "high", fname)
            if low > high:
                raise self.fail(f"{fname}.low", "must not be above high", key="low", section="ranges")
            role = self.need(rng, "role", str, prefix=fname, section="ranges")
            program = rng.get("program", 0)
            if isinstance(program, bool) or not isinstance(program, int) or not 0 <= program <= 127:
                raise self.fail(f"{fname}.program", "must be a General MIDI program from 0 to 127", key="program", section="ranges")
            for n in range(low, high + 1):
                notes.setdefault(n, _Entry(role, f"program:{program}:{n}"))

        return DeviceMap(
            name=name,
            match=tuple(m.strip().lower() for m in match),
            makes_own_sound=makes_own_sound,
            curve=curve,
            gain_min=gains[0],
            gain_max=gains[1],
            unknown_notes=unknown,
            notes=notes,
            source=self.path,
        )

    def need(self, table: dict, key: str, kind: type, *, prefix: str = "", line_key: str | None = None,
             section: str | None = None) -> Any:
        fname = f"{prefix}.{key}" if prefix else key
        line_key = line_key or key
        if key not in table:
            raise self.fail(fname, "is missing", key=line_key, section=section)
        value = table[key]
        if kind is bool:
            ok = isinstance(value, bool)
        else:
            ok = isinstance(value, kind) and not isinstance(value, bool)
        if not ok or (kind is str and not value.strip()):
            want = {str: "text in quotes", bool: "true or false", int: "a whole number"}[kind]
            raise self.fail(fname, f"must be {want}", key=line_key, section=section)
        return value

    def need_note(self, table: dict, key: str, prefix: str) -> int:
        value = self.need(table, key, int, prefix=prefix, section="ranges")
        if not 0 <= value <= 127:
            raise self.fail(f"{prefix}.{key}", "must be a MIDI note number from 0 to 127", key=key, section="ranges")
        return value

    def check_sound(self, sound: str, fname: str, key: str, section: str) -> None:
        from engine.audio.soundbank import parse_request  # start-up: keeps numpy out of plain imports

        try:
            parse_request(sound)
        except ConfigError as exc:
            raise self.fail(fname, f"is not a sound Tandem knows ({exc})", key=key, section=section) from None
