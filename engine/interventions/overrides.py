"""A script as run with the session's changes: another starting tempo, another length in beats.

``tandem demo --tempo BPM --beats N`` runs a script with these changes; the
log's header records them as ``script_overrides`` (``tempo_bpm``,
``trials``), and everything that reads the log back applies the same
changes to the script file (:func:`engine.records.reader.script_for`), so a
re-score rebuilds exactly the kind that ran. Nothing is written to the
script file.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from engine.errors import ConfigError
from engine.interventions.script import MAX_TEMPO_BPM, MAX_TRIALS, MIN_TEMPO_BPM, Script
from engine.text import shown

__all__ = ["FIELDS", "apply_overrides", "overrides_for"]

#: The fields a session may change, as the header records them.
FIELDS = ("tempo_bpm", "trials")


def overrides_for(script: Script, *, tempo_bpm: float | None = None, beats: int | None = None) -> dict[str, Any]:
    """The header's ``script_overrides`` for a starting tempo (BPM) and a length in beats; {} for none.

    ``beats`` is for rhythmic cueing, one trial per bar: it must be a whole
    number of the script's bars (a bar of 4/4 is 4 beats).

    Raises
    ------
    ConfigError
        A tempo out of range (or outside the script's ``[adapt]`` bounds), beats for a script that is not
        rhythmic cueing, or beats that are not whole bars (one sentence naming the flag).
    """
    out: dict[str, Any] = {}
    if tempo_bpm is not None:
        lo, hi = MIN_TEMPO_BPM, MAX_TEMPO_BPM
        if script.adaptation is not None:
            lo, hi = script.adaptation.min_tempo_bpm, script.adaptation.max_tempo_bpm
        if not (math.isfinite(tempo_bpm) and lo <= tempo_bpm <= hi):
            raise ConfigError(f"--tempo must be from {lo:g} to {hi:g} BPM for {script.path.name}, not {tempo_bpm:g}.")
        out["tempo_bpm"] = float(tempo_bpm)
    if beats is not None:
        bar = int(script.meter[0])
        if script.kind != "rhythmic_cueing" or script.options.get("continuation_beats"):
            raise ConfigError(f"--beats sets the length of a rhythmic-cueing script with one bar per trial; "
                              f"{script.path.name} is not one (give --max-trials instead).")
        if beats < bar or beats % bar:
            raise ConfigError(f"--beats must be a whole number of {bar}-beat bars ({bar}, {2 * bar}, {3 * bar}, ...), "
                              f"not {beats}.")
        if beats // bar > MAX_TRIALS:
            raise ConfigError(f"--beats {beats} makes {beats // bar} bars of {bar}, more than the {MAX_TRIALS} trials "
                              f"a script may have; give at most {MAX_TRIALS * bar}.")
        out["trials"] = beats // bar
    return out


def apply_overrides(script: Script, overrides: Mapping[str, Any] | None) -> Script:
    """``script`` with the header's ``script_overrides`` applied (the script itself when there are none).

    Raises
    ------
    ConfigError
        An override that is not one of :data:`FIELDS` or not a number (a damaged header).
    """
    if not overrides:
        return script
    if not isinstance(overrides, Mapping):
        raise ConfigError("The session's script_overrides is not a table of fields and values.")
    changes: dict[str, Any] = {}
    for name, value in overrides.items():
        if (name not in FIELDS or isinstance(value, bool) or not isinstance(value, (int, float))
                or not math.isfinite(value) or not 0 < value <= 100_000):
            raise ConfigError(f"The session's script_overrides has {shown(name)}={shown(value)}, which Tandem does "
                              f"not know.")
        if name == "trials":
            changes.update(trials=int(value), duration_min=None)
        else:
            changes[name] = float(value)
    return dataclasses.replace(script, **changes)
