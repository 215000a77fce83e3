"""Shared helpers of the fuzz suite (``tests/test_fuzz_records.py``, ``tests/test_fuzz_cli.py``; issue 18, item 8).

The property everywhere: a hostile input gets **one sentence or a correct result** (never a traceback,
never an internal error, never a hang) and **nothing outside the data folder changes**.

- :func:`fuzz_settings`: hypothesis settings, derandomized (CI sees the same inputs every run) and bounded
  (``max_examples``; shrinking is capped at :data:`SHRINK_SECONDS`). ``TANDEM_FUZZ=long`` multiplies the
  examples by ten, lifts the derandomization (new inputs each run) and lets shrinking take a minute.
- :func:`check_call`: runs one target under guards (:func:`guarded_call`: a timer, a memory limit, a file
  size limit, a watchdog that unblocks a FIFO the target opened) and checks the outcome. Every input tried
  is counted per target (:data:`TALLY`), every violation is kept once per (target, kind, engine location)
  with the shortest input that showed it (:data:`FINDINGS`); both are printed at the end of the run and
  written as JSON to the file named by ``TANDEM_FUZZ_TALLY``.
- :func:`make_sandbox`: the files a hostile input points at (a FIFO, links to /dev/zero, a folder, files
  that must not change) and the copies of the seed files of ``tests/fixtures/fuzz/`` (see its README).
- Mutation strategies: :func:`log_mutations` (``events.jsonl`` and its ``summary.json``),
  :func:`toml_mutations` (scripts, plans), :func:`index_mutations` (``index.sqlite``).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import resource
import shutil
import signal
import sqlite3
import stat
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, note, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "fuzz"
FIXTURE_DATA = FIXTURES / "data"
FIXTURE_SONGS = FIXTURES / "content" / "songs"
CHILD = "C01"

LONG = os.environ.get("TANDEM_FUZZ", "").strip().lower() == "long"
SHRINK_SECONDS = 60 if LONG else 3
"""How long hypothesis may shrink the failures of one test (its own default is 300 s)."""

ENGINE_DIR = str(REPO / "engine") + os.sep


def fuzz_settings(examples: int, *, long_factor: int = 10) -> settings:
    """Settings for a fuzz test: ``examples`` inputs (times ``long_factor`` with ``TANDEM_FUZZ=long``)."""
    return settings(max_examples=examples * long_factor if LONG else examples, deadline=None,
                    derandomize=not LONG, database=None, print_blob=LONG, report_multiple_bugs=True,
                    suppress_health_check=list(HealthCheck))


@contextlib.contextmanager
def shrink_budget():
    """Cap hypothesis' shrinking time (an internal constant; left alone if it moved)."""
    try:
        from hypothesis.internal.conjecture import engine as conjecture_engine
    except ImportError:  # pragma: no cover - another hypothesis layout
        yield
        return
    old = getattr(conjecture_engine, "MAX_SHRINKING_SECONDS", None)
    if old is not None:
        conjecture_engine.MAX_SHRINKING_SECONDS = SHRINK_SECONDS
    try:
        yield
    finally:
        if old is not None:
            conjecture_engine.MAX_SHRINKING_SECONDS = old


# --------------------------------------------------------------------------------------------------------
# Tally and findings
# --------------------------------------------------------------------------------------------------------

TALLY: Counter[str] = Counter()
"""Inputs tried per target (shrinking's tries included: they are hostile inputs too)."""
DISTINCT: dict[str, set[int]] = {}
"""Per target, the hashes of the distinct inputs tried (hypothesis tries some inputs more than once)."""
FAILED: Counter[str] = Counter()
"""Inputs per target that broke the property."""
OUTCOMES: Counter[tuple[str, str]] = Counter()
"""(target, outcome) for inputs that kept the property: ``result``, ``sentence`` (a TandemError; exit 2 with
its sentence), ``usage`` (the parser refused the arguments: exit 2 with the usage line)."""
FINDINGS: dict[tuple[str, str, str], dict[str, Any]] = {}
"""Distinct violations: (target, kind, where) → the shortest example, the message, a traceback tail."""


class PropertyFailure(AssertionError):
    """A hostile input broke the property (the subclass names how; one subclass per engine location)."""


_FAILURE_CLASSES: dict[tuple[str, str], type[PropertyFailure]] = {}


def _failure_class(kind: str, where: str) -> type[PropertyFailure]:
    """A class per (kind, where): hypothesis tells failures apart by type and place, so each engine location
    is shrunk and reported on its own."""
    key = (kind, where)
    if key not in _FAILURE_CLASSES:
        name = "".join(w.capitalize() for w in re.split(r"\W+", kind) if w) or "Failure"
        _FAILURE_CLASSES[key] = type(name, (PropertyFailure,), {"__module__": __name__})
    return _FAILURE_CLASSES[key]


def short(text: Any, limit: int = 600) -> str:
    """``text`` as one printable line of at most ``limit`` characters."""
    text = str(text)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 40] + f"... ({len(text)} characters)"


def engine_location(tb) -> str:
    """The innermost frame of a traceback inside ``engine/`` (``engine/x.py:12 in f``), or the innermost one."""
    frames = traceback.extract_tb(tb) if tb is not None else []
    inner = [f for f in frames if f.filename.startswith(ENGINE_DIR)]
    f = (inner or frames or [None])[-1]
    if f is None:
        return "?"
    name = os.path.relpath(f.filename, REPO) if f.filename.startswith(str(REPO)) else f.filename
    return f"{name}:{f.lineno} in {f.name}"


def _stack_location(frame) -> str:
    """As :func:`engine_location`, for a live frame (the watchdog's view of the main thread)."""
    frames = traceback.extract_stack(frame) if frame is not None else []
    inner = [f for f in frames if f.filename.startswith(ENGINE_DIR)]
    f = (inner or frames or [None])[-1]
    if f is None:
        return "?"
    name = os.path.relpath(f.filename, REPO) if f.filename.startswith(str(REPO)) else f.filename
    return f"{name}:{f.lineno} in {f.name}"


def fail(target: str, kind: str, where: str, message: str, example: str, detail: str = "",
         cause: BaseException | None = None) -> PropertyFailure:
    """Record a violation and return the exception to raise (its class is per kind and location)."""
    FAILED[target] += 1
    key = (target, kind, where)
    found = FINDINGS.get(key)
    example = short(example, 2000)
    if found is None:
        FINDINGS[key] = found = {"target": target, "kind": kind, "where": where, "count": 0, "example": example,
                                 "message": short(message, 1500), "detail": detail}
    found["count"] += 1
    if len(example) < len(found["example"]):
        found.update(example=example, message=short(message, 1500), detail=detail or found["detail"])
    exc = _failure_class(kind, where)(f"[{target}] {kind} at {where}: {short(message, 800)}\n  input: {example}")
    if cause is not None:
        exc.__cause__ = cause
    return exc


def count_input(target: str, example: str) -> None:
    """Count one input tried on ``target`` (and whether it was new)."""
    TALLY[target] += 1
    DISTINCT.setdefault(target, set()).add(hash(example))


