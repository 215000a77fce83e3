"""Intervention scripts: notation, loading, one-sentence errors with file:line, the schema, `tandem validate`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile

from engine.cli import main
from engine.interventions.notation import NotationError, parse_melody, parse_rhythm
from engine.interventions.schema import script_schema
from engine.interventions.script import (
    FIELDS,
    KIND_METRICS,
    KIND_TABLES,
    KINDS,
    METRICS,
    ScriptError,
    load_script,
)
from tests.fixture_files import FIXTURES, objective_text, script_text

SONGS = Path(__file__).resolve().parents[1] / "content" / "songs"

# Line numbers matter: the malformed cases below edit these lines and assert them.
BASE = """\
title = "Test echo"
kind = "call_and_response"
tempo_bpm = 100
meter = "4/4"
grid = "1/8"
trials = 5

[instruments]
cue = "drum:hi_bongo"
feedback = "drum:low_bongo"

[input]
source = "both"
pads = ["acoustic_snare", 36]

[[phrases]]
rhythm = "x.x.xx.."

[[phrases]]
melody = "C4 E4 G4:2"

[[objectives]]
id = "echo"
metric = "correct"
criterion = "k_of_n"
k = 4
n = 5
comparator = "=="
threshold = true
"""


def _write(tmp_path: Path, text: str, name: str = "echo.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


def _edit(line: int, new: str | None) -> str:
    """BASE with 1-based ``line`` replaced by ``new`` (None: deleted)."""
    lines = BASE.splitlines()
    assert lines[line - 1].strip()
    if new is None:
        del lines[line - 1]
    else:
        lines[line - 1] = new
    return "\n".join(lines) + "\n"


def _problems(tmp_path: Path, text: str) -> tuple[str, ...]:
    path = _write(tmp_path, text)
    with pytest.raises(ScriptError) as info:
        load_script(path)
    return info.value.problems


# --------------------------------------------------------------------------
# Notation, worked by hand


@pytest.mark.parametrize(("text", "grid", "meter", "onsets"), [
    ("x.x.xx..", "1/8", "4/4", [0.0, 1.0, 2.0, 2.5]),         # eighths: 0.5 beat a step
    ("x..x..", "1/8", "6/8", [0.0, 3.0]),                      # in 6/8 the beat is the eighth
    ("x-x. | X...", "1/16", "2/4", [0.0, 0.5, 1.0]),           # sixteenths: 0.25 beat; bar line ignored
    ("xxx.........", "1/12", "4/4", [0.0, 1 / 3, 2 / 3]),      # eighth-note triplets
    ("x.......x.......", "1/8", "4/4", [0.0, 4.0]),            # two bars
    ("xxxx", "1/4", "4/4", [0.0, 1.0, 2.0, 3.0]),
    ("x.x", "1/4", "3/4", [0.0, 2.0]),
])
def test_parse_rhythm(text, grid, meter, onsets):
    assert parse_rhythm(text, grid, meter) == pytest.approx(onsets)


@pytest.mark.parametrize(("text", "grid", "meter", "says"), [
    ("x.o.xx..", "1/8", "4/4", "'o'"),
    ("x.x.xx.", "1/8", "4/4", "has 7 steps, but a bar of 4/4 on a 1/8 grid has 8"),
    ("x.x.xx..", "1/5", "4/4", "not a grid"),
    ("........", "1/8", "4/4", "no hit"),
    ("-x......", "1/8", "4/4", "starts with a hold"),
    ("x.x.", "1/4", "4/5", "not a meter"),
    ("x.x", "1/2", "3/4", "does not divide a bar"),
])
def test_parse_rhythm_errors(text, grid, meter, says):
    with pytest.raises(NotationError, match=re.escape(says)):
        parse_rhythm(text, grid, meter)


def test_parse_melody():
    assert parse_melody("C4 E4 G4:2") == [(60, 1.0), (64, 1.0), (67, 2.0)]
    assert parse_melody(" F#3:1/2  Bb4:0.5 A4 ") == [(54, 0.5), (70, 0.5), (69, 1.0)]


@pytest.mark.parametrize(("text", "says"), [
    ("C4 H4 G4", "'H4' is not a note name"),
    ("C4:0", "above 0"),
    ("C4:x", "above 0"),
    ("", "is empty"),
    ("60 62", "is a number"),
    ("C10", "not a note name"),
])
def test_parse_melody_errors(text, says):
    with pytest.raises(NotationError, match=re.escape(says)):
        parse_melody(text)


# --------------------------------------------------------------------------
# Loading valid scripts


def test_base_script_loads_to_the_right_values(tmp_path):
    s = load_script(_write(tmp_path, BASE))
    assert (s.title, s.kind, s.tempo_bpm, s.meter, s.grid, s.trials) == (
        "Test echo", "call_and_response", 100.0, (4, 4), "1/8", 5)
    assert s.duration_min is None and s.adaptation is None
    assert (s.instruments.cue, s.instruments.feedback) == ("drum:hi_bongo", "drum:low_bongo")
    assert (s.inputs.source, s.inputs.pads, s.inputs.keys) == ("both", (38, 36), ())
    rhythm, melody = s.phrases
    assert (rhythm.notation, rhythm.onsets_beats, rhythm.length_beats) == ("rhythm", (0.0, 1.0, 2.0, 2.5), 4.0)
    assert (melody.onsets_beats, melody.pitches, melody.length_beats) == ((0.0, 1.0, 2.0), (60, 64, 67), 4.0)
    assert rhythm.name == "phrase 1"
    (objective,) = s.objectives
    assert (objective.id, objective.metric, objective.k, objective.n, objective.threshold) == (
        "echo", "correct", 4, 5, 1.0)
    assert (s.prompts.count_in_beats, s.prompts.your_turn_visual, s.prompts.lead_in) == (4, True, ())


def test_shipped_echo_drums_values():
    s = load_script(SONGS / "echo-drums.toml")
    assert (s.kind, s.tempo_bpm, s.trials, s.inputs.source) == ("call_and_response", 90.0, 10, "both")
    assert [p.onsets_beats for p in s.phrases][2] == (0.0, 1.0, 2.0, 2.5)
    assert (s.adaptation.up_after, s.adaptation.down_after, s.adaptation.length_step) == (3, 2, 1)
    assert [o.id for o in s.objectives] == ["echo-rhythm", "responds-quickly"]
    assert s.objectives[0].counted_prompts == ("independent", "gestural")


def test_shipped_march_values():
    s = load_script(SONGS / "steady-beat-march.toml")
    assert (s.kind, s.tempo_bpm, s.trials, s.duration_min) == ("rhythmic_cueing", 80.0, None, 3.0)
    assert s.phrases[0].onsets_beats == (0.0, 1.0, 2.0, 3.0)
    assert (s.adaptation.tempo_step_pct, s.adaptation.min_tempo_bpm, s.adaptation.max_tempo_bpm) == (5.0, 60.0, 120.0)
    assert s.prompts.lead_in == ((60, 1.0), (64, 1.0), (67, 1.0), (72, 2.0))
    assert s.inputs.pads == (36, 38)


def test_every_shipped_song_validates():
    songs = sorted(SONGS.glob("*.toml"))
    assert len(songs) >= 2
    for song in songs:
        assert load_script(song).title


def test_the_shared_test_scripts_validate(capsys):
    """The fixtures other tests vary (tests/fixture_files.py): each variant starts from a valid script."""
    scripts = sorted((FIXTURES / "scripts").glob("*.toml"))
    assert len(scripts) >= 3
    assert main(["validate", *map(str, scripts)]) == 0, capsys.readouterr().err


def test_optional_tables_and_sample_file(tmp_path):
    (tmp_path / "sounds").mkdir()
    # A real (short) sample: the checker reads it as the sound bank would (tests/test_bad_input.py).
    soundfile.write(tmp_path / "sounds" / "cue.wav", np.r_[np.ones(48), np.zeros(480)] * 0.5, 48_000)
    text = BASE.replace('cue = "drum:hi_bongo"', 'cue = "file:sounds/cue.wav"').replace(
        "trials = 5", "duration_min = 2.5") + """
