"""``tandem run``: a live session on real devices.

A session is one of:

- an **intervention script** (a ``.toml`` file, see ``docs/scripts.md``):
  the script's kind plans each trial, its cues play at their frames, the
  child's MIDI notes and microphone onsets are scored per trial, and the
  summary judges the script's objectives (:mod:`engine.session.runner`, the
  same driver as ``tandem demo``). The therapist can pause, resume and stop
  early (``controls``; the terminal's space bar and ``q``);
- a **song** (a ``.mid`` file): the engine plays it, through the sound bank
  and/or an external synth on ``--midi-out``, while the child plays along;
- **free play** (``free``): no cues; the child plays, the engine answers
  each hit with its feedback sound and records.

Either way every note the child plays is stamped on the one clock, the
pad's feedback sound follows each hit at a fixed delay, and the session
folder gets every event (the song's notes as cues, the child's notes,
devices lost and back, stream counters) and a summary. A pad unplugged
mid-session does not end it. Ctrl-C ends it cleanly: nothing is left
sounding and everything recorded is kept.

Where JACK is the sound server, MIDI in and out go frame-exact through a
JACK client inside the audio process (:mod:`engine.midi.jackmidi`), which
also keeps the stream clock on JACK's frame counter; elsewhere MIDI goes
through rtmidi, stamped on arrival (:mod:`engine.midi.live`).
"""

from __future__ import annotations

import queue
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

import engine
from engine.audio.engine import AudioEngine
from engine.audio.micinput import MicInput
from engine.audio.soundbank import SoundBank
from engine.calibration.profiles import (
    DeviceSetup,
    engine_latencies,
    find_profile,
    log_header,
)
from engine.errors import AudioDeviceError, ConfigError
from engine.events import InputEvent, StatusEvent
from engine.interventions.kinds import make_kind
from engine.interventions.script import Script, load_script
from engine.interventions.sounds import feedback_request, script_sounds
from engine.midi.live import MidiInput, feedback_sounds
from engine.midi.midifile import load_midi
from engine.midi.playback import SongPlayer, song_sounds
from engine.paths import cache_dir
from engine.records.folder import SessionFolder
from engine.records.plan import objective_data, session_plan_objectives
from engine.scoring.judge import judge_objectives, objective_label, trial_line
from engine.scoring.objectives import Objective
from engine.session.controls import SessionUI
from engine.session.runner import ScriptSession
from engine.ui.keys import KEY_HELP

__all__ = ["choose_transport", "run_session"]

START_DELAY_S = 1.0  # from the stream starting to the song's (or script's) first beat
TAIL_S = 2.0  # recorded after the song's last note
LOOKAHEAD_S = 0.25
"""A script's cues are scheduled this long ahead: far more than the session loop's worst wake-up
(a few ms, plus a Python pause), so every cue reaches the mixer before its frame."""
LOOP_S = 0.005  # the session loop's nap between steps


def _jack_device(device) -> bool:
    """Whether the audio device (None: the default) is on JACK."""
    try:
        import sounddevice as sd

        info = sd.query_devices(device, kind="output")
        return "JACK" in sd.query_hostapis(info["hostapi"])["name"]
    except Exception:  # noqa: BLE001 - no PortAudio, no device: not JACK
        return False


def choose_transport(setting: str, device) -> str:
    """``rtmidi`` or ``jack`` for a ``--midi-transport`` setting (``auto``: jack where JACK is the server)."""
    if setting not in ("auto", "rtmidi", "jack"):
        raise ConfigError(f"--midi-transport must be auto, rtmidi or jack, not {setting!r}.")
    if setting != "auto":
        return setting
    if not _jack_device(device):
        return "rtmidi"
    try:
        import jack  # noqa: F401
    except (ImportError, OSError):
        return "rtmidi"
    return "jack"


