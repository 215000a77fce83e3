"""Fuzz: the readers of records, scripts and plans, in-process (issue 18, item 8).

For damaged session logs (``events.jsonl`` and its ``summary.json``), scripts, plans and session indexes
(byte flips, truncations, deleted, doubled and swapped lines, values of another type or size, deep nesting,
special files in their place), every reader gives **a result or one sentence** (a
:class:`~engine.errors.TandemError`), never another exception or a hang, and nothing outside the data
folder changes. Seeds: ``tests/fixtures/fuzz/`` (see its README) and one log of today's engine. Helpers,
settings (``TANDEM_FUZZ=long``) and the tally: ``tests/fuzz_support.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests import fuzz_support as fs

LIB_TIMEOUT = 3.0  # a reader takes milliseconds on these inputs; a FIFO is caught by the watchdog at once
LIB_MEMORY = 768 << 20  # more than any of these inputs needs; /dev/zero read whole fails fast


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    with fs.sandbox_root(tmp_path_factory, "fuzz-records") as root:
        sb = fs.make_sandbox(root)
        work = sb.root / "libwork"
        shutil.copytree(fs.FIXTURE_SONGS, work / "content" / "songs")
        sb.current_log = fs.make_current_log(sb, work)
        yield sb


@pytest.fixture(autouse=True)
def _fuzz_env(request, sandbox, monkeypatch):
    fs.install_reporter(request.config)
    monkeypatch.setenv("TANDEM_CACHE", str(sandbox.cache))
    monkeypatch.setenv("TANDEM_DATA", str(sandbox.root / "no-data-here"))
    monkeypatch.delenv("TANDEM_DEBUG", raising=False)
    monkeypatch.chdir(sandbox.root / "libwork")
    with fs.shrink_budget():
        yield


def _strict_state(sb: fs.Sandbox) -> dict:
    state = {}
    for p in sb.strict_paths():
        state.update(fs.tree_state(p, contents=True))
    state.update(fs.tree_state(sb.root / "libwork", contents=True))
    return state


@contextlib.contextmanager
def _nothing_outside_changes(target: str, example: str, sb: fs.Sandbox):
    before = _strict_state(sb)
    yield
    changed = fs.tree_diff(before, _strict_state(sb))
    if changed:
        raise fs.fail(target, "changed outside the data folder", changed[0].split(" ")[0] + " " +
                      changed[0].split(" ")[1], "; ".join(changed[:5]), example)


# ----------------------------------------------------------------------------------------------------------
# The targets
# ----------------------------------------------------------------------------------------------------------

def _read_log(log: Path, data: Path, out: Path):
    from engine.records.reader import read_log

    return read_log(log)


def _peek_log(log: Path, data: Path, out: Path):
    from engine.records.reader import peek_log

    return peek_log(log)


def _rescore(log: Path, data: Path, out: Path):
    from engine.records.rescore import rescore

    return rescore(log)


def _list_sessions(log: Path, data: Path, out: Path):
    from engine.records.index import list_sessions

    return list_sessions(data)


def _report(log: Path, data: Path, out: Path):
    """What `tandem report C01 --format csv,json` runs: the child's records read back, the report built."""
    from engine.cli.report import cmd_report
    from engine.records.index import load_records

    return cmd_report(data, fs.CHILD, load_records, None, None, "csv,json", out, False, lambda line: None,
                      require_plan=False)


LOG_TARGETS = {"read_log": _read_log, "peek_log": _peek_log, "rescore": _rescore, "list_sessions": _list_sessions,
               "report": _report}
LOG_EXAMPLES = {"read_log": 200, "peek_log": 120, "rescore": 150, "list_sessions": 100, "report": 100}


