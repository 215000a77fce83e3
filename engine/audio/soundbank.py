"""The sound bank: every instrument a session needs, rendered once.

A script names its sounds as short request strings; :meth:`SoundBank.load`
turns each into a :class:`~engine.audio.sound.Sound` before the stream starts,
so the audio callback only ever copies ready-made arrays.

Request grammar (the name in the bank is the request string as given):

``click``, ``click:high``, ``click:low``
    Tandem's built-in click (:func:`engine.audio.synth.click`).
``tone:<note>[:<dur_ms>]``
    A built-in tone; ``<note>`` is a MIDI number (``69``) or a name (``A4``,
    ``C#5``, ``Bb3``; C4 = 60).
``noise_drum``
    A built-in noise drum.
``drum:<key>``
    General MIDI percussion (channel 10, bank 128) through FluidSynth; ``<key>``
    is a key number 35–81 or its snake_case name (``drum:76``,
    ``drum:hi_wood_block``), see :data:`GM_PERCUSSION`.
``program:<program>:<note>[:<dur_ms>]``
    One note of General MIDI melodic program 0–127 through FluidSynth
    (``program:0:C4:500`` is half a second of piano middle C).
``file:<path>``
    A WAV/FLAC sample, mixed to mono and resampled to the bank's rate.
    Relative paths are taken from the current directory.

FluidSynth renders offline (``Synth.get_samples``), never through its own
audio driver. When FluidSynth or a SoundFont is missing, ``drum:`` and
``program:`` sounds come from the built-in synthesiser instead and
:attr:`SoundBank.warnings` says so once. Rendered sounds are cached on disk
(one ``.npz`` per sound, keyed by everything that affects the samples), so a
second start reads them back in milliseconds without importing FluidSynth.
"""

from __future__ import annotations

import ctypes
import difflib
import hashlib
import io
import json
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import platformdirs

from engine.audio import synth
from engine.audio.audiofile import MAX_SAMPLE_SECONDS, AudioFileError, read_audio
from engine.audio.sound import Sound
from engine.errors import ConfigError, SoundBankError
from engine.fileread import SOUNDFONT_LIMIT, open_regular
from engine.paths import write_private

__all__ = [
    "GM_PERCUSSION",
    "RENDER_VERSION",
    "SOUNDFONT_ENV",
    "SoundBank",
    "SoundRequest",
    "SoundRequestError",
    "UnknownSoundError",
    "default_cache_dir",
    "default_soundfont",
    "parse_note",
    "parse_request",
]

RENDER_VERSION = 1
"""Bump whenever rendering changes what samples a request gives (invalidates the cache)."""

SOUNDFONT_ENV = "TANDEM_SOUNDFONT"
"""Environment variable naming the SoundFont to use."""

STANDARD_SOUNDFONTS = (
    Path("/usr/share/sounds/sf2/TimGM6mb.sf2"),  # Debian/Ubuntu timgm6mb-soundfont
    Path("/usr/share/sounds/sf2/default-GM.sf2"),  # Debian's alternatives link
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),  # Debian fluid-soundfont-gm
    Path("/usr/share/soundfonts/default.sf2"),  # Fedora, Arch
    Path("/usr/share/soundfonts/FluidR3_GM.sf2"),
    Path("/opt/homebrew/share/soundfonts/default.sf2"),  # Homebrew, Apple silicon
    Path("/opt/homebrew/share/fluid-synth/sf2/VintageDreamsWaves-v2.sf2"),  # Homebrew fluid-synth
    Path("/usr/local/share/soundfonts/default.sf2"),  # Homebrew, Intel
    Path("/usr/local/share/fluid-synth/sf2/VintageDreamsWaves-v2.sf2"),
)
"""Where :func:`default_soundfont` looks, in order, after ``$TANDEM_SOUNDFONT``."""

GM_PERCUSSION: dict[int, str] = {
    35: "acoustic_bass_drum",
    36: "bass_drum_1",
    37: "side_stick",
    38: "acoustic_snare",
    39: "hand_clap",
    40: "electric_snare",
    41: "low_floor_tom",
    42: "closed_hi_hat",
    43: "high_floor_tom",
    44: "pedal_hi_hat",
    45: "low_tom",
    46: "open_hi_hat",
    47: "low_mid_tom",
    48: "hi_mid_tom",
    49: "crash_cymbal_1",
    50: "high_tom",
    51: "ride_cymbal_1",
    52: "chinese_cymbal",
    53: "ride_bell",
    54: "tambourine",
    55: "splash_cymbal",
    56: "cowbell",
    57: "crash_cymbal_2",
    58: "vibraslap",
    59: "ride_cymbal_2",
    60: "hi_bongo",
    61: "low_bongo",
    62: "mute_hi_conga",
    63: "open_hi_conga",
    64: "low_conga",
    65: "high_timbale",
    66: "low_timbale",
    67: "high_agogo",
    68: "low_agogo",
    69: "cabasa",
    70: "maracas",
    71: "short_whistle",
    72: "long_whistle",
    73: "short_guiro",
    74: "long_guiro",
    75: "claves",
    76: "hi_wood_block",
    77: "low_wood_block",
    78: "mute_cuica",
    79: "open_cuica",
    80: "mute_triangle",
    81: "open_triangle",
}
"""General MIDI percussion key map (key number → snake_case name)."""

