"""Calibration profiles: stored per device setup, private, round-tripped, matched, applied."""

from __future__ import annotations

import json
import os
import stat

import pytest

from engine.calibration.profiles import (
    DeviceSetup,
    Profile,
    applied_latencies,
    find_profile,
    load_profiles,
    log_header,
    profiles_dir,
    save_profile,
)
from engine.errors import ConfigError

SETUP = DeviceSetup("system (JACK Audio Connection Kit)", 128, 48_000, "Rig pad")


def profile(setup: DeviceSetup = SETUP, *, when: str = "2026-11-20T10:00:00+00:00", midi: float | None = -3.5,
            exact: bool = True) -> Profile:
    return Profile(setup=setup, measured_at=when, roundtrip_ms=14.0, roundtrip_spread_ms=0.01,
                   reported_input_ms=2.0, reported_output_ms=5.0, midi_offset_ms=midi,
                   midi_spread_ms=None if midi is None else 0.8,
                   midi_method=None if midi is None else ("acoustic" if exact else "tap-along"),
                   midi_exact=exact and midi is not None, details={"roundtrip": {"found": 10}})


def test_a_profile_survives_json_unchanged():
    p = profile()
    d = json.loads(json.dumps(p.to_dict()))
    assert d["mic_extra_latency_ms"] == pytest.approx(7.0)
    assert Profile.from_dict(d) == p


def test_saved_profiles_are_private_and_written_whole(tmp_path):
    root = tmp_path / "data"
    path = save_profile(profile(), root)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(profiles_dir(root)).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o700
    assert sorted(p.name for p in profiles_dir(root).iterdir()) == [path.name]  # no temporary file left
    save_profile(profile(when="2026-11-21T10:00:00+00:00"), root)  # the same setup again replaces it
    assert [p.measured_at for p in load_profiles(root)] == ["2026-11-21T10:00:00+00:00"]


def test_profiles_are_found_by_their_device_setup(tmp_path):
    other_block = DeviceSetup(SETUP.audio_device, 256, 48_000, "Rig pad")
    save_profile(profile(), tmp_path)
    save_profile(profile(other_block, midi=-9.0), tmp_path)
    assert find_profile(tmp_path, SETUP) == profile()
    assert find_profile(tmp_path, other_block).midi_offset_ms == -9.0
    assert find_profile(tmp_path, DeviceSetup(SETUP.audio_device, 128, 44_100, "Rig pad")) is None
    assert find_profile(tmp_path, DeviceSetup("Built-in Audio", 128, 48_000, "Rig pad")) is None


def test_another_midi_device_gets_the_audio_part_only(tmp_path):
    save_profile(profile(), tmp_path)
    p = find_profile(tmp_path, DeviceSetup(SETUP.audio_device, 128, 48_000, "Another pad"))
    assert p.roundtrip_ms == 14.0 and p.midi_offset_ms is None and p.setup.midi_device is None


def test_a_damaged_profile_is_skipped_and_a_bad_one_named(tmp_path):
    save_profile(profile(), tmp_path)
    (profiles_dir(tmp_path) / "broken.json").write_text("{not json")
    (profiles_dir(tmp_path) / "other.json").write_text('{"setup": {}}')
    assert load_profiles(tmp_path) == [profile()]
    with pytest.raises(ConfigError, match="not a calibration profile"):
        Profile.from_dict({"setup": {}})


def test_applied_latencies_keep_cues_mic_and_midi_on_one_physical_time():
    # Truth: out 5 ms, in 2 ms reported; the real round trip 14 ms; the pad's MIDI stamp
    # comes 3.5 ms before its sound is in the input.
    a = applied_latencies(profile(), input_latency_ms=2.0)
    assert a.mic_extra_latency_ms == pytest.approx(7.0)
    # A hit at physical time P: in the input at P + 2 + 7, stamped at P + 9 - 3.5.
    mic_physical = (100.0 + 9.0) - (2.0 + a.mic_extra_latency_ms)
    midi_physical = (100.0 + 9.0 - 3.5) - a.midi_latency_ms
    assert mic_physical == pytest.approx(100.0) and midi_physical == pytest.approx(100.0)
    assert a.calibrated_audio and a.calibrated_midi and a.midi_exact


def test_without_a_profile_nothing_is_applied_and_the_log_says_so():
    a = applied_latencies(None, input_latency_ms=2.0)
    assert (a.mic_extra_latency_ms, a.midi_latency_ms, a.calibrated_audio) == (0.0, 0.0, False)
    assert "no calibration profile" in a.note

    class Engine:
        input_latency_frames, sample_rate = 96, 48_000

    header = log_header(None, Engine())
    assert header["profile"] is None and "tandem calibrate" in header["note"]
    header = log_header(profile(exact=False), Engine())
    json.dumps(header)
    assert header["applied"]["midi_latency_ms"] == pytest.approx(-3.5 + 2.0 + 7.0)
    assert "less exact" in header["note"]


def test_a_profile_without_its_midi_part_applies_no_midi_latency():
    a = applied_latencies(profile(midi=None), input_latency_ms=2.0)
    assert a.calibrated_audio and not a.calibrated_midi and a.midi_latency_ms == 0.0
    assert "MIDI device has no calibration" in a.note


def test_setup_file_names_are_safe_and_distinct():
    a = DeviceSetup("../../etc/passwd", 128, 48_000)
    b = DeviceSetup("../../etc/passwd", 128, 48_000, "pad")
    assert "/" not in a.file_stem() and a.file_stem() != b.file_stem()
    with pytest.raises(ConfigError):
        DeviceSetup("", 128, 48_000)


def test_alsa_port_numbers_do_not_split_one_pad_into_two_setups():
    # ALSA numbers a device's port anew each time it is plugged in.
    assert DeviceSetup("sys", 128, 48_000, "nanoPAD2:nanoPAD2 MIDI 1 24:0") == DeviceSetup(
        "sys", 128, 48_000, "nanoPAD2:nanoPAD2 MIDI 1 28:0")
    assert DeviceSetup("sys", 128, 48_000, "").midi_device is None
