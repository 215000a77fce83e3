"""The therapist's part of a visit's session note: Subjective, Assessment and Plan, signing, amendments.

A session note is written in SOAP form (docs/notes.md). Tandem writes the
**Objective** part from the visit's log, and a sentence per objective for the
**Assessment**; the therapist writes what only a person in the room knows:

* ``subjective``: what the therapist observed (affect, engagement, behaviour);
* ``assessment``: the therapist's own words beside Tandem's sentences;
* ``plan``: the plan for the next visit.

They live beside the log, in ``note.jsonl`` of the visit's folder: append-only
JSON Lines, one line per event, never rewritten:

* ``draft``: the parts as saved (before signing, every save is a new line and
  the latest counts);
* ``signed``: who signed and when, with the SHA-256 of the parts signed and of
  the visit's log (``log_sha256``), so a signature names exactly what it
  signed;
* ``amendment``: after signing, a change is an amendment: who, when, why and
  the parts it adds to; the signed text is never edited.

Each line carries ``prev``, the SHA-256 of the line before it (empty for the
first), so a line changed, removed or put in another order is found and
named (:attr:`ChartNote.damage`); a note with damage cannot be signed or
amended until it is looked at.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import hashlib
import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import ConfigError
from engine.fileread import read_bytes
from engine.text import one_line

__all__ = ["FIELDS", "FIELD_TITLES", "NOTE_FILE", "Amendment", "ChartNote", "Signature", "amend", "parts_hash",
           "read_note", "save_draft", "sign"]

NOTE_FILE = "note.jsonl"
"""The note's file in a visit's folder."""

FIELDS = ("subjective", "assessment", "plan")
"""The parts of a session note the therapist writes, in the note's order."""

FIELD_TITLES = {"subjective": "Subjective", "assessment": "Assessment", "plan": "Plan"}

MAX_PART_CHARS = 20_000
"""A part longer than this is refused (a note is read by people: about six pages of text)."""

_NOTE_LIMIT = 16 * 1024 * 1024  # bytes of note.jsonl read at most


@dataclass(frozen=True)
class Signature:
    """Who signed a note, when (ISO 8601 with offset), and the hashes of what was signed."""

    by: str
    at: str
    parts_sha256: str
    log_sha256: str


@dataclass(frozen=True)
class Amendment:
    """A change after signing: who, when, why, and the text it adds to each part it concerns."""

    by: str
    at: str
    why: str
    parts: dict[str, str]


@dataclass
class ChartNote:
    """A visit's note as the therapist wrote it (see the module docstring)."""

    parts: dict[str, str] = field(default_factory=lambda: dict.fromkeys(FIELDS, ""))
    signed: Signature | None = None
    amendments: list[Amendment] = field(default_factory=list)
    saved: int = 0  # draft lines
    last_saved: str | None = None
    last_saved_by: str | None = None
    damage: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(self.parts.values()) and not self.amendments

    def to_dict(self) -> dict[str, Any]:
        return {
            "parts": dict(self.parts),
            "signed": None if self.signed is None else {
                "by": self.signed.by, "at": self.signed.at, "parts_sha256": self.signed.parts_sha256,
                "log_sha256": self.signed.log_sha256},
            "amendments": [{"by": a.by, "at": a.at, "why": a.why, "parts": dict(a.parts)} for a in self.amendments],
            "saved": self.saved,
            "damage": list(self.damage),
        }


def parts_hash(parts: dict[str, str]) -> str:
    """SHA-256 of the parts as canonical JSON (sorted keys, UTF-8): what a signature names."""
    data = {k: parts.get(k, "") for k in FIELDS}
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _clean_parts(parts: dict[str, str | None]) -> dict[str, str]:
    out = {}
    for key, value in parts.items():
        if key not in FIELDS:
            raise ConfigError(f"A session note has no part '{key}'; its parts are {', '.join(FIELDS)}.")
        if value is None:
            continue
        if not isinstance(value, str):
            raise ConfigError(f"The note's {FIELD_TITLES[key]} must be text.")
        text = "\n".join(line.rstrip() for line in value.replace("\r\n", "\n").replace("\r", "\n").strip().split("\n"))
        if "\x00" in text:
            raise ConfigError(f"The note's {FIELD_TITLES[key]} holds a NUL character; write it as plain text.")
        if len(text) > MAX_PART_CHARS:
            raise ConfigError(f"The note's {FIELD_TITLES[key]} is {len(text)} characters long; a part holds at "
                              f"most {MAX_PART_CHARS}, so shorten it.")
        out[key] = text
    return out


