"""`tandem onsets`: the live detector over a file, on recordings written here with onsets known to the sample.

Every file is made in code (decaying noise bursts at known samples) and written
in the test's folder; bad input must give one plain sentence and exit 2.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile

from engine.audio import onsetfile
from engine.audio.onsets import OnsetDetector
from engine.cli import main

R = 48_000
HITS_S = (0.10, 0.35, 0.62, 0.81)  # burst starts, seconds
KEYS = {"time_s", "detected_at_s", "level_db", "kind"}  # checked from outside: exactly these names


def _burst(rng, rate: int, amp: float = 0.5) -> np.ndarray:
    n = int(0.05 * rate)
    return amp * rng.standard_normal(n) * np.exp(-np.arange(n) / (0.010 * rate))


def _recording(rate: int = R, seconds: float = 1.0, hits_s=HITS_S, seed: int = 0, amp: float = 0.5):
    """Decaying noise bursts starting at known samples; returns (signal, their first samples)."""
    rng = np.random.default_rng(seed)
    x = np.zeros(int(seconds * rate))
    truth = [round(t * rate) for t in hits_s]
    for at in truth:
        b = _burst(rng, rate, amp)
        x[at:at + b.size] += b[: x.size - at]
    return x, truth


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["onsets", *args])
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err
    return code, cap.out, cap.err


def _json(capsys, *args: str) -> tuple[dict, str]:
    code, out, err = _cli(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out), err


def _error(capsys, *args: str) -> str:
    """Exit 2 and one sentence on stderr."""
    code, out, err = _cli(capsys, *args)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("tandem: "), err
    return err


def _write(path, x, rate=R, **kw):
    soundfile.write(path, x, rate, **kw)
    return str(path)


def _assert_found(result: dict, truth: list[int], tol: int = 2) -> None:
    samples = [o["sample"] for o in result["onsets"]]
    assert len(samples) == len(truth), samples
    assert all(abs(s - t) <= tol for s, t in zip(samples, truth, strict=True)), (samples, truth)


def test_bursts_are_found_to_the_sample_with_their_detection_time(tmp_path, capsys):
    x, truth = _recording()
    result, err = _json(capsys, _write(tmp_path / "r.wav", x, subtype="FLOAT"))
    assert err == ""
    assert result["sample_rate"] == R and result["blocksize"] == 128 and result["channels_used"] == "mono"
    assert result["duration_s"] == pytest.approx(1.0) and result["played"] is None
    _assert_found(result, truth)
    for o, t in zip(result["onsets"], truth, strict=True):
        assert KEYS <= o.keys()
        assert o["time_s"] == pytest.approx(t / R, abs=2 / R) and o["time_s"] == o["sample"] / R
        assert o["detected_at_s"] == o["detected_at_sample"] / R
        assert o["time_s"] < o["detected_at_s"] <= o["time_s"] + 0.010  # reported after, within 10 ms
        assert o["kind"] == "percussive" and o["duration_s"] is None
        assert -12 < o["level_db"] < 9  # a noise burst of standard deviation 0.5 (its peaks pass 1)


def test_the_table_lists_each_onset_and_the_count(tmp_path, capsys):
    x, truth = _recording()
    code, out, err = _cli(capsys, _write(tmp_path / "r.wav", x))
    assert code == 0 and err == ""
    lines = out.strip().splitlines()
    assert "48000 Hz" in lines[0] and "latency (ms)" in lines[1]
    rows = lines[2:-1]
    assert [float(r.split()[0]) for r in rows] == pytest.approx([t / R for t in truth], abs=1e-4)
    assert all(r.split()[3] == "percussive" and 0 < float(r.split()[1]) <= 10 for r in rows)
    assert lines[-1] == f"{len(truth)} onsets"


def test_stereo_is_mixed_to_mono_and_both_channels_count(tmp_path, capsys):
    left, truth_l = _recording(hits_s=(0.10, 0.62), seed=1)
    right, truth_r = _recording(hits_s=(0.35, 0.81), seed=2)
    result, _ = _json(capsys, _write(tmp_path / "st.wav", np.stack([left, right], axis=1)))
    assert result["channels"] == 2 and result["channels_used"] == "mean of 2 channels"
    _assert_found(result, sorted(truth_l + truth_r))


@pytest.mark.parametrize("rate", [8_000, 16_000, 44_100, 96_000])
def test_any_rate_is_analysed_at_the_files_own_rate(tmp_path, capsys, rate):
    x, truth = _recording(rate=rate)
    result, _ = _json(capsys, _write(tmp_path / "r.wav", x, rate, subtype="PCM_24"))
    assert result["sample_rate"] == rate and result["frames"] == x.size
    _assert_found(result, truth)
    assert [o["time_s"] for o in result["onsets"]] == pytest.approx(list(HITS_S), abs=2 / rate)


@pytest.mark.parametrize("fmt, subtype, ext", [("WAV", "PCM_U8", "wav"), ("FLAC", "PCM_16", "flac")])
def test_8_bit_wav_and_flac(tmp_path, capsys, fmt, subtype, ext):
    x, truth = _recording()
    result, _ = _json(capsys, _write(tmp_path / f"r.{ext}", x, format=fmt, subtype=subtype))
    assert result["format"] == fmt and result["subtype"] == subtype
    _assert_found(result, truth)


def test_mp3_is_read_but_warned_about(tmp_path, capsys):
    """MP3's pre-echo spreads each attack's noise ahead of it: found, up to a granule (576) early."""
    x, truth = _recording()
    x += 0.003 * np.random.default_rng(9).standard_normal(x.size)  # a quiet room
    result, err = _json(capsys, _write(tmp_path / "r.mp3", x, format="MP3", subtype="MPEG_LAYER_III"))
    assert result["format"] == "MP3" and len(result["onsets"]) == len(truth)
    assert all(-576 <= o["sample"] - t <= 2 for o, t in zip(result["onsets"], truth, strict=True))
    assert "lossy" in err and len(err.strip().splitlines()) == 1 and result["warnings"]


def test_an_old_libsndfile_says_it_cannot_read_mp3(tmp_path, capsys, monkeypatch):
    path = _write(tmp_path / "r.mp3", np.zeros(R), format="MP3", subtype="MPEG_LAYER_III")
    monkeypatch.setattr(soundfile, "__libsndfile_version__", "1.0.31")
    err = _error(capsys, path)
    assert "MP3" in err and "1.0.31" in err and "WAV" in err


def test_clipped_bursts_are_found_and_the_clipping_reported(tmp_path, capsys):
    x, truth = _recording()
    result, err = _json(capsys, _write(tmp_path / "r.wav", np.clip(4 * x, -1, 1)))
    _assert_found(result, truth)
    assert result["clipped_samples"] > 10 and "clips" in err and len(err.strip().splitlines()) == 1
    assert _json(capsys, _write(tmp_path / "clean.wav", x))[0]["clipped_samples"] == 0


def test_a_dc_offset_changes_nothing(tmp_path, capsys):
    x, truth = _recording(amp=0.3)
    clean, _ = _json(capsys, _write(tmp_path / "clean.wav", x, subtype="FLOAT"))
    offset, _ = _json(capsys, _write(tmp_path / "dc.wav", x + 0.4, subtype="FLOAT"))
    _assert_found(offset, truth)
    # The high-pass's answer to the offset's start (sample 0) may move the first by a sample.
    assert [o["sample"] for o in offset["onsets"]] == pytest.approx([o["sample"] for o in clean["onsets"]], abs=1)


def test_silence_has_no_onsets(tmp_path, capsys):
    result, _ = _json(capsys, _write(tmp_path / "quiet.wav", np.zeros(R)))
    assert result["onsets"] == [] and result["duration_s"] == 1.0
    code, out, _ = _cli(capsys, str(tmp_path / "quiet.wav"))
    assert code == 0 and out.strip().splitlines()[-1] == "0 onsets"


def test_the_blocksize_does_not_change_the_result(tmp_path, capsys):
    x, truth = _recording(seconds=1.0, seed=3)
    x += 0.005 * np.random.default_rng(4).standard_normal(x.size)
    path = _write(tmp_path / "r.wav", x, subtype="FLOAT")
    small, _ = _json(capsys, path, "--blocksize", "64")
    large, _ = _json(capsys, path, "--blocksize", "512")
    assert (small["blocksize"], large["blocksize"]) == (64, 512)
    _assert_found(small, truth, tol=12)
    assert small["onsets"] == large["onsets"]


def test_the_detector_gets_the_blocks_asked_for(tmp_path, capsys, monkeypatch):
    sizes = _spy(monkeypatch)["sizes"]
    x, _ = _recording()
    _json(capsys, _write(tmp_path / "r.wav", x[:1000]), "--blocksize", "300")
    assert sizes == [300, 300, 300, 100]


@pytest.mark.parametrize("blocksize", ["8", "15", "8193", "0", "-64"])
def test_a_blocksize_out_of_range_is_one_sentence(tmp_path, capsys, blocksize):
    path = _write(tmp_path / "r.wav", np.zeros(R))
    assert "between 16 and 8192" in _error(capsys, path, "--blocksize", blocksize)


@pytest.mark.parametrize("blocksize", ["16", "8192"])
def test_the_blocksize_limits_are_allowed(tmp_path, capsys, blocksize):
    x, truth = _recording()
    _assert_found(_json(capsys, _write(tmp_path / "r.wav", x), "--blocksize", blocksize)[0], truth)


def test_a_blocksize_that_is_not_a_number_is_refused_by_the_parser(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["onsets", _write(tmp_path / "r.wav", np.zeros(R)), "--blocksize", "lots"])
    assert exc.value.code == 2


@pytest.mark.parametrize("content, says", [
    (None, "does not exist"), (b"", "is empty"),
    (np.random.default_rng(0).bytes(4000), "could not be read as audio"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(40), "could not be read as audio"),
])
def test_a_file_that_is_not_a_recording_is_one_sentence(tmp_path, capsys, content, says):
    path = tmp_path / "bad.wav"
    if content is not None:
        path.write_bytes(content)
    err = _error(capsys, str(path))
    assert says in err and "recording" in err and str(path) in err


def test_a_recording_without_frames_is_one_sentence(tmp_path, capsys):
    assert "contains no audio" in _error(capsys, _write(tmp_path / "none.wav", np.zeros((0, 1))))


def test_a_rate_too_low_is_one_sentence(tmp_path, capsys):
    err = _error(capsys, _write(tmp_path / "r.wav", np.zeros(4000), 4000))
    assert "4000 Hz" in err and "8000 Hz" in err


# --played: what the speakers played, same start as the recording.

def _spy(monkeypatch) -> dict:
    """Record what reaches the detector: block sizes and the played samples given with them."""
    seen: dict = {"sizes": [], "played": []}

    class Spy(OnsetDetector):
        flushing = False

        def flush(self):
            self.flushing = True
            return super().flush()

        def process(self, block, played=None):
            if self.flushing:
                return super().process(block, played=played)
            seen["sizes"].append(len(block))
            if played is not None:
                assert len(played) == len(block)
                seen["played"].append(np.asarray(played, dtype=np.float64))
            return super().process(block, played=played)

    monkeypatch.setattr(onsetfile, "OnsetDetector", Spy)
    return seen


def _played_signal(seen) -> np.ndarray:
    return np.concatenate(seen["played"])


def test_played_is_given_to_the_detector_aligned_block_by_block(tmp_path, capsys, monkeypatch):
    seen = _spy(monkeypatch)
    x, _ = _recording()
    cue = np.zeros(R)
    cue[[1000, 30000]] = [0.5, -0.25]
    result, err = _json(capsys, _write(tmp_path / "r.wav", x), "--played",
                        _write(tmp_path / "p.wav", cue, subtype="FLOAT"))
    assert err == "" and result["played"] == str(tmp_path / "p.wav")
    got = _played_signal(seen)
    assert got.size == R and np.array_equal(got, cue)


def test_a_longer_played_file_is_cut_with_a_warning(tmp_path, capsys, monkeypatch):
    seen = _spy(monkeypatch)
    x, _ = _recording()
    cue = np.zeros(2 * R)
    cue[[2000, 60000]] = 0.5  # the second is after the recording's end
    result, err = _json(capsys, _write(tmp_path / "r.wav", x), "--played",
                        _write(tmp_path / "p.wav", cue, subtype="FLOAT"))
    got = _played_signal(seen)
    assert got.size == R and list(np.flatnonzero(got)) == [2000]
    assert len(err.strip().splitlines()) == 1 and "1.00 s longer" in err and "warning" in err
    assert result["warnings"] == [err.strip().removeprefix("tandem: warning: ")]


def test_a_shorter_played_file_is_padded_with_silence(tmp_path, capsys, monkeypatch):
    seen = _spy(monkeypatch)
    x, _ = _recording()
    cue = np.zeros(R // 4)
    cue[100] = 0.5
    _, err = _json(capsys, _write(tmp_path / "r.wav", x), "--played", _write(tmp_path / "p.wav", cue, subtype="FLOAT"))
    got = _played_signal(seen)
    assert got.size == R and list(np.flatnonzero(got)) == [100]
    assert "0.75 s shorter" in err and len(err.strip().splitlines()) == 1


def test_a_small_length_difference_is_not_warned_about(tmp_path, capsys, monkeypatch):
    seen = _spy(monkeypatch)
    x, _ = _recording()
    _, err = _json(capsys, _write(tmp_path / "r.wav", x), "--played", _write(tmp_path / "p.wav", np.zeros(R + 4800)))
    assert err == "" and _played_signal(seen).size == R


def test_a_played_file_at_another_rate_is_resampled_to_the_recordings(tmp_path, capsys, monkeypatch):
    seen = _spy(monkeypatch)
    x, _ = _recording()
    cue = np.zeros(24_000)  # 1 s at 24 kHz, a click at 0.25 s
    cue[6000] = 0.9
    _, err = _json(capsys, _write(tmp_path / "r.wav", x), "--played",
                   _write(tmp_path / "p.wav", np.stack([cue, cue], axis=1), 24_000, subtype="FLOAT"))
    got = _played_signal(seen)
    assert err == "" and got.size == R
    assert int(np.argmax(np.abs(got))) == 12_000  # 0.25 s at 48 kHz


def test_silence_played_leaves_the_childs_onsets(tmp_path, capsys):
    """End to end, with the detector's self-sound suppression on: nothing played, nothing taken away."""
    x, truth = _recording()
    played = _write(tmp_path / "p.wav", np.zeros(R // 4))
    result, err = _json(capsys, _write(tmp_path / "r.wav", x), "--played", played, "--blocksize", "256")
    _assert_found(result, truth)
    assert "shorter" in err


@pytest.mark.parametrize("content, says", [(None, "does not exist"), (b"junk" * 100, "could not be read")])
def test_a_bad_played_file_is_one_sentence(tmp_path, capsys, content, says):
    played = tmp_path / "p.wav"
    if content is not None:
        played.write_bytes(content)
    err = _error(capsys, _write(tmp_path / "r.wav", np.zeros(R)), "--played", str(played))
    assert says in err and "played file" in err and str(played) in err