_GM_PERCUSSION_KEYS = {name: key for key, name in GM_PERCUSSION.items()}

VELOCITY = 100
"""MIDI velocity every FluidSynth sound is rendered at; the mixer applies gain."""

DEFAULT_NOTE_MS = 500.0
MAX_NOTE_MS = 10_000.0
_TAIL_CAP_S = 3.0  # longest ring after note-off (a crash cymbal needs ~2.5 s)
_SILENCE = 10.0 ** (-60.0 / 20.0)  # -60 dB below the sound's peak
_BLOCK_FRAMES = 1024
_END_FADE_MS = 3.0

# Built-in click pitches by variant (Hz).
_CLICK_HZ = {"": 2000.0, "high": 2800.0, "low": 1300.0}


class SoundRequestError(ConfigError, SoundBankError):
    """A sound request string is malformed (also a :class:`ValueError`)."""


class UnknownSoundError(SoundBankError, KeyError):
    """The sound bank has no sound of that name (also a :class:`KeyError`)."""


# --------------------------------------------------------------------------
# Requests


@dataclass(frozen=True)
class SoundRequest:
    """One parsed request.

    Attributes
    ----------
    text : str
        The request as given (the sound's name in the bank).
    kind : str
        ``"click"``, ``"tone"``, ``"noise_drum"``, ``"drum"``, ``"program"`` or ``"file"``.
    variant : str
        ``"high"``/``"low"``/``""`` for clicks.
    key : int
        GM percussion key (drums) or MIDI note (tones, programs).
    program : int
        GM program number 0–127 (programs).
    dur_ms : float
        Held length in milliseconds (tones, programs).
    path : Path or None
        Absolute path of a sample file.
    """

    text: str
    kind: str
    variant: str = ""
    key: int = 0
    program: int = 0
    dur_ms: float = 0.0
    path: Path | None = None

    @property
    def needs_soundfont(self) -> bool:
        """Whether FluidSynth and a SoundFont render it (else the fallback does)."""
        return self.kind in ("drum", "program")

    @property
    def canonical(self) -> str:
        """A spelling that is the same for equivalent requests (``drum:76`` = ``drum:hi_wood_block``)."""
        if self.kind == "click":
            return f"click:{self.variant}"
        if self.kind == "tone":
            return f"tone:{self.key}:{self.dur_ms:g}"
        if self.kind == "drum":
            return f"drum:{self.key}"
        if self.kind == "program":
            return f"program:{self.program}:{self.key}:{self.dur_ms:g}"
        if self.kind == "file":
            return f"file:{self.path}"
        return self.kind


_NOTE_RE = re.compile(r"^([A-Ga-g])([#b]?)(-?\d+)$")
_PITCH_CLASS = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}


def parse_note(text: str) -> int:
    """MIDI note number of ``"60"``, ``"C4"``, ``"A#3"`` or ``"Bb3"`` (C4 = 60, A4 = 69).

    Raises
    ------
    SoundRequestError
        If it is neither a number 0–127 nor a note name in that range.

    Examples
    --------
    >>> parse_note("A4"), parse_note("C#5"), parse_note("Bb3"), parse_note("60")
    (69, 73, 58, 60)
    """
    text = text.strip()
    if re.fullmatch(r"\d+", text):
        note = int(text)
    else:
        match = _NOTE_RE.match(text)
        if match is None:
            raise SoundRequestError(f"{text!r} is not a note; write a MIDI number 0-127 or a name like C4, A#3 or Bb3.")
        letter, accidental, octave = match.groups()
        note = 12 * (int(octave) + 1) + _PITCH_CLASS[letter.lower()] + {"#": 1, "b": -1, "": 0}[accidental]
    if not 0 <= note <= 127:
        raise SoundRequestError(f"The note {text!r} is outside the MIDI range (0-127, C-1 to G9).")
    return note


def _parse_dur_ms(text: str, request: str) -> float:
    try:
        dur_ms = float(text)
    except ValueError:
        dur_ms = math.nan
    if not 0.0 < dur_ms <= MAX_NOTE_MS:
        raise SoundRequestError(
            f"The duration in sound {request!r} must be a number of milliseconds from 1 to {MAX_NOTE_MS:.0f}."
        )
    return dur_ms


def _parse_drum(text: str, request: str) -> int:
    name = text.strip().lower().replace("-", "_").replace(" ", "_")
    if name.isdigit():
        key = int(name)
        if key not in GM_PERCUSSION:
            raise SoundRequestError(
                f"Sound {request!r}: drum keys are General MIDI percussion keys 35-81 (e.g. drum:76 = hi_wood_block)."
            )
        return key
    if name in _GM_PERCUSSION_KEYS:
        return _GM_PERCUSSION_KEYS[name]
    close = difflib.get_close_matches(name, list(_GM_PERCUSSION_KEYS), n=3)
    hint = f" Did you mean {' or '.join('drum:' + c for c in close)}?" if close else ""
    raise SoundRequestError(f"Sound {request!r} is not a General MIDI drum (e.g. drum:hi_wood_block or drum:76).{hint}")


