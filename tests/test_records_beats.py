"""Asynchrony per beat, read back from a session log, agrees with what each trial scored."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from engine.records.beats import beat_asynchronies
from engine.simulation.demo import run_demo

MARCH = Path("content/songs/steady-beat-march.toml")


@pytest.fixture(autouse=True)
def private_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("TANDEM_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("TANDEM_CACHE", str(tmp_path / "cache"))


def test_per_beat_asynchronies_are_the_trials_own(tmp_path):
    s = run_demo(MARCH, root=tmp_path / "out", model="early", max_trials=4, echo=None, seed=2)[0]
    beats = beat_asynchronies(Path(s["folder"]))
    assert beats is not None
    k = 0
    for t in s["trials"]:
        sc = t["scores"]
        n = sc["matched"] + sc["missed"]
        mine = beats[k:k + n]
        k += n
        hit = [a for a in mine if a is not None]
        assert len(hit) == sc["matched"]
        assert statistics.fmean(hit) == pytest.approx(sc["asynchrony_mean_ms"], abs=1e-9)
    assert k == len(beats) == 16  # four bars of four beats, each scored once


def test_other_kinds_have_none_and_a_changed_script_changes_nothing(tmp_path):
    echo = run_demo(Path("content/songs/echo-drums.toml"), root=tmp_path / "o", max_trials=1, echo=None)[0]
    assert beat_asynchronies(Path(echo["folder"])) is None
    copy = tmp_path / "march.toml"
    copy.write_text(MARCH.read_text())
    s = run_demo(copy, root=tmp_path / "p", max_trials=1, echo=None)[0]
    ran = beat_asynchronies(Path(s["folder"]))
    assert ran
    copy.write_text(MARCH.read_text() + "\n# edited\n")  # not the script that ran any more ...
    assert beat_asynchronies(Path(s["folder"])) == ran  # ... but the log holds the one that did
    copy.unlink()
    assert beat_asynchronies(Path(s["folder"])) == ran
