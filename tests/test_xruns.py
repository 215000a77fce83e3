"""Xruns on the offline backend, forced at known frames (engine.audio.backends.OfflineBackend.inject_dropout):
the stream clock follows the device over a dropout, every cue scheduled after it sounds at its exact frame,
and each xrun is in the session log with the frames it spans (docs/visits.md, "Xruns")."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from engine.audio.engine import AudioEngine
from engine.audio.sound import Sound
from engine.session.parts import OfflineStream
from tests.test_session_driver import _echo_session

RATE = 48_000
BLOCK = 128


def _click() -> Sound:
    data = np.zeros(64, np.float32)
    data[0] = 0.5
    return Sound("click", data, RATE)


def test_the_clock_jumps_over_a_dropout_and_cues_after_it_keep_their_frames():
    eng = AudioEngine(backend="offline", sample_rate=RATE, blocksize=BLOCK, channels_in=1, channels_out=1, ring_s=2.0)
    eng.start()
    eng.backend.inject_dropout(100 * BLOCK, 10 * BLOCK)  # the device runs on 1280 frames without a block
    eng.backend.inject_dropout(200 * BLOCK, 0)  # an xrun that costs no frames
    click = _click()
    cues = [50 * BLOCK + 7, 105 * BLOCK + 3, 150 * BLOCK + 99, 250 * BLOCK + 1]  # before, inside, after, after both
    for f in cues:
        eng.play(click, f)
    eng.backend.run_blocks(300)
    assert eng.xruns == 2 and eng.stats()["skipped_frames"] == 1280
    assert eng.pop_xruns() == [(100 * BLOCK, 1280), (200 * BLOCK, 0)] and eng.pop_xruns() == []
    # The engine's frames are the device's: 300 blocks were processed and 10 blocks' worth skipped.
    assert eng.now_frame == 310 * BLOCK
    out = eng.output_ring.read(0, eng.now_frame)[:, 0]
    heard = list(np.flatnonzero(out > 0.25))
    # The cue inside the dropout never went out on time: it is played at the first block after it, and
    # counted late; every other cue is at its exact frame.
    assert heard == [cues[0], 110 * BLOCK, cues[2], cues[3]]
    assert eng.mixer.late == 1
    eng.close()


def test_each_xrun_is_a_line_of_the_session_log_with_the_frames_it_spans(tmp_path):
    class Dropping(OfflineStream):
        def start(self):
            params = super().start()
            self.engine.backend.inject_dropout(1000 * BLOCK, 3 * BLOCK)
            self.engine.backend.inject_dropout(2000 * BLOCK, 0)
            return params

    outcome = _echo_session(tmp_path, stream=Dropping(), activity={"max_trials": 3})
    lines = [json.loads(x) for x in (Path(outcome.folder) / "events.jsonl").read_text().splitlines()]
    xruns = [d for d in lines if d["type"] == "xrun"]
    assert xruns == [{"type": "xrun", "frame": 1000 * BLOCK, "frames": 3 * BLOCK},
                     {"type": "xrun", "frame": 2000 * BLOCK, "frames": 0}]
    stats = next(d for d in lines if d.get("what") == "stream_stats")["detail"]
    assert stats["xruns"] == 2 and stats["skipped_frames"] == 3 * BLOCK