def parse_request(text: str) -> SoundRequest:
    """Check one request string and say what it asks for.

    Parameters
    ----------
    text : str
        A request such as ``"click:high"``, ``"drum:side_stick"``,
        ``"program:0:C4:500"`` or ``"file:cue.wav"`` (see the module docstring).

    Returns
    -------
    SoundRequest

    Raises
    ------
    SoundRequestError
        With one sentence naming the request and what is wrong with it.

    Examples
    --------
    >>> parse_request("drum:hi_wood_block").key
    76
    >>> parse_request("program:0:C4").dur_ms
    500.0
    """
    if not isinstance(text, str):
        raise SoundRequestError(f"Sound requests are strings like 'click' or 'drum:76', got {text!r}.")
    head, _, rest = text.strip().partition(":")
    head = head.lower()
    parts = rest.split(":") if rest else []
    if head == "click":
        variant = rest.lower()
        if variant not in _CLICK_HZ:
            raise SoundRequestError(f"Sound {text!r}: a click is 'click', 'click:high' or 'click:low'.")
        return SoundRequest(text, "click", variant=variant)
    if head == "noise_drum":
        if rest:
            raise SoundRequestError(f"Sound {text!r}: 'noise_drum' takes no options.")
        return SoundRequest(text, "noise_drum")
    if head == "tone":
        if not 1 <= len(parts) <= 2:
            raise SoundRequestError(f"Sound {text!r}: write a tone as tone:<note>[:<dur_ms>], e.g. tone:A4:300.")
        dur_ms = _parse_dur_ms(parts[1], text) if len(parts) == 2 else DEFAULT_NOTE_MS
        return SoundRequest(text, "tone", key=parse_note(parts[0]), dur_ms=dur_ms)
    if head == "drum":
        if len(parts) != 1:
            raise SoundRequestError(f"Sound {text!r}: write a drum as drum:<key or name>, e.g. drum:hi_wood_block.")
        return SoundRequest(text, "drum", key=_parse_drum(parts[0], text))
    if head == "program":
        if not 2 <= len(parts) <= 3:
            raise SoundRequestError(
                f"Sound {text!r}: write an instrument note as program:<0-127>:<note>[:<dur_ms>], e.g. program:0:C4:500."
            )
        if not (parts[0].strip().isdigit() and 0 <= int(parts[0]) <= 127):
            raise SoundRequestError(f"Sound {text!r}: the General MIDI program must be a number from 0 to 127.")
        dur_ms = _parse_dur_ms(parts[2], text) if len(parts) == 3 else DEFAULT_NOTE_MS
        return SoundRequest(text, "program", program=int(parts[0]), key=parse_note(parts[1]), dur_ms=dur_ms)
    if head == "file":
        if not rest.strip():
            raise SoundRequestError(f"Sound {text!r}: write a sample as file:<path to a WAV or FLAC file>.")
        return SoundRequest(text, "file", path=Path(rest.strip()).expanduser().absolute())
    raise SoundRequestError(
        f"Sound {text!r} is not one Tandem knows; use click, tone:<note>, noise_drum, drum:<name>, "
        "program:<n>:<note> or file:<path>."
    )


# --------------------------------------------------------------------------
# Where things are


def default_soundfont() -> Path | None:
    """The SoundFont to use when none is given, or None if there is none.

    ``$TANDEM_SOUNDFONT`` if it names an existing file, else the first existing
    file of :data:`STANDARD_SOUNDFONTS` (Debian's ``TimGM6mb.sf2`` first).
    """
    env = os.environ.get(SOUNDFONT_ENV, "").strip()
    candidates = ([Path(env).expanduser()] if env else []) + list(STANDARD_SOUNDFONTS)
    for path in candidates:
        if os.path.isfile(path):  # False for a FIFO, a device, a name too long (is_file raises for that)
            return path
    return None


def default_cache_dir() -> Path:
    """Folder of the rendered-sound cache: ``<user cache dir>/tandem/sounds``."""
    return Path(platformdirs.user_cache_dir("tandem")) / "sounds"


def _no_soundfont_warning() -> str:
    env = os.environ.get(SOUNDFONT_ENV, "").strip()
    looked = f"${SOUNDFONT_ENV}={env}" if env else f"${SOUNDFONT_ENV} (not set)"
    return (
        f"No SoundFont found (looked for {looked}, {STANDARD_SOUNDFONTS[0]} and "
        f"{len(STANDARD_SOUNDFONTS) - 1} other standard places); using Tandem's built-in sounds. "
        f"Install timgm6mb-soundfont or set {SOUNDFONT_ENV}."
    )


def _file_fingerprint(path: Path) -> list:
    info = path.stat()
    return [str(path.resolve()), info.st_size, info.st_mtime_ns]


