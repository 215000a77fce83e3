"""Fuzz: the ``tandem`` command line with hostile arguments (issue 18, item 8).

Random argument lists are drawn from the real parser (:func:`engine.cli.main.build_parser`, walked
command by command, option by option) with values from hostile strategies: empty, ``..``, ``a/b``, a
newline, NaN, -1, 0, 10**400, 5000 digits, text that is not UTF-8 (surrogate escapes), /dev/zero, a FIFO,
a folder, links out of the data folder, paths that others share. The property, per input:

- the exit code is 0, 1 or 2 (2: a usage error or a sentence), never 70 (an internal error: in-process the
  suite sets ``TANDEM_DEBUG=1`` so the exception itself, with its place in the engine, is seen), never a
  hang (a timer; a watchdog sees a FIFO opened and unblocks it);
- stderr has no traceback and no "internal error"; nothing printed carries raw control characters;
- nothing outside the temporary data folder changes: the repository's content/, the seed files, the
  sandbox's read-only files (contents, modes, times), the user's own data folder; paths named to options
  that write (``--out``, ``--screenshot``) keep their modes; anything new there is private to the user.

Commands that play or record on devices (``run``, ``calibrate``, a live ``assess``) are only parsed.
``demo``, ``homepack``, ``assess --simulate`` and ``onsets`` run, fewer times (seconds each). Most inputs
run in-process (``engine.cli.main.main(argv)``), every command with ``--data-dir`` in the sandbox and
``TANDEM_DATA`` set; a few run as real processes (non-UTF-8 bytes, a closed stdout, a broken pipe).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests import fuzz_support as fs

CLI_TIMEOUT = 10.0  # the fast commands take well under a second
SLOW_TIMEOUT = 25.0  # demo, homepack, assess --simulate, onsets: seconds (first imports included)
CLI_MEMORY = 2 << 30


# ----------------------------------------------------------------------------------------------------------
# The commands, from the parser
# ----------------------------------------------------------------------------------------------------------

@dataclass
class Opt:
    flag: str
    dest: str
    takes_value: bool
    choices: tuple | None
    type_name: str
    required: bool = False


@dataclass
class Spec:
    path: tuple[str, ...]
    positionals: list[tuple[str, object]] = field(default_factory=list)
    options: list[Opt] = field(default_factory=list)

    @property
    def name(self) -> str:
        return " ".join(self.path) or "(no command)"


def command_specs() -> dict[tuple[str, ...], Spec]:
    """Every command and subcommand of ``tandem``: its positionals and options (help and version left out)."""
    from engine.cli.main import build_parser

    out: dict[tuple[str, ...], Spec] = {}

    def walk(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> None:
        spec = Spec(path)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, (*path, name))
                continue
            if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
                continue
            if not action.option_strings:
                spec.positionals.append((action.dest, action.nargs))
                continue
            type_name = getattr(action.type, "__name__", "") if action.type else "str"
            spec.options.append(Opt(action.option_strings[-1], action.dest, action.nargs != 0,
                                    tuple(action.choices) if action.choices else None, type_name,
                                    bool(action.required)))
        out[path] = spec

    walk(build_parser(), ())
    return out


SPECS = command_specs()
PARSE_ONLY = {("run",), ("calibrate",)}  # devices; a live `assess` too (see _runs)
SLOW = {("demo",), ("homepack",), ("assess",), ("onsets",)}
FAST = [p for p in SPECS if p not in PARSE_ONLY and p not in SLOW]


# ----------------------------------------------------------------------------------------------------------
# Hostile values (placeholders @...@ are the sandbox's paths, resolved per input)
# ----------------------------------------------------------------------------------------------------------

GENERAL = ["", " ", ".", "..", "../..", "a/b", "a\nb", "NaN", "nan", "inf", "-inf", "-1", "0", "1e308",
           "1" + "0" * 400, "-" + "9" * 400, "9" * 5000, "0x10", "1_000", "\udcff\udcfe", "é", "\x1b[31mred",
           "=HYPERLINK(\"http://x\",\"y\")", "-x", "--", "C01", "x" * 5000, "\t", "a b", "٣"]
READ_SPECIAL = ["/dev/zero", "/dev/null", "/", "@FIFO@", "@ZERO@", "@NULL@", "@DIR@", "@DANGLING@", "@LINK_OUTSIDE@",
                "@OUTSIDE@", "@OUTSIDE_DB@"]
WRITE_VALUES = ["out", "out/sub", "shot.png", "sub/shot.png", "@N_DIR@", "@N_SHARED@", "@N_FILE@", "@N_FIFO@",
                "@N_ZERO_DEV@", "@N_NULL_DEV@", "@N_DIR@/new", "@N_SHARED@/new/x.png", "..", "../..", ".", "",
                "a\nb", "\udcff", "x" * 300, "@N_FILE@/below"]
NUMBERS = ["0", "-1", "1" + "0" * 400, "-" + "9" * 400, "9" * 5000, "2147483648", "NaN", "nan", "inf", "-inf",
           "1e308", "-0", "0.5", "", "abc", "1_000", " 3", "٣", "1e-300", "4.9e-324", "1000000000"]
VALID_NUMBERS = {"sessions": ["1"], "beats": ["4", "8"], "seed": ["0", "1"], "blocksize": ["128", "64"],
                 "max_trials": ["1", "2"], "warmup": ["0", "1"], "taps": ["4"], "days_apart": ["1", "0.5"],
                 "tempo": ["90", "120"], "minutes": ["0.2"], "window_ms": ["80"], "duration": ["1"],
                 "tempo_scale": ["1"]}
SONGS = sorted(p.name for p in (fs.REPO / "content" / "songs").iterdir())
VALID = {
    "child": ["C01", "C01", "C01", "C02", "demo-child"],
    "scripts": [f"@SONG:{n}@" for n in SONGS if n.endswith((".toml", ".mid"))] + [
        "content/songs/echo-drums.toml", "content/songs/metronome.toml", "free"],
    "log": ["@LOG0@", "@LOG1@", "@LOG2@", "@LOG0@/events.jsonl", "@LOG1@/events.jsonl"],
    "audio": ["@FILE:clicks.wav@", "@FILE:cues.txt@", "@SONG:march-song.mid@"],
    "played": ["@FILE:clicks.wav@"],
    "cues": ["@FILE:cues.txt@", "@FILE:call.txt@"], "taps": ["@FILE:taps.txt@", "@FILE:response.txt@"],
    "call": ["@FILE:call.txt@"], "response": ["@FILE:response.txt@", "@FILE:taps.txt@"],
    "summary": ["@FILE:summary.txt@", "@LOG0@/events.jsonl"],
    "soundfont": ["@FILE:clicks.wav@"],
    "out": ["out", "out/sub", "shot.png", *WRITE_VALUES], "screenshot": ["shot.png", "sub/shot.png", *WRITE_VALUES],
    "data_dir_sub": ["@DATA@", "@DATA@", "@DATA@", "@DATA@", "", "@N_DIR@", "@N_FILE@", "@N_FIFO@", "newdata", "@DATA@/sessions", "@N_ZERO_DEV@"],
    "date_from": ["2026-12-07", "today", "2026-01-01", "2026-02-30", "0001-01-01", "9999-12-31", "20261207",
                  "2026-12-07T10:00", "yesterday"],
    "date_to": ["2026-12-31", "today", "2026-01-01", "0001-01-01", "9999-12-31"],
    "formats": ["csv", "json", "csv,json", "html", "json,json", ",", "CSV", "pdf2", "csv;json", "html,csv,json"],
    "ids": ["S1", "S2", "S99", "s1", "S0", "S-1"],
    "set": ["S1.threshold=70", "S1.threshold=nan", "S1.k=" + "9" * 400, "S1.threshold", "S1=1", ".=",
            "S1.id=../x", "S1.metric=x", "S1.scripts=[]", "S1.threshold=" + "x" * 5000],
    "note": ["Practise at home.", "x" * 100_000, "\x1b]0;title\x07", "line\nline"],
    "child_model": ["steady", "silent", "double", "learning", "nope"],
    "profile": ["typical", "adult", "motor", "nope"],
    "simulate": ["steady", "silent", "impulsive"],
    "tasks": ["stop_and_go", "stop_and_go,turn_taking", ",", "nope", "stop_and_go,stop_and_go"],
    "midi_in": ["nothing-here"], "midi_out": ["nothing-here"], "audio_device": ["0", "nothing-here"],
}
READ_ROLES = {"scripts", "log", "audio", "played", "cues", "taps", "call", "response", "summary", "soundfont"}
WRITE_ROLES = {"out", "screenshot", "data_dir_sub"}
CHILD_HOSTILE = ["", ".", "..", "a/b", "a\nb", "-", " C01", "C01 ", "c01", "x" * 100, "\udcff", "C01/../C02",
                 "con", "\x1b[2J"]


def _value_strategy(dest: str, opt: Opt | None) -> st.SearchStrategy[str]:
    """Two draws in three from the values the option takes, one from hostile ones."""
    role = "audio_device" if dest == "audio" and opt is not None else dest
    valid: list[str] = []
    hostile: list[str] = []
    if opt is not None and opt.choices:
        valid += [str(c) for c in opt.choices]
    if opt is not None and opt.type_name in ("int", "float"):
        valid += VALID_NUMBERS.get(dest, ["1"])
        hostile += NUMBERS
    valid += VALID.get(role, [])
    if role == "child":
        hostile += CHILD_HOSTILE
    if role in READ_ROLES:
        hostile += READ_SPECIAL
    if role in WRITE_ROLES:
        hostile += [v for v in VALID.get(role, []) if v not in valid[:4]]
    else:
        hostile += GENERAL
    if not valid:
        return st.sampled_from(hostile)
    return st.one_of(st.sampled_from(valid), st.sampled_from(valid), st.sampled_from(hostile))


@st.composite
def argv_for(draw, paths: list[tuple[str, ...]]):
    """A command from ``paths`` with hostile positionals and up to four options."""
    spec = SPECS[draw(st.sampled_from(paths))]
    args: list[str] = list(spec.path)
    for dest, nargs in spec.positionals:
        n = {None: 1, "?": draw(st.integers(0, 1)), "*": draw(st.integers(0, 3)), "+": draw(st.integers(1, 3))}.get(
            nargs, 1)
        args += [draw(_value_strategy(dest, None)) for _ in range(n)]
    options = [o for o in spec.options if not (spec.path == ("demo",) and o.dest == "pace")]  # realtime: slow by design
    if options:
        required = [i for i, o in enumerate(options) if o.required and draw(st.integers(0, 9))]  # 1 in 10 left out
        chosen = draw(st.lists(st.integers(0, len(options) - 1), unique=True, max_size=4))
        for i in [*required, *(i for i in chosen if i not in required)]:
            opt = options[i]
            args.append(opt.flag)
            if opt.takes_value:
                args.append(draw(_value_strategy(opt.dest, opt)))
    return spec.path, args


def _forced(path: tuple[str, ...], args: list[str]) -> list[str]:
    """Options that keep a slow command short, unless the input gave them itself."""
    extra: list[str] = []

    def unless(flag: str, value: str) -> None:
        if flag not in args:
            extra.extend([flag, value])

    if path == ("demo",):
        unless("--max-trials", "1")
        unless("--beats", "4")
    elif path == ("homepack",):
        unless("--minutes", "0.2")
    elif path == ("assess",):
        unless("--tasks", "stop_and_go")
    elif path == ("report",):
        unless("--format", "csv,json")
    return args + extra


# ----------------------------------------------------------------------------------------------------------
# The sandbox of one input
# ----------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    with fs.sandbox_root(tmp_path_factory, "fuzz-cli") as root:
        sb = fs.make_sandbox(root)
        sb.current_log = fs.make_current_log(sb, sb.fresh_work(root / "seed"))
        yield sb


@pytest.fixture(autouse=True)
def _fuzz_env(request, sandbox):
    fs.install_reporter(request.config)
    with fs.shrink_budget():
        yield


def _user_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("tandem", appauthor=False))


@dataclass
class Case:
    ex: Path
    data: Path
    work: Path
    subs: dict[str, str]


def _case(sb: fs.Sandbox, tag: str) -> Case:
    ex = sb.fresh_dir(tag)
    data = sb.fresh_data(ex)
    work = sb.fresh_work(ex)
    logs = fs.log_seeds(data)
    subs = {**sb.placeholder_map(), "@DATA@": str(data)}
    for i, folder in enumerate(logs):
        subs[f"@LOG{i}@"] = str(folder)
    for name, p in sb.named_paths.items():
        subs[f"@N_{name.upper()}@"] = str(p)
    subs.setdefault("@N_ZERO_DEV@", str(sb.named_paths["dir"]))
    subs.setdefault("@N_NULL_DEV@", str(sb.named_paths["dir"]))
    return Case(ex, data, work, subs)


def _resolve(args: list[str], case: Case, sb: fs.Sandbox) -> list[str]:
    out = []
    for a in args:
        a = re.sub(r"@SONG:([^@]+)@", lambda m: str(sb.songs / m.group(1)), a)
        a = re.sub(r"@FILE:([^@]+)@", lambda m: str(sb.files / m.group(1)), a)
        for ph, p in case.subs.items():
            a = a.replace(ph, p)
        out.append(a)
    return out


class Watch:
    """What must not change while one input runs (see the module docstring)."""

    def __init__(self, sb: fs.Sandbox, case: Case) -> None:
        self.sb, self.case = sb, case
        self.strict_roots = [*sb.strict_paths(), _user_data_dir()]
        self.named = [*sb.named_paths.values(), sb.named, case.work, case.ex, case.ex.parent, sb.root,
                      sb.root.parent, Path(tempfile.gettempdir()), fs.REPO, Path("/dev/null"), Path("/dev/zero")]
        self.strict = self._strict()
        self.modes = fs.modes_of(self.named)
        self.around = self._around()

    def _strict(self) -> dict:
        state = {}
        for p in self.strict_roots:
            state.update(fs.tree_state(p, contents=True))
        return state

    def _around(self) -> dict:
        """Everything outside the data folder a command could create in: the input's folder, named paths."""
        state = {}
        for p in (self.case.ex, self.sb.named):
            state.update(fs.tree_state(p))
        data = str(self.case.data) + os.sep
        return {k: v for k, v in state.items() if not k.startswith(data) and k != str(self.case.data)}

    def problems(self) -> list[tuple[str, str, str]]:
        """(kind, where, what) for each change."""
        out = []
        changed = fs.tree_diff(self.strict, self._strict())
        if changed:
            out.append(("changed outside the data folder", changed[0].split(":")[0], "; ".join(changed[:5])))
        modes = fs.modes_of(self.named)
        for p, m in self.modes.items():
            if m is not None and modes.get(p) != m:
                out.append(("mode of a named path changed", p.replace(str(self.case.ex), "<input>"),
                            f"{p}: {oct(m)} -> {oct(modes[p]) if modes.get(p) is not None else 'removed'}"))
        after = self._around()
        for p, st_ in after.items():
            if self.around.get(p) is None and st_ is not None and st_[0] & 0o077 and not (st_[0] & 0o170000 ==
                                                                                         0o120000):
                out.append(("created readable by others", "new file or folder outside the data folder",
                            f"{p} created with mode {oct(st_[0])}"))
                break
        return out


