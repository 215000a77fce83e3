"""Records benchmark: a year of sessions, listed, reported on and re-scored (issue 7, "Scale").

Run: ``.venv/bin/python -m benchmarks.records --json OUT.json [--children 40] [--sessions 45]``.

**The data.** Real session logs, not made-up ones: the script demo
(:func:`engine.simulation.demo.run_demo`, the engine end to end on the
offline backend) runs each of seven shipped songs once with a simulated child
(echo drums, keyboard echo, hello, drum conversation, steady-beat march,
stop-and-go, fill-in-the-blank; 4–78 trials each). A year is then
``children × sessions`` copies of those logs: each child works on three of
the songs in turn, one session a week from 5 January 2026, and each copy's
header gets the child's id and the session's date (every other line is the
real log). Audio files are not copied (nothing here reads them).

**Measured** (wall time, ``time.perf_counter``; peak memory with
``tracemalloc`` in a separate pass, or the child process's max RSS):

- ``sessions_list_s``: ``tandem sessions --json`` over all of them, as a
  new process (what the therapist waits for), with the index already built;
  ``sessions_list_cold_s`` the same when the index must be built first
  (deleted); ``list_sessions_warm_s`` the call alone, in process.
- ``report_s``: ``tandem report CHILD --from 2026-01-01 --to 2026-03-31``
  (a quarter: 13 sessions; HTML, PDF, CSV and JSON) as a new process,
  interpreter start and imports included; ``report_build_s`` the build
  alone, in process, with the libraries imported (its first build in that
  process: WeasyPrint's font set-up included).
- ``rescore_s``: ``rescore`` of a 60-minute session log (the steady-beat
  march run for 60 minutes: about 1,800 bars, as its tempo rises), in process, after one warm-up run;
  ``rescore_identical`` whether it reproduced the stored results.

Goals (issue 7): ``report_s`` < 3 s, ``sessions_list_s`` < 1 s, ``rescore_s`` < 2 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SONGS = ["echo-drums", "keyboard-echo", "hello", "drum-conversation", "steady-beat-march", "stop-and-go",
         "fill-in-the-blank"]
MODELS = ["learning", "steady", "slow", "impulsive", "drifting", "early", "learning"]
FIRST_DAY = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
QUARTER = ("2026-01-01", "2026-03-31")
GOALS = {"report_s": 3.0, "sessions_list_s": 1.0, "rescore_s": 2.0}


def _templates(work: Path, echo) -> list[Path]:
    """One real session log per song (the demo's), returned as events.jsonl paths."""
    from engine.simulation.demo import run_demo

    out = []
    for song, model in zip(SONGS, MODELS):
        s = run_demo(REPO / "content" / "songs" / f"{song}.toml", root=work / "templates",
                     child_id="T", model=model, echo=None)[0]
        out.append(Path(s["folder"]) / "events.jsonl")
        echo(f"  template {song} ({model}): {len(s['trials'])} trials")
    return out


def _year(root: Path, templates: list[Path], children: int, sessions: int) -> int:
    """Copies of the templates as a year of weekly sessions per child; returns how many were written."""
    from engine.paths import ensure_private_dir
    from engine.records.log import seal_fields, summary_line

    texts = [t.read_text("utf-8").splitlines(keepends=True) for t in templates]
    n = 0
    for c in range(children):
        child = f"C{c + 1:03d}"
        base = ensure_private_dir(root / "sessions" / child)
        mine = [(c + k) % len(texts) for k in range(3)]  # three songs per child, in turn
        for s in range(sessions):
            started = FIRST_DAY + dt.timedelta(weeks=s, minutes=7 * c)
            lines = texts[mine[s % 3]]
            header = json.loads(lines[0])
            header.update(child_id=child, started=started.isoformat(timespec="seconds"))
            folder = base / f"{started:%Y%m%d-%H%M%S}-{Path(header['script']).stem}"
            folder.mkdir(mode=0o700)
            body = [json.dumps(header, sort_keys=True) + "\n", *lines[1:-1]]
            # The header changed, so the closing summary is sealed again over the new lines (as the writer does),
            # or every copy would rightly read as damaged.
            summary = json.loads(lines[-1])
            summary.update(seal_fields(len(body), hashlib.sha256("".join(body).encode("utf-8")).hexdigest()))
            with open(folder / "events.jsonl", "w", encoding="utf-8") as f:
                f.writelines(body)
                f.write(summary_line(summary) + "\n")
            n += 1
    return n


def _hour_log(work: Path, echo) -> Path:
    """A 60-minute session log: the steady-beat march with duration_min = 60."""
    from engine.simulation.demo import run_demo

    text = (REPO / "content" / "songs" / "steady-beat-march.toml").read_text("utf-8")
    script = work / "march-60min.toml"
    script.write_text(text.replace("duration_min = 3", "duration_min = 60"), "utf-8")
    t0 = time.perf_counter()
    s = run_demo(script, root=work / "hour", child_id="H", model="steady", echo=None)[0]
    echo(f"  60-minute log: {len(s['trials'])} trials, made in {time.perf_counter() - t0:.1f} s")
    return Path(s["folder"]) / "events.jsonl"


def _tandem(args: list[str], root: Path) -> tuple[float, int, str]:
    """Run ``tandem ARGS`` as a new process; (wall seconds, max RSS in MB, stdout)."""
    code = ("import resource, sys; from engine.cli import main; rc = main(sys.argv[1:]); "
            "print('MAXRSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(rc)")
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", code, "--data-dir", str(root), *args], capture_output=True, check=False,
                       text=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"tandem {' '.join(args)} failed: {p.stderr.strip()}")
    rss = next(int(line.split()[1]) for line in p.stderr.splitlines() if line.startswith("MAXRSS"))
    return wall, rss // 1024, p.stdout