def _check_result(target: str, value, data: Path, out: Path, example: str) -> None:
    """A result must be a correct one where the suite can tell."""
    if target == "list_sessions":
        on_disk = {str(p) for p in (data / "sessions").glob("*/*/events.jsonl")}
        listed = [row.get("path") for row in value]
        if sorted(listed) != sorted(on_disk):
            raise fs.fail(target, "wrong listing", "engine/records/index.py list_sessions",
                          f"listed {len(listed)} logs, {len(on_disk)} on disk (every log must be listed once, "
                          f"an unreadable one as such)", example)
        for row in value:
            bad = _row_type_problems(row)
            if bad:
                raise fs.fail(target, "wrong listing", "engine/records/index.py list_sessions",
                              f"row {row.get('path')}: {bad}", example)
    if target == "report":
        for name in ("trials.csv", "objectives.csv"):
            cells = fs.csv_formula_cells(out / name)
            if cells:
                raise fs.fail(target, "CSV cell a spreadsheet runs", "engine/reports/csvjson.py",
                              f"{name} has {len(cells)} cell(s) starting like a formula, e.g. {fs.short(cells[0], 80)!r}",
                              example)


def _row_type_problems(row: dict) -> str:
    """What a listing row has of the wrong type (its documented fields)."""
    bad = []
    for key in ("date", "child", "script", "title", "kind", "status", "id", "path"):
        if not isinstance(row.get(key), str):
            bad.append(f"{key} is {type(row.get(key)).__name__}")
    if not (row.get("trials") is None or isinstance(row.get("trials"), int) and not isinstance(row["trials"], bool)):
        bad.append(f"trials is {type(row.get('trials')).__name__} {fs.short(repr(row.get('trials')), 40)}")
    d = row.get("duration_s")
    if not (d is None or isinstance(d, (int, float)) and not isinstance(d, bool)):
        bad.append(f"duration_s is {type(d).__name__}")
    acts = row.get("activities")
    if not isinstance(acts, list) or not all(isinstance(a, dict) for a in acts):
        bad.append(f"activities is {type(acts).__name__}")
    for key in ("simulated", "probe"):
        if not isinstance(row.get(key), bool):
            bad.append(f"{key} is {type(row.get(key)).__name__}")
    return ", ".join(bad)


# ----------------------------------------------------------------------------------------------------------
# Seeds read whole (so the fuzzing starts from inputs that work)
# ----------------------------------------------------------------------------------------------------------

def test_seed_files_read_whole(sandbox, tmp_path):
    """Every seed log reads as completed, re-scores as identical, is listed and reported; the current engine
    wrote a log too."""
    from engine.records.reader import read_log
    from engine.records.rescore import rescore

    assert sandbox.current_log is not None, "tandem demo (today's engine) did not write a log to fuzz"
    data = sandbox.fresh_data(tmp_path)
    for folder in fs.log_seeds(data):
        rec = read_log(folder)
        assert rec.status == "completed", folder.name
        assert rec.trials, folder.name
        got = rescore(folder)
        assert got["identical"], (folder.name, got.get("plan_mismatch"), got.get("note"))
    for target, fn in LOG_TARGETS.items():
        call = fs.check_call(f"{target} (seed)", "the seed files", fn, fs.log_seeds(data)[0] / "events.jsonl",
                             data, tmp_path / "report", timeout=30)
        _check_result(target, call.value, data, tmp_path / "report", "the seed files")
        assert call.error is None, f"{target} refused a seed: {call.error}"