# ----------------------------------------------------------------------------------------------------------
# Running one input in-process
# ----------------------------------------------------------------------------------------------------------

@dataclass
class Ran:
    code: object
    stdout: str
    stderr: str
    call: fs.Call


def run_inprocess(argv: list[str], case: Case, sb: fs.Sandbox, timeout: float) -> Ran:
    from engine.cli.main import main

    out_b, err_b = io.BytesIO(), io.BytesIO()
    out = io.TextIOWrapper(out_b, encoding="utf-8", errors="strict", write_through=True)
    err = io.TextIOWrapper(err_b, encoding="utf-8", errors="backslashreplace", write_through=True)

    def invoke():
        try:
            return main(argv)
        except SystemExit as exc:  # argparse: usage errors (2), --help (0)
            return 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1

    old_cwd = os.getcwd()
    old_streams = sys.stdout, sys.stderr
    with fs.environment(TANDEM_DATA=str(case.data), TANDEM_CACHE=str(sb.cache), TANDEM_DEBUG="1",
                        SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy"):
        os.chdir(case.work)
        sys.stdout, sys.stderr = out, err
        try:
            call = fs.guarded_call(invoke, timeout=timeout, fifos=sb.fifos, memory=CLI_MEMORY)
        finally:
            sys.stdout, sys.stderr = old_streams
            os.chdir(old_cwd)
    with contextlib.suppress(Exception):
        out.flush()
        err.flush()
    return Ran(call.value, out_b.getvalue().decode("utf-8", "replace"), err_b.getvalue().decode("utf-8", "replace"),
               call)


_CONTROL = fs._CONTROL


def check_ran(target: str, example: str, ran: Ran, watch: Watch | None) -> None:
    """The property for one command's run (see the module docstring)."""
    fs.count_input(target, example)
    call = ran.call
    if call.fifo_hangs:
        raise fs.fail(target, "hang (blocked opening a FIFO)", call.fifo_hangs[0],
                      "the command opened a FIFO and waited for its other end (unblocked by the suite)", example)
    if call.timed_out:
        raise fs.fail(target, "hang (timeout)", call.timeout_where, f"no exit within the time allowed ({call.elapsed:.0f} s)",
                      example)
    if call.error is not None:
        exc = call.error
        where = fs.engine_location(exc.__traceback__)
        fs.fail(target, f"internal error ({type(exc).__name__})", where, f"{type(exc).__name__}: {fs.short(exc, 500)}",
                example, detail="".join(traceback.format_exception(exc)[-6:])[-3000:])
        raise exc
    if ran.code not in (0, 1, 2):
        raise fs.fail(target, f"exit code {ran.code}", "engine/cli", f"exit {ran.code}; stderr: {fs.short(ran.stderr, 300)}",
                      example)
    for bad in ("Traceback", "internal error"):
        if bad in ran.stderr:
            raise fs.fail(target, f"'{bad}' on stderr", "engine/cli", fs.short(ran.stderr, 600), example)
    for stream, text in (("stderr", ran.stderr), ("stdout", ran.stdout)):
        m = _CONTROL.search(text)
        if m:
            raise fs.fail(target, f"raw control characters on {stream}", "engine/cli",
                          f"{m.group()!r} in {fs.short(text[max(0, m.start() - 80): m.start() + 80], 200)}", example)
    if watch is not None:
        for kind, where, what in watch.problems():
            raise fs.fail(target, kind, where, what, example)
    outcome = "result" if ran.code == 0 else "usage" if ran.stderr.startswith("usage:") else "sentence"
    fs.OUTCOMES[(target, outcome)] += 1
    if os.environ.get("TANDEM_FUZZ_VERBOSE"):  # what each input got, to see what the strategies reach
        print(f"[{outcome}] {fs.short(example, 300)}\n    -> {fs.short(ran.stderr.strip()[-300:], 300)}",
              file=sys.__stderr__)


def _runs(path: tuple[str, ...], argv_tail: list[str]) -> bool:
    """Whether the command may run here (not only be parsed): never `run`, `calibrate` or a live `assess`."""
    if path in PARSE_ONLY:
        return False
    if path == ("assess",):
        from engine.cli.main import build_parser

        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            try:
                args = build_parser().parse_args(argv_tail)
            except SystemExit:
                return True  # a usage error: harmless to run, it ends in the parser
        return bool(getattr(args, "simulate", None))
    return True


def _one_input(sb: fs.Sandbox, path: tuple[str, ...], args: list[str], timeout: float) -> None:
    case = _case(sb, "cli")
    try:
        argv = ["--data-dir", str(case.data), *_resolve(_forced(path, args), case, sb)]
        target = "cli: " + (" ".join(path) or "(no command)")
        example = "tandem " + " ".join(fs.short(repr(a), 120) for a in argv[2:])
        fs.note_example(example)
        if not _runs(path, argv):
            _parse_only(target + " (parse only)", argv, example)
            return
        watch = Watch(sb, case)
        ran = run_inprocess(argv, case, sb, timeout)
        check_ran(target, example, ran, watch)
    finally:
        shutil.rmtree(case.ex, ignore_errors=True)


def _parse_only(target: str, argv: list[str], example: str) -> None:
    """A command that would use devices: the parser alone must accept the input or end with a usage error."""
    from engine.cli.main import build_parser

    fs.count_input(target, example)
    with contextlib.redirect_stderr(io.StringIO()) as err, contextlib.redirect_stdout(io.StringIO()):
        try:
            build_parser().parse_args(argv)
            fs.OUTCOMES[(target, "parsed")] += 1
        except SystemExit as exc:
            if exc.code not in (0, 2):
                raise fs.fail(target, f"parser exit {exc.code}", "argparse", err.getvalue(), example) from None
            fs.OUTCOMES[(target, "usage")] += 1
        except Exception as exc:  # noqa: BLE001 - a type= function that raised something else
            raise fs.fail(target, f"parser raised {type(exc).__name__}", fs.engine_location(exc.__traceback__),
                          str(exc), example) from exc


# ----------------------------------------------------------------------------------------------------------
# The tests
# ----------------------------------------------------------------------------------------------------------

def test_parser_walk_found_every_command():
    """The fuzzing draws from every command the parser has (a new one is fuzzed without editing this file)."""
    names = {" ".join(p) for p in SPECS}
    for expected in ("demo", "run", "assess", "calibrate", "sessions", "rescore", "plan new", "plan show",
                     "plan suggest", "plan accept", "plan reject", "report", "homepack", "validate", "onsets",
                     "analyze sync", "analyze imitation", "devices"):
        assert expected in names, expected


def test_fast_commands_with_hostile_arguments(sandbox):
    """sessions, rescore, plan *, report, validate, analyze *, devices (and no command at all)."""

    @fs.fuzz_settings(300)
    @given(cmd=argv_for(FAST))
    def run(cmd):
        _one_input(sandbox, cmd[0], cmd[1], CLI_TIMEOUT)

    run()


def test_slow_commands_with_hostile_arguments(sandbox):
    """demo (one trial, four beats unless the input says otherwise), homepack, assess --simulate, onsets."""

    @fs.fuzz_settings(30, long_factor=6)
    @given(cmd=argv_for(sorted(SLOW)))
    def run(cmd):
        _one_input(sandbox, cmd[0], cmd[1], SLOW_TIMEOUT)

    run()


def test_device_commands_only_parse_hostile_arguments(sandbox):
    """run, calibrate, a live assess: parsed only (they would open audio devices)."""

    @fs.fuzz_settings(60)
    @given(cmd=argv_for(sorted(PARSE_ONLY | {("assess",)})))
    def run(cmd):
        path, args = cmd
        case_argv = ["--data-dir", str(sandbox.root / "parse-only-data"), *args]
        if path == ("assess",) and _runs(path, case_argv):
            return  # a simulated assessment: test_slow_commands runs those
        _parse_only("cli: " + " ".join(path) + " (parse only)", case_argv, "tandem " + " ".join(map(repr, args)))

    run()


def test_damaged_index_through_sessions_and_report(sandbox):
    """`tandem sessions` and `tandem report` over a damaged index.sqlite: a listing or one sentence."""

    @fs.fuzz_settings(50)
    @given(ops=fs.index_mutations(), report=st.booleans(), current=st.booleans())
    def run(ops, report, current):
        case = _case(sandbox, "index")
        try:
            if current:
                fs.current_index(case.data)
            did = fs.apply_index_ops(case.data / "index.sqlite", ops)
            argv = (["report", fs.CHILD, "--format", "csv,json"] if report else ["sessions"]) + ["--data-dir",
                                                                                                 str(case.data)]
            example = f"tandem {' '.join(argv[:-2])} with index.sqlite: {fs.describe_ops(did)}"
            fs.note_example(example)
            watch = Watch(sandbox, case)
            ran = run_inprocess(argv, case, sandbox, CLI_TIMEOUT)
            check_ran(f"cli: {argv[0]} (damaged index)", example, ran, watch)
        finally:
            shutil.rmtree(case.ex, ignore_errors=True)

    run()


def test_damaged_log_through_sessions_rescore_report(sandbox):
    """`tandem sessions`, `rescore` and `report` over a damaged events.jsonl: a result or one sentence."""

    @fs.fuzz_settings(80)
    @given(seed=st.integers(0, 3), ops=fs.log_mutations(), cmd=st.sampled_from(["sessions", "rescore", "report"]))
    def run(seed, ops, cmd):
        case = _case(sandbox, "log")
        try:
            folders = fs.log_seeds(case.data)
            folder = folders[seed % len(folders)]
            side = folder / "summary.json"
            old = (folder / "events.jsonl").read_bytes()
            new, new_side, did = fs.apply_log_ops(old, side.read_bytes() if side.exists() else None, ops,
                                                  sandbox.placeholder_map())
            fs.write_log_case(folder, new, new_side)
            argv = {"sessions": ["sessions", "--json"], "rescore": ["rescore", str(folder), "--json"],
                    "report": ["report", fs.CHILD, "--format", "csv,json"]}[cmd]
            if cmd != "rescore":
                argv += ["--data-dir", str(case.data)]
            example = f"tandem {cmd} with {folder.name}/events.jsonl: {fs.describe_ops(did)}"
            fs.note_example(example)
            watch = Watch(sandbox, case)
            ran = run_inprocess(argv, case, sandbox, CLI_TIMEOUT)
            target = f"cli: {cmd} (damaged log)"
            check_ran(target, example, ran, watch)
            why = fs.expected_damage(old, new, new_side)
            if why and cmd == "rescore" and ran.code == 0:
                raise fs.fail(target, "damage passed off as whole", f"rescore: {why}",
                              f"{why}, but `tandem rescore` exits 0: {fs.short(ran.stdout, 300)}", example)
            if why and cmd == "sessions" and ran.code == 0:
                rows = json.loads(ran.stdout or "[]")
                rows = rows.get("sessions", rows) if isinstance(rows, dict) else rows
                got = next((r.get("status") for r in rows if r.get("path") == str(folder / "events.jsonl")), None)
                if got != "damaged":
                    raise fs.fail(target, "damage passed off as whole", f"sessions: {why}",
                                  f"{why}, but `tandem sessions --json` lists it as {got!r}", example)
        finally:
            shutil.rmtree(case.ex, ignore_errors=True)

    run()


# ----------------------------------------------------------------------------------------------------------
# Real processes
# ----------------------------------------------------------------------------------------------------------

def run_subprocess(argv: list[str | bytes], case: Case, sb: fs.Sandbox, *, timeout: float = 30.0,
                   stdout=subprocess.PIPE, close_stdout: bool = False) -> Ran:
    """``python -m engine.cli ARGV`` as a real process (arguments as bytes: not UTF-8 where they say so), with
    a timer and the FIFO watchdog's check on its threads."""
    env = {**os.environ, "TANDEM_DATA": str(case.data), "TANDEM_CACHE": str(sb.cache), "PYTHONPATH": str(fs.REPO)}
    env.pop("TANDEM_DEBUG", None)
    cmd = [os.fsencode(sys.executable), b"-m", b"engine.cli", *[a if isinstance(a, bytes) else os.fsencode(a)
                                                                 for a in argv]]

    def limits():
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, resource.RLIM_INFINITY))
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 << 20, resource.RLIM_INFINITY))
        if close_stdout:
            os.close(1)

    call = fs.Call()
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=case.work, env=env, stdin=subprocess.DEVNULL, stdout=stdout,
                            stderr=subprocess.PIPE, preexec_fn=limits)
    outs: list[bytes] = [b"", b""]
    while True:
        try:
            o, e = proc.communicate(timeout=0.1)
            outs = [o or b"", e or b""]
            break
        except subprocess.TimeoutExpired:
            if _blocked_on_fifo(proc.pid):
                call.fifo_hangs.append("a thread of the process waits in open() of a FIFO")
                for fifo in sb.fifos:
                    with contextlib.suppress(OSError):
                        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            if time.monotonic() - start > timeout:
                call.timed_out = True
                call.timeout_where = "a real process"
                proc.kill()
                o, e = proc.communicate()
                outs = [o or b"", e or b""]
                break
    call.elapsed = time.monotonic() - start
    return Ran(proc.returncode, outs[0].decode("utf-8", "replace"), outs[1].decode("utf-8", "replace"), call)


