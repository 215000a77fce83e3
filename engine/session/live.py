"""``tandem run``: a live session on real devices, through the one session driver.

A session is one of:

- an **intervention script** (a ``.toml`` file, see ``docs/scripts.md``):
  the script's kind plans each trial, its cues play at their frames, the
  child's MIDI notes and microphone onsets are scored per trial, and the
  summary judges the script's objectives and the plan's it measures;
- a **song** (a ``.mid`` file): the engine plays it, through the sound bank
  and/or an external synth on ``--midi-out``, while the child plays along;
- **free play** (``free``): no cues; the child plays, the engine answers
  each hit with its feedback sound and records.

What is live here is only what the driver is handed
(:func:`engine.session.driver.run_session`): a :class:`~engine.session.parts.DeviceStream`
and :class:`LiveDevices`, the part that opens the MIDI input (a pad or a
keyboard, its feedback sounds), the microphone and the MIDI output, applies
the setup's calibration profile, and hands every event they observed (on
their own threads) to the session's thread. Every note the child plays is
stamped on the one clock, the pad's feedback sound follows each hit at a
fixed delay, and a pad unplugged mid-session does not end it. Ctrl-C ends
it cleanly: nothing is left sounding and everything recorded is kept.

Where JACK is the sound server, MIDI in and out go frame-exact through a
JACK client inside the audio process (:mod:`engine.midi.jackmidi`), which
also keeps the stream clock on JACK's frame counter; elsewhere MIDI goes
through rtmidi, stamped on arrival (:mod:`engine.midi.live`).
"""

from __future__ import annotations

import queue
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from engine.audio.micinput import MicInput
from engine.audio.soundbank import SoundBank
from engine.calibration.profiles import DeviceSetup, engine_latencies, find_profile, log_header
from engine.errors import ConfigError
from engine.events import Event, InputEvent, StatusEvent
from engine.ids import check_child_id
from engine.interventions.kinds import make_kind
from engine.interventions.script import Script, load_script
from engine.interventions.sounds import feedback_request, script_sounds
from engine.midi.jackmidi import SPEC as JACK_BACKEND
from engine.midi.jackmidi import JackMidiOutput
from engine.midi.live import MidiInput, feedback_sounds
from engine.midi.midifile import load_midi
from engine.midi.playback import song_sounds
from engine.midi.sender import MidiOutput
from engine.paths import cache_dir
from engine.records.plan import session_plan_objectives
from engine.scoring.judge import objective_label
from engine.scoring.objectives import NOT_RECORDED, PROMPT_LEVELS, TRIAL_PROMPTS
from engine.session.activities import Activity, FreePlay, ScriptActivity, SongActivity
from engine.session.controls import SessionUI
from engine.session.driver import run_session as drive
from engine.session.parts import Context, DeviceStream, Part
from engine.ui.keys import KEY_HELP
from engine.ui.process import ScreenError, ScreenProcess

__all__ = ["LiveDevices", "choose_transport", "run_session"]

def _jack_device(device) -> bool:
    """Whether the audio device (None: the default) is on JACK."""
    try:
        import sounddevice as sd  # PortAudio scans its host APIs at import: only when a device is asked for

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
        import jack  # noqa: F401 - JACK-Client needs libjack: without it, rtmidi
    except (ImportError, OSError):
        return "rtmidi"
    return "jack"


