"""Every reader is total (issue 18, item 2): whatever a path names, a result or one sentence, never a hang.

For each file Tandem reads (besides session logs): scripts, plans, MIDI songs, audio (recordings, samples),
SoundFonts, device profiles, time files, calibration profiles, assessments and their suggestions, the path
is made hostile in the test (a FIFO, ``/dev/zero`` through a link, a folder, a socket, a broken link, a file
over the size limit, made sparse so it costs nothing) and the content too (deeply nested TOML or JSON, a
dotted key of a hundred thousand parts, bad UTF-8, wrong types, numbers of 400 and 5000 digits, NaN,
infinity). Each must raise the package's error (a :class:`~engine.errors.TandemError`) naming the file,
never another exception. Each read runs in a thread with a join timeout, only as a guard: a hang fails the
test instead of hanging the suite. The last tests go through the command line.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile

from engine.assessment.accept import parse_edit
from engine.assessment.report import collect_baseline
from engine.assessment.results import latest_assessment, load_assessment, save_assessment
from engine.assessment.suggest import load_suggestions, save_suggestions, suggest_objectives
from engine.audio.audiofile import MAX_SAMPLE_SECONDS, MAX_SAMPLES, read_audio
from engine.audio.soundbank import SoundBank
from engine.calibration.profiles import DeviceSetup, Profile, load_profiles, profiles_dir, save_profile
from engine.cli.exits import EXIT_ERROR
from engine.errors import ConfigError, DataDirError, TandemError
from engine.fileread import (
    AUDIO_LIMIT,
    JSON_LIMIT,
    MIDI_LIMIT,
    SOUNDFONT_LIMIT,
    TEXT_LIMIT,
    TIMES_LIMIT,
    read_bytes,
    read_text,
    toml_hazard,
)
from engine.interventions.script import ScriptError, load_script
from engine.midi.devicemap import DeviceMap
from engine.midi.midifile import load_midi
from engine.records.plan import PlanError, load_plan, load_plan_file, new_plan
from engine.scoring.timefile import read_times
from tests.test_assess_report import make_assessment

ROOT = Path(__file__).resolve().parents[1]
SONGS = ROOT / "content" / "songs"
GUARD_S = 20.0  # a read that has not returned by then is hung (every one here takes milliseconds)


# --------------------------------------------------------------------------
# Helpers


def outcome(fn, *args, **kwargs) -> dict:
    """``{"value": ...}`` or ``{"error": exc}`` of ``fn(*args)``, run in a thread joined with a timeout."""
    box: dict = {}

    def run():
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - the test looks at whatever it was
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(GUARD_S)
    assert not thread.is_alive(), f"{getattr(fn, '__name__', fn)} did not return within {GUARD_S} s (a hang)"
    return box


def refused(fn, *args, names: object = None, **kwargs) -> str:
    """The sentence ``fn(*args)`` refused with: a TandemError (else the test fails), naming ``names``."""
    box = outcome(fn, *args, **kwargs)
    assert "error" in box, f"accepted: {box.get('value')!r}"[:300]
    exc = box["error"]
    assert isinstance(exc, TandemError), f"not a sentence but {type(exc).__name__}: {exc}"[:500]
    message = str(exc)
    assert message and "Traceback" not in message
    if names is not None:
        assert str(names) in message, message
    return message


def hostile(tmp_path: Path, kind: str, name: str, limit: int | None = None) -> Path:
    """A path ``name`` in ``tmp_path`` that is ``kind``: fifo, devzero, folder, socket, broken_link, missing, too_large."""
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "devzero":
        path.symlink_to("/dev/zero")
    elif kind == "folder":
        path.mkdir()
    elif kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
        server.close()  # the socket file stays
    elif kind == "broken_link":
        path.symlink_to(tmp_path / "nowhere")
    elif kind == "too_large":
        with open(path, "wb") as f:
            f.truncate(limit + 1)  # sparse: costs nothing on disk
    else:
        assert kind == "missing"
    return path


KINDS = ["fifo", "devzero", "folder", "socket", "broken_link", "missing", "too_large"]


def _sample_bank(path):
    return SoundBank.load([f"file:{path}"], sample_rate=48_000, cache_dir=path.parent / "cache")


def _soundfont_bank(path):
    return SoundBank.load(["drum:36"], sample_rate=48_000, soundfont=path, cache_dir=path.parent / "cache")


# (reader, file name, size limit, what its sentence says when the file is over the limit)
READERS = {
    "script": (load_script, "s.toml", TEXT_LIMIT),
    "plan": (lambda p: load_plan_file(p, "C01"), "C01.toml", TEXT_LIMIT),
    "MIDI song": (load_midi, "song.mid", MIDI_LIMIT),
    "recording": (lambda p: read_audio(p, what="recording"), "rec.wav", AUDIO_LIMIT),
    "sample": (_sample_bank, "s.wav", AUDIO_LIMIT),
    "SoundFont": (_soundfont_bank, "gm.sf2", SOUNDFONT_LIMIT),
    "device profile": (DeviceMap.load, "pad.toml", TEXT_LIMIT),
    "time file": (lambda p: read_times(p, "tap"), "taps.txt", TIMES_LIMIT),
    "assessment": (load_assessment, "assessment.json", JSON_LIMIT),
}


# --------------------------------------------------------------------------
# What a path can name


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reader", list(READERS))
def test_every_reader_refuses_what_is_not_a_regular_file_in_one_sentence(tmp_path, reader, kind):
    fn, name, limit = READERS[reader]
    path = hostile(tmp_path, kind, name, limit)
    message = refused(fn, path, names=path)
    if kind in ("fifo", "devzero", "folder", "socket"):
        assert re.search(r"is (a pipe \(FIFO\)|a device|a folder|a socket)|not a file|does not exist|no assessment",
                         message), message
    if kind == "too_large":
        assert re.search(r"more than|is not a file", message), message


@pytest.mark.parametrize("kind", ["fifo", "devzero", "folder", "too_large"])
def test_suggestions_that_are_not_a_regular_file_are_one_sentence(tmp_path, kind):
    folder = save_assessment(make_assessment(), tmp_path).parent
    hostile(folder, kind, "suggestions.json", JSON_LIMIT)
    refused(load_suggestions, folder, names=folder / "suggestions.json")


@pytest.mark.parametrize("kind", ["fifo", "devzero", "folder", "socket", "too_large"])
def test_a_calibration_profile_that_is_not_a_regular_file_is_skipped_with_its_sentence(tmp_path, kind):
    save_profile(_profile(), tmp_path)
    bad = hostile(profiles_dir(tmp_path), kind, "zz.json", JSON_LIMIT)
    skipped: list[str] = []
    box = outcome(load_profiles, tmp_path, skipped)
    assert box.get("value") == [_profile()], box
    if kind != "folder" or skipped:  # a folder named *.json: skipped like the rest
        assert len(skipped) == 1 and str(bad) in skipped[0], skipped


def test_a_plan_that_leads_out_of_the_data_folder_is_refused(tmp_path):
    data = tmp_path / "data"
    (data / "plans").mkdir(parents=True)
    outside = tmp_path / "elsewhere.toml"
    outside.write_text('id = "C01"\n')
    (data / "plans" / "C01.toml").symlink_to(outside)
    message = refused(load_plan, data, "C01")
    assert "outside the data folder" in message and "C01.toml" in message
    (data / "plans" / "C01.toml").unlink()
    (data / "plans" / "C01.toml").symlink_to("/dev/zero")
    assert "outside the data folder" in refused(load_plan, data, "C01")
    # a link inside the data folder is followed
    (data / "plans" / "C01.toml").unlink()
    (data / "plans" / "real.toml").write_text('id = "C01"\n')
    (data / "plans" / "C01.toml").symlink_to(data / "plans" / "real.toml")
    assert load_plan(data, "C01").id == "C01"


def test_the_base_reader(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"x" * 100)
    assert read_bytes(path, what="note", limit_bytes=100) == b"x" * 100
    message = refused(read_bytes, path, what="note", limit_bytes=99)
    assert message == (f"The note {path} is 100 bytes, more than the 99 bytes a note may be; check that it is the "
                       f"right file.")
    # a file whose size is not told (as in /proc) is still cut at the limit
    assert len(read_bytes("/proc/self/status", what="status", limit_bytes=TEXT_LIMIT)) > 0
    with pytest.raises(ConfigError, match="more than the 10 bytes"):
        read_bytes("/proc/self/status", what="status", limit_bytes=10)
    # the caller's class and sentence for a missing file
    with pytest.raises(DataDirError, match="^Nothing here.$"):
        read_bytes(tmp_path / "none", what="x", limit_bytes=10, error=DataDirError, missing="Nothing here.")
    path.write_bytes(b"ok\nbad \xff\n")
    assert "line 2" in refused(read_text, path, what="note", limit_bytes=100)
    with pytest.raises(ConfigError, match="NUL"):
        read_bytes("a\0b", what="note", limit_bytes=10)
    odd = tmp_path / "two\nlines\x1b[31m"  # a name with a newline and an escape: the sentence stays one line
    assert "two\\x0alines\\x1b[31m" in refused(read_bytes, odd, what="note", limit_bytes=10)
    assert "\n" not in refused(read_bytes, odd, what="note", limit_bytes=10)
    # root: the resolved path must stay inside
    inside = tmp_path / "data" / "x.txt"
    inside.parent.mkdir()
    inside.write_text("fine")
    assert read_text(inside, what="note", limit_bytes=10, root=tmp_path / "data") == "fine"
    (tmp_path / "data" / "link.txt").symlink_to(path)
    assert "outside the data folder" in refused(read_text, tmp_path / "data" / "link.txt", what="note",
                                                limit_bytes=100, root=tmp_path / "data")
    assert "outside" in refused(read_text, tmp_path / "data" / ".." / "a.txt", what="note", limit_bytes=100,
                                root=tmp_path / "data")


# --------------------------------------------------------------------------
# TOML: scripts, plans, device profiles


DEEP_TOML = {
    "nested lists": "a = " + "[" * 100_000,
    "nested inline tables": "a = " + "{b = " * 100_000,
    "nested lists closed": "a = " + "[" * 40 + "]" * 40,
    "dotted key": "a." * 100_000 + "b = 1",
    "dotted table header": "[" + "a." * 100_000 + "b]",
    "5000-digit integer": "tempo_bpm = " + "9" * 5000,
    "400-digit integer": "tempo_bpm = " + "9" * 400,
    "integer beyond 64 bits": "tempo_bpm = -9223372036854775809",
}


@pytest.mark.parametrize("case", list(DEEP_TOML))
def test_toml_beyond_what_the_parser_takes_is_a_syntax_sentence(tmp_path, case):
    text = 'title = "x"\n' + DEEP_TOML[case] + "\n"
    script = tmp_path / "s.toml"
    script.write_text(text)
    message = refused(load_script, script, names=f"{script}:2: the TOML is not valid")
    assert "\n" not in message
    plan = tmp_path / "C01.toml"
    plan.write_text(text)
    assert refused(load_plan_file, plan, "C01").startswith(f"{plan}:2: the TOML is not valid")
    refused(DeviceMap.load, plan, names=plan)


def test_the_hazard_scan_skips_strings_and_comments_and_is_linear():
    assert toml_hazard('r = "' + "x." * 100_000 + '"\n# ' + "[" * 1000 + "\n") is None
    assert toml_hazard('m = """\n' + "[" * 1000 + '\n"""\n') is None
    assert toml_hazard("[instruments]\ncue.x = 1\nv = [[1, 2], {a = [3]}]\nf = 1.5\n") is None
    assert toml_hazard("a = " + "[" * 33) == (1, 37, "lists or tables nested more than 32 deep")


def test_bad_utf8_names_the_line(tmp_path):
    script = tmp_path / "s.toml"
    script.write_bytes(b'title = "x"\nkind = "\xff"\n')
    assert "line 2" in refused(load_script, script, names=script)
    plan = tmp_path / "C01.toml"
    plan.write_bytes(b'id = "C01"\n\xc3\x28\n')
    assert "line 2" in refused(load_plan_file, plan, "C01", names=plan)


HOSTILE_TOML_VALUES = ["9" * 400, "-" + "9" * 400, "1e400", "-1e400", "nan", "inf", "-inf", "0", "-1", '""',
                       '"x"', "[]", "[1, 2]", "{}", "{a = 1}", "true", "1979-05-27", "07:32:00", "0.5",
                       "9223372036854775807", '"\\u001b[31m"', "[" * 20 + "]" * 20]


def _each_value_replaced(text: str):
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*[A-Za-z0-9_.]+\s*=\s*)", line)
        if m and not line.lstrip().startswith("#"):
            for value in HOSTILE_TOML_VALUES:
                yield "\n".join(lines[:i] + [m.group(1) + value] + lines[i + 1:]) + "\n"


def test_every_field_of_a_plan_with_any_value_is_a_plan_or_a_sentence(tmp_path):
    text = new_plan(tmp_path, "C01").read_text()
    for optional in ("target_date", "probes", "mastery_gap_days", "min_trials", "therapist", "display_name"):
        text = text.replace(f"# {optional}", optional)
    path = tmp_path / "plans" / "C01.toml"
    n = 0
    for variant in _each_value_replaced(text):
        path.write_text(variant)
        box = outcome(load_plan_file, path, "C01")
        if "error" in box:
            assert isinstance(box["error"], PlanError), f"{type(box['error']).__name__}: {box['error']}"
            assert all(p.startswith(str(path)) for p in box["error"].problems)
        n += 1
    assert n > 500


@pytest.mark.parametrize("script", ["echo-drums.toml", "march-song.toml"])
def test_every_field_of_a_script_with_any_value_is_a_script_or_a_sentence(tmp_path, script):
    shutil.copy(SONGS / "march-song.mid", tmp_path)
    path = tmp_path / script
    n = 0
    for variant in _each_value_replaced((SONGS / script).read_text()):
        path.write_text(variant)
        box = outcome(load_script, path)
        if "error" in box:
            assert isinstance(box["error"], ScriptError), f"{type(box['error']).__name__}: {box['error']}"
        n += 1
    assert n > 200


def test_a_cueing_song_that_is_not_a_midi_file_is_one_sentence(tmp_path):
    text = (SONGS / "march-song.toml").read_text()
    path = tmp_path / "march-song.toml"
    for kind in ("fifo", "devzero", "too_large"):
        song = hostile(tmp_path / kind, kind, "song.mid", MIDI_LIMIT)
        path.write_text(text.replace('song = "march-song.mid"', f'song = "{song}"'))
        message = refused(load_script, path, names=f"{path}:")
        assert "cueing.song" in message, message
    for n in (300, 5000):  # a name longer than the system allows (pathlib's is_file raises for it)
        path.write_text(text.replace('song = "march-song.mid"', f'song = "{"x" * n}.mid"'))
        assert "cueing.song" in refused(load_script, path)


def test_an_edit_beyond_what_toml_takes_is_kept_as_text():
    for raw in ("[" * 100_000, "9" * 5000, "1\n" + "a." * 100_000 + "b = 1"):
        assert outcome(parse_edit, f"S1.threshold={raw}")["value"] == ("S1", "threshold", raw)
    assert parse_edit("S1.threshold=70") == ("S1", "threshold", 70)


# --------------------------------------------------------------------------
# MIDI


def _smf(*tracks: bytes, division: int = 96, ntracks: int | None = None) -> bytes:
    head = b"MThd" + struct.pack(">IHHH", 6, 1, len(tracks) if ntracks is None else ntracks, division)
    return head + b"".join(b"MTrk" + struct.pack(">I", len(t)) + t for t in tracks)


MIDI_FILES = {
    "empty": b"",
    "truncated": (SONGS / "march-song.mid").read_bytes()[:40],
    "garbage track": _smf(bytes(range(256)) * 8),
    "random track": _smf(np.random.default_rng(7).integers(0, 256, 4000, dtype=np.uint8).tobytes()),
    "track longer than the file": _smf(b"\x00\x90\x3c\x40")[:-4] + b"\x00\x90",
    "SMPTE division": _smf(b"\x00\xff\x2f\x00", division=0xE728),
    "not MIDI": b"RIFF" + bytes(100),
}


@pytest.mark.parametrize("case", list(MIDI_FILES))
def test_a_damaged_midi_file_is_one_sentence(tmp_path, case):
    path = tmp_path / "song.mid"
    path.write_bytes(MIDI_FILES[case])
    message = refused(load_midi, path, names=path)
    assert "\n" not in message


def test_a_midi_file_with_no_tracks_a_tempo_of_zero_or_a_huge_delta_is_a_song_or_a_sentence(tmp_path):
    path = tmp_path / "song.mid"
    for content in (_smf(), _smf(ntracks=65535)):  # mido reads what is there: a song with no notes
        path.write_bytes(content)
        assert outcome(load_midi, path)["value"].notes == ()
    for track in ([mido.MetaMessage("set_tempo", tempo=0), mido.Message("note_on", note=60, time=10),
                   mido.Message("note_off", note=60, time=10)],
                  [mido.Message("note_on", note=60, time=0x0FFFFFFF), mido.Message("note_off", note=60, time=0)]):
        mid = mido.MidiFile()
        mid.tracks.append(mido.MidiTrack(track))
        mid.save(path)
        box = outcome(load_midi, path)
        assert "value" in box or isinstance(box["error"], TandemError), box


# --------------------------------------------------------------------------
# Audio


def _wav(rate=48_000, channels=1, bits=16, data=b"\0\0" * 100, data_size=None) -> bytes:
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * max(block, 1), block, bits)
    size = len(data) if data_size is None else data_size
    return (b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + size) + b"WAVE" + b"fmt " + struct.pack("<I", len(fmt))
            + fmt + b"data" + struct.pack("<I", size) + data)


AUDIO_FILES = {
    "0 bytes": (b"", "is empty"),
    "0 channels": (_wav(channels=0), "could not be read"),
    "1000 channels": (_wav(channels=1000, data=b"\0" * 4000), "1000 channels"),
    "rate 0": (_wav(rate=0), "could not be read"),
    "rate 1 Hz": (_wav(rate=1), "sample rate is 1 Hz"),
    "rate 2**31-1": (_wav(rate=2 ** 31 - 1), "sample rate is 2147483647 Hz"),
    "0 bits": (_wav(bits=0), "could not be read"),
    "header only": (_wav(data=b""), "contains no audio"),
    "garbage": (bytes(range(256)) * 20, "could not be read"),
}


@pytest.mark.parametrize("case", list(AUDIO_FILES))
def test_a_damaged_audio_file_is_one_sentence(tmp_path, case):
    content, says = AUDIO_FILES[case]
    path = tmp_path / "rec.wav"
    path.write_bytes(content)
    message = refused(read_audio, path, what="recording", names=path)
    assert says in message and "\n" not in message
    assert str(path) in refused(_sample_bank, path)


def test_nan_and_infinite_samples_are_refused(tmp_path):
    for bad in (np.nan, np.inf, -np.inf):
        path = tmp_path / "nan.wav"
        soundfile.write(path, np.array([0.0, bad, 0.5], dtype=np.float32), 48_000, subtype="FLOAT")
        assert "non-finite" in refused(read_audio, path, names=path)
        assert "non-finite" in refused(_sample_bank, path)


def test_lengths_are_checked_from_the_header_before_any_frame_is_read(tmp_path):
    # a sample longer than a sample may be: the header says so, the frames are never decoded (sparse file)
    frames = int(MAX_SAMPLE_SECONDS * 48_000) + 48_000
    path = tmp_path / "long.wav"
    with open(path, "wb") as f:
        f.write(_wav(data=b"", data_size=2 * frames))
        f.truncate(44 + 2 * frames)
    assert f"more than the {MAX_SAMPLE_SECONDS:.0f} s" in refused(_sample_bank, path)
    # too many samples in all (64 channels of 8-bit sound): refused before decoding a gigabyte
    frames = MAX_SAMPLES // 64 + 48_000
    path = tmp_path / "wide.wav"
    with open(path, "wb") as f:
        f.write(_wav(channels=64, bits=8, data=b"", data_size=64 * frames))
        f.truncate(44 + 64 * frames)
    assert "samples" in refused(read_audio, path, what="recording", names=path)


def test_a_played_file_resampled_beyond_the_sample_budget_is_refused(tmp_path):
    path = tmp_path / "slow.wav"
    frames = 2_000_000
    with open(path, "wb") as f:  # 2000 s at 1 kHz; at 768 kHz that would be 1.5 billion samples
        f.write(_wav(rate=1000, data=b"", data_size=2 * frames))
        f.truncate(44 + 2 * frames)
    assert "would be" in refused(read_audio, path, sample_rate=768_000, names=path)


# --------------------------------------------------------------------------
# JSON the data folder holds: calibration profiles, assessments, suggestions


HOSTILE_JSON_VALUES = [None, True, 0, -1, 10 ** 400, -(10 ** 400), float("nan"), float("inf"), float("-inf"),
                       1e308, "", "x" * 10_000, [], [1], {}, {"a": 1}, 0.5, 2 ** 63]
HOSTILE_JSON_TEXTS = ["[" * 100_000, '{"a":' * 100_000, "9" * 5000, "NaN", "", "null", "[]", '"x"', "1e400"]


def _leaves(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _leaves(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:2]):
            yield from _leaves(v, prefix + (i,))


def _json_variants(doc):
    """Every field (two entries of each list) replaced by each hostile value, or deleted; then whole texts."""
    for where in _leaves(doc):
        for value in HOSTILE_JSON_VALUES + ["delete"]:
            if not where and value == "delete":
                continue
            copy = json.loads(json.dumps(doc))
            target = copy
            for k in where[:-1]:
                target = target[k]
            if not where:
                copy = value
            elif value == "delete":
                del target[where[-1]]
            else:
                target[where[-1]] = value
            yield json.dumps(copy)
    yield from HOSTILE_JSON_TEXTS


def _profile(**changes) -> Profile:
    fields = dict(setup=DeviceSetup("Rig", 128, 48_000, "pad"), measured_at="2026-11-20T10:00:00+00:00",
                  roundtrip_ms=14.0, roundtrip_spread_ms=0.01, reported_input_ms=2.0, reported_output_ms=5.0,
                  midi_offset_ms=-3.5, midi_spread_ms=0.8, midi_method="acoustic", midi_exact=True,
                  details={"roundtrip": {"found": 10}})
    return Profile(**{**fields, **changes})


def test_every_field_of_a_calibration_profile_with_any_value_is_a_profile_or_skipped_with_a_sentence(tmp_path):
    path = save_profile(_profile(), tmp_path)
    doc = json.loads(path.read_text())
    n = 0
    for text in _json_variants(doc):
        path.write_text(text)
        skipped: list[str] = []
        box = outcome(load_profiles, tmp_path, skipped)
        assert "value" in box, f"{type(box['error']).__name__}: {box['error']}"
        for p in box["value"]:  # what is read is usable: finite latencies, JSON a log header can hold
            json.dumps(p.to_dict(), allow_nan=False)
        if not box["value"]:
            assert len(skipped) == 1 and str(path) in skipped[0] and "\n" not in skipped[0]
        n += 1
    assert n > 300
    with pytest.raises(ConfigError, match="roundtrip_ms must be a number"):
        Profile.from_dict({**_profile().to_dict(), "roundtrip_ms": float("nan")})


def test_every_field_of_an_assessment_with_any_value_is_an_assessment_or_a_sentence(tmp_path):
    path = save_assessment(make_assessment(), tmp_path)
    doc = json.loads(path.read_text())
    n = 0
    for text in _json_variants(doc):
        path.write_text(text)
        box = outcome(latest_assessment, tmp_path, "C07", include_simulated=True)
        if "error" in box:
            assert isinstance(box["error"], DataDirError), f"{type(box['error']).__name__}: {box['error']}"
            assert str(path) in str(box["error"]) and "\n" not in str(box["error"])
        elif box["value"] is not None:  # what is read can be laid out as the baseline report
            collect_baseline(box["value"], plots_wanted=False)
        n += 1
    assert n > 1000


def test_every_field_of_the_suggestions_with_any_value_is_suggestions_or_a_sentence(tmp_path):
    assessment = load_assessment(save_assessment(make_assessment(), tmp_path))
    path = save_suggestions(assessment, suggest_objectives(assessment))
    doc = json.loads(path.read_text())
    doc["suggestions"] = doc["suggestions"][:1]
    doc["suggestions"][0]["template"] = "Taps within {target} ms."
    for text in list(_json_variants(doc)) + [json.dumps({**doc, "suggestions": [
            {**doc["suggestions"][0], "template": "{target:>1000000000}"}]})]:
        path.write_text(text)
        box = outcome(load_suggestions, assessment)
        if "error" in box:
            assert isinstance(box["error"], DataDirError), f"{type(box['error']).__name__}: {box['error']}"
        else:
            for s in box["value"] or ():
                s.describe(s.objective)  # its template formats


# --------------------------------------------------------------------------
# Through the command line: exit EXIT_ERROR, one line on stderr starting "tandem: ", no traceback


def _tandem(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TANDEM_CACHE": str(cwd / "cache")}
    env.pop("TANDEM_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=120)


def _one_sentence(r: subprocess.CompletedProcess, *, says: str) -> None:
    lines = r.stderr.strip().splitlines()
    assert r.returncode == EXIT_ERROR, (r.returncode, r.stderr)
    assert len(lines) == 1 and lines[0].startswith("tandem: ") and "Traceback" not in r.stderr, r.stderr
    assert says in lines[0], lines[0]


def test_the_command_line_answers_hostile_files_with_one_sentence(tmp_path):
    data = tmp_path / "D"
    (data / "plans").mkdir(parents=True)
    (data / "plans" / "C01.toml").symlink_to("/dev/zero")
    _one_sentence(_tandem("plan", "show", "C01", "--data-dir", str(data), cwd=tmp_path), says="C01.toml")
    _one_sentence(_tandem("homepack", "C01", "--data-dir", str(data), cwd=tmp_path), says="C01.toml")
    (data / "plans" / "C01.toml").unlink()
    os.mkfifo(data / "plans" / "C01.toml")
    _one_sentence(_tandem("plan", "show", "C01", "--data-dir", str(data), cwd=tmp_path), says="a pipe (FIFO)")
    os.mkfifo(tmp_path / "fifo.toml")
    _one_sentence(_tandem("validate", "fifo.toml", cwd=tmp_path), says="fifo.toml is a pipe (FIFO)")
    (tmp_path / "deep.toml").write_text("a = " + "[" * 100_000)
    _one_sentence(_tandem("validate", "deep.toml", cwd=tmp_path), says="deep.toml:1: the TOML is not valid")
    _one_sentence(_tandem("onsets", "/dev/zero", cwd=tmp_path), says="/dev/zero is a device")
    soundfile.write(tmp_path / "rec.wav", np.zeros(4800), 48_000)
    os.mkfifo(tmp_path / "played.wav")
    _one_sentence(_tandem("onsets", "rec.wav", "--played", "played.wav", cwd=tmp_path), says="played.wav is a pipe")


def test_a_report_whose_plan_is_a_fifo_says_so_and_not_that_there_is_no_plan(tmp_path):
    data = tmp_path / "data"
    (data / "plans").mkdir(parents=True)
    os.mkfifo(data / "plans" / "C1.toml")
    done = subprocess.run([sys.executable, "-m", "engine.cli", "report", "C1", "--data-dir", str(data)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "is a pipe (FIFO), not a file" in done.stderr  # before: "No visits and no plan are recorded ..."
