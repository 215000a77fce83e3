"""The ``tandem`` command line: the parser, and the dispatch to one module per command group.

Each command lives in its own module of :mod:`engine.cli` (``demo``,
``run``, ``assess``, ``records`` for ``sessions`` and ``rescore``, ...)
as a function of the parsed arguments that returns the exit code.
Errors are one plain sentence on stderr and a non-zero exit, never a
traceback (set ``TANDEM_DEBUG=1`` to see one for an internal error).

Before any command runs: every argument must be UTF-8 text, every numeric
option within its range (:mod:`engine.cli.bounds`), no option that names
something empty, and a child id safe (:func:`engine.ids.check_child_id`).
While it runs, everything printed is terminal-safe and a reader that goes
away ends the output quietly (:mod:`engine.cli.output`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys

from engine import __version__
from engine.cli import bounds
from engine.cli.bounds import check_parsed, edit, id_list, number, whole
from engine.cli.exits import EXIT_ERROR, EXIT_INTERNAL, EXIT_INTERRUPTED
from engine.cli.output import SafeOutput
from engine.errors import ConfigError, TandemError
from engine.ids import check_child_id
from engine.scoring.objectives import NOT_RECORDED, PROMPT_LEVELS
from engine.text import one_line, shown

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line (no usage block) and terminal-safe (an argument may hold anything)."""

    def error(self, message: str):  # argparse's hook: print the message and exit 2
        message = one_line(message)
        # "argument --seed: --seed must be ..." (a bounds type's own sentence names the option already)
        match = re.fullmatch(r"argument (\S+): (.*)", message)
        if match and match.group(2).startswith(match.group(1).split("/")[-1]):
            message = match.group(2)
        self.exit(EXIT_ERROR, f"tandem: {message.rstrip('.')} (see `{self.prog} --help`).\n")


def _not_utf8(argv: list[str]) -> str | None:
    """The first argument that is not UTF-8 text (Python keeps its bytes as lone surrogates), shown; else None."""
    for arg in argv:
        if isinstance(arg, str) and any("\udc80" <= ch <= "\udcff" for ch in arg):
            return shown(arg)
    return None


#: Options whose value names something (a folder, a file, a device, a model): an empty value names nothing.
_NAMING_OPTIONS = ("out", "screenshot", "soundfont", "summary", "played", "midi_in", "midi_out", "audio",
                   "child_model", "profile", "simulate", "note", "data_dir")


def _check_not_empty(args: argparse.Namespace) -> None:
    """``--out ""`` and the like are refused: an empty value would silently mean "the default" or "here"."""
    for name in _NAMING_OPTIONS:
        value = getattr(args, name, None)
        if isinstance(value, str) and not value.strip():
            flag = "--" + name.replace("_", "-")
            raise ConfigError(f"{flag} is empty; give a value (see `tandem {args.command} --help`) or leave it out.")


def _check_child(args: argparse.Namespace) -> None:
    """Every command that takes a child checks its id, once, before anything runs (engine.ids)."""
    child = getattr(args, "child", None)
    if child is not None:
        check_child_id(child)


_WINDOW_SENTENCE = ("The window must be a positive number of milliseconds, at most 1000 (e.g. --window-ms 80), "
                    "not {value}.")
