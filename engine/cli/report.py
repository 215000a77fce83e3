"""What ``tandem report`` does (the command line calls it).

Each takes the data directory ``root`` and an ``echo`` for its output and
returns the exit status; bad input (a bad child id, date or format, a missing
or broken plan) raises :class:`engine.errors.ConfigError` with one sentence
(a broken plan: one sentence per problem, each naming file:line and field).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from engine.errors import ConfigError
from engine.fileread import TEXT_LIMIT, read_text
from engine.homepack import home_practice
from engine.ids import check_child_id
from engine.paths import data_dir
from engine.records.index import load_records
from engine.records.model import SessionRecord
from engine.records.plan import load_plan, plan_path
from engine.reports.build import FORMATS, build_report, select_records, session_date

__all__ = ["cmd_report", "parse_date", "parse_formats"]

Echo = Callable[[str], None]


def parse_date(text: str | None, flag: str) -> dt.date | None:
    """A day written YYYY-MM-DD (or ``today``), or None; else ConfigError naming the flag."""
    if text is None or text == "":
        return None
    if text.strip().lower() == "today":
        return dt.date.today()
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"{flag} {text!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-09-01.") from None


def parse_formats(formats: str | Sequence[str] | None) -> list[str]:
    """``"html,pdf"`` or a list → the formats, checked; None → every format."""
    if formats is None:
        return list(FORMATS)
    items = formats.split(",") if isinstance(formats, str) else [p for f in formats for p in str(f).split(",")]
    out = [f.strip().lower() for f in items if f.strip()]
    for f in out:
        if f not in FORMATS:
            raise ConfigError(f"--format {f!r} is not a report format; choose from {', '.join(FORMATS)} "
                              "(comma-separated, e.g. --format html,pdf).")
    if not out:
        raise ConfigError(f"--format is empty; choose from {', '.join(FORMATS)}.")
    return list(dict.fromkeys(out))


def cmd_report(root: str | os.PathLike, child: str,
               records_loader: Callable[[Path, str], list[SessionRecord]],
               date_from: str | dt.date | None, date_to: str | dt.date | None,
               formats: str | Sequence[str] | None, out_dir: str | os.PathLike | None, names: bool,
               echo: Echo, *, require_plan: bool = True, summary_file: str | os.PathLike | None = None,
               include_simulated: bool = False, discharge: bool = False,
               home_practice: Callable[..., list[str]] | None = None) -> int:
    """``tandem report CHILD [--from D] [--to D] [--format ...] [--out DIR] [--names] [--summary FILE]
    [--include-simulated]``.

    ``records_loader(root, child)`` gives the child's sessions. The report is
    written to ``out_dir`` (default ``<root>/reports/<child>/<from>_<to>``).
    With ``require_plan`` (the default) a child without a plan is an error;
    without it the scripts' own objectives are reported and a note says so.
    Simulated visits are left out unless ``include_simulated`` (then marked),
    and assessment probes unless the plan names their task (see
    :func:`engine.reports.build.select_records`); the line printed says how
    many of each.
    """
    root = Path(root)
    check_child_id(child)
    first = date_from if isinstance(date_from, dt.date) or date_from is None else parse_date(date_from, "--from")
    last = date_to if isinstance(date_to, dt.date) or date_to is None else parse_date(date_to, "--to")
    if first and last and last < first:
        raise ConfigError(f"--to {last} is before --from {first}; give the earlier day with --from.")
    fmts = parse_formats(formats)
    summary = None
    if summary_file is not None:
        # A regular text file within the limit: never a FIFO (which would wait for ever) or a device.
        summary = read_text(summary_file, what="summary", limit_bytes=TEXT_LIMIT,
                            missing=f"The summary {summary_file} cannot be read (it does not exist); check the "
                                    f"path, or give a plain text file (UTF-8).",
                            too_large="a summary is a few paragraphs of plain text (UTF-8)")
    plan = None
    has_plan = os.path.lexists(plan_path(root, child))  # a plan that is a FIFO or a link is its own sentence
    unreadable: list[dict] = []
    records = list(records_loader(root, child, unreadable=unreadable) if records_loader is load_records
                   else records_loader(root, child))
    if not has_plan and not records and not unreadable:
        # Nothing is recorded for this id (a typo, another data folder): no report of 0 sessions.
        raise ConfigError(f"No visits and no plan are recorded for the child '{child}' in {root}; check the id "
                          f"(`tandem sessions` lists the children and their visits) and the data folder "
                          f"(--data-dir or TANDEM_DATA).")
    if has_plan or require_plan:
        plan = load_plan(root, child)  # PlanError (a ConfigError) if missing or broken
    else:
        echo(f"note: {child} has no plan, so only the scripts' own objectives are reported "
             f"(create one with `tandem plan new {child}`).")
    if names and (plan is None or not plan.display_name):
        echo(f"note: --names was given, but the plan of {child} has no display_name; the id is used.")
    if out_dir is None:
        span = f"{first.isoformat() if first else 'start'}_{last.isoformat() if last else 'latest'}"
        out_dir = root / "reports" / child / span

    def in_range(r: SessionRecord) -> bool:
        return (first is None or session_date(r) >= first) and (last is None or session_date(r) <= last)

    kept, left = select_records(records, plan, include_simulated=include_simulated)
    shown = [r for r in kept if in_range(r)]
    left = [r for r in left if in_range(r)]
    # The family's home practice (engine.homepack.home_practice), naming the child as the report does.
    shown_name = plan.display_name if names and plan is not None and plan.display_name else None
    practice = home_practice(root, child, plan, kept, name=shown_name) if home_practice is not None else []
    written = build_report(child, records, plan, date_from=first, date_to=last, formats=fmts, out_dir=out_dir,
                           names=names, summary=summary, include_simulated=include_simulated,
                           unreadable=unreadable, discharge=discharge, home_practice=practice)
    interrupted = sum(1 for r in shown if r.status == "interrupted")
    damaged = sum(1 for r in shown if r.status == "damaged")
    simulated = sum(1 for r in shown if r.simulated)
    extra = [f"{interrupted} interrupted" if interrupted else "", f"{damaged} damaged, with a warning" if damaged else "",
             f"{simulated} simulated, marked" if simulated else ""]
    what = f"{len(shown)} session{'s' if len(shown) != 1 else ''}" + (
        f" ({'; '.join(e for e in extra if e)})" if any(extra) else "")
    echo(f"Report for {child}: {what}, written to {out_dir}")
    for fmt, paths in written.items():
        main = [p for p in paths if p.parent == Path(out_dir)]
        notes = len(paths) - len(main)
        extra = f" and {notes} session note{'s' if notes != 1 else ''} in notes/" if notes else ""
        echo(f"  {fmt}: {', '.join(p.name for p in main)}{extra}")
    for row in unreadable:
        why = "; ".join(row.get("damage") or []) or "it cannot be read"
        echo(f"warning: the visit log {row['path']} could not be read ({why}); it is not in the report, "
             f"whose first page says so.")
    n_sim = sum(1 for r in left if r.simulated and not include_simulated)
    if n_sim:
        echo(f"note: {n_sim} simulated visit{'s were' if n_sim != 1 else ' was'} left out (a simulated child, not "
             f"{child}); --include-simulated shows {'them' if n_sim != 1 else 'it'}, marked.")
    if len(left) > n_sim:
        n = len(left) - n_sim
        echo(f"note: {n} assessment probe{'s were' if n != 1 else ' was'} left out (they make the baseline report; "
             f"a plan objective's probes can name a task whose probes are its baseline points).")
    return 0


def run(args: argparse.Namespace) -> int:
    return cmd_report(data_dir(args.data_dir), args.child, load_records, args.date_from, args.date_to,
                      args.formats, args.out, args.names, print, require_plan=False,
                      summary_file=args.summary, include_simulated=args.include_simulated,
                      discharge=args.discharge, home_practice=home_practice)
