"""The therapist's marks during a session: notes and prompt levels, from the log to the report."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from engine.events import MarkEvent
from engine.records.reader import read_log
from engine.reports import build_report
from engine.simulation.demo import run_demo


@pytest.fixture(autouse=True)
def private_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("TANDEM_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("TANDEM_CACHE", str(tmp_path / "cache"))


def _session_with_marks(tmp_path: Path) -> Path:
    """A demo session's log with the therapist's marks added before its summary line, as a live session logs them."""
    s = run_demo(Path("content/songs/echo-drums.toml"), root=tmp_path / "out", child_id="C07",
                 model="steady", max_trials=3, echo=None)[0]
    log = Path(s["folder"]) / "events.jsonl"
    lines = log.read_text().splitlines()
    marks = [MarkEvent(frame=48_000 * 3, key="p", action="prompt", text="verbal", trial=2),
             MarkEvent(frame=48_000 * 5 + 24_000, key="m", action="note", text="Looked at the drum, then played.",
                       trial=2),
             MarkEvent(frame=48_000 * 7, key="x", action="none"),
             MarkEvent(frame=48_000 * 65, key="m", action="note", text="Tired <b>after</b> 1 min & asked to stop.")]
    log.write_text("\n".join(lines[:-1] + [json.dumps(m.to_dict()) for m in marks] + lines[-1:]) + "\n")
    return log


def test_notes_are_read_back_with_their_time_and_trial(tmp_path):
    rec = read_log(_session_with_marks(tmp_path))
    assert [dataclasses.astuple(n) for n in rec.notes] == [
        (5.5, 2, "Looked at the drum, then played."), (65.0, -1, "Tired <b>after</b> 1 min & asked to stop.")]


def test_notes_are_in_the_session_note_and_the_json_escaped(tmp_path):
    rec = read_log(_session_with_marks(tmp_path))
    out = tmp_path / "report"
    build_report("C07", [rec], None, formats=["html", "json"], out_dir=out, include_simulated=True)  # a demo's log
    html = (out / "report.html").read_text("utf-8")
    assert "Noted during the visit:" in html
    assert "6 s in · trial 2:</span> Looked at the drum, then played." in html
    assert "1 min 5 s in:</span> Tired &lt;b&gt;after&lt;/b&gt; 1 min &amp; asked to stop." in html
    doc = json.loads((out / "report.json").read_text("utf-8"))
    assert doc["sessions"][0]["notes"] == [
        {"t_s": 5.5, "trial": 2, "text": "Looked at the drum, then played."},
        {"t_s": 65.0, "trial": None, "text": "Tired <b>after</b> 1 min & asked to stop."}]
