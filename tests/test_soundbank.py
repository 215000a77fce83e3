"""The sound bank: request grammar, FluidSynth rendering, the built-in fallback, the cache, sample files."""

import os
import stat
from pathlib import Path

import numpy as np
import pytest
import soundfile

from engine.audio import soundbank
from engine.audio.sound import Sound
from engine.audio.soundbank import (
    GM_PERCUSSION,
    SoundBank,
    SoundRequestError,
    UnknownSoundError,
    default_soundfont,
    parse_note,
    parse_request,
)
from engine.errors import ConfigError, SoundBankError
from tests.spectra import spectral_centroid_hz, spectral_peak_hz

RATE = 48000
DEBIAN_SF2 = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")


def _fluidsynth_ok() -> bool:
    try:
        soundbank._import_fluidsynth()
    except soundbank._FluidSynthUnavailable:
        return False
    return DEBIAN_SF2.is_file()


needs_fluidsynth = pytest.mark.skipif(not _fluidsynth_ok(), reason="needs pyfluidsynth, libfluidsynth and TimGM6mb.sf2")


@pytest.fixture
def no_soundfont(monkeypatch, tmp_path):
    """No SoundFont anywhere: $TANDEM_SOUNDFONT points nowhere, no standard path exists."""
    monkeypatch.setenv("TANDEM_SOUNDFONT", str(tmp_path / "nowhere.sf2"))
    monkeypatch.setattr(soundbank, "STANDARD_SOUNDFONTS", (tmp_path / "also-missing.sf2",))
    monkeypatch.setattr(soundbank, "default_soundfont", lambda: None)


@pytest.fixture
def render_calls(monkeypatch):
    """Spy on the one function every rendering goes through."""
    calls = []
    real = soundbank._render

    def spy(request, **kwargs):
        calls.append(request.text)
        return real(request, **kwargs)

    monkeypatch.setattr(soundbank, "_render", spy)
    return calls


# --------------------------------------------------------------------------
# Request grammar


@pytest.mark.parametrize(
    "text, kind, key, canonical",
    [
        ("click", "click", 0, "click:"),
        ("click:high", "click", 0, "click:high"),
        ("click:low", "click", 0, "click:low"),
        ("tone:A4", "tone", 69, "tone:69:500"),
        ("tone:60:250", "tone", 60, "tone:60:250"),
        ("noise_drum", "noise_drum", 0, "noise_drum"),
        ("drum:76", "drum", 76, "drum:76"),
        ("drum:hi_wood_block", "drum", 76, "drum:76"),
        ("drum:side_stick", "drum", 37, "drum:37"),
        ("drum:Acoustic-Snare", "drum", 38, "drum:38"),
        ("drum:bass_drum_1", "drum", 36, "drum:36"),
        ("drum:claves", "drum", 75, "drum:75"),
        ("drum:cowbell", "drum", 56, "drum:56"),
        ("program:0:C4:500", "program", 60, "program:0:60:500"),
        ("program:73:A#3", "program", 58, "program:73:58:500"),
    ],
)
def test_parse_request_accepts_the_grammar(text, kind, key, canonical):
    request = parse_request(text)
    assert request.text == text
    assert request.kind == kind
    assert request.key == key
    assert request.canonical == canonical


def test_parse_file_request_makes_the_path_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    request = parse_request("file:cues/ding.wav")
    assert request.kind == "file"
    assert request.path == tmp_path / "cues" / "ding.wav"