def _peak_mb(fn) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def run(children: int, sessions: int, echo=print) -> dict:
    from engine.records.index import list_sessions, load_records
    from engine.records.reader import read_log
    from engine.records.rescore import rescore
    from engine.reports.build import build_report

    work = Path(tempfile.mkdtemp(prefix="tandem-bench-records-"))
    os.environ["TANDEM_CACHE"] = os.environ.get("TANDEM_CACHE", str(Path.home() / ".cache" / "tandem"))
    try:
        echo("Making the template logs (the engine end to end, offline):")
        templates = _templates(work, echo)
        root = work / "year"
        t0 = time.perf_counter()
        n = _year(root, templates, children, sessions)
        echo(f"A year of data: {children} children × {sessions} sessions = {n} logs "
             f"({time.perf_counter() - t0:.1f} s to write)")

        cold, cold_rss, _ = _tandem(["sessions", "--json"], root)  # builds the index
        warm, warm_rss, out = _tandem(["sessions", "--json"], root)
        rows = json.loads(out)
        listed = len(rows)
        listed_damaged = sum(r["status"] == "damaged" for r in rows)  # must be 0: every copy is a whole log
        t0 = time.perf_counter()
        in_process = list_sessions(root)
        list_warm = time.perf_counter() - t0
        list_peak = _peak_mb(lambda: list_sessions(root))

        child = "C001"
        out_dir = work / "report"
        # The year is made of simulated visits (demo logs): asked for, as the quarter of a child's visits.
        report_s, report_rss, _ = _tandem(["report", child, "--from", QUARTER[0], "--to", QUARTER[1],
                                           "--out", str(out_dir), "--include-simulated"], root)
        records = load_records(root, child)
        quarter = [r for r in records if QUARTER[0] <= r.started[:10] <= QUARTER[1]]
        t0 = time.perf_counter()
        build_report(child, records, None, date_from=dt.date.fromisoformat(QUARTER[0]),
                     date_to=dt.date.fromisoformat(QUARTER[1]), formats=["html", "pdf", "csv", "json"],
                     out_dir=work / "report2", names=False, include_simulated=True)
        build_s = time.perf_counter() - t0
        pdf_pages = None
        try:
            from pypdf import PdfReader

            pdf_pages = len(PdfReader(out_dir / "report.pdf").pages)
        except ImportError:
            pass

        hour = _hour_log(work, echo)
        rescore(hour)  # warm: imports and the sound-free script load
        t0 = time.perf_counter()
        result = rescore(hour)
        rescore_s = time.perf_counter() - t0
        rescore_peak = _peak_mb(lambda: rescore(hour))

        res = {
            "children": children, "sessions_per_child": sessions, "sessions": n, "listed": listed,
            "listed_damaged": listed_damaged,
            "sessions_list_s": round(warm, 3), "sessions_list_cold_s": round(cold, 3),
            "sessions_list_max_rss_mb": warm_rss, "sessions_list_cold_max_rss_mb": cold_rss,
            "list_sessions_warm_s": round(list_warm, 4), "list_sessions_peak_mb": round(list_peak, 1),
            "report_child": child, "report_range": list(QUARTER), "report_sessions": len(quarter),
            "report_trials": sum(len(r.trials) for r in quarter), "report_pdf_pages": pdf_pages,
            "report_s": round(report_s, 3), "report_build_s": round(build_s, 3), "report_max_rss_mb": report_rss,
            "rescore_log_trials": len(result.get("trials", [])),
            "rescore_log_minutes": round(read_log(hour).duration_s / 60, 1),
            "rescore_s": round(rescore_s, 3), "rescore_peak_mb": round(rescore_peak, 1),
            "rescore_identical": bool(result.get("identical")),
            "goals": GOALS,
        }
        res["goals_met"] = {k: res[k] < v for k, v in GOALS.items()}
        assert len(in_process) == n
        return res
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", metavar="OUT", help="write the results here")
    ap.add_argument("--children", type=int, default=40)
    ap.add_argument("--sessions", type=int, default=45)
    a = ap.parse_args(argv)
    res = run(a.children, a.sessions)
    print(json.dumps(res, indent=2))
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