def _blocked_on_fifo(pid: int) -> bool:
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for tid in tasks:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{tid}/wchan") as f:
            if f.read().strip() in ("wait_for_partner", "fifo_open"):
                return True
    return False


def test_real_processes_with_hostile_arguments(sandbox):
    """A few inputs as real processes: the arguments as bytes (surrogate escapes become bytes that are not
    UTF-8), no TANDEM_DEBUG: what a therapist's shell sees."""

    @fs.fuzz_settings(8, long_factor=8)
    @given(cmd=argv_for(FAST + [("demo",)]))
    def run(cmd):
        path, args = cmd
        case = _case(sandbox, "proc")
        try:
            argv = ["--data-dir", str(case.data), *_resolve(_forced(path, args), case, sandbox)]
            example = "tandem " + " ".join(fs.short(repr(a), 120) for a in argv[2:])
            fs.note_example(example)
            watch = Watch(sandbox, case)
            ran = run_subprocess(argv, case, sandbox)
            check_ran("process: " + (" ".join(path) or "(no command)"), example, ran, watch)
        finally:
            shutil.rmtree(case.ex, ignore_errors=True)

    run()


NOT_UTF8 = [
    [b"validate", b"\xff\xfe.toml"],
    [b"sessions", b"\xff"],
    [b"plan", b"new", b"C\xff01"],
    [b"report", b"C\xff", b"--format", b"json"],
    [b"rescore", b"/tmp/\xff/events.jsonl"],
    [b"demo", b"--child", b"\xffchild", b"--max-trials", b"1", b"--beats", b"4"],
    [b"homepack", b"C01", b"--note", b"caf\xe9", b"--out", b"hp\xff", b"--minutes", b"0.2"],
    [b"analyze", b"sync", b"--cues", b"\xff", b"--taps", b"\xfe"],
]