_WARMUP_SENTENCE = "The warm-up must be a number of cues from 0 to 10000 (--warmup), not {value}."


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="tandem", description="Tandem: real-time music interventions for music therapy.")
    p.add_argument("--version", action="version", version=f"tandem {__version__}")
    p.add_argument("--data-dir", metavar="DIR", help="where session data lives (default: TANDEM_DATA or the user data folder)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    # Commands that touch session data also take --data-dir after the command name.
    data_dir_opt = _Parser(add_help=False)
    data_dir_opt.add_argument("--data-dir", metavar="DIR", dest="data_dir_sub", help=argparse.SUPPRESS)

    # Simulated visits (a simulated child) stay out of a child's documents unless asked for.
    simulated_opt = _Parser(add_help=False)
    simulated_opt.add_argument("--include-simulated", action="store_true",
                               help="also use simulated visits and assessments (a simulated child: tandem demo, "
                                    "tandem assess --simulate); left out by default")

    # The devices and the screen of a live session: `tandem run` and the live `tandem assess`.
    live_opt = _Parser(add_help=False)
    live_opt.add_argument("--audio", metavar="DEVICE",
                          help="audio device (index or part of its name; default: the system's)")
    live_opt.add_argument("--blocksize", type=whole("--blocksize", bounds.BLOCKSIZE), default=128,
                          help="frames per block, 64-512 (default 128)")
    live_opt.add_argument("--midi-transport", default=None, choices=("auto", "rtmidi", "jack"),
                          help="how MIDI is read and sent (default auto: frame-exact through JACK where JACK is "
                               "the server)")
    live_opt.add_argument("--no-ui", action="store_true",
                          help="no session screen: a status line and the same keys in the terminal")
    live_opt.add_argument("--theme", default=None, choices=("standard", "low_stimulation"),
                          help="the child's screen: standard, or low_stimulation (softer colours, less motion)")
    live_opt.add_argument("--fullscreen", action="store_true", help="the session screen fills the display")
    live_opt.add_argument("--soundfont", metavar="SF2",
                          help="General MIDI SoundFont (default: TANDEM_SOUNDFONT or TimGM6mb)")

    d = sub.add_parser("devices", parents=[data_dir_opt], help="list audio and MIDI devices and calibration profiles")
    d.add_argument("--json", action="store_true", help="print JSON")
    d.set_defaults(command_module="devices", command_function="run")

    m = sub.add_parser("demo", parents=[data_dir_opt], help="full sessions with a simulated child, no hardware")
    m.add_argument("scripts", nargs="*", metavar="SCRIPT",
                   help="intervention scripts to run, in order, as one visit's activities (none: the metronome, "
                        "content/songs/metronome.toml)")
    m.add_argument("--child", default="demo-child", help="pseudonymous child id (default demo-child)")
    m.add_argument("--sessions", type=whole("--sessions", bounds.SESSIONS), default=1, metavar="N",
                   help="how many visits to run, 1-100 (default 1)")
    m.add_argument("--days-apart", type=number("--days-apart", bounds.DAYS_APART), default=None, metavar="DAYS",
                   help="date the visits this many days apart from today, above 0 and at most 365 (a calendar of "
                        "simulated visits; mastery needs visits on separate days)")
    m.add_argument("--out", metavar="DIR", help="write session folders here instead of the data directory")
    m.add_argument("--child-model", default=None, metavar="NAME",
                   help="the simulated child's behaviour model (steady, early, drifting, impulsive, slow, silent, "
                        "double, learning; default steady with a script)")
    m.add_argument("--profile", default=None, metavar="NAME",
                   help="instead of a model, a child tapping along with this tapping profile (typical, adult, "
                        "motor, ...; rhythmic cueing only; the default without a script: typical)")
    m.add_argument("--tempo", type=number("--tempo", bounds.TEMPO_BPM), default=None, metavar="BPM",
                   help="start the script at this tempo, 20-300 BPM (and within the script's [adapt] range)")
    m.add_argument("--beats", type=whole("--beats", bounds.BEATS), default=None, metavar="N",
                   help="rhythmic cueing: N beats after the count-in, whole bars, at most 2000 (the metronome: 32)")
    m.add_argument("--seed", type=whole("--seed", bounds.SEED), default=None, metavar="N",
                   help="random seed for the simulated child, 0-4294967295 (default 0 with a script, a new child "
                        "each time without)")
    m.add_argument("--blocksize", type=whole("--blocksize", bounds.BLOCKSIZE), default=128,
                   help="frames per block, 64-512 (default 128)")
    m.add_argument("--soundfont", metavar="SF2", help="General MIDI SoundFont (default: TANDEM_SOUNDFONT or TimGM6mb)")
    m.add_argument("--pace", choices=("fast", "realtime"), default="fast",
                   help="run as fast as possible (default) or in real time, to watch and listen")
    m.add_argument("--max-trials", type=whole("--max-trials", bounds.MAX_TRIALS), default=None, metavar="N",
                   help="stop each session after N trials, 1-500")
    m.add_argument("--screenshot", metavar="PNG",
                   help="save a picture of the session screen as the child plays (first session)")
    m.add_argument("--json", action="store_true",
                   help="print per session the script, trials with their scores and each objective's status as JSON")
    m.set_defaults(command_module="demo", command_function="run")

    r = sub.add_parser("run", parents=[data_dir_opt, live_opt], help="a live visit on real devices: its activities in order")
    r.add_argument("scripts", nargs="+", metavar="SCRIPT",
                   help="the visit's activities in order: intervention scripts (.toml, e.g. content/songs/hello.toml "
                        "content/songs/echo-drums.toml content/songs/goodbye.toml), MIDI songs (.mid) to play "
                        "along with, or `free` for free play")
    r.add_argument("--child", required=True, help="pseudonymous child id")
    r.add_argument("--midi-in", metavar="NAME", help="MIDI input (part of its name; see `tandem devices`)")
    r.add_argument("--midi-out", metavar="NAME", help="MIDI output for the song/cues (external synth or keyboard)")
    r.add_argument("--mic", action="store_true",
                   help="listen to the microphone too: onsets and voiced responses, the engine's own sounds taken out")
    r.add_argument("--screenshot", metavar="PNG", help="save a picture of the session screen once the child plays "
                                                       "(drawn off-screen with --no-ui)")
    r.add_argument("--no-wait", action="store_true",
                   help="start the script at once instead of on the therapist's space key")
    r.add_argument("--duration", type=number("--duration", bounds.DURATION_S), metavar="S",
                   help="end the session after S seconds (above 0, at most 14400: four hours)")
    r.add_argument("--prompt-default", metavar="LEVEL", default=NOT_RECORDED, choices=(*PROMPT_LEVELS, NOT_RECORDED),
                   help=f"the prompt level of every trial not marked with p: {', '.join(PROMPT_LEVELS)} (default: "
                        f"'{NOT_RECORDED}'; an unmarked trial is never taken as independent)")
    r.add_argument("--tempo-scale", type=number("--tempo-scale", bounds.TEMPO_SCALE), default=None, metavar="X",
                   help="play the MIDI song this much faster, 0.25-4 (default 1)")
    r.add_argument("--json", action="store_true", help="print the session summary as JSON")
    r.set_defaults(command_module="run", command_function="run")

    asm = sub.add_parser("assess", parents=[data_dir_opt, live_opt],
                         help="the initial assessment: a battery of short musical tasks (about 10-13 minutes)")
    asm.add_argument("child", metavar="CHILD", help="pseudonymous child id")
    asm.add_argument("--simulate", metavar="MODEL",
                     help="run every task with a simulated child on the offline backend, no hardware (steady, early, "
                          "drifting, impulsive, slow, silent, double, learning)")
    asm.add_argument("--midi-in", metavar="NAME", help="MIDI pad or keyboard (part of its name; see `tandem devices`)")
    asm.add_argument("--keyboard", action="store_true",
                     help="the MIDI input is a keyboard: adds melodic imitation (with --simulate: a simulated keyboard)")
    asm.add_argument("--mic", action="store_true", help="listen to the microphone too: adds the singing task")
    asm.add_argument("--midi-out", metavar="NAME", help="MIDI output (external synth or keyboard)")
    asm.add_argument("--tasks", type=id_list("--tasks", "stop_and_go,turn_taking"),
                     metavar="ID,ID", help="only these tasks (e.g. stop_and_go,turn_taking; default: all)")
    asm.add_argument("--seed", type=whole("--seed", bounds.SEED), default=None, metavar="N",
                     help="with --simulate: the simulated child's seed, 0-4294967295 (default 0)")
    asm.add_argument("--json", action="store_true", help="print the assessment as JSON")
    asm.set_defaults(command_module="assess", command_function="run")

    c = sub.add_parser("calibrate", parents=[data_dir_opt], help="measure and store the latencies of this setup")
    c.add_argument("--audio", metavar="DEVICE", help="audio device (index or part of its name; default: the system's)")
    c.add_argument("--blocksize", type=whole("--blocksize", bounds.BLOCKSIZE), default=128,
                   help="frames per block, 64-512 (default 128), as for `tandem run`")
    c.add_argument("--midi-in", metavar="NAME", help="the pad to calibrate too (part of its name; see `tandem devices`)")
    c.add_argument("--midi-transport", default=None, choices=("auto", "rtmidi", "jack"),
                   help="how MIDI input is read, as for `tandem run`")
    c.add_argument("--no-mic", action="store_true",
                   help="no microphone: only the pad, by tapping along with clicks (less exact)")
    c.add_argument("--taps", type=whole("--taps", bounds.TAPS), default=None, metavar="N",
                   help="with --midi-in: pad hits to measure, 5-100 (default 12)")
    c.add_argument("--json", action="store_true", help="print the measurement as JSON")
    c.set_defaults(command_module="calibrate", command_function="run")

    ss = sub.add_parser("sessions", parents=[data_dir_opt], help="list the recorded sessions: date, script, duration, trials, status")
    ss.add_argument("child", nargs="?", metavar="CHILD", help="only this child's sessions (pseudonymous id)")
    ss.add_argument("--json", action="store_true", help="print JSON")
    ss.set_defaults(command_module="sessions", command_function="run")

    rs = sub.add_parser("rescore", help="recompute a session log's trials and objectives with the current scoring code")
    rs.add_argument("log", metavar="LOG", help="a session's events.jsonl or its folder")
    rs.add_argument("--json", action="store_true", help="print JSON")
    rs.set_defaults(command_module="rescore", command_function="run")

    pl = sub.add_parser("plan", help="the child's plan: goals, objectives, phases")
    plsub = pl.add_subparsers(dest="plan_cmd", metavar="new|show|suggest|accept|reject")
    pl.set_defaults(command_module=None, plan_help=pl)
    pn = plsub.add_parser("new", parents=[data_dir_opt], help="write a commented template plan to edit")
    pn.add_argument("child", metavar="CHILD", help="pseudonymous child id")
    pn.set_defaults(command_module="plan", command_function="run")
    ps = plsub.add_parser("show", parents=[data_dir_opt], help="check the plan and print it")
    ps.add_argument("child", metavar="CHILD", help="pseudonymous child id")
    ps.add_argument("--json", action="store_true", help="print JSON")
    ps.set_defaults(command_module="plan", command_function="run")
    pg = plsub.add_parser("suggest", parents=[data_dir_opt, simulated_opt],
                          help="objectives suggested from the latest assessment (S1, S2, ...) and their states")
    pg.add_argument("child", metavar="CHILD", help="pseudonymous child id")
    pg.add_argument("--json", action="store_true", help="print JSON")
    pg.set_defaults(command_module="plan", command_function="run")
    pa = plsub.add_parser("accept", parents=[data_dir_opt, simulated_opt],
                          help="add suggested objectives to the plan (only these enter it)")
    pa.add_argument("child", metavar="CHILD", help="pseudonymous child id")
    pa.add_argument("ids", nargs="+", metavar="ID", help="suggestion ids, e.g. S1 S3")
    pa.add_argument("--set", action="append", metavar="ID.FIELD=VALUE", type=edit("--set"),
                    help="change a field before it enters the plan, e.g. S1.threshold=70 (repeatable)")
    pa.set_defaults(command_module="plan", command_function="run")
    pj = plsub.add_parser("reject", parents=[data_dir_opt, simulated_opt], help="record that suggestions were rejected")
    pj.add_argument("child", metavar="CHILD", help="pseudonymous child id")
    pj.add_argument("ids", nargs="+", metavar="ID", help="suggestion ids")
    pj.set_defaults(command_module="plan", command_function="run")

    rp = sub.add_parser("report", parents=[data_dir_opt, simulated_opt],
                        help="progress notes and a progress report (HTML, PDF, CSV, JSON)")
    rp.add_argument("child", metavar="CHILD", help="pseudonymous child id")
    rp.add_argument("--from", dest="date_from", metavar="DATE", help="first day, YYYY-MM-DD")
    rp.add_argument("--to", dest="date_to", metavar="DATE", help="last day, YYYY-MM-DD")
    rp.add_argument("--format", dest="formats", default="html,pdf,csv,json", metavar="FORMATS",
                    help="comma-separated: html,pdf,csv,json (default all)")
    rp.add_argument("--out", metavar="DIR", help="write here (default <data dir>/reports/CHILD/FROM_TO)")
    rp.add_argument("--names", action="store_true", help="show the plan's display name instead of the id")
    rp.add_argument("--summary", metavar="FILE",
                    help="your summary and recommendations (a text file; blank lines separate paragraphs)")
    rp.add_argument("--discharge", action="store_true",
                    help="a discharge summary: each objective's status at discharge and what to carry on with")
    rp.set_defaults(command_module="report", command_function="run")

    nt = sub.add_parser("note", parents=[data_dir_opt],
                        help="a visit's session note: write its Subjective, Assessment and Plan; "
                             "`tandem note sign CHILD VISIT --by NAME` signs it")
    nt.add_argument("child", metavar="CHILD", help="pseudonymous child id (or `sign`, then CHILD VISIT)")
    nt.add_argument("visit", nargs="?", metavar="VISIT",
                    help="the visit: its folder's name, its day (YYYY-MM-DD) or latest (default: the latest "
                         "treatment visit)")
    nt.add_argument("extra", nargs="?", help=argparse.SUPPRESS)
    nt.add_argument("--subjective", metavar="TEXT", help="what you observed: affect, engagement, behaviour")
    nt.add_argument("--assessment", metavar="TEXT", help="your words beside Tandem's sentence per objective")
    nt.add_argument("--plan", metavar="TEXT", help="the plan for the next visit")
    nt.add_argument("--from-file", metavar="FILE",
                    help="the parts from a text file, each under ## Subjective, ## Assessment, ## Plan")
    nt.add_argument("--by", metavar="NAME", help="who writes, signs or amends the note")
    nt.add_argument("--why", metavar="TEXT", help="why a signed note is amended (an amendment needs it)")
    nt.add_argument("--show", action="store_true", help="print the note's parts, signature and amendments")
    nt.add_argument("--json", action="store_true", help="print the note as JSON")
    nt.add_argument("--out", metavar="DIR", help="write the rendered note here (default <data dir>/reports/CHILD/notes)")
    nt.add_argument("--names", action="store_true", help="name the child by the plan's display name")
    nt.add_argument("--no-render", action="store_true", help="save only; do not render the note's HTML and PDF")
    nt.set_defaults(command_module="note", command_function="run")

    hp = sub.add_parser("homepack", parents=[data_dir_opt, simulated_opt],
                        help="songs at the child's working tempo and one page for the family, to use at home")
    hp.add_argument("child", metavar="CHILD", help="pseudonymous child id")
    hp.add_argument("--out", metavar="DIR", help="write here, a new or empty folder "
                                                 "(default <data dir>/homepacks/CHILD/YYYYMMDD)")
    hp.add_argument("--note", metavar="TEXT", help="your own words for the family, printed on the page")
    hp.add_argument("--names", action="store_true", help="kept for old scripts: the family page always uses the plan's display name when there is one")
    hp.add_argument("--minutes", type=number("--minutes", bounds.MINUTES), default=3.0, metavar="M",
                    help="about how long each song plays, minutes, above 0 and at most 10 (default 3)")
    hp.set_defaults(command_module="homepack", command_function="run")

    v = sub.add_parser("validate", help="check intervention scripts; errors name file:line and field")
    v.add_argument("scripts", nargs="*", metavar="SCRIPT", help="script files (.toml)")
    v.add_argument("--schema", action="store_true", help="print the scripts' JSON Schema")
    v.set_defaults(command_module="validate", command_function="run")

    o = sub.add_parser("onsets", help="run the live onset detector over a recording")
    o.add_argument("audio", metavar="AUDIO", help="the recording (WAV, FLAC, OGG, MP3; 8 kHz or more; stereo is mixed to mono)")
    o.add_argument("--played", metavar="PLAYED", help="what the speakers played during it, same start (for self-sound suppression)")
    o.add_argument("--blocksize", type=whole("--blocksize", bounds.ONSET_BLOCKSIZE), default=128, metavar="N",
                   help="frames per block, 16-8192 (default 128)")
    o.add_argument("--json", action="store_true", help="print JSON")
    o.set_defaults(command_module="onsets", command_function="run")

    a = sub.add_parser("analyze", help="score cue/tap or call/response time files recorded elsewhere")
    asub = a.add_subparsers(dest="kind", metavar="KIND", required=True)
    a_sync = asub.add_parser("sync", help="synchronisation of taps to cues (asynchrony, vector strength, ...)")
    a_sync.add_argument("--cues", required=True, metavar="FILE", help="cue times, seconds, one per line (# comments)")
    a_sync.add_argument("--taps", required=True, metavar="FILE", help="tap times, seconds, one per line (# comments)")
    a_sync.add_argument("--window-ms", type=number("--window-ms", bounds.WINDOW_MS, _WINDOW_SENTENCE), default=80.0,
                        metavar="N", help="hit window for within_window_pct, ± ms, above 0 and at most 1000 "
                                          "(default 80)")
    a_sync.add_argument("--warmup", type=whole("--warmup", bounds.WARMUP, _WARMUP_SENTENCE), default=0, metavar="N",
                        help="leading cues not scored, 0-10000 (default 0)")
    a_sync.add_argument("--json", action="store_true", help="print JSON")
    a_sync.set_defaults(command_module="analyze", command_function="run")
    a_imit = asub.add_parser("imitation", help="a response against the call it imitates")
    a_imit.add_argument("--call", required=True, metavar="FILE", help="call onset times, seconds, one per line")
    a_imit.add_argument("--response", required=True, metavar="FILE", help="response onset times, seconds, one per line")
    a_imit.add_argument("--json", action="store_true", help="print JSON")
    a_imit.set_defaults(command_module="analyze", command_function="run")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the ``tandem`` command ``argv`` (default ``sys.argv[1:]``) and return its exit code.

    Everything it prints is terminal-safe, and a reader that goes away (a broken pipe) ends the output
    quietly (:mod:`engine.cli.output`); every refusal is one sentence on stderr.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    with SafeOutput():
        return _main(argv)


def _main(argv: list[str]) -> int:
    bad = _not_utf8(argv)
    if bad is not None:
        print(f"tandem: the argument {bad} is not UTF-8 text (a file name or text in another encoding); Tandem "
              f"reads ids, names and paths as UTF-8, so retype it or rename the file.", file=sys.stderr)
        return EXIT_ERROR
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "data_dir_sub", None):
        args.data_dir = args.data_dir_sub
    if args.command is None:
        parser.print_help()
        return EXIT_ERROR
    if args.command_module is None:  # `tandem plan` without a subcommand
        args.plan_help.print_help()
        return EXIT_ERROR
    try:
        check_parsed(args)  # a number outside its option's range (engine.cli.bounds)
        _check_not_empty(args)
        _check_child(args)  # the one child-id check, before any command touches a file
        # Each command's module is loaded when it runs: `tandem --help` or `tandem validate` must not load
        # PortAudio, pygame or WeasyPrint, which the commands that play or draw import at their top.
        command = getattr(importlib.import_module(f"engine.cli.{args.command_module}"), args.command_function)
        code = command(args)
        sys.stdout.flush()  # a reader that went away is found here, not in the interpreter's exit
        return code
    except TandemError as exc:
        # One sentence; a script's or plan's problems are one sentence each, one per line (as `validate`).
        for sentence in getattr(exc, "problems", None) or str(exc).splitlines() or [type(exc).__name__]:
            print(f"tandem: {one_line(sentence)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("tandem: stopped (Ctrl-C); everything recorded so far is kept.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # a write that did not go through sys.stdout (the reader went away): end quietly
        return 0
    except Exception as exc:  # a bug: still one sentence, unless asked for the traceback
        if os.environ.get("TANDEM_DEBUG"):
            raise
        print(f"tandem: internal error ({type(exc).__name__}: {shown(str(exc), 300)[1:-1]}); please report it, "
              f"with TANDEM_DEBUG=1 for details.", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
