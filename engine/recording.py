"""A session folder: the events (JSON Lines), the audio played, and a summary.

This is the first, small form of the session log (DESIGN.md, "The session log
is the truth"): a header line, then one line per event, flushed and fsynced in
small batches, so a crash loses at most the last batch and never what was
written before. Files are private to the user (0600 in a 0700 folder).
"""

from __future__ import annotations

import errno
import json
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import DataDirError
from engine.events import Event
from engine.paths import PRIVATE_FILE_MODE, ensure_private_dir

__all__ = ["SessionFolder"]

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _disk_error(path: Path, exc: OSError) -> DataDirError:
    if exc.errno == errno.ENOSPC:
        return DataDirError(f"The disk is full while writing {path}; everything recorded up to now is kept there. Free some space and start a new session.")
    return DataDirError(f"Tandem could not write {path} ({exc.strerror or exc}); everything recorded up to now is kept. Check the folder's permissions.")


def _private_open(path: Path, mode: str):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    return os.fdopen(fd, mode)


class SessionFolder:
    """One session's files under ``root/sessions/<child>/<start>-<name>/``.

    Parameters
    ----------
    root : Path
        The data directory (or ``--out``).
    child_id : str
        The child's pseudonymous id.
    name : str
        The script's or intervention's short name.
    batch : int
        Events buffered between fsyncs.
    """

    def __init__(self, root: Path, *, child_id: str, name: str, started: datetime | None = None,
                 batch: int = 64) -> None:
        started = started or datetime.now().astimezone()
        stamp = started.strftime("%Y%m%d-%H%M%S")
        base = ensure_private_dir(Path(root) / "sessions" / _SAFE.sub("_", child_id))
        path = base / f"{stamp}-{_SAFE.sub('_', name)}"
        n = 1
        while path.exists():
            n += 1
            path = base / f"{stamp}-{_SAFE.sub('_', name)}-{n}"
        self.path = ensure_private_dir(path)
        self.batch = batch
        self._pending: list[str] = []
        self._audio = None
        self._closed = False
        try:
            self._events = _private_open(self.path / "events.jsonl", "w")
        except OSError as exc:
            raise _disk_error(self.path / "events.jsonl", exc) from None

    @property
    def events_path(self) -> Path:
        return self.path / "events.jsonl"

    @property
    def audio_path(self) -> Path:
        return self.path / "audio.wav"

    def write_header(self, header: dict[str, Any]) -> None:
        self._pending.append(json.dumps({"type": "header", **header}, sort_keys=True))
        self.flush()

    def write_event(self, event: Event | dict[str, Any]) -> None:
        d = event.to_dict() if isinstance(event, Event) else event
        self._pending.append(json.dumps(d, sort_keys=True))
        if len(self._pending) >= self.batch:
            self.flush()

    def flush(self) -> None:
        """Write pending lines and fsync them."""
        if not self._pending:
            return
        try:
            self._events.write("\n".join(self._pending) + "\n")
            self._events.flush()
            os.fsync(self._events.fileno())
        except OSError as exc:
            raise _disk_error(self.events_path, exc) from None
        self._pending.clear()

    def open_audio(self, *, sample_rate: int, channels: int) -> None:
        import soundfile as sf

        try:
            fd = os.open(self.audio_path, os.O_RDWR | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
            self._audio_file = os.fdopen(fd, "w+b")
            self._audio = sf.SoundFile(self._audio_file, "w", samplerate=sample_rate, channels=channels,
                                       subtype="PCM_16", format="WAV")
        except OSError as exc:
            raise _disk_error(self.audio_path, exc) from None

    def write_audio(self, block: np.ndarray) -> None:
        try:
            self._audio.write(block)
        except (OSError, RuntimeError) as exc:
            raise _disk_error(self.audio_path, exc if isinstance(exc, OSError) else OSError(str(exc))) from None

    def write_json(self, name: str, data: dict[str, Any]) -> Path:
        path = self.path / name
        try:
            with _private_open(path, "w") as f:
                json.dump(data, f, indent=2, sort_keys=True)
                f.write("\n")
        except OSError as exc:
            raise _disk_error(path, exc) from None
        return path

    def close(self) -> None:
        """Flush everything and close the files. Safe twice."""
        if self._closed:
            return
        self._closed = True
        try:
            self.flush()
        finally:
            self._events.close()
            if self._audio is not None:
                self._audio.close()
                self._audio_file.close()
