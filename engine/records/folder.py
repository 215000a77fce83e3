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

import contextlib
import errno
import json
import os
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import DataDirError
from engine.events import Event
from engine.ids import check_child_id
from engine.paths import PRIVATE_FILE_MODE, ensure_private_dir, fsync_dir, write_private
from engine.records.log import LogWriter, disk_error, file_sha256, header_fields

__all__ = ["SessionFolder"]

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")

AUDIO_HEADER_S = 0.5
"""Seconds of audio between two updates of ``audio.wav``'s header (what a kill can leave out of it)."""

_SFC_UPDATE_HEADER_NOW = 0x1060  # libsndfile's sf_command: write the header for the frames written so far


class _AudioSink:
    """``audio.wav`` as libsndfile writes it (soundfile's virtual I/O): an unbuffered file that keeps its
    first :class:`OSError` instead of raising it.

    libsndfile calls these methods from C: an exception raised there is
    printed as a traceback and lost, and libsndfile goes on as if nothing
    happened. Here a failed write reports the bytes it did write (fewer than
    asked), the error is kept in :attr:`error`, and :class:`SessionFolder`
    raises it as one sentence. Unbuffered, so a seek never writes (and fails)
    behind libsndfile's back.
    """

    def __init__(self, file) -> None:
        self.file = file
        self.error: OSError | None = None

    def write(self, data) -> int:
        # Tried even after an error: the final header (44 bytes over the first ones, no new space needed) still
        # fits on a full disk, and then says how much audio the file holds.
        view = memoryview(data).cast("B")
        done = 0
        try:
            while done < len(view):
                n = self.file.write(view[done:])
                if not n:
                    raise OSError(errno.EIO, "nothing could be written")
                done += n
        except OSError as exc:
            self.error = self.error or exc
        return done

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        try:
            return self.file.seek(offset, whence)
        except OSError as exc:
            self.error = self.error or exc
            return self.file.tell()

    def tell(self) -> int:
        return self.file.tell()

    def read(self, size: int = -1) -> bytes:
        try:
            return self.file.read(size)
        except OSError as exc:
            self.error = self.error or exc
            return b""

    def fileno(self) -> int:
        return self.file.fileno()

    def close(self) -> None:
        self.file.close()


def _header_updater(sf: Any, audio: Any) -> Callable[[], None] | None:
    """A function that writes ``audio``'s WAV header for the frames written so far (libsndfile's
    ``SFC_UPDATE_HEADER_NOW``, through soundfile's handle on it); None if this soundfile has no such handle."""
    snd, ffi, handle = getattr(sf, "_snd", None), getattr(sf, "_ffi", None), getattr(audio, "_file", None)
    if snd is None or ffi is None or handle is None or not hasattr(snd, "sf_command"):
        return None
    return lambda: snd.sf_command(handle, _SFC_UPDATE_HEADER_NOW, ffi.NULL, 0)


