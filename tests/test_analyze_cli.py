"""`tandem analyze sync|imitation` and the time-file reader behind it.

Every time file is written in the test's folder. Bad input must give one plain
sentence on stderr (naming the file and line) and exit 2, never a traceback.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.cli import main
from engine.errors import ConfigError
from engine.scoring.imitation import score_imitation
from engine.scoring.sync import match_taps, summarize
from engine.scoring.timefile import read_times

SUMMARY_KEYS = {"n_cues", "n_taps", "matched", "missed", "extra", "asynchrony_mean_ms", "asynchrony_sd_ms",
                "within_window_pct", "window_ms", "vector_strength", "mean_phase_deg", "rayleigh_p", "iti_cv",
                "tempo_ratio", "scorable", "reason"}


def _write(path, lines) -> str:
    path.write_text("".join(f"{x}\n" for x in lines))
    return str(path)


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["analyze", *args])
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err and "Traceback" not in cap.out
    return code, cap.out, cap.err


def _error(capsys, *args: str) -> str:
    code, out, err = _cli(capsys, *args)
    assert code == 2 and out == "", (code, out, err)
    assert len(err.strip().splitlines()) == 1 and err.startswith("tandem: "), err
    return err


@pytest.fixture
def run_files(tmp_path):
    cues = 1.0 + 0.5 * np.arange(8)
    offsets_ms = [-30, -10, 0, 15, -45, 120, None, 5]  # cue 6 missed
    taps = [c + o / 1000 for c, o in zip(cues, offsets_ms) if o is not None] + [2.75]  # 2.75: an extra tap
    taps.sort()
    cue_file = _write(tmp_path / "cues.txt", ["# metronome, 120 BPM", "", *[f"{c:.3f}" for c in cues]])
    tap_file = _write(tmp_path / "taps.txt", [f"{t:.3f}  # tap" for t in taps])
    return cue_file, tap_file, cues, np.array(taps)


# --- analyze sync ------------------------------------------------------------


def test_sync_json_has_the_summary_and_per_cue_list(run_files, capsys):
    cue_file, tap_file, cues, taps = run_files
    code, out, err = _cli(capsys, "sync", "--cues", cue_file, "--taps", tap_file, "--json")
    assert code == 0 and err == ""
    d = json.loads(out)
    expected = summarize(match_taps(cues, taps), len(taps), tap_s=taps).to_dict()
    assert SUMMARY_KEYS <= d.keys()
    assert {k: d[k] for k in expected} == pytest.approx(expected)
    assert d["cues"] == 8 and d["taps"] == 8 and d["matched"] == 7
    assert d["missed"] == 1 and d["extra"] == 1 and d["window_ms"] == 80.0
    assert len(d["per_cue"]) == 8
    got = [c["asynchrony_ms"] for c in d["per_cue"]]
    for g, want in zip(got, [-30, -10, 0, 15, -45, 120, None, 5]):
        assert (g is None and want is None) or g == pytest.approx(want, abs=1e-6)
    assert d["per_cue"][6] == {"cue_s": 4.0, "tap_s": None, "asynchrony_ms": None, "warmup": False}
    assert d["per_cue"][0]["cue_s"] == 1.0 and d["per_cue"][0]["tap_s"] == pytest.approx(0.97)
    # 6 of 8 cues within ±80 ms (the 120 ms tap and the missed cue are not).
    assert d["within_window_pct"] == pytest.approx(75.0)


def test_sync_window_and_warmup_options(run_files, capsys):
    cue_file, tap_file, *_ = run_files
    _, out, _ = _cli(capsys, "sync", "--cues", cue_file, "--taps", tap_file, "--json", "--window-ms", "20",
                     "--warmup", "2")
    d = json.loads(out)
    assert d["window_ms"] == 20.0 and d["n_cues"] == 6 and d["warmup"] == 2
    assert [c["warmup"] for c in d["per_cue"]] == [True, True] + [False] * 6
    # within ±20 ms among the scored cues 2..7 (0, 15, −45, 120, missed, 5 ms): 3 of 6
    assert d["within_window_pct"] == pytest.approx(50.0)


def test_sync_text_output(run_files, capsys):
    cue_file, tap_file, *_ = run_files
    code, out, err = _cli(capsys, "sync", "--cues", cue_file, "--taps", tap_file)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith(f"cues: {cue_file} (8), taps: {tap_file} (8)")
    assert "asynchrony (ms)" in lines[1]
    assert lines[2].split() == ["0", "1.0000", "0.9700", "-30.0"]
    assert lines[8].split() == ["6", "4.0000", "-", "-", "missed"]
    assert "matched: 7, missed: 1, extra: 1" in out
    assert "within ±80 ms: 75.0 %" in out
    assert lines[-1] == "scorable: yes"


def test_sync_unscorable_run_exits_0_and_says_why(tmp_path, capsys):
    cue_file = _write(tmp_path / "c.txt", [0.5 * k for k in range(10)])
    tap_file = _write(tmp_path / "t.txt", [0.01, 0.49])
    code, out, _ = _cli(capsys, "sync", "--cues", cue_file, "--taps", tap_file)
    assert code == 0
    assert out.splitlines()[-1] == ("not scorable: Only 2 of 10 cues were matched to a tap; "
                                    "at least 3 are needed to score timing.")
    code, out, _ = _cli(capsys, "sync", "--cues", cue_file, "--taps", tap_file, "--json")
    d = json.loads(out)
    assert d["scorable"] is False and d["iti_cv"] is None and "Only 2 of 10" in d["reason"]


@pytest.mark.parametrize("window", ["0", "-5", "nan", "inf"])
def test_sync_bad_window(run_files, capsys, window):
    cue_file, tap_file, *_ = run_files
    err = _error(capsys, "sync", "--cues", cue_file, "--taps", tap_file, f"--window-ms={window}")
    assert "window must be a positive number of milliseconds" in err


def test_sync_negative_warmup(run_files, capsys):
    cue_file, tap_file, *_ = run_files
    assert "warm-up" in _error(capsys, "sync", "--cues", cue_file, "--taps", tap_file, "--warmup=-1")


BAD_FILES = {
    "empty": ([], "has no times"),
    "only comments": (["# nothing yet", ""], "has no times"),
    "text": (["0.5", "tap"], "line 2, is 'tap', not a time in seconds"),
    "unit": (["0.5", "1.0 s"], "line 2, is '1.0 s', not a time"),
    "two numbers": (["0.5 1.0"], "line 1, is '0.5 1.0'"),
    "comma row": (["0.5,1.0"], "line 1, has a comma"),
    "decimal comma": (["0,5"], "line 1, has a comma"),
    "nan": (["0.5", "nan"], "line 2, is 'nan', not a time"),
    "inf": (["-inf"], "line 1, is '-inf', not a time"),
    "huge": (["1e999"], "too large"),
    "negative": (["-0.5", "0.5"], "line 1, has a negative time"),
    "unsorted": (["0.5", "1.5", "1.0"], "line 3, has 1.0, earlier than 1.5 on line 2"),
    "duplicated": (["0.5", "", "0.5"], "line 3, repeats the time 0.5 of line 1"),
}


@pytest.mark.parametrize("case", BAD_FILES)
@pytest.mark.parametrize("which", ["--cues", "--taps"])
def test_sync_bad_files_give_one_sentence(tmp_path, capsys, case, which):
    lines, fragment = BAD_FILES[case]
    good = _write(tmp_path / "good.txt", [0.0, 0.5, 1.0])
    bad = _write(tmp_path / "bad.txt", lines)
    files = {"--cues": good, "--taps": good, which: bad}
    err = _error(capsys, "sync", "--cues", files["--cues"], "--taps", files["--taps"])
    what = "cue" if which == "--cues" else "tap"
    assert f"The {what} file {bad}" in err
    assert fragment in err, err


def test_sync_missing_file_and_folder(tmp_path, capsys):
    good = _write(tmp_path / "good.txt", [0.0, 0.5])
    assert "does not exist" in _error(capsys, "sync", "--cues", str(tmp_path / "nope.txt"), "--taps", good)
    assert "is not a file" in _error(capsys, "sync", "--cues", good, "--taps", str(tmp_path))
    binary = tmp_path / "b.bin"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    assert "is not a text file" in _error(capsys, "sync", "--cues", good, "--taps", str(binary))


def test_sync_missing_option_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["analyze", "sync", "--cues", "x.txt"])
    assert exc.value.code == 2
    assert "--taps" in capsys.readouterr().err


# --- the reader itself --------------------------------------------------------


def test_read_times_accepts_the_documented_forms(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("\ufeff# header\n\n0\n  .25\t# quarter\n5e-1\n+1\n1.50000\n\n")
    np.testing.assert_array_equal(read_times(path, "tap"), [0.0, 0.25, 0.5, 1.0, 1.5])
    (tmp_path / "crlf.txt").write_bytes(b"0.1\r\n0.2\r\n")
    np.testing.assert_array_equal(read_times(tmp_path / "crlf.txt", "tap"), [0.1, 0.2])


def test_read_times_error_is_a_config_error_and_a_value_error(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("0.2\n0.1\n")
    with pytest.raises(ConfigError) as exc:
        read_times(path, "call")
    assert isinstance(exc.value, ValueError)
    assert str(exc.value).startswith(f"The call file {path}, line 2,")
    assert str(exc.value).count(". ") == 0 and str(exc.value).endswith(".")  # one sentence


# --- analyze imitation --------------------------------------------------------


def test_imitation_json_and_text(tmp_path, capsys):
    call = [0.0, 0.5, 1.0, 1.25]
    response = [2.5, 3.0, 3.5, 3.75]
    call_file = _write(tmp_path / "call.txt", call)
    resp_file = _write(tmp_path / "resp.txt", response)
    code, out, err = _cli(capsys, "imitation", "--call", call_file, "--response", resp_file, "--json")
    assert code == 0 and err == ""
    d = json.loads(out)
    assert d == json.loads(json.dumps(score_imitation(np.array(call), np.array(response)).to_dict()))
    assert d["response_present"] is True
    code, out, _ = _cli(capsys, "imitation", "--call", call_file, "--response", resp_file)
    assert code == 0 and out.startswith(f"call: {call_file}, response: {resp_file}")
    assert "response_present: True" in out


def test_imitation_bad_file(tmp_path, capsys):
    call_file = _write(tmp_path / "call.txt", [0.0, 0.5])
    resp_file = _write(tmp_path / "resp.txt", ["1.0", "0.9"])
    err = _error(capsys, "imitation", "--call", call_file, "--response", resp_file)
    assert f"The response file {resp_file}, line 2," in err
