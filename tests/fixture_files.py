"""The plan and the scripts that tests share, from tests/fixtures/, with the few fields a test changes.

A test builds the variant it needs from one of these texts instead of pasting a copy:
``script_text("rig-echo", trials=6)``, ``plan_text("C07", objectives={"quick": None})``.
Deleting a field the fixture lacks, or setting one it has twice, is an error, not a silent no-op.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

from engine.interventions.script import FIELDS
from engine.records.plan import plan_path

__all__ = ["FIXTURES", "objective_text", "plan_text", "script_text", "write_plan"]

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _toml(value) -> str:
    """``value`` as TOML: text, true/false, a number, a date, a list of these, or a table of them (inline)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):  # an inline table, e.g. an objective's level
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(f"{value!r} has no TOML form here")


def script_text(name: str, /, *, phrases: list[dict] | None = None, **fields) -> str:
    """The script tests/fixtures/scripts/``name``.toml with ``fields`` set.

    Each ``key=value`` replaces the one line ``key = ...`` (``None`` deletes it); a top-level
    field the fixture leaves out (``duration_min``, ``grid``) is added before its first table.
    ``phrases``: the ``[[phrases]]`` tables instead of the fixture's, each a dict of its fields.
    """
    lines = (FIXTURES / "scripts" / f"{name}.toml").read_text("utf-8").splitlines()
    if phrases is not None:
        lines = _with_phrases(lines, phrases)
    for key, value in fields.items():
        at = _lines_of(lines, key, 0, len(lines))
        if len(at) > 1:
            raise ValueError(f"{name}.toml sets {key} {len(at)} times: change it with phrases= or by hand")
        if at:
            _set(lines, at[0], key, value)
        elif value is not None and key in FIELDS["script"]:
            first_table = next(i for i, line in enumerate(lines) if line.startswith("["))
            while first_table and not lines[first_table - 1].strip():
                first_table -= 1
            lines.insert(first_table, f"{key} = {_toml(value)}")
        else:
            raise KeyError(f"{name}.toml has no line '{key} = ...'")
    return "\n".join(lines) + "\n"


def objective_text(objective_id: str, metric: str, *, aggregate: str = "mean", comparator: str = ">=",
                   threshold: float = 70, min_trials: int | None = None) -> str:
    """A script's ``[[objectives]]`` table: ``metric`` aggregated over the session against ``threshold``.

    Its lines come in this order (id on the table's 2nd line, metric on its 3rd): tests of a bad
    metric assert the line it is on. ``min_trials``: the fewest counted trials it is judged on (default 5).
    """
    return "\n".join(["[[objectives]]", f"id = {_toml(objective_id)}", f"metric = {_toml(metric)}",
                      f"aggregate = {_toml(aggregate)}", f"comparator = {_toml(comparator)}",
                      f"threshold = {_toml(threshold)}"]
                     + ([f"min_trials = {min_trials}"] if min_trials is not None else [])) + "\n"


def plan_text(child: str = "C07", /, *, phases: dict | None = None, objectives: dict | None = None) -> str:
    """The plan tests/fixtures/plans/``child``.toml, with some of its entries changed.

    ``phases`` (by name) and ``objectives`` (by id) map an entry to the fields to set in it
    (``None`` deletes a field; a field it lacks is added at its end), or to ``None``: the entry
    is left out. ``objectives={"quick": {"id": "fast", "threshold": 400}}``.
    """
    lines = (FIXTURES / "plans" / f"{child}.toml").read_text("utf-8").splitlines()
    for header, key, edits in (("[[phases]]", "name", phases), ("[[goals.objectives]]", "id", objectives)):
        for name, fields in (edits or {}).items():
            start, end = _entry(lines, header, f"{key} = {_toml(name)}")
            if fields is None:
                # the entry and the blank line after it (the last entry: the blank line before it)
                if end < len(lines) and not lines[end].strip():
                    end += 1
                elif start and not lines[start - 1].strip():
                    start -= 1
                del lines[start:end]
                continue
            for field, value in fields.items():
                at = _lines_of(lines, field, start, end)
                if at:
                    _set(lines, at[0], field, value)
                    if value is None:
                        end -= 1
                elif value is None:
                    raise KeyError(f"the entry {name!r} of {child}.toml has no line '{field} = ...'")
                else:
                    lines.insert(end, f"{field} = {_toml(value)}")
                    end += 1
    return "\n".join(lines) + "\n"


def write_plan(root: Path, child: str = "C07", text: str | None = None) -> Path:
    """Write ``text`` (the fixture plan of ``child`` when None) where Tandem keeps ``child``'s plan."""
    path = plan_path(root, child)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(plan_text(child) if text is None else text, "utf-8")
    return path


def _lines_of(lines: list[str], key: str, start: int, end: int) -> list[int]:
    pattern = re.compile(rf"{re.escape(key)}\s*=")
    return [i for i in range(start, end) if pattern.match(lines[i])]


def _set(lines: list[str], i: int, key: str, value) -> None:
    if value is None:
        del lines[i]
    else:
        lines[i] = f"{key} = {_toml(value)}"


def _entry(lines: list[str], header: str, key_line: str) -> tuple[int, int]:
    """Where the one ``header`` entry holding ``key_line`` is: from its header to its first blank line."""
    found = []
    for start, line in enumerate(lines):
        if line == header:
            end = next((i for i in range(start + 1, len(lines)) if not lines[i].strip() or lines[i].startswith("[")),
                       len(lines))
            if key_line in lines[start + 1:end]:
                found.append((start, end))
    if len(found) != 1:
        raise KeyError(f"{len(found)} {header} entries have '{key_line}'")
    return found[0]


def _with_phrases(lines: list[str], phrases: list[dict]) -> list[str]:
    """``lines`` with every ``[[phrases]]`` table (its blank lines after it kept) replaced by ``phrases``."""
    tables = [line for phrase in phrases
              for line in ["[[phrases]]", *(f"{k} = {_toml(v)}" for k, v in phrase.items())]]
    if "[[phrases]]" not in lines:
        raise KeyError("the fixture has no [[phrases]] to replace")
    out: list[str] = []
    i = 0
    while i < len(lines):
        if lines[i] != "[[phrases]]":
            out.append(lines[i])
            i += 1
            continue
        if tables:
            out += tables
            tables = []
        i += 1
        while i < len(lines) and not lines[i].startswith("[") and lines[i].strip():
            i += 1
    return out