def _identity(folder: Path) -> tuple[int, int] | None:
    """The folder's device and inode (None when it is gone)."""
    try:
        st = os.stat(folder)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _audio_error(path: Path, exc: BaseException) -> DataDirError:
    """One sentence for ``audio.wav`` that could not be written (:func:`disk_error`'s); libsndfile's own words
    (a :class:`RuntimeError`) only inside it, never its traceback."""
    if not isinstance(exc, OSError):
        exc = OSError(errno.EIO, f"the sound library said: {str(exc).strip() or type(exc).__name__}")
    return disk_error(path, exc)


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
        base = ensure_private_dir(Path(root) / "sessions" / check_child_id(child_id))
        safe = _SAFE.sub("_", name)
        n = 1
        while True:  # made atomically: two visits started in the same second never share a folder
            path = base / (f"{stamp}-{safe}" if n == 1 else f"{stamp}-{safe}-{n}")
            try:
                os.mkdir(path, 0o700)
                fsync_dir(base)  # the new folder's name survives a power cut
                break
            except FileExistsError:
                n += 1
            except OSError as exc:
                raise disk_error(path, exc) from None
        self.path = ensure_private_dir(path)
        self._folder_id = _identity(self.path)  # to tell, at close, a folder removed (or made again) meanwhile
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
        """The closing ``summary`` line (status, ended, duration_s, trials, objectives, and the seal: the
        count and SHA-256 of the lines before it), then flush. Nothing is written to the log after it."""
        self._log.put_closing(summary)
        self.flush()

    def flush(self) -> None:
        """Wait until every line queued so far is written and fsynced."""
        self._log.sync()

    def open_audio(self, *, sample_rate: int, channels: int) -> None:
        """Start ``audio.wav`` (PCM 16-bit WAV, 0600 from its first byte): what is played, as
        :meth:`write_audio` hands it over.

        The WAV header is brought up to date every :data:`AUDIO_HEADER_S` of
        audio, not only at :meth:`close`, so after a kill or a power cut a
        strict reader finds all but the last fraction of a second.

        Raises
        ------
        DataDirError
            When the file cannot be made or its header written (one sentence; no empty file is left).
        """
        import soundfile as sf  # heavy (130 ms): only when a session records its audio

        try:
            fd = os.open(self.audio_path, os.O_RDWR | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
        except OSError as exc:
            raise _audio_error(self.audio_path, exc) from None
        sink = _AudioSink(os.fdopen(fd, "r+b", buffering=0))
        try:
            audio = sf.SoundFile(sink, "w", samplerate=sample_rate, channels=channels, subtype="PCM_16",
                                 format="WAV")
        except (OSError, RuntimeError) as exc:  # soundfile's LibsndfileError is a RuntimeError
            sink.close()
            with contextlib.suppress(OSError):
                self.audio_path.unlink()
            raise _audio_error(self.audio_path, sink.error or exc) from None
        if sink.error is not None:  # the header could not be written (libsndfile does not say): the file holds nothing
            with contextlib.suppress(Exception):
                audio.close()
            sink.close()
            with contextlib.suppress(OSError):
                self.audio_path.unlink()
            raise _audio_error(self.audio_path, sink.error)
        self._audio, self._audio_sink = audio, sink
        self._audio_header = _header_updater(sf, audio)
        self._audio_header_every = max(1, int(AUDIO_HEADER_S * sample_rate))
        self._audio_since_header = 0
        if self._audio_header is not None:
            # libsndfile's first header gives the RIFF chunk a size of 8, which strict readers refuse: from the
            # start, the file is a whole WAV with no frames.
            self._audio_header()
            if sink.error is not None:
                raise self._audio_failed(sink.error)

    def write_audio(self, block: np.ndarray) -> None:
        """Append ``block`` (frames × channels) to ``audio.wav``; the header is updated every :data:`AUDIO_HEADER_S`.

        Raises
        ------
        DataDirError
            When it cannot be written (a full disk, a folder gone): one sentence, what was written is kept.
        """
        if self._audio is None:
            return  # it failed before, and said so: nothing more is written to it
        try:
            self._audio.write(block)
            self._audio_since_header += len(block)
            if self._audio_since_header >= self._audio_header_every and self._audio_header is not None:
                self._audio_since_header = 0
                self._audio_header()
        except (OSError, RuntimeError, AssertionError) as exc:  # soundfile asserts all frames were written
            raise self._audio_failed(exc) from None
        if self._audio_sink.error is not None:
            raise self._audio_failed(self._audio_sink.error)

    def _audio_failed(self, exc: BaseException) -> DataDirError:
        """Stop writing ``audio.wav`` after a failed write (what is in it is kept, its header as last written)
        and say so in one sentence."""
        audio, sink = self._audio, self._audio_sink
        self._audio = None
        with contextlib.suppress(Exception):
            audio.close()  # its final header, if the disk still takes 44 bytes
        with contextlib.suppress(OSError):
            sink.close()
        self._audio_sink = None
        return _audio_error(self.audio_path, sink.error or exc)

    def _close_audio(self) -> DataDirError | None:
        """Close ``audio.wav`` with its final header, fsynced; the error to raise, if any (one sentence)."""
        audio, sink = self._audio, self._audio_sink
        self._audio, self._audio_sink = None, None
        problem: BaseException | None = None
        try:
            audio.close()  # the final header
        except (OSError, RuntimeError, AssertionError) as exc:
            problem = exc
        try:
            if problem is None and sink.error is None:
                os.fsync(sink.fileno())
        except OSError as exc:
            problem = exc
        finally:
            with contextlib.suppress(OSError):
                sink.close()
        if problem is None and sink.error is None:
            return None
        return _audio_error(self.audio_path, sink.error or problem)

    def write_json(self, name: str, data: dict[str, Any]) -> Path:
        """Write ``data`` as the file ``name`` in the folder (indented JSON, 0600, atomically); returns its path.

        Raises
        ------
        DataDirError
            When it cannot be written (one sentence).
        """
        path = self.path / name
        return write_private(path, json.dumps(data, indent=2, sort_keys=True) + "\n",
                             error=lambda exc: disk_error(path, exc), make_folder=False)

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
        audio_error = None
        failed = True
        try:
            self._log.close()
            failed = False
        finally:
            if self._audio is not None:  # the log's own error, if any, is the one raised
                audio_error = self._close_audio()
            if failed or audio_error is not None:
                self._drop_empty_files()
        if _identity(self.path) != self._folder_id:
            # Gone, or gone and made again (empty) by a later write: what the session wrote went with it.
            raise DataDirError(f"The folder {self.path} was removed or moved while Tandem was writing to it, so what "
                               f"this session recorded there is gone; check the data folder (--data-dir, "
                               f"TANDEM_DATA) and start a new session.")
        if audio_error is not None:
            raise audio_error

    def _drop_empty_files(self) -> None:
        """Remove the empty files a session that failed before its first line left (a full disk, a folder that
        could not be written), and then the folder if nothing is left in it: an empty log would be listed as
        damaged for good, and holds nothing to keep."""
        for path in (self.events_path, self.audio_path):
            with contextlib.suppress(OSError):
                if path.lstat().st_size == 0:
                    path.unlink()
        with contextlib.suppress(OSError):
            self.path.rmdir()  # only when empty
