"""`tandem run` refuses bad input with one plain sentence (no devices needed for these)."""

from __future__ import annotations

import pytest

from engine.cli import main


def _one_sentence(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("tandem: ")
    return err


def test_a_script_that_is_not_a_song_is_refused(tmp_path, capsys):
    script = tmp_path / "call-and-response.toml"
    script.write_text('title = "x"\n')
    assert main(["--data-dir", str(tmp_path), "run", str(script), "--child", "C1"]) == 2
    assert "not available yet" in _one_sentence(capsys)


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