def tally_report() -> dict[str, Any]:
    return {"profile": "long" if LONG else "default",
            "tried": dict(sorted(TALLY.items())),
            "distinct": {t: len(v) for t, v in sorted(DISTINCT.items())},
            "failed": dict(sorted(FAILED.items())),
            "kept": {t: {o: n for (t2, o), n in sorted(OUTCOMES.items()) if t2 == t} for t in sorted(TALLY)},
            "findings": sorted(FINDINGS.values(), key=lambda f: (f["target"], f["kind"], f["where"]))}


class _Reporter:
    """A pytest plugin, registered by the fuzz modules' fixture: the tally at the end of the run."""

    def pytest_terminal_summary(self, terminalreporter):
        if not TALLY:
            return
        w = terminalreporter
        w.write_sep("-", f"fuzz: hostile inputs tried per target ({'long' if LONG else 'default'} profile)")
        for target, n in sorted(TALLY.items()):
            bad = FAILED.get(target, 0)
            kept = ", ".join(f"{o} {k}" for (t, o), k in sorted(OUTCOMES.items()) if t == target)
            distinct = len(DISTINCT.get(target, ()))
            w.write_line(f"  {target:<40} {n:5d} tried ({distinct:5d} distinct) {bad:4d} broke the property; "
                         f"kept: {kept or '-'}")
        w.write_line(f"  {'total':<40} {sum(TALLY.values()):5d} tried "
                     f"({sum(len(v) for v in DISTINCT.values()):5d} distinct) {sum(FAILED.values()):4d} broke it")
        if FINDINGS:
            w.write_sep("-", f"fuzz: {len(FINDINGS)} distinct findings (target, kind, where)")
            for f in sorted(FINDINGS.values(), key=lambda f: (f["target"], f["kind"], f["where"])):
                w.write_line(f"  [{f['target']}] {f['kind']} at {f['where']} (x{f['count']}): {short(f['message'], 200)}")
        self._write()

    def pytest_sessionfinish(self, session):
        self._write()

    @staticmethod
    def _write():
        out = os.environ.get("TANDEM_FUZZ_TALLY")
        if out and TALLY:
            Path(out).write_text(json.dumps(tally_report(), indent=2, ensure_ascii=False))


def install_reporter(config) -> None:
    if not config.pluginmanager.has_plugin("tandem-fuzz-reporter"):
        config.pluginmanager.register(_Reporter(), "tandem-fuzz-reporter")


# --------------------------------------------------------------------------------------------------------
# Guards: a timer, memory and file size limits, a FIFO watchdog
# --------------------------------------------------------------------------------------------------------

class FuzzTimeout(BaseException):
    """Raised by the timer inside a target that ran too long (a BaseException: ``except Exception`` in the
    engine does not swallow it)."""


def _on_alarm(signum, frame):
    raise FuzzTimeout()


class _Watchdog:
    """Watches the main thread while a target runs: blocked opening a FIFO (``wait_for_partner``), it is
    recorded as a hang and unblocked (the FIFO's other end opened and closed, so the target reads an end of
    file, or its writes are drained). The suite itself never opens a FIFO for reading blocking."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed = False
        self._fifos: tuple[str, ...] = ()
        self._hits: list[str] = []
        self._fds: dict[str, int] = {}
        self._tid = 0
        self._ident = 0
        self._thread: threading.Thread | None = None

    def arm(self, fifos: Iterable[str | Path]) -> None:
        with self._lock:
            self._tid = threading.get_native_id()
            self._ident = threading.get_ident()
            self._fifos = tuple(str(f) for f in fifos)
            self._hits = []
            self._armed = True
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="fuzz-fifo-watchdog", daemon=True)
            self._thread.start()

    def disarm(self) -> list[str]:
        with self._lock:
            self._armed = False
            hits, self._hits = self._hits, []
            fds, self._fds = self._fds, {}
        for fd in fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        return hits

    def _run(self) -> None:
        while True:
            time.sleep(0.02)
            with self._lock:
                if not self._armed:
                    continue
                for fd in self._fds.values():  # drain what the target wrote into a FIFO it opened for writing
                    with contextlib.suppress(OSError):
                        while os.read(fd, 1 << 16):
                            pass
                try:
                    with open(f"/proc/self/task/{self._tid}/wchan") as f:
                        wchan = f.read().strip()
                except OSError:
                    continue
                if wchan not in ("wait_for_partner", "fifo_open"):
                    continue
                frame = sys._current_frames().get(self._ident)
                self._hits.append(_stack_location(frame))
                for fifo in self._fifos:
                    if fifo not in self._fds:
                        with contextlib.suppress(OSError):
                            self._fds[fifo] = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
                    with contextlib.suppress(OSError):
                        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


WATCHDOG = _Watchdog()


def _vm_bytes() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@dataclass
class Call:
    """What a guarded call did: returned ``value``, or raised ``error``; ``timed_out``; ``fifo_hangs``
    (where the target blocked opening a FIFO); ``elapsed`` seconds."""

    value: Any = None
    error: BaseException | None = None
    timed_out: bool = False
    timeout_where: str = ""
    fifo_hangs: list[str] = field(default_factory=list)
    elapsed: float = 0.0


def guarded_call(fn: Callable[..., Any], *args: Any, timeout: float, fifos: Iterable[str | Path] = (),
                 memory: int = 1 << 30, file_size: int = 256 << 20, **kwargs: Any) -> Call:
    """``fn(*args, **kwargs)`` in this (the main) thread, at most ``timeout`` seconds, with at most
    ``memory`` more bytes of address space than now and files of at most ``file_size`` bytes."""
    call = Call()
    old_umask = os.umask(0o022)
    os.umask(old_umask)
    old_handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE)}
    old_alarm = signal.signal(signal.SIGALRM, _on_alarm)
    old_xfsz = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    old_as = resource.getrlimit(resource.RLIMIT_AS)
    old_fsize = resource.getrlimit(resource.RLIMIT_FSIZE)
    vm = _vm_bytes()
    with contextlib.suppress(ValueError, OSError):
        if vm:
            hard = old_as[1]
            want = vm + memory
            resource.setrlimit(resource.RLIMIT_AS, (want if hard == resource.RLIM_INFINITY else min(want, hard), hard))
        hard = old_fsize[1]
        resource.setrlimit(resource.RLIMIT_FSIZE,
                           (file_size if hard == resource.RLIM_INFINITY else min(file_size, hard), hard))
    WATCHDOG.arm(fifos)
    start = time.monotonic()
    try:
        try:
            signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                call.value = fn(*args, **kwargs)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except FuzzTimeout as exc:
            call.timed_out = True
            call.timeout_where = engine_location(exc.__traceback__)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - the caller judges it
            call.error = exc
    except FuzzTimeout as exc:  # the timer fired between the call's end and its disarming
        call.timed_out = call.error is None and call.value is None
        call.timeout_where = engine_location(exc.__traceback__)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        call.elapsed = time.monotonic() - start
        call.fifo_hangs = WATCHDOG.disarm()
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, old_as)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_FSIZE, old_fsize)
        signal.signal(signal.SIGALRM, old_alarm)
        signal.signal(signal.SIGXFSZ, old_xfsz)
        for sig, handler in old_handlers.items():  # what a command set for itself stays with it
            if handler is not None:
                signal.signal(sig, handler)
        os.umask(old_umask)
    return call


# --------------------------------------------------------------------------------------------------------
# The property
# --------------------------------------------------------------------------------------------------------

MAX_WORD = 200
"""The longest run of characters without a space in a sentence, paths of the test's folders left out: a
longer one is a hostile value echoed whole (a 100 000-character text) instead of a sentence saying what is
wrong with it. (A long list of allowed values, spaced, is a sentence.)"""
MAX_SENTENCE = 4000
"""The longest sentence at all."""

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 but tab and newline, DEL, C1: raw on a terminal


def sentence_problems(exc: BaseException, roots: Sequence[str | Path] = ()) -> list[str]:
    """What is wrong with ``exc``'s message as the one sentence a therapist reads (empty: nothing).

    A ``ScriptError``/``PlanError`` holds one sentence per problem (``problems``), printed a line each;
    every other error is one line.
    """
    text = str(exc)
    problems_attr = getattr(exc, "problems", None)
    parts = [str(p) for p in problems_attr] if isinstance(problems_attr, (list, tuple)) and problems_attr else [text]
    out = []
    if not text.strip():
        out.append("the message is empty")
    if "Traceback" in text:
        out.append("the message holds a traceback")
    if parts == [text] and ("\n" in text or "\r" in text):
        out.append(f"the message is {text.count(chr(10)) + 1} lines, not one sentence")
    for p in parts:
        if parts != [text] and ("\n" in p or "\r" in p):
            out.append("one of its sentences spans several lines")
        shown = p
        for r in roots:
            shown = shown.replace(str(r), "<tmp>")
        word = max(shown.split(), key=len, default="")
        if len(word) > MAX_WORD:
            out.append(f"a sentence with a {len(word)}-character word (a hostile value echoed whole: "
                       f"{short(word, 60)})")
        elif len(shown) > MAX_SENTENCE:
            out.append(f"a sentence of {len(shown)} characters")
        if _CONTROL.search(p):
            out.append(f"raw control characters in the sentence ({_CONTROL.search(p).group()!r})")
    return out


def check_call(target: str, example: str, fn: Callable[..., Any], *args: Any, timeout: float = 5.0,
               fifos: Iterable[str | Path] = (), roots: Sequence[str | Path] = (),
               memory: int = 1 << 30, **kwargs: Any) -> Call:
    """Run a library target on one hostile input and check "a sentence or a result, never a traceback,
    an internal error or a hang". Returns the :class:`Call` (its ``value``, or its ``error``: a
    :class:`~engine.errors.TandemError` with a good sentence); raises a :class:`PropertyFailure`, or the
    target's own exception when it was not a TandemError (so hypothesis tells the places apart)."""
    from engine.errors import TandemError

    count_input(target, example)
    call = guarded_call(fn, *args, timeout=timeout, fifos=fifos, memory=memory, **kwargs)
    if call.fifo_hangs:
        raise fail(target, "hang (blocked opening a FIFO)", call.fifo_hangs[0],
                   f"{target} opened a FIFO for reading or writing and waited for the other end (unblocked by the "
                   f"suite after 20 ms); a reader must take regular files only", example)
    if call.timed_out:
        raise fail(target, "hang (timeout)", call.timeout_where,
                   f"{target} did not return within {timeout} s", example)
    exc = call.error
    if exc is None:
        OUTCOMES[(target, "result")] += 1
        return call
    if isinstance(exc, TandemError):
        bad = sentence_problems(exc, roots)
        if bad:
            raise fail(target, "not one sentence", engine_location(exc.__traceback__),
                       f"{type(exc).__name__}: " + "; ".join(bad) + f" -- message: {short(exc, 400)}", example,
                       cause=exc)
        OUTCOMES[(target, "sentence")] += 1
        return call
    where = engine_location(exc.__traceback__)
    kind = f"{type(exc).__name__} escaped"
    fail(target, kind, where, f"{type(exc).__name__}: {short(exc, 500)}", example,
         detail="".join(traceback.format_exception(exc)[-6:])[-3000:])
    raise exc