def run_session(
    script: str,
    *,
    root: Path,
    child_id: str,
    midi_in: str | None = None,
    midi_out: str | None = None,
    mic: bool = False,
    audio: str | int | None = None,
    blocksize: int = 128,
    duration_s: float | None = None,
    tempo_scale: float = 1.0,
    transport: str = "auto",
    soundfont: str | None = None,
    song_through_bank: bool | None = None,
    controls: queue.Queue | None = None,
    echo: Callable[[str], None] = print,
    screen: str = "none",
    screenshot: str | Path | None = None,
    theme: str = "standard",
    fullscreen: bool = False,
    wait_for_space: bool = False,
    status_line: bool = False,
    stop_when: Callable[[list], str | None] | None = None,
    header_extra: dict | None = None,
) -> dict:
    """Run one live session and return its summary (also written as summary.json).

    ``controls`` takes the therapist's commands while the session runs:
    ``"pause"``, ``"resume"``, ``"toggle"`` (pause or resume) and ``"stop"``
    (intervention scripts; a song or free play only knows ``"stop"``), and the
    terminal's raw keys (:mod:`engine.session.terminal`, handled as the screen's).
    ``screen``: ``"window"`` (the session screen), ``"headless"`` (drawn
    off-screen, for ``screenshot``) or ``"none"``; a window that cannot open
    is one note and the session runs in the terminal. ``screenshot`` saves a
    PNG of the screen once the child plays. ``wait_for_space``: the script
    starts on the therapist's space key. ``status_line``: a live status line
    in the terminal (without a screen). ``stop_when``: an early end for a
    script (:class:`~engine.session.runner.ScriptSession`'s); ``header_extra``:
    more fields for the log's header (the assessment battery names its
    assessment and task). The summary's ``folder`` is the session folder.
    """
    song = None
    iscript: Script | None = None
    kind = None
    plan_objectives: list[Objective] = []
    if script != "free":
        path = Path(script)
        if path.suffix.lower() == ".toml":
            iscript = load_script(path)
            kind = make_kind(iscript)
            _check_inputs(iscript, midi_in, mic)
            plan_objectives, plan_warning = session_plan_objectives(root, child_id, path)
            if plan_warning:
                echo(f"note: {plan_warning}")
            if "midi_out" in (iscript.instruments.cue, iscript.prompts.your_turn_sound) and not midi_out:
                raise ConfigError(f"{path}: this script plays its cues on an external MIDI instrument "
                                  f"(midi_out); give --midi-out NAME (see `tandem devices`).")
        elif path.suffix.lower() in (".mid", ".midi"):
            song = load_midi(path, tempo_scale=tempo_scale)
        else:
            raise ConfigError(f"{script}: `tandem run` runs an intervention script (.toml), plays a MIDI "
                              f"song (.mid) or `free` play.")
    if song is None and iscript is None and duration_s is None and midi_in is None and not mic:
        raise ConfigError("Free play needs a MIDI input (--midi-in), the microphone (--mic) or a --duration.")
    if isinstance(audio, str) and audio.isdigit():
        audio = int(audio)
    transport = choose_transport(transport, audio)
    through_bank = song is not None and (song_through_bank if song_through_bank is not None else midi_out is None)

    pending: deque = deque()  # events from the MIDI threads; only the session's thread writes the folder
    # On JACK the JACK MIDI backend also keeps the stream clock on JACK's own frame counter,
    # so even a session without MIDI gets exact dropout accounting.
    backend = "engine.midi.jackmidi:JackMidiBackend" if transport == "jack" else "sounddevice"
    eng = AudioEngine(backend=backend, backend_options={"device": audio}, blocksize=blocksize,
                      channels_in=1, channels_out=2)
    inp: MidiInput | None = None
    listener: MicInput | None = None
    requests: set[str] = set(song_sounds(song)) if through_bank else set()
    fb_options: dict = {}
    if iscript is not None:
        requests |= set(script_sounds(iscript, feedback=False))
        fb = feedback_request(iscript, None)
        if iscript.instruments.feedback == "none":
            fb_options = {"feedback": False}
        elif fb is not None:  # the script's own feedback sound for every hit
            fb_options = {"feedback": True, "feedback_sound": fb}
            requests.add(fb)
    try:
        if midi_in:
            # Find the pad first: its profile says which feedback sounds to render.
            inp = MidiInput(eng, midi_in, transport=transport, on_event=pending.append, **fb_options)
            inp.resolve()
            if "feedback_sound" not in fb_options and not inp.device_map.makes_own_sound:
                requests |= feedback_sounds(inp.device_map)
        bank = SoundBank.load(sorted(requests), sample_rate=eng.sample_rate, soundfont=soundfont,
                              cache_dir=cache_dir())
    except BaseException:
        eng.close()
        raise
    for w in bank.warnings:
        echo(f"note: {w}")
    if inp is not None:
        inp.bank = bank
    name = Path(script).stem if (song is not None or iscript is not None) else "free-play"
    folder: SessionFolder | None = None  # made once the stream runs: a device that fails leaves no empty session
    out = None
    counts = {"notes": 0, "mic_onsets": 0, "voices": 0, "device_lost": 0, "device_back": 0}
    ended = "failed"  # until it ends normally or by Ctrl-C
    stats: dict = {}
    runner: ScriptSession | None = None
    ui: SessionUI | None = None
    screen_process = _open_screen(screen, screenshot, theme, fullscreen, echo)  # before the stream: no hitch
    try:
        params = eng.open()
        eng.start()
        deadline = time.monotonic() + 5.0
        while eng.now_frame < 4 * blocksize:
            eng.check()
            if time.monotonic() > deadline:
                raise AudioDeviceError("The audio stream did not start within 5 s; check the audio device "
                                       "(`tandem devices`) and that no other program holds it.")
            time.sleep(0.01)
        folder = SessionFolder(root, child_id=child_id, name=name)
        # The calibration profile of this setup (audio device, blocksize, rate, MIDI device), if any.
        profile = find_profile(root, DeviceSetup.of_engine(eng, inp.port.name if inp else None))
        applied = engine_latencies(profile, eng)
        ui = SessionUI(engine=eng, write=folder.write_event, echo=echo, script=iscript, screen=screen_process,
                       status_line=status_line, screenshot=Path(screenshot) if screenshot else None,
                       devices=_devices_text(midi_in, mic, midi_out),
                       latency=(f"latency calibrated {profile.measured_at[:10]}" if applied.calibrated_audio
                                else "no calibration profile (tandem calibrate)"),
                       plan_objectives=plan_objectives)
        screen_process = None  # the session UI closes it from here on
        echo = ui.echo  # lines printed from here on clear the status line first
        if not applied.calibrated_audio:
            echo(f"note: {applied.note}")
        if inp is not None:
            inp.latency_frames = round(applied.midi_latency_ms * eng.sample_rate / 1000)
            inp.start()
        if mic:
            listener = MicInput(eng, on_event=pending.append, latency_ms=applied.mic_extra_latency_ms).start()
        if midi_out:
            if transport == "jack":
                from engine.midi.jackmidi import JackMidiOutput as Output
            else:
                from engine.midi.sender import MidiOutput as Output
            out = Output(eng, midi_out, on_event=pending.append).start()
        folder.write_header({
            "engine_version": engine.__version__, "kind": "live", "kind_seed": None,
            "script": str(script), "child_id": child_id,
            "intervention": iscript.kind if iscript else None, "title": iscript.title if iscript else None,
            "started": datetime.now().astimezone().isoformat(timespec="seconds"),
            "audio_device": params.device, "sample_rate": params.sample_rate, "blocksize": params.blocksize,
            "latency_frames": {"input": params.input_latency_frames, "output": params.output_latency_frames,
                               "midi_in": inp.latency_frames if inp else None,
                               "mic_extra": listener.latency_frames - params.input_latency_frames if listener else None},
            "latency_source": applied.note,
            "calibration": log_header(profile, eng),
            "midi_in": inp.port.name if inp else None, "midi_transport": transport if (inp or out) else None,
            "device_map": inp.device_map.name if inp else None,
            "feedback": bool(inp and inp.feedback),
            "feedback_delay_frames": inp.feedback_delay_frames if inp else None,
            "midi_out": out.name if out else None, "sound_source": bank.source,
            "mic": mic, "mic_suppresses_own_sound": bool(listener and listener.suppress),
            "plan_objectives": [objective_data(o) for o in plan_objectives],
            "ui": "screen" if ui.screen is not None else ("terminal" if controls is not None else "none"),
            **(header_extra or {}),
        })
        rate = eng.sample_rate
        # Opening devices reorders the JACK graph, which can cost an xrun: those are counted
        # apart from the ones during the session proper.
        stats["xruns_during_setup"] = eng.xruns
        start = eng.now_frame + int(START_DELAY_S * rate)
        end_frame = None
        player = None
        if song is not None:
            player = SongPlayer(song, start, engine=eng, bank=bank if through_bank else None, output=out)
            end_frame = start + int((song.duration_s + TAIL_S) * rate)
            echo(f"Playing {Path(script).name} ({song.duration_s:.0f} s, {len(song.notes)} notes)"
                 + (f" to {out.name}" if out else "") + ".")
        if iscript is not None:
            runner = ScriptSession(iscript, kind, eng, bank, folder.write_event, start_s=start / rate,
                                   lookahead_s=LOOKAHEAD_S, midi_out=out, stop_when=stop_when)
            length = (f"{iscript.trials} trials" if iscript.trials is not None
                      else f"{iscript.duration_min:g} minutes")
            keys = controls is not None or ui.screen is not None
            if wait_for_space and keys:
                runner.pause()  # held until the therapist's space: the child sits down first
            echo(f"Running {iscript.title} ({iscript.kind.replace('_', '-')}, {length}) for child {child_id}."
                 + (" Space starts it." if runner.state == "paused" else "")
                 + (f" Keys: {KEY_HELP}." if keys else ""))
        if duration_s is not None:
            end_frame = eng.now_frame + int(duration_s * rate)
        if listener:
            echo("Listening to the microphone (onsets and voice; the engine's own sounds are taken out)."
                 + ("" if inp else " Ctrl-C ends the session."))
        if inp:
            echo(f"Listening to {inp.port.name} ({transport}, profile '{inp.device_map.name}'"
                 + (", feedback sounds on" if inp.feedback else "") + "). Ctrl-C ends the session.")
        try:
            asked_to_stop = False
            shown = 0  # trials printed so far
            while end_frame is None or eng.now_frame < end_frame:
                eng.check()
                if player is not None:
                    for cue in player.step():
                        folder.write_event(cue)
                _flush(pending, folder, counts, echo, runner)
                ui.device_lost = counts["device_lost"] > counts["device_back"]
                if _obey(controls, runner, ui) == "stop" or ui.step(runner) == "stop":
                    asked_to_stop = True
                    break
                if runner is not None:
                    runner.step()
                    shown = _echo_trials(runner, echo, shown)
                    if runner.done:
                        break
                time.sleep(LOOP_S if runner is not None else 0.05)
            if runner is not None and runner.state in ("running", "paused"):  # --duration ran out first
                runner.stop("duration reached")
            finished = runner.state == "completed" if runner is not None else True
            ended = "completed" if finished and not asked_to_stop else "stopped"
        except KeyboardInterrupt:
            ended = "stopped"
            if runner is not None:
                runner.stop("stopped early (Ctrl-C)")
    finally:
        if screen_process is not None:  # the session never got its UI
            screen_process.close()
        screen_stats = None
        if ui is not None:
            try:
                screen_stats = ui.close(runner)
            except Exception as exc:  # noqa: BLE001 - the screen must not cost the session
                echo(f"note: the session screen did not close cleanly ({exc}).")
        for part in (inp, listener, out):
            if part is not None:
                try:
                    part.stop()
                except Exception:  # noqa: BLE001 - closing must go on
                    pass
        stats = {**eng.stats(), "xruns_during_setup": stats.get("xruns_during_setup", 0)}
        stats["midi_out_sent"] = out.sent_count if out else 0  # read before the engine's memory goes
        rate = eng.sample_rate
        eng.close()
        if folder is not None:  # None only while an exception propagates (the stream never ran)
            stats["screen"] = screen_stats
            summary = _finish(folder, pending, counts, echo, stats, child_id, script, ended, inp, out, runner, rate,
                              plan_objectives)
    heard = f", {counts['mic_onsets']} onsets and {counts['voices']} voiced responses heard" if mic else ""
    trials = f"{runner.trials_done} trials scored, " if runner is not None else ""
    echo(f"Session {ended}: {trials}{counts['notes']} notes played by the child{heard}, {stats['xruns']} xruns"
         + (f", device lost {counts['device_lost']}× and back {counts['device_back']}×" if counts["device_lost"] else "")
         + f". Session folder: {folder.path}")
    return summary


