"""The package's exceptions.

Every error a therapist can cause or meet (a missing device, a bad script, a
missing SoundFont, an unwritable folder) is a :class:`TandemError` whose
message is one plain sentence saying what happened and what to do. The command
line prints that sentence and exits non-zero; it never shows a traceback.
Subclasses that have an obvious built-in counterpart also derive from it, as
python-rtmidi does (``InvalidPortError(RtMidiError, ValueError)``).
"""

__all__ = [
    "TandemError",
    "AudioDeviceError",
    "SoundBankError",
    "DataDirError",
    "ConfigError",
]


class TandemError(Exception):
    """Base of every error Tandem raises on purpose."""


class AudioDeviceError(TandemError, OSError):
    """An audio device is missing, refuses a setting, or vanished."""


class SoundBankError(TandemError, OSError):
    """A sound could not be rendered or loaded."""


class DataDirError(TandemError, OSError):
    """The data directory cannot be created or written."""


class ConfigError(TandemError, ValueError):
    """A setting or argument has a value Tandem cannot use."""
