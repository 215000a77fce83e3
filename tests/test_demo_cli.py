"""`tandem demo` and `tandem devices` end to end, and their answers to bad input."""

import json
import os
import stat
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from engine.cli import main
from engine.events import event_from_dict
from engine.simulation.metronome import run_demo


@pytest.fixture(autouse=True)
def private_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("TANDEM_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("TANDEM_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_demo_measures_what_the_simulated_child_did(tmp_path):
    res = run_demo(root=tmp_path / "data", seed=7, beats=24, echo=lambda s: None)
    # Every asynchrony the engine measured equals the child's own (tap time − the cue it aimed at)
    # to within half a frame of stamping.
    assert res.truth_max_error_ms is not None and res.truth_max_error_ms <= 0.5 / 48
    sync = res.summary["sync"]
    assert sync["matched"] + sync["missed"] == 24
    # The events file holds every cue and tap, readable back into events, in time order of writing.
    lines = (res.folder / "events.jsonl").read_text().splitlines()
    header = json.loads(lines[0])
    assert header["type"] == "header" and header["sample_rate"] == 48_000
    assert json.loads(lines[-1])["type"] == "summary"  # the closing line: the session ended
    events = [event_from_dict(json.loads(line)) for line in lines[1:-1]]
    cues = [e for e in events if e.kind == "cue" and e.role != "feedback"]
    taps = [e for e in events if e.kind == "input"]
    assert len(cues) == 28 and len(taps) == len(res.taps) > 0
    assert [c.frame for c in cues] == [c.frame for c in res.cues]


def test_demo_audio_is_exactly_the_sounds_in_the_log(tmp_path):
    """Rebuild the mix from the logged sounds (frame, gain, pan) and compare with audio.wav."""
    from engine.audio.soundbank import SoundBank
    from engine.paths import cache_dir
    from engine.simulation.metronome import DEMO_SOUNDS

    res = run_demo(root=tmp_path / "data", seed=3, beats=8, echo=lambda s: None)
    audio, rate = sf.read(res.folder / "audio.wav", dtype="float32")
    assert rate == 48_000 and audio.shape[1] == 2
    bank = SoundBank.load(DEMO_SOUNDS.values(), sample_rate=rate, cache_dir=cache_dir())
    expected = np.zeros_like(audio)
    for ev in res.played:
        data = bank[ev.sound].data
        angle = (ev.pan + 1) * np.pi / 4
        n = min(len(data), len(expected) - ev.frame)
        expected[ev.frame : ev.frame + n, 0] += np.float32(ev.gain * np.cos(angle)) * data[:n]
        expected[ev.frame : ev.frame + n, 1] += np.float32(ev.gain * np.sin(angle)) * data[:n]
    assert any(ev.role == "feedback" for ev in res.played)
    assert len(audio) >= res.played[-1].frame
    # Up to the stop, exact (16-bit WAV); then the closing fade only ever lowers the sound.
    fade = 5 * 128  # the engine renders ceil(10 ms / block) + 1 blocks of fade
    np.testing.assert_allclose(audio[:-fade], expected[:-fade], atol=1.5 / 32768)
    assert np.all(np.abs(audio[-fade:]) <= np.abs(expected[-fade:]) + 1.5 / 32768)


def test_demo_files_are_private(tmp_path):
    res = run_demo(root=tmp_path / "data", seed=1, beats=4, echo=lambda s: None)
    assert stat.S_IMODE(res.folder.stat().st_mode) == 0o700
    for f in res.folder.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f


def test_demo_command_prints_a_truthful_summary(tmp_path, capsys):
    assert main(["demo", "--seed", "5", "--beats", "8", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    folder = next((tmp_path / "out" / "sessions" / "demo-child").iterdir())
    summary = json.loads((folder / "summary.json").read_text())
    printed = [line for line in out.splitlines() if line.startswith("Asynchrony:")][0]
    assert f"mean {summary['sync']['asynchrony_mean_ms']:+.1f} ms" in printed
    assert f"SD {summary['sync']['asynchrony_sd_ms']:.1f} ms" in printed
    assert str(folder) in out


def test_several_sessions(tmp_path):
    assert main(["demo", "--sessions", "2", "--seed", "1", "--beats", "4", "--child", "C07", "--out", str(tmp_path)]) == 0
    assert len(list((tmp_path / "sessions" / "C07").iterdir())) == 2


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
    assert set(found) == {"audio", "midi_inputs", "midi_outputs", "notes", "calibration_profiles"}
    assert found["calibration_profiles"] == []  # none measured in this data folder
    assert "Traceback" not in r.stderr and r.stderr == ""
