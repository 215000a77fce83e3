"""A session folder: the session log (JSON Lines), the audio played, and a summary.

The session log (DESIGN.md, "The session log is the truth") is written by
:class:`engine.records.log.LogWriter`: the session's thread puts each line
on a queue and a writer thread writes and fsyncs them in small batches, so
the session never waits for the disk and a crash loses at most the last
fraction of a second, never what was written before. The header line comes
first (:func:`engine.records.log.header_fields` adds the schema, the
script's hash, the therapist), then one line per event, and a session that
ends (completed or stopped) closes with a ``summary`` line
(:meth:`SessionFolder.write_summary`). Files are private to the user (0600
in a 0700 folder).
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from engine.events import Event
from engine.paths import PRIVATE_FILE_MODE, ensure_private_dir, write_private
from engine.records.log import LogWriter, disk_error, file_sha256, header_fields

__all__ = ["SessionFolder"]

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


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
        Kept for callers that pass it; the writer thread batches by itself.
    """

    def __init__(self, root: Path, *, child_id: str, name: str, started: datetime | None = None,
                 batch: int = 64) -> None:
        started = started or datetime.now().astimezone()
        stamp = started.strftime("%Y%m%d-%H%M%S")
        base = ensure_private_dir(Path(root) / "sessions" / _SAFE.sub("_", child_id))
        safe = _SAFE.sub("_", name)
        n = 1
        while True:  # made atomically: two visits started in the same second never share a folder
            path = base / (f"{stamp}-{safe}" if n == 1 else f"{stamp}-{safe}-{n}")
            try:
                os.mkdir(path, 0o700)
                break
            except FileExistsError:
                n += 1
            except OSError as exc:
                raise disk_error(path, exc) from None
        self.path = ensure_private_dir(path)
        self.root = Path(root)
        self.child_id = child_id
        self.batch = batch
        self._audio = None
        self._closed = False
        self._log = LogWriter(self.events_path, mode=PRIVATE_FILE_MODE)

    @property
    def events_path(self) -> Path:
        return self.path / "events.jsonl"

    @property
    def audio_path(self) -> Path:
        return self.path / "audio.wav"

    def write_header(self, header: dict[str, Any]) -> None:
        """The first line: ``header`` with the schema-2 fields filled in (:func:`header_fields`).

        ``plan_sha256`` is the child's plan file as it is now (``<root>/plans/<child>.toml``), so a
        report can tell which version of the plan a session ran under; None without a plan.
        """
        if "plan_sha256" not in header:
            plan = self.root / "plans" / f"{self.child_id}.toml"
            header = {**header, "plan_sha256": file_sha256(plan) if plan.is_file() else None}
        self._log.put(json.dumps({"type": "header", **header_fields(header)}, sort_keys=True))

    def write_event(self, event: Event | dict[str, Any]) -> None:
        """Queue one event or record (never waits for the disk).

        Raises
        ------
        DataDirError
            When the log could not be written (disk full, folder gone): one sentence.
        """
        d = event.to_dict() if isinstance(event, Event) else event
        self._log.put(json.dumps(d, sort_keys=True))

    def write_summary(self, summary: dict[str, Any]) -> None:
        """The closing ``summary`` line (status, ended, duration_s, trials, objectives), then flush."""
        self._log.put(json.dumps({"type": "summary", **summary}, sort_keys=True))
        self.flush()

    def flush(self) -> None:
        """Wait until every line queued so far is written and fsynced."""
        self._log.sync()

    def open_audio(self, *, sample_rate: int, channels: int) -> None:
        import soundfile as sf  # heavy (130 ms): only when a session records its audio

        try:
            fd = os.open(self.audio_path, os.O_RDWR | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
            self._audio_file = os.fdopen(fd, "w+b")
            self._audio = sf.SoundFile(self._audio_file, "w", samplerate=sample_rate, channels=channels,
                                       subtype="PCM_16", format="WAV")
        except OSError as exc:
            raise disk_error(self.audio_path, exc) from None

    def write_audio(self, block: np.ndarray) -> None:
        try:
            self._audio.write(block)
        except (OSError, RuntimeError) as exc:
            raise disk_error(self.audio_path, exc if isinstance(exc, OSError) else OSError(str(exc))) from None

    def write_json(self, name: str, data: dict[str, Any]) -> Path:
        """Write ``data`` as the file ``name`` in the folder (indented JSON, 0600, atomically); returns its path.

        Raises
        ------
        DataDirError
            When it cannot be written (one sentence).
        """
        path = self.path / name
        return write_private(path, json.dumps(data, indent=2, sort_keys=True) + "\n",
                             error=lambda exc: disk_error(path, exc))

    def close(self) -> None:
        """Write what is queued, fsync and close the files. Safe twice.

        Raises
        ------
        DataDirError
            If the log could not be written (what was written is kept).
        """
        if self._closed:
            return
        self._closed = True
        try:
            self._log.close()
        finally:
            if self._audio is not None:
                self._audio.close()
                self._audio_file.close()
