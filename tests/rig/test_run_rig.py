"""`tandem run` on the JACK rig: a real session with a MIDI song and the virtual child's pad."""

from __future__ import annotations

import contextlib
import io
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from engine.cli import main
from engine.records.rescore import rescore
from tests.rig.measure import jack_system_device

pytestmark = pytest.mark.rig

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "groove_midi"
SONG = FIXTURES / "drummer7_34_hiphop_100_fill_4-4.mid"


def _session(child, tmp_path, child_id: str, argv: list[str], before=None):
    """Run `tandem run` once (``before`` just before it); its summary and its log, which re-scores."""
    child.heard_midi(clear=True)
    if before is not None:
        before()
    data = tmp_path / "data"
    # The session's stdout apart from the test's own output.
    with contextlib.redirect_stdout(io.StringIO()) as stdout:
        code = main(["--data-dir", str(data), "run", *argv, "--child", child_id,
                     "--audio", str(jack_system_device()), "--json"])
    out = stdout.getvalue()
    assert code == 0, out
    summary = json.loads(out[out.index("{"):])
    folder = next((data / "sessions" / child_id).iterdir())
    lines = [json.loads(x) for x in (folder / "events.jsonl").read_text().splitlines()]
    again = rescore(folder)  # a song or free play: nothing to recompute, and the log says so
    assert again["identical"] is True and again["trials"] == [] and again["note"]
    return summary, lines


