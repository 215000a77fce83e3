"""What a therapist relies on in the shipped songs: ranges, lengths, melodies and objectives.

These check the *content* of ``content/songs/`` (the hello, goodbye, keyboard-echo and
drum-conversation scripts), not the engine: that melodies lie where a child can sing
or reach them, that calls and turns are a comfortable length at every tempo the
script can reach, and that every objective names a metric the song's kind produces.
"""

from pathlib import Path

import pytest

from engine.audio.soundbank import parse_note
from engine.interventions.script import METRICS, load_script

SONGS_DIR = Path(__file__).resolve().parents[1] / "content" / "songs"
NEW_SONGS = ("hello", "goodbye", "keyboard-echo", "drum-conversation")

#: Which family of metrics each kind's trials are scored with (engine.interventions.kinds).
KIND_METRICS = {
    "call_and_response": METRICS["imitation"],
    "turn_taking": METRICS["turns"],
    "rhythmic_cueing": METRICS["sync"],
}

C4, C5 = parse_note("C4"), parse_note("C5")
WHITE_KEYS = {0, 2, 4, 5, 7, 9, 11}  # pitch classes of the white keys
SINGABLE = (parse_note("A3"), parse_note("D5"))  # about an octave around C4-C5, with a step either side
MIN_TURN_S, MAX_TURN_S = 2.0, 4.0


def song(name):
    return load_script(SONGS_DIR / f"{name}.toml")


def tempo_range(script):
    """The slowest and fastest tempo the script can reach (its [adapt] bounds, else its tempo)."""
    a = script.adaptation
    if a is None or a.tempo_step_pct == 0:
        return script.tempo_bpm, script.tempo_bpm
    return a.min_tempo_bpm, a.max_tempo_bpm


def out_of_range(pitches, lo, hi):
    """The pitches outside lo..hi (MIDI notes)."""
    return [p for p in pitches if not lo <= p <= hi]


def intervals(pitches):
    return [b - a for a, b in zip(pitches, pitches[1:])]


def is_stepwise(pitches):
    """Every move to a neighbouring white key (a tone or a semitone) or a repeat."""
    return all(abs(d) <= 2 for d in intervals(pitches))


def seconds(beats, bpm):
    return beats * 60.0 / bpm


# --------------------------------------------------------------------------
# The checks themselves can fail: they flag content that is wrong.


def test_the_helpers_flag_bad_content():
    assert out_of_range([parse_note("C3"), C4, parse_note("A5")], *SINGABLE) == [parse_note("C3"),
                                                                               parse_note("A5")]
    assert is_stepwise([60, 62, 64]) and not is_stepwise([60, 64, 67])
    assert seconds(4, 60) == 4.0 and seconds(4, 120) == 2.0


# --------------------------------------------------------------------------
# Every new song


@pytest.mark.parametrize("name", NEW_SONGS)
def test_song_loads_with_a_title_and_a_description(name):
    script = song(name)
    assert script.title and script.description
    assert script.trials is not None and script.duration_min is None


@pytest.mark.parametrize("name", NEW_SONGS)
def test_objectives_use_metrics_the_songs_kind_measures(name):
    script = song(name)
    family = KIND_METRICS[script.kind]
    assert script.objectives
    for o in script.objectives:
        assert o.metric in family, f"{name}: objective {o.id} uses {o.metric}, not a {script.kind} metric"


@pytest.mark.parametrize("name", NEW_SONGS)
def test_k_of_n_objectives_can_be_judged_within_one_session(name):
    script = song(name)
    for o in script.objectives:
        if o.criterion.startswith("k_of_n"):
            assert o.n <= script.trials, f"{name}: {o.id} needs {o.n} trials, the song has {script.trials}"


@pytest.mark.parametrize("name", NEW_SONGS)
def test_each_call_or_turn_is_two_to_four_seconds_at_every_reachable_tempo(name):
    script = song(name)
    slow, fast = tempo_range(script)
    for p in script.phrases:
        longest, shortest = seconds(p.length_beats, slow), seconds(p.length_beats, fast)
        assert MIN_TURN_S <= shortest and longest <= MAX_TURN_S, (name, p.name, shortest, longest)