@pytest.mark.parametrize("argv", NOT_UTF8, ids=[a[0].decode() + "-" + str(i) for i, a in enumerate(NOT_UTF8)])
def test_arguments_that_are_not_utf8(argv, sandbox):
    """Bytes that are not UTF-8 in an argument (a file name from another system): a sentence or a result."""
    case = _case(sandbox, "bytes")
    try:
        watch = Watch(sandbox, case)
        ran = run_subprocess([b"--data-dir", os.fsencode(case.data), *argv], case, sandbox)
        check_ran("process: " + argv[0].decode() + " (not UTF-8)", repr(argv), ran, watch)
    finally:
        shutil.rmtree(case.ex, ignore_errors=True)


@pytest.mark.parametrize("argv", [["sessions"], ["sessions", "--json"], ["plan", "show", "C01"],
                                  ["validate", "content/songs/echo-drums.toml"]], ids=lambda a: "-".join(a))
def test_closed_stdout(argv, sandbox):
    """stdout closed (`tandem sessions >&-`): a sentence or a quiet end, never a traceback."""
    case = _case(sandbox, "closed")
    try:
        watch = Watch(sandbox, case)
        ran = run_subprocess(["--data-dir", str(case.data), *argv], case, sandbox, stdout=None, close_stdout=True)
        check_ran("process: " + argv[0] + " (stdout closed)", " ".join(argv) + " >&-", ran, watch)
    finally:
        shutil.rmtree(case.ex, ignore_errors=True)