def _looks_like_soundfont(path: Path) -> bool:
    # FluidSynth hands a file that is not SF2 to libinstpatch, which prints
    # GLib criticals we cannot silence; check the RIFF header ourselves first,
    # of a regular file only (a FIFO would hang FluidSynth, a device feed it forever).
    try:
        fd, _ = open_regular(path, what="SoundFont", limit_bytes=SOUNDFONT_LIMIT, error=SoundBankError)
    except SoundBankError:
        return False
    try:
        header = os.read(fd, 12)
    except OSError:
        return False
    finally:
        os.close(fd)
    return header[:4] == b"RIFF" and header[8:12] == b"sfbk"


# --------------------------------------------------------------------------
# Rendering


class _FluidSynthUnavailable(Exception):
    """pyfluidsynth or libfluidsynth cannot be loaded."""


class _SoundFontUnreadable(Exception):
    """FluidSynth cannot load the SoundFont."""


def _import_fluidsynth():
    """Import pyfluidsynth (slow: ~40 ms, and it probes for libfluidsynth) only when needed."""
    try:
        import fluidsynth  # optional and slow: only when a SoundFont renders a sound
    except (ImportError, OSError) as exc:  # OSError: the library is found but cannot be loaded
        raise _FluidSynthUnavailable(str(exc) or type(exc).__name__) from exc
    try:
        # Silence FluidSynth's console messages at every level (panic..debug);
        # failures reach the user as Tandem's own sentences instead.
        set_log = fluidsynth._fl.fluid_set_log_function
        set_log.restype = ctypes.c_void_p
        set_log.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
        for level in range(5):
            set_log(level, None, None)
    except Exception:  # a binding without _fl: chatter is harmless, keep going
        pass
    return fluidsynth


class _FluidSynthRenderer:
    """One offline FluidSynth instance with the SoundFont loaded; renders notes one at a time."""

    def __init__(self, soundfont: Path, *, sample_rate: int) -> None:
        fluidsynth = _import_fluidsynth()
        if not _looks_like_soundfont(soundfont):
            raise _SoundFontUnreadable(str(soundfont))
        self.sample_rate = sample_rate
        self._synth = None
        try:
            # Dry (no reverb/chorus): cues stay crisp and their tails short.
            self._synth = fluidsynth.Synth(
                gain=1.0,
                samplerate=float(sample_rate),
                **{"synth.reverb.active": 0, "synth.chorus.active": 0},
            )
        except Exception as exc:  # a binding/library mismatch: fall back rather than stop the session
            raise _FluidSynthUnavailable(f"it could not start: {exc}") from exc
        self._sfid = self._synth.sfload(str(soundfont))
        if self._sfid < 0:
            self.close()
            raise _SoundFontUnreadable(str(soundfont))

    def close(self) -> None:
        if self._synth is not None:
            self._synth.delete()
            self._synth = None

    def render(self, request: SoundRequest) -> np.ndarray:
        """Render one ``drum:``/``program:`` request; an all-zero array if the SoundFont lacks it."""
        if request.kind == "drum":
            channel, bank, preset, held_frames = 9, 128, 0, None  # drums ring out, no note-off
        else:
            channel, bank, preset = 0, 0, request.program
            held_frames = max(1, round(self.sample_rate * request.dur_ms / 1000.0))
        if self._synth.program_select(channel, self._sfid, bank, preset) != 0:
            return np.zeros(0, dtype=np.float32)
        for gain in (1.0, 0.25, 0.0625):
            self._synth.setting("synth.gain", gain)
            stereo = self._play(channel, request.key, held_frames)
            # int16 output clips: render again quieter if it did.
            if stereo.size == 0 or int(np.abs(stereo.astype(np.int32)).max()) < 32767:
                break
        return _trim(stereo.reshape(-1, 2).mean(axis=1) / 32768.0, self.sample_rate)

    def _play(self, channel: int, key: int, held_frames: int | None) -> np.ndarray:
        blocks: list[np.ndarray] = []
        peak = 0
        frames = 0
        min_frames = round(0.05 * self.sample_rate)  # let slow attacks get going
        cap_frames = (held_frames or 0) + round(_TAIL_CAP_S * self.sample_rate)
        released = held_frames is None
        self._synth.noteon(channel, key, VELOCITY)
        while frames < cap_frames:
            if not released and frames >= held_frames:
                self._synth.noteoff(channel, key)
                released = True
            n = _BLOCK_FRAMES if released else min(_BLOCK_FRAMES, held_frames - frames)
            block = self._synth.get_samples(n)  # int16, interleaved stereo
            blocks.append(block)
            frames += n
            block_peak = int(np.abs(block.astype(np.int32)).max())
            peak = max(peak, block_peak)
            if released and frames >= min_frames and block_peak <= _SILENCE * peak:
                break
        if not released:
            self._synth.noteoff(channel, key)
        self._synth.all_sounds_off(channel)
        self._synth.get_samples(_BLOCK_FRAMES)  # flush, so the next note starts clean
        return np.concatenate(blocks)