class LiveDevices(Part):
    """The devices of a live session (see the module docstring): MIDI in, the microphone, MIDI out.

    ``midi_in`` is made (and its port resolved) before the stream starts, so
    that its device map can say which feedback sounds to render; the rest
    start with the session. Events from the devices' threads wait in a
    queue until the session's thread takes them (:meth:`poll`).
    """

    def __init__(self, *, root: Path, midi_in: MidiInput | None, mic: bool, midi_out: str | None, transport: str,
                 echo: Callable[[str], None]) -> None:
        self.root = Path(root)  # where the calibration profiles are
        self.inp = midi_in
        self.mic = mic
        self.midi_out_name = midi_out
        self.transport = transport
        self.echo = echo
        self.pending: deque[Event] = deque()
        self.listener: MicInput | None = None
        self.out: Any = None
        self.profile = None
        self.applied = None
        self.counts = {"notes": 0, "mic_onsets": 0, "voices": 0, "device_lost": 0, "device_back": 0}
        self.ui: SessionUI | None = None  # the screen shows a lost device
        self._engine = None

    def open_output(self, engine) -> Any:
        """The MIDI output (not started), for the activity that plays on it; None without ``--midi-out``."""
        if self.midi_out_name and self.out is None:
            output = JackMidiOutput if self.transport == "jack" else MidiOutput
            self.out = output(engine, self.midi_out_name, on_event=self.pending.append)
        return self.out

    def start(self, ctx: Context) -> None:
        eng = ctx.engine
        self.echo = ctx.echo
        # The calibration profile of this setup (audio device, blocksize, rate, MIDI device), if any.
        self.profile = find_profile(self.root, DeviceSetup.of_engine(eng, self.inp.port.name if self.inp else None))
        self.applied = engine_latencies(self.profile, eng)
        if not self.applied.calibrated_audio:
            ctx.echo(f"note: {self.applied.note}")
        if self.inp is not None:
            self.inp.latency_frames = round(self.applied.midi_latency_ms * eng.sample_rate / 1000)
            self.inp.start()
        if self.mic:
            self.listener = MicInput(eng, on_event=self.pending.append,
                                     latency_ms=self.applied.mic_extra_latency_ms).start()
        if self.out is not None:
            self.out.start()
        self._engine = eng

    @property
    def latency_text(self) -> str:
        """The therapist strip's latency line (known once the session started)."""
        if self.applied is not None and self.applied.calibrated_audio:
            return f"latency calibrated {self.profile.measured_at[:10]}"
        return "no calibration profile (tandem calibrate)"

    def header(self) -> dict[str, Any]:
        inp, listener, out = self.inp, self.listener, self.out
        return {
            "latency_frames": {"midi_in": inp.latency_frames if inp else None,
                               "mic_extra": listener.latency_frames - self._engine.input_latency_frames
                               if listener else None},
            "latency_source": self.applied.note, "calibration": log_header(self.profile, self._engine),
            "midi_in": inp.port.name if inp else None, "midi_transport": self.transport if (inp or out) else None,
            "device_map": inp.device_map.name if inp else None, "feedback": bool(inp and inp.feedback),
            "feedback_delay_frames": inp.feedback_delay_frames if inp else None,
            "midi_out": out.name if out else None, "mic": self.mic,
            "mic_suppresses_own_sound": bool(listener and listener.suppress),
        }

    def poll(self) -> Iterator[Event]:
        while self.pending:
            event = self.pending.popleft()
            self._count(event)
            yield event

    def _count(self, event: Event) -> None:
        if isinstance(event, InputEvent) and event.source == "midi":
            self.counts["notes"] += 1
        elif isinstance(event, InputEvent) and event.source == "mic" and event.key in ("onset", "voice"):
            self.counts["mic_onsets" if event.key == "onset" else "voices"] += 1
        elif isinstance(event, StatusEvent) and event.what in ("device_lost", "device_back"):
            self.counts[event.what] += 1
            port = event.detail.get("port")
            self.echo(f"note: the MIDI device {port} was unplugged; the session goes on and it will be "
                      f"used again when it is back." if event.what == "device_lost"
                      else f"note: the MIDI device {port} is back.")

    @property
    def device_lost(self) -> bool:
        return self.counts["device_lost"] > self.counts["device_back"]

    def after_step(self, runner: Any) -> None:
        if self.ui is not None:
            self.ui.device_lost = self.device_lost

    def stop(self) -> None:
        for part in (self.inp, self.listener, self.out):
            if part is not None:
                try:
                    part.stop()
                except Exception:  # noqa: BLE001 - closing must go on
                    pass

    def stats(self) -> dict[str, Any]:
        return {"midi_out_sent": self.out.sent_count if self.out else 0}

    def summary(self) -> dict[str, Any]:
        return {**self.counts, "feedback_played": self.inp.feedback_played if self.inp else 0,
                "midi_out_sent": self.out.sent_count if self.out else 0}


