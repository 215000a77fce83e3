"""The initial assessment battery: ``tandem assess CHILD`` runs short musical tasks and saves an Assessment.

The tasks, in order (:data:`engine.assessment.tasks.TASKS`; their ids and
figure ids are the contract of :mod:`engine.assessment.results`):

1. free tapping (``spontaneous_tempo``), then tapping with a beat at the
   tempo found (``sync_own_tempo``): one session;
2. tapping with a beat at 80 BPM (``sync_slow``) and 120 BPM (``sync_fast``);
3. tapping with a beat that stops, and keeping it going (``sync_continuation``,
   at the child's own tempo);
4. echoing rhythms of growing length, a 1-up/1-down staircase
   (``rhythm_imitation``), and melodies on a keyboard (``melodic_imitation``,
   only with ``keyboard``);
5. ``turn_taking``, ``stop_and_go``, and singing a left-out note
   (``vocal_fill``, only with the microphone);
6. sound probes the therapist rates with the keys 1 (calm), 2 (avoids),
   3 (seeks) (``sensory``): a rating, never a score (the child is not asked
   to play; its bars in the log are only the probes' spans).

Each task is a generated intervention script (:mod:`engine.assessment.tasks`,
written into ``<assessment folder>/scripts/``) run as one ordinary session,
so ``tandem sessions`` lists it and ``tandem rescore`` re-scores it; the
figures are computed from the session's log (:mod:`engine.assessment.figures`).

**Adaptive.** A task the devices cannot do is ``skipped`` with its reason.
A task ends after :data:`~engine.assessment.tasks.NO_RESPONSE_RUN` trials in
a row with nothing played (``no_response``), and an imitation staircase
when it has seen enough (:mod:`engine.assessment.staircase`). A task the
therapist stops ends the battery (the rest are ``stopped``); what was
measured is kept and saved.

**Simulated** (``simulate=MODEL``): every task runs on the offline backend
with the behaviour model of :mod:`engine.simulation.models`, as
fast as the machine goes (:func:`engine.simulation.demo.simulate_task`); a MIDI pad
and a microphone are assumed, a keyboard only with ``keyboard=True``. The
early ends above happen inside the session (no trial is abandoned).
``controls`` takes ``pause``/``resume``/``toggle``/``stop``. Sensory probes
are played and rated by the model itself (its ``sensory_rating``; each
rating says ``rated_by`` the simulated model: no therapist watched).
A task's ``duration_s`` is its session's own time (its stream clock), so a
battery that ran in seconds reports the minutes of music it played.

**Live**: each task is one :func:`engine.session.live.run_session` with the same
devices as ``tandem run`` (``device_options``: ``midi_out``, ``audio``,
``blocksize``, ``transport``, ``soundfont``, ``screen``, ``theme``,
``fullscreen``, ``status_line``), each held until the therapist's space key
(``wait_for_space``), so the child is ready; space pauses and resumes within
a task. The battery's early ends happen inside the session (``stop_when``),
as in a simulated one; the figures apply the same rules to the log, so a
log that ran its trials (an older one) is cut where the battery would have
stopped.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import engine
from engine.assessment.figures import (
    TaskLog,
    no_response_cut,
    probes_played,
    read_task_log,
    sensory_ratings,
    task_figures,
)
from engine.assessment.results import (
    Assessment,
    Rating,
    TaskResult,
    assessment_dir,
    save_assessment,
)
from engine.assessment.staircase import Staircase
from engine.assessment.tasks import (
    FREE_PLAY_S,
    NO_RESPONSE_RUN,
    OWN_TEMPO_DEFAULT_BPM,
    STAIRCASE,
    TASKS,
    TaskSpec,
    planned_seconds,
    sessions_of,
    write_script,
)
from engine.errors import ConfigError
from engine.paths import ensure_private_dir
from engine.reports.sentences import duration_text
from engine.session.live import run_session
from engine.simulation.demo import simulate_task
from engine.simulation.models import make_model

__all__ = ["TASK_IDS", "format_assessment", "planned_minutes", "run_assessment"]

TASK_IDS = tuple(t.id for t in TASKS)
SIM_OPTIONS = ("blocksize", "sample_rate", "soundfont")


def planned_minutes(*, keyboard: bool = True, mic: bool = True) -> float:
    """The battery's longest planned music time, minutes (every trial of every task the devices allow)."""
    specs = [t for t in TASKS if _skip_reason(t, pad=True, mic=mic, keyboard=keyboard) is None]
    return sum(planned_seconds(s) for s in sessions_of(specs)) / 60.0


