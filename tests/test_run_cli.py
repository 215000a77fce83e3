"""`tandem run` refuses bad input with one plain sentence (no devices needed for these)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli import main


def _one_sentence(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("tandem: ")
    return err


def test_a_file_that_is_neither_script_nor_song_is_refused(tmp_path, capsys):
    other = tmp_path / "notes.txt"
    other.write_text("hello\n")
    assert main(["--data-dir", str(tmp_path), "run", str(other), "--child", "C1"]) == 2
    assert "(.toml)" in _one_sentence(capsys)


def test_a_bad_script_is_refused_before_any_device_opens(tmp_path, capsys):
    script = tmp_path / "echo.toml"
    text = Path("content/songs/echo-drums.toml").read_text().replace("tempo_bpm = 90", "tempo_bpm = 0")
    script.write_text(text)
    assert main(["--data-dir", str(tmp_path), "run", str(script), "--child", "C1", "--mic"]) == 2
    err = _one_sentence(capsys)
    line = text.splitlines().index("tempo_bpm = 0") + 1
    assert f"echo.toml:{line}: tempo_bpm is 0" in err
    assert not (tmp_path / "sessions").exists()


@pytest.mark.parametrize(("song", "flags", "needed"), [
    ("steady-beat-march", ["--mic"], "--midi-in"),  # listens to MIDI only
    ("echo-drums", [], "--mic"),  # MIDI or microphone: neither given
])
def test_a_script_names_the_input_it_needs(tmp_path, capsys, song, flags, needed):
    code = main(["--data-dir", str(tmp_path), "run", f"content/songs/{song}.toml", "--child", "C1", *flags])
    assert code == 2
    assert needed in _one_sentence(capsys)
    assert not (tmp_path / "sessions").exists()


def test_a_corrupt_midi_file_is_refused(tmp_path, capsys):
    song = tmp_path / "broken.mid"
    song.write_bytes(b"MThd\x00\x00\x00\x06garbage")
    assert main(["--data-dir", str(tmp_path), "run", str(song), "--child", "C1"]) == 2
    assert "broken.mid" in _one_sentence(capsys)


def test_free_play_needs_an_input_or_a_duration(tmp_path, capsys):
    assert main(["--data-dir", str(tmp_path), "run", "free", "--child", "C1"]) == 2
    assert "--midi-in" in _one_sentence(capsys)


def test_a_missing_midi_device_is_one_sentence_and_no_session_is_left(tmp_path, capsys):
    code = main(["--data-dir", str(tmp_path), "run", "free", "--child", "C1", "--midi-in", "no-such-pad-xyz",
                 "--midi-transport", "rtmidi", "--duration", "1"])
    assert code == 2
    err = _one_sentence(capsys)
    # Without a JACK server the MIDI system itself is missing here; with one, the pad is.
    assert "no-such-pad-xyz" in err or "MIDI" in err
    assert not (tmp_path / "sessions").exists()


@pytest.mark.parametrize("bad", [["--midi-transport", "usb"], ["--blocksize", "lots"]])
def test_bad_options_are_refused_by_the_parser(tmp_path, bad):
    with pytest.raises(SystemExit) as exc:
        main(["--data-dir", str(tmp_path), "run", "free", "--child", "C1", *bad])
    assert exc.value.code == 2


@pytest.mark.parametrize(("argv", "flag"), [
    (["run", "content/songs/echo-drums.toml", "--child", "C1", "--mic", "--tempo-scale", "1.5"], "--tempo-scale"),
    (["run", "free", "--child", "C1", "--mic", "--no-wait"], "--no-wait"),
    (["run", "content/songs/echo-drums.toml", "--child", "C1", "--mic", "--no-ui", "--fullscreen"], "--fullscreen"),
    (["run", "content/songs/echo-drums.toml", "--child", "C1", "--mic", "--no-ui", "--theme", "low_stimulation"],
     "--theme"),
    (["run", "free", "--child", "C1", "--mic", "--duration", "0"], "--duration"),
    (["assess", "C1", "--simulate", "steady", "--midi-in", "pad"], "--midi-in"),
    (["assess", "C1", "--simulate", "steady", "--no-ui"], "--no-ui"),
    (["assess", "C1", "--simulate", "steady", "--midi-transport", "jack"], "--midi-transport"),
    (["assess", "C1", "--mic", "--seed", "3"], "--seed"),
    (["calibrate", "--taps", "20"], "--taps"),
    (["calibrate", "--no-mic"], "--no-mic"),
    (["calibrate", "--midi-transport", "jack"], "--midi-transport"),
])
def test_a_flag_that_does_nothing_on_this_path_is_refused_naming_it(tmp_path, capsys, argv, flag):
    """Every flag does what it says on every path, or is refused in one sentence naming it, before any
    device opens or anything is recorded."""
    assert main(["--data-dir", str(tmp_path), *argv]) == 2
    assert flag in _one_sentence(capsys)
    assert not (tmp_path / "sessions").exists() and not (tmp_path / "assessments").exists()
