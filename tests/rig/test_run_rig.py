"""`tandem run` on the JACK rig: a real session with a MIDI song and the virtual child's pad."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main
from tests.rig.measure import jack_system_device

pytestmark = pytest.mark.rig

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "groove_midi"
SONG = FIXTURES / "drummer7_34_hiphop_100_fill_4-4.mid"


@pytest.mark.parametrize("transport", ["jack", "rtmidi"])
def test_run_records_every_hit_with_feedback_and_the_song(virtual_child, tmp_path, capsys, transport):
    child = virtual_child
    rate = child.rate
    # Hits 2.0–3.9 s from now: the session (4.5 s) is listening by then.
    start = child.frame_time() + 2 * rate
    hits = [start + i * rate // 10 + 17 * i for i in range(20)]
    child.send_midi_many([(f, bytes([0x99, 38, 90])) for f in hits]
                         + [(f + 2000, bytes([0x89, 38, 0])) for f in hits])
    code = main(["--data-dir", str(tmp_path), "run", str(SONG), "--child", "R1",
                 "--midi-in", "virtual-child", "--audio", str(jack_system_device()),
                 "--duration", "4.5", "--midi-transport", transport, "--json"])
    out = capsys.readouterr().out
    assert code == 0
    summary = json.loads(out[out.index("{"):])
    assert summary["status"] == "completed"
    assert summary["notes"] == len(hits)
    assert summary["feedback_played"] == len(hits)
    folders = list((tmp_path / "sessions" / "R1").iterdir())
    assert len(folders) == 1
    lines = [json.loads(x) for x in (folders[0] / "events.jsonl").read_text().splitlines()]
    assert lines[0]["type"] == "header" and lines[0]["midi_transport"] == transport
    inputs = [x for x in lines if x["type"] == "input" and x["source"] == "midi"]
    assert [x["note"] for x in inputs] == [38] * len(hits)
    # The hits' spacing survives on the engine clock: to the frame on the JACK transport,
    # within one period through rtmidi (which sees MIDI once per period).
    gaps = [b["frame"] - a["frame"] for a, b in zip(inputs, inputs[1:])]
    true_gaps = [b - a for a, b in zip(hits, hits[1:])]
    tolerance = 0 if transport == "jack" else child.blocksize
    assert all(abs(g - t) <= tolerance for g, t in zip(gaps, true_gaps))
    song = [x for x in lines if x["type"] == "cue" and x["role"] == "song"]
    assert song, "the song's notes are logged as cues"
    assert all(b["frame"] >= a["frame"] for a, b in zip(song, song[1:]))
