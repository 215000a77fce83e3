"""Rhythmic cueing's variants: synchronisation-continuation and a song (a MIDI file) instead of the phrase.

Known answers: cue times are ``anchor + beat * 60 / tempo`` exactly; scores of constructed
taps are worked by hand; the song's cues are the MIDI file's notes at a scaled tempo;
the simulated children continue the way their models say.
"""

import shutil
from pathlib import Path

import mido
import numpy as np
import pytest

from engine.errors import ConfigError
from engine.interventions.kinds import RhythmicCueing, make_kind
from engine.interventions.script import (
    METRICS,
    ScriptError,
    load_cueing_song,
    load_script,
)
from engine.interventions.sounds import script_sounds
from engine.midi.midifile import load_midi
from engine.midi.playback import note_sound
from engine.scoring.objectives import evaluate_session
from engine.simulation.models import events_for, make_model
from tests.fixture_files import objective_text, script_text

SONGS = Path(__file__).resolve().parents[1] / "content" / "songs"
MARCH = SONGS / "march-song.mid"

# --------------------------------------------------------------------------
# The march: written in code for Tandem (CC0); the committed file is exactly this.

#: The march's tune: (note, beats) per bar; 8 bars of 4/4.
MARCH_TUNE = (
    (("C4", 1), ("E4", 1), ("G4", 1), ("E4", 1)),
    (("F4", 1), ("A4", 1), ("G4", 2)),
    (("E4", 1), ("G4", 1), ("F4", 1), ("D4", 1)),
    (("E4", 1), ("D4", 1), ("C4", 2)),
    (("C4", 1), ("E4", 1), ("G4", 1), ("C5", 1)),
    (("A4", 1), ("F4", 1), ("G4", 2)),
    (("E4", 1), ("F4", 1), ("D4", 1), ("G4", 1)),
    (("C4", 2), ("G3", 1), ("C4", 1)),
)
MARCH_BPM = 100
TPB = 480
_STEPS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def midi_note(name):
    return 12 * (int(name[1:]) + 1) + _STEPS[name[0]]