def test_broken_pipe(sandbox):
    """`tandem sessions --json | head -1` with many sessions: the pipe closes early; the command ends quietly."""
    case = _case(sandbox, "pipe")
    try:
        base = fs.log_seeds(case.data)[1]
        for i in range(150):
            shutil.copytree(base, base.parent / f"{base.name}-{i:03d}")
        env = {**os.environ, "TANDEM_DATA": str(case.data), "TANDEM_CACHE": str(sandbox.cache),
               "PYTHONPATH": str(fs.REPO)}
        env.pop("TANDEM_DEBUG", None)
        fs.count_input("process: sessions (broken pipe)", "sessions --json | head -1")
        proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "sessions", "--json", "--data-dir",
                                 str(case.data)], cwd=case.work, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        proc.stdout.readline()
        proc.stdout.close()
        try:
            err = proc.stderr.read().decode("utf-8", "replace")
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        problems = []
        if code not in (0, 1, 2, -signal.SIGPIPE, 128 + signal.SIGPIPE):
            problems.append(f"exit {code}")
        for bad in ("Traceback", "internal error", "Exception ignored", "BrokenPipeError"):
            if bad in err:
                problems.append(f"{bad!r} on stderr")
        if problems:
            raise fs.fail("process: sessions (broken pipe)", "broken pipe not quiet", "engine/cli/sessions.py",
                          "; ".join(problems) + f" -- stderr: {fs.short(err, 400)}",
                          "tandem sessions --json | head -1 (151 sessions)")
        fs.OUTCOMES[("process: sessions (broken pipe)", "quiet end")] += 1
    finally:
        shutil.rmtree(case.ex, ignore_errors=True)
