"""Calibration on the JACK rig: the virtual room returns the engine's output after a known delay.

The truth (output path + room delay + input path; the pad's MIDI K frames
before its hit) is measured with the rig's frame-exact tools, independently
of calibration's matched filter and onset rule; asserts are on frames.
"""

from __future__ import annotations

import json

import pytest

from tests.rig.retry import xrun_free
from tests.rig.room import RigUnsteady, VirtualRoom, calibrate_in_room

pytestmark = pytest.mark.rig


def _xruns_that_matter(row: dict) -> dict[str, int]:
    """Right figures are right whatever the machine did; wrong ones with no xrun are calibration's
    fault (the asserts say so): only xruns beside wrong figures make a run moot."""
    rt = row["roundtrip"]["latency_frames"]
    right = (rt is not None and abs(rt - row["roundtrip_truth_frames"]) <= 0.5
             and row.get("midi_offset_frames") == row["midi_offset_truth_frames"])
    return {"xruns": 0 if right else row["xruns"]}


def _calibrated(room, **kw) -> dict:
    """A run whose figures are right, or wrong without an xrun; up to three tries. A run whose truth
    itself was hit by an xrun (RigUnsteady) is tried again too."""
    return xrun_free(lambda: calibrate_in_room(room, **kw), attempts=3, xruns=_xruns_that_matter,
                     unsteady=(RigUnsteady,))


def test_calibration_recovers_the_rooms_delay_and_the_pads_midi_offset(jack_server):
    with VirtualRoom(jack_server.name) as room:
        row = _calibrated(room, delay_frames=1500, transport="jack", sound_after_frames=200,
                          noise_rms=0.003, echo_frames=200, taps=6, ioi_ms=350.0)
    rt = row["roundtrip"]
    assert rt["ok"] and rt["found"] == rt["repetitions"]
    assert row["roundtrip_truth_frames"] == row["output_path_frames"] + 1500 + row["input_path_frames"]
    assert rt["latency_frames"] == pytest.approx(row["roundtrip_truth_frames"], abs=0.5)
    midi = row["midi"]
    assert midi["ok"] and midi["exact"] and midi["used"] == 6
    assert row["midi_stamp_frames"] == [0]  # the JACK transport stamps each note at its own frame
    # The pad's note leaves 200 frames before its hit, which the input has ``input path`` later.
    assert row["midi_offset_frames"] == row["midi_offset_truth_frames"] == -200 - row["input_path_frames"]


def test_tandem_calibrate_hearing_only_silence_says_why_and_saves_nothing(jack_server, tmp_path, capsys):
    """Without the room the rig's input is digital silence, as with a microphone unplugged or muted."""
    from engine.cli import main
    from engine.cli.exits import EXIT_ERROR
    from tests.rig.measure import jack_system_device

    rc = main(["--data-dir", str(tmp_path), "calibrate", "--audio", str(jack_system_device()), "--json"])
    out, err = capsys.readouterr()
    assert rc == EXIT_ERROR, err
    problems = [line for line in err.splitlines() if line.startswith("tandem: ")]
    assert problems and "Traceback" not in err
    assert problems == [("tandem: The microphone recorded only silence: check that it is plugged in, chosen as the "
                         "input and not muted, then calibrate again.")]
    assert json.loads(out)["saved"] is None
    assert not (tmp_path / "calibration").exists() or not any((tmp_path / "calibration").iterdir())