def _finish(folder: SessionFolder, pending: deque, counts: dict, echo, stats: dict, child_id: str,
            script: str, ended: str, inp, out, runner: ScriptSession | None = None, rate: int = 0,
            plan_objectives: Sequence[Objective] = ()) -> dict:
    """The last events, the stream's counters and the summary; the folder is closed whatever happens."""
    try:
        _flush(pending, folder, counts, echo, None)  # after the session: not the trials' any more
        folder.write_event(StatusEvent(frame=stats["frames"], what="stream_stats", detail=stats))
        summary = {
            "child_id": child_id, "script": str(script), "status": ended,
            "notes": counts["notes"], "mic_onsets": counts["mic_onsets"], "voices": counts["voices"],
            "device_lost": counts["device_lost"], "device_back": counts["device_back"],
            "feedback_played": inp.feedback_played if inp else 0,
            "midi_out_sent": stats["midi_out_sent"],
            "stream": stats, "files": {"events": folder.events_path.name}, "folder": str(folder.path),
        }
        if runner is not None:
            summary.update(_script_summary(runner, plan_objectives))
            summary["stop_reason"] = runner.stop_reason
            for o in summary["objectives"]:
                echo(f"  {objective_label(o)}: {o['status']}. {o['sentence']}")
        folder.write_json("summary.json", summary)
        if ended in ("completed", "stopped"):  # a session that failed has no summary line: it was cut off
            folder.write_summary({
                "status": ended, "ended": datetime.now().astimezone().isoformat(timespec="seconds"),
                "duration_s": round(stats["frames"] / rate, 3) if rate else None,
                "trials": runner.trials_done if runner is not None else 0,
                "objectives": summary.get("objectives", []),
            })
    finally:
        folder.close()
    return summary