def _skip_reason(spec: TaskSpec, *, pad: bool, mic: bool, keyboard: bool) -> str | None:
    if spec.needs == "keyboard" and not keyboard:
        return "No keyboard is connected (give --keyboard with a MIDI keyboard as --midi-in)."
    if spec.needs == "mic" and not mic:
        return "The microphone is not used (add --mic to hear the child sing)."
    if spec.needs == "rhythm" and not (pad or mic):
        return "There is no MIDI pad and no microphone to hear the child play."
    return None


def _source(session: str, *, pad: bool, mic: bool) -> str:
    if session == "vocal-fill":
        return "mic"
    if session == "melodic-imitation" or (pad and not mic):
        return "midi"
    return "both" if pad else "mic"


def _unique_start(root: Path, child_id: str) -> datetime:
    """Now, or a second later while an assessment of that second exists (its folder is named by the second)."""
    started = datetime.now().astimezone().replace(microsecond=0)
    while (assessment_dir(root, child_id) / f"{started:%Y%m%d-%H%M%S}").exists():
        started += timedelta(seconds=1)
    return started


def _stop_rule(spec_session: str, kind: str, specs: Sequence[TaskSpec]) -> Callable[[list], str | None]:
    """The battery's early end for a simulated session, from its scored trials."""
    rule = any(s.no_response_rule for s in specs)
    imitation = spec_session in ("rhythm-imitation", "melodic-imitation")

    def stop(results: list) -> str | None:
        if rule and no_response_cut(kind, [r.scores for r in results]) is not None:
            return "no_response"
        if imitation and results:
            stair = Staircase.replay([bool(r.correct) for r in results],
                                     [int(r.plan.params["notes"]) for r in results], **STAIRCASE)
            return stair.stop_reason
        return None

    return stop


