"""The ``tandem`` command line.

Errors are one plain sentence on stderr and a non-zero exit, never a
traceback (set ``TANDEM_DEBUG=1`` to see one for an internal error).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from engine import __version__
from engine.errors import TandemError

__all__ = ["main"]

EXIT_ERROR = 2
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130


def _cmd_devices(args: argparse.Namespace) -> int:
    from engine.calibration.profiles import load_profiles
    from engine.midi.devices import list_devices
    from engine.paths import data_dir

    found = list_devices()
    found["calibration_profiles"] = [p.to_dict() for p in load_profiles(data_dir(args.data_dir))]
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    print("Audio devices:")
    if not found["audio"]:
        print("  (none found)")
    for d in found["audio"]:
        mark = "*" if d["default"] else " "
        print(f" {mark} [{d['index']}] {d['name']} ({d['hostapi']}): {d['inputs']} in, {d['outputs']} out, "
              f"{d['default_samplerate']:g} Hz")
    for kind in ("midi_inputs", "midi_outputs"):
        print(f"MIDI {'inputs' if kind == 'midi_inputs' else 'outputs'}:")
        if not found[kind]:
            print("  (none found)")
        for p in found[kind]:
            profile = f", profile '{p['profile']}'" if "profile" in p else ""
            print(f"   {p['name']} ({p['api']}{profile})")
    print("Calibration profiles:")
    if not found["calibration_profiles"]:
        print("  (none: run `tandem calibrate`)")
    for prof in found["calibration_profiles"]:
        s = prof["setup"]
        rt = "—" if prof["roundtrip_ms"] is None else f"{prof['roundtrip_ms']:.2f} ± {prof['roundtrip_spread_ms']:.2f} ms"
        midi = ("—" if prof["midi_offset_ms"] is None else
                f"{prof['midi_offset_ms']:+.2f} ± {prof['midi_spread_ms']:.2f} ms ({prof['midi_method']})")
        print(f"   {s['audio_device']}, {s['blocksize']} frames, {s['sample_rate']} Hz, MIDI {s['midi_device'] or 'none'}: "
              f"round trip {rt}, MIDI − input {midi}, measured {prof['measured_at'][:10]}")
    for note in found["notes"]:
        print(f"note: {note}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from engine.paths import data_dir
    from engine.simulation.metronome import first_sound_tracer, run_demo

    root = Path(args.out) if args.out else data_dir(args.data_dir)
    if args.scripts:
        from engine.simulation.demo import run_script_demo

        if args.sessions < 1:
            raise TandemError(f"--sessions must be at least 1, not {args.sessions}.")
        everything = []
        for k, script in enumerate(args.scripts):
            if k and not args.json:
                print()
            everything += run_script_demo(
                script, root=root, child_id=args.child, model=args.child_model, sessions=args.sessions,
                seed=0 if args.seed is None else args.seed, pace=args.pace, blocksize=args.blocksize,
                soundfont=args.soundfont, echo=None if args.json else print, max_trials=args.max_trials,
                screenshot=args.screenshot if k == 0 else None)
        if args.json:
            print(json.dumps(everything, indent=2))
        return 0
    tracer = first_sound_tracer()
    for i in range(args.sessions):
        if args.sessions > 1:
            print(f"=== session {i + 1} of {args.sessions} ===")
        seed = None if args.seed is None else args.seed + i
        run_demo(root=root, child_id=args.child, profile=args.profile, tempo_bpm=args.tempo,
                 beats=args.beats, seed=seed, blocksize=args.blocksize, soundfont=args.soundfont,
                 on_first_sound=tracer if i == 0 else None)
        if i + 1 < args.sessions:
            print()
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from engine.paths import data_dir
    from engine.session.live import run_session
    from engine.session.terminal import TerminalKeys

    with TerminalKeys() as keys:
        summary = run_session(args.script, root=data_dir(args.data_dir), child_id=args.child,
                              midi_in=args.midi_in, midi_out=args.midi_out, mic=args.mic, audio=args.audio,
                              blocksize=args.blocksize, duration_s=args.duration, tempo_scale=args.tempo_scale,
                              transport=args.midi_transport, soundfont=args.soundfont,
                              controls=keys.commands if keys.active else None,
                              screen="none" if args.no_ui else "window", screenshot=args.screenshot,
                              theme=args.theme, fullscreen=args.fullscreen, wait_for_space=not args.no_wait,
                              status_line=keys.active and args.no_ui and sys.stdout.isatty())
    if args.json:
        print(json.dumps(summary, indent=2))
    return EXIT_INTERRUPTED if summary.get("status") == "stopped" else 0


def _cmd_assess(args: argparse.Namespace) -> int:
    from engine.assessment.battery import format_assessment, run_assessment
    from engine.paths import data_dir

    root = data_dir(args.data_dir)
    echo = None if args.json else print
    options = {"blocksize": args.blocksize, "soundfont": args.soundfont}
    if args.simulate:
        assessment = run_assessment(args.child, root=root, simulate=args.simulate, keyboard=args.keyboard,
                                    echo=echo, seed=args.seed, tasks=args.tasks, **options)
    else:
        from engine.session.terminal import TerminalKeys

        with TerminalKeys() as keys:
            assessment = run_assessment(
                args.child, root=root, midi_in=args.midi_in, mic=args.mic, keyboard=args.keyboard, echo=echo,
                controls=keys.commands if keys.active else None, tasks=args.tasks, midi_out=args.midi_out,
                audio=args.audio, transport=args.midi_transport, screen="none" if args.no_ui else "window",
                theme=args.theme, fullscreen=args.fullscreen,
                status_line=keys.active and args.no_ui and sys.stdout.isatty(), **options)
    from engine.assessment.report import write_baseline

    written = write_baseline(assessment, root=root)
    if args.json:
        print(json.dumps(assessment.to_dict(), indent=2))
    else:
        print("\n".join(format_assessment(assessment)))
    say = (lambda text: print(text, file=sys.stderr)) if args.json else print
    say(f"Baseline report: {written['html'][0]} (and baseline.pdf); suggested objectives: "
        f"`tandem plan suggest {args.child}`.")
    return EXIT_INTERRUPTED if assessment.status == "stopped" else 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from engine.calibration.command import run_calibrate
    from engine.paths import data_dir
    from engine.session.live import choose_transport

    audio = int(args.audio) if args.audio and args.audio.isdigit() else args.audio
    transport = choose_transport(args.midi_transport, audio) if args.midi_in else "rtmidi"
    say = (lambda text: print(text, file=sys.stderr)) if args.json else print
    result = run_calibrate(root=data_dir(args.data_dir), audio=audio, blocksize=args.blocksize,
                           midi_in=args.midi_in, transport=transport, mic=not args.no_mic, taps=args.taps,
                           echo=say)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        rt, midi = result["roundtrip"], result["midi"]
        if rt and rt["ok"]:
            print(f"Round trip: {rt['latency_ms']:.2f} ms (spread {rt['spread_ms']:.3f} ms over "
                  f"{rt['found']} test sounds).")
        if midi and midi["ok"]:
            exact = "" if midi["exact"] else ", from tapping along: less exact"
            print(f"MIDI stamp − sound: {midi['offset_ms']:+.2f} ms (spread {midi['spread_ms']:.2f} ms over "
                  f"{midi['used']} hits{exact}).")
        if result["saved"]:
            print(f"Saved the profile in {result['saved']}.")
    for reason in result["reasons"]:
        print(f"tandem: {reason}", file=sys.stderr)
    return 0 if result["ok"] else EXIT_ERROR


def _cmd_sessions(args: argparse.Namespace) -> int:
    from engine.cli.records import cmd_sessions
    from engine.paths import data_dir

    return cmd_sessions(data_dir(args.data_dir), args.child, args.json, print)


def _cmd_rescore(args: argparse.Namespace) -> int:
    from engine.cli.records import cmd_rescore

    return cmd_rescore(args.log, args.json, print)


def _cmd_plan(args: argparse.Namespace) -> int:
    from engine.cli.plan import cmd_plan_new, cmd_plan_show
    from engine.paths import data_dir

    root = data_dir(args.data_dir)
    if args.plan_cmd == "new":
        return cmd_plan_new(root, args.child, print)
    if args.plan_cmd in ("suggest", "accept", "reject"):
        from engine.cli.plan import cmd_plan_accept, cmd_plan_reject, cmd_plan_suggest

        if args.plan_cmd == "suggest":
            return cmd_plan_suggest(root, args.child, args.json, print)
        if args.plan_cmd == "accept":
            return cmd_plan_accept(root, args.child, args.ids, args.set or [], print)
        return cmd_plan_reject(root, args.child, args.ids, print)
    return cmd_plan_show(root, args.child, args.json, print)


def _cmd_report(args: argparse.Namespace) -> int:
    from engine.cli.report import cmd_report
    from engine.paths import data_dir
    from engine.records.index import load_records

    return cmd_report(data_dir(args.data_dir), args.child, load_records, args.date_from, args.date_to,
                      args.formats, args.out, args.names, print, require_plan=False,
                      summary_file=args.summary)


def _cmd_homepack(args: argparse.Namespace) -> int:
    from engine.homepack import cmd_homepack
    from engine.paths import data_dir

    return cmd_homepack(data_dir(args.data_dir), args.child, out=args.out, note=args.note, names=args.names,
                        minutes=args.minutes, echo=print)


def _cmd_validate(args: argparse.Namespace) -> int:
    """`tandem validate SCRIPT... [--schema]`: check scripts, one sentence per problem."""
    from engine.errors import ConfigError
    from engine.interventions.script import ScriptError, load_script

    if args.schema:
        from engine.interventions.schema import script_schema

        print(json.dumps(script_schema(), indent=2))
        if not args.scripts:
            return 0
    if not args.scripts:
        raise ConfigError("Name at least one script to check, e.g. `tandem validate content/songs/*.toml`.")
    failed = 0
    for name in args.scripts:
        try:
            script = load_script(name)
        except ScriptError as exc:
            failed += 1
            for problem in exc.problems:
                print(f"tandem: {problem}", file=sys.stderr)
            continue
        amount = (f"{script.trials} trial{'' if script.trials == 1 else 's'}" if script.trials is not None
                  else f"{script.duration_min:g} min")
        n_obj = len(script.objectives)
        print(f"ok: {name} ({script.title}, {script.kind}, {amount}, "
              f"{n_obj} objective{'' if n_obj == 1 else 's'})")
    return EXIT_ERROR if failed else 0


def _cmd_onsets(args: argparse.Namespace) -> int:
    from engine.audio.onsetfile import detect_file

    result = detect_file(args.audio, played=args.played, blocksize=args.blocksize)
    for warning in result["warnings"]:
        print(f"tandem: warning: {warning}", file=sys.stderr)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['file']}: {result['format']} {result['subtype']}, {result['sample_rate']} Hz, "
          f"{result['duration_s']:.2f} s, {result['channels_used']}, blocks of {result['blocksize']}"
          + (f", played: {result['played']}" if result["played"] else ""))
    onsets = result["onsets"]
    if onsets:
        print(f"{'time (s)':>10}  {'latency (ms)':>12}  {'level (dB)':>10}  kind")
    for o in onsets:
        latency_ms = (o["detected_at_s"] - o["time_s"]) * 1000
        extra = f" ({o['duration_s']:.2f} s)" if o["duration_s"] is not None else ""
        print(f"{o['time_s']:>10.4f}  {latency_ms:>12.1f}  {o['level_db']:>10.1f}  {o['kind']}{extra}")
    print(f"{len(onsets)} onset{'' if len(onsets) == 1 else 's'}")
    return 0


def _cmd_analyze(args: argparse.Namespace) -> int:
    """`tandem analyze sync|imitation`: score time files recorded anywhere (one time in seconds per line)."""
    import math

    from engine.errors import ConfigError
    from engine.scoring.timefile import read_times

    if args.kind == "imitation":
        from engine.scoring.imitation import score_imitation

        result = score_imitation(read_times(args.call, "call"), read_times(args.response, "response")).to_dict()
        if args.json:
            print(json.dumps(result, indent=2, allow_nan=False))
            return 0
        print(f"call: {args.call}, response: {args.response}")
        for key, value in result.items():
            print(f"{key}: {'-' if value is None else value}")
        return 0

    from engine.scoring.sync import match_taps, summarize

    if not (math.isfinite(args.window_ms) and args.window_ms > 0):
        raise ConfigError(f"The window must be a positive number of milliseconds (e.g. --window-ms 80), "
                          f"not {args.window_ms:g}.")
    if args.warmup < 0:
        raise ConfigError(f"The warm-up must be a number of cues, 0 or more, not {args.warmup}.")
    cues = read_times(args.cues, "cue")
    taps = read_times(args.taps, "tap")
    matches = match_taps(cues, taps)
    summary = summarize(matches, len(taps), window_ms=args.window_ms, warmup=args.warmup, tap_s=taps).to_dict()
    per_cue = [{"cue_s": m.cue_s, "tap_s": m.tap_s, "asynchrony_ms": m.asynchrony_ms,
                "warmup": m.cue_index < args.warmup} for m in matches]
    if args.json:
        out = {**summary, "cues": int(cues.size), "taps": int(taps.size), "warmup": args.warmup,
               "cues_file": str(args.cues), "taps_file": str(args.taps), "per_cue": per_cue}
        print(json.dumps(out, indent=2, allow_nan=False))
        return 0

    def num(value, fmt: str) -> str:
        return "-" if value is None else format(value, fmt)

    print(f"cues: {args.cues} ({cues.size}), taps: {args.taps} ({taps.size})"
          + (f", first {args.warmup} cues warm-up (not scored)" if args.warmup else ""))
    print(f"{'cue':>5}  {'cue (s)':>10}  {'tap (s)':>10}  {'asynchrony (ms)':>15}")
    for i, c in enumerate(per_cue):
        note = "  warm-up" if c["warmup"] else ("  missed" if c["tap_s"] is None else "")
        print(f"{i:>5}  {c['cue_s']:>10.4f}  {num(c['tap_s'], '10.4f'):>10}  "
              f"{num(c['asynchrony_ms'], '15.1f'):>15}{note}")
    s = summary
    print(f"scored cues: {s['n_cues']}, taps: {s['n_taps']}, matched: {s['matched']}, missed: {s['missed']}, "
          f"extra: {s['extra']}")
    print(f"asynchrony: mean {num(s['asynchrony_mean_ms'], '.1f')} ms, SD {num(s['asynchrony_sd_ms'], '.1f')} ms "
          f"(negative = early); within ±{s['window_ms']:g} ms: {num(s['within_window_pct'], '.1f')} %")
    print(f"vector strength: {num(s['vector_strength'], '.3f')}, mean phase: {num(s['mean_phase_deg'], '.1f')}°, "
          f"Rayleigh p: {num(s['rayleigh_p'], '.3g')}")
    print(f"inter-tap interval CV: {num(s['iti_cv'], '.3f')}, tempo ratio: {num(s['tempo_ratio'], '.3f')}")
    print("scorable: yes" if s["scorable"] else f"not scorable: {s['reason']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tandem", description="Tandem: real-time music interventions for music therapy.")
    p.add_argument("--version", action="version", version=f"tandem {__version__}")
    p.add_argument("--data-dir", metavar="DIR", help="where session data lives (default: TANDEM_DATA or the user data folder)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    # Commands that touch session data also take --data-dir after the command name.
    data_dir_opt = argparse.ArgumentParser(add_help=False)
    data_dir_opt.add_argument("--data-dir", metavar="DIR", dest="data_dir_sub", help=argparse.SUPPRESS)

    d = sub.add_parser("devices", parents=[data_dir_opt], help="list audio and MIDI devices and calibration profiles")
    d.add_argument("--json", action="store_true", help="print JSON")
    d.set_defaults(func=_cmd_devices)

    m = sub.add_parser("demo", parents=[data_dir_opt], help="full sessions with a simulated child, no hardware")
    m.add_argument("scripts", nargs="*", metavar="SCRIPT",
                   help="intervention scripts to run (none: the built-in metronome session)")
    m.add_argument("--child", default="demo-child", help="pseudonymous child id (default demo-child)")
    m.add_argument("--sessions", type=int, default=1, help="how many sessions to run (default 1)")
    m.add_argument("--out", metavar="DIR", help="write session folders here instead of the data directory")
    m.add_argument("--profile", default="typical", help="simulated child profile (default: typical)")
    m.add_argument("--tempo", type=float, default=100.0, help="metronome tempo in BPM (default 100)")
    m.add_argument("--beats", type=int, default=32, help="beats after the count-in (default 32)")
    m.add_argument("--seed", type=int, default=None, help="random seed for the simulated child")
    m.add_argument("--blocksize", type=int, default=128, help="frames per block, 64-512 (default 128)")
    m.add_argument("--soundfont", metavar="SF2", help="General MIDI SoundFont (default: TANDEM_SOUNDFONT or TimGM6mb)")
    m.add_argument("--child-model", default="steady", metavar="NAME",
                   help="with scripts: the simulated child's behaviour model (steady, early, drifting, impulsive, "
                        "slow, silent, double, learning; default steady)")
    m.add_argument("--pace", choices=("fast", "realtime"), default="fast",
                   help="with scripts: run as fast as possible (default) or in real time, to watch and listen")
    m.add_argument("--max-trials", type=int, default=None, metavar="N",
                   help="with scripts: stop each session after N trials")
    m.add_argument("--screenshot", metavar="PNG",
                   help="with scripts: save a picture of the session screen as the child plays (first session)")
    m.add_argument("--json", action="store_true",
                   help="with scripts: print per session the script, trials with their scores and each objective's status as JSON")
    m.set_defaults(func=_cmd_demo)

    r = sub.add_parser("run", parents=[data_dir_opt], help="a live session on real devices")
    r.add_argument("script", metavar="SCRIPT",
                   help="an intervention script (.toml, e.g. content/songs/echo-drums.toml), a MIDI song (.mid) "
                        "to play along with, or `free` for free play")
    r.add_argument("--child", required=True, help="pseudonymous child id")
    r.add_argument("--midi-in", metavar="NAME", help="MIDI input (part of its name; see `tandem devices`)")
    r.add_argument("--midi-out", metavar="NAME", help="MIDI output for the song/cues (external synth or keyboard)")
    r.add_argument("--mic", action="store_true",
                   help="listen to the microphone too: onsets and voiced responses, the engine's own sounds taken out")
    r.add_argument("--audio", metavar="DEVICE", help="audio device (index or part of its name; default: the system's)")
    r.add_argument("--blocksize", type=int, default=128, help="frames per block, 64-512 (default 128)")
    r.add_argument("--no-ui", action="store_true",
                   help="no session screen: a status line and the same keys in the terminal")
    r.add_argument("--screenshot", metavar="PNG", help="save a picture of the session screen once the child plays "
                                                       "(drawn off-screen with --no-ui)")
    r.add_argument("--theme", default="standard", choices=("standard", "low_stimulation"),
                   help="the child's screen: standard, or low_stimulation (softer colours, less motion)")
    r.add_argument("--fullscreen", action="store_true", help="the session screen fills the display")
    r.add_argument("--no-wait", action="store_true",
                   help="start the script at once instead of on the therapist's space key")
    r.add_argument("--duration", type=float, metavar="S", help="end the session after S seconds")
    r.add_argument("--tempo-scale", type=float, default=1.0, help="play the song this much faster (default 1)")
    r.add_argument("--midi-transport", default="auto", choices=("auto", "rtmidi", "jack"),
                   help="how MIDI input is read (auto: frame-exact through JACK where JACK is the server)")
    r.add_argument("--soundfont", metavar="SF2", help="General MIDI SoundFont (default: TANDEM_SOUNDFONT or TimGM6mb)")
    r.add_argument("--json", action="store_true", help="print the session summary as JSON")
    r.set_defaults(func=_cmd_run)

    asm = sub.add_parser("assess", parents=[data_dir_opt],
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
    asm.add_argument("--audio", metavar="DEVICE", help="audio device (index or part of its name; default: the system's)")
    asm.add_argument("--blocksize", type=int, default=128, help="frames per block, 64-512 (default 128)")
    asm.add_argument("--no-ui", action="store_true",
                     help="no session screen: a status line and the same keys in the terminal")
    asm.add_argument("--theme", default="standard", choices=("standard", "low_stimulation"),
                     help="the child's screen: standard, or low_stimulation (softer colours, less motion)")
    asm.add_argument("--fullscreen", action="store_true", help="the session screen fills the display")
    asm.add_argument("--midi-transport", default="auto", choices=("auto", "rtmidi", "jack"),
                     help="how MIDI input is read (auto: frame-exact through JACK where JACK is the server)")
    asm.add_argument("--soundfont", metavar="SF2", help="General MIDI SoundFont (default: TANDEM_SOUNDFONT or TimGM6mb)")
    asm.add_argument("--tasks", type=lambda text: [t.strip() for t in text.split(",") if t.strip()],
                     metavar="ID,ID", help="only these tasks (e.g. stop_and_go,turn_taking; default: all)")
    asm.add_argument("--seed", type=int, default=0, help="with --simulate: the simulated child's seed (default 0)")
    asm.add_argument("--json", action="store_true", help="print the assessment as JSON")
    asm.set_defaults(func=_cmd_assess)

    c = sub.add_parser("calibrate", parents=[data_dir_opt], help="measure and store the latencies of this setup")
    c.add_argument("--audio", metavar="DEVICE", help="audio device (index or part of its name; default: the system's)")
    c.add_argument("--blocksize", type=int, default=128, help="frames per block, 64-512 (default 128), as for `tandem run`")
    c.add_argument("--midi-in", metavar="NAME", help="the pad to calibrate too (part of its name; see `tandem devices`)")
    c.add_argument("--midi-transport", default="auto", choices=("auto", "rtmidi", "jack"),
                   help="how MIDI input is read, as for `tandem run`")
    c.add_argument("--no-mic", action="store_true",
                   help="no microphone: only the pad, by tapping along with clicks (less exact)")
    c.add_argument("--taps", type=int, default=12, help="pad hits to measure (default 12)")
    c.add_argument("--json", action="store_true", help="print the measurement as JSON")
    c.set_defaults(func=_cmd_calibrate)

    ss = sub.add_parser("sessions", parents=[data_dir_opt], help="list the recorded sessions: date, script, duration, trials, status")
    ss.add_argument("child", nargs="?", metavar="CHILD", help="only this child's sessions (pseudonymous id)")
    ss.add_argument("--json", action="store_true", help="print JSON")
    ss.set_defaults(func=_cmd_sessions)

    rs = sub.add_parser("rescore", help="recompute a session log's trials and objectives with the current scoring code")
    rs.add_argument("log", metavar="LOG", help="a session's events.jsonl or its folder")
    rs.add_argument("--json", action="store_true", help="print JSON")
    rs.set_defaults(func=_cmd_rescore)

    pl = sub.add_parser("plan", help="the child's plan: goals, objectives, phases")
    plsub = pl.add_subparsers(dest="plan_cmd", metavar="new|show|suggest|accept|reject")
    pl.set_defaults(func=lambda a: (pl.print_help(), EXIT_ERROR)[1])
    pn = plsub.add_parser("new", parents=[data_dir_opt], help="write a commented template plan to edit")
    pn.add_argument("child", metavar="CHILD", help="pseudonymous child id")
    pn.set_defaults(func=_cmd_plan)
    ps = plsub.add_parser("show", parents=[data_dir_opt], help="check the plan and print it")
    ps.add_argument("child", metavar="CHILD", help="pseudonymous child id")
    ps.add_argument("--json", action="store_true", help="print JSON")
    ps.set_defaults(func=_cmd_plan)
    pg = plsub.add_parser("suggest", parents=[data_dir_opt],
                          help="objectives suggested from the latest assessment (S1, S2, ...) and their states")
    pg.add_argument("child", metavar="CHILD", help="pseudonymous child id")
    pg.add_argument("--json", action="store_true", help="print JSON")
    pg.set_defaults(func=_cmd_plan)
    pa = plsub.add_parser("accept", parents=[data_dir_opt],
                          help="add suggested objectives to the plan (only these enter it)")
    pa.add_argument("child", metavar="CHILD", help="pseudonymous child id")
    pa.add_argument("ids", nargs="+", metavar="ID", help="suggestion ids, e.g. S1 S3")
    pa.add_argument("--set", action="append", metavar="ID.FIELD=VALUE",
                    help="change a field before it enters the plan, e.g. S1.threshold=70 (repeatable)")
    pa.set_defaults(func=_cmd_plan)
    pj = plsub.add_parser("reject", parents=[data_dir_opt], help="record that suggestions were rejected")
    pj.add_argument("child", metavar="CHILD", help="pseudonymous child id")
    pj.add_argument("ids", nargs="+", metavar="ID", help="suggestion ids")
    pj.set_defaults(func=_cmd_plan)

    rp = sub.add_parser("report", parents=[data_dir_opt], help="progress notes and a progress report (HTML, PDF, CSV, JSON)")
    rp.add_argument("child", metavar="CHILD", help="pseudonymous child id")
    rp.add_argument("--from", dest="date_from", metavar="DATE", help="first day, YYYY-MM-DD")
    rp.add_argument("--to", dest="date_to", metavar="DATE", help="last day, YYYY-MM-DD")
    rp.add_argument("--format", dest="formats", default="html,pdf,csv,json", metavar="FORMATS",
                    help="comma-separated: html,pdf,csv,json (default all)")
    rp.add_argument("--out", metavar="DIR", help="write here (default <data dir>/reports/CHILD/FROM_TO)")
    rp.add_argument("--names", action="store_true", help="show the plan's display name instead of the id")
    rp.add_argument("--summary", metavar="FILE",
                    help="your summary and recommendations (a text file; blank lines separate paragraphs)")
    rp.set_defaults(func=_cmd_report)

    hp = sub.add_parser("homepack", parents=[data_dir_opt],
                        help="songs at the child's working tempo and one page for the family, to use at home")
    hp.add_argument("child", metavar="CHILD", help="pseudonymous child id")
    hp.add_argument("--out", metavar="DIR", help="write here, a new or empty folder "
                                                 "(default <data dir>/homepacks/CHILD/YYYYMMDD)")
    hp.add_argument("--note", metavar="TEXT", help="your own words for the family, printed on the page")
    hp.add_argument("--names", action="store_true", help="name the child by the plan's display name, not the id")
    hp.add_argument("--minutes", type=float, default=3.0, metavar="M",
                    help="about how long each song plays, minutes (default 3)")
    hp.set_defaults(func=_cmd_homepack)

    v = sub.add_parser("validate", help="check intervention scripts; errors name file:line and field")
    v.add_argument("scripts", nargs="*", metavar="SCRIPT", help="script files (.toml)")
    v.add_argument("--schema", action="store_true", help="print the scripts' JSON Schema")
    v.set_defaults(func=_cmd_validate)

    o = sub.add_parser("onsets", help="run the live onset detector over a recording")
    o.add_argument("audio", metavar="AUDIO", help="the recording (WAV, FLAC, OGG, MP3; 8 kHz or more; stereo is mixed to mono)")
    o.add_argument("--played", metavar="PLAYED", help="what the speakers played during it, same start (for self-sound suppression)")
    o.add_argument("--blocksize", type=int, default=128, metavar="N", help="frames per block, 16-8192 (default 128)")
    o.add_argument("--json", action="store_true", help="print JSON")
    o.set_defaults(func=_cmd_onsets)

    a = sub.add_parser("analyze", help="score cue/tap or call/response time files recorded elsewhere")
    asub = a.add_subparsers(dest="kind", metavar="KIND", required=True)
    a_sync = asub.add_parser("sync", help="synchronisation of taps to cues (asynchrony, vector strength, ...)")
    a_sync.add_argument("--cues", required=True, metavar="FILE", help="cue times, seconds, one per line (# comments)")
    a_sync.add_argument("--taps", required=True, metavar="FILE", help="tap times, seconds, one per line (# comments)")
    a_sync.add_argument("--window-ms", type=float, default=80.0, metavar="N",
                        help="hit window for within_window_pct, ± ms (default 80)")
    a_sync.add_argument("--warmup", type=int, default=0, metavar="N", help="leading cues not scored (default 0)")
    a_sync.add_argument("--json", action="store_true", help="print JSON")
    a_sync.set_defaults(func=_cmd_analyze)
    a_imit = asub.add_parser("imitation", help="a response against the call it imitates")
    a_imit.add_argument("--call", required=True, metavar="FILE", help="call onset times, seconds, one per line")
    a_imit.add_argument("--response", required=True, metavar="FILE", help="response onset times, seconds, one per line")
    a_imit.add_argument("--json", action="store_true", help="print JSON")
    a_imit.set_defaults(func=_cmd_analyze)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "data_dir_sub", None):
        args.data_dir = args.data_dir_sub
    if args.command is None:
        parser.print_help()
        return EXIT_ERROR
    try:
        return args.func(args)
    except TandemError as exc:
        print(f"tandem: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("tandem: stopped (Ctrl-C); everything recorded so far is kept.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug: still one sentence, unless asked for the traceback
        if os.environ.get("TANDEM_DEBUG"):
            raise
        print(f"tandem: internal error ({type(exc).__name__}: {exc}); please report it, "
              f"with TANDEM_DEBUG=1 for details.", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