def make_march() -> mido.MidiFile:
    """The march: bass drum (GM 36) on every beat, louder on the downbeat; the tune on piano, channel 1."""
    mid = mido.MidiFile(type=1, ticks_per_beat=TPB)
    meta = mido.MidiTrack([
        mido.MetaMessage("track_name", name="March (written for Tandem, CC0)", time=0),
        mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0),
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(MARCH_BPM), time=0),
    ])
    bars = len(MARCH_TUNE)
    end = bars * 4 * TPB
    meta.append(mido.MetaMessage("end_of_track", time=end))
    events = []  # (tick, order, message): note-offs before note-ons at the same tick
    for beat in range(bars * 4):
        t = beat * TPB
        vel = 112 if beat % 4 == 0 else 96
        events.append((t, 1, mido.Message("note_on", channel=9, note=36, velocity=vel)))
        events.append((t + TPB // 4, 0, mido.Message("note_off", channel=9, note=36, velocity=0)))
    t = 0
    for bar in MARCH_TUNE:
        for name, beats in bar:
            n = midi_note(name)
            events.append((t, 1, mido.Message("note_on", channel=0, note=n, velocity=84)))
            events.append((t + beats * TPB - TPB // 8, 0, mido.Message("note_off", channel=0, note=n, velocity=0)))
            t += beats * TPB
    events.sort(key=lambda e: (e[0], e[1], e[2].channel, e[2].note))
    track = mido.MidiTrack([mido.Message("program_change", channel=0, program=0, time=0)])
    now = 0
    for tick, _, msg in events:
        track.append(msg.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=end - now))
    mid.tracks += [meta, track]
    return mid


def test_the_committed_march_is_what_make_march_writes(tmp_path):
    out = tmp_path / "march.mid"
    make_march().save(out)
    assert out.read_bytes() == MARCH.read_bytes()
    song = load_midi(MARCH)
    drums = [n for n in song.notes if n.channel == 9]
    assert [round(n.start_s / 0.6, 9) for n in drums] == list(range(32))  # a bass drum on every beat at 100 BPM
    assert {n.note for n in drums} == {36}
    assert len([n for n in song.notes if n.channel == 0]) == sum(len(bar) for bar in MARCH_TUNE)


# --------------------------------------------------------------------------
# Scripts

def write(tmp_path, *, cueing="continuation_beats = 6", tempo=120, count_in=4, rhythms=("xxxx",), extra="",
          name="s.toml"):
    """The minimal script as a rhythmic cueing of ``rhythms`` (none: a song), with ``cueing`` as its [cueing]."""
    text = script_text("minimal", kind="rhythmic_cueing", tempo_bpm=tempo, grid="1/4", trials=12,
                       cue="drum:hi_wood_block", source="midi", phrases=[{"rhythm": r} for r in rhythms])
    path = tmp_path / name
    path.write_text(f"{text}[cueing]\n{cueing}\n[prompts]\ncount_in_beats = {count_in}\n{extra}\n")
    return path


ADAPT_UP = "[adapt]\nup_after = 1\ndown_after = 1\ntempo_step_pct = 10\n"


def perfect(plan):
    """Taps exactly on the scored beats and on every continuation beat."""
    return list(plan.params["beats_s"]) + list(plan.params.get("continuation_beats_s", []))


# --------------------------------------------------------------------------
# Synchronisation-continuation: the plans


def test_continuation_plans_are_logical_time_with_no_drift_across_trials(tmp_path):
    kind = make_kind(load_script(write(tmp_path, cueing="continuation_beats = 6\nsync_bars = 2")))
    assert isinstance(kind, RhythmicCueing) and kind.continuation_beats == 6 and kind.sync_bars == 2
    p1 = kind.next_trial(0.0)
    assert p1.cue_times("count_in") == [0.0, 0.5, 1.0, 1.5]
    assert p1.cue_times("downbeat", "beat") == [(4 + k) * 60 / 120 for k in range(8)]
    assert p1.params["beats_s"] == p1.cue_times("downbeat", "beat")
    assert [c.role for c in p1.cues if c.role != "count_in"] == ["downbeat", "beat", "beat", "beat"] * 2
    assert p1.params["continuation_beats_s"] == [(12 + j) * 60 / 120 for j in range(6)]
    assert p1.params["sync_end_s"] == 5.5 + 0.25
    assert p1.end_s == 18 * 0.5 and p1.child_end_s == 9.0 - 0.25 and p1.child_start_s == 2.0 - 0.25
    t = p1.end_s
    for n in range(1, 40):  # forty trials on: still exactly the anchor's grid
        plan = kind.next_trial(t)
        first = 4 + 14 * n
        assert plan.cue_times("downbeat", "beat") == [(first + k) * 60 / 120 for k in range(8)]
        assert plan.params["continuation_beats_s"] == [(first + 8 + j) * 60 / 120 for j in range(6)]
        assert plan.child_start_s == pytest.approx(plan.cues[0].time_s - 0.25)
        assert not plan.cue_times("count_in")
        t = plan.end_s
    assert t == (4 + 14 * 40) * 0.5


def test_continuation_plans_when_the_tempo_steps(tmp_path):
    kind = make_kind(load_script(write(tmp_path, extra=ADAPT_UP)))
    p1 = kind.next_trial(0.0)
    kind.adapt(kind.score(p1, perfect(p1)))
    assert kind.tempo_bpm == pytest.approx(132.0)
    p2 = kind.next_trial(p1.end_s)
    spb = 60 / kind.tempo_bpm
    assert p2.tempo_bpm == kind.tempo_bpm and p1.end_s == 9.0
    # A new run at the new tempo, anchored at the trial's start; no count-in again.
    assert p2.cue_times("downbeat", "beat") == [9.0 + k * spb for k in range(8)]
    assert p2.params["continuation_beats_s"] == [9.0 + (8 + j) * spb for j in range(6)]
    assert p2.end_s == 9.0 + 14 * spb
    # Its window starts where the last one ended (never sharing a tap).
    assert p2.child_start_s == max(9.0 - 0.5 * spb, p1.child_end_s)
    p3 = kind.next_trial(p2.end_s)  # (no adapt between: same tempo, same run)
    assert p3.cue_times("downbeat", "beat") == [9.0 + (14 + k) * spb for k in range(8)]


def test_the_phrase_is_repeated_over_the_sync_bars(tmp_path):
    path = write(tmp_path, cueing="continuation_beats = 5\nsync_bars = 3",
                 rhythms=["x.xx"], count_in=0)
    plan = make_kind(load_script(path)).next_trial(10.0)
    assert plan.cue_times("downbeat", "beat") == [10.0 + b * 0.5 for b in (0, 2, 3, 4, 6, 7, 8, 10, 11)]
    assert plan.params["continuation_beats_s"] == [10.0 + (12 + j) * 0.5 for j in range(5)]
    assert plan.end_s == 10.0 + 17 * 0.5


# --------------------------------------------------------------------------
# Synchronisation-continuation: the scores


def test_perfect_taps_score_full_sync_and_a_kept_tempo(tmp_path):
    kind = make_kind(load_script(write(tmp_path)))
    plan = kind.next_trial(0.0)
    r = kind.score(plan, perfect(plan))
    s = r.scores
    assert s["within_window_pct"] == 100.0 and s["matched"] == 8 and s["extra"] == 0 and s["n_taps"] == 8
    assert s["paced_ioi_ms"] == pytest.approx(500.0) and s["continuation_n_taps"] == 6
    assert s["n_intervals"] == 5 and s["iti_mean_ms"] == pytest.approx(500.0)
    assert s["continuation_tempo_ratio"] == pytest.approx(1.0) and s["drift_ms_per_interval"] == pytest.approx(0.0)
    assert s["continuation_scorable"] is True and s["scorable"] is True and r.correct is True
    assert set(METRICS["continuation"]) <= set(s) and set(METRICS["sync"]) <= set(s)


def test_a_child_who_slows_after_the_cue_stops(tmp_path):
    kind = make_kind(load_script(write(tmp_path)))
    plan = kind.next_trial(0.0)
    last = plan.params["beats_s"][-1]  # 5.5
    # Intervals 500, 510, 520, 530, 540 ms after the cues: 10 ms (2 % of the beat) longer each time.
    cont, t = [], last
    for d in (0.500, 0.510, 0.520, 0.530, 0.540, 0.550):
        t += d
        cont.append(t)
    assert cont[-1] < plan.child_end_s
    s = kind.score(plan, plan.params["beats_s"] + cont).scores
    assert s["n_intervals"] == 5  # the first tap after the cues starts the continuation
    assert s["drift_ms_per_interval"] == pytest.approx(10.0)
    assert s["drift_pct_per_interval"] == pytest.approx(2.0)
    assert s["iti_mean_ms"] == pytest.approx(530.0) and s["continuation_tempo_ratio"] == pytest.approx(1.06)
    assert s["within_window_pct"] == 100.0 and s["extra"] == 0  # continuation taps are not sync extras


def test_the_continuation_window_ends_half_a_beat_before_the_next_trial(tmp_path):
    kind = make_kind(load_script(write(tmp_path)))
    plan = kind.next_trial(0.0)
    beats = plan.params["beats_s"]
    cont = plan.params["continuation_beats_s"]
    late = plan.child_end_s + 0.01  # belongs to the next trial's first beat
    s = kind.score(plan, beats + cont + [late]).scores
    assert s["continuation_n_taps"] == 6
    # Too few taps after the cues: the continuation cannot be scored, the bar still can.
    r = kind.score(plan, beats + cont[:3], prompt="independent")  # marked: an objective counts it
    assert r.scores["continuation_scorable"] is False and r.scores["drift_pct_per_interval"] is None
    assert "3 taps" in r.scores["continuation_reason"]
    assert r.correct is True and r.scores["within_window_pct"] == 100.0
    # Objectives: a continuation objective skips the unscorable trial.
    s_load = load_script(write(tmp_path, name="o.toml", extra=objective("drift_pct_per_interval")))
    res = evaluate_session(s_load.objectives[0], [r.trial, kind.score(plan, beats + cont, prompt="independent").trial])
    assert res.value == pytest.approx(0.0) and res.counted == 1 and res.unscorable == 1


def test_a_trial_whose_sync_part_is_unscorable_is_unscorable_for_continuation_objectives(tmp_path):
    kind = make_kind(load_script(write(tmp_path)))
    plan = kind.next_trial(0.0)
    r = kind.score(plan, plan.params["beats_s"][-1:] + plan.params["continuation_beats_s"], prompt="independent")
    assert r.scores["scorable"] is False and r.scores["continuation_scorable"] is True and r.correct is False
    script = load_script(write(tmp_path, name="o.toml", extra=objective("drift_pct_per_interval")))
    res = evaluate_session(script.objectives[0], [r.trial])
    assert res.value is None and res.counted == 0 and res.unscorable == 1


def objective(metric):
    """An objective on ``metric``: a median of at most 1."""
    return objective_text("o", metric, aggregate="median", comparator="<=", threshold=1)


def test_adaptation_follows_the_sync_part_only(tmp_path):
    kind = make_kind(load_script(write(tmp_path, extra=ADAPT_UP)))
    plan = kind.next_trial(0.0)
    # On the beat with the cues, no taps at all after them: correct, and the tempo goes up.
    r = kind.score(plan, plan.params["beats_s"])
    assert r.correct is True and r.scores["continuation_scorable"] is False
    kind.adapt(r)
    assert kind.tempo_steps == 1
    plan = kind.next_trial(plan.end_s)
    # Off the beat with the cues (150 ms late), perfect alone: not correct, and the tempo goes down.
    r = kind.score(plan, [t + 0.15 for t in plan.params["beats_s"]] + plan.params["continuation_beats_s"])
    assert r.correct is False and r.scores["continuation_scorable"] is True
    kind.adapt(r)
    assert kind.tempo_steps == 0


# --------------------------------------------------------------------------
# Synchronisation-continuation: the simulated children


def _session(tmp_path, model, seed, trials=4, cueing="continuation_beats = 16\nsync_bars = 2"):
    kind = make_kind(load_script(write(tmp_path, cueing=cueing, tempo=100)))
    history, out, t = [], [], 0.0
    for i in range(trials):
        plan = kind.next_trial(t)
        events = events_for(plan, make_model(model, seed=seed, trial_index=i), history)
        result = kind.score(plan, [e.time_s for e in events])
        out.append((plan, events, result))
        t = plan.end_s  # (no adapt: the tempo stays, so the figures compare)
    return out


def _ols_slope_ms(itis_s):
    k = np.arange(len(itis_s), dtype=float)
    y = np.asarray(itis_s) * 1000.0
    return float(np.polyfit(k, y, 1)[0])


def test_steady_child_keeps_the_tempo_and_drifting_child_slows_as_its_model_says(tmp_path):
    steady_drift, drifting_drift, drifting_truth, steady_ratio, drifting_ratio = [], [], [], [], []
    for seed in range(6):
        for plan, events, r in _session(tmp_path, "steady", seed):
            cont = [e for e in events if e.truth.get("phase") == "continuation"]
            assert cont and all(e.truth["drift_pct_per_beat"] == 0 for e in cont)
            assert all(e.truth["period_s"] == pytest.approx(0.6) for e in cont)
            assert r.correct is True and r.scores["continuation_scorable"] is True
            steady_drift.append(r.scores["drift_pct_per_interval"])
            steady_ratio.append(r.scores["continuation_tempo_ratio"])
        for plan, events, r in _session(tmp_path, "drifting", seed):
            cont = [e for e in events if e.truth.get("phase") == "continuation"]
            assert cont and all(e.truth["drift_pct_per_beat"] == 1.5 for e in cont)
            if not r.scores["continuation_scorable"]:
                continue
            drifting_drift.append(r.scores["drift_pct_per_interval"])
            drifting_ratio.append(r.scores["continuation_tempo_ratio"])
            # What the model intended: the OLS slope of its intended intervals, as % of the beat.
            itis = [e.truth["intended_iti_s"] for e in cont if e.truth["intended_iti_s"] is not None]
            drifting_truth.append(100.0 * _ols_slope_ms(itis) / 600.0)
    # Steady: no drift, the tempo kept (15 ms-scale noise over 15 intervals).
    assert abs(np.mean(steady_drift)) < 0.3 and abs(np.mean(steady_ratio) - 1.0) < 0.02
    # Drifting: slower alone and slowing by about what it intended (each interval 1.5 % longer than the last).
    assert len(drifting_drift) >= 12
    assert np.mean(drifting_truth) > 1.5
    assert np.mean(drifting_drift) == pytest.approx(np.mean(drifting_truth), abs=0.35)
    assert np.mean(drifting_drift) - np.mean(steady_drift) > 1.2
    assert min(drifting_ratio) > 1.1 > max(steady_ratio)


def test_continuation_tap_truth_and_silent_child(tmp_path):
    (plan, events, _), *_ = _session(tmp_path, "steady", 3, trials=1)
    cont = [e for e in events if e.truth.get("phase") == "continuation"]
    assert len(cont) == 16 and [e.truth["index"] for e in cont] == list(range(16))
    assert all(e.time_s > plan.params["sync_end_s"] and e.time_s < plan.child_end_s for e in cont)
    assert all(e.truth["situation"] == "sync_continue" and e.truth["clock_sd_ms"] > 0 for e in cont)
    sync = [e for e in events if e.truth.get("phase") == "sync"]
    assert len(sync) == 8 and all(e.time_s < plan.params["sync_end_s"] for e in sync)
    assert _session(tmp_path, "silent", 0, trials=2)[1][1] == []
    # A later trial starts with the child still going: it taps from the first cue.
    _, (_, _, r2) = _session(tmp_path, "steady", 3, trials=2)
    assert r2.scores["matched"] == 8


def test_events_for_plain_cueing_is_unchanged_by_the_variants(tmp_path):
    """Without continuation the model still taps one run over the whole session's beats."""
    kind = make_kind(load_script(write(tmp_path, cueing="window_ms = 80", tempo=100)))
    history = []
    p1 = kind.next_trial(0.0)
    p2 = kind.next_trial(p1.end_s)
    events_for(p1, make_model("steady", seed=1), history)
    ev = events_for(p2, make_model("steady", seed=1, trial_index=1), history)
    assert history == p1.cue_times("count_in", "downbeat", "beat") + p2.cue_times("downbeat", "beat")
    assert len(ev) == 4


# --------------------------------------------------------------------------
# A song


def song_script(tmp_path, *, tempo=88, cueing="", extra="", count_in=4):
    shutil.copy(MARCH, tmp_path / "march.mid")
    return write(tmp_path, cueing=f'song = "march.mid"\n{cueing}', tempo=tempo, rhythms=(), extra=extra,
                 count_in=count_in)


def test_the_songs_cues_are_the_midi_file_at_the_scripts_tempo(tmp_path):
    kind = make_kind(load_script(song_script(tmp_path)))
    scaled = load_midi(MARCH, tempo_scale=88 / 100)  # the file's beat becomes 88 BPM
    spb = 60 / 88
    t = 0.0
    for bar in range(10):  # 8 bars, then from the start again
        plan = kind.next_trial(t)
        b = bar % 8
        first = (4 + 4 * bar) * spb  # after the count-in, bars back to back
        want = [n for n in scaled.notes if 4 * b * spb - 1e-9 <= n.start_s < 4 * (b + 1) * spb - 1e-9]
        song = [c for c in plan.cues if c.role == "song"]
        assert [c.time_s for c in song] == pytest.approx([first + n.start_s - 4 * b * spb for n in want], abs=1e-9)
        assert [c.sound for c in song] == [note_sound(n) for n in want]
        assert {c.role for c in plan.cues} <= {"song", "count_in"}
        # The beat grid: four beats per bar, on the bass drum.
        assert plan.params["beats_s"] == [(4 + 4 * bar + k) * spb for k in range(4)]
        assert [c.time_s for c in song if c.sound == "drum:36"] == pytest.approx(plan.params["beats_s"], abs=1e-9)
        assert plan.params["song_bars"] == [b + 1]
        t = plan.end_s


def test_the_song_follows_the_adapted_tempo(tmp_path):
    kind = make_kind(load_script(song_script(tmp_path, extra=ADAPT_UP)))
    p1 = kind.next_trial(0.0)
    kind.adapt(kind.score(p1, p1.params["beats_s"]))
    tempo = kind.tempo_bpm
    assert tempo == pytest.approx(88 * 1.1)
    p2 = kind.next_trial(p1.end_s)
    scaled = load_midi(MARCH, tempo_scale=tempo / 100)
    spb = 60 / tempo
    bar2 = [n for n in scaled.notes if 4 * spb - 1e-9 <= n.start_s < 8 * spb - 1e-9]
    assert p2.cue_times("song") == pytest.approx([p1.end_s + n.start_s - 4 * spb for n in bar2], abs=1e-9)
    assert p2.params["beats_s"] == [p1.end_s + k * spb for k in range(4)]
    # Sounds stay those loaded for the session (held as at the script's tempo).
    assert {c.sound for c in p2.cues} <= set(script_sounds(kind.script))


def test_scoring_a_song_bar_uses_its_beat_grid_not_its_notes(tmp_path):
    kind = make_kind(load_script(song_script(tmp_path)))
    kind.next_trial(0.0)
    plan = kind.next_trial(kind.planned_until_s)  # bar 2: F4 A4 G4 (half): no tune note on beat 4
    assert len(plan.cue_times("song")) == 4 + 3
    r = kind.score(plan, plan.params["beats_s"])
    assert r.scores["n_cues"] == 4 and r.scores["matched"] == 4 and r.correct is True


def test_script_sounds_include_the_songs_sounds(tmp_path):
    script = load_script(song_script(tmp_path))
    names = script_sounds(script)
    song = load_midi(MARCH, tempo_scale=88 / 100)
    assert {note_sound(n) for n in song.notes} <= set(names) and "drum:36" in names
    assert len(names) == len(set(names))


def test_song_with_continuation(tmp_path):
    kind = make_kind(load_script(song_script(tmp_path, cueing="continuation_beats = 8\nsync_bars = 2",
                                             tempo=100, count_in=0)))
    plan = kind.next_trial(0.0)
    song = load_midi(MARCH)
    assert plan.cue_times("song") == pytest.approx([n.start_s for n in song.notes if n.start_s < 4.8 - 1e-9])
    assert plan.params["beats_s"] == [k * 0.6 for k in range(8)] and plan.params["song_bars"] == [1, 2]
    assert plan.params["continuation_beats_s"] == [(8 + j) * 0.6 for j in range(8)]
    assert plan.end_s == pytest.approx(16 * 0.6)
    assert kind.next_trial(plan.end_s).params["song_bars"] == [3, 4]


# --------------------------------------------------------------------------
# Validation: one sentence naming file:line and the field


def line_of(path, text):
    """The line number of the first line of ``path`` that starts with ``text``."""
    return next(i for i, line in enumerate(Path(path).read_text().splitlines(), 1) if line.startswith(text))


def problems(path):
    with pytest.raises(ScriptError) as err:
        load_script(path)
    return err.value.problems


def test_song_validation_errors(tmp_path):
    path = write(tmp_path, cueing='song = "nowhere.mid"', rhythms=())
    (p,) = problems(path)
    song_line = line_of(path, "song =")
    assert p.startswith(f"{path}:{song_line}: cueing.song 'nowhere.mid' names a file that does not exist")
    (tmp_path / "junk.mid").write_bytes(b"this is not MIDI at all")
    (p,) = problems(write(tmp_path, cueing='song = "junk.mid"', rhythms=()))
    assert f":{song_line}: cueing.song 'junk.mid' is not a MIDI file Tandem can read" in p and p.count(". ") == 0
    empty = mido.MidiFile()
    empty.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000)]))
    empty.save(tmp_path / "empty.mid")
    (p,) = problems(write(tmp_path, cueing='song = "empty.mid"', rhythms=()))
    assert f":{song_line}: cueing.song 'empty.mid' names empty.mid, which has no notes to play" in p
    (p,) = problems(write(tmp_path, cueing='song = "s.toml"', rhythms=()))
    assert "cueing.song 's.toml' must name a MIDI file (.mid)" in p
    changing = make_march()
    changing.tracks[0].insert(3, mido.MetaMessage("set_tempo", tempo=400000, time=TPB * 8))
    changing.save(tmp_path / "changing.mid")
    (p,) = problems(write(tmp_path, cueing='song = "changing.mid"', rhythms=()))
    assert "changes tempo at beat 8; a cueing song must keep one tempo" in p
    three = make_march()
    three.tracks[0][1] = mido.MetaMessage("time_signature", numerator=3, denominator=4, time=0)
    three.save(tmp_path / "three.mid")
    (p,) = problems(write(tmp_path, cueing='song = "three.mid"', rhythms=()))
    assert "cueing.song 'three.mid' is in 3/4, but the script's meter is 4/4" in p
    shutil.copy(MARCH, tmp_path / "march.mid")
    (p,) = problems(write(tmp_path, cueing='song = "march.mid"'))
    assert p.startswith(f"{tmp_path / 's.toml'}:{line_of(tmp_path / 's.toml', '[[phrases]]')}: phrases are not played when [cueing] song is given")
    # The song's own kind: not a cueing table elsewhere, and a kind without phrases or song fails clearly.
    assert load_script(write(tmp_path, cueing='song = "march.mid"', rhythms=())).options["song"] == \
        (tmp_path / "march.mid").resolve()