[adapt]
up_after = 4
tempo_step_pct = 7.5

[prompts]
count_in_beats = 2
your_turn_visual = false
your_turn_sound = "click:high"
lead_in = "G4:1/2 C5"
"""
    s = load_script(_write(tmp_path, text))
    assert s.instruments.cue == f"file:{(tmp_path / 'sounds' / 'cue.wav').resolve()}"
    assert (s.trials, s.duration_min) == (None, 2.5)
    assert (s.adaptation.up_after, s.adaptation.down_after, s.adaptation.tempo_step_pct) == (4, 2, 7.5)
    assert (s.prompts.count_in_beats, s.prompts.your_turn_visual, s.prompts.your_turn_sound) == (2, False, "click:high")
    assert s.prompts.lead_in == ((67, 0.5), (72, 1.0))


def test_metrics_come_from_the_scoring_results():
    assert set(METRICS) == {"sync", "imitation", "turns", "continuation", "inhibition", "blank"}
    assert METRICS["inhibition"] == ("correct", "stopped", "played_during_go", "go_onsets", "onsets_during_stop",
                                     "stop_latency_ms")  # grace_ms is a setting
    assert METRICS["blank"] == ("correct", "filled", "blank_asynchrony_ms", "extra_onsets")
    assert set(KIND_METRICS) == set(KINDS) and set(KIND_TABLES.values()) == set(KINDS)
    assert "within_window_pct" in METRICS["sync"] and "correct" in METRICS["imitation"]
    assert "waited" in METRICS["turns"] and "continuation_iti_cv" in METRICS["continuation"]
    # A continuation field that is also a synchronisation field is prefixed (both are in one trial's scores).
    assert "drift_pct_per_interval" in METRICS["continuation"] and "iti_cv" not in METRICS["continuation"]
    assert not set(METRICS["continuation"]) & set(METRICS["sync"])
    assert "reason" not in METRICS["sync"] and "failed" not in METRICS["imitation"]


# --------------------------------------------------------------------------
# Malformed scripts: one sentence each, with the right line and field

CASES = [
    # (line edited, new text or None, expected line, field, words about what is allowed)
    (2, 'kind = "call-response"', 2, "kind",
     "'call-response' is not one of call_and_response, turn_taking, rhythmic_cueing, stop_and_go, fill_in_the_blank"),
    (17, 'rhythm = "x.o.xx.."', 17, "phrases[1].rhythm", "use only x (hit), X (accent), . (rest) and - (hold)"),
    (17, 'rhythm = "x.x.xx."', 17, "phrases[1].rhythm", "has 7 steps"),
    (20, 'melody = "C4 H4 G4"', 20, "phrases[2].melody", "'H4' is not a note name"),
    (3, "tempo_bpm = 0", 3, "tempo_bpm", "must be a number from 20 to 300 beats per minute"),
    (3, "tempo_bpm = -60", 3, "tempo_bpm", "is -60"),
    (3, "tempo_bpm = 400", 3, "tempo_bpm", "is 400"),
    (3, 'tempo_bpm = "fast"', 3, "tempo_bpm", "not the text 'fast'"),
    (9, None, 8, "instruments.cue", "is missing"),
    (9, 'cue = "drum:wood_blok"', 9, "instruments.cue", "is not a General MIDI drum"),
    (9, 'cue = "trumpet"', 9, "instruments.cue", "is not an instrument Tandem knows"),
    (9, 'cue = "program:200"', 9, "instruments.cue", "number 0-127"),
    (9, 'cue = "file:missing.wav"', 9, "instruments.cue", "does not exist"),
    (5, 'gird = "1/8"', 5, "gird", "is not a field of a script (did you mean 'grid'?)"),
    (14, 'pad = ["acoustic_snare"]', 14, "input.pad", "is not a field of [input] (did you mean 'pads'?)"),
    (24, 'metric = "corect"', 24, "objectives[1].metric", "is not a metric Tandem measures (did you mean 'correct'?)"),
    (24, 'metric = "happiness"', 24, "objectives[1].metric", "sync: "),
    (26, "k = 6", 26, "objectives[1] (echo)", "k (6) cannot be more than n (5)"),
    (29, 'threshold = "yes"', 29, "objectives[1] (echo)", "threshold must be a finite number"),
    (6, 'trials = "ten"', 6, "trials", "must be a whole number from 1 to 500"),
    (6, "trials = 2.5", 6, "trials", "not 2.5"),
    (6, "duration_min = 0", 6, "duration_min", "must be a number above 0 and at most 120 minutes"),
    (13, "source = 3", 13, "input.source", "must be one of midi, mic, both"),
    (13, 'source = "mic"', 14, "input.pads", "applies only to MIDI input"),
    (14, 'pads = ["snare"]', 14, "input.pads", "must list GM drum names"),
    (4, 'meter = "4/5"', 4, "meter", "not a meter"),
    (4, 'meter = "4/4', 4, "the TOML is not valid", "check the quotes"),
]


@pytest.mark.parametrize(("line", "new", "at", "field", "allowed"), CASES)
def test_malformed_script_gives_one_sentence(tmp_path, line, new, at, field, allowed):
    problems = _problems(tmp_path, _edit(line, new))
    assert len(problems) == 1, problems
    (problem,) = problems
    prefix = f"{tmp_path / 'echo.toml'}:{at}: {field}"
    assert problem.startswith(prefix), problem
    assert allowed in problem
    assert problem.endswith(".") and "\n" not in problem
    assert not re.search(r"(?<!e\.g)[.!?]\s+[A-Z]", problem), problem  # one sentence


def test_entry_lines_count_array_entries(tmp_path):
    text = BASE.replace('melody = "C4 E4 G4:2"', 'melody = "C4 E4 G4:2"\n\n[[phrases]]\nrhythm = "xx"')
    (problem,) = _problems(tmp_path, text)
    assert problem.startswith(f"{tmp_path / 'echo.toml'}:23: phrases[3].rhythm")


def test_missing_required_fields_without_a_line(tmp_path):
    problems = _problems(tmp_path, 'title = "x"\nkind = "turn_taking"\n')
    shown = str(tmp_path / "echo.toml")
    assert any(p.startswith(f"{shown}: tempo_bpm is missing") for p in problems)
    assert any(p.startswith(f"{shown}: instruments is missing") for p in problems)
    assert any(p.startswith(f"{shown}: phrases are missing") for p in problems)
    assert any(p.startswith(f"{shown}: trials are missing") for p in problems)


def test_several_problems_are_all_reported(tmp_path):
    text = _edit(2, 'kind = "echo"').replace("tempo_bpm = 100", "tempo_bpm = 0")
    problems = _problems(tmp_path, text)
    assert [p.split(": ")[0].rsplit(":", 1)[1] for p in problems] == ["2", "3"]


def test_trials_and_duration_together(tmp_path):
    (problem,) = _problems(tmp_path, _edit(6, "trials = 5\nduration_min = 3"))
    assert problem.startswith(f"{tmp_path / 'echo.toml'}:7: duration_min cannot be given together with trials")


def test_adapt_range_excludes_tempo(tmp_path):
    text = BASE + "\n[adapt]\nmin_tempo_bpm = 110\nmax_tempo_bpm = 140\n"
    (problem,) = _problems(tmp_path, text)
    assert problem.startswith(f"{tmp_path / 'echo.toml'}:3: tempo_bpm (100) must lie within")


def test_missing_file(tmp_path):
    with pytest.raises(ScriptError, match="does not exist"):
        load_script(tmp_path / "nope.toml")


# --------------------------------------------------------------------------
# The schema


def test_schema_matches_the_loader():
    schema = script_schema()
    json.dumps(schema)
    props = schema["properties"]
    assert list(props) == list(FIELDS["script"])
    assert props["kind"]["enum"] == list(KINDS)
    for table in ("instruments", "input", "adapt", "prompts", *KIND_TABLES):
        assert list(props[table]["properties"]) == list(FIELDS[table]), table
    assert list(props["phrases"]["items"]["properties"]) == list(FIELDS["phrases"])
    assert list(props["objectives"]["items"]["properties"]) == list(FIELDS["objectives"])
    assert "correct" in props["objectives"]["items"]["properties"]["metric"]["enum"]


def test_docs_explain_every_field():
    docs = (Path(__file__).resolve().parents[1] / "docs" / "scripts.md").read_text("utf-8")
    prose = docs.split("## The JSON Schema", 1)[0]  # the schema itself names every field too
    for table, names in FIELDS.items():
        for name in names:
            assert f"`{name}`" in prose or f"[{name}]" in prose, (table, name)
    for kind in KINDS:
        assert f"`{kind}`" in prose


# --------------------------------------------------------------------------
# The kinds' own tables, the blank, objectives the kind measures

def kind_script(kind: str, table: str) -> str:
    """The minimal script of ``kind`` with ``table`` from its line 11 (the cases below assert those lines)."""
    return script_text("minimal", kind=kind) + table + "\n"


KIND_CASES = [
    # (kind, text from line 11, expected line, field, words)
    ("turn_taking", "[turns]\ngap_s = 0", 12, "turns.gap_s", "is 0, but it must be a number from 0.3 to 10 seconds"),
    ("turn_taking", "[turns]\ngap = 1", 12, "turns.gap", "is not a field of [turns] (did you mean 'gap_s'?)"),
    ("turn_taking", "[turns]\nmax_s = 100", 12, "turns.max_s", "from 1 to 60 seconds"),
    ("turn_taking", '[turns]\nanswers = ["echo", "repeat"]', 12, "turns.answers",
     "has 'repeat', but the answers are echo, variation, next"),
    ("turn_taking", "[turns]\nanswers = []", 12, "turns.answers", "must be a list of echo, variation, next"),
    ("turn_taking", '[turns]\nanswers = ["echo", "echo"]', 12, "turns.answers", "names an answer twice"),
    ("rhythmic_cueing", "[cueing]\nfree_play_s = 5", 12, "cueing.free_play_s",
     "must be 0 (no free play) or at least 8 seconds"),
    ("rhythmic_cueing", "[cueing]\nwindow_ms = 500", 12, "cueing.window_ms", "is 500, but it must be a number from 20"),
    ("rhythmic_cueing", '[cueing]\nentrain_pct = "high"', 12, "cueing.entrain_pct", "not the text 'high'"),
    ("call_and_response", "[response]\nrequire_pitch = 1", 12, "response.require_pitch", "must be true or false"),
    ("call_and_response", "[response]\nwindow_s = 0.1", 12, "response.window_s", "from 0.5 to 30 seconds"),
    ("stop_and_go", "[stop_and_go]\ngo_bars = [4, 2]", 12, "stop_and_go.go_bars", "must have its low end first"),
    ("stop_and_go", "[stop_and_go]\ngo_bars = 2.5", 12, "stop_and_go.go_bars",
     "must be a whole number or a [low, high] range of whole numbers from 1 to 32 bars"),
    ("stop_and_go", "[stop_and_go]\ngo_bars = [1, 2, 3]", 12, "stop_and_go.go_bars", "not a list"),
    ("stop_and_go", "[stop_and_go]\nstop_s = 0.5", 12, "stop_and_go.stop_s", "is 0.5, but it must be"),
    ("stop_and_go", "[stop_and_go]\nstop_s = 1\ngrace_ms = 1000", 12, "stop_and_go.stop_s",
     "must be longer than the grace (1000 ms)"),
    ("stop_and_go", "[stop_and_go]\ngrace_ms = -5", 12, "stop_and_go.grace_ms", "from 0 to 1000 ms"),
    ("fill_in_the_blank", "[fill_in_the_blank]\nwindow_beats = 0", 12, "fill_in_the_blank.window_beats",
     "must be a number above 0 and at most 0.5 beats"),
    ("call_and_response", "[turns]\ngap_s = 1", 11, "[turns]",
     "applies only to turn_taking scripts, but this is a call_and_response script (its table is [response])"),
    ("fill_in_the_blank", "[stop_and_go]\nstop_s = 2", 11, "[stop_and_go]", "applies only to stop_and_go scripts"),
    ("fill_in_the_blank", "blank = 9", 11, "phrases[1].blank",
     "is 9, but it must be a whole number from 1 to 4 (which note of the 4 the child plays"),
    ("fill_in_the_blank", 'blank = "last"', 11, "phrases[1].blank", "must be a whole number from 1 to 4"),
    ("call_and_response", "blank = 2", 11, "phrases[1].blank", "applies only to fill_in_the_blank scripts"),
    ("call_and_response", objective_text("b", "within_window_pct"), 13, "objectives[1].metric",
     "'within_window_pct' is not measured in a call_and_response script; its metrics are "),
    ("stop_and_go", objective_text("b", "filled"), 13, "objectives[1].metric",
     "is not measured in a stop_and_go script; its metrics are correct, stopped, played_during_go"),
    ("rhythmic_cueing", objective_text("b", "drift_pct_per_interval"), 13, "objectives[1].metric",
     ("'drift_pct_per_interval' is a continuation metric, measured only in the synchronisation-continuation "
      "variant; give [cueing] continuation_beats above 0")),
]


@pytest.mark.parametrize(("kind", "table", "at", "field", "words"), KIND_CASES)
def test_malformed_kind_fields_give_one_sentence(tmp_path, kind, table, at, field, words):
    problems = _problems(tmp_path, kind_script(kind, table))
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{tmp_path / 'echo.toml'}:{at}: {field} "), problems[0]
    assert words in problems[0] and problems[0].endswith(".") and "\n" not in problems[0]


def test_a_fill_phrase_needs_two_notes(tmp_path):
    text = kind_script("fill_in_the_blank", "").replace('"x.x.x.x."', '"x......."')
    (problem,) = _problems(tmp_path, text)
    assert ":10: phrases[1].rhythm has one note, but a fill_in_the_blank phrase needs at least two" in problem


def test_kind_tables_load_as_the_kinds_options(tmp_path):
    def load(kind, table):
        return load_script(_write(tmp_path, kind_script(kind, table)))

    turns = load("turn_taking", '[turns]\ngap_s = 2\nmax_s = 8\ninitiate_within_s = 4\ngrace_s = 0\n'
                                'answers = ["next", "echo"]')
    assert turns.options == {"turn_gap_s": 2.0, "max_turn_s": 8.0, "initiate_window_s": 4.0, "grace_s": 0.0,
                             "answers": ("next", "echo")}
    assert load("rhythmic_cueing", "[cueing]\nfree_play_s = 20\nentrain_pct = 75").options == {
        "free_play": True, "free_play_s": 20.0, "criterion_pct": 75.0}
    assert load("rhythmic_cueing", "[cueing]\nfree_play_s = 0").options == {"free_play": False}
    assert load("stop_and_go", "[stop_and_go]\ngo_bars = 3\nstop_s = [2, 4.5]").options == {
        "go_bars": (3, 3), "stop_s": (2.0, 4.5)}
    fill = load("fill_in_the_blank", "blank = 2\n[fill_in_the_blank]\nwindow_beats = 0.25")
    assert fill.options == {"window_beats": 0.25} and fill.phrases[0].blank == 1
    assert load("fill_in_the_blank", "").phrases[0].blank == 3  # the last note by default
    assert load("call_and_response", "").options == {} and load("call_and_response", "").phrases[0].blank is None


def test_shipped_new_kind_songs():
    sg = load_script(SONGS / "stop-and-go.toml")
    assert sg.kind == "stop_and_go" and sg.options == {"go_bars": (2, 4), "stop_s": (2.0, 4.0), "grace_ms": 400.0}
    fb = load_script(SONGS / "fill-in-the-blank.toml")
    assert fb.kind == "fill_in_the_blank" and fb.inputs.source == "both" and fb.instruments.cue == "program:0"
    assert [p.blank for p in fb.phrases] == [6, 6] and all(len(p.onsets_beats) == 7 for p in fb.phrases)


# --------------------------------------------------------------------------
# tandem validate


def test_cli_validate_ok(capsys):
    rc = main(["validate", str(SONGS / "echo-drums.toml"), str(SONGS / "steady-beat-march.toml")])
    out = capsys.readouterr().out.splitlines()
    assert rc == 0
    assert out == [
        f"ok: {SONGS / 'echo-drums.toml'} (Echo drums, call_and_response, 10 trials, 2 objectives)",
        f"ok: {SONGS / 'steady-beat-march.toml'} (Steady-beat march, rhythmic_cueing, 3 min, 2 objectives)",
    ]


def test_cli_validate_errors_exit_2_without_traceback(tmp_path, capsys):
    bad = _write(tmp_path, _edit(2, 'kind = "call-response"'), "bad.toml")
    worse = _write(tmp_path, "title = [", "worse.toml")
    rc = main(["validate", str(SONGS / "echo-drums.toml"), str(bad), str(worse)])
    captured = capsys.readouterr()
    assert rc == 2
    assert captured.out.startswith("ok: ")
    err = captured.err.splitlines()
    assert len(err) == 2
    assert err[0].startswith(f"tandem: {bad}:2: kind 'call-response' is not one of")
    assert err[1].startswith(f"tandem: {worse}:1: the TOML is not valid")
    assert "Traceback" not in captured.err


def test_cli_validate_schema(capsys):
    assert main(["validate", "--schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["properties"]["kind"]["enum"] == list(KINDS)


def test_cli_validate_needs_a_script(capsys):
    assert main(["validate"]) == 2
    assert "Name at least one script" in capsys.readouterr().err


def test_docs_carry_the_current_schema():
    docs = (Path(__file__).resolve().parents[1] / "docs" / "scripts.md").read_text("utf-8")
    block = docs.split("```json\n", 1)[1].split("\n```", 1)[0]
    assert json.loads(block) == script_schema()