@pytest.mark.parametrize(
    "text, words",
    [
        ("bell", "not one Tandem knows"),
        ("click:medium", "click:high"),
        ("tone", "tone:<note>"),
        ("tone:H4", "not a note"),
        ("tone:C4:fast", "milliseconds"),
        ("tone:C4:-5", "milliseconds"),
        ("tone:C12", "MIDI range"),
        ("drum:34", "35-81"),
        ("drum:woodblock", "General MIDI drum"),
        ("drum:hi_wood_blok", "drum:hi_wood_block"),  # a suggestion for the typo
        ("program:0", "program:<0-127>"),
        ("program:128:C4", "0 to 127"),
        ("program:x:C4", "0 to 127"),
        ("noise_drum:loud", "no options"),
        ("file:", "file:<path"),
        ("", "not one Tandem knows"),
    ],
)
def test_bad_requests_raise_one_clear_sentence(text, words):
    with pytest.raises(SoundRequestError) as info:
        parse_request(text)
    message = str(info.value)
    assert words in message
    assert "\n" not in message and message.endswith((".", "?"))
    # Callers may catch it as a config error or as a sound-bank error.
    assert isinstance(info.value, ConfigError) and isinstance(info.value, SoundBankError)
    assert isinstance(info.value, ValueError)


def test_bad_request_is_reported_before_rendering(render_calls, tmp_path):
    with pytest.raises(SoundRequestError, match="drum:nope"):
        SoundBank.load(["click", "drum:nope"], sample_rate=RATE, cache_dir=tmp_path)
    assert render_calls == []


def test_non_string_request_is_rejected(tmp_path):
    with pytest.raises(SoundRequestError):
        SoundBank.load([76], sample_rate=RATE, cache_dir=tmp_path)


@pytest.mark.parametrize("text, note", [("C4", 60), ("A4", 69), ("a#3", 58), ("Bb3", 58), ("C-1", 0), ("G9", 127), ("0", 0), ("127", 127)])
def test_parse_note(text, note):
    assert parse_note(text) == note


@pytest.mark.parametrize("text", ["128", "H2", "C#", "Ab9", "4C", "-3"])
def test_parse_note_rejects(text):
    with pytest.raises(SoundRequestError):
        parse_note(text)


def test_gm_percussion_map_is_complete():
    assert sorted(GM_PERCUSSION) == list(range(35, 82))
    names = list(GM_PERCUSSION.values())
    assert len(set(names)) == len(names)
    assert all(name == name.lower() and " " not in name and "-" not in name for name in names)
    assert GM_PERCUSSION[76] == "hi_wood_block" and GM_PERCUSSION[42] == "closed_hi_hat"


@pytest.mark.parametrize("rate", [0, -48000, 48000.0, "48000", True])
def test_bad_sample_rate_is_a_config_error(rate, tmp_path):
    with pytest.raises(ConfigError):
        SoundBank.load(["click"], sample_rate=rate, cache_dir=tmp_path)


# --------------------------------------------------------------------------
# The bank as a mapping


def test_bank_lookup_names_and_unknown_names(tmp_path):
    bank = SoundBank.load(["tone:A4", "click", "click:high", "click"], sample_rate=RATE, cache_dir=tmp_path)
    assert bank.names == ["tone:A4", "click", "click:high"]
    assert len(bank) == 3 and "click" in bank and "click:low" not in bank
    sound = bank["click"]
    assert isinstance(sound, Sound) and sound.name == "click" and sound.sample_rate == RATE
    assert not sound.data.flags.writeable
    with pytest.raises(UnknownSoundError) as info:
        bank["drum:76"]
    assert isinstance(info.value, KeyError) and isinstance(info.value, SoundBankError)
    assert str(info.value) == "No sound named 'drum:76' was loaded (loaded: tone:A4, click, click:high)."


def test_a_single_string_is_one_request(tmp_path):
    bank = SoundBank.load("click:low", sample_rate=RATE, cache_dir=tmp_path)
    assert bank.names == ["click:low"]


def test_builtin_only_bank_needs_no_soundfont(no_soundfont, tmp_path):
    bank = SoundBank.load(["click", "tone:C5:200", "noise_drum"], sample_rate=RATE, cache_dir=tmp_path)
    assert bank.source == "builtin"
    assert bank.warnings == []
    assert bank["click"].attack_frames == 0
    for name in bank.names:
        assert bank[name].attack_frames == Sound.find_attack(bank[name].data)