# --------------------------------------------------------------------------------------------------------
# Snapshots: nothing outside the data folder changes
# --------------------------------------------------------------------------------------------------------

def tree_state(path: str | Path, *, contents: bool = False) -> dict[str, tuple | None]:
    """Every path under ``path`` (links not followed): mode, size, modification time, inode (and a hash of a
    small regular file's bytes with ``contents``). A missing ``path``: ``{path: None}``."""
    out: dict[str, tuple | None] = {}
    stack = [Path(path)]
    while stack:
        p = stack.pop()
        try:
            st_ = os.lstat(p)
        except FileNotFoundError:
            out[str(p)] = None
            continue
        except OSError as exc:
            out[str(p)] = ("error", exc.errno)
            continue
        regular = stat.S_ISREG(st_.st_mode)
        digest = None
        if contents and regular and st_.st_size <= 1 << 20:
            with contextlib.suppress(OSError):
                digest = hash(p.read_bytes())
        out[str(p)] = (st_.st_mode, st_.st_size if regular else 0, st_.st_mtime_ns, st_.st_ino, digest)
        if stat.S_ISDIR(st_.st_mode):
            with contextlib.suppress(OSError):
                stack.extend(p / name for name in os.listdir(p))
    return out


def tree_diff(before: dict[str, tuple | None], after: dict[str, tuple | None]) -> list[str]:
    """What changed between two :func:`tree_state` snapshots, one line each."""
    out = []
    for p in sorted(set(before) | set(after)):
        a, b = before.get(p), after.get(p)
        if a == b:
            continue
        if a is None:
            out.append(f"created {p} (mode {oct(b[0]) if b else '?'})")
        elif b is None:
            out.append(f"removed {p}")
        else:
            what = [n for n, i in (("mode", 0), ("size", 1), ("mtime", 2), ("inode", 3), ("bytes", 4)) if a[i] != b[i]]
            extra = f" {oct(a[0])} -> {oct(b[0])}" if "mode" in what else ""
            out.append(f"changed {p}: {', '.join(what)}{extra}")
    return out


def modes_of(paths: Iterable[str | Path]) -> dict[str, int | None]:
    """The mode of each path, a link's own and its target's (None: missing)."""
    out: dict[str, int | None] = {}
    for p in paths:
        for follow in (False, True):
            key = f"{p}{' (target)' if follow else ''}"
            try:
                out[key] = (os.stat(p) if follow else os.lstat(p)).st_mode
            except OSError:
                out[key] = None
    return out


# --------------------------------------------------------------------------------------------------------
# The sandbox: special files, seed copies
# --------------------------------------------------------------------------------------------------------

@dataclass
class Sandbox:
    """Temporary files the suite points hostile inputs at. ``special``: read-only targets (a FIFO, links to
    /dev/zero and /dev/null, a folder, files that must never change); ``named``: paths offered to options
    that write (``--out``, ``--screenshot``): their modes must not change."""

    root: Path
    songs: Path  # a copy of the repository's content/songs (every script, valid values)
    files: Path  # small valid inputs: time files, a summary, a WAV
    special: Path
    named: Path
    cache: Path  # TANDEM_CACHE for the whole run
    fifos: list[Path]
    specials: dict[str, Path]
    named_paths: dict[str, Path]
    current_log: Path | None = None  # a log written by today's engine (None if that failed)
    counter: int = 0

    def placeholder_map(self) -> dict[str, str]:
        return {f"@{k.upper()}@": str(v) for k, v in self.specials.items()}

    def fresh_dir(self, tag: str) -> Path:
        """A new empty folder under the sandbox."""
        self.counter += 1
        d = self.root / "ex" / f"{tag}-{self.counter}"
        d.mkdir(parents=True)
        return d

    def strict_paths(self) -> list[Path]:
        """Paths no input may change: the repository's scripts and seeds, the sandbox's read-only files."""
        return [REPO / "content", FIXTURES, self.songs, self.files, self.special]

    def fresh_data(self, into: Path, *, current: bool = True) -> Path:
        """A copy of the seed data folder (plus today's log) at ``into``/data."""
        data = into / "data"
        shutil.copytree(FIXTURE_DATA, data)
        if current and self.current_log is not None:
            dest = data / "sessions" / CHILD / self.current_log.parent.name
            shutil.copytree(self.current_log.parent, dest)
        match_index_times(data)
        return data

    def fresh_work(self, into: Path) -> Path:
        """A working folder holding the seed scripts at content/songs (the logs name them so)."""
        work = into / "work"
        shutil.copytree(FIXTURE_SONGS, work / "content" / "songs")
        return work