# ----------------------------------------------------------------------------------------------------------
# Damaged logs
# ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("target", list(LOG_TARGETS))
def test_damaged_log_gets_a_sentence_or_a_result(target, sandbox):
    """A log (and its summary.json) with bytes flipped, cut, lines deleted, doubled, swapped or added, values of
    another type or size: the reader returns or says one sentence; nothing outside the data folder changes."""
    fn = LOG_TARGETS[target]
    subs = sandbox.placeholder_map()

    @fs.fuzz_settings(LOG_EXAMPLES[target])
    @given(seed=st.integers(0, 3), ops=fs.log_mutations())
    def run(seed, ops):
        ex = sandbox.fresh_dir("log")
        try:
            data = sandbox.fresh_data(ex)
            folders = fs.log_seeds(data)
            folder = folders[seed % len(folders)]
            log = (folder / "events.jsonl").read_bytes()
            side_path = folder / "summary.json"
            side = side_path.read_bytes() if side_path.exists() else None
            new, new_side, did = fs.apply_log_ops(log, side, ops, subs)
            fs.write_log_case(folder, new, new_side)
            example = f"{folder.name}/events.jsonl: {fs.describe_ops(did)}"
            fs.note_example(example)
            out = ex / "report"
            with _nothing_outside_changes(target, example, sandbox):
                call = fs.check_call(target, example, fn, folder / "events.jsonl", data, out, timeout=LIB_TIMEOUT,
                                     fifos=sandbox.fifos, roots=[ex, sandbox.root], memory=LIB_MEMORY)
            if call.error is None:
                _check_result(target, call.value, data, out, example)
                _check_damage_told(target, call.value, folder / "events.jsonl",
                                   fs.expected_damage(log, new, new_side), example)
        finally:
            shutil.rmtree(ex, ignore_errors=True)

    run()


def _check_damage_told(target: str, value, log: Path, why: str | None, example: str) -> None:
    """A damaged log is never passed off as whole: read, peeked and listed as ``damaged``, re-scored as not
    identical (see :func:`tests.fuzz_support.expected_damage` for when the suite knows it is damaged)."""
    if why is None:
        return
    if target == "read_log":
        got = value.status
    elif target == "peek_log":
        got = value.get("status")
    elif target == "list_sessions":
        got = next((row.get("status") for row in value if row.get("path") == str(log)), None)
    elif target == "rescore":
        got = "damaged" if value.get("identical") is False else f"identical={value.get('identical')!r}"
    else:
        return
    if got != "damaged":
        raise fs.fail(target, "damage passed off as whole", f"{target}: {why}",
                      f"{why}, but {target} says {got!r}", example)
    fs.OUTCOMES[(target, "damage told")] += 1


# ----------------------------------------------------------------------------------------------------------
# Every field, every wrong type (a deterministic sweep)
# ----------------------------------------------------------------------------------------------------------

SWEEP = [("today's log", "read_log", ("header", "activity", "plan", "trial", "summary")),
         ("today's log", "rescore", ("activity", "plan", "trial")),
         ("echo-drums", "rescore", ("header", "activity", "plan", "trial"))]


@pytest.mark.parametrize("seed,target,kinds", SWEEP, ids=[f"{t}:{s}" for s, t, _ in SWEEP])
def test_every_field_of_another_type(seed, target, kinds, sandbox):
    """Each field of the first line of each kind (and of its nested tables: scores, params, the plan's
    objectives) set in turn to text, a 400-digit number, NaN, a list nested 300 deep and null: the reader
    returns or says one sentence. (Today's log is sealed, so each change also makes it damaged, and it is
    judged again from what it holds: the path that reads the most of it.)"""
    ex = sandbox.fresh_dir("sweep")
    failures: dict[str, str] = {}
    try:
        data = sandbox.fresh_data(ex)
        folders = fs.log_seeds(data)
        folder = folders[-1] if seed == "today's log" else next(f for f in folders if seed in f.name)
        log = folder / "events.jsonl"
        original = log.read_bytes()
        lines = original.split(b"\n")
        for kind in kinds:
            i = 0 if kind == "header" else fs._pick_line(lines, (kind, 0))
            if i is None or (kind != "header" and fs._line_type(lines[i]) != kind):
                continue
            for path in fs.sweep_paths(lines[i]):
                for label, snippet in fs.SWEEP_VALUES.items():
                    changed = list(lines)
                    try:
                        changed[i] = fs.set_json_path(lines[i], path, snippet)
                    except (KeyError, IndexError, TypeError, ValueError):
                        continue
                    log.write_bytes(b"\n".join(changed))
                    example = f"{folder.name}/events.jsonl line {i + 1} ({kind}): {'.'.join(map(str, path))} = {label}"
                    try:
                        fs.check_call(target, example, LOG_TARGETS[target], log, data, ex / "report",
                                      timeout=LIB_TIMEOUT, fifos=sandbox.fifos, roots=[ex, sandbox.root],
                                      memory=LIB_MEMORY)
                    except Exception as exc:  # noqa: BLE001 - the sweep goes on; every failure is listed
                        failures.setdefault(f"{type(exc).__name__}: {fs.short(exc, 160)}", example)
        log.write_bytes(original)
    finally:
        shutil.rmtree(ex, ignore_errors=True)
    assert not failures, f"{target} on {seed}: {len(failures)} distinct failures:\n  " + "\n  ".join(
        f"{msg}\n    input: {example}" for msg, example in failures.items())