def test_continuation_validation_errors(tmp_path):
    (p,) = problems(write(tmp_path, cueing="continuation_beats = 3"))
    assert p.endswith("cueing.continuation_beats is 3, but it must be 0 (no continuation) or from 5 to 64 beats "
                      "(the continuation is scored from at least 5 taps).")
    assert f":{line_of(tmp_path / 's.toml', 'continuation_beats')}:" in p
    (p,) = problems(write(tmp_path, cueing="sync_bars = 2"))
    assert f":{line_of(tmp_path / 's.toml', 'sync_bars')}: cueing.sync_bars applies only to the synchronisation-continuation variant" in p
    (p,) = problems(write(tmp_path, cueing="continuation_beats = 2.5"))
    assert "cueing.continuation_beats must be a whole number" in p
    # Continuation metrics: only with continuation on; the sync metrics always.
    ok = load_script(write(tmp_path, extra=objective("continuation_tempo_ratio")))
    assert ok.objectives[0].metric == "continuation_tempo_ratio" and ok.options["continuation_beats"] == 6
    (p,) = problems(write(tmp_path, cueing="window_ms = 80", extra=objective("wk_clock_sd_ms")))
    assert "objectives[1].metric 'wk_clock_sd_ms' is a continuation metric, measured only in the " \
           "synchronisation-continuation variant; give [cueing] continuation_beats above 0" in p
    assert load_script(write(tmp_path, cueing="continuation_beats = 0")).options == {}
    with pytest.raises(ConfigError, match="continuation_beats must be 0"):
        make_kind(load_script(write(tmp_path, cueing="window_ms = 80")), continuation_beats=4)


def test_load_cueing_song_reads_beats():
    song = load_cueing_song(MARCH, 60)
    assert song.file_bpm == 100 and song.length_beats == 32 and song.meter == (4, 4)
    assert [n.beat for n in song.notes if n.sound == "drum:36"] == list(range(32))
    # Held lengths at 60 BPM: a quarter note less an eighth of a beat is 875 ms, a step of 250 up: 1000.
    assert next(n.sound for n in song.notes if n.note == 60) == "program:0:60:1000"
