"""`tandem demo` and `tandem devices` end to end, and their answers to bad input."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.audio.soundbank import SoundBank
from engine.cli import main
from engine.events import event_from_dict
from engine.paths import cache_dir
from engine.records.rescore import rescore
from engine.simulation.demo import METRONOME, beat_table, run_demo


@pytest.fixture(autouse=True)
def private_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("TANDEM_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("TANDEM_CACHE", str(tmp_path / "cache"))
    return tmp_path


def _metronome(tmp_path, **kw) -> dict:
    """One session of `tandem demo` without a script: the metronome, a child tapping along (profile typical)."""
    return run_demo(None, root=tmp_path / "data", echo=None, **kw)[0]


def _log(entry: dict) -> list:
    lines = (Path(entry["folder"]) / "events.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_demo_measures_what_the_simulated_child_did(tmp_path):
    s = _metronome(tmp_path, seed=7, beats=24)
    assert s["script"] == str(METRONOME) and s["child_profile"] == "typical" and len(s["trials"]) == 6
    # Every asynchrony the engine measured equals the child's own (tap time − the cue it aimed at)
    # to within half a frame of stamping.
    assert s["truth_check_max_error_ms"] is not None and s["truth_check_max_error_ms"] <= 0.5 / 48
    assert s["sync"]["matched"] + s["sync"]["missed"] == 24 == len(s["beats"])
    # The events file holds every cue and tap, readable back into events, in time order of writing.
    lines = _log(s)
    assert lines[0]["type"] == "header" and lines[0]["sample_rate"] == 48_000
    assert lines[0]["simulated_child"] == {"profile": "typical", "seed": 7, "prompt": "independent"}
    assert {t["prompt"] for t in lines if t["type"] == "trial"} == {"independent"}  # a tapping child is not helped
    assert lines[-1]["type"] == "summary" and lines[-1]["trials"] == 6  # the closing line: the session ended
    events = [event_from_dict(d) for d in lines[1:-1] if d["type"] in ("cue", "input", "status")]
    cues = [e for e in events if e.kind == "cue" and e.role != "feedback"]
    taps = [e for e in events if e.kind == "input"]
    assert [c.role for c in cues[:4]] == ["count_in"] * 4 and len(cues) == 28 and len(taps) > 0
    # The beat table is the log's beats, each on the 100 BPM grid (0.6 s apart, to the frame).
    heard = [c.heard_frame for c in cues[4:]]
    assert [b["cue_heard_s"] for b in s["beats"]] == [round(f / 48_000, 6) for f in heard]
    assert set(np.diff(heard)) == {28_800}
    # ... and the whole session re-scores from its log.
    assert rescore(Path(s["folder"]))["identical"] is True


def test_demo_audio_is_exactly_the_sounds_in_the_log(tmp_path):
    """Rebuild the mix from the logged sounds (frame, gain, pan) and compare with audio.wav."""
    s = _metronome(tmp_path, seed=3, beats=8)
    audio, rate = sf.read(Path(s["folder"]) / "audio.wav", dtype="float32")
    assert rate == 48_000 and audio.shape[1] == 2
    played = [event_from_dict(d) for d in _log(s) if d["type"] == "cue"]
    bank = SoundBank.load({ev.sound for ev in played}, sample_rate=rate, cache_dir=cache_dir())
    expected = np.zeros_like(audio)
    for ev in played:
        data = bank[ev.sound].data
        angle = (ev.pan + 1) * np.pi / 4
        n = min(len(data), len(expected) - ev.frame)
        expected[ev.frame : ev.frame + n, 0] += np.float32(ev.gain * np.cos(angle)) * data[:n]
        expected[ev.frame : ev.frame + n, 1] += np.float32(ev.gain * np.sin(angle)) * data[:n]
    assert any(ev.role == "feedback" for ev in played)
    assert len(audio) >= played[-1].frame
    # Up to the stop, exact (16-bit WAV); then the closing fade only ever lowers the sound.
    fade = 5 * 128  # the engine renders ceil(10 ms / block) + 1 blocks of fade
    np.testing.assert_allclose(audio[:-fade], expected[:-fade], atol=1.5 / 32768)
    assert np.all(np.abs(audio[-fade:]) <= np.abs(expected[-fade:]) + 1.5 / 32768)


def test_demo_files_are_private(tmp_path):
    folder = Path(_metronome(tmp_path, seed=1, beats=4)["folder"])
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for f in folder.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f


def test_demo_command_prints_a_truthful_summary(tmp_path, capsys):
    assert main(["demo", "--seed", "5", "--beats", "8", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    folder = next((tmp_path / "out" / "sessions" / "demo-child").iterdir())
    sync = beat_table(folder)["sync"]  # recomputed from the log alone
    printed = [line for line in out.splitlines() if line.startswith("Asynchrony:")][0]
    assert f"mean {sync['asynchrony_mean_ms']:+.1f} ms" in printed
    assert f"SD {sync['asynchrony_sd_ms']:.1f} ms" in printed
    assert str(folder) in out


def test_several_sessions(tmp_path):
    assert main(["demo", "--sessions", "2", "--seed", "1", "--beats", "4", "--child", "C07", "--out", str(tmp_path)]) == 0
    assert len(list((tmp_path / "sessions" / "C07").iterdir())) == 2


def test_the_metronome_takes_every_flag_a_script_takes(tmp_path, capsys):
    """The metronome is an ordinary script: --json, --max-trials, --child-model and --tempo work on it."""
    assert main(["demo", "--json", "--max-trials", "2", "--child-model", "steady", "--tempo", "120", "--seed", "2",
                 "--out", str(tmp_path)]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["child_model"] == "steady" and len(entry["trials"]) == 2
    assert {t["tempo_bpm"] for t in entry["trials"]} == {120.0}
    header = _log(entry)[0]
    assert header["script_overrides"] == {"tempo_bpm": 120.0} and header["simulated_child"]["model"] == "steady"
    assert rescore(Path(entry["folder"]))["identical"] is True  # the override is applied when re-scoring


def test_demo_flags_that_cannot_apply_are_refused_in_one_sentence(tmp_path):
    cases = [
        (["--beats", "6"], "--beats"),  # not whole 4-beat bars
        (["content/songs/echo-drums.toml", "--beats", "8"], "--beats"),  # not rhythmic cueing
        (["content/songs/echo-drums.toml", "--profile", "typical"], "--profile"),  # a tapping child cannot echo
        (["--profile", "typical", "--child-model", "steady"], "--child-model"),
        (["--tempo", "500"], "--tempo"),
    ]
    for args, flag in cases:
        r = run_cli("--data-dir", str(tmp_path), "demo", *args)
        assert r.returncode == 2 and "Traceback" not in r.stderr, (args, r.stderr)
        assert flag in r.stderr and r.stderr.count("\n") == 1, (args, r.stderr)
    assert not (tmp_path / "sessions").exists()  # nothing ran


def run_cli(*args, env_extra=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], capture_output=True, text=True, env=env, timeout=120)


def test_unwritable_data_dir_is_one_sentence(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    r = run_cli("--data-dir", str(blocker / "sub"), "demo", "--beats", "4")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1 and "cannot write to the folder" in r.stderr


def test_missing_soundfont_is_one_sentence(tmp_path):
    r = run_cli("demo", "--beats", "4", "--soundfont", str(tmp_path / "nope.sf2"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "nope.sf2" in r.stderr and r.stderr.count("\n") == 1


def test_unknown_profile_and_scripts_are_refused_plainly():
    r = run_cli("demo", "--profile", "nonsense")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "nonsense" in r.stderr
    # Scripts run now (tests/test_scriptdemo.py); an unknown child model for them is refused plainly.
    r = run_cli("demo", "content/songs/echo-drums.toml", "--child-model", "nonsense")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "nonsense" in r.stderr


def test_devices_json_without_any_device(tmp_path):
    r = run_cli("--data-dir", str(tmp_path), "devices", "--json",
                env_extra={"JACK_DEFAULT_SERVER": "tandem-no-such-server"})
    assert r.returncode == 0, r.stderr
    found = json.loads(r.stdout)
    assert set(found) == {"audio", "midi_inputs", "midi_outputs", "notes", "calibration_profiles", "skipped_profiles"}
    assert found["calibration_profiles"] == [] and found["skipped_profiles"] == []  # none in this data folder
    assert "Traceback" not in r.stderr and r.stderr == ""


def test_devices_says_which_calibration_profile_it_could_not_read(tmp_path):
    from engine.calibration.profiles import profiles_dir

    folder = profiles_dir(tmp_path)
    folder.mkdir(parents=True)
    (folder / "broken.json").write_text('{"version": "x"')  # cut off: not JSON
    r = run_cli("--data-dir", str(tmp_path), "devices", "--json",
                env_extra={"JACK_DEFAULT_SERVER": "tandem-no-such-server"})
    assert r.returncode == 0, r.stderr
    found = json.loads(r.stdout)
    assert found["calibration_profiles"] == [] and len(found["skipped_profiles"]) == 1
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tandem: warning: ") and "broken.json" in lines[0]