# ----------------------------------------------------------------------------------------------------------
# Scripts and plans
# ----------------------------------------------------------------------------------------------------------

SCRIPT_SEEDS = sorted(p.name for p in (fs.REPO / "content" / "songs").glob("*.toml"))
FIXTURE_SCRIPTS = sorted((fs.REPO / "tests" / "fixtures" / "scripts").glob("*.toml"))


def _script_seed_text(k: int) -> tuple[str, bytes]:
    names = SCRIPT_SEEDS + [p.name for p in FIXTURE_SCRIPTS]
    name = names[k % len(names)]
    src = fs.REPO / "content" / "songs" / name
    if not src.exists():
        src = fs.REPO / "tests" / "fixtures" / "scripts" / name
    return name, src.read_bytes()


def _load_script_file(path: Path):
    from engine.interventions.script import load_script

    return load_script(path)


def _first_trial(script):
    """What a session does first with a script that checked: its kind built and the first trial planned."""
    from engine.interventions.kinds import make_kind

    kind = make_kind(script, seed=0)
    return kind.next_trial(0.0)


def test_damaged_script_gets_a_sentence_or_a_result(sandbox):
    """A script with values of another type or size, deep nesting, cut or flipped bytes: load_script returns a
    script or says one sentence per problem; a script it accepts builds its kind and plans a first trial."""
    subs = sandbox.placeholder_map()

    @fs.fuzz_settings(250)
    @given(seed=st.integers(0, 50), ops=fs.toml_mutations())
    def run(seed, ops):
        ex = sandbox.fresh_dir("script")
        try:
            songs = ex / "songs"
            shutil.copytree(sandbox.songs, songs)
            name, text = _script_seed_text(seed)
            new, did = fs.apply_toml_ops(text, ops, subs)
            path = songs / name
            path.write_bytes(new)
            example = f"{name}: {fs.describe_ops(did)}"
            fs.note_example(example)
            with _nothing_outside_changes("load_script", example, sandbox):
                call = fs.check_call("load_script", example, _load_script_file, path,
                                     timeout=LIB_TIMEOUT, fifos=sandbox.fifos, roots=[ex, sandbox.root],
                                     memory=LIB_MEMORY)
                if call.error is None:
                    fs.check_call("script: kind and first trial", example, _first_trial, call.value,
                                  timeout=LIB_TIMEOUT, fifos=sandbox.fifos, roots=[ex, sandbox.root],
                                  memory=LIB_MEMORY)
        finally:
            shutil.rmtree(ex, ignore_errors=True)

    run()


PLAN_SEEDS = [("C01", fs.FIXTURE_DATA / "plans" / "C01.toml"),
              *[(p.stem, p) for p in sorted((fs.REPO / "tests" / "fixtures" / "plans").glob("*.toml"))]]


def _plan_then_report(plan_file: Path, child: str, data: Path, out: Path):
    from engine.cli.report import cmd_report
    from engine.records.index import load_records

    return cmd_report(data, child, load_records, None, None, "csv,json", out, True, lambda line: None,
                      require_plan=True)