def _name(value: str, what: str) -> str:
    name = one_line(value or "").strip() if isinstance(value, str) else ""
    if not name:
        raise ConfigError(f"Give {what}, e.g. --by \"Dana Reyes, MT-BC\".")
    if len(name) > 200:
        raise ConfigError(f"{what[0].upper() + what[1:]} is {len(name)} characters long; write at most 200.")
    return name


def read_note(folder: str | os.PathLike) -> ChartNote:
    """The note of the visit in ``folder`` (an empty note when none was written yet)."""
    path = Path(folder) / NOTE_FILE
    note = ChartNote()
    try:
        raw = read_bytes(path, what="session note", limit_bytes=_NOTE_LIMIT,
                         missing=f"{path}: no note yet.")
    except ConfigError:
        if path.exists() or path.is_symlink():
            note.damage.append("the note file cannot be read")
        return note
    prev = ""
    lines = raw.split(b"\n")
    if lines[-1] == b"":  # the newline that ends the last line (or an empty file, just made)
        lines.pop()
    for n, line in enumerate(lines, start=1):
        try:
            entry = json.loads(line)
        except ValueError:
            entry = None
        if not isinstance(entry, dict):
            note.damage.append(f"line {n} of the note is not whole")
            prev = hashlib.sha256(line).hexdigest()
            continue
        if entry.get("prev", "") != prev:
            note.damage.append(f"line {n} of the note does not follow the line before it (a line was changed, "
                               f"removed or moved)")
        prev = hashlib.sha256(line).hexdigest()
        kind = entry.get("type")
        parts = entry.get("parts") if isinstance(entry.get("parts"), dict) else {}
        parts = {k: str(v) for k, v in parts.items() if k in FIELDS and isinstance(v, str)}
        if kind == "draft":
            if note.signed is not None:
                note.damage.append(f"line {n} of the note edits it after it was signed")
                continue
            note.parts = {k: parts.get(k, "") for k in FIELDS}
            note.saved += 1
            note.last_saved, note.last_saved_by = str(entry.get("at") or ""), entry.get("by")
        elif kind == "signed":
            if note.signed is not None:
                note.damage.append(f"line {n} of the note signs it a second time")
                continue
            sig = Signature(str(entry.get("by") or ""), str(entry.get("at") or ""),
                            str(entry.get("parts_sha256") or ""), str(entry.get("log_sha256") or ""))
            if sig.parts_sha256 != parts_hash(note.parts):
                note.damage.append("the signed note is not the text that was signed")
            note.signed = sig
        elif kind == "amendment":
            if note.signed is None:
                note.damage.append(f"line {n} of the note amends it before it was signed")
            note.amendments.append(Amendment(str(entry.get("by") or ""), str(entry.get("at") or ""),
                                             str(entry.get("why") or ""), parts))
        else:
            note.damage.append(f"line {n} of the note is of an unknown kind")
    return note


def _append(folder: Path, make_entry: Callable[[ChartNote], dict[str, Any]]) -> None:
    """Append the line ``make_entry(note)`` makes from the note as it is now, under the note's lock
    (``make_entry`` raises ConfigError to refuse)."""
    path = folder / NOTE_FILE
    try:
        # O_NONBLOCK: a FIFO put in the note's place fails here instead of waiting for a reader for ever.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0),
                     0o600)
    except FileNotFoundError:
        raise ConfigError(f"{folder}: the visit's folder is gone, so its note cannot be written.") from None
    except OSError as exc:
        raise ConfigError(f"{path}: the note cannot be written ({exc.strerror or exc}).") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ConfigError(f"{path}: the note's place holds something that is not a file; move it away and "
                              f"write the note again.")
        fcntl.flock(fd, fcntl.LOCK_EX)
        note = read_note(folder)
        if note.damage:
            raise ConfigError(f"{path}: the note is not as it was written ({'; '.join(note.damage)}), so nothing "
                              f"more is added to it; keep a copy and look at it before you change it.")
        entry = make_entry(note)
        try:
            raw = path.read_bytes()
        except OSError:
            raw = b""
        last = raw.rstrip(b"\n").rsplit(b"\n", 1)[-1] if raw.strip() else b""
        entry = {**entry, "prev": hashlib.sha256(last).hexdigest() if last else ""}
        line = json.dumps(entry, ensure_ascii=False, sort_keys=True).encode() + b"\n"
        try:
            os.write(fd, line)
            os.fsync(fd)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise ConfigError(f"{path}: the disk is full, so the note was not saved; free some space and "
                                  f"save it again (what was saved before is kept).") from None
            raise ConfigError(f"{path}: the note was not saved ({exc.strerror or exc}).") from None
    finally:
        os.close(fd)