def run_assessment(child_id: str, *, root: str | Path, simulate: str | None = None, midi_in: str | None = None,
                   mic: bool = False, keyboard: bool = False, echo: Callable[[str], None] | None = print,
                   controls: queue.Queue | None = None, seed: int = 0, tasks: Sequence[str] | None = None,
                   **device_options: Any) -> Assessment:
    """Run the battery for ``child_id``, save the :class:`Assessment` and return it (``folder`` set).

    Parameters
    ----------
    child_id : str
        The child's pseudonymous id.
    root : path
        The data directory (sessions and assessments go under it).
    simulate : str, optional
        A behaviour model of :mod:`engine.simulation.models`: run on the
        offline backend with that simulated child (see the module docstring).
    midi_in, mic, keyboard
        The devices (live): a MIDI pad or keyboard, the microphone, and
        whether the MIDI input is a keyboard (melodic imitation). With
        ``simulate`` a pad and a microphone are assumed; ``keyboard`` adds a keyboard.
    echo : callable or None
        Prints one line per task (None: quiet).
    controls : queue.Queue, optional
        The therapist's commands (see the module docstring).
    seed : int
        The simulated child's seed (each task adds its number).
    tasks : sequence of str, optional
        Only these task ids (default: all); a session shared by two tasks runs once.
    device_options
        Live: passed to :func:`engine.session.live.run_session`. Simulated: ``blocksize``,
        ``sample_rate`` and ``soundfont`` are used, the rest ignored.

    Raises
    ------
    engine.errors.ConfigError
        An unknown model or task, or no device to hear the child (live).
    engine.errors.TandemError
        A device that fails (the tasks done so far are saved first, status ``interrupted``).
    """
    root = Path(root)
    say = echo or (lambda line: None)
    if simulate is not None:
        make_model(simulate)  # an unknown model is one sentence before anything runs
        pad, mic = True, True
    else:
        pad = bool(midi_in)
        if not (pad or mic):
            raise ConfigError("The assessment needs a MIDI pad or keyboard (--midi-in NAME) or the microphone (--mic) "
                              "to hear the child; see `tandem devices`.")
        if keyboard and not pad:
            raise ConfigError("--keyboard says the MIDI input is a keyboard; give it with --midi-in NAME.")
    wanted = list(TASK_IDS) if tasks is None else list(tasks)
    unknown = [t for t in wanted if t not in TASK_IDS]
    if unknown:
        raise ConfigError(f"Unknown assessment task {unknown[0]!r}; the tasks are {', '.join(TASK_IDS)}.")
    started = _unique_start(root, child_id)
    folder = ensure_private_dir(assessment_dir(root, child_id) / f"{started:%Y%m%d-%H%M%S}")
    scripts = ensure_private_dir(folder / "scripts")
    devices = {"midi_in": midi_in if simulate is None else "simulated pad", "keyboard": bool(keyboard), "mic": bool(mic)}
    specs_all = [t for t in TASKS if t.id in wanted]
    plan_min = sum(planned_seconds(s) for s in sessions_of(
        [t for t in specs_all if _skip_reason(t, pad=pad, mic=mic, keyboard=keyboard) is None])) / 60.0
    say(f"Assessment of {child_id}" + (f" with the simulated child '{simulate}'" if simulate else "")
        + f": {len(specs_all)} tasks, at most {plan_min:.0f} minutes of music.")
    results: dict[str, TaskResult] = {}
    ratings: tuple[Rating, ...] = ()
    own_tempo: float | None = None
    status = "completed"
    try:
        for n, session in enumerate(sessions_of(specs_all)):
            specs = [t for t in specs_all if t.session == session]
            if status == "stopped":
                for s in specs:
                    results[s.id] = TaskResult(s.id, s.domain, s.title, "stopped",
                                               "The battery was stopped before this task.")
                continue
            skip = _skip_reason(specs[0], pad=pad, mic=mic, keyboard=keyboard)
            if skip is not None:
                for s in specs:
                    results[s.id] = TaskResult(s.id, s.domain, s.title, "skipped", skip)
                    say(f"  {s.title}: skipped. {skip}")
                continue
            script = write_script(scripts, session, source=_source(session, pad=pad, mic=mic),
                                  tempo_bpm=own_tempo or OWN_TEMPO_DEFAULT_BPM)
            header_extra = {"assessment": {"folder": str(folder.relative_to(root)) if folder.is_relative_to(root)
                                           else str(folder), "tasks": [s.id for s in specs]}}
            if simulate is not None:
                outcome = simulate_task(
                    script, root=root, child_id=child_id, model=simulate, seed=seed + n, header=header_extra,
                    stop_when=_stop_rule(session, script.kind, specs), controls=controls, echo=echo,
                    **{k: v for k, v in device_options.items() if k in SIM_OPTIONS})
                session_folder, session_status = outcome.folder, outcome.status
            else:
                session_folder, session_status = _run_live(
                    script.path, root=root, child_id=child_id, midi_in=midi_in, mic=mic, controls=controls,
                    echo=say, stop_rule=_stop_rule(session, script.kind, specs), header_extra=header_extra,
                    **device_options)
            log = read_task_log(session_folder)
            rel = str(session_folder.relative_to(root)) if session_folder.is_relative_to(root) else str(session_folder)
            if session == "sensory":
                ratings = tuple(_ratings(log, simulate))
            for s in specs:
                results[s.id] = _task_result(s, log, rel, session_status, ratings=ratings)
                say("  " + _task_line(results[s.id]))
            if session == "tempo":
                bars = log.scored("trial")
                own_tempo = float(bars[0]["tempo_bpm"]) if bars else None
            if session == "continuation":
                results["sync_continuation"].details["tempo"] = (
                    "the child's own tempo (the beat of sync_own_tempo)" if own_tempo is not None else
                    f"{OWN_TEMPO_DEFAULT_BPM:g} BPM: the child's own tempo was not measured")
            if session_status == "stopped":
                status = "stopped"
    except BaseException:
        status = "interrupted"
        raise
    finally:
        for s in specs_all:
            results.setdefault(s.id, TaskResult(s.id, s.domain, s.title, "stopped",
                                                "The battery was cut off before this task was finished."))
        assessment = Assessment(
            child_id=child_id, started=started.isoformat(), ended=datetime.now().astimezone().isoformat(
                timespec="seconds"), status=status, simulated=simulate, devices=devices,
            tasks=tuple(results[s.id] for s in specs_all), ratings=ratings, engine_version=engine.__version__)
        path = save_assessment(assessment, root)
    say(f"Assessment {status}; saved in {path.parent}")
    return Assessment(**{**assessment.__dict__, "folder": str(path.parent)})