def test_damaged_plan_gets_a_sentence_or_a_result(sandbox):
    """A plan with values of another type or size, deep nesting, cut or flipped bytes: load_plan_file returns
    a plan or says one sentence per problem; a plan it accepts gives a report (csv, json) of the child."""
    from engine.records.plan import load_plan_file

    subs = sandbox.placeholder_map()

    @fs.fuzz_settings(120)
    @given(seed=st.integers(0, 5), ops=fs.toml_mutations())
    def run(seed, ops):
        ex = sandbox.fresh_dir("plan")
        try:
            data = sandbox.fresh_data(ex)
            child, src = PLAN_SEEDS[seed % len(PLAN_SEEDS)]
            new, did = fs.apply_toml_ops(src.read_bytes(), ops, subs)
            path = data / "plans" / f"{child}.toml"
            path.write_bytes(new)
            example = f"plans/{child}.toml: {fs.describe_ops(did)}"
            fs.note_example(example)
            out = ex / "report"
            with _nothing_outside_changes("load_plan_file", example, sandbox):
                call = fs.check_call("load_plan_file", example, load_plan_file, path, child, timeout=LIB_TIMEOUT,
                                     fifos=sandbox.fifos, roots=[ex, sandbox.root], memory=LIB_MEMORY)
                if call.error is None:
                    fs.check_call("plan: report with it", example, _plan_then_report, path, child, data, out,
                                  timeout=LIB_TIMEOUT * 3, fifos=sandbox.fifos, roots=[ex, sandbox.root],
                                  memory=LIB_MEMORY)
                    if child == fs.CHILD:
                        _check_result("report", None, data, out, example)
        finally:
            shutil.rmtree(ex, ignore_errors=True)

    run()


# ----------------------------------------------------------------------------------------------------------
# Damaged indexes
# ----------------------------------------------------------------------------------------------------------

def _load_records(data: Path):
    from engine.records.index import load_records

    return load_records(data, fs.CHILD)


def test_damaged_index_gets_a_sentence_or_a_result(sandbox):
    """index.sqlite (a valid cache of the logs beside it) with pages zeroed, bytes flipped, cut, rows of
    another type, tables dropped: the listing still lists every log on disk once, with values of the
    documented types; reading the child's records returns them or says one sentence."""
    from engine.records.index import list_sessions

    @fs.fuzz_settings(120)
    @given(ops=fs.index_mutations(), child=st.booleans(), current=st.booleans())
    def run(ops, child, current):
        ex = sandbox.fresh_dir("index")
        try:
            data = sandbox.fresh_data(ex)
            if current:
                fs.current_index(data)
            did = fs.apply_index_ops(data / "index.sqlite", ops)
            example = f"{'current' if current else 'seed'} index.sqlite: {fs.describe_ops(did)}"
            fs.note_example(example)
            with _nothing_outside_changes("list_sessions (damaged index)", example, sandbox):
                if child:
                    fs.check_call("load_records (damaged index)", example, _load_records, data,
                                  timeout=LIB_TIMEOUT, fifos=sandbox.fifos, roots=[ex, sandbox.root],
                                  memory=LIB_MEMORY)
                else:
                    call = fs.check_call("list_sessions (damaged index)", example, list_sessions, data,
                                         timeout=LIB_TIMEOUT, fifos=sandbox.fifos, roots=[ex, sandbox.root],
                                         memory=LIB_MEMORY)
                    if call.error is None:
                        _check_result("list_sessions", call.value, data, ex / "report", example)
        finally:
            shutil.rmtree(ex, ignore_errors=True)

    run()


# ----------------------------------------------------------------------------------------------------------
# Special files where a reader expects a regular one
# ----------------------------------------------------------------------------------------------------------

SPECIAL_KINDS = ("fifo", "zero", "null", "dir", "dangling", "link_outside")