def test_builtin_tone_request_has_the_right_pitch_and_length(tmp_path):
    sound = SoundBank.load(["tone:A4:1000"], sample_rate=RATE, cache_dir=tmp_path)["tone:A4:1000"]
    assert spectral_peak_hz(sound.data, RATE) == pytest.approx(440.0, abs=2.0)
    assert 1.0 <= sound.duration_s <= 1.2


# --------------------------------------------------------------------------
# FluidSynth


@needs_fluidsynth
def test_fluidsynth_drum_render(tmp_path):
    bank = SoundBank.load(["drum:hi_wood_block"], sample_rate=RATE, soundfont=DEBIAN_SF2, cache_dir=tmp_path)
    assert bank.source == "fluidsynth" and bank.warnings == []
    sound = bank["drum:hi_wood_block"]
    data = sound.data
    assert data.dtype == np.float32
    assert 0.5 < float(np.abs(data).max()) <= 0.9
    assert 0.02 < sound.duration_s < 3.5
    assert sound.attack_frames == Sound.find_attack(data)
    # Leading silence was trimmed: the attack comes within 5 ms of the start.
    assert sound.attack_frames < 0.005 * RATE
    # Trailing silence was trimmed: the last 10 ms are not all near-silent...
    assert np.abs(data[-480:]).max() > 1e-4
    # ...and the end is faded to zero.
    assert abs(float(data[-1])) < 1e-3


@needs_fluidsynth
def test_fluidsynth_different_drums_sound_different(tmp_path):
    names = ["drum:76", "drum:bass_drum_1", "drum:closed_hi_hat"]
    bank = SoundBank.load(names, sample_rate=RATE, soundfont=DEBIAN_SF2, cache_dir=tmp_path)
    wood, kick, hat = (bank[n].data for n in names)
    assert not np.array_equal(wood[:2000], kick[:2000])
    assert spectral_centroid_hz(kick, RATE) < spectral_centroid_hz(wood, RATE) < spectral_centroid_hz(hat, RATE)


@needs_fluidsynth
def test_same_drum_by_number_and_by_name(tmp_path):
    bank = SoundBank.load(["drum:76", "drum:hi_wood_block"], sample_rate=RATE, soundfont=DEBIAN_SF2, cache_dir=tmp_path)
    np.testing.assert_array_equal(bank["drum:76"].data, bank["drum:hi_wood_block"].data)


