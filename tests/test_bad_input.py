"""Bounds and a sentence for every bad value (issue 18, item 6): command-line options, script fields, MIDI
songs, sample files, arguments that are not text, and a reader that goes away (a broken pipe)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile

from engine.audio.soundbank import SoundBank
from engine.cli import bounds, main
from engine.cli.main import build_parser
from engine.errors import ConfigError, SoundBankError
from engine.interventions.script import (
    MAX_LEAD_IN_NOTES,
    MAX_NOTE_LIST,
    MAX_OBJECTIVE_ID,
    MAX_PHRASE_NOTES,
    MAX_PHRASE_TEXT,
    MAX_PHRASES,
    MAX_TEXT,
    ScriptError,
    load_script,
)
from engine.midi.midifile import load_midi

ROOT = Path(__file__).resolve().parents[1]
SONGS = ROOT / "content" / "songs"
ECHO = (SONGS / "echo-drums.toml").read_text("utf-8")


def _one_sentence(capsys, flag: str | None = None) -> str:
    captured = capsys.readouterr()
    err = captured.err
    assert err.startswith("tandem: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and "internal error" not in err
    if flag is not None:
        assert flag in err, err
    return err


def _nothing_written(data: Path) -> None:
    assert not data.exists() or not any(data.rglob("*")), sorted(data.rglob("*"))


# --- command-line options: a range and a sentence -------------------------------------------------

OUT_OF_RANGE = [
    (["demo", "--tempo", "0"], "--tempo"),
    (["demo", "--tempo", "nan"], "--tempo"),
    (["demo", "--tempo", "1e400"], "--tempo"),
    (["demo", "--seed", "-1"], "--seed"),
    (["demo", "--seed", str(2**32)], "--seed"),
    (["demo", "--seed", "9" * 400], "--seed"),
    (["demo", "--beats", "1000000000"], "--beats"),
    (["demo", "--beats", "0"], "--beats"),
    (["demo", "--sessions", "0"], "--sessions"),
    (["demo", "--sessions", "101"], "--sessions"),
    (["demo", "--days-apart", "0"], "--days-apart"),
    (["demo", "--days-apart", "inf"], "--days-apart"),
    (["demo", "--days-apart", "366"], "--days-apart"),
    (["demo", "--max-trials", "0"], "--max-trials"),
    (["demo", "--max-trials", "501"], "--max-trials"),
    (["demo", "--blocksize", "63"], "--blocksize"),
    (["demo", "--blocksize", "9" * 5000], "--blocksize"),  # more digits than int() takes
    (["run", "free", "--child", "C1", "--duration", "0"], "--duration"),
    (["run", "free", "--child", "C1", "--duration", "nan"], "--duration"),
    (["run", "free", "--child", "C1", "--duration", "1e9"], "--duration"),
    (["run", str(SONGS / "march-song.mid"), "--child", "C1", "--tempo-scale", "0"], "--tempo-scale"),
    (["run", str(SONGS / "march-song.mid"), "--child", "C1", "--tempo-scale", "nan"], "--tempo-scale"),
    (["run", str(SONGS / "march-song.mid"), "--child", "C1", "--tempo-scale", "100"], "--tempo-scale"),
    (["run", "free", "--child", "C1", "--blocksize", "0"], "--blocksize"),
    (["assess", "C1", "--simulate", "steady", "--seed", "-1"], "--seed"),
    (["assess", "C1", "--simulate", "steady", "--tasks", ""], "--tasks"),
    (["assess", "C1", "--simulate", "steady", "--tasks", " , "], "--tasks"),
    (["calibrate", "--midi-in", "pad", "--taps", "0"], "--taps"),
    (["calibrate", "--midi-in", "pad", "--taps", "1000000"], "--taps"),
    (["calibrate", "--blocksize", "1024"], "--blocksize"),
    (["homepack", "C1", "--minutes", "0"], "--minutes"),
    (["homepack", "C1", "--minutes", "nan"], "--minutes"),
    (["homepack", "C1", "--minutes", "11"], "--minutes"),
    (["onsets", "x.wav", "--blocksize", "8"], "between 16 and 8192"),
    (["analyze", "sync", "--cues", "c.txt", "--taps", "t.txt", "--window-ms", "0"], "window"),
    (["analyze", "sync", "--cues", "c.txt", "--taps", "t.txt", "--window-ms", "5000"], "window"),
    (["analyze", "sync", "--cues", "c.txt", "--taps", "t.txt", "--warmup", "-1"], "warm-up"),
    (["analyze", "sync", "--cues", "c.txt", "--taps", "t.txt", "--warmup", "10001"], "warm-up"),
    (["plan", "accept", "C1", "S1", "--set", "S1.threshold=nan"], "--set"),
    (["plan", "accept", "C1", "S1", "--set", "S1.k=70", "--set", "S1.threshold=" + "9" * 400], "--set"),
    (["demo", "--out", ""], "--out"),
    (["demo", "--soundfont", " "], "--soundfont"),
    (["report", "C1", "--summary", ""], "--summary"),
    (["calibrate", "--audio", ""], "--audio"),
]


@pytest.mark.parametrize(("argv", "flag"), OUT_OF_RANGE)
def test_an_out_of_range_option_is_one_sentence_naming_it_before_anything_runs(tmp_path, capsys, argv, flag):
    data = tmp_path / "data"
    assert main(["--data-dir", str(data), *argv]) == 2
    err = _one_sentence(capsys, flag)
    assert len(err) < 300
    _nothing_written(data)


@pytest.mark.parametrize(("argv", "flag"), [
    (["demo", "--seed", "1.5"], "--seed"),
    (["demo", "--tempo", "fast"], "--tempo"),
    (["run", "free", "--child", "C1", "--duration", "1e3s"], "--duration"),
    (["demo", "--sessions", "\x1b[2J"], "--sessions"),
])
def test_an_option_that_is_not_a_number_is_the_parsers_one_line(capsys, argv, flag):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = _one_sentence(capsys, flag)
    assert "must be" in err and "\x1b" not in err


def _bounded_types() -> list[tuple[str, argparse.Action]]:
    found = []

    def walk(parser: argparse.ArgumentParser) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    walk(sub)
            else:
                found.append((parser.prog, action))

    walk(build_parser())
    return found


def test_every_numeric_option_has_a_range_said_in_its_help():
    """No option is a bare int or float: each is read by engine.cli.bounds, and its help says the range."""
    numeric = 0
    for prog, action in _bounded_types():
        assert action.type not in (int, float), f"{prog} {action.option_strings}: a number without a range"
        if getattr(action.type, "__name__", "") in ("whole number", "number"):
            numeric += 1
            assert any(ch.isdigit() for ch in action.help), f"{prog} {action.option_strings}: no range in the help"
    assert numeric >= 18


def test_the_ranges_are_the_engines_own():
    from engine.audio.onsetfile import MAX_BLOCKSIZE, MIN_BLOCKSIZE
    from engine.homepack.render import MAX_MINUTES
    from engine.interventions import script

    assert (bounds.TEMPO_BPM.lo, bounds.TEMPO_BPM.hi) == (script.MIN_TEMPO_BPM, script.MAX_TEMPO_BPM)
    assert bounds.MAX_TRIALS.hi == script.MAX_TRIALS
    assert bounds.MINUTES.hi == MAX_MINUTES
    assert (bounds.ONSET_BLOCKSIZE.lo, bounds.ONSET_BLOCKSIZE.hi) == (MIN_BLOCKSIZE, MAX_BLOCKSIZE)
    for good in ("0", "4294967295"):
        assert bounds.whole("--seed", bounds.SEED)(good) == int(good)
    np.random.default_rng(int(bounds.SEED.hi))  # the largest seed is one numpy takes


def test_a_demo_with_a_bounded_option_still_runs(tmp_path, capsys):
    assert main(["--data-dir", str(tmp_path), "demo", "--beats", "4", "--seed", "4294967295", "--tempo", "300",
                 "--sessions", "1"]) == 0
    assert "Session folder" in capsys.readouterr().out


def test_an_argument_that_is_not_utf8_is_one_sentence(tmp_path):
    r = subprocess.run([sys.executable, "-m", "engine.cli", "--data-dir", str(tmp_path), "sessions", b"C\xff07"],
                       capture_output=True, cwd=ROOT, timeout=60)
    assert r.returncode == 2, r.stderr
    err = r.stderr.decode("utf-8")
    assert err.startswith("tandem: the argument 'C\\udcff07' is not UTF-8 text") and err.count("\n") == 1, err


@pytest.mark.parametrize("argv", [["sessions"], ["sessions", "--json"], ["--help"], ["demo", "--help"],
                                  ["validate", *(str(p) for p in sorted(SONGS.glob("*.toml")))]])
def test_a_reader_that_goes_away_ends_the_output_quietly(tmp_path, argv):
    """`tandem sessions | head -1`: no traceback, no "Exception ignored", exit 0 (the Python docs' SIGPIPE note)."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line
    try:
        r = subprocess.run([sys.executable, "-m", "engine.cli", "--data-dir", str(tmp_path), *argv], stdout=write,
                           stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=120)
    finally:
        os.close(write)
    assert r.returncode == 0 and r.stderr == "", r.stderr


# --- files: a sentence naming file:line and field for every value -------------------------------


def _script(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


def _problem(tmp_path: Path, text: str) -> str:
    with pytest.raises(ScriptError) as exc:
        load_script(_script(tmp_path, text))
    assert len(exc.value.problems) == 1, exc.value.problems
    return exc.value.problems[0]


def _line_of(text: str, start: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.lstrip().startswith(start))


@pytest.mark.parametrize(("old", "new", "field", "says"), [
    ('rhythm = "x...x..."', 'rhythm = "' + "x..." * 200_000 + '"', "phrases[1].rhythm", f"at most {MAX_PHRASE_TEXT}"),
    ('rhythm = "x...x..."', 'rhythm = "' + "x" * 2000 + '"', "phrases[1].rhythm", f"at most {MAX_PHRASE_NOTES}"),
    ('rhythm = "x...x..."', 'rhythm = "' + "x" + "." * 2047 + '"', "phrases[1].rhythm", "beats long"),
    ('rhythm = "x...x..."', 'melody = "' + "C4 " * 300 + '"', "phrases[1].melody", f"at most {MAX_PHRASE_NOTES}"),
    ('rhythm = "x...x..."', 'melody = "C4:64 D4:64 E4:64 F4:64 G4:64"', "phrases[1].melody", "beats long"),
    ('rhythm = "x...x..."', "beats = [" + ", ".join(str(i / 10) for i in range(300)) + "]", "phrases[1].beats",
     f"at most {MAX_PHRASE_NOTES}"),
    ('title = "Echo drums"', 'title = "' + "T" * 1000 + '"', "title", f"at most {MAX_TEXT}"),
    ('title = "Echo drums"', 'title = "\\u001b[2J\\u001b]0;x\\u0007Echo"', "title", "control character"),
    ('title = "Echo drums"', 'title = "Echo\\ndrums"', "title", "control character"),
    ('meter = "4/4"', 'meter = "' + "9" * 5000 + '/4"', "meter", f"at most {MAX_TEXT}"),
    ('pads = ["acoustic_snare", "bass_drum_1", "low_conga"]', "pads = [" + ", ".join(["36"] * 300) + "]",
     "input.pads", f"at most {MAX_NOTE_LIST}"),
    ('id = "responds-quickly"', 'id = "' + "r" * 500 + '"', "objectives[2].id", f"at most {MAX_OBJECTIVE_ID}"),
    ("count_in_beats = 4", 'count_in_beats = 4\nlead_in = "' + "C4:1/4 " * 100 + '"', "prompts.lead_in",
     f"at most {MAX_LEAD_IN_NOTES}"),
    ('metric = "response_latency_ms"', 'metric = "' + "m" * 100_000 + '"', "objectives[2].metric",
     "is not a metric"),
])
def test_an_unbounded_script_field_gets_a_sentence_naming_file_line_and_field(tmp_path, old, new, field, says):
    assert old in ECHO
    text = ECHO.replace(old, new, 1)
    problem = _problem(tmp_path, text)
    key = new.split("\n")[-1].split(" =")[0]
    line = text.count("\n", 0, text.index(key + " =", text.index(new))) + 1  # where the bad value is written
    assert problem.startswith(f"{tmp_path / 's.toml'}:{line}: {field} "), problem
    assert says in problem and len(problem) < 1500 and "\x1b" not in problem, problem  # not the value itself


def test_too_many_phrases_is_one_sentence_at_the_first_one_too_many(tmp_path):
    more = "".join('[[phrases]]\nrhythm = "x.x.x..."\n\n' for _ in range(MAX_PHRASES))
    text = ECHO.replace("[adapt]", more + "[adapt]", 1)
    problem = _problem(tmp_path, text)
    first_too_many = [i for i, line in enumerate(text.splitlines(), 1) if line == "[[phrases]]"][MAX_PHRASES]
    assert problem.startswith(f"{tmp_path / 's.toml'}:{first_too_many}: phrases are {MAX_PHRASES + 4} entries"), problem


def test_the_shipped_scripts_are_within_every_bound():
    for path in sorted(SONGS.glob("*.toml")):
        load_script(path)


# --- sample files: validate refuses what the sound bank refuses -------------------------------------

def _samples(tmp_path: Path) -> dict[str, Path]:
    d = tmp_path / "samples"
    d.mkdir()
    (d / "empty.wav").write_bytes(b"")
    soundfile.write(d / "nan.wav", np.array([0.0, np.nan, 0.5], dtype=np.float32), 48_000, subtype="FLOAT")
    soundfile.write(d / "no-frames.wav", np.zeros((0, 1), dtype=np.float32), 48_000)
    (d / "garbage.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(40))
    os.mkfifo(d / "fifo.wav")
    (d / "folder.wav").mkdir()
    (d / "zero.wav").symlink_to("/dev/zero")
    return {p.stem: p for p in d.iterdir()}


def test_validate_refuses_every_sample_the_sound_bank_refuses(tmp_path, capsys):
    for name, sample in _samples(tmp_path).items():
        with pytest.raises(SoundBankError):
            SoundBank.load([f"file:{sample}"], sample_rate=48_000, cache_dir=tmp_path / "cache")
        text = ECHO.replace('cue = "drum:hi_bongo"', f'cue = "file:samples/{sample.name}"')
        script = _script(tmp_path, text, f"{name}.toml")
        assert main(["validate", str(script)]) == 2, name
        err = _one_sentence(capsys, f"{script}:{_line_of(text, 'cue =')}: instruments.cue")
        assert "sound bank cannot load" in err, err


def test_a_good_sample_validates(tmp_path, capsys):
    (tmp_path / "samples").mkdir()
    soundfile.write(tmp_path / "samples" / "cue.wav", np.r_[np.ones(48), np.zeros(480)] * 0.5, 48_000)
    script = _script(tmp_path, ECHO.replace('cue = "drum:hi_bongo"', 'cue = "file:samples/cue.wav"'))
    assert main(["validate", str(script)]) == 0
    assert capsys.readouterr().out.startswith("ok: ")


# --- MIDI songs ------------------------------------------------------------------------------------


def _song(path: Path, *, tempo: int = 500_000, later_tempo: int | None = None, notes: int = 4,
          delta: int = 480) -> Path:
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=tempo, time=0))
    for i in range(notes):
        if later_tempo is not None and i == notes // 2:
            track.append(mido.MetaMessage("set_tempo", tempo=later_tempo, time=0))
        track.append(mido.Message("note_on", channel=9, note=36, velocity=100, time=0 if i == 0 else delta))
        track.append(mido.Message("note_off", channel=9, note=36, velocity=0, time=10))
    mid.save(path)
    return path


@pytest.mark.parametrize(("song", "says"), [
    ({"tempo": 0}, "sets the tempo to 0 microseconds per beat at beat 0"),
    ({"later_tempo": 0}, "sets the tempo to 0 microseconds per beat at beat 1.04167"),
    ({"tempo": 1}, "faster than the 1000 BPM"),
    ({"delta": 0x0FFFFFFF}, "hours long"),
])
def test_a_song_with_an_impossible_tempo_or_length_is_one_sentence(tmp_path, capsys, song, says):
    path = _song(tmp_path / "song.mid", **song)
    with pytest.raises(ConfigError, match=says):
        load_midi(path)
    # `tandem run song.mid` says it before any device opens; a cueing script naming it, on validation.
    assert main(["--data-dir", str(tmp_path / "data"), "run", str(path), "--child", "C1", "--no-ui"]) == 2
    assert says in _one_sentence(capsys)
    _nothing_written(tmp_path / "data")
    cueing = (SONGS / "march-song.toml").read_text("utf-8")
    script = _script(tmp_path, cueing.replace('song = "march-song.mid"', 'song = "song.mid"'), "cue.toml")
    assert main(["validate", str(script)]) == 2
    assert says in _one_sentence(capsys, "cueing.song")


def test_a_song_with_too_many_notes_is_one_sentence(tmp_path, monkeypatch):
    import engine.midi.midifile as midifile

    monkeypatch.setattr(midifile, "MAX_SONG_NOTES", 10)
    with pytest.raises(ConfigError, match="it has 20 notes, more than the 10 Tandem plays"):
        load_midi(_song(tmp_path / "many.mid", notes=20, delta=1))
    assert len(load_midi(_song(tmp_path / "few.mid", notes=10, delta=1)).notes) == 10


# --- silent wrong results ------------------------------------------------------------------------


def test_a_report_for_a_child_nothing_is_recorded_for_is_refused(tmp_path, capsys):
    assert main(["--data-dir", str(tmp_path), "demo", "--beats", "4", "--child", "C07"]) == 0
    capsys.readouterr()
    assert main(["--data-dir", str(tmp_path), "report", "C08", "--format", "csv"]) == 2
    err = _one_sentence(capsys, "'C08'")
    assert "No visits and no plan" in err and "tandem sessions" in err
    assert not (tmp_path / "reports").exists()
    # The child with visits still gets a report.
    assert main(["--data-dir", str(tmp_path), "report", "C07", "--format", "csv", "--include-simulated"]) == 0


def test_a_report_summary_that_is_a_fifo_is_a_sentence_not_a_hang(tmp_path, capsys):
    assert main(["--data-dir", str(tmp_path), "demo", "--beats", "4", "--child", "C07"]) == 0
    capsys.readouterr()
    os.mkfifo(tmp_path / "summary.txt")
    assert main(["--data-dir", str(tmp_path), "report", "C07", "--summary", str(tmp_path / "summary.txt")]) == 2
    assert "pipe (FIFO)" in _one_sentence(capsys)


def test_an_empty_task_list_saves_no_assessment(tmp_path, capsys):
    assert main(["--data-dir", str(tmp_path), "assess", "C07", "--simulate", "steady", "--tasks", ""]) == 2
    _one_sentence(capsys, "--tasks")
    _nothing_written(tmp_path)


def test_a_script_with_several_problems_is_one_line_each(tmp_path, capsys):
    script = _script(tmp_path, 'title = "x"\n')
    assert main(["--data-dir", str(tmp_path / "data"), "demo", str(script)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) > 1 and all(line.startswith(f"tandem: {script}: ") for line in lines), lines


def test_a_value_with_control_characters_is_quoted_escaped_in_every_sentence(tmp_path):
    """A key, a list item or a level name holding escape codes or a line break: each problem is one line
    with the characters written as escapes, never raw (the app shows these sentences too)."""
    text = ECHO.replace('kind = "call_and_response"', 'kind = "turn_taking"').replace(
        "trials = 10", 'trials = 10\n"x\\u001b[2J" = 1').replace(
        "[adapt]", '[turns]\nanswers = ["echo\\u001b[2J\\nfake"]\n\n[adapt]').replace(
        "level = {pattern_length_min = 3}", 'level = {"\\u001b]0;x" = 1}')
    with pytest.raises(ScriptError) as exc:
        load_script(_script(tmp_path, text))
    problems = exc.value.problems
    assert len(problems) >= 3, problems
    for problem in problems:
        assert "\n" not in problem and not any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in problem), problem
    assert any("turns.answers has 'echo\\u001b[2J\\nfake'" in p for p in problems), problems


@pytest.mark.parametrize("argv", [["sessions"], ["validate", str(SONGS / "echo-drums.toml")], ["demo", "--help"]])
def test_a_closed_standard_output_is_no_internal_error(tmp_path, argv):
    """`tandem sessions >&-`: Python has no sys.stdout at all; the command runs and ends normally."""
    r = subprocess.run([sys.executable, "-m", "engine.cli", "--data-dir", str(tmp_path), *argv], stdout=None,
                       stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=120,
                       preexec_fn=lambda: os.close(1))
    assert r.returncode == 0 and r.stderr == "", r.stderr
