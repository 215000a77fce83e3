"""Device maps: shipped profiles, checking with clear errors, curves, port matching."""

from __future__ import annotations

import dataclasses

import pytest

from engine.audio.soundbank import GM_PERCUSSION, parse_request
from engine.errors import ConfigError
from engine.midi.devicemap import BUILTIN_NAMES, CURVES, DeviceMap, NoteRole, builtin_maps, map_for_port

GOOD = """\
name = "Test pad"
match = ["test pad"]
makes_own_sound = false

[velocity]
curve = "linear"

[notes]
36 = { role = "pad1", sound = "drum:36" }
38 = { role = "pad2", sound = "drum:38" }
"""


def write(tmp_path, text, name="pad.toml"):
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_builtin_loads(name):
    dm = DeviceMap.builtin(name)
    assert dm.name
    assert isinstance(dm.makes_own_sound, bool)
    assert dm.curve in CURVES


def test_builtin_maps_generic_last():
    maps = builtin_maps()
    assert [m.name for m in maps][-1] == DeviceMap.builtin("generic").name
    assert len(maps) == len(BUILTIN_NAMES)


def test_unknown_builtin():
    with pytest.raises(ConfigError, match="no built-in device profile"):
        DeviceMap.builtin("nope")


def test_gm_drums_cover_35_to_81():
    dm = DeviceMap.builtin("gm-drums")
    assert sorted(dm.notes) == list(range(35, 82))
    for key, name in GM_PERCUSSION.items():
        role = dm.lookup(key, 100)
        assert role.role == name and role.sound == f"drum:{key}"
    assert dm.lookup(20, 100) is None


def test_roland_td_groove_map():
    dm = DeviceMap.builtin("roland-td")
    expected_sound = {36: 36, 38: 38, 40: 38, 37: 37, 48: 50, 50: 50, 45: 47, 47: 47, 43: 43, 58: 43,
                      46: 46, 26: 46, 42: 42, 22: 42, 44: 44, 49: 49, 55: 49, 57: 57, 52: 57,
                      51: 51, 59: 51, 53: 53}
    assert set(dm.notes) == set(expected_sound)
    for note, key in expected_sound.items():
        assert dm.lookup(note, 64).sound == f"drum:{key}"
    assert dm.lookup(38, 64).role == "acoustic_snare"


def test_generic_keyboard():
    dm = DeviceMap.builtin("generic-keyboard")
    assert dm.makes_own_sound is True
    assert sorted(dm.notes) == list(range(21, 109))
    assert dm.lookup(60, 90) == NoteRole(60, "key", "program:0:60", dm.gain(90))
    assert dm.lookup(20, 90) is None


def test_generic_maps_unknown_notes():
    dm = DeviceMap.builtin("generic")
    assert dm.lookup(38, 100).role == "note:38"
    assert dm.lookup(38, 100).sound == "drum:38"
    assert dm.lookup(90, 100).sound == "click"
    assert dm.lookup(0, 1).role == "note:0"


@pytest.mark.parametrize("dm", builtin_maps(), ids=lambda d: d.name)
def test_every_shipped_sound_parses(dm):
    sounds = dm.sounds() | {dm.lookup(n, 64).sound for n in range(128) if dm.lookup(n, 64)}
    for sound in sounds:
        parse_request(sound)


def test_note_role_is_frozen():
    role = DeviceMap.builtin("gm-drums").lookup(38, 100)
    with pytest.raises(dataclasses.FrozenInstanceError):
        role.gain = 0.0


# ---- velocity curves


@pytest.mark.parametrize("curve", ["linear", "soft", "hard"])
@pytest.mark.parametrize("lo,hi", [(0.0, 1.0), (0.2, 0.8)])
def test_curves_monotonic_and_bounded(tmp_path, curve, lo, hi):
    text = GOOD.replace('curve = "linear"', f'curve = "{curve}"\nmin = {lo}\nmax = {hi}')
    dm = DeviceMap.load(write(tmp_path, text))
    gains = [dm.lookup(36, v).gain for v in range(128)]
    assert all(0.0 <= g <= 1.0 for g in gains)
    assert all(a <= b for a, b in zip(gains, gains[1:]))
    assert gains[0] == pytest.approx(lo) and gains[-1] == pytest.approx(hi)


def test_soft_louder_than_linear_louder_than_hard():
    dm = DeviceMap.builtin("gm-drums")
    soft, lin, hard = (dataclasses.replace(dm, curve=c, gain_min=0.0) for c in ("soft", "linear", "hard"))
    assert soft.gain(40) > lin.gain(40) > hard.gain(40)


def test_fixed_curve_constant(tmp_path):
    text = GOOD.replace('curve = "linear"', 'curve = "fixed"\nmax = 0.7')
    dm = DeviceMap.load(write(tmp_path, text))
    assert {dm.lookup(36, v).gain for v in range(128)} == {0.7}


# ---- port matching


def test_map_for_port_by_substring():
    assert map_for_port("TD-11:TD-11 MIDI 1 20:0").name == "Roland TD-11"
    assert map_for_port("Digital Piano MIDI 1").name == "Generic keyboard"
    assert map_for_port("Some Unknown Pad").name == DeviceMap.builtin("generic").name


def test_map_for_port_custom_list_first_hit(tmp_path):
    a = DeviceMap.load(write(tmp_path, GOOD, "a.toml"))
    b = DeviceMap.load(write(tmp_path, GOOD.replace("Test pad", "Other").replace('"test pad"', '"pad"'), "b.toml"))
    assert map_for_port("My TEST PAD port", [b, a]).name == "Other"
    assert map_for_port("My TEST PAD port", [a, b]).name == "Test pad"
    assert map_for_port("keyboard", [a, b]).name == "Generic MIDI device"


# ---- errors name file, line and field


@pytest.mark.parametrize(
    "text,field,line",
    [
        (GOOD.replace('name = "Test pad"\n', ""), "name", None),
        (GOOD.replace("makes_own_sound = false", 'makes_own_sound = "no"'), "makes_own_sound", 3),
        (GOOD.replace('curve = "linear"', 'curve = "loud"'), "velocity.curve", 6),
        (GOOD.replace('curve = "linear"', "max = 2"), "velocity.max", 6),
        (GOOD.replace("36 = {", "200 = {"), "notes.200", 9),
        (GOOD.replace("38 = {", "x = {"), "notes.x", 10),
        (GOOD.replace('role = "pad2", ', ""), "notes.38.role", 10),
        (GOOD.replace('role = "pad2"', "role = 2"), "notes.38.role", 10),
        (GOOD.replace('"drum:38"', '"drum:nope"'), "notes.38.sound", 10),
        (GOOD.replace('match = ["test pad"]', 'match = "test pad"'), "match", 2),
        (GOOD + "\n[[ranges]]\nlow = 21\nhigh = 300\nrole = \"key\"\n", "ranges[0].high", 14),
    ],
)
def test_bad_profile_names_file_line_field(tmp_path, text, field, line):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        DeviceMap.load(path)
    msg = str(info.value)
    assert str(path) in msg and f"'{field}'" in msg
    if line is not None:
        assert f"line {line}" in msg
    assert "\n" not in msg


def test_bad_toml_names_file_and_line(tmp_path):
    path = write(tmp_path, GOOD.replace('name = "Test pad"', "name = Test pad"))
    with pytest.raises(ConfigError) as info:
        DeviceMap.load(path)
    assert str(path) in str(info.value) and "line 1" in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        DeviceMap.load(tmp_path / "none.toml")