def _now(now: dt.datetime | None) -> str:
    return (now or dt.datetime.now().astimezone()).isoformat(timespec="seconds")


def save_draft(folder: str | os.PathLike, parts: dict[str, str | None], *, by: str | None = None,
               now: dt.datetime | None = None) -> ChartNote:
    """Save the note's parts (``None`` or a missing key: keep that part as it is) before it is signed.

    Raises
    ------
    ConfigError
        The note is signed (change it with :func:`amend`), a part is not text or too long, the disk is full.
    """
    folder = Path(folder)
    new = _clean_parts(parts)

    def entry(note: ChartNote) -> dict[str, Any]:
        if note.signed is not None:
            raise ConfigError(f"This note was signed by {note.signed.by} on {note.signed.at[:10]}, so it is not "
                              f"edited any more; add an amendment with --why \"...\" and --by NAME.")
        return {"type": "draft", "at": _now(now), "by": one_line(by).strip() if by else None,
                "parts": {k: new.get(k, note.parts.get(k, "")) for k in FIELDS}}

    _append(folder, entry)
    return read_note(folder)


def sign(folder: str | os.PathLike, *, by: str, log_sha256: str, now: dt.datetime | None = None) -> ChartNote:
    """Sign the note as it is now (its parts and the log's hash, named in the signature line).

    Raises
    ------
    ConfigError
        No name given, the note is already signed, or it has no Subjective part yet.
    """
    folder = Path(folder)
    name = _name(by, "the name of the therapist who signs")

    def entry(note: ChartNote) -> dict[str, Any]:
        if note.signed is not None:
            raise ConfigError(f"This note was already signed by {note.signed.by} on {note.signed.at[:10]}; a change "
                              f"now is an amendment (--why \"...\" --by NAME).")
        if not note.parts.get("subjective"):
            raise ConfigError("The note has no Subjective part yet (what you observed: affect, engagement, "
                              "behaviour); write it with `tandem note CHILD VISIT` before you sign.")
        return {"type": "signed", "at": _now(now), "by": name, "log_sha256": log_sha256,
                "parts_sha256": parts_hash(note.parts)}

    _append(folder, entry)
    return read_note(folder)


def amend(folder: str | os.PathLike, parts: dict[str, str | None], *, by: str, why: str,
          now: dt.datetime | None = None) -> ChartNote:
    """Add an amendment to a signed note: the text it adds to each part, who, when and why.

    Raises
    ------
    ConfigError
        The note is not signed yet (edit it instead), no name or reason given, or nothing to add.
    """
    folder = Path(folder)
    name = _name(by, "the name of the therapist who amends the note")
    reason = one_line(why or "").strip()
    if not reason:
        raise ConfigError("Say why the signed note is amended, e.g. --why \"the parent called after the visit\".")
    new = {k: v for k, v in _clean_parts(parts).items() if v}
    if not new:
        raise ConfigError("An amendment needs the text it adds (--subjective, --assessment or --plan).")

    def entry(note: ChartNote) -> dict[str, Any]:
        if note.signed is None:
            raise ConfigError("This note is not signed yet, so it is edited, not amended; leave out --why.")
        return {"type": "amendment", "at": _now(now), "by": name, "why": reason, "parts": new}

    _append(folder, entry)
    return read_note(folder)