@needs_fluidsynth
@pytest.mark.parametrize("request_text, freq_hz", [("program:0:C5", 523.25), ("program:73:A4:800", 440.0)])
def test_fluidsynth_program_pitch(request_text, freq_hz, tmp_path):
    sound = SoundBank.load([request_text], sample_rate=RATE, soundfont=DEBIAN_SF2, cache_dir=tmp_path)[request_text]
    segment = sound.data[sound.attack_frames :][: RATE // 2]
    assert spectral_peak_hz(segment, RATE) == pytest.approx(freq_hz, rel=0.03)


@needs_fluidsynth
def test_fluidsynth_note_length_follows_duration(tmp_path):
    short, long = "program:0:C5:100", "program:0:C5:1000"
    bank = SoundBank.load([short, long], sample_rate=RATE, soundfont=DEBIAN_SF2, cache_dir=tmp_path)
    assert bank[long].frames > bank[short].frames + 0.5 * RATE
    assert bank[long].duration_s < 1.0 + 3.1  # held part + capped tail


@needs_fluidsynth
def test_mixed_bank_source(tmp_path):
    bank = SoundBank.load(["click", "drum:claves"], sample_rate=RATE, soundfont=DEBIAN_SF2, cache_dir=tmp_path)
    assert bank.source == "mixed"
    assert bank.sources == {"click": "builtin", "drum:claves": "fluidsynth"}


# --------------------------------------------------------------------------
# Fallback to the built-in synthesiser


FALLBACK_REQUESTS = ["drum:hi_wood_block", "drum:acoustic_snare", "drum:bass_drum_1", "drum:closed_hi_hat", "program:0:A4:500"]


def test_no_soundfont_falls_back_with_exactly_one_warning(no_soundfont, tmp_path):
    bank = SoundBank.load(FALLBACK_REQUESTS + ["click"], sample_rate=RATE, soundfont=None, cache_dir=tmp_path)
    assert bank.source == "builtin"
    assert set(bank.sources.values()) == {"builtin"}
    assert len(bank.warnings) == 1
    warning = bank.warnings[0]
    assert warning.startswith("No SoundFont found")
    assert "TANDEM_SOUNDFONT" in warning and "timgm6mb-soundfont" in warning
    assert str(tmp_path / "nowhere.sf2") in warning


def test_fallback_mapping_is_sensible(no_soundfont, tmp_path):
    bank = SoundBank.load(FALLBACK_REQUESTS, sample_rate=RATE, cache_dir=tmp_path)
    wood = bank["drum:hi_wood_block"]
    assert wood.attack_frames == 0 and wood.duration_s < 0.1  # a click
    kick, snare, hat = (bank[n].data for n in ("drum:bass_drum_1", "drum:acoustic_snare", "drum:closed_hi_hat"))
    assert spectral_centroid_hz(kick, RATE) < spectral_centroid_hz(snare, RATE) < spectral_centroid_hz(hat, RATE)
    tone = bank["program:0:A4:500"].data
    assert spectral_peak_hz(tone, RATE) == pytest.approx(440.0, rel=0.01)


@pytest.mark.parametrize("key", sorted(GM_PERCUSSION))
def test_every_gm_drum_has_a_builtin_stand_in(key):
    x = soundbank._builtin_drum(key, RATE)
    assert x.dtype == np.float32 and x.size > 0
    assert 0.5 < float(np.abs(x).max()) <= 0.9
    assert Sound.find_attack(x) < 0.01 * RATE


def test_fluidsynth_missing_falls_back_with_one_warning(monkeypatch, tmp_path):
    sf2 = tmp_path / "fine.sf2"
    sf2.write_bytes(b"RIFF\0\0\0\0sfbk")

    def unavailable():
        raise soundbank._FluidSynthUnavailable("libfluidsynth.so.3 not found")

    monkeypatch.setattr(soundbank, "_import_fluidsynth", unavailable)
    bank = SoundBank.load(FALLBACK_REQUESTS, sample_rate=RATE, soundfont=sf2, cache_dir=tmp_path / "cache")
    assert bank.source == "builtin"
    assert len(bank.warnings) == 1
    assert bank.warnings[0].startswith("FluidSynth could not be loaded (libfluidsynth.so.3 not found)")


def test_unreadable_default_soundfont_falls_back(monkeypatch, tmp_path):
    bad = tmp_path / "broken.sf2"
    bad.write_bytes(b"this is not a soundfont")
    monkeypatch.setattr(soundbank, "default_soundfont", lambda: bad)
    bank = SoundBank.load(FALLBACK_REQUESTS, sample_rate=RATE, cache_dir=tmp_path / "cache")
    assert bank.source == "builtin"
    assert len(bank.warnings) == 1 and str(bad) in bank.warnings[0]


def test_explicit_missing_soundfont_is_an_error(tmp_path, render_calls):
    missing = tmp_path / "Better.sf2"
    with pytest.raises(SoundBankError) as info:
        SoundBank.load(["drum:76"], sample_rate=RATE, soundfont=missing, cache_dir=tmp_path)
    assert str(missing) in str(info.value) and "does not exist" in str(info.value)
    assert render_calls == []


@needs_fluidsynth
def test_explicit_unreadable_soundfont_is_an_error(tmp_path):
    bad = tmp_path / "broken.sf2"
    bad.write_bytes(b"this is not a soundfont")
    with pytest.raises(SoundBankError, match="could not be read"):
        SoundBank.load(["drum:76"], sample_rate=RATE, soundfont=bad, cache_dir=tmp_path / "cache")


def test_default_soundfont_order(monkeypatch, tmp_path):
    standard = tmp_path / "standard.sf2"
    standard.write_bytes(b"x")
    chosen = tmp_path / "chosen.sf2"
    chosen.write_bytes(b"x")
    monkeypatch.setattr(soundbank, "STANDARD_SOUNDFONTS", (tmp_path / "missing.sf2", standard))
    monkeypatch.setenv("TANDEM_SOUNDFONT", str(chosen))
    assert default_soundfont() == chosen
    monkeypatch.setenv("TANDEM_SOUNDFONT", str(tmp_path / "nowhere.sf2"))
    assert default_soundfont() == standard
    monkeypatch.delenv("TANDEM_SOUNDFONT")
    assert default_soundfont() == standard
    monkeypatch.setattr(soundbank, "STANDARD_SOUNDFONTS", (tmp_path / "missing.sf2",))
    assert default_soundfont() is None


def test_debian_soundfont_is_a_standard_place():
    assert soundbank.STANDARD_SOUNDFONTS[0] == DEBIAN_SF2


# --------------------------------------------------------------------------
# Cache


CACHE_REQUESTS = ["click", "click:high", "tone:C4:300", "noise_drum", "drum:76", "drum:acoustic_snare", "program:0:C5:300"]


def _load_twice(tmp_path, soundfont, render_calls):
    first = SoundBank.load(CACHE_REQUESTS, sample_rate=RATE, soundfont=soundfont, cache_dir=tmp_path)
    assert len(render_calls) == len(CACHE_REQUESTS)
    render_calls.clear()
    second = SoundBank.load(CACHE_REQUESTS, sample_rate=RATE, soundfont=soundfont, cache_dir=tmp_path)
    return first, second


def _assert_same(first, second):
    assert first.names == second.names
    assert first.sources == second.sources
    for name in first.names:
        np.testing.assert_array_equal(first[name].data, second[name].data)
        assert first[name].attack_frames == second[name].attack_frames


def test_cache_second_load_renders_nothing(no_soundfont, tmp_path, render_calls):
    first, second = _load_twice(tmp_path, None, render_calls)
    assert render_calls == []
    _assert_same(first, second)
    assert second.warnings == first.warnings  # the fallback is still reported


@needs_fluidsynth
def test_cache_second_load_skips_fluidsynth(monkeypatch, tmp_path, render_calls):
    first, _ = _load_twice(tmp_path, DEBIAN_SF2, render_calls)
    assert first.sources["drum:76"] == "fluidsynth"

    def must_not_import():
        raise AssertionError("a cached load imported FluidSynth")

    monkeypatch.setattr(soundbank, "_import_fluidsynth", must_not_import)
    third = SoundBank.load(CACHE_REQUESTS, sample_rate=RATE, soundfont=DEBIAN_SF2, cache_dir=tmp_path)
    assert render_calls == []
    _assert_same(first, third)


def test_cache_files_are_private_and_complete(no_soundfont, tmp_path):
    SoundBank.load(CACHE_REQUESTS, sample_rate=RATE, cache_dir=tmp_path)
    files = sorted(tmp_path.iterdir())
    assert len(files) == len(CACHE_REQUESTS)
    for path in files:
        assert path.suffix == ".npz" and len(path.stem) == 64  # sha256 hex
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_corrupt_cache_file_is_rendered_again(no_soundfont, tmp_path, render_calls):
    first = SoundBank.load(CACHE_REQUESTS, sample_rate=RATE, cache_dir=tmp_path)
    files = sorted(tmp_path.iterdir())
    files[0].write_bytes(b"not an npz file")
    files[1].write_bytes(files[1].read_bytes()[:100])  # truncated
    render_calls.clear()
    second = SoundBank.load(CACHE_REQUESTS, sample_rate=RATE, cache_dir=tmp_path)
    assert len(render_calls) == 2
    _assert_same(first, second)
    render_calls.clear()
    SoundBank.load(CACHE_REQUESTS, sample_rate=RATE, cache_dir=tmp_path)
    assert render_calls == []  # the re-rendered files were written back


def test_cache_is_keyed_by_sample_rate(no_soundfont, tmp_path, render_calls):
    SoundBank.load(["click"], sample_rate=48000, cache_dir=tmp_path)
    render_calls.clear()
    bank = SoundBank.load(["click"], sample_rate=44100, cache_dir=tmp_path)
    assert render_calls == ["click"]
    assert bank["click"].sample_rate == 44100 and bank["click"].frames == round(0.03 * 44100)


def test_cache_is_keyed_by_render_version(no_soundfont, tmp_path, render_calls, monkeypatch):
    SoundBank.load(["click"], sample_rate=RATE, cache_dir=tmp_path)
    render_calls.clear()
    monkeypatch.setattr(soundbank, "RENDER_VERSION", soundbank.RENDER_VERSION + 1)
    SoundBank.load(["click"], sample_rate=RATE, cache_dir=tmp_path)
    assert render_calls == ["click"]


def test_equivalent_requests_share_a_cache_entry(no_soundfont, tmp_path, render_calls):
    SoundBank.load(["drum:76"], sample_rate=RATE, cache_dir=tmp_path)
    render_calls.clear()
    SoundBank.load(["drum:hi_wood_block"], sample_rate=RATE, cache_dir=tmp_path)
    assert render_calls == []


def test_unwritable_cache_still_loads_with_a_warning(no_soundfont, tmp_path):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    bank = SoundBank.load(["click", "tone:A4"], sample_rate=RATE, cache_dir=blocker)
    assert bank.names == ["click", "tone:A4"]
    assert len(bank.warnings) == 1 and "rendered again next time" in bank.warnings[0]


# --------------------------------------------------------------------------
# Sample files


def _sine(freq_hz, sample_rate, seconds=0.5):
    t_s = np.arange(int(sample_rate * seconds)) / sample_rate
    return np.sin(2 * np.pi * freq_hz * t_s)


def test_file_sample_same_rate_stereo_to_mono(tmp_path):
    left = 0.5 * _sine(1000.0, RATE)
    right = 0.25 * _sine(1000.0, RATE)
    path = tmp_path / "ding.wav"
    soundfile.write(path, np.column_stack([left, right]), RATE, subtype="FLOAT")
    name = f"file:{path}"
    bank = SoundBank.load([name], sample_rate=RATE, cache_dir=tmp_path / "cache")
    assert bank.sources[name] == "file"
    np.testing.assert_allclose(bank[name].data, ((left + right) / 2).astype(np.float32), atol=1e-6)
    assert bank[name].attack_frames == Sound.find_attack(bank[name].data)


def test_file_sample_is_resampled(tmp_path):
    path = tmp_path / "ding.flac"
    stereo = np.column_stack([0.6 * _sine(1000.0, 44100), 0.6 * _sine(1000.0, 44100)])
    soundfile.write(path, stereo, 44100, subtype="PCM_16")
    name = f"file:{path}"
    sound = SoundBank.load([name], sample_rate=48000, cache_dir=tmp_path / "cache")[name]
    assert sound.sample_rate == 48000
    assert sound.frames == round(stereo.shape[0] * 48000 / 44100)
    assert spectral_peak_hz(sound.data, 48000) == pytest.approx(1000.0, abs=3.0)
    middle = sound.data[4800:-4800]
    assert float(np.abs(middle).max()) == pytest.approx(0.6, abs=0.01)


def test_missing_file_is_a_clear_error(tmp_path):
    path = tmp_path / "missing.wav"
    with pytest.raises(SoundBankError) as info:
        SoundBank.load([f"file:{path}"], sample_rate=RATE, cache_dir=tmp_path / "cache")
    assert str(path) in str(info.value) and "does not exist" in str(info.value)


@pytest.mark.parametrize("content, says", [(b"", "is empty"),
                                           (b"RIFF garbage that is not a wav file" * 10, "could not be read as audio")])
def test_corrupt_file_is_a_clear_error(tmp_path, content, says):
    path = tmp_path / "broken.wav"
    path.write_bytes(content)
    with pytest.raises(SoundBankError) as info:
        SoundBank.load([f"file:{path}"], sample_rate=RATE, cache_dir=tmp_path / "cache")
    assert str(path) in str(info.value) and says in str(info.value)
    assert "\n" not in str(info.value)


def test_file_with_no_frames_is_a_clear_error(tmp_path):
    path = tmp_path / "empty.wav"
    soundfile.write(path, np.zeros((0, 1)), RATE)
    with pytest.raises(SoundBankError, match="contains no audio"):
        SoundBank.load([f"file:{path}"], sample_rate=RATE, cache_dir=tmp_path / "cache")


def test_changed_file_is_read_again(tmp_path, render_calls):
    path = tmp_path / "ding.wav"
    soundfile.write(path, 0.5 * _sine(1000.0, RATE), RATE)
    name = f"file:{path}"
    SoundBank.load([name], sample_rate=RATE, cache_dir=tmp_path / "cache")
    soundfile.write(path, 0.5 * _sine(500.0, RATE, seconds=0.25), RATE)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    render_calls.clear()
    sound = SoundBank.load([name], sample_rate=RATE, cache_dir=tmp_path / "cache")[name]
    assert render_calls == [name]
    assert sound.frames == RATE // 4


# --------------------------------------------------------------------------
# Trimming of rendered notes


def test_trim_cuts_silence_but_keeps_the_onset():
    rng = np.random.default_rng(0)
    pre_onset = np.linspace(0.0, 0.01, 48)  # quiet (-40 dB) but real: part of the onset
    hit = np.exp(-np.arange(4800) / 480.0) * rng.uniform(-1, 1, 4800)
    tail = np.full(2000, 1e-5)  # below -60 dB: trimmed
    data = np.concatenate([np.zeros(1000), pre_onset, hit, tail])
    out = soundbank._trim(data, RATE)
    assert out.dtype == np.float32
    assert float(np.abs(out).max()) <= 0.9 and float(np.abs(out).max()) == pytest.approx(0.9, abs=1e-6)
    # Digital silence before the sound is gone; the quiet pre-onset is kept.
    assert out.size < data.size - 1000 - 1000
    assert Sound.find_attack(out) == Sound.find_attack(data) - 1000 - 1  # the first sample of the ramp is 0
    assert abs(float(out[-1])) < 1e-6


def test_trim_of_silence_is_empty():
    assert soundbank._trim(np.zeros(1000), RATE).size == 0


def test_soundfont_without_the_sound_uses_the_builtin_one(monkeypatch, tmp_path):
    sf2 = tmp_path / "sparse.sf2"
    sf2.write_bytes(b"RIFF\0\0\0\0sfbk")

    class Silent:
        def __init__(self, soundfont, *, sample_rate):
            pass

        def render(self, request):
            return np.zeros(0, dtype=np.float32)

        def close(self):
            pass

    monkeypatch.setattr(soundbank, "_FluidSynthRenderer", Silent)
    bank = SoundBank.load(["drum:cowbell"], sample_rate=RATE, soundfont=sf2, cache_dir=tmp_path / "cache")
    assert bank.sources == {"drum:cowbell": "builtin"}
    assert bank["drum:cowbell"].frames > 0
    assert bank.warnings == [f"The SoundFont {sf2} has no sound for 'drum:cowbell'; using Tandem's built-in one."]