def match_index_times(data: Path) -> None:
    """Give the copied logs the sizes' and modification times the copied index holds, so it is a valid cache."""
    index = data / "index.sqlite"
    if not index.is_file():
        return
    try:
        db = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
        try:
            rows = db.execute("SELECT rel, size, mtime_ns FROM sessions").fetchall()
        finally:
            db.close()
    except sqlite3.DatabaseError:
        return
    for rel, size, mtime_ns in rows:
        p = data / rel
        with contextlib.suppress(OSError, TypeError):
            if p.stat().st_size == size:
                os.utime(p, ns=(mtime_ns, mtime_ns))


@contextlib.contextmanager
def sandbox_root(tmp_path_factory, name: str):
    """A temporary folder for a sandbox, in memory (/dev/shm) where there is one: the engine fsyncs every file
    and every index commit, which on a disk is most of an example's time. Removed afterwards."""
    import tempfile

    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK):
        root = Path(tempfile.mkdtemp(prefix=f"tandem-{name}-", dir=shm))
        try:
            yield root
        finally:
            shutil.rmtree(root, ignore_errors=True)
    else:
        yield tmp_path_factory.mktemp(name)


def make_sandbox(root: Path) -> Sandbox:
    root.mkdir(parents=True, exist_ok=True)
    songs = root / "songs"
    shutil.copytree(REPO / "content" / "songs", songs)
    files = root / "files"
    files.mkdir()
    (files / "cues.txt").write_text("# cues\n0.5\n1.0\n1.5\n2.0\n2.5\n3.0\n")
    (files / "taps.txt").write_text("0.52\n0.98\n1.51\n2.03\n2.49\n3.01\n")
    (files / "call.txt").write_text("0.0\n0.5\n1.0\n")
    (files / "response.txt").write_text("2.1\n2.6\n3.05\n")
    (files / "summary.txt").write_text("Good progress.\n\nKeep the tempo at 90.\n")
    _write_wav(files / "clicks.wav")
    special = root / "special"
    special.mkdir()
    fifo = special / "fifo"
    os.mkfifo(fifo)
    (special / "dir").mkdir()
    (special / "outside.txt").write_text("nothing may change this file\n")
    db = sqlite3.connect(special / "outside.sqlite")
    db.execute("CREATE TABLE sessions (precious TEXT)")
    db.execute("INSERT INTO sessions VALUES ('keep me')")
    db.commit()
    db.close()
    os.symlink("/dev/zero", special / "zero")
    os.symlink("/dev/null", special / "null")
    os.symlink(special / "outside.txt", special / "link-outside")
    os.symlink(special / "outside.sqlite", special / "link-db")
    os.symlink(special / "missing", special / "dangling")
    specials = {"fifo": fifo, "zero": special / "zero", "null": special / "null", "dir": special / "dir",
                "outside": special / "outside.txt", "link_outside": special / "link-outside",
                "link_db": special / "link-db", "outside_db": special / "outside.sqlite",
                "dangling": special / "dangling"}
    named = root / "named"
    named.mkdir()
    (named / "file.txt").write_text("a file of the user's\n")
    os.chmod(named / "file.txt", 0o644)
    (named / "dir").mkdir(mode=0o755)
    os.chmod(named / "dir", 0o755)
    (named / "shared").mkdir()
    os.chmod(named / "shared", 0o1777)
    os.mkfifo(named / "fifo")
    named_paths = {"file": named / "file.txt", "dir": named / "dir", "shared": named / "shared",
                   "fifo": named / "fifo"}
    if os.geteuid() == 0:  # private device nodes: a chmod or a write reaches only these copies
        with contextlib.suppress(OSError):
            os.mknod(named / "zero-dev", 0o666 | stat.S_IFCHR, os.makedev(1, 5))
            named_paths["zero_dev"] = named / "zero-dev"
        with contextlib.suppress(OSError):
            os.mknod(named / "null-dev", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
            named_paths["null_dev"] = named / "null-dev"
    cache = root / "cache"
    cache.mkdir()
    return Sandbox(root=root, songs=songs, files=files, special=special, named=named, cache=cache,
                   fifos=[fifo, named / "fifo"], specials=specials, named_paths=named_paths)


def _write_wav(path: Path) -> None:
    """Half a second of clicks, 16 kHz mono, 16-bit (a valid recording for `tandem onsets`)."""
    import struct
    import wave

    rate = 16000
    frames = bytearray()
    for i in range(rate // 2):
        v = 12000 if i % 4000 < 40 else 0
        frames += struct.pack("<h", v if (i // 2) % 2 else -v)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))


@contextlib.contextmanager
def environment(**values: str | None):
    """Set (or with None, unset) environment variables for the block."""
    old = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# --------------------------------------------------------------------------------------------------------
# Hostile values
# --------------------------------------------------------------------------------------------------------

def deep_list(n: int) -> str:
    return "[" * n + "]" * n


def deep_object(n: int) -> str:
    return '{"a": ' * n + "1" + "}" * n


#: JSON texts put in place of a value (placeholders @FIFO@, @ZERO@, ... are the sandbox's special files).
FIXED_JSON = [
    '"abc"', '""', "NaN", "Infinity", "-Infinity", "9" * 400, "-" + "9" * 400, "9" * 5000, "1e400", "-1", "0",
    "1.5", "-0.0", "4.9e-324", "1e308", "true", "false", "null", "[]", "{}", '[1, "a", null]', '{"a": 1}',
    '"NaN"', '"1"', '"\\u0000"', '"\\ud800"', '"\\u001b[31mred\\u001b[0m"', '"=HYPERLINK(\\"http://x\\",\\"y\\")"',
    '"+1+2"', '"@SUM(1)"', '"a\\nb"', '"../../../etc/passwd"', '"/dev/zero"', '"/"', '"."', '"2026-13-45"',
    '"2026-12-07T12:00:00+00:00"', '"9999-12-31T23:59:59"', '"content/songs/echo-drums.toml"',
    '"content/songs/metronome.toml"', '"@FIFO@"', '"@ZERO@"', '"@DIR@"', '"@OUTSIDE@"', '"@DANGLING@"',
    '"@LINK_OUTSIDE@"', '["content/songs/echo-drums.toml"]', '[{"id": 1}]', '[{}]', '[null]', '{"type": "summary"}',
    '"completed"', '"stopped"', '"interrupted"', '"independent"', '"trial"', "2147483648", "-9223372036854775809",
]


def json_snippets() -> st.SearchStrategy[str]:
    """A JSON value's text, hostile: another type, NaN, a 400-digit number, deep nesting, huge text..."""
    return st.one_of(
        st.sampled_from(FIXED_JSON),
        st.integers(1, 5000).map(deep_list),
        st.integers(1, 3000).map(deep_object),
        st.integers(1000, 300_000).map(lambda n: '"' + "x" * n + '"'),
        st.integers(300, 6000).map(lambda d: "9" * d),
        st.integers().map(str),
        st.floats().map(lambda f: json.dumps(f)),
        st.text(max_size=20).map(json.dumps),
    )


FIXED_TOML = [
    '"abc"', '""', "nan", "inf", "-inf", "9" * 400, "-" + "9" * 400, "9" * 5000, "-1", "0", "1e308", "-0.0",
    "5e-324", "true", "false", "[]", "{}", '[1, "a"]', "{a = 1}", "2026-12-07", "1979-05-27T07:32:00Z", "07:32:00",
    '"\\u001b[31m"', '"=HYPERLINK(\\"x\\")"', '"/dev/zero"', '"@FIFO@"', '"@ZERO@"', '"@DIR@"', '"@OUTSIDE@"',
    '"../../x"', '"a\\nb"', '"""\nmulti\nline"""', "'literal'", "0x7fffffffffffffff", "1_000_000", "+inf",
    '["echo-drums"]', '["@FIFO@"]', '"C01"', '"echo-drums"', "[[1], [2]]", "[{a = 1}, {b = 2}]",
]


def toml_snippets() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(FIXED_TOML),
        st.integers(1, 3000).map(deep_list),
        st.integers(1, 2000).map(lambda n: "{a = " * n + "1" + "}" * n),
        st.integers(1000, 300_000).map(lambda n: '"' + "x" * n + '"'),
        st.integers(300, 6000).map(lambda d: "9" * d),
        st.integers().map(str),
        st.floats().map(lambda f: "nan" if f != f else ("inf" if f == float("inf") else
                                                          "-inf" if f == float("-inf") else repr(f))),
        st.text(max_size=20).map(json.dumps),
    )


def raw_blobs() -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.sampled_from([b"", b"\n", b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"\r\n", b"{", b"}", b"\n{}\n",
                         b'{"type": "summary"}\n', b"\x1b[2J", b"\xc3\x28", b"[1, 2]\n", b"null\n", b"NaN\n"]),
        st.binary(max_size=64),
        st.integers(1000, 2_000_000).map(lambda n: b"x" * n),
    )


# --------------------------------------------------------------------------------------------------------
# Mutations of a log (events.jsonl) and its summary.json
# --------------------------------------------------------------------------------------------------------

LINE_KINDS = ("header", "trial", "summary", "plan", "activity", "activity_end", "input", "cue", "status", "any")
INTERESTING_KEYS = ("type", "schema", "sample_rate", "script", "script_resolved", "script_sha256", "activities",
                    "plan_objectives", "script_overrides", "kind_options", "kind_seed", "kind", "started", "child_id",
                    "simulated", "probe", "n", "index", "scores", "correct", "prompt", "phase", "activity", "close_s",
                    "start_s", "tempo_bpm", "status", "trials", "duration_s", "objectives", "frame", "action", "text",
                    "trial", "params", "title", "script_text", "seal", "lines", "sha256", "ended", "therapist")
TEMPLATES = {
    "mark_note": {"type": "mark", "action": "note", "text": "a note", "trial": 1, "frame": 48000},
    "mark_prompt": {"type": "mark", "action": "prompt", "trial": 1, "level": "verbal", "frame": 48000},
    "trial": {"type": "trial", "n": 1, "index": 0, "phase": "trial", "scores": {"correct": True},
              "correct": True, "prompt": "independent", "tempo_bpm": 90.0, "start_s": 0.5, "activity": 0},
    "activity": {"type": "activity", "index": 1, "script": "content/songs/metronome.toml", "frame": 0},
    "activity_end": {"type": "activity_end", "index": 0, "status": "completed", "frame": 1},
    "summary": {"type": "summary", "status": "completed", "trials": 4, "duration_s": 1.0, "objectives": []},
}

line_sel = st.tuples(st.sampled_from(LINE_KINDS), st.integers(0, 50))
key_sel = st.integers(0, 400)
offset = st.integers(0, 1 << 20)

log_op = st.one_of(
    st.tuples(st.just("set"), line_sel, key_sel, json_snippets()),
    st.tuples(st.just("set"), line_sel, key_sel, json_snippets()),  # twice as likely as the others
    st.tuples(st.just("set_named"), line_sel, st.sampled_from(INTERESTING_KEYS), json_snippets()),
    st.tuples(st.just("del_key"), line_sel, key_sel),
    st.tuples(st.just("add_line"), st.sampled_from([*TEMPLATES, "copy"]), line_sel,
              st.lists(st.tuples(key_sel, json_snippets()), max_size=3)),
    st.tuples(st.just("del_line"), line_sel),
    st.tuples(st.just("dup_line"), line_sel),
    st.tuples(st.just("swap"), line_sel, line_sel),
    st.tuples(st.just("move_end"), line_sel),
    st.tuples(st.just("drop_summary")),
    st.tuples(st.just("truncate"), offset),
    st.tuples(st.just("flip"), offset, st.integers(0, 255)),
    st.tuples(st.just("insert"), offset, raw_blobs()),
    st.tuples(st.just("replace_all"), raw_blobs()),
    st.tuples(st.just("sidecar_set"), key_sel, json_snippets()),
    st.tuples(st.just("sidecar_raw"), raw_blobs()),
    st.tuples(st.just("sidecar_del")),
)


def log_mutations() -> st.SearchStrategy[list[tuple]]:
    return st.lists(log_op, min_size=1, max_size=4)


_MARK = "\u2063FUZZ\u2063"


def _paths_of(value: Any, prefix: tuple = (), depth: int = 0) -> list[tuple]:
    out = []
    if depth > 4:
        return out
    if isinstance(value, dict):
        for k, v in value.items():
            out.append((*prefix, k))
            out.extend(_paths_of(v, (*prefix, k), depth + 1))
    elif isinstance(value, list):
        for i, v in enumerate(value[:8]):
            out.append((*prefix, i))
            out.extend(_paths_of(v, (*prefix, i), depth + 1))
    return out


def _set_path(obj: Any, path: tuple, value: Any) -> None:
    for k in path[:-1]:
        obj = obj[k]
    obj[path[-1]] = value


def _del_path(obj: Any, path: tuple) -> None:
    for k in path[:-1]:
        obj = obj[k]
    del obj[path[-1]]


def _loads(raw: bytes) -> Any:
    """The JSON value of ``raw``; ValueError also for nesting too deep for the decoder."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise ValueError("nested too deep") from None


def _line_type(raw: bytes) -> str | None:
    try:
        d = _loads(raw)
    except ValueError:
        return None
    return d.get("type") if isinstance(d, dict) else None


def _pick_line(lines: list[bytes], sel: tuple[str, int]) -> int | None:
    kind, k = sel
    idx = [i for i, raw in enumerate(lines) if raw.strip()]
    if not idx:
        return None
    if kind == "header":
        return idx[0]
    if kind != "any":
        typed = [i for i in idx if _line_type(lines[i]) == kind]
        if typed:
            idx = typed
    return idx[k % len(idx)]


def _choose_key(d: Any, k: int) -> tuple:
    paths = _paths_of(d) + [(name,) for name in INTERESTING_KEYS]
    return paths[k % len(paths)]


def set_json_value(raw: bytes, k: int, snippet: str, subs: dict[str, str]) -> tuple[bytes, str]:
    """The JSON object ``raw`` with the value at its ``k``-th key path replaced by ``snippet`` (raw JSON text)."""
    for ph, p in subs.items():
        snippet = snippet.replace(ph, p)
    try:
        d = _loads(raw)
    except ValueError:
        return raw, "(not JSON: left as it is)"
    if not isinstance(d, (dict, list)) or not d and not isinstance(d, dict):
        return raw, "(not an object: left as it is)"
    path = _choose_key(d, k) if isinstance(d, dict) else (0,)
    try:
        _set_path(d, path, _MARK)
    except (KeyError, IndexError, TypeError):
        d = {**d, path[0]: _MARK} if isinstance(d, dict) else d
        path = path[:1]
    try:
        text = json.dumps(d, ensure_ascii=False, allow_nan=True)
    except (RecursionError, ValueError):
        return raw, "(cannot be written back: left as it is)"
    text = text.replace(json.dumps(_MARK, ensure_ascii=False), snippet)
    return text.encode("utf-8", "surrogatepass"), f"{'.'.join(map(str, path))} = {short(snippet, 80)}"


def apply_log_ops(log: bytes, sidecar: bytes | None, ops: Sequence[tuple], subs: dict[str, str]
                  ) -> tuple[bytes, bytes | None, list[str]]:
    """The log and summary.json bytes after ``ops`` (see :data:`log_op`), and what each op did."""
    lines = log.split(b"\n")
    tail: bytes | None = None  # byte ops apply to the joined text
    did = []
    for op in ops:
        name = op[0]
        if tail is not None and name not in ("truncate", "flip", "insert", "replace_all") and not name.startswith(
                "sidecar"):
            lines, tail = tail.split(b"\n"), None
        if name in ("set", "set_named"):
            i = _pick_line(lines, op[1])
            if i is not None:
                key = op[2]
                if name == "set_named":  # a key readers look at, whether the line has it or not
                    try:
                        d = _loads(lines[i])
                        key = (_paths_of(d) + [(n,) for n in INTERESTING_KEYS]).index((op[2],))
                    except (ValueError, AttributeError):
                        key = 0
                lines[i], what = set_json_value(lines[i], key, op[3], subs)
                did.append(f"line {i + 1}: {what}")
        elif name == "del_key":
            i = _pick_line(lines, op[1])
            if i is not None:
                try:
                    d = _loads(lines[i])
                    path = _choose_key(d, op[2])
                    _del_path(d, path)
                    lines[i] = json.dumps(d, allow_nan=True).encode()
                    did.append(f"line {i + 1}: deleted {'.'.join(map(str, path))}")
                except (ValueError, KeyError, IndexError, TypeError, AttributeError, RecursionError):
                    pass
        elif name == "add_line":
            template, sel, sets = op[1], op[2], op[3]
            if template == "copy":
                i = _pick_line(lines, sel)
                base = lines[i] if i is not None else b"{}"
            else:
                base = json.dumps(TEMPLATES[template]).encode()
            whats = []
            for k, snippet in sets:
                base, what = set_json_value(base, k, snippet, subs)
                whats.append(what)
            at = _pick_line(lines, sel)
            at = (at + 1) if at is not None else len(lines)
            lines.insert(at, base)
            did.append(f"inserted at line {at + 1} a {template} line: {'; '.join(whats) or 'as it is'}")
        elif name in ("del_line", "dup_line", "move_end"):
            i = _pick_line(lines, op[1])
            if i is not None:
                if name == "del_line":
                    del lines[i]
                elif name == "dup_line":
                    lines.insert(i, lines[i])
                else:
                    line = lines.pop(i)
                    while lines and not lines[-1].strip():
                        lines.pop()
                    lines += [line, b""]
                did.append(f"{name} line {i + 1}")
        elif name == "swap":
            i, j = _pick_line(lines, op[1]), _pick_line(lines, op[2])
            if i is not None and j is not None:
                lines[i], lines[j] = lines[j], lines[i]
                did.append(f"swapped lines {i + 1} and {j + 1}")
        elif name == "drop_summary":
            n = len(lines)
            lines = [raw for raw in lines if _line_type(raw) != "summary"]
            did.append(f"dropped {n - len(lines)} summary line(s)")
        elif name in ("truncate", "flip", "insert", "replace_all"):
            data = tail if tail is not None else b"\n".join(lines)
            if name == "truncate":
                at = op[1] % (len(data) + 1)
                data = data[:at]
                did.append(f"truncated at byte {at} of {len(data)}")
            elif name == "flip":
                if data:
                    at = op[1] % len(data)
                    data = data[:at] + bytes([op[2]]) + data[at + 1:]
                    did.append(f"byte {at} := {op[2]:#04x}")
            elif name == "insert":
                at = op[1] % (len(data) + 1)
                data = data[:at] + op[2] + data[at:]
                did.append(f"inserted {short(op[2], 60)!s} at byte {at}")
            else:
                data = op[1]
                did.append(f"whole file replaced by {short(op[1], 60)}")
            tail = data
        elif name == "sidecar_set" and sidecar is not None:
            sidecar, what = set_json_value(sidecar, op[1], op[2], subs)
            did.append(f"summary.json: {what}")
        elif name == "sidecar_raw":
            sidecar = op[1]
            did.append(f"summary.json replaced by {short(op[1], 60)}")
        elif name == "sidecar_del":
            sidecar = None
            did.append("summary.json deleted")
    data = tail if tail is not None else b"\n".join(lines)
    return data, sidecar, did


# --------------------------------------------------------------------------------------------------------
# Mutations of TOML (scripts, plans)
# --------------------------------------------------------------------------------------------------------

_ASSIGN = re.compile(rb"^(\s*)([A-Za-z0-9_.\"'-]+)(\s*=\s*)(.*)$")
TOML_KEYS = ("tempo_bpm", "trials", "kind", "title", "id", "metric", "threshold", "k", "n", "comparator",
             "criterion", "aggregate", "sessions", "scripts", "start", "name", "domain", "min_trials",
             "mastery_gap_days", "pattern", "notes", "beats", "level", "max_prompt", "target_date", "probes",
             "file", "sound", "gain", "pan", "key", "schema", "unknown_field", "display_name", "therapist")

toml_op = st.one_of(
    st.tuples(st.just("set"), st.integers(0, 400), toml_snippets()),
    st.tuples(st.just("set"), st.integers(0, 400), toml_snippets()),
    st.tuples(st.just("add"), st.integers(0, 400), st.sampled_from(TOML_KEYS), toml_snippets()),
    st.tuples(st.just("del_line"), st.integers(0, 400)),
    st.tuples(st.just("dup_line"), st.integers(0, 400)),
    st.tuples(st.just("swap"), st.integers(0, 400), st.integers(0, 400)),
    st.tuples(st.just("dup_table"), st.integers(0, 400)),
    st.tuples(st.just("deep_key"), st.integers(1, 3000)),
    st.tuples(st.just("deep_table"), st.integers(1, 3000)),
    st.tuples(st.just("truncate"), offset),
    st.tuples(st.just("flip"), offset, st.integers(0, 255)),
    st.tuples(st.just("insert"), offset, raw_blobs()),
    st.tuples(st.just("replace_all"), raw_blobs()),
    st.tuples(st.just("utf16"),),
)


def toml_mutations() -> st.SearchStrategy[list[tuple]]:
    return st.lists(toml_op, min_size=1, max_size=4)


def apply_toml_ops(text: bytes, ops: Sequence[tuple], subs: dict[str, str]) -> tuple[bytes, list[str]]:
    data = text
    did = []
    for op in ops:
        name = op[0]
        lines = data.split(b"\n")
        assigns = [i for i, line in enumerate(lines) if _ASSIGN.match(line) and not line.lstrip().startswith(b"#")]
        if name == "set" and assigns:
            i = assigns[op[1] % len(assigns)]
            snippet = op[2]
            for ph, p in subs.items():
                snippet = snippet.replace(ph, p)
            m = _ASSIGN.match(lines[i])
            lines[i] = m.group(1) + m.group(2) + m.group(3) + snippet.encode("utf-8", "surrogatepass")
            did.append(f"line {i + 1}: {m.group(2).decode(errors='replace')} = {short(snippet, 80)}")
        elif name == "add":
            i = op[1] % (len(lines) + 1)
            snippet = op[3]
            for ph, p in subs.items():
                snippet = snippet.replace(ph, p)
            lines.insert(i, f"{op[2]} = {snippet}".encode("utf-8", "surrogatepass"))
            did.append(f"inserted at line {i + 1}: {op[2]} = {short(snippet, 80)}")
        elif name in ("del_line", "dup_line") and lines:
            i = op[1] % len(lines)
            if name == "del_line":
                del lines[i]
            else:
                lines.insert(i, lines[i])
            did.append(f"{name} {i + 1}")
        elif name == "swap" and lines:
            i, j = op[1] % len(lines), op[2] % len(lines)
            lines[i], lines[j] = lines[j], lines[i]
            did.append(f"swapped lines {i + 1} and {j + 1}")
        elif name == "dup_table":
            tables = [i for i, line in enumerate(lines) if line.lstrip().startswith(b"[")]
            if tables:
                i = tables[op[1] % len(tables)]
                end = next((j for j in range(i + 1, len(lines)) if lines[j].lstrip().startswith(b"[")), len(lines))
                lines[end:end] = lines[i:end]
                did.append(f"doubled the table at line {i + 1}")
        elif name == "deep_key":
            lines.append(b".".join([b"a"] * op[1]) + b" = 1")
            did.append(f"a dotted key {op[1]} deep")
        elif name == "deep_table":
            lines.append(b"[" + b".".join([b"t"] * op[1]) + b"]")
            did.append(f"a table header {op[1]} deep")
        data = b"\n".join(lines)
        if name == "truncate":
            at = op[1] % (len(data) + 1)
            data = data[:at]
            did.append(f"truncated at byte {at}")
        elif name == "flip" and data:
            at = op[1] % len(data)
            data = data[:at] + bytes([op[2]]) + data[at + 1:]
            did.append(f"byte {at} := {op[2]:#04x}")
        elif name == "insert":
            at = op[1] % (len(data) + 1)
            data = data[:at] + op[2] + data[at:]
            did.append(f"inserted {short(op[2], 60)} at byte {at}")
        elif name == "replace_all":
            data = op[1]
            did.append(f"whole file replaced by {short(op[1], 60)}")
        elif name == "utf16":
            data = data.decode("utf-8", "replace").encode("utf-16")
            did.append("re-encoded as UTF-16")
    return data, did


# --------------------------------------------------------------------------------------------------------
# Mutations of the index (index.sqlite)
# --------------------------------------------------------------------------------------------------------

INDEX_COLUMNS = ("rel", "size", "mtime_ns", "date", "child", "script", "title", "kind", "duration_s", "trials",
                 "status", "activities", "simulated", "probe", "damage")
SQL_VALUES = [None, "damaged", "running", "[]", '["x"]', "", "abc", "[", "{}", "[1, 2]", '[{"script": 5, "trials": "x"}]', "[null]", '"text"', "NaN",
              "9" * 400, -1, 0, 2**63 - 1, -(2**63), 1.5, float("inf"), float("-inf"), b"\xff\x00", "\x1b[31m",
              "=HYPERLINK(\"x\")", "../../../etc/passwd", "/etc/passwd", "x" * 20_000, "unreadable", "completed"]

index_op = st.one_of(
    st.tuples(st.just("sql_set"), st.integers(0, 10), st.sampled_from(INDEX_COLUMNS), st.sampled_from(SQL_VALUES)),
    st.tuples(st.just("sql_set"), st.integers(0, 10), st.sampled_from(INDEX_COLUMNS), st.sampled_from(SQL_VALUES)),
    st.tuples(st.just("sql_insert"), st.sampled_from(SQL_VALUES), st.sampled_from(SQL_VALUES)),
    st.tuples(st.just("sql"), st.sampled_from([
        "DROP TABLE sessions", "DELETE FROM sessions", "PRAGMA user_version = 99", "PRAGMA user_version = -1",
        "DROP INDEX sessions_child", "ALTER TABLE sessions RENAME TO other",
        "CREATE TABLE x (a)", "ALTER TABLE sessions ADD COLUMN extra TEXT",
        "DROP TABLE sessions; CREATE TABLE sessions (rel TEXT)",
        "UPDATE sessions SET rel = rel || '/../../..'",
        "PRAGMA journal_mode = WAL"])),
    st.tuples(st.just("zero_page"), st.integers(0, 8)),
    st.tuples(st.just("truncate"), offset),
    st.tuples(st.just("flip"), offset, st.integers(0, 255)),
    st.tuples(st.just("insert"), offset, raw_blobs()),
    st.tuples(st.just("replace_all"), raw_blobs()),
)


def index_mutations() -> st.SearchStrategy[list[tuple]]:
    return st.lists(index_op, min_size=1, max_size=3)


def current_index(data: Path) -> None:
    """Let today's engine bring the copied index up to date first (the seed's is of the older engine: a
    new engine rebuilds it whole, and only a current index is trusted row by row)."""
    from engine.records.index import list_sessions

    list_sessions(data)


def apply_index_ops(index: Path, ops: Sequence[tuple]) -> list[str]:
    """Change the index file in place; what each op did."""
    did = []
    for op in ops:
        name = op[0]
        if name.startswith("sql"):
            try:
                db = sqlite3.connect(index)
                try:
                    if name == "sql_set":
                        rows = [r[0] for r in db.execute("SELECT rowid FROM sessions ORDER BY rowid")]
                        if rows:
                            rowid = rows[op[1] % len(rows)]
                            db.execute(f"UPDATE sessions SET {op[2]} = ? WHERE rowid = ?", (op[3], rowid))
                            did.append(f"row {rowid}: {op[2]} = {short(repr(op[3]), 60)}")
                    elif name == "sql_insert":
                        db.execute("INSERT OR REPLACE INTO sessions (rel, size, mtime_ns, status, child, activities) "
                                   "VALUES (?, 1, 1, ?, 'C01', '[]')", (op[1], op[2]))
                        did.append(f"inserted row rel={short(repr(op[1]), 60)} status={short(repr(op[2]), 40)}")
                    else:
                        db.executescript(op[1])
                        did.append(op[1])
                    db.commit()
                finally:
                    db.close()
            except (sqlite3.Error, OverflowError, ValueError) as exc:
                did.append(f"{name} failed ({short(exc, 60)})")
            continue
        data = index.read_bytes()
        if name == "zero_page":
            page = 4096
            n = max(1, len(data) // page)
            k = op[1] % n
            data = data[:k * page] + b"\0" * min(page, len(data) - k * page) + data[(k + 1) * page:]
            did.append(f"zeroed page {k + 1} of {n}")
        elif name == "truncate":
            at = op[1] % (len(data) + 1)
            data = data[:at]
            did.append(f"truncated at byte {at}")
        elif name == "flip" and data:
            at = op[1] % len(data)
            data = data[:at] + bytes([op[2]]) + data[at + 1:]
            did.append(f"byte {at} := {op[2]:#04x}")
        elif name == "insert":
            at = op[1] % (len(data) + 1)
            data = data[:at] + op[2] + data[at:]
            did.append(f"inserted {short(op[2], 40)} at byte {at}")
        elif name == "replace_all":
            data = op[1]
            did.append(f"whole file replaced by {short(op[1], 40)}")
        index.write_bytes(data)
    return did


# --------------------------------------------------------------------------------------------------------
# Results that must be checked beyond "no exception"
# --------------------------------------------------------------------------------------------------------

def csv_formula_cells(path: Path) -> list[str]:
    """Cells of a CSV file a spreadsheet would run as a formula (the OWASP rule: =, +, -, @, tab, CR first;
    a plain negative number is data)."""
    import csv

    out = []
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return out
    for row in csv.reader(io.StringIO(text)):
        for cell in row:
            if not cell:
                continue
            if cell[0] in "=@\t\r" or (cell[0] in "+-" and not re.fullmatch(r"[+-]\d+(\.\d+)?([eE][+-]?\d+)?", cell)):
                out.append(cell)
    return out


def write_log_case(folder: Path, log: bytes, sidecar: bytes | None) -> Path:
    """Put a mutated log (and its summary.json, or none) into a session folder."""
    (folder / "events.jsonl").write_bytes(log)
    side = folder / "summary.json"
    if sidecar is None:
        side.unlink(missing_ok=True)
    else:
        side.write_bytes(sidecar)
    return folder / "events.jsonl"


def _summary_index(lines: list[bytes]) -> int | None:
    """The index of the last line that is a ``summary`` record, or None."""
    for k in range(len(lines) - 1, -1, -1):
        if b'"summary"' not in lines[k]:
            continue
        try:
            d = _loads(lines[k])
        except ValueError:
            continue
        if isinstance(d, dict) and d.get("type") == "summary":
            return k
    return None


def expected_damage(orig: bytes, new: bytes, new_sidecar: bytes | None) -> str | None:
    """Why a reader must call the mutated log ``damaged`` (None: it may call it anything it can justify).

    - a log of today (its summary line sealed with ``log_sha256``) whose lines before its last summary line
      are not the lines that were sealed: changed, added, removed or reordered;
    - a log of schema 3 or later (its header, as it is now, says so) with no summary line, while its
      ``summary.json`` says the visit ended (``completed``/``stopped``): its end was lost.

    A change to the summary line alone, or a log cut before its summary with no summary.json (a crash looks
    so: ``interrupted``), asks nothing.
    """
    old_lines = orig.split(b"\n")
    s = _summary_index(old_lines)
    try:
        header = _loads(old_lines[0])
        summary = _loads(old_lines[s]) if s is not None else None
    except ValueError:
        return None
    if not isinstance(header, dict) or (header.get("schema") or 1) < 3:
        return None
    new_lines = new.split(b"\n")
    t = _summary_index(new_lines)
    if t is not None:
        if isinstance(summary, dict) and "log_sha256" in summary and new_lines[:t] != old_lines[:s]:
            return "a sealed log whose lines before its summary line changed"
        return None
    try:  # the log as given must still say it is of schema 3 or later (an older log ends in summary.json)
        new_header = _loads(new_lines[0])
    except ValueError:
        return None
    schema = new_header.get("schema") if isinstance(new_header, dict) else None
    if not (isinstance(schema, int) and not isinstance(schema, bool) and 3 <= schema < 1000):
        return None
    if new_sidecar is not None:
        try:
            side = _loads(new_sidecar)
        except ValueError:
            return None
        if isinstance(side, dict) and side.get("status") in ("completed", "stopped"):
            return "no summary line, though summary.json says the visit ended"
    return None


def make_current_log(sb: Sandbox, work: Path) -> Path | None:
    """A log written by today's engine (`tandem demo`, in-process, in ``work``), so both formats are fuzzed."""
    from engine.cli.main import main

    data = sb.root / "current-data"
    old = os.getcwd()
    out = io.StringIO()
    try:
        os.chdir(work)
        with environment(TANDEM_CACHE=str(sb.cache), TANDEM_DATA=str(data)), \
                contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = main(["demo", "content/songs/echo-drums.toml", "--child", CHILD, "--data-dir", str(data),
                         "--max-trials", "3"])
    except Exception:  # noqa: BLE001 - the seed test reports a missing log
        return None
    finally:
        os.chdir(old)
    if code != 0:
        return None
    logs = sorted((data / "sessions" / CHILD).glob("*/events.jsonl"))
    if not logs:
        return None
    for wav in logs[-1].parent.glob("*.wav"):
        wav.unlink()
    return logs[-1]


def describe_ops(did: Sequence[str]) -> str:
    return "; ".join(did) or "(no change)"


SWEEP_VALUES = {"text": '"abc"', "400 digits": "9" * 400, "NaN": "NaN", "nested 300": deep_list(300), "null": "null"}
"""The values the type sweep puts in place of every field (another type, a size no session writes)."""


def sweep_paths(line: bytes) -> list[tuple]:
    """The fields the type sweep changes in one log line: its own keys, the keys of a nested table
    (``scores``, ``params``, a plan objective), and a key readers look at that the line lacks."""
    try:
        d = _loads(line)
    except ValueError:
        return []
    if not isinstance(d, dict):
        return []
    out: list[tuple] = [(k,) for k in d if k != "type"]
    for k, v in d.items():
        if isinstance(v, dict):
            out += [(k, kk) for kk in v]
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            out += [(k, 0, kk) for kk in v[0]]
    out += [(k,) for k in ("schema", "script_overrides", "plan_objectives", "kind_seed") if k not in d]
    return out


def set_json_path(line: bytes, path: tuple, snippet: str) -> bytes:
    """``line`` (a JSON object) with the value at ``path`` replaced by the JSON text ``snippet``."""
    d = _loads(line)
    _set_path(d, path, _MARK)
    text = json.dumps(d, allow_nan=True).replace(json.dumps(_MARK), snippet)
    return text.encode("utf-8", "surrogatepass")


def log_seeds(data: Path) -> list[Path]:
    """The session folders of a seed data folder, in a fixed order."""
    return sorted(p for p in (data / "sessions" / CHILD).iterdir() if (p / "events.jsonl").is_file())


def note_example(text: str) -> None:
    with contextlib.suppress(Exception):
        note(short(text, 3000))
