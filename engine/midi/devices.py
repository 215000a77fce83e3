"""What audio and MIDI devices this machine has (``tandem devices``).

The device libraries are imported when the devices are asked for (PortAudio
and rtmidi talk to their servers as they start). Their C libraries print
diagnostics straight to file descriptor 2 (ALSA's "cannot open /dev/snd/seq",
JACK's "server is not running"); those are caught into one ``notes`` line per
missing system instead of spilling onto the therapist's terminal.
"""

from __future__ import annotations

from engine.audio.devices import list_audio, quiet_stderr
from engine.midi.devicemap import map_for_port

__all__ = ["list_devices"]

_MIDI_APIS = {
    1: "CoreMIDI",
    2: "ALSA",
    3: "JACK",
    4: "Windows MM",
    6: "Web MIDI",
}


def _midi(notes: list[str]) -> tuple[list[dict], list[dict]]:
    try:
        import rtmidi  # its C library may be missing: then a note, not a failure
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
    return map_for_port(port).name


def list_devices() -> dict:
    """Audio devices, MIDI inputs and outputs, and notes on what is missing."""
    notes: list[str] = []
    audio = list_audio(notes)
    midi_in, midi_out = _midi(notes)
    return {"audio": audio, "midi_inputs": midi_in, "midi_outputs": midi_out, "notes": notes}