def _trim(data: np.ndarray, sample_rate: int) -> np.ndarray:
    """Cut digital silence before the sound and the tail below -60 dB; scale to synth.PEAK.

    Only silence is cut from the front, never the onset itself, so the
    attack's position (``Sound.find_attack``) is exact.
    """
    data = np.asarray(data, dtype=np.float64)  # scale in float64 so the float32 peak stays <= PEAK
    mag = np.abs(data)
    peak = float(mag.max()) if mag.size else 0.0
    if peak <= 0.0:
        return np.zeros(0, dtype=np.float32)
    first = int(np.argmax(mag > 1e-4 * peak))
    last = len(data) - int(np.argmax(mag[::-1] > _SILENCE * peak))
    out = data[first:last] * (synth.PEAK / peak)
    fade = min(len(out), round(sample_rate * _END_FADE_MS / 1000.0))
    if fade > 1:
        out[-fade:] *= np.linspace(1.0, 0.0, fade)
    return np.ascontiguousarray(out, dtype=np.float32)


def _builtin_drum(key: int, sample_rate: int) -> np.ndarray:
    """The built-in stand-in for a GM percussion key.

    Wood blocks, claves, side stick, cowbell, agogos and triangles are clicks
    of different pitch and length; snares and claps are noise drums; kicks,
    toms, bongos, congas and timbales are noise drums with a low pitched
    body; cymbals, hi-hats and shakers are bright (high-passed) noise;
    whistles and cuicas are tones.
    """
    name = GM_PERCUSSION[key]
    top_hz = 0.4 * sample_rate

    def click(freq_hz: float, dur_ms: float) -> np.ndarray:
        return synth.click(sample_rate, freq_hz=min(freq_hz, top_hz), dur_ms=dur_ms)

    def membrane(body_hz: float, *, dur_ms: float, body_decay_ms: float, level: float) -> np.ndarray:
        return synth.noise_drum(
            sample_rate, dur_ms=dur_ms, decay_ms=12.0, lowpass_hz=min(3000.0, top_hz),
            body_hz=body_hz, body_decay_ms=body_decay_ms, body_level=level,
        )

    def bright(*, dur_ms: float, decay_ms: float, highpass_hz: float) -> np.ndarray:
        return synth.noise_drum(
            sample_rate, dur_ms=dur_ms, decay_ms=decay_ms, lowpass_hz=None,
            highpass_hz=min(highpass_hz, 0.3 * sample_rate), seed=key,
        )

    clicks = {
        "side_stick": (1600.0, 25.0), "claves": (2600.0, 50.0), "hi_wood_block": (2000.0, 40.0),
        "low_wood_block": (1400.0, 40.0), "cowbell": (800.0, 150.0), "high_agogo": (1000.0, 150.0),
        "low_agogo": (750.0, 150.0), "mute_triangle": (4000.0, 80.0), "open_triangle": (4000.0, 600.0),
        "ride_bell": (2100.0, 400.0),
    }
    membranes = {  # body Hz, length ms, body decay ms, body level
        "acoustic_bass_drum": (50.0, 300.0, 120.0, 3.0), "bass_drum_1": (60.0, 300.0, 110.0, 3.0),
        "low_floor_tom": (80.0, 350.0, 150.0, 2.0), "high_floor_tom": (95.0, 350.0, 150.0, 2.0),
        "low_tom": (110.0, 330.0, 140.0, 2.0), "low_mid_tom": (130.0, 300.0, 130.0, 2.0),
        "hi_mid_tom": (150.0, 300.0, 120.0, 2.0), "high_tom": (175.0, 280.0, 110.0, 2.0),
        "hi_bongo": (400.0, 150.0, 50.0, 1.5), "low_bongo": (300.0, 180.0, 60.0, 1.5),
        "mute_hi_conga": (330.0, 100.0, 25.0, 1.5), "open_hi_conga": (330.0, 250.0, 80.0, 1.5),
        "low_conga": (220.0, 250.0, 90.0, 1.5), "high_timbale": (420.0, 250.0, 90.0, 1.2),
        "low_timbale": (300.0, 250.0, 90.0, 1.2), "mute_cuica": (500.0, 120.0, 40.0, 1.5),
    }
    brights = {  # length ms, decay ms, high-pass Hz
        "closed_hi_hat": (60.0, 12.0, 7000.0), "pedal_hi_hat": (80.0, 15.0, 6000.0),
        "open_hi_hat": (400.0, 120.0, 6000.0), "crash_cymbal_1": (1200.0, 400.0, 4000.0),
        "crash_cymbal_2": (1200.0, 450.0, 3500.0), "ride_cymbal_1": (600.0, 200.0, 5000.0),
        "ride_cymbal_2": (600.0, 220.0, 4500.0), "chinese_cymbal": (900.0, 300.0, 3000.0),
        "splash_cymbal": (500.0, 150.0, 5000.0), "tambourine": (200.0, 50.0, 6000.0),
        "vibraslap": (600.0, 250.0, 3000.0), "cabasa": (100.0, 25.0, 5000.0),
        "maracas": (70.0, 15.0, 6000.0), "short_guiro": (100.0, 40.0, 1500.0),
        "long_guiro": (300.0, 150.0, 1500.0),
    }
    if name in clicks:
        return click(*clicks[name])
    if name in membranes:
        body_hz, dur_ms, body_decay_ms, level = membranes[name]
        return membrane(body_hz, dur_ms=dur_ms, body_decay_ms=body_decay_ms, level=level)
    if name in brights:
        dur_ms, decay_ms, highpass_hz = brights[name]
        return bright(dur_ms=dur_ms, decay_ms=decay_ms, highpass_hz=highpass_hz)
    if name in ("acoustic_snare", "electric_snare", "hand_clap"):
        clap = name == "hand_clap"
        return synth.noise_drum(
            sample_rate, dur_ms=180.0, decay_ms=25.0 if clap else 40.0,
            lowpass_hz=min(6000.0 if clap else 9000.0, top_hz), highpass_hz=800.0 if clap else None,
            body_hz=None if clap else (220.0 if name == "electric_snare" else 190.0),
            body_decay_ms=30.0, body_level=0.0 if clap else 0.6, seed=key,
        )
    # whistles and the open cuica
    note, dur_ms = {"short_whistle": (96, 100.0), "long_whistle": (96, 400.0), "open_cuica": (79, 200.0)}[name]
    while synth.midi_to_hz(note) >= 0.45 * sample_rate:
        note -= 12
    return synth.tone(sample_rate, midi_note=note, dur_ms=dur_ms, attack_ms=5.0, release_ms=60.0)


