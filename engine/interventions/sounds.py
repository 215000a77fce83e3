"""The sound-bank requests of a script: what its cues, prompts and feedback can ask the sound bank for.

Pure functions of a checked script, so that every way of running one (a
live session, a simulated one, a homepack render) loads the same sounds
before the first cue plays.
"""

from __future__ import annotations

from engine.errors import ConfigError
from engine.interventions.kinds import COUNT_IN_SOUNDS, LEAD_IN_SOUND, is_pitched
from engine.interventions.script import Script, load_cueing_song

__all__ = ["DEFAULT_NOTE", "ECHO_PITCHES", "YOUR_TURN_TONE", "bank_name", "feedback_request", "script_sounds"]

DEFAULT_NOTE = 60  # a pitched instrument asked to play a note it was not given (e.g. an unpitched echo)
YOUR_TURN_TONE = "A5"
#: Notes loaded for a pitched turn-taking cue when the script names no keys: C3..C6, the
#: range of a small keyboard, which the engine's echo of the child's turn may need.
ECHO_PITCHES = range(48, 85)


def bank_name(sound: str, note: int | None) -> str:
    """The sound-bank request for a cue's (sound, note).

    ``program:N`` and ``tone`` take the note (``DEFAULT_NOTE`` without one);
    every other sound is a request as it is.

    Raises
    ------
    ConfigError
        For ``midi_out``, which the sound bank cannot play.
    """
    if sound == "midi_out":
        raise ConfigError("The sound bank cannot play a midi_out sound: it goes to the session's MIDI "
                          "output (--midi-out).")
    if sound.startswith("program:") and sound.count(":") == 1:
        return f"{sound}:{DEFAULT_NOTE if note is None else note}"
    if sound == "tone":
        return f"tone:{YOUR_TURN_TONE if note is None else note}"
    return sound


def feedback_request(script: Script, device_sound: str | None) -> str | None:
    """The sound-bank request for the script's feedback instrument.

    ``device`` takes ``device_sound`` (the input device's own mapped sound;
    None: none), ``none`` none.
    """
    fb = script.instruments.feedback
    if fb == "none":
        return None
    if fb == "device":
        return device_sound
    return bank_name(fb, None)


def script_sounds(script: Script, *, feedback: bool = True, device_sound: str | None = None) -> list[str]:
    """Every sound the script's trials can ask for, as sound-bank requests (loaded before the session)."""
    cue = script.instruments.cue
    names = [*COUNT_IN_SOUNDS]
    pitches = {p for ph in script.phrases for p in ph.pitches}
    if cue == "midi_out":
        pass  # played by the external instrument, not the sound bank
    elif is_pitched(cue):
        if script.kind == "turn_taking":  # the engine echoes the child's own notes
            pitches |= set(script.inputs.keys) or set(ECHO_PITCHES)
        names += [bank_name(cue, p) for p in sorted(pitches | {DEFAULT_NOTE})]
    else:
        names.append(bank_name(cue, None))
    lead_sound = cue if is_pitched(cue) else LEAD_IN_SOUND
    if lead_sound != "midi_out":
        names += [bank_name(lead_sound, note) for note, _ in script.prompts.lead_in]
    accompaniment = script.options.get("accompaniment")
    if accompaniment not in (None, "none", "midi_out"):
        names.append(bank_name(accompaniment, None))
    if script.prompts.your_turn_sound not in ("none", "midi_out"):
        names.append(bank_name(script.prompts.your_turn_sound, None))
    song = script.options.get("song") if script.kind == "rhythmic_cueing" else None
    if song is not None:  # a cueing song's notes, held as at the script's tempo (kinds.RhythmicCueing)
        names += load_cueing_song(song, script.tempo_bpm).sounds()
    if feedback:
        fb = feedback_request(script, device_sound)
        if fb is not None:
            names.append(fb)
    return list(dict.fromkeys(names))
