"""Reading audio files: formats, rates, sample formats, and one clear sentence for what cannot be read."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from engine.audio.audiofile import AudioFileError, read_audio

RATE = 48_000


def _impulses(rate: int, n: int, at: list[int], value: float = 0.5) -> np.ndarray:
    x = np.zeros(n)
    x[at] = value
    return x


@pytest.mark.parametrize("fmt, subtype, tolerance", [
    ("WAV", "PCM_16", 1 / 32768), ("WAV", "PCM_24", 1e-6), ("WAV", "FLOAT", 0.0),
    ("WAV", "PCM_U8", 1 / 128), ("FLAC", "PCM_16", 1 / 32768),
])
def test_sample_formats_read_back_to_the_same_values(tmp_path, fmt, subtype, tolerance):
    x = _impulses(RATE, 4800, [100, 2000], 0.5)
    path = tmp_path / f"x.{fmt.lower()}"
    soundfile.write(path, x, RATE, format=fmt, subtype=subtype)
    a = read_audio(path)
    assert a.sample_rate == a.file_rate == RATE and a.channels == 1 and a.subtype == subtype
    assert a.samples.dtype == np.float32 and a.samples.shape == (4800,)
    assert np.max(np.abs(a.samples - x)) <= tolerance
    assert list(np.flatnonzero(np.abs(a.samples) > 0.25)) == [100, 2000]


def test_stereo_is_mixed_to_mono_or_kept(tmp_path):
    left = _impulses(RATE, 1000, [10], 0.8)
    right = _impulses(RATE, 1000, [20], 0.4)
    path = tmp_path / "st.wav"
    soundfile.write(path, np.stack([left, right], axis=1), RATE, subtype="FLOAT")
    mono = read_audio(path)
    assert mono.channels == 2 and mono.samples.shape == (1000,)
    assert mono.samples[10] == pytest.approx(0.4) and mono.samples[20] == pytest.approx(0.2)
    both = read_audio(path, mono=False)
    assert both.samples.shape == (1000, 2) and both.samples[10, 0] == pytest.approx(0.8)


@pytest.mark.parametrize("file_rate", [44_100, 96_000])
def test_resampling_keeps_an_impulse_at_its_time(tmp_path, file_rate):
    """A click at 50.0 ms in a 44.1 or 96 kHz file is at 50.0 ms (frame 2400) at 48 kHz."""
    at = int(0.05 * file_rate)
    path = tmp_path / "r.wav"
    soundfile.write(path, _impulses(file_rate, file_rate // 5, [at], 0.9), file_rate, subtype="FLOAT")
    a = read_audio(path, sample_rate=RATE)
    assert a.sample_rate == RATE and a.file_rate == file_rate
    assert a.frames == pytest.approx(RATE // 5, abs=1)
    assert int(np.argmax(np.abs(a.samples))) == 2400


def test_the_files_own_rate_is_kept_unless_asked(tmp_path):
    path = tmp_path / "r.wav"
    soundfile.write(path, np.zeros(441), 44_100)
    assert read_audio(path).sample_rate == 44_100


@pytest.mark.parametrize("content, says", [
    (None, "does not exist"), (b"", "is empty"), (b"RIFF\x00\x00junk" * 20, "could not be read as audio"),
    (b"ID3" + bytes(200), "could not be read as audio"),
])
def test_what_cannot_be_read_is_one_sentence(tmp_path, content, says):
    path = tmp_path / "bad.wav"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(AudioFileError) as info:
        read_audio(path, what="recording")
    msg = str(info.value)
    assert says in msg and "recording" in msg and str(path) in msg and "\n" not in msg


def test_a_file_without_frames_is_refused(tmp_path):
    path = tmp_path / "none.wav"
    soundfile.write(path, np.zeros((0, 1)), RATE)
    with pytest.raises(AudioFileError, match="contains no audio"):
        read_audio(path)


@pytest.mark.parametrize("fmt, subtype, ext", [("MP3", "MPEG_LAYER_III", "mp3"), ("OGG", "VORBIS", "ogg")])
def test_compressed_files_read_with_their_clicks_where_they_were(tmp_path, fmt, subtype, ext):
    """Lossy codecs smear a click, but its time survives (libsndfile removes the MP3 encoder delay)."""
    path = tmp_path / f"c.{ext}"
    soundfile.write(path, _impulses(RATE, RATE, [24_000], 0.9), RATE, format=fmt, subtype=subtype)
    a = read_audio(path)
    assert a.format == fmt and a.frames == RATE
    assert abs(int(np.argmax(np.abs(a.samples))) - 24_000) <= 2