def run_session(
    script: str | Path | Sequence[str | Path],
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
    default_prompt: str = NOT_RECORDED,
) -> dict:
    """Run one live visit and return its summary (also written as summary.json).

    ``script`` is one activity or the visit's activities in order: an intervention script (``.toml``), a MIDI
    song (``.mid``) or ``free``. Every script is checked, every sound loaded and every device opened before
    the first activity begins.

    ``controls`` takes the therapist's commands while the visit runs:
    ``"pause"``, ``"resume"``, ``"toggle"`` (pause or resume), ``"next"`` (end this activity, go on
    with the next) and ``"stop"`` (end the visit), and the
    terminal's raw keys (:mod:`engine.session.terminal`, handled as the screen's).
    ``screen``: ``"window"`` (the session screen), ``"headless"`` (drawn
    off-screen, for ``screenshot``) or ``"none"``; a window that cannot open
    is one note and the session runs in the terminal. ``screenshot`` saves a
    PNG of the screen once the child plays. ``wait_for_space``: the first script
    starts on the therapist's space key. ``status_line``: a live status line
    in the terminal (without a screen). ``stop_when``: an early end for a
    script (:class:`~engine.session.runner.ScriptSession`'s); ``header_extra``:
    more fields for the log's header (the assessment battery names its
    assessment and task). ``default_prompt``: the prompt level of every
    trial the therapist does not mark with ``p``, chosen at the start and
    shown on the screen and recorded in the log's header (``"not recorded"``:
    none chosen; an unmarked trial is never taken as independent). The
    summary's ``folder`` is the session folder.
    """
    check_child_id(child_id)  # it names the session folder: the one check (engine.ids), before any device opens
    if default_prompt not in TRIAL_PROMPTS:
        raise ConfigError(f"The default prompt level must be one of {', '.join(PROMPT_LEVELS)} or "
                          f"'{NOT_RECORDED}', not {default_prompt!r}.")
    names = [str(script)] if isinstance(script, (str, Path)) else [str(x) for x in script]
    if not names:
        raise ConfigError("A visit needs at least one activity: an intervention script, a MIDI song or `free`.")
    loaded = [_load(name, tempo_scale) for name in names]
    plans: list[list] = []
    for iscript, _ in loaded:
        plan_objectives = []
        if iscript is not None:
            _check_inputs(iscript, midi_in, mic)
            plan_objectives, plan_warning = session_plan_objectives(root, child_id, iscript.path)
            if plan_warning and not plans:
                echo(f"note: {plan_warning}")
            if "midi_out" in (iscript.instruments.cue, iscript.prompts.your_turn_sound) and not midi_out:
                raise ConfigError(f"{iscript.path}: this script plays its cues on an external MIDI instrument "
                                  f"(midi_out); give --midi-out NAME (see `tandem devices`).")
        plans.append(plan_objectives)
    scripts = [i for i, _ in loaded if i is not None]
    songs = [sg for _, sg in loaded if sg is not None]
    if not scripts and not songs and duration_s is None and midi_in is None and not mic:
        raise ConfigError("Free play needs a MIDI input (--midi-in), the microphone (--mic) or a --duration.")
    if isinstance(audio, str) and audio.isdigit():
        audio = int(audio)
    transport = choose_transport(transport, audio)
    through_bank = bool(songs) and (song_through_bank if song_through_bank is not None else midi_out is None)
    # On JACK the JACK MIDI backend also keeps the stream clock on JACK's own frame counter,
    # so even a session without MIDI gets exact dropout accounting.
    stream = DeviceStream(backend=JACK_BACKEND if transport == "jack" else "sounddevice", device=audio,
                          blocksize=blocksize)
    eng = stream.engine
    requests: set[str] = {n for sg in songs for n in song_sounds(sg)} if through_bank else set()
    fb_options: dict = {}
    for iscript in scripts:
        requests |= set(script_sounds(iscript, feedback=False))
    # The pad answers every hit with the first script's feedback sound (one pad, one sound, for the visit).
    first = scripts[0] if scripts else None
    if first is not None:
        fb = feedback_request(first, None)
        if first.instruments.feedback == "none":
            fb_options = {"feedback": False}
        elif fb is not None:  # the script's own feedback sound for every hit
            fb_options = {"feedback": True, "feedback_sound": fb}
            requests.add(fb)
    devices = LiveDevices(root=root, midi_in=None, mic=mic, midi_out=midi_out, transport=transport, echo=echo)
    try:
        if midi_in:
            # Find the pad first: its profile says which feedback sounds to render.
            inp = MidiInput(eng, midi_in, transport=transport, on_event=devices.pending.append, **fb_options)
            inp.resolve()
            devices.inp = inp
            if "feedback_sound" not in fb_options and not inp.device_map.makes_own_sound:
                requests |= feedback_sounds(inp.device_map)
        bank = SoundBank.load(sorted(requests), sample_rate=eng.sample_rate, soundfont=soundfont,
                              cache_dir=cache_dir())
    except BaseException:
        eng.close()
        raise
    for w in bank.warnings:
        echo(f"note: {w}")
    if devices.inp is not None:
        devices.inp.bank = bank
    out = devices.open_output(eng)
    activities: list[Activity] = []
    for name, (iscript, song), plan_objectives in zip(names, loaded, plans):
        if iscript is not None:
            activities.append(ScriptActivity(iscript, make_kind(iscript), bank, plan_objectives=plan_objectives,
                                             stop_when=stop_when, midi_out=out))
        elif song is not None:
            activities.append(SongActivity(song, name, bank=bank if through_bank else None, output=out))
        else:
            activities.append(FreePlay())
    screen_process = _open_screen(screen, screenshot, theme, fullscreen, echo)  # before the stream: no hitch
    ui = SessionUI(engine=eng, write=None, echo=echo, script=first if len(names) == 1 else None,
                   screen=screen_process, status_line=status_line,
                   screenshot=Path(screenshot) if screenshot else None,
                   devices=_devices_text(midi_in, mic, midi_out), latency="", plan_objectives=plans[0])
    devices.ui = ui

    def begun(act: Activity) -> None:
        if act.runner is not None:  # before its first step: no trial is scored yet
            act.runner.set_default_prompt(default_prompt)
        ui.latency = devices.latency_text
        _say_begun(ui.echo, act, child_id, devices, keys=controls is not None or ui.screen is not None,
                   of=(activities.index(act) + 1, len(activities)) if len(activities) > 1 else None)

    outcome = drive(activities, stream=stream, kind="live", child_id=child_id, root=root, parts=[devices], ui=ui,
                    controls=controls, echo=echo, echo_trials=True, duration_s=duration_s,
                    wait_for_space=wait_for_space,
                    header={"sound_source": bank.source, "default_prompt": default_prompt, **(header_extra or {})},
                    on_begin=begun)
    summary = outcome.summary
    for o in summary.get("objectives", []):
        ui.echo(f"  {objective_label(o)}: {o['status']}. {o['sentence']}")
    counts = devices.counts
    heard = f", {counts['mic_onsets']} onsets and {counts['voices']} voiced responses heard" if mic else ""
    trials = f"{len(summary['trials'])} trials scored, " if scripts else ""
    what = "Session" if len(activities) == 1 else f"Visit of {len(activities)} activities"
    ui.echo(f"{what} {outcome.status}: {trials}{counts['notes']} notes played by the child{heard}, "
            f"{summary['stream']['xruns']} xruns"
            + (f", device lost {counts['device_lost']}× and back {counts['device_back']}×"
               if counts["device_lost"] else "")
            + f". Session folder: {outcome.folder}")
    return summary


