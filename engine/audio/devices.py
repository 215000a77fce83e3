"""The audio devices this machine has, and quieting the C libraries that report on fd 2.

sounddevice is imported when the devices are asked for, not at import:
``import sounddevice`` makes PortAudio scan every host API (and start
talking to a JACK server), which ``tandem`` commands that play nothing
must not pay for.
"""

from __future__ import annotations

import contextlib
import os
import sys

__all__ = ["list_audio", "quiet_stderr"]


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


def list_audio(notes: list[str]) -> list[dict]:
    """The audio devices (index, name, host API, channels, default rate); a missing PortAudio is a note."""
    try:
        with quiet_stderr():
            import sounddevice as sd  # PortAudio scans its host APIs (and talks to JACK) as it loads

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
