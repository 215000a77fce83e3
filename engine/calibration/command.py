"""`tandem calibrate`: open the devices, tell the therapist what to do, measure, keep the profile.

The command line parses its options and calls :func:`run_calibrate`; every
error is a :class:`~engine.errors.TandemError` with one plain sentence.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from engine.audio.engine import AudioEngine
from engine.calibration.procedure import NoteOnCollector, _wait_for_input, calibrate
from engine.calibration.profiles import save_profile
from engine.midi.live import MidiInput

__all__ = ["run_calibrate"]


def run_calibrate(
    *,
    root: Path,
    audio: str | int | None = None,
    blocksize: int = 128,
    midi_in: str | None = None,
    transport: str = "rtmidi",
    mic: bool = True,
    taps: int = 12,
    save: bool = True,
    echo: Callable[[str], None] = print,
) -> dict:
    """Calibrate the setup and store its profile under the data directory ``root``.

    Parameters
    ----------
    audio, blocksize : as for ``tandem run`` (the profile belongs to them).
    midi_in : str, optional
        The pad (part of its port name); without it only the audio round trip is measured.
    transport : str
        ``"rtmidi"`` or ``"jack"`` (resolved as ``tandem run`` resolves ``--midi-transport``).
    mic : bool
        Whether there is a microphone; without one only the tap-along MIDI estimate is made.

    Returns
    -------
    dict
        :meth:`Calibration.to_dict` plus ``saved`` (the profile's path or None).
    """
    if isinstance(audio, str) and audio.isdigit():
        audio = int(audio)
    backend = "engine.midi.jackmidi:JackMidiBackend" if transport == "jack" else "sounddevice"
    eng = AudioEngine(backend=backend, backend_options={"device": audio}, blocksize=blocksize,
                      channels_in=1 if mic else 0, channels_out=2)
    inp = None
    try:
        eng.start()
        _wait_for_input(eng, 4 * blocksize, poll_s=0.01, timeout_s=5.0,
                        failure="The audio stream did not start within 5 s; check the audio device "
                                "(`tandem devices`) and that no other program holds it.")
        collector = None
        if midi_in:
            collector = NoteOnCollector()
            inp = MidiInput(eng, midi_in, transport=transport, feedback=False, on_event=collector)
            inp.start()
        result = calibrate(eng, stamps=collector.frames if collector else None,
                           midi_device=inp.port.name if inp else None, microphone=mic,
                           midi_options={"taps": taps}, echo=echo)
    finally:
        if inp is not None:
            inp.stop()
        eng.close()
    out = result.to_dict()
    out["saved"] = None
    if result.profile is not None and save:
        out["saved"] = str(save_profile(result.profile, root))
    return out
