"""The JSON Schema of an intervention script (for editors and other tools).

Hand-written from the same constants the loader checks against, so the two
cannot drift apart on field names, kinds or metrics. The schema describes
shape and ranges; the loader checks more (rhythm lengths against the meter,
note names, sample files, exactly one of rhythm/melody/beats) and is the
authority: ``tandem validate`` uses the loader, not the schema.
"""

from __future__ import annotations

from typing import Any

from engine.audio.soundbank import GM_PERCUSSION
from engine.interventions.notation import GRIDS
from engine.interventions.script import (
    ALL_METRICS,
    ANSWERS,
    BLANK_WINDOW_BEATS,
    CONTINUATION_BEATS,
    CUEING_WINDOW_MS,
    DEFAULT_SYNC_BARS,
    FIELDS,
    FREE_PLAY_S,
    GO_BARS,
    KINDS,
    MAX_COUNT_IN,
    MAX_DESCRIPTION,
    MAX_DURATION_MIN,
    MAX_LEAD_IN_NOTES,
    MAX_NOTE_LIST,
    MAX_OBJECTIVE_ID,
    MAX_OBJECTIVES,
    MAX_PHRASE_BEATS,
    MAX_PHRASE_NOTES,
    MAX_PHRASE_TEXT,
    MAX_PHRASES,
    MAX_SOUND_TEXT,
    MAX_TEMPO_BPM,
    MAX_TEMPO_STEP_PCT,
    MAX_TEXT,
    MAX_TRIALS,
    MIN_TEMPO_BPM,
    RESPONSE_WINDOW_S,
    SOURCES,
    STOP_GRACE_RANGE_MS,
    STOP_S,
    SYNC_BARS,
    TURN_GAP_S,
    TURN_GRACE_S,
    TURN_INITIATE_S,
    TURN_MAX_S,
)
from engine.scoring.blanks import DEFAULT_WINDOW_BEATS
from engine.scoring.inhibition import STOP_GRACE_MS
from engine.scoring.objectives import (
    AGGREGATES,
    COMPARATORS,
    CRITERIA,
    DEFAULT_MIN_TRIALS,
    LEVEL_BOUNDS,
    PROMPT_LEVELS,
)

__all__ = ["script_schema"]

_SOUND_PATTERN = (r"^(midi_out|click(:high|:low)?|tone|noise_drum|drum:([a-z0-9_]+)|"
                  r"program:([0-9]|[1-9][0-9]|1[01][0-9]|12[0-7])|file:.+)$")


def _obj(fields: str, properties: dict[str, Any], required: list[str], description: str) -> dict[str, Any]:
    # Field order follows the loader's FIELDS; tests check the two name the same fields.
    properties = {name: properties[name] for name in FIELDS[fields] if name in properties}
    return {"type": "object", "description": description, "properties": properties, "required": required,
            "additionalProperties": False}


