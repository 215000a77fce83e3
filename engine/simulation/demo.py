"""``tandem demo``: whole sessions of intervention scripts with a simulated child, no hardware.

Everything is the real engine except the devices: the one session driver
(:func:`engine.session.driver.run_session`) on the offline backend
(``pace="fast"``: as fast as the machine goes; ``"realtime"``: kept to the
wall clock, to watch and listen), the script's kind plans each trial, every
cue is scheduled at its frame with its sound from the sound bank, and a
simulated child (:mod:`engine.simulation.player`) plays. Its events enter
through the same stamping path as MIDI notes, are logged, and each trial is
scored from the times *as logged*: the log is the truth, and ``tandem
rescore`` recomputes every score from ``events.jsonl``.

The child is a behaviour model (``model``: ``steady``, ``early``, ...: a
new model per trial, ``make_model(name, seed=seed + session, trial_index=trial)``)
or a tapping profile (``profile``: ``typical``, ``adult``, ``motor``, ...:
a child tapping along causally, for rhythmic cueing). Without a script the
demo runs the metronome (:data:`METRONOME`, an ordinary rhythmic-cueing
script in ``content/songs``) with the ``typical`` tapping profile and
prints each beat's asynchrony.

:func:`simulate_session` is one such session; the assessment battery's
simulated tasks use it too.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from engine.audio.soundbank import SoundBank
from engine.errors import ConfigError
from engine.ids import check_child_id
from engine.interventions.kinds import TrialResult, make_kind
from engine.interventions.overrides import apply_overrides, overrides_for
from engine.interventions.script import Script, load_script
from engine.interventions.sounds import feedback_request, script_sounds
from engine.paths import cache_dir
from engine.records.plan import session_plan_objectives
from engine.scoring.judge import objective_label, trial_line
from engine.scoring.objectives import Objective
from engine.scoring.sync import match_taps, summarize
from engine.scoring.words import format_half_up
from engine.session.activities import ScriptActivity
from engine.session.driver import SessionOutcome, now, run_session
from engine.session.parts import PACES, OfflineStream, Part
from engine.session.screenshot import OfflineScreenshot
from engine.simulation.models import make_model
from engine.simulation.player import DEVICE_FEEDBACK, ModelChild, TappingChild
from engine.simulation.tapping import PROFILES

__all__ = ["METRONOME", "run_demo", "simulate_session", "simulate_task"]

#: The metronome of ``tandem demo`` without a script.
METRONOME = Path(__file__).resolve().parents[2] / "content" / "songs" / "metronome.toml"
DEFAULT_MODEL = "steady"
WINDOW_MS = 80.0  # the hit window of rhythmic cueing when a script names none (kinds.RhythmicCueing)
DEFAULT_PROFILE = "typical"
#: A visit's activity k builds its kind with the seed + k × this.
ACTIVITY_SEED = 1000


def simulate_session(script: Script | Sequence[Script], *, root: Path, child_id: str, child: Part,
                     bank: SoundBank, kind_seed: int | None, kind_options: dict[str, Any] | None = None,
                     session: int | None = None, pace: str = "fast", blocksize: int = 128,
                     sample_rate: int = 48_000, max_trials: int | None = None,
                     history: dict[str, list] | None = None,
                     plan_objectives: Sequence[Objective] | Sequence[Sequence[Objective]] = (),
                     screenshot: Path | None = None, record_audio: bool = True,
                     stop_when: Callable[[list[TrialResult]], str | None] | None = None,
                     controls=None, header: dict[str, Any] | None = None, ring_s: float = 10.0,
                     on_first_sound: Callable[[], None] | None = None, name: str | None = None,
                     overrides: Sequence[dict[str, Any]] = (), started: datetime | None = None) -> SessionOutcome:
    """One visit of ``script`` (or of several scripts, in order) with the simulated ``child`` on the offline
    backend (see the module docstring).

    With several scripts, ``plan_objectives`` and ``overrides`` are one entry per script, and activity k's
    kind is seeded ``kind_seed + ACTIVITY_SEED * k``. ``name`` is the session folder's (default
    ``demo-<script>``; a visit of several scripts: ``visit``); ``controls`` takes ``pause``, ``resume``,
    ``toggle``, ``next`` and ``stop`` between blocks, as a live visit does.
    """
    check_child_id(child_id)  # it names the session folder (engine.ids)
    one = isinstance(script, Script)
    scripts = [script] if one else list(script)
    plans = [list(plan_objectives)] if one else [list(p) for p in plan_objectives] or [[] for _ in scripts]
    changes = list(overrides) or [{} for _ in scripts]
    activities = []
    for k, sc in enumerate(scripts):
        seed = None if kind_seed is None else kind_seed + ACTIVITY_SEED * k
        activities.append(ScriptActivity(sc, make_kind(sc, seed=seed, **(kind_options or {})), bank, kind_seed=seed,
                                         kind_options=kind_options, plan_objectives=plans[k], max_trials=max_trials,
                                         stop_when=stop_when, name=name or f"demo-{sc.path.stem}",
                                         overrides=changes[k]))
    parts: list[Part] = [child]
    if screenshot is not None:
        parts.append(OfflineScreenshot(screenshot, scripts[0], plans[0]))
    stream = OfflineStream(sample_rate=sample_rate, blocksize=blocksize, pace=pace, ring_s=ring_s)
    stream.on_first_sound = on_first_sound
    extra = {"session": session} if session is not None else {}
    return run_session(activities, stream=stream, kind="demo", child_id=child_id, root=root, parts=parts,
                       controls=controls, echo=None, record_audio=record_audio, history=history,
                       header={"sound_source": bank.source, **extra, **(header or {})}, started=started)


def simulate_task(script: Script, *, root: Path, child_id: str, model: str, seed: int,
                  header: dict[str, Any] | None = None,
                  stop_when: Callable[[list[TrialResult]], str | None] | None = None, controls=None,
                  blocksize: int = 128, sample_rate: int = 48_000, soundfont: str | None = None,
                  echo: Callable[[str], None] | None = None) -> SessionOutcome:
    """One assessment task's script with the behaviour model ``model`` (``tandem assess --simulate``).

    As a demo session, except: the kind is built without a seed (``kind_seed`` None), as ``tandem run``
    builds it live, so a simulated and a live battery play the same plans; no ``audio.wav`` (twelve
    minutes of stereo audio per battery is 140 MB nothing a therapist listens to); no plan objectives
    (a task measures the child, not the plan); the folder is named ``assess-<script>``; ``stop_when`` is
    the battery's early end, checked after each scored trial and before the next is planned, so no trial
    is abandoned and the log re-scores exactly.
    """
    bank = SoundBank.load(script_sounds(script, device_sound=DEVICE_FEEDBACK), sample_rate=sample_rate,
                          soundfont=soundfont, cache_dir=cache_dir())
    if echo is not None:
        for w in bank.warnings:
            echo(f"note: {w}")
    feedback_name = feedback_request(script, DEVICE_FEEDBACK)
    child = ModelChild(model, seed, feedback=bank[feedback_name] if feedback_name else None,
                       feedback_name=feedback_name)
    return simulate_session(script, root=root, child_id=child_id, child=child, bank=bank, kind_seed=None,
                            blocksize=blocksize, sample_rate=sample_rate, record_audio=False, stop_when=stop_when,
                            controls=controls, header=header, ring_s=2.0,
                            name=f"assess-{script.path.stem}")


def run_demo(script_path: str | Path | Sequence[str | Path] | None = None, *, root: Path, child_id: str = "C00",
             model: str | None = None, profile: str | None = None, sessions: int = 1, seed: int | None = 0,
             pace: str = "fast", blocksize: int = 128, sample_rate: int = 48_000, soundfont: str | None = None,
             echo: Callable[[str], None] | None = print, max_trials: int | None = None,
             kind_options: dict[str, Any] | None = None, screenshot: str | Path | None = None,
             tempo_bpm: float | None = None, beats: int | None = None,
             days_apart: float | None = None) -> list[dict]:
    """Run ``sessions`` visits of one script or of several in order (None: the metronome) with a simulated
    child; one dict per visit.

    Each dict: ``script`` (the first activity's), ``title``, ``kind``, ``session`` (1-based),
    ``child_id``, ``child_model`` or ``child_profile``, ``folder``, ``simulated`` (always true),
    ``activities`` (per activity: ``script``, ``title``, ``kind``, ``status``, ``trials``),
    ``trials`` (``n``, ``tempo_bpm``, ``scores``, ``correct``, ``activity``: every activity's) and
    ``objectives`` (``id``, ``status``, ``sentence``, ``value``: the status over
    this run's visits up to this one, the value this visit's); a
    tapping child's visits also ``beats`` (each beat's asynchrony) and
    ``sync`` (their summary). ``echo`` prints a readable summary of each
    visit (None: quiet). ``max_trials`` stops each activity early;
    ``screenshot`` saves a PNG of the session screen as the child plays in
    the first visit; ``tempo_bpm`` and ``beats`` change each script's
    tempo and (rhythmic cueing) its length in beats. ``seed`` None: a
    different child every time. ``days_apart``: visit k is dated k × that
    many days after now (a calendar of simulated visits, for mastery over
    visits on separate days); None: each is dated when it runs.

    Raises
    ------
    ConfigError
        A bad request (an unknown model or profile, both given, a profile for
        a script that is not rhythmic cueing, a script the demo cannot play).
    """
    check_child_id(child_id)  # it names the session folders: the one check (engine.ids), before anything runs
    if pace not in PACES:
        raise ConfigError(f"The pace must be one of {', '.join(PACES)}, not {pace!r}.")
    if sessions < 1:
        raise ConfigError(f"A demo needs at least one session, not {sessions}.")
    if max_trials is not None and max_trials < 1:
        raise ConfigError(f"max_trials must be at least 1, not {max_trials}.")
    if model is not None and profile is not None:
        raise ConfigError("Give the simulated child a behaviour model (--child-model) or a tapping profile "
                          "(--profile), not both.")
    paths = ([script_path] if isinstance(script_path, (str, Path)) or script_path is None
             else list(script_path)) or [None]
    if model is None and profile is None:
        model, profile = (None, DEFAULT_PROFILE) if paths == [None] else (DEFAULT_MODEL, None)
    if model is not None:
        make_model(model)  # an unknown model is one sentence before anything runs
    elif profile not in PROFILES:
        raise ConfigError(f"Unknown tapping profile {profile!r}; choose one of: {', '.join(PROFILES)}.")
    scripts, overrides = [], []
    for path in paths:
        script = load_script(path if path is not None else METRONOME)
        changes = overrides_for(script, tempo_bpm=tempo_bpm, beats=beats)
        script = apply_overrides(script, changes)
        _check_playable(script, profile)
        scripts.append(script)
        overrides.append(changes)
    requests = sorted({name for sc in scripts for name in script_sounds(sc, device_sound=DEVICE_FEEDBACK)})
    bank = SoundBank.load(requests, sample_rate=sample_rate, soundfont=soundfont, cache_dir=cache_dir())
    if echo is not None:
        for w in bank.warnings:
            echo(f"note: {w}")
    plan_objectives = []
    for sc in scripts:
        objectives, warning = session_plan_objectives(root, child_id, sc.path)
        if warning and echo is not None and not plan_objectives:
            echo(f"note: {warning}")
        plan_objectives.append(objectives)
    # The pad answers with the first script's feedback sound (a pad's sound does not change within a visit).
    feedback_name = next((f for f in (feedback_request(sc, DEVICE_FEEDBACK) for sc in scripts) if f), None)
    feedback = bank[feedback_name] if feedback_name else None
    if days_apart is not None and not (math.isfinite(days_apart) and days_apart > 0):
        raise ConfigError(f"--days-apart must be a number of days above 0, not {days_apart:g}.")
    first_day = now()
    out: list[dict] = []
    history: dict[str, list] = {}
    for s in range(1, sessions + 1):
        # A model child (and the kind) of session s is seeded seed + s; a tapping child seed + s - 1, so the
        # metronome's first session is the child --seed names (as the metronome demo always seeded it).
        child_seed = None if seed is None else seed + s - (model is None)
        child: Part = (ModelChild(model, child_seed, feedback=feedback, feedback_name=feedback_name)
                       if model is not None else
                       TappingChild(profile, child_seed, feedback=feedback, feedback_name=feedback_name))
        run = simulate_session(scripts[0] if len(scripts) == 1 else scripts, root=root, child_id=child_id,
                               child=child, bank=bank, kind_seed=child_seed, kind_options=kind_options, session=s,
                               pace=pace, blocksize=blocksize, sample_rate=sample_rate, max_trials=max_trials,
                               history=history,
                               plan_objectives=plan_objectives[0] if len(scripts) == 1 else plan_objectives,
                               screenshot=Path(screenshot) if screenshot and s == 1 else None,
                               overrides=overrides, on_first_sound=first_sound_tracer() if s == 1 else None,
                               started=first_day + timedelta(days=days_apart * (s - 1)) if days_apart else None)
        summary = run.summary
        first = scripts[0]
        entry = {"script": str(first.path), "title": " · ".join(sc.title for sc in scripts), "kind": first.kind,
                 "session": s, "child_id": child_id, "simulated": True,
                 **({"child_model": model} if model else {"child_profile": profile}),
                 "folder": str(run.folder),
                 "activities": [{"script": a["script"], "title": a["title"], "kind": a["intervention"],
                                 "status": a["status"], "trials": a["trials"]} for a in summary["activities"]],
                 "trials": summary["trials"], "objectives": summary["objectives"]}
        if "screenshot" in summary:
            entry["screenshot"] = summary["screenshot"]
        if isinstance(child, TappingChild) and len(scripts) == 1:
            entry.update(beat_table(run.folder, child, window_ms=float(first.options.get("window_ms", WINDOW_MS))))
        out.append(entry)
        if echo is not None:
            _print_session(echo, entry, summary)
    return out


def _check_playable(script: Script, profile: str | None) -> None:
    """One sentence for a script the demo cannot play (with this child)."""
    if profile is not None and script.kind != "rhythmic_cueing":
        raise ConfigError(f"{script.path}: a tapping profile (--profile {profile}) only taps along with a beat; "
                          f"this script is {script.kind.replace('_', '-')}, so give it a behaviour model with "
                          f"--child-model instead.")
    make_kind(script)  # a kind that cannot run yet, likewise
    if "midi_out" in (script.instruments.cue, script.prompts.your_turn_sound):
        raise ConfigError(f"{script.path}: this script plays its cues on an external MIDI instrument (midi_out), "
                          f"and `tandem demo` has no MIDI output; try it with a sound-bank instrument such as "
                          f"program:0 or drum:hi_bongo, or run it with `tandem run --midi-out NAME`.")


def beat_table(folder: Path, child: TappingChild | None = None, *, window_ms: float = WINDOW_MS) -> dict[str, Any]:
    """Every beat's asynchrony over the whole session, from its log, and their summary; with the check
    against what the tapping child aimed at (``truth_check_max_error_ms``: the largest difference between a
    measured asynchrony and the child's own, tap time − the cue it aimed at, before stamping and scoring).

    The beats are the cues of roles ``downbeat`` and ``beat`` (the count-in is not scored), matched with
    every tap of the session (:func:`engine.scoring.sync.match_taps`); ``window_ms`` is the hit window
    (the script's ``[cueing] window_ms``).
    """
    lines = [json.loads(x) for x in (Path(folder) / "events.jsonl").read_text().splitlines() if x.strip()]
    header = lines[0]
    rate = float(header["sample_rate"])
    cues = [d for d in lines if d.get("type") == "cue" and d.get("role") in ("downbeat", "beat")]
    taps = [d for d in lines if d.get("type") == "input" and d.get("source") == "sim"]
    cue_s = [c["heard_frame"] / rate for c in cues]
    tap_s = [t["frame"] / rate for t in taps]
    matches = match_taps(cue_s, tap_s)
    sync = summarize(matches, len(taps), window_ms=window_ms, tap_s=tap_s).to_dict()
    errors = []
    for m in matches if child is not None else ():
        if m.tap_index is None or taps[m.tap_index]["frame"] not in child.truth:
            continue
        tap_time_s, aimed = child.truth[taps[m.tap_index]["frame"]]
        if aimed < len(child.heard_s) and child.heard_s[aimed] == m.cue_s:  # scored against the cue it aimed at
            errors.append(abs(m.asynchrony_ms - 1000.0 * (tap_time_s - m.cue_s)))
    return {"window_ms": window_ms, "sync": sync,
            "beats": [{"index": k, "cue_heard_s": round(c, 6),
                       "tap_s": None if m.tap_s is None else round(m.tap_s, 6),
                       "asynchrony_ms": None if m.asynchrony_ms is None else round(m.asynchrony_ms, 3)}
                      for k, (c, m) in enumerate(zip(cue_s, matches))],
            "truth_check_max_error_ms": max(errors) if errors else None}


def _fmt(x, spec=".1f", none="—"):
    return none if x is None else format_half_up(f"{{:{spec}}}", x)


def _print_session(echo: Callable[[str], None], s: dict, summary: dict) -> None:
    who = (f"simulated, model '{s['child_model']}'" if "child_model" in s
           else f"simulated, profile '{s['child_profile']}'")
    if "beats" in s:
        _print_beats(echo, s, who)
    elif len(s["activities"]) == 1:
        echo(f"{s['title']} ({s['kind'].replace('_', '-')}), session {s['session']}: child {s['child_id']} "
             f"({who}), {len(s['trials'])} trials.")
        for t in s["trials"]:
            echo("  " + trial_line(s["kind"], t))
    else:
        echo(f"Visit {s['session']}: child {s['child_id']} ({who}), {len(s['activities'])} activities, "
             f"{len(s['trials'])} trials.")
        for k, a in enumerate(s["activities"]):
            kind = (a["kind"] or "").replace("_", "-")
            echo(f"{k + 1}. {a['title']} ({kind}): {len(a['trials'])} trials"
                 + ("" if a["status"] == "completed" else f", {a['status']}") + ".")
            for t in a["trials"]:
                echo("  " + trial_line(a["kind"], t))
    if s["objectives"]:
        echo("Objectives:")
    for o in s["objectives"]:
        echo(f"  {objective_label(o)}: {o['status']}. {o['sentence']}")
    if "beats" in s:
        st = summary["stream"]
        echo(f"Stream: {st['callbacks']} blocks, {st['xruns']} xruns, {st['late_sounds']} late sounds, "
             f"{st['callback_errors']} callback errors.")
        if s["truth_check_max_error_ms"] is not None:
            echo(f"Check: measured asynchronies match the simulated child's own to within "
                 f"{s['truth_check_max_error_ms']:.3f} ms.")
    echo(f"Session folder: {s['folder']}  (events.jsonl, audio.wav, summary.json)")


def _print_beats(echo: Callable[[str], None], s: dict, who: str) -> None:
    """A tapping child's session, beat by beat (the metronome demo's table)."""
    sync = s["sync"]
    tempi = sorted({t["tempo_bpm"] for t in s["trials"]})
    at = f"{tempi[0]:g} BPM" if len(tempi) == 1 else f"{tempi[0]:g}-{tempi[-1]:g} BPM"
    echo(f"Demo session {s['session']}: child {s['child_id']} ({who}), {s['title']} at {at}, "
         f"{len(s['beats'])} beats after the count-in.")
    echo("")
    echo("  beat   cue heard (s)   tap (s)    asynchrony (ms)")
    for row in s["beats"]:
        echo(f"  {row['index'] + 1:>4}   {row['cue_heard_s']:>12.3f}   {_fmt(row['tap_s'], '8.3f', '     —  ')}   "
             f"{_fmt(row['asynchrony_ms'], '+8.1f', '  missed')}")
    echo("")
    if sync.get("scorable", True):
        echo(f"Asynchrony: mean {_fmt(sync['asynchrony_mean_ms'], '+.1f')} ms, SD {_fmt(sync['asynchrony_sd_ms'])} ms "
             f"(negative = ahead of the beat)")
        echo(f"Within ±{s['window_ms']:g} ms: {_fmt(sync['within_window_pct'])} % of beats; "
             f"missed {sync['missed']}, extra taps {sync['extra']}; "
             f"tempo ratio {_fmt(sync['tempo_ratio'], '.3f')}, vector strength {_fmt(sync['vector_strength'], '.2f')}")
    else:
        echo(f"Not scorable: {sync.get('reason')}")


def first_sound_tracer() -> Callable[[], None] | None:
    """For the latency benchmark (``TANDEM_TRACE_FIRST_SOUND=1``): print the wall-clock time of the first
    rendered sound to stderr."""
    if not os.environ.get("TANDEM_TRACE_FIRST_SOUND"):
        return None

    def tell() -> None:
        print(f"first_sound_wall_s={time.time():.6f}", file=sys.stderr, flush=True)

    return tell
