"""What ``tandem note`` does: the therapist's parts of a visit's session note, signing and amendments.

``tandem note CHILD [VISIT]`` opens the note's editable parts (Subjective,
Assessment, Plan) in the therapist's editor (``VISUAL``, ``EDITOR``, else
``nano`` or ``vi``), or takes them from ``--subjective``/``--assessment``/
``--plan`` or ``--from-file``; ``--show`` prints the note. ``tandem note sign
CHILD VISIT --by NAME`` signs it; after that a change is an amendment
(``--why`` and ``--by``), never an edit. After every change the note is
rendered again (HTML and PDF) to ``<data dir>/reports/CHILD/notes/`` or
``--out``. See docs/notes.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from engine.errors import ConfigError
from engine.fileread import TEXT_LIMIT, read_text
from engine.ids import check_child_id
from engine.paths import data_dir
from engine.records.index import load_records
from engine.records.model import SessionRecord
from engine.records.plan import load_plan, plan_path
from engine.records.reader import read_log_bytes
from engine.records.soap import FIELD_TITLES, FIELDS, ChartNote, amend, read_note, save_draft, sign
from engine.reports.build import build_note, session_started
from engine.text import one_line

__all__ = ["cmd_note", "find_visit", "parse_note_text", "run"]

Echo = Callable[[str], None]

_HEADING = re.compile(r"^##\s*(subjective|assessment|plan)\b.*$", re.IGNORECASE)


def _folder_name(r: SessionRecord) -> str:
    return Path(r.path).parent.name


def find_visit(records: Sequence[SessionRecord], visit: str | None, child: str) -> SessionRecord:
    """The visit a therapist named: its folder's name, a day (``YYYY-MM-DD``, one visit that day) or ``latest``;
    without one, the latest treatment visit (not simulated, not an assessment probe)."""
    ordered = sorted(records, key=lambda r: (session_started(r).timestamp(), str(r.path)))
    if not visit or visit == "latest":
        treatment = [r for r in ordered if not r.simulated and not r.probe]
        if not treatment:
            raise ConfigError(f"{child} has no treatment visit yet (simulated visits and assessment probes are not "
                              f"charted); name a visit's folder (`tandem sessions {child}`) to write its note anyway.")
        return treatment[-1]
    named = [r for r in ordered if _folder_name(r) == visit]
    if named:
        return named[0]
    try:
        day = dt.date.fromisoformat(visit)
    except ValueError:
        raise ConfigError(f"{child} has no visit '{visit}'; name it by its folder (`tandem sessions {child}` lists "
                          f"them) or by its day, YYYY-MM-DD.") from None
    on_day = [r for r in ordered if session_started(r).date() == day]
    if len(on_day) == 1:
        return on_day[0]
    if not on_day:
        raise ConfigError(f"{child} has no visit on {day}; `tandem sessions {child}` lists the visits.")
    names = ", ".join(_folder_name(r) for r in on_day)
    raise ConfigError(f"{child} has {len(on_day)} visits on {day} ({names}); name one by its folder.")


def parse_note_text(text: str) -> dict[str, str]:
    """The parts of a note written as text under ``## Subjective``, ``## Assessment`` and ``## Plan`` headings
    (lines starting with ``#`` are comments); a part without its heading is left as it is (not in the result)."""
    parts: dict[str, list[str]] = {}
    current: str | None = None
    for line in text.replace("\r\n", "\n").split("\n"):
        m = _HEADING.match(line.strip())
        if m:
            current = m.group(1).lower()
            parts[current] = []
        elif line.lstrip().startswith("#"):
            continue
        elif current is not None:
            parts[current].append(line)
    out = {k: "\n".join(v).strip() for k, v in parts.items()}
    if not parts and text.strip():
        raise ConfigError("The note's text has none of the headings ## Subjective, ## Assessment, ## Plan; write "
                          "each part under its heading.")
    return out


def _template(child: str, r: SessionRecord, note: ChartNote) -> str:
    when = f"{session_started(r):%a %d %b %Y, %H:%M}"
    head = [f"# Session note of {child}, visit of {when}: {one_line(r.title or Path(r.script).stem)}",
            "# Write each part under its heading. Lines that start with # are left out.",
            "# Tandem writes the Objective part, and a sentence per objective, from the visit's log."]
    hints = {"subjective": "what you observed: affect, engagement, behaviour, what the child or family said",
             "assessment": "your own words beside Tandem's sentence per objective (may stay empty)",
             "plan": "the plan for the next visit"}
    if note.signed is not None:
        head.append(f"# This note was signed by {note.signed.by} on {note.signed.at[:10]}: what you write now is "
                    f"added as an amendment, with your reason (--why).")
    body = []
    for key in FIELDS:
        body += ["", f"## {FIELD_TITLES[key]}", f"# {hints[key]}"]
        if note.signed is None and note.parts.get(key):
            body.append(note.parts[key])
    return "\n".join(head + body) + "\n"


def _editor() -> list[str]:
    for var in ("VISUAL", "EDITOR"):
        value = os.environ.get(var, "").strip()
        if value:
            return shlex.split(value)
    for name in ("nano", "vi"):
        if shutil.which(name):
            return [name]
    raise ConfigError("No text editor was found; set EDITOR, or give the parts with --subjective, --assessment "
                      "and --plan (or --from-file).")


def _edit(text: str) -> str:
    """The text after the therapist edited it (a private temporary file, removed after)."""
    fd, name = tempfile.mkstemp(prefix="tandem-note-", suffix=".md")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        try:
            done = subprocess.run([*_editor(), name], check=False)
        except OSError as exc:
            raise ConfigError(f"The editor could not be started ({exc.strerror or exc}); set EDITOR, or give the "
                              f"parts with --subjective, --assessment and --plan.") from None
        if done.returncode != 0:
            raise ConfigError(f"The editor ended with status {done.returncode}; nothing was saved.")
        return read_text(name, what="note", limit_bytes=TEXT_LIMIT)
    finally:
        Path(name).unlink(missing_ok=True)


def _show(child: str, r: SessionRecord, note: ChartNote, echo: Echo) -> None:
    echo(f"Session note of {child}, visit of {session_started(r):%a %d %b %Y, %H:%M} ({_folder_name(r)})"
         + (" — simulated visit, not a child's data" if r.simulated else ""))
    if note.signed is not None:
        echo(f"Signed by {note.signed.by} on {note.signed.at}.")
    else:
        echo("Not signed yet (sign it with `tandem note sign " + f"{child} {_folder_name(r)} --by NAME`).")
    for key in FIELDS:
        echo(f"{FIELD_TITLES[key]}: {note.parts.get(key) or '(not written)'}")
    for a in note.amendments:
        echo(f"Amendment by {a.by} on {a.at} (why: {a.why}):")
        for key, text in a.parts.items():
            echo(f"  {FIELD_TITLES[key]}: {text}")
    for d in note.damage:
        echo(f"warning: {d}.")


def cmd_note(root: str | os.PathLike, child: str, visit: str | None, *, echo: Echo, parts: dict[str, str | None],
             from_file: str | None = None, by: str | None = None, why: str | None = None, show: bool = False,
             do_sign: bool = False, out_dir: str | os.PathLike | None = None, as_json: bool = False,
             interactive: bool | None = None, render: bool = True, names: bool = False,
             records_loader: Callable[..., list[SessionRecord]] = load_records) -> int:
    """``tandem note CHILD [VISIT]`` and ``tandem note sign CHILD VISIT --by NAME`` (see the module docstring)."""
    root = Path(root)
    check_child_id(child)
    records = list(records_loader(root, child))
    r = find_visit(records, visit, child)
    folder = Path(r.path).parent
    note = read_note(folder)
    given = {k: v for k, v in parts.items() if v is not None}
    if from_file is not None:
        given.update(parse_note_text(read_text(from_file, what="note", limit_bytes=TEXT_LIMIT)))
    changed = False
    if do_sign:
        if given:
            raise ConfigError("Sign a note as it is: save its parts first (`tandem note CHILD VISIT`), then sign.")
        if r.simulated:
            raise ConfigError("This is a simulated visit (a simulated child played it, not a child's data): no "
                              "therapist signs its note.")
        if r.status == "running":
            raise ConfigError("This visit is still running; sign its note after it has ended.")
        log_sha = hashlib.sha256(read_log_bytes(Path(r.path))).hexdigest()
        note = sign(folder, by=by or "", log_sha256=log_sha)
        echo(f"Signed the note of {session_started(r):%d %b %Y, %H:%M} as {note.signed.by}; a change from now on "
             f"is an amendment (--why \"...\" --by NAME).")
        if r.status in ("damaged", "interrupted"):
            echo(f"note: this visit's log is {r.status}; the note says so beside the signature.")
        changed = True
    else:
        if not given and not show and (interactive if interactive is not None else sys.stdin.isatty()):
            if note.signed is not None and not (why and by):
                raise ConfigError(f"This note was signed by {note.signed.by} on {note.signed.at[:10]}; to add an "
                                  f"amendment give --why \"...\" and --by NAME.")
            given = parse_note_text(_edit(_template(child, r, note)))
            if note.signed is not None:
                given = {k: v for k, v in given.items() if v}
        if given:
            if note.signed is not None:
                if why is None:
                    raise ConfigError(f"This note was signed by {note.signed.by} on {note.signed.at[:10]}, so it is "
                                      f"not edited any more; add an amendment with --why \"...\" and --by NAME.")
                note = amend(folder, given, by=by or "", why=why)
                echo(f"Added an amendment to the note of {session_started(r):%d %b %Y, %H:%M}.")
            else:
                if why is not None:
                    raise ConfigError("This note is not signed yet, so it is edited, not amended; leave out --why.")
                note = save_draft(folder, given, by=by)
                echo(f"Saved the note of {session_started(r):%d %b %Y, %H:%M} (not signed yet).")
            changed = True
        elif not show and not as_json:
            echo("Nothing to change: give --subjective, --assessment or --plan, --from-file, or run it in a "
                 "terminal to open your editor; --show prints the note.")
    if as_json:
        print(json.dumps({"child": child, "visit": _folder_name(r), "started": r.started, "simulated": r.simulated,
                          "status": r.status, **note.to_dict()}, ensure_ascii=False, indent=2))
    elif show:
        _show(child, r, note, echo)
    if changed and render:
        plan = load_plan(root, child) if os.path.lexists(plan_path(root, child)) else None
        out = Path(out_dir) if out_dir is not None else root / "reports" / child / "notes"
        written = build_note(child, records, plan, r, out_dir=out, names=names)
        echo(f"Note: {', '.join(str(p) for p in written)}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.child == "sign":  # tandem note sign CHILD VISIT --by NAME
        if not args.visit or not args.extra:
            raise ConfigError("Name the child and the visit to sign: tandem note sign CHILD VISIT --by NAME.")
        if not args.by:
            raise ConfigError("Give the name of the therapist who signs: --by \"Name, MT-BC\".")
        check_child_id(args.visit)
        return cmd_note(data_dir(args.data_dir), args.visit, args.extra, echo=print, parts={}, by=args.by,
                        do_sign=True, out_dir=args.out, render=not args.no_render, names=args.names)
    if args.extra:
        raise ConfigError(f"tandem note takes a child and a visit, not also '{args.extra}'.")
    # With --json, stdout is the JSON alone: what was done is said on stderr.
    echo = (lambda line: print(line, file=sys.stderr)) if args.json else print
    return cmd_note(data_dir(args.data_dir), args.child, args.visit, echo=echo,
                    parts={"subjective": args.subjective, "assessment": args.assessment, "plan": args.plan},
                    from_file=args.from_file, by=args.by, why=args.why, show=args.show, out_dir=args.out,
                    as_json=args.json, render=not args.no_render, names=args.names)