def _load(script: str, tempo_scale: float) -> tuple[Script | None, Any]:
    """The intervention script or the MIDI song ``script`` names (both None for ``free``)."""
    if script == "free":
        return None, None
    path = Path(script)
    if path.suffix.lower() == ".toml":
        iscript = load_script(path)
        make_kind(iscript)  # a kind that cannot run: one sentence before any device opens
        return iscript, None
    if path.suffix.lower() in (".mid", ".midi"):
        return None, load_midi(path, tempo_scale=tempo_scale)
    raise ConfigError(f"{script}: `tandem run` runs an intervention script (.toml), plays a MIDI "
                      f"song (.mid) or `free` play.")


def _say_begun(echo: Callable[[str], None], activity: Activity, child_id: str, devices: LiveDevices,
               *, keys: bool, of: tuple[int, int] | None = None) -> None:
    """What runs, and what listens, once an activity started (``of``: its place in the visit, k of n)."""
    if of is not None:
        echo(f"Activity {of[0]} of {of[1]}" + (" (n moves on to the next)." if keys and of[0] < of[1] else "."))
    if isinstance(activity, SongActivity):
        out = devices.out
        echo(f"Playing {activity.path.name} ({activity.song.duration_s:.0f} s, {len(activity.song.notes)} notes)"
             + (f" to {out.name}" if out else "") + ".")
    if isinstance(activity, ScriptActivity):
        s = activity.script
        length = f"{s.trials} trials" if s.trials is not None else f"{s.duration_min:g} minutes"
        echo(f"Running {s.title} ({s.kind.replace('_', '-')}, {length}) for child {child_id}."
             + (" Space starts it." if activity.runner.state == "paused" else "")
             + (f" Keys: {KEY_HELP}." if keys else ""))
        default = activity.runner.default_prompt
        echo("Prompt level of every trial not marked" + (" with p" if keys else "") + f": {default}"
             + (" (the default chosen for this visit)." if default != NOT_RECORDED else "."))
    if of is not None and of[0] > 1:
        return  # the devices were announced with the first activity
    inp = devices.inp
    if devices.listener:
        echo("Listening to the microphone (onsets and voice; the engine's own sounds are taken out)."
             + ("" if inp else " Ctrl-C ends the session."))
    if inp:
        echo(f"Listening to {inp.port.name} ({devices.transport}, profile '{inp.device_map.name}'"
             + (", feedback sounds on" if inp.feedback else "") + "). Ctrl-C ends the session.")


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
    try:
        return ScreenProcess(theme=theme, fullscreen=fullscreen, headless=screen == "headless").start()
    except ScreenError as exc:
        echo(f"note: {exc} The session runs in the terminal (keys: {KEY_HELP}).")
        return None