@pytest.mark.parametrize("stall", [False, True], ids=["quiet", "dropout"])
@pytest.mark.parametrize("transport", ["jack", "rtmidi"])
def test_run_records_every_hit_with_feedback(virtual_child, tmp_path, transport, stall):
    """With ``dropout`` the rig drops out for 40 ms among the hits (a forced xrun at a known frame):
    the engine counts it, no hit is lost, and the hits keep their spacing as well as without it."""
    child = virtual_child
    rate = child.rate
    hits: list[int] = []

    def send_hits():
        # Hits 2.0–3.9 s from now: the session (4.5 s) is listening by then.
        start = child.frame_time() + 2 * rate
        hits[:] = [start + i * rate // 10 + 17 * i for i in range(20)]
        child.send_midi_many([(f, bytes([0x99, 38, 90])) for f in hits]
                             + [(f + 2000, bytes([0x89, 38, 0])) for f in hits])
        if stall:  # 40 ms between a note-off (hit 8 + 2000 frames) and the next hit (+4817): nothing due
            child.stall(hits[7] + 2100, 0.04)

    summary, lines = _session(child, tmp_path, "R1",
                              [str(SONG), "--midi-in", "virtual-child", "--duration", "4.5",
                               "--midi-transport", transport], before=send_hits)
    assert summary["status"] == "completed"
    if stall:
        assert summary["stream"]["xruns"] - summary["stream"]["xruns_during_setup"] >= 1
    assert summary["notes"] == len(hits)
    assert summary["feedback_played"] == len(hits)
    assert lines[0]["type"] == "header" and lines[0]["midi_transport"] == transport
    inputs = [x for x in lines if x["type"] == "input" and x["source"] == "midi"]
    assert [x["note"] for x in inputs] == [38] * len(hits)
    assert len([x for x in lines if x["type"] == "input" and x["source"] == "midi-off"]) == len(hits)
    # The hits' spacing survives on the engine clock: to the frame on the JACK transport,
    # within one period through rtmidi (which sees MIDI once per period).
    gaps = [b["frame"] - a["frame"] for a, b in zip(inputs, inputs[1:])]
    true_gaps = [b - a for a, b in zip(hits, hits[1:])]
    tolerance = 0 if transport == "jack" else child.blocksize
    bad = [(i, g, t) for i, (g, t) in enumerate(zip(gaps, true_gaps)) if abs(g - t) > tolerance]
    assert not bad
    song = [x for x in lines if x["type"] == "cue" and x["role"] == "song"]
    assert song, "the song's notes are logged as cues"
    assert all(b["frame"] >= a["frame"] for a, b in zip(song, song[1:]))


@pytest.mark.parametrize("transport", ["jack", "rtmidi"])
def test_run_plays_the_song_on_midi_out_in_time(virtual_child, tmp_path, transport):
    child = virtual_child
    summary, lines = _session(child, tmp_path, "R2",
                              [str(SONG), "--midi-out", "virtual-child:midi_ear", "--midi-transport", transport])
    song = [x for x in lines if x["type"] == "cue" and x["role"] == "song"]
    heard = child.heard_midi()
    note_ons = [(f, d) for f, d in heard if d[0] & 0xF0 == 0x90 and d[2] > 0]
    # Every note of the song reached the synth, in order, then the session silenced it.
    assert len(song) > 10
    assert len(note_ons) == len(song)
    assert summary["midi_out_sent"] >= 2 * len(song)
    assert [d for _, d in heard[-48:]] == [bytes([0xB0 | ch, cc, 0]) for ch in range(16) for cc in (64, 123, 120)]
    # The notes' spacing on the synth is the song's: to the frame through JACK (the audio
    # process writes each at its frame). Through rtmidi within one period (its JACK backend
    # sends at the start of the next one) for all but the few the sender thread sent late:
    # a sleeping thread is woken when the OS gets to it, which on this shared VM is now and
    # then milliseconds late (the MIDI benchmark reports how often).
    gaps = [b[0] - a[0] for a, b in zip(note_ons, note_ons[1:])]
    song_gaps = [b["frame"] - a["frame"] for a, b in zip(song, song[1:])]
    if transport == "jack":
        assert gaps == song_gaps
    else:
        good = sum(abs(g - s) <= child.blocksize for g, s in zip(gaps, song_gaps))
        assert good >= 0.9 * len(gaps), (good, len(gaps))


def test_run_with_the_microphone_records_every_hit(virtual_child, tmp_path):
    """`tandem run free --mic`: bursts the virtual child plays into the engine's input are one
    'mic' onset each, with their spacing kept to within 2 samples (the detector's own accuracy)."""
    child = virtual_child
    rate = child.rate
    rng = np.random.default_rng(1)
    hits: list[int] = []

    def wire_and_play():
        # `tandem run` opens its own stream: once its input port exists, plug the child's hand
        # into it, and play once the session listens (it does within a second of the stream).
        deadline = time.monotonic() + 10
        while not (ins := [p for p in child.port_names(r"PortAudio.*:in_")]) and time.monotonic() < deadline:
            time.sleep(0.02)
        if not ins:
            return
        child.connect(child.hand_port, ins[0])
        start = child.frame_time() + rate
        hits[:] = [start + i * rate // 8 + 29 * i for i in range(12)]
        for j in hits:
            n = 2400
            burst = (0.3 * rng.standard_normal(n) * np.exp(-np.arange(n) / 480)).astype(np.float32)
            child.play_audio(j, burst)

    def play_hits():
        hits.clear()
        threading.Thread(target=wire_and_play, daemon=True).start()

    summary, lines = _session(child, tmp_path, "R3", ["free", "--mic", "--duration", "4.5"],
                              before=play_hits)
    assert len(hits) == 12, "the session's input port never appeared"
    assert summary["status"] == "completed"
    assert summary["mic_onsets"] == len(hits) and summary["voices"] == 0
    assert lines[0]["mic"] is True
    onsets = [x for x in lines if x["type"] == "input" and x["source"] == "mic"]
    assert [x["key"] for x in onsets] == ["onset"] * len(hits)
    gaps = [b["arrival_frame"] - a["arrival_frame"] for a, b in zip(onsets, onsets[1:])]
    true_gaps = [b - a for a, b in zip(hits, hits[1:])]
    assert all(abs(g - t) <= 2 for g, t in zip(gaps, true_gaps)), (gaps, true_gaps)


def test_run_plays_a_visit_of_two_activities_in_one_log(virtual_child, tmp_path):
    """`tandem run SONG free`: one visit, one log, the song then free play on one clock; every hit is kept."""
    child = virtual_child
    rate = child.rate
    hits: list[int] = []

    def send_hits():
        start = child.frame_time() + 2 * rate
        hits[:] = [start + i * rate // 2 for i in range(10)]  # 2.0–6.5 s from now: in both activities
        child.send_midi_many([(f, bytes([0x99, 38, 90])) for f in hits] + [(f + 2000, bytes([0x89, 38, 0]))
                                                                          for f in hits])

    summary, lines = _session(child, tmp_path, "R4", [str(SONG), "free", "--midi-in", "virtual-child", "--duration",
                                                      "9", "--midi-transport", "jack"], before=send_hits)
    # Free play ends well when the time is up: the visit played both activities and is completed.
    assert summary["status"] == "completed"
    assert [(a["title"], a["status"]) for a in summary["activities"]] == [(None, "completed"), (None, "completed")]
    kinds = [x["type"] for x in lines]
    begun = [x for x in lines if x["type"] == "activity"]
    ended = [x for x in lines if x["type"] == "activity_end"]
    # The song is named relative to the folder the visit ran in: a log holds no absolute path.
    assert [x["script"] for x in begun] == [SONG.relative_to(Path.cwd()).as_posix(), "free"]
    assert [x["index"] for x in ended] == [0, 1] and str(Path.cwd()) not in json.dumps(lines)
    assert kinds.index("activity") < kinds.index("activity_end") < len(kinds) - 1 - kinds[::-1].index("activity")
    # The song activity lasted the song and its tail; the free play began after it, on the same clock.
    assert ended[0]["frame"] - begun[0]["frame"] >= round((2.2825 + 2.0) * rate)
    assert begun[1]["frame"] >= ended[0]["frame"]
    assert [x["note"] for x in lines if x["type"] == "input" and x["source"] == "midi"] == [38] * len(hits)
    assert lines[-1]["type"] == "summary" and lines[-1]["trials"] == 0