def _render_builtin(request: SoundRequest, *, sample_rate: int) -> np.ndarray:
    if request.kind == "click":
        return synth.click(sample_rate, freq_hz=min(_CLICK_HZ[request.variant], 0.4 * sample_rate))
    if request.kind == "noise_drum":
        return synth.noise_drum(sample_rate, lowpass_hz=min(8000.0, 0.45 * sample_rate))
    if request.kind == "drum":
        return _builtin_drum(request.key, sample_rate)
    # tone, or the stand-in for a program note
    note = request.key
    if synth.midi_to_hz(note) >= 0.45 * sample_rate:
        raise SoundBankError(f"Sound {request.text!r} is too high for a sample rate of {sample_rate} Hz.")
    release_ms = 80.0 if request.kind == "tone" else 150.0
    return synth.tone(sample_rate, midi_note=note, dur_ms=request.dur_ms, attack_ms=5.0, release_ms=release_ms)


def _read_sample_file(path: Path, *, sample_rate: int) -> np.ndarray:
    """Read an audio file as float32 mono at ``sample_rate``, peak-limited to full scale."""
    try:
        mono = read_audio(path, mono=True, sample_rate=sample_rate, what="sample file",
                          max_seconds=MAX_SAMPLE_SECONDS).samples
    except AudioFileError as exc:
        raise SoundBankError(str(exc)) from None
    peak = float(np.max(np.abs(mono)))
    if peak > 1.0:  # float files may exceed full scale; Sound promises [-1, 1]
        mono = mono / peak
    return np.ascontiguousarray(mono, dtype=np.float32)


def _render(request: SoundRequest, *, sample_rate: int, fluid: _FluidSynthRenderer | None) -> tuple[np.ndarray, str]:
    """Samples for one request and where they came from (``fluidsynth``, ``builtin``, ``file``).

    The single entry point of every rendering, so a cached load can be
    checked to render nothing.
    """
    if request.kind == "file":
        return _read_sample_file(request.path, sample_rate=sample_rate), "file"
    if request.needs_soundfont and fluid is not None:
        return fluid.render(request), "fluidsynth"
    return _render_builtin(request, sample_rate=sample_rate), "builtin"


# --------------------------------------------------------------------------
# Cache