@pytest.mark.parametrize("name", ["hello", "goodbye", "keyboard-echo"])
def test_melodic_songs_play_their_melodies_on_a_pitched_instrument(name):
    script = song(name)
    assert script.instruments.cue.startswith("program:")
    assert all(p.notation == "melody" and p.pitches for p in script.phrases)


# --------------------------------------------------------------------------
# Hello and goodbye


@pytest.mark.parametrize("name", ["hello", "goodbye"])
def test_greetings_are_calm_short_turn_taking_songs_answered_by_voice_or_pad(name):
    script = song(name)
    assert script.kind == "turn_taking"
    assert 70 <= script.tempo_bpm <= 96
    assert script.trials <= 6
    assert script.inputs.source == "both"
    assert {o.metric for o in script.objectives} >= {"waited", "initiated"}


@pytest.mark.parametrize("name", ["hello", "goodbye"])
def test_greeting_melodies_are_singable(name):
    script = song(name)
    pitches = [n for p in script.phrases for n in p.pitches]
    pitches += [n for n, _ in script.prompts.lead_in]
    assert out_of_range(pitches, *SINGABLE) == []
    for p in script.phrases:
        assert max(p.pitches) - min(p.pitches) <= 12, p.name  # within an octave
        assert all(abs(d) <= 7 for d in intervals(p.pitches)), p.name  # no leap beyond a fifth


def test_hello_opens_with_the_two_note_hello_call():
    first = song("hello").phrases[0]
    # "Hel-lo, hel-lo": one falling pair, sung twice.
    assert len(first.pitches) == 4
    assert first.pitches[:2] == first.pitches[2:] and first.pitches[0] > first.pitches[1]


def test_goodbye_melodies_fall_and_differ_from_the_hello_melodies():
    hello = {p.pitches for p in song("hello").phrases}
    for p in song("goodbye").phrases:
        assert all(d < 0 for d in intervals(p.pitches)), f"{p.name} does not fall all the way"
        assert p.pitches not in hello


# --------------------------------------------------------------------------
# Keyboard echo


def test_keyboard_echo_listens_to_five_white_keys_from_middle_c():
    script = song("keyboard-echo")
    assert script.kind == "call_and_response" and script.inputs.source == "midi"
    keys = script.inputs.keys
    assert keys and all(k % 12 in WHITE_KEYS for k in keys)
    assert min(keys) == C4 and max(keys) <= parse_note("G4")


def test_keyboard_echo_calls_are_three_notes_on_the_allowed_keys():
    script = song("keyboard-echo")
    keys = set(script.inputs.keys)
    for p in script.phrases:
        assert len(p.pitches) == 3, p.name
        assert set(p.pitches) <= keys, f"{p.name} uses a key the child may not play"
    # Adaptation must not lengthen or cut the calls: they stay three notes.
    assert script.adaptation is not None and script.adaptation.length_step == 0


def test_keyboard_echo_goes_from_steps_to_leaps():
    kinds = ["step" if is_stepwise(p.pitches) else "leap" for p in song("keyboard-echo").phrases]
    assert "step" in kinds and "leap" in kinds
    assert kinds == sorted(kinds, key=["step", "leap"].index), kinds  # every stepwise call before the leaps


def test_keyboard_echo_measures_correct_echoes_and_latency():
    metrics = {o.metric for o in song("keyboard-echo").objectives}
    assert {"correct", "response_latency_ms"} <= metrics


# --------------------------------------------------------------------------
# Drum conversation


def test_drum_conversation_is_a_rhythm_turn_taking_song_on_a_pad():
    script = song("drum-conversation")
    assert script.kind == "turn_taking" and script.inputs.source == "midi"
    assert script.instruments.cue.startswith("drum:")
    assert all(p.notation == "rhythm" and len(p.onsets_beats) >= 3 for p in script.phrases)
    # The child's pad sounds different from the engine's drum, so the two voices are told apart.
    assert script.instruments.feedback != script.instruments.cue


def test_drum_conversation_measures_waiting_starting_and_turn_length():
    metrics = {o.metric for o in song("drum-conversation").objectives}
    assert {"waited", "initiated", "turn_length_notes"} <= metrics
