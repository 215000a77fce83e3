"""Xruns on the offline backend, forced at known frames (engine.audio.backends.OfflineBackend.inject_dropout):
the stream clock follows the device over a dropout, every cue scheduled after it sounds at its exact frame,
and each xrun is in the session log with the frames it spans (docs/visits.md, "Xruns")."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from engine.audio.engine import AudioEngine
from engine.audio.sound import Sound
from engine.interventions.script import load_script
from engine.records.reader import read_log
from engine.records.rescore import rescore
from engine.scoring.objectives import Objective, Trial, evaluate_session
from engine.session.parts import OfflineStream
from tests.test_session_driver import ECHO, _echo_session

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


def test_a_trial_an_xrun_fell_within_is_left_out_of_the_objectives_live_rescored_and_read(tmp_path):
    class Dropping(OfflineStream):
        def start(self):
            params = super().start()
            self.engine.backend.inject_dropout(1600 * BLOCK, 2 * BLOCK)  # 4.27 s: within the echo's first trials
            return params

    outcome = _echo_session(tmp_path, stream=Dropping(), activity={"max_trials": 6})
    folder = Path(outcome.folder)
    lines = [json.loads(x) for x in (folder / "events.jsonl").read_text().splitlines()]
    trials = [d for d in lines if d["type"] == "trial" and d.get("phase", "trial") == "trial"]
    flagged = [d["n"] for d in trials if d.get("dropout")]
    rate = next(d for d in lines if d["type"] == "header")["sample_rate"]
    # Exactly the trials whose window [start_s, close_s] holds the xrun's frames are flagged, by hand:
    by_hand = [d["n"] for d in trials if d["start_s"] * rate <= 1602 * BLOCK and d["close_s"] * rate >= 1600 * BLOCK]
    assert flagged == by_hand == [1]  # docs/visits.md, "Xruns": trial 1 runs 0.5–10.83 s, trial 2 from 10.93 s
    assert trials[0]["start_s"] == 0.5 and round(trials[0]["close_s"], 2) == 10.83
    assert round(trials[1]["start_s"], 2) == 10.93
    # Live, re-scored and read back, the objectives leave that trial out and say so.
    record = read_log(folder)
    assert [t.n for t in record.trials if t.dropout] == flagged
    summary = next(d for d in lines if d["type"] == "summary")
    quick = next(o for o in summary["objectives"] if o["id"] == "responds-quickly")  # counts every trial
    assert "1 with an audio dropout" in quick["sentence"] or "audio dropout fell within it" in quick["sentence"]
    again = rescore(folder)
    assert again["identical"] is True
    result = evaluate_session(next(o for o in load_script(ECHO).objectives if o.id == "responds-quickly"),
                              [Trial(t.scores, prompt=t.prompt, dropout=t.dropout) for t in record.trials])
    assert result.dropouts == 1 and result.n_trials == len(trials)


def test_a_dropout_trial_is_counted_apart_in_the_sentence():
    obj = Objective.from_dict({"id": "w", "metric": "waited", "aggregate": "percent_true", "comparator": ">=",
                               "threshold": 60, "min_trials": 3})
    trials = [Trial({"waited": True}, prompt="independent")] * 4 + [Trial({"waited": False}, prompt="independent",
                                                                            dropout=True)]
    result = evaluate_session(obj, trials)
    assert (result.counted, result.dropouts, result.value, result.met) == (4, 1, 100.0, True)
    assert result.summary.endswith("1 trial was left out because an audio dropout fell within it.")
    all_out = evaluate_session(obj, [Trial({"waited": True}, prompt="independent", dropout=True)] * 2)
    assert all_out.met is None and all_out.summary == ("An audio dropout fell within each of the 2 trials, so they "
                                                       "were left out.")


def test_xruns_stay_readable_after_the_shared_memory_is_released():
    """A session reads the last xruns after the device stream closed (its shared memory is gone by then)."""
    eng = AudioEngine(backend="offline", sample_rate=RATE, blocksize=BLOCK, channels_in=1, channels_out=1, ring_s=1.0)
    eng.start()
    eng.backend.inject_dropout(10 * BLOCK, BLOCK)
    eng.backend.run_blocks(20)
    eng.xrun_history()  # as close() does before it releases a device's shared memory
    eng.state.release()
    assert eng.pop_xruns() == [(10 * BLOCK, BLOCK)] and eng.xrun_history() == [(10 * BLOCK, BLOCK)]