class _Cache:
    """Rendered sounds on disk, one ``<sha256>.npz`` per (request, rate, source, renderer version)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.write_error: str | None = None

    @staticmethod
    def key(request: SoundRequest, *, sample_rate: int, source: str, fingerprint: list | None) -> str:
        ident = {
            "request": request.canonical,
            "sample_rate": sample_rate,
            "source": source,
            "input": fingerprint,  # SoundFont or sample file: path, size, mtime
            "render_version": RENDER_VERSION,
        }
        return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()

    def get(self, key: str) -> tuple[np.ndarray, str] | None:
        """The cached samples and source, or None if absent or unusable (then it is re-rendered)."""
        path = self.directory / f"{key}.npz"
        try:
            with np.load(path, allow_pickle=False) as npz:
                if str(npz["key"]) != key:
                    return None
                data = np.ascontiguousarray(npz["data"], dtype=np.float32)
                source = str(npz["source"])
        except FileNotFoundError:
            return None
        except Exception:  # truncated, corrupt or foreign file: render again
            return None
        if data.ndim != 1 or not np.all(np.isfinite(data)):
            return None
        return data, source

    def put(self, key: str, data: np.ndarray, source: str) -> None:
        """Store atomically (:func:`engine.paths.write_private`); a failure only costs speed next time."""
        if self.write_error is not None:
            return
        npz = io.BytesIO()
        np.savez(npz, data=data, source=np.str_(source), key=np.str_(key))
        try:
            # The OSError as it is (error=): its reason goes into the bank's warning.
            write_private(self.directory / f"{key}.npz", npz.getvalue(), error=lambda exc: exc)
        except OSError as exc:
            self.write_error = f"{exc.strerror or exc}"


# --------------------------------------------------------------------------
# The bank


class SoundBank:
    """Named, rendered sounds for one sample rate; build it with :meth:`load`.

    Examples
    --------
    >>> bank = SoundBank.load(["click", "drum:hi_wood_block"], sample_rate=48000)  # doctest: +SKIP
    >>> bank.source, bank.warnings  # doctest: +SKIP
    ('mixed', [])
    """

    def __init__(
        self,
        sounds: Mapping[str, Sound],
        *,
        sample_rate: int,
        sources: Mapping[str, str] | None = None,
        warnings: Iterable[str] = (),
        soundfont: Path | None = None,
    ) -> None:
        self._sounds = dict(sounds)
        self.sample_rate = int(sample_rate)
        self._sources = dict(sources or {})
        self._warnings = list(warnings)
        self.soundfont = soundfont
        """The SoundFont that ``drum:``/``program:`` sounds were meant to come from (None: none found)."""

    @classmethod
    def load(
        cls,
        requests: Iterable[str],
        *,
        sample_rate: int,
        soundfont: str | os.PathLike | None = None,
        cache_dir: Path | None = None,
    ) -> SoundBank:
        """Render (or read from the cache) every requested sound.

        Parameters
        ----------
        requests : iterable of str
            Request strings (see the module docstring); duplicates are loaded once.
        sample_rate : int
            The stream's sample rate in Hz; every sound is rendered at it.
        soundfont : str, path or None
            A General MIDI SoundFont (.sf2) for ``drum:``/``program:`` sounds.
            None: :func:`default_soundfont`, or the built-in sounds (with one
            warning) if there is none.
        cache_dir : Path or None
            Where rendered sounds are kept (default :func:`default_cache_dir`).

        Returns
        -------
        SoundBank

        Raises
        ------
        SoundRequestError
            A request is malformed (before anything is rendered).
        SoundBankError
            An explicitly given SoundFont is missing or unreadable, or a sample
            file is missing or not audio.
        ConfigError
            The sample rate is not a positive integer.
        """
        if isinstance(requests, str):  # one request, not an iterable of characters
            requests = [requests]
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
            raise ConfigError(f"The sample rate must be a positive whole number of Hz, got {sample_rate!r}.")
        sample_rate = int(sample_rate)
        parsed = list({r.text: r for r in map(parse_request, requests)}.values())
        loader = _Loader(
            sample_rate=sample_rate,
            soundfont=soundfont,
            cache=_Cache(Path(cache_dir) if cache_dir is not None else default_cache_dir()),
            needs_soundfont=any(r.needs_soundfont for r in parsed),
        )
        try:
            for request in parsed:
                loader.load(request)
        finally:
            loader.close()
        return cls(
            loader.sounds,
            sample_rate=sample_rate,
            sources=loader.sources,
            warnings=loader.warnings,
            soundfont=loader.soundfont,
        )

    def __getitem__(self, name: str) -> Sound:
        try:
            return self._sounds[name]
        except KeyError:
            loaded = ", ".join(self._sounds) or "none"
            raise UnknownSoundError(f"No sound named {name!r} was loaded (loaded: {loaded}).") from None

    def __contains__(self, name: object) -> bool:
        return name in self._sounds

    def __iter__(self) -> Iterator[str]:
        return iter(self._sounds)

    def __len__(self) -> int:
        return len(self._sounds)

    def __repr__(self) -> str:
        return f"SoundBank({len(self)} sounds at {self.sample_rate} Hz, source={self.source!r})"

    @property
    def names(self) -> list[str]:
        """The sounds' names (their request strings), in request order."""
        return list(self._sounds)

    @property
    def sources(self) -> dict[str, str]:
        """Where each sound came from: ``"fluidsynth"``, ``"builtin"`` or ``"file"``."""
        return dict(self._sources)

    @property
    def source(self) -> str:
        """``"fluidsynth"``, ``"builtin"`` (or ``"file"``) if every sound came from there, else ``"mixed"``.

        An empty bank counts as ``"builtin"``.
        """
        kinds = set(self._sources.values())
        if not kinds:
            return "builtin"
        return kinds.pop() if len(kinds) == 1 else "mixed"

    @property
    def warnings(self) -> list[str]:
        """Plain sentences about degraded sounds (e.g. the built-in fallback), for the user."""
        return list(self._warnings)