def _run_live(script_path: Path, *, root: Path, child_id: str, midi_in: str | None, mic: bool,
              controls: queue.Queue | None, echo: Callable[[str], None], stop_rule: Callable[[list], str | None],
              header_extra: dict[str, Any], **device_options: Any) -> tuple[Path, str]:
    """One task as one ``tandem run`` session, held for the space key; returns its folder and status
    (``completed`` or ``stopped``)."""
    summary = run_session(str(script_path), root=root, child_id=child_id, midi_in=midi_in, mic=mic,
                          controls=controls, echo=echo, wait_for_space=True, stop_when=stop_rule,
                          header_extra=header_extra, **device_options)
    return Path(summary["folder"]), "stopped" if summary.get("status") == "stopped" else "completed"


def _ratings(log: TaskLog, simulate: str | None) -> list[Rating]:
    """The probes' ratings: the therapist's keys, or (simulated) the model's own rating of each probe played."""
    keyed = sensory_ratings(log)
    if simulate is None:
        return keyed
    rating, played = make_model(simulate).params.sensory_rating, probes_played(log)
    return [Rating(r.item, r.label, rating if k < played else None, None, f"simulated model '{simulate}'")
            for k, r in enumerate(keyed)]


def _task_result(spec: TaskSpec, log: TaskLog, session: str, session_status: str, *,
                 ratings: Sequence[Rating] = ()) -> TaskResult:
    duration_s = (log.summary or {}).get("duration_s")  # the session's own clock, not the wall clock
    if spec.id == "sensory":
        return _sensory_result(spec, log, session, session_status, ratings, duration_s)
    kind = log.header.get("intervention") or ""
    trials = log.scored("trial")
    cut = no_response_cut(kind, [t["scores"] for t in trials]) if spec.no_response_rule else None
    if cut is not None:
        trials = trials[:cut]
    figures, details = task_figures(spec.id, log, trials)
    n_trials = len(trials)
    if spec.id == "spontaneous_tempo":
        n_trials = 1 if any(t.get("phase") == "free_play" for t in log.trials) else 0
    if spec.id == "sync_own_tempo":
        free = next((t for t in log.trials if t.get("phase") == "free_play"), None)
        found = free["scores"].get("free_tempo_bpm") if free else None
        details["own_tempo"] = ("found in free play (clamped to the script's 60–150 BPM)" if found is not None else
                                f"not found (fewer than 8 free taps): cued at {OWN_TEMPO_DEFAULT_BPM:g} BPM")
    status, reason = "done", None
    if session_status == "stopped":
        status, reason = "stopped", "The therapist stopped this task; what was measured before is kept."
    elif spec.id == "spontaneous_tempo" and not figures:
        status, reason = "no_response", (f"The child tapped fewer than 8 times in {FREE_PLAY_S:g} s of free play, "
                                         f"too few for a tempo.")
    elif cut is not None:
        status, reason = "no_response", (f"The child played nothing in {NO_RESPONSE_RUN} trials in a row, so the "
                                         f"task was ended after {cut} trials.")
    elif not trials:
        status, reason = "no_response", "No trial was scored."
    elif figures and all(f.value is None for f in figures if f.id not in ("tempo_bpm",)):
        status, reason = "no_response", "The child's playing gave nothing to measure in this task."
    if cut is not None:
        details["no_response_after_trials"] = cut
    return TaskResult(spec.id, spec.domain, spec.title, status, reason, session, n_trials, tuple(figures), details,
                      duration_s)


