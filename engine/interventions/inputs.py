"""Which input events are the child playing into a script, and the session's list of them.

Pure rules shared by the live session (:class:`engine.session.runner.ScriptSession`),
re-scoring (:mod:`engine.records.rescore`) and everything else that reads a
log back (beats for the report's plots, the assessment's figures), so every
reader takes exactly the events the session took.
"""

from __future__ import annotations

from engine.interventions.script import Script

__all__ = ["accepts_input", "add_child_event"]


def accepts_input(script: Script, source: str, key: str, note: int) -> bool:
    """Whether an input event (its ``source``, ``key``, ``note``) is the child playing into the script's inputs.

    MIDI note-ons count when the script listens to MIDI and, if it names
    pads or keys, the note is one of them; microphone onsets and voiced
    onsets count when it listens to the microphone. Note-offs,
    ``voice-end`` and therapist keys never count.
    """
    inputs = script.inputs
    if source in ("midi", "sim"):
        if source == "midi" and inputs.source not in ("midi", "both"):
            return False
        allowed = set(inputs.pads) | set(inputs.keys)
        return source == "sim" or not allowed or note in allowed
    if source == "mic":
        return inputs.source in ("mic", "both") and key in ("onset", "voice")
    return False


def add_child_event(events: list[tuple[float, int | None]], t: float, note: int) -> bool:
    """Add an accepted event at ``t`` s to the session's sorted ``events``; False if it repeats the last one.

    A voiced response confirming the onset it began with has the same time:
    it is not a second event. Events are kept sorted by time (rtmidi and mic
    threads may interleave).
    """
    if events and events[-1][0] == t:
        return False
    events.append((t, None if note < 0 else int(note)))
    if len(events) >= 2 and events[-2][0] > t:
        events.sort(key=lambda e: e[0])
    return True