class _Loader:
    """The state of one :meth:`SoundBank.load`: SoundFont choice, lazy FluidSynth, cache, warnings."""

    def __init__(self, *, sample_rate: int, soundfont, cache: _Cache, needs_soundfont: bool) -> None:
        self.sample_rate = sample_rate
        self.cache = cache
        self.sounds: dict[str, Sound] = {}
        self.sources: dict[str, str] = {}
        self.warnings: list[str] = []
        self._fluid: _FluidSynthRenderer | None = None
        self._fallback_warning: str | None = None  # set once FluidSynth is known to be unusable
        self._explicit = soundfont is not None
        self.soundfont: Path | None = None
        self._soundfont_fingerprint: list | None = None
        if not needs_soundfont:
            return
        if self._explicit:
            path = Path(soundfont).expanduser()
            fd, _ = open_regular(path, what="SoundFont", limit_bytes=SOUNDFONT_LIMIT, error=SoundBankError,
                                 missing=f"The SoundFont {path} does not exist; check the path, or leave it out to "
                                         f"use the default SoundFont.")  # a device or a FIFO: one sentence, no hang
            os.close(fd)
        else:
            path = default_soundfont()
            if path is None:
                self._fallback(_no_soundfont_warning())
                return
        try:
            self._soundfont_fingerprint = _file_fingerprint(path)
        except OSError:
            self._unreadable_soundfont(path)
            return
        self.soundfont = path

    def close(self) -> None:
        if self._fluid is not None:
            self._fluid.close()
            self._fluid = None

    def _fallback(self, warning: str) -> None:
        if self._fallback_warning is None:
            self._fallback_warning = warning
            self.warnings.append(warning)

    def _unreadable_soundfont(self, path: Path) -> None:
        if self._explicit:
            raise SoundBankError(
                f"The SoundFont {path} could not be read; check that it is a General MIDI .sf2 file, or leave it out."
            )
        self._fallback(
            f"The SoundFont {path} could not be read; using Tandem's built-in sounds. "
            f"Reinstall it or set {SOUNDFONT_ENV} to another SoundFont."
        )
        self.soundfont = None

    def _renderer(self) -> _FluidSynthRenderer | None:
        """FluidSynth with the SoundFont loaded, started on first need; None when it is unusable."""
        if self._fluid is None and self._fallback_warning is None and self.soundfont is not None:
            try:
                self._fluid = _FluidSynthRenderer(self.soundfont, sample_rate=self.sample_rate)
            except _FluidSynthUnavailable as exc:
                self._fallback(
                    f"FluidSynth could not be loaded ({exc}); using Tandem's built-in sounds. "
                    "Install libfluidsynth3 (fluid-synth on macOS) and pyfluidsynth."
                )
            except _SoundFontUnreadable:
                self._unreadable_soundfont(self.soundfont)
        return self._fluid

    def load(self, request: SoundRequest) -> None:
        if request.kind == "file":
            if not os.path.lexists(request.path):
                raise SoundBankError(f"The sample file {request.path} does not exist; check the path in the script.")
            try:
                fingerprint = _file_fingerprint(request.path) if os.path.isfile(request.path) else None
            except (OSError, ValueError):
                fingerprint = None
            if fingerprint is None:  # a folder, a device, a FIFO, a broken link: the reader says which
                _read_sample_file(request.path, sample_rate=self.sample_rate)
                raise SoundBankError(f"The sample file {request.path} changed while it was read; try again.")
            self._load_cached(request, "file", fingerprint)
            return
        if request.needs_soundfont and self.soundfont is not None and self._fallback_warning is None:
            key = self.cache.key(
                request, sample_rate=self.sample_rate, source="fluidsynth", fingerprint=self._soundfont_fingerprint
            )
            hit = self.cache.get(key)
            if hit is not None:
                self._add(request, *hit)
                return
            fluid = self._renderer()
            if fluid is not None:
                data, source = _render(request, sample_rate=self.sample_rate, fluid=fluid)
                if data.size:
                    self._store(key, data, source)
                    self._add(request, data, source)
                    return
                self.warnings.append(
                    f"The SoundFont {self.soundfont} has no sound for {request.text!r}; using Tandem's built-in one."
                )
        self._load_cached(request, "builtin", None)

    def _load_cached(self, request: SoundRequest, source: str, fingerprint: list | None) -> None:
        """A built-in or sample-file sound, from the cache or rendered now."""
        key = self.cache.key(request, sample_rate=self.sample_rate, source=source, fingerprint=fingerprint)
        hit = self.cache.get(key)
        if hit is None:
            hit = _render(request, sample_rate=self.sample_rate, fluid=None)
            self._store(key, *hit)
        self._add(request, *hit)

    def _store(self, key: str, data: np.ndarray, source: str) -> None:
        had_error = self.cache.write_error is not None
        self.cache.put(key, data, source)
        if self.cache.write_error is not None and not had_error:
            self.warnings.append(
                f"Could not save rendered sounds in {self.cache.directory} ({self.cache.write_error}); "
                "they will be rendered again next time."
            )

    def _add(self, request: SoundRequest, data: np.ndarray, source: str) -> None:
        self.sounds[request.text] = Sound(
            name=request.text, data=data, sample_rate=self.sample_rate, attack_frames=Sound.find_attack(data)
        )
        self.sources[request.text] = source
