"""The tasks of the assessment battery: what each plays (a generated intervention script) and how long.

Each task is an ordinary intervention script of an existing kind (see
``docs/scripts.md``), written as TOML into the assessment's folder and
checked by :func:`engine.interventions.script.load_script`, so its session
is a normal session log that ``tandem sessions`` lists and ``tandem
rescore`` re-scores. The scripts have no objectives: the battery measures a
baseline, it does not judge one.

=====================  ==================  ================================================================
task                   kind                what it plays
=====================  ==================  ================================================================
spontaneous_tempo      rhythmic_cueing     30 s of free play (``[cueing] free_play_s``): no cue, the child
+ sync_own_tempo                           taps at its own pace; then 8 bars of a wood block at the tempo
                                           found (60 / median inter-tap interval of >= 8 taps, clamped to
                                           ``OWN_TEMPO_RANGE_BPM``; the script's 100 BPM with fewer taps).
                                           One session, two tasks.
sync_slow, sync_fast   rhythmic_cueing     8 bars of a wood block at ``SLOW_BPM`` / ``FAST_BPM``.
sync_continuation      rhythmic_cueing     3 trials of 2 bars with the wood block, then 8 silent beats
                                           (``continuation_beats``), at the child's own tempo.
rhythm_imitation       call_and_response   Drum calls of 2, 3, 4 notes (longer: the 4-note call repeated),
                                           the length stepped by a 1-up/1-down staircase
                                           (:mod:`engine.assessment.staircase`).
melodic_imitation      call_and_response   The same on a keyboard with melodies; the right notes count.
turn_taking            turn_taking         6 hand-overs: a one-bar bongo phrase, then the child's turn.
stop_and_go            stop_and_go         6 marches of 2–3 bars, each followed by a 3–4 s stop.
vocal_fill             fill_in_the_blank   6 sung phrases whose last note is left for the child's voice.
sensory                rhythmic_cueing     5 sound probes from a MIDI file (``SENSORY_PROBES``), each 2 bars
                                           of sound and 1 bar of silence at 60 BPM, rated by the therapist
                                           (the bars only time the probes: nothing in them is scored).
=====================  ==================  ================================================================

Tempi: ``SLOW_BPM`` 80 and ``FAST_BPM`` 120 (beat intervals 750 and 500 ms);
the adult references of Bååth & Madison (2012) are measured at 600–3000 ms,
so 120 BPM is referred to the nearest measured interval (600 ms) and says so.

:func:`planned_seconds` is each task's longest planned length (every trial
played, the slowest own tempo); the whole battery is planned for at most
about 12 minutes of music, plus the therapist's pauses between tasks.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.interventions.script import load_script
from engine.paths import write_private

__all__ = [
    "FAST_BPM",
    "OWN_TEMPO_DEFAULT_BPM",
    "OWN_TEMPO_RANGE_BPM",
    "SENSORY_PROBES",
    "SLOW_BPM",
    "STAIRCASE",
    "TASKS",
    "Probe",
    "TaskSpec",
    "planned_seconds",
    "write_script",
]

SLOW_BPM = 80.0
FAST_BPM = 120.0
OWN_TEMPO_RANGE_BPM = (60.0, 150.0)  # a child's own tempo outside this is cued at the bound
OWN_TEMPO_DEFAULT_BPM = 100.0  # when free play found no tempo (fewer than 8 taps)
FREE_PLAY_S = 30.0
SYNC_BARS = 8  # bars of 4 beats per synchronisation task: 32 beats
WINDOW_MS = 80.0  # the timing window of within_window_pct (the scripts' default)
CONTINUATION_TRIALS = 3
CONTINUATION_BEATS = 8
IMITATION_BPM = 100.0
IMITATION_WINDOW_S = 2.0
#: The staircase of both imitation tasks (see engine.assessment.staircase): it starts at the first phrase's 2
#: notes; the kind keeps the length within 1 .. twice the longest phrase (4 notes), i.e. 1..8.
STAIRCASE = {"start": 2, "lo": 1, "hi": 8, "max_reversals": 6, "max_trials": 14, "ceiling_passes": 2,
             "floor_misses": 2, "min_reversals_for_mean": 4}
TURN_TRIALS = 6
TURN_BPM = 100.0
STOP_TRIALS = 6
STOP_BPM = 100.0
FILL_TRIALS = 6
FILL_BPM = 90.0
SENSORY_BPM = 60.0
NO_RESPONSE_RUN = 3  # trials in a row with nothing played end a task as no_response


@dataclass(frozen=True)
class Probe:
    """One sensory probe: GM drum notes (key numbers) on the beats of its two bars."""

    item: str
    label: str
    hits: tuple[tuple[float, tuple[int, ...], int], ...]  # (beat within a bar, drum keys, velocity)


SENSORY_PROBES: tuple[Probe, ...] = (
    Probe("loud_drum", "Loud drums (bass drum, crash cymbal, snare)",
          ((0, (36, 49), 127), (1, (38,), 120), (2, (36, 38), 127), (3, (38,), 120))),
    Probe("soft_shaker", "Soft shaker (maracas)",
          ((0, (70,), 40), (1, (70,), 40), (2, (70,), 40), (3, (70,), 40))),
    Probe("metal", "Ringing metal (open triangle)", ((0, (81,), 90), (2, (81,), 90))),
    Probe("wood", "Dry wood (wood block)", ((0, (76,), 90), (1, (76,), 90), (2, (76,), 90), (3, (76,), 90))),
    Probe("scrape", "Scraping texture (long guiro)", ((0, (74,), 90), (2, (74,), 90))),
)
PROBE_BARS = 3  # two bars of sound, one of silence (time to look and rate)
SENSORY_KEYS = {"1": "calm", "2": "avoids", "3": "seeks"}


@dataclass(frozen=True)
class TaskSpec:
    """One task of the battery (its id and domain are the contract of :mod:`engine.assessment.results`)."""

    id: str
    domain: str
    title: str
    session: str  # the script's name: tasks that share a session share it
    needs: str = "rhythm"  # "rhythm" (a pad or the mic), "keyboard", "mic", "none"
    no_response_rule: bool = True


TASKS: tuple[TaskSpec, ...] = (
    TaskSpec("spontaneous_tempo", "motor", "Spontaneous motor tempo (free tapping)", "tempo"),
    TaskSpec("sync_own_tempo", "motor", "Tapping with the beat at the child's own tempo", "tempo"),
    TaskSpec("sync_slow", "motor", f"Tapping with the beat at {SLOW_BPM:g} BPM", "sync-slow"),
    TaskSpec("sync_fast", "motor", f"Tapping with the beat at {FAST_BPM:g} BPM", "sync-fast"),
    TaskSpec("sync_continuation", "motor", "Keeping the beat after the music stops", "continuation"),
    TaskSpec("rhythm_imitation", "cognition", "Echoing rhythms of growing length", "rhythm-imitation"),
    TaskSpec("melodic_imitation", "cognition", "Echoing melodies on the keyboard", "melodic-imitation",
             needs="keyboard"),
    TaskSpec("turn_taking", "socialization", "Taking turns with the drum", "turn-taking"),
    TaskSpec("stop_and_go", "cognition", "Stop and go (stopping when the music stops)", "stop-and-go"),
    TaskSpec("vocal_fill", "communication", "Singing the missing note", "vocal-fill", needs="mic"),
    TaskSpec("sensory", "sensory", "Sound probes, rated (not scored)", "sensory", needs="none",
             no_response_rule=False),
)


def _input(source: str) -> str:
    return f'[input]\nsource = "{source}"\n'


def _head(title: str, kind: str, tempo_bpm: float, trials: int, *, grid: str = "1/8",
          cue: str = "drum:hi_wood_block", feedback: str = "device", source: str = "midi",
          count_in: int = 4) -> str:
    return (f'# Generated by the Tandem assessment battery (engine/assessment/tasks.py).\n'
            f'title = "{title}"\nkind = "{kind}"\ntempo_bpm = {tempo_bpm:.6g}\nmeter = "4/4"\n'
            f'grid = "{grid}"\ntrials = {trials}\n\n[instruments]\ncue = "{cue}"\nfeedback = "{feedback}"\n\n'
            f'{_input(source)}\n[prompts]\ncount_in_beats = {count_in}\n\n')


def _fixed_tempo(lo: float, hi: float) -> str:
    """An [adapt] table that never changes the tempo (its bounds clamp a free-play tempo)."""
    return (f"[adapt]\nup_after = 50\ndown_after = 50\ntempo_step_pct = 0\n"
            f"min_tempo_bpm = {lo:.6g}\nmax_tempo_bpm = {hi:.6g}\n\n")


def script_text(task: str, *, source: str, tempo_bpm: float | None = None, song: str | None = None) -> str:
    """The TOML of one task's script (``task`` is a :class:`TaskSpec`'s ``session``)."""
    beat = '[[phrases]]\nname = "beat"\nrhythm = "xxxx"\n\n'
    if task == "tempo":
        lo, hi = OWN_TEMPO_RANGE_BPM
        return (_head("Assessment: own tempo, then with the beat", "rhythmic_cueing", OWN_TEMPO_DEFAULT_BPM,
                      SYNC_BARS, grid="1/4", source=source) + beat
                + f"[cueing]\nfree_play_s = {FREE_PLAY_S:g}\nwindow_ms = {WINDOW_MS:g}\n\n" + _fixed_tempo(lo, hi))
    if task in ("sync-slow", "sync-fast"):
        tempo = SLOW_BPM if task == "sync-slow" else FAST_BPM
        return (_head(f"Assessment: with the beat at {tempo:g} BPM", "rhythmic_cueing", tempo, SYNC_BARS,
                      grid="1/4", source=source) + beat
                + f"[cueing]\nwindow_ms = {WINDOW_MS:g}\n\n" + _fixed_tempo(tempo, tempo))
    if task == "continuation":
        tempo = float(tempo_bpm or OWN_TEMPO_DEFAULT_BPM)
        return (_head("Assessment: keep the beat going", "rhythmic_cueing", tempo, CONTINUATION_TRIALS,
                      grid="1/4", source=source) + beat
                + f"[cueing]\ncontinuation_beats = {CONTINUATION_BEATS}\nsync_bars = 2\nwindow_ms = {WINDOW_MS:g}\n\n"
                + _fixed_tempo(tempo, tempo))
    if task in ("rhythm-imitation", "melodic-imitation"):
        melodic = task == "melodic-imitation"
        head = _head("Assessment: echo " + ("melodies" if melodic else "rhythms"), "call_and_response",
                     IMITATION_BPM, STAIRCASE["max_trials"], cue="program:0" if melodic else "drum:hi_bongo",
                     source=source, count_in=2)
        if melodic:  # 2, 3 and 4 notes, one bar each (the staircase's first three levels)
            phrases = [("two", "C4:2 G4:2"), ("three", "C4 E4 G4:2"), ("four", "G4 E4 D4 C4")]
            body = "".join(f'[[phrases]]\nname = "{n}"\nmelody = "{m}"\n\n' for n, m in phrases)
        else:
            phrases = [("two", "x...x..."), ("three", "x.x.x..."), ("four", "x.x.xx..")]
            body = "".join(f'[[phrases]]\nname = "{n}"\nrhythm = "{r}"\n\n' for n, r in phrases)
        return (head + body
                + f"[response]\nwindow_s = {IMITATION_WINDOW_S:g}\nrequire_pitch = true\n\n"
                + "[adapt]\nup_after = 1\ndown_after = 1\ntempo_step_pct = 0\nlength_step = 1\n\n")
    if task == "turn-taking":
        return (_head("Assessment: take turns", "turn_taking", TURN_BPM, TURN_TRIALS, cue="drum:hi_bongo",
                      source=source, count_in=2)
                + '[[phrases]]\nname = "three"\nrhythm = "x.x.x..."\n\n'
                + '[[phrases]]\nname = "knock knock"\nrhythm = "x.x.xx.."\n\n'
                + '[turns]\ngap_s = 1.5\nmax_s = 6\ninitiate_within_s = 3\nanswers = ["next"]\n\n')
    if task == "stop-and-go":
        return (_head("Assessment: stop and go", "stop_and_go", STOP_BPM, STOP_TRIALS, cue="drum:acoustic_snare",
                      source=source)
                + '[[phrases]]\nname = "march"\nrhythm = "X.x.X.x."\n\n'
                + "[stop_and_go]\ngo_bars = [2, 3]\nstop_s = [3, 4]\ngrace_ms = 400\n\n")
    if task == "vocal-fill":
        return (_head("Assessment: sing the missing note", "fill_in_the_blank", FILL_BPM, FILL_TRIALS,
                      cue="program:0", feedback="none", source=source)
                + '[[phrases]]\nname = "twinkle, twinkle, little star"\nmelody = "C4 C4 G4 G4 A4 A4 G4:2"\n'
                  "blank = 7\n\n"
                + '[[phrases]]\nname = "how I wonder what you are"\nmelody = "F4 F4 E4 E4 D4 D4 C4:2"\nblank = 7\n\n')
    if task == "sensory":
        trials = len(SENSORY_PROBES) * PROBE_BARS
        return (_head("Assessment: sound probes", "rhythmic_cueing", SENSORY_BPM, trials, grid="1/4",
                      feedback="none", source=source, count_in=0)
                + f'[cueing]\nsong = "{song}"\n\n' + _fixed_tempo(SENSORY_BPM, SENSORY_BPM))
    raise ValueError(f"no battery task has the script {task!r}")


def write_probe_song(path: Path) -> Path:
    """The sensory probes as a MIDI file (drums on channel 10, one tempo, no time signature)."""
    import mido  # heavy (70 ms): only when the battery writes its scripts

    tpb = 480
    events: list[tuple[int, mido.Message]] = []
    for k, probe in enumerate(SENSORY_PROBES):
        for bar in range(PROBE_BARS - 1):  # the last bar of each probe is silent
            for beat, keys, velocity in probe.hits:
                t = round(((k * PROBE_BARS + bar) * 4 + beat) * tpb)
                for key in keys:
                    events.append((t, mido.Message("note_on", channel=9, note=key, velocity=velocity)))
                    events.append((t + tpb // 4, mido.Message("note_off", channel=9, note=key, velocity=0)))
    events.sort(key=lambda e: (e[0], e[1].type == "note_on"))
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(SENSORY_BPM), time=0)])
    now = 0
    for t, msg in events:
        track.append(msg.copy(time=t - now))
        now = t
    end = len(SENSORY_PROBES) * PROBE_BARS * 4 * tpb
    track.append(mido.MetaMessage("end_of_track", time=end - now))
    mid = mido.MidiFile(ticks_per_beat=tpb)
    mid.tracks.append(track)
    data = io.BytesIO()
    mid.save(file=data)
    return write_private(path, data.getvalue())


def write_script(folder: Path, task: str, *, source: str, tempo_bpm: float | None = None):
    """Write the task's script (and the probes' MIDI file) into ``folder``; returns the checked Script.

    Raises
    ------
    engine.errors.ConfigError
        If the generated script does not validate (a bug: one sentence naming the field).
    engine.errors.DataDirError
        If the folder cannot be written (one sentence).
    """
    song = None
    if task == "sensory":
        song = write_probe_song(folder / "sensory-probes.mid").name
    path = folder / f"{task}.toml"
    write_private(path, script_text(task, source=source, tempo_bpm=tempo_bpm, song=song))
    return load_script(path)


def planned_seconds(task: str) -> float:
    """The task's longest planned length of music, seconds (every trial; the slowest own tempo)."""
    slowest = 60.0 / OWN_TEMPO_RANGE_BPM[0]
    if task == "tempo":
        return FREE_PLAY_S + (4 + 4 * SYNC_BARS) * slowest
    if task in ("sync-slow", "sync-fast"):
        return (4 + 4 * SYNC_BARS) * 60.0 / (SLOW_BPM if task == "sync-slow" else FAST_BPM)
    if task == "continuation":
        return (4 + CONTINUATION_TRIALS * (8 + CONTINUATION_BEATS)) * slowest
    if task in ("rhythm-imitation", "melodic-imitation"):
        spb = 60.0 / IMITATION_BPM
        # count-in 2 beats, the longest call (2 bars), the window, the call's span plus a beat
        return STAIRCASE["max_trials"] * (2 * spb + 8 * spb + IMITATION_WINDOW_S + 8 * spb)
    if task == "turn-taking":
        return 2 * 60.0 / TURN_BPM + TURN_TRIALS * (4 * 60.0 / TURN_BPM + 3.0 + 6.0)
    if task == "stop-and-go":
        return 4 * 60.0 / STOP_BPM + STOP_TRIALS * (3 * 4 * 60.0 / STOP_BPM + 4.0)
    if task == "vocal-fill":
        return FILL_TRIALS * (4 + 8) * 60.0 / FILL_BPM
    if task == "sensory":
        return len(SENSORY_PROBES) * PROBE_BARS * 4 * 60.0 / SENSORY_BPM
    raise ValueError(f"no battery task has the script {task!r}")


def sessions_of(tasks: Sequence[TaskSpec]) -> list[str]:
    """The scripts (sessions) the tasks need, in battery order, each once."""
    return list(dict.fromkeys(t.session for t in tasks))