def _place(sb: fs.Sandbox, data: Path, where: str, kind: str) -> tuple[Path, Path]:
    """Put the special file ``kind`` at ``where``; returns (the log to name, the path made special)."""
    special = sb.specials[kind]
    log = fs.log_seeds(data)[0] / "events.jsonl"

    def replace(p: Path) -> Path:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink(missing_ok=True)
        if kind == "dir":
            p.mkdir()
        else:
            os.symlink(special, p)
        return p

    if where == "the path given":
        return special, special
    if where == "events.jsonl":
        return log, replace(log)
    if where == "summary.json":  # read when the log has no summary line
        lines = [x for x in log.read_bytes().split(b"\n") if b'"type": "summary"' not in x]
        log.write_bytes(b"\n".join(lines))
        return log, replace(log.parent / "summary.json")
    if where == "index.sqlite":
        return log, replace(data / "index.sqlite")
    if where == "plans/C01.toml":
        return log, replace(data / "plans" / "C01.toml")
    if where == "the header's script":
        lines = log.read_bytes().split(b"\n")
        header = json.loads(lines[0])
        for key in ("script", "script_resolved"):
            header[key] = str(special)
        lines[0] = json.dumps(header).encode()
        for i, raw in enumerate(lines[1:], 1):  # the activity lines name it too
            if b'"type": "activity"' in raw:
                d = json.loads(raw)
                for key in ("script", "script_resolved"):
                    if key in d:
                        d[key] = str(special)
                lines[i] = json.dumps(d).encode()
        log.write_bytes(b"\n".join(lines))
        return log, special
    raise AssertionError(where)


def _load_script(log: Path, data: Path, out: Path):
    from engine.interventions.script import load_script

    return load_script(log)


def _load_plan_file(log: Path, data: Path, out: Path):
    from engine.records.plan import load_plan_file

    return load_plan_file(log, fs.CHILD)


SPECIAL_CASES = [
    *[("the path given", t) for t in ("read_log", "peek_log", "rescore", "load_script", "load_plan_file")],
    *[("events.jsonl", t) for t in ("list_sessions", "report")],
    ("summary.json", "read_log"), ("summary.json", "list_sessions"),
    ("index.sqlite", "list_sessions"), ("index.sqlite", "report"),
    ("plans/C01.toml", "report"),
    ("the header's script", "read_log"), ("the header's script", "rescore"), ("the header's script", "report"),
]
SPECIAL_TARGETS = {**LOG_TARGETS, "load_script": _load_script, "load_plan_file": _load_plan_file}


@pytest.mark.parametrize("where,target", SPECIAL_CASES, ids=[f"{t}:{w}" for w, t in SPECIAL_CASES])
def test_special_file_gets_a_sentence_or_a_result(where, target, sandbox):
    """A FIFO, /dev/zero, /dev/null, a folder, a dangling link or a link out of the data folder where a regular
    file is expected: one sentence or a result, at once (no hang, no reading forever), nothing outside changed
    (a linked index must not be rewritten)."""
    failures = []
    for kind in SPECIAL_KINDS:
        ex = sandbox.fresh_dir("special")
        try:
            data = sandbox.fresh_data(ex)
            log, made = _place(sandbox, data, where, kind)
            example = f"{where} is {kind} ({made} -> {sandbox.specials[kind]})"
            try:
                with _nothing_outside_changes(target, example, sandbox):
                    call = fs.check_call(target, example, SPECIAL_TARGETS[target], log, data, ex / "report",
                                         timeout=LIB_TIMEOUT, fifos=sandbox.fifos, roots=[ex, sandbox.root],
                                         memory=LIB_MEMORY)
                if call.error is None and target in ("list_sessions", "report"):
                    _check_result(target, call.value, data, ex / "report", example)
            except Exception as exc:  # noqa: BLE001 - every kind is tried; all failures are reported together
                failures.append(f"{kind}: {type(exc).__name__}: {fs.short(exc, 300)}")
        finally:
            shutil.rmtree(ex, ignore_errors=True)
    assert not failures, f"{target} with {where} a special file:\n  " + "\n  ".join(failures)