def script_schema() -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) of the script format, as a dict ready for :func:`json.dumps`."""
    tempo = {"type": "number", "minimum": MIN_TEMPO_BPM, "maximum": MAX_TEMPO_BPM}
    melody = {"type": "string", "pattern": r"^\s*([A-Ga-g][#b]?-?\d+(:[0-9./]+)?\s*)+$",
              "maxLength": MAX_PHRASE_TEXT,
              "description": "note names with optional lengths in beats, e.g. \"C4 E4 G4:2\""}
    sound = {"type": "string", "pattern": _SOUND_PATTERN, "maxLength": MAX_SOUND_TEXT}
    drum_or_note = {"anyOf": [{"type": "integer", "minimum": 0, "maximum": 127},
                              {"type": "string", "enum": sorted(GM_PERCUSSION.values())}]}
    key_or_note = {"anyOf": [{"type": "integer", "minimum": 0, "maximum": 127},
                             {"type": "string", "pattern": r"^[A-Ga-g][#b]?-?\d+$"}]}
    objective = _obj("objectives", {
        "id": {"type": "string", "minLength": 1, "maxLength": MAX_OBJECTIVE_ID},
        "metric": {"type": "string", "enum": sorted(ALL_METRICS)},
        "comparator": {"type": "string", "enum": list(COMPARATORS)},
        "threshold": {"type": ["number", "boolean"]},
        "criterion": {"type": "string", "enum": list(CRITERIA), "default": "aggregate"},
        "aggregate": {"type": "string", "enum": list(AGGREGATES)},
        "k": {"type": "integer", "minimum": 1},
        "n": {"type": "integer", "minimum": 1},
        "sessions": {"type": "integer", "minimum": 1, "default": 3},
        "counted_prompts": {"type": "array", "items": {"enum": list(PROMPT_LEVELS)}, "minItems": 1},
        "max_prompt": {"type": "string", "enum": list(PROMPT_LEVELS)},
        "min_trials": {"type": "integer", "minimum": 1, "default": DEFAULT_MIN_TRIALS,
                       "description": "aggregate criterion only: the fewest counted trials a session is judged on"},
        "level": {"type": "object", "additionalProperties": False,
                  "properties": {k: {"type": "integer" if k.startswith("pattern_length") else "number",
                                     "exclusiveMinimum": 0} for k in LEVEL_BOUNDS},
                  "description": "the difficulty the objective is about: only trials at this level count"},
    }, ["id", "metric", "comparator", "threshold"], "A therapy objective (see engine.scoring.objectives).")
    phrase = _obj("phrases", {
        "name": {"type": "string", "maxLength": MAX_TEXT},
        "rhythm": {"type": "string", "pattern": r"^[xX.\- |\t]+$", "maxLength": MAX_PHRASE_TEXT,
                   "description": "x hit, X accent, . rest, - hold; whole bars of the grid and meter"},
        "melody": melody,
        "beats": {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 256}, "minItems": 1,
                  "maxItems": MAX_PHRASE_NOTES},
        "grid": {"type": "string", "enum": [f"1/{g}" for g in GRIDS]},
    }, [], f"One phrase or pattern: exactly one of rhythm, melody or beats; at most {MAX_PHRASE_NOTES} notes "
           f"and {MAX_PHRASE_BEATS:g} beats.")
    phrase["properties"]["blank"] = {"type": "integer", "minimum": 1,
                                     "description": "fill_in_the_blank only: the note left out for the child "
                                                    "(1-based; default the last)"}
    phrase["oneOf"] = [{"required": [k]} for k in ("rhythm", "melody", "beats")]

    def num(bounds: tuple[float, float], default: Any = None, *, integer: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "integer" if integer else "number", "minimum": bounds[0], "maximum": bounds[1]}
        if default is not None:
            out["default"] = default
        return out

    def num_or_range(bounds: tuple[float, float], default: Any, *, integer: bool = False) -> dict[str, Any]:
        one = num(bounds, integer=integer)
        return {"anyOf": [one, {"type": "array", "items": one, "minItems": 1, "maxItems": 2}], "default": default}

    kind_tables = {
        "response": _obj("response", {
            "window_s": num(RESPONSE_WINDOW_S, 3.0),
            "require_pitch": {"type": "boolean", "default": True},
            "tempo_invariant": {"type": "boolean", "default": False},
            "accompaniment": {"type": "string", "pattern": _SOUND_PATTERN.replace("^(", "^(none|"),
                              "maxLength": MAX_SOUND_TEXT, "default": "none"},
        }, [], "call_and_response only: the echo's window, how it is judged, and a groove under it."),
        "turns": _obj("turns", {
            "gap_s": num(TURN_GAP_S, 1.5),
            "max_s": num(TURN_MAX_S, 10.0),
            "initiate_within_s": num(TURN_INITIATE_S, 3.0),
            "grace_s": num(TURN_GRACE_S, 0.2),
            "answers": {"type": "array", "items": {"enum": list(ANSWERS)}, "minItems": 1, "uniqueItems": True,
                        "default": list(ANSWERS)},
        }, [], "turn_taking only: when the child's turn ends and how the engine answers."),
        "cueing": _obj("cueing", {
            "free_play_s": {"anyOf": [{"const": 0}, num(FREE_PLAY_S)], "default": 0},
            "window_ms": num(CUEING_WINDOW_MS, 80.0),
            "entrain_pct": num((0, 100)),
            "continuation_beats": {"anyOf": [{"const": 0}, num(CONTINUATION_BEATS, integer=True)], "default": 0,
                                   "description": "silent beats after each synchronisation part (0: off)"},
            "sync_bars": num(SYNC_BARS, DEFAULT_SYNC_BARS, integer=True),
            "song": {"type": "string", "pattern": r"\.(mid|midi|MID|MIDI)$", "maxLength": MAX_SOUND_TEXT,
                     "description": "a MIDI file with one tempo, relative to the script's folder; "
                                    "played instead of [[phrases]]"},
        }, [], "rhythmic_cueing only: free play, the timing window, the entrainment criterion, "
               "synchronisation-continuation, a song."),
        "stop_and_go": _obj("stop_and_go", {
            "go_bars": num_or_range(GO_BARS, [2, 4], integer=True),
            "stop_s": num_or_range(STOP_S, 3.0),
            "grace_ms": num(STOP_GRACE_RANGE_MS, STOP_GRACE_MS),
        }, [], "stop_and_go only: how long the music plays and stops."),
        "fill_in_the_blank": _obj("fill_in_the_blank", {
            "window_beats": {"type": "number", "exclusiveMinimum": BLANK_WINDOW_BEATS[0],
                             "maximum": BLANK_WINDOW_BEATS[1], "default": DEFAULT_WINDOW_BEATS},
        }, [], "fill_in_the_blank only: the window around the blank."),
    }
    schema = _obj("script", {
        "title": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
        "kind": {"type": "string", "enum": list(KINDS)},
        "description": {"type": "string", "maxLength": MAX_DESCRIPTION},
        "tempo_bpm": tempo,
        "meter": {"type": "string", "pattern": r"^\d+/(2|4|8|16)$", "default": "4/4"},
        "grid": {"type": "string", "enum": [f"1/{g}" for g in GRIDS], "default": "1/8"},
        "trials": {"type": "integer", "minimum": 1, "maximum": MAX_TRIALS},
        "duration_min": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_DURATION_MIN},
        "instruments": _obj("instruments", {
            "cue": sound,
            "feedback": {"type": "string", "pattern": _SOUND_PATTERN.replace("^(", "^(device|none|"),
                         "maxLength": MAX_SOUND_TEXT, "default": "device"},
        }, ["cue"], "Sounds for the engine's cues and the feedback to the child's playing."),
        "input": _obj("input", {
            "source": {"type": "string", "enum": list(SOURCES)},
            "pads": {"type": "array", "items": drum_or_note, "maxItems": MAX_NOTE_LIST},
            "keys": {"type": "array", "items": key_or_note, "maxItems": MAX_NOTE_LIST},
        }, ["source"], "What the child plays into."),
        "phrases": {"type": "array", "items": phrase, "minItems": 1, "maxItems": MAX_PHRASES},
        "adapt": _obj("adapt", {
            "up_after": {"type": "integer", "minimum": 1, "maximum": 50, "default": 3},
            "down_after": {"type": "integer", "minimum": 1, "maximum": 50, "default": 2},
            "tempo_step_pct": {"type": "number", "minimum": 0, "maximum": MAX_TEMPO_STEP_PCT, "default": 5},
            "length_step": {"type": "integer", "minimum": 0, "maximum": 16, "default": 0},
            "min_tempo_bpm": tempo,
            "max_tempo_bpm": tempo,
        }, [], "When and how the difficulty changes."),
        "prompts": _obj("prompts", {
            "count_in_beats": {"type": "integer", "minimum": 0, "maximum": MAX_COUNT_IN, "default": 4},
            "your_turn_visual": {"type": "boolean", "default": True},
            "your_turn_sound": {"type": "string", "pattern": _SOUND_PATTERN.replace("^(", "^(none|"),
                                "maxLength": MAX_SOUND_TEXT, "default": "none"},
            "lead_in": {**melody, "description": f"a melody of at most {MAX_LEAD_IN_NOTES} notes, e.g. \"G4:1/2 C5\""},
        }, [], "Help before each turn."),
        "objectives": {"type": "array", "items": objective, "maxItems": MAX_OBJECTIVES},
        **kind_tables,
    }, ["title", "kind", "tempo_bpm", "instruments", "input"],
        "A Tandem intervention script (TOML); see docs/scripts.md.")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://tandem.invalid/schemas/script.json"
    schema["title"] = "Tandem intervention script"
    schema["oneOf"] = [{"required": ["trials"]}, {"required": ["duration_min"]}]
    # [[phrases]] are required, except in a rhythmic_cueing script with a [cueing] song (which has none).
    schema["if"] = {"required": ["cueing"], "properties": {"cueing": {"required": ["song"]}}}
    schema["then"] = {"not": {"required": ["phrases"]}}
    schema["else"] = {"required": ["phrases"]}
    return schema