def _flush(pending: deque, folder: SessionFolder, counts: dict, echo, runner: ScriptSession | None) -> None:
    while pending:
        event = pending.popleft()
        folder.write_event(event)
        if runner is not None and isinstance(event, InputEvent):
            runner.child_event(event)
        if isinstance(event, InputEvent) and event.source == "midi":
            counts["notes"] += 1
        elif isinstance(event, InputEvent) and event.source == "mic" and event.key in ("onset", "voice"):
            counts["mic_onsets" if event.key == "onset" else "voices"] += 1
        elif isinstance(event, StatusEvent) and event.what in ("device_lost", "device_back"):
            counts[event.what] += 1
            port = event.detail.get("port")
            echo(f"note: the MIDI device {port} was unplugged; the session goes on and it will be "
                 f"used again when it is back." if event.what == "device_lost"
                 else f"note: the MIDI device {port} is back.")


def _check_inputs(script: Script, midi_in: str | None, mic: bool) -> None:
    """The devices the script listens to are given (one sentence if not)."""
    source = script.inputs.source
    if source == "midi" and not midi_in:
        raise ConfigError(f"{script.path}: this script listens to a MIDI pad or keyboard; give --midi-in NAME "
                          f"(see `tandem devices`).")
    if source == "mic" and not mic:
        raise ConfigError(f"{script.path}: this script listens to the microphone; add --mic.")
    if source == "both" and not (midi_in or mic):
        raise ConfigError(f"{script.path}: this script listens to a MIDI pad or the microphone; give --midi-in "
                          f"NAME, --mic, or both.")


