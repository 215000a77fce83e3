"""What audio and MIDI devices this machine has (``tandem devices``).

The device libraries are imported here lazily. Their C libraries print
diagnostics straight to file descriptor 2 (ALSA's "cannot open /dev/snd/seq",
JACK's "server is not running"); those are caught into one ``notes`` line per
missing system instead of spilling onto the therapist's terminal.
"""

from __future__ import annotations

import contextlib
import os
import sys

__all__ = ["list_devices", "quiet_stderr"]

_MIDI_APIS = {
    1: "CoreMIDI",
    2: "ALSA",
    3: "JACK",
    4: "Windows MM",
    6: "Web MIDI",
}


@contextlib.contextmanager
def quiet_stderr():
    """Send fd 2 to /dev/null for the duration (C libraries write there directly)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except OSError:
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _audio(notes: list[str]) -> list[dict]:
    try:
        with quiet_stderr():
            import sounddevice as sd

            devices = sd.query_devices()
            hostapis = sd.query_hostapis()
            default_in, default_out = sd.default.device
    except OSError:
        notes.append("The PortAudio library is missing (Debian/Ubuntu: apt install libportaudio2); no audio devices can be used.")
        return []
    out = []
    for d in devices:
        out.append({
            "index": d["index"], "name": d["name"], "hostapi": hostapis[d["hostapi"]]["name"],
            "inputs": d["max_input_channels"], "outputs": d["max_output_channels"],
            "default_samplerate": d["default_samplerate"],
            "default": d["index"] in (default_in, default_out),
        })
    if not out:
        notes.append("No audio device found: no sound card, and no JACK or PulseAudio server running. "
                     "`tandem demo` works without one.")
    return out


def _midi(notes: list[str]) -> tuple[list[dict], list[dict]]:
    try:
        import rtmidi
    except ImportError:
        notes.append("python-rtmidi is not installed; MIDI devices cannot be used.")
        return [], []
    ins: list[dict] = []
    outs: list[dict] = []
    for api in rtmidi.get_compiled_api():
        name = _MIDI_APIS.get(api, str(api))
        try:
            with quiet_stderr():
                mi = rtmidi.MidiIn(api, "tandem-probe")
                mo = rtmidi.MidiOut(api, "tandem-probe")
                in_ports, out_ports = mi.get_ports(), mo.get_ports()
                mi.delete()
                mo.delete()
        except Exception:  # rtmidi raises its SystemError when the API's server/driver is absent
            what = {"ALSA": "no ALSA sequencer (/dev/snd/seq)", "JACK": "no JACK server running"}.get(name, "not available")
            notes.append(f"MIDI through {name}: {what}.")
            continue
        ins += [{"name": p, "api": name, "profile": _profile(p)} for p in in_ports if "tandem-probe" not in p]
        outs += [{"name": p, "api": name} for p in out_ports if "tandem-probe" not in p]
    return ins, outs


def _profile(port: str) -> str:
    """The shipped device profile Tandem would use for a MIDI input."""
    from engine.midi.devicemap import map_for_port

    return map_for_port(port).name


def list_devices() -> dict:
    """Audio devices, MIDI inputs and outputs, and notes on what is missing."""
    notes: list[str] = []
    audio = _audio(notes)
    midi_in, midi_out = _midi(notes)
    return {"audio": audio, "midi_inputs": midi_in, "midi_outputs": midi_out, "notes": notes}