def _sensory_result(spec: TaskSpec, log: TaskLog, session: str, session_status: str, ratings: Sequence[Rating],
                    duration_s: float | None) -> TaskResult:
    """The sensory probes as ratings: its "trials" are the probes played, never the player's bars, and it has no
    figures (nothing the child played during the probes is scored)."""
    played = probes_played(log)
    rated = [r for r in ratings if r.rating]
    details = {"probes_played": played, "probes_rated": len(rated),
               "rated_by": rated[0].rated_by if rated else None}
    status, reason = "done", None
    if session_status == "stopped":
        status, reason = "stopped", "The therapist stopped this task; the ratings given before are kept."
    elif not rated:
        status, reason = "skipped", "No probe was rated (keys 1 calm, 2 avoids, 3 seeks during each probe)."
    return TaskResult(spec.id, spec.domain, spec.title, status, reason, session, played, (), details, duration_s)


def _task_line(t: TaskResult) -> str:
    if t.id == "sensory":
        d = t.details
        rated = f"{d.get('probes_rated', 0)} of {d.get('probes_played', t.trials)} probes rated" + (
            f" by the {d['rated_by']}" if d.get("rated_by") else "")
        return f"{t.title}: {t.status} ({rated})" + (f". {t.reason}" if t.reason else "")
    shown = ", ".join(f"{f.id} {f.value:g}" if isinstance(f.value, (int, float)) and f.value is not None
                      else f"{f.id} —" for f in [f for f in t.figures if not f.condition][:3])
    return f"{t.title}: {t.status}" + (f" ({shown})" if shown else "") + (f". {t.reason}" if t.reason else "")


def format_assessment(a: Assessment) -> list[str]:
    """Readable lines: per task its status and figures (value, unit, n, spread), then the ratings."""
    music = a.music_s
    lines = [f"Assessment of {a.child_id} ({a.started[:16]}, {a.status}"
             + (f", {duration_text(music)} of music" if music is not None else "")
             + (f", simulated child '{a.simulated}'" if a.simulated else "") + ")"]
    for t in a.tasks:
        lines.append(f"{t.title} [{t.id}, {t.domain}]: {t.status}" + (f". {t.reason}" if t.reason else ""))
        for f in sorted(t.figures, key=lambda f: not f.condition):  # the task's conditions first
            if f.condition:  # a setting of the task (the beat's tempo), not a measurement of the child
                if f.value is not None:
                    lines.append(f"  Condition: {f.label[:1].lower()}{f.label[1:]} {f.value:g} {f.unit} (set by the "
                                 f"task)")
                continue
            value = "—" if f.value is None else f"{f.value:g} {f.unit}"
            spread = f", spread {f.spread:g} ({f.spread_label})" if f.spread is not None else ""
            ref = (f"; adult reference {f.reference.value:g}" if f.reference is not None else "")
            lines.append(f"  {f.label}: {value} (n = {f.n}{spread}){ref}")
    for r in a.ratings:
        by = f" (rated by the {r.rated_by})" if r.rating and r.rated_by and r.rated_by != "therapist" else ""
        lines.append(f"Sensory probe {r.label}: {r.rating or 'not rated'}{by}")
    if a.folder:
        lines.append(f"Saved in {a.folder}")
    return lines