def _obey(controls: queue.Queue | None, runner: ScriptSession | None, ui: SessionUI) -> str | None:
    """Apply the therapist's commands and keys waiting in ``controls``; returns "stop" when asked to stop."""
    while controls is not None:
        try:
            command = controls.get_nowait()
        except queue.Empty:
            return None
        if isinstance(command, dict):  # a key from the terminal
            if ui.take(command, runner) == "stop":
                return "stop"
            continue
        if command == "stop":
            if runner is not None:
                runner.stop("stopped by the therapist")
            ui.echo("Stopping: the trials scored so far are kept.")
            return "stop"
        if runner is None:
            continue
        if command == "toggle":
            command = "resume" if runner.state == "paused" else "pause"
        if command == "pause" and runner.pause():
            ui.echo(f"Paused after {runner.trials_done} trials; the trial that was playing will be played again. "
                    f"Space resumes.")
        elif command == "resume" and runner.resume():
            ui.echo("Resumed.")
    return None


def _devices_text(midi_in: str | None, mic: bool, midi_out: str | None) -> str:
    parts = ([f"MIDI in {midi_in}"] if midi_in else []) + (["mic"] if mic else []) + (
        [f"MIDI out {midi_out}"] if midi_out else [])
    return " · ".join(parts) or "no input"


def _open_screen(screen: str, screenshot, theme: str, fullscreen: bool, echo):
    """The session screen's process, started (None for ``"none"``, or when no window can open: one note)."""
    if screen == "none":
        if screenshot:
            screen = "headless"
        else:
            return None
    from engine.ui.process import ScreenError, ScreenProcess

    try:
        return ScreenProcess(theme=theme, fullscreen=fullscreen, headless=screen == "headless").start()
    except ScreenError as exc:
        echo(f"note: {exc} The session runs in the terminal (keys: {KEY_HELP}).")
        return None


def _echo_trials(runner: ScriptSession, echo, shown: int) -> int:
    """Print the trials scored since the first ``shown``; returns how many are shown now."""
    for i in range(shown, runner.trials_done):
        r = runner.results[i]
        echo("  " + trial_line(runner.script.kind, {"n": i + 1, "tempo_bpm": r.plan.tempo_bpm,
                                                     "scores": r.scores, "correct": r.correct}))
    return runner.trials_done


def _script_summary(runner: ScriptSession, plan_objectives: Sequence[Objective]) -> dict:
    """The script part of a live session's summary: trials with their scores, objectives (script's, plan's)."""
    script = runner.script
    return {
        "title": script.title, "kind": script.kind, "trials_abandoned": runner.abandoned,
        "trials": [{"n": i + 1, "tempo_bpm": r.plan.tempo_bpm, "scores": r.scores, "correct": r.correct}
                   for i, r in enumerate(runner.results)],
        "objectives": judge_objectives(script, runner.results, plan_objectives=plan_objectives),
    }
