"""The family's homepack: which songs, at which tempo (and from where), audio measured, the one-page sheet in plain
words (the child's name, each song's speed as a pace, how to practise at home), home_practice, privacy.

One homepack is made for the whole module (a plan, demo sessions of two of
its scripts on the offline engine, a hand-made assessment): four songs of
15 s each. The audio's tempo is measured from the WAV itself with the
engine's own onset detector (:func:`engine.audio.onsetfile.detect_file`):
the onsets are fitted to a grid of half beats and the fitted beat compared
with 60 / the working tempo.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import stat
from pathlib import Path

import numpy as np
import pytest
import soundfile

from engine.assessment.results import Assessment, Figure, TaskResult, save_assessment
from engine.errors import ConfigError
from engine.homepack import MAX_NOTE_CHARS, PDF_NAME, README_NAME, home_practice, make_homepack
from engine.homepack.practice import tempo_words
from engine.homepack.render import FADE_S, PEAK_CEILING_DBFS, TARGET_RMS_DBFS, normalise
from engine.homepack.sheet import SheetSong, play_along, render_sheet
from engine.homepack.songs import choose_songs, working_tempo
from engine.interventions.script import load_script
from engine.records.index import load_records
from engine.records.model import SessionRecord, TrialRecord
from engine.records.plan import load_plan
from engine.simulation.demo import run_demo

SONGS = Path("content/songs")
MARCH, ECHO, KEEP, CONV = (SONGS / f"{n}.toml" for n in
                           ("steady-beat-march", "echo-drums", "tap-and-keep-going", "drum-conversation"))
MINUTES = 0.25
SMT_BPM = 104.0
NOTE = "Sam loved the march this week!\nTry it before dinner."
TODAY = dt.date(2026, 11, 20)
SPEED = "Recorded at an easy walking pace (about 90 beats a minute), the song's own speed, until C07 has played it " \
        "in a session."

PLAN = '''\
id = "C07"
display_name = "Sammy"
therapist = "J. Rivera, MT-BC"

[[goals]]
domain = "motor"
description = "Keeps a steady beat with the music."

[[goals.objectives]]
id = "steady-beat"
description = "Taps within 80 ms of the beat on at least 70 % of beats."
metric = "within_window_pct"
aggregate = "mean"
comparator = ">="
threshold = 70
scripts = ["steady-beat-march", "tap-and-keep-going.toml"]

[[goals]]
domain = "communication"
description = "Copies short rhythms on the drum."

[[goals.objectives]]
id = "imitate"
metric = "correct"
criterion = "k_of_n"
k = 4
n = 5
comparator = "=="
threshold = true
scripts = ["echo-drums"]

[[goals]]
domain = "socialization"
description = "Waits for a turn, then takes it."

[[goals.objectives]]
id = "turns"
metric = "waited"
criterion = "k_of_n"
k = 4
n = 5
comparator = "=="
threshold = true
scripts = ["drum-conversation", "steady-beat-march"]
'''


def _as_the_childs(run: list[dict]) -> None:
    """A demo's log marked as a session with the child (``"simulated": false``): these tests need adaptive
    sessions with known tempi, which only the simulated child plays here. A simulated visit itself never sets
    a homepack's tempo (tests/test_kept_apart.py)."""
    log = Path(run[0]["folder"]) / "events.jsonl"
    header, *rest = log.read_text().splitlines()
    log.write_text("\n".join([json.dumps({**json.loads(header), "simulated": False}), *rest]) + "\n")


def _assessment(child: str, smt_bpm: float | None, *, status: str = "done") -> Assessment:
    figs = () if smt_bpm is None else (Figure(id="smt_bpm", label="Spontaneous motor tempo", value=smt_bpm,
                                              unit="BPM", definition="60 / the median inter-tap interval", n=24,
                                              spread=21.0, spread_label="SD of the inter-tap intervals, ms"),)
    task = TaskResult(id="spontaneous_tempo", domain="motor", title="Free tapping", status=status, trials=1,
                      figures=figs, reason=None if status == "done" else "no taps")
    return Assessment(child_id=child, started="2026-11-10T10:00:00+00:00", ended="2026-11-10T10:14:00+00:00",
                      status="completed", simulated=None, devices={"midi_in": None, "keyboard": False,
                                                                        "mic": False}, tasks=(task,))


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    tmp = tmp_path_factory.mktemp("homepack")
    mp.setenv("TANDEM_CACHE", str(tmp / "cache"))
    root = tmp / "data"
    (root / "plans").mkdir(parents=True)
    (root / "plans" / "C07.toml").write_text(PLAN)
    # Adaptive sessions: the steady child speeds the march up (80 → 88.2 BPM) and the echo (90 → 94.5).
    _as_the_childs(run_demo(MARCH, root=root, child_id="C07", model="steady", max_trials=10, echo=None))
    _as_the_childs(run_demo(ECHO, root=root, child_id="C07", model="steady", max_trials=4, echo=None))
    save_assessment(_assessment("C07", SMT_BPM), root)
    result = make_homepack(root, "C07", note=NOTE, minutes=MINUTES, today=TODAY)
    yield root, result, {s["title"]: s for s in result["songs"]}
    mp.undo()


def test_songs_are_the_plans_scripts_in_its_order(pack):
    _root, result, _ = pack
    assert [Path(s["script"]).stem for s in result["songs"]] == [
        "steady-beat-march", "tap-and-keep-going", "echo-drums", "drum-conversation"]
    assert all(s["chosen_by"] == "plan" for s in result["songs"])
    assert result["songs"][0]["objectives"] == ["steady-beat", "turns"]


def _record(script: str, started: str, tempi: list[float]) -> SessionRecord:
    trials = tuple(TrialRecord(n=i + 1, index=i, start_s=float(i), tempo_bpm=t, scores={}, correct=True)
                   for i, t in enumerate(tempi))
    return SessionRecord(path=Path("x"), header={}, trials=trials, objectives=(), status="completed",
                         started=started, duration_s=60.0, child_id="C01", script=script, title="", kind="")


def test_without_a_plan_the_recent_sessions_songs_most_recent_first():
    records = [_record(str(ECHO), "2026-11-01T10:00:00+00:00", [90]),
               _record(str(MARCH), "2026-11-03T10:00:00+00:00", [80]),
               _record("/gone/old-song.toml", "2026-11-04T10:00:00+00:00", [80]),
               _record(str(ECHO), "2026-11-05T10:00:00+00:00", [90]),
               _record(str(SONGS / "hello.toml"), "2026-11-02T10:00:00+00:00", [84]),
               _record(str(SONGS / "goodbye.toml"), "2026-10-02T10:00:00+00:00", [80]),
               _record(str(SONGS / "stop-and-go.toml"), "2026-10-01T10:00:00+00:00", [96])]
    songs, notes = choose_songs(None, records, child="C01")
    assert [s.stem for s in songs] == ["echo-drums", "steady-beat-march", "hello", "goodbye"]  # at most 4
    assert all(s.chosen_by == "sessions" for s in songs)
    assert any("old-song.toml" in n for n in notes)


def test_no_plan_and_no_sessions_is_one_sentence_saying_what_to_do(tmp_path):
    with pytest.raises(ConfigError) as err:
        make_homepack(tmp_path, "C99", minutes=MINUTES)
    msg = str(err.value)
    assert "\n" not in msg and "C99 has no plan and no sessions" in msg and "tandem plan new C99" in msg
    assert not (tmp_path / "homepacks").exists()


def test_working_tempo_comes_from_the_right_source(pack):
    root, _result, songs = pack
    records = load_records(root, "C07")
    last = {Path(r.script).stem: r.trials[-1].tempo_bpm for r in records}
    march, echo = songs["Steady-beat march"], songs["Echo drums"]
    # The last trial of the latest session, not the script's tempo (the adaptive session moved away from it).
    assert march["tempo_source"] == "session" and march["tempo_bpm"] == pytest.approx(last["steady-beat-march"])
    assert march["tempo_bpm"] != pytest.approx(load_script(MARCH).tempo_bpm)
    assert echo["tempo_source"] == "session" and echo["tempo_bpm"] == pytest.approx(last["echo-drums"])
    assert echo["tempo_bpm"] != pytest.approx(load_script(ECHO).tempo_bpm)
    # No session of it, rhythmic cueing: the child's own tempo from the assessment (within 60-120).
    keep = songs["Tap and keep going"]
    assert keep["tempo_source"] == "assessment" and keep["tempo_bpm"] == SMT_BPM and not keep["clamped"]
    # No session, not rhythmic cueing: the script's own.
    conv = songs["Drum conversation"]
    assert conv["tempo_source"] == "script" and conv["tempo_bpm"] == load_script(CONV).tempo_bpm


def test_working_tempo_is_clamped_and_the_assessment_only_serves_cueing():
    keep, echo = load_script(KEEP), load_script(ECHO)
    fast = working_tempo(keep, [], _assessment("C01", 150.0))
    assert (fast.source, fast.bpm, fast.found_bpm, fast.clamped) == ("assessment", 120.0, 150.0, True)
    assert "range 60-120" in fast.detail
    assert working_tempo(echo, [], _assessment("C01", 100.0)).source == "script"
    assert working_tempo(keep, [], _assessment("C01", None, status="no_response")).source == "script"
    # The latest session wins over an older one and over the assessment.
    recs = [_record(str(KEEP), "2026-11-05T10:00:00+00:00", [90, 94.5]),
            _record(str(KEEP), "2026-11-01T10:00:00+00:00", [70])]
    got = working_tempo(keep, recs, _assessment("C01", 100.0))
    assert (got.source, got.bpm) == ("session", 94.5)


def _fit_tempo(onsets_s: np.ndarray, tempo_bpm: float) -> tuple[float, float]:
    """The tempo a least-squares fit of the onsets to a half-beat grid gives, and the largest residual (s).

    Each trial's music has its own grid (a call-and-response trial starts when the answer window
    closes, not on a beat), so the onsets are cut into runs at silences longer than three beats and
    fitted with one common beat and one start per run.
    """
    half = 30.0 / tempo_bpm
    runs = np.concatenate([[0], np.cumsum(np.diff(onsets_s) > 6 * half)])
    k = np.array([np.round((t - onsets_s[runs == r][0]) / half) for t, r in zip(onsets_s, runs)])
    design = np.column_stack([k, np.eye(runs.max() + 1)[runs]])
    coef, *_ = np.linalg.lstsq(design, onsets_s, rcond=None)
    resid = onsets_s - design @ coef
    return 30.0 / coef[0], float(np.max(np.abs(resid)))


@pytest.mark.parametrize("title", ["Steady-beat march", "Echo drums", "Tap and keep going"])
def test_audio_is_at_the_working_tempo(pack, title):
    from engine.audio.onsetfile import detect_file

    _root, result, songs = pack
    song = songs[title]
    tempo = song["tempo_bpm"]
    onsets = np.array([o["time_s"] for o in detect_file(Path(result["folder"]) / song["wav"])["onsets"]])
    assert len(onsets) >= 12, onsets
    measured, worst = _fit_tempo(onsets, tempo)
    error_pct = 100.0 * (measured - tempo) / tempo
    # Within 0.1 % (the engine schedules every cue on its frame: the error is the detector's, about 1 ms),
    # and every onset on the grid: a tempo one adaptation step off (5 %) puts onsets a beat later 30+ ms off.
    assert abs(error_pct) < 0.1, (measured, tempo)
    assert worst < 0.004, worst
    # The shortest beat-to-beat spacing is one beat (march, continuation) or half a beat (echo's eighths).
    iois = np.diff(onsets)
    beat = 60.0 / tempo
    assert min(abs(np.median(iois[iois > 0.75 * beat]) - beat), abs(np.min(iois) - beat / 2)) < 0.002


def test_wav_and_ogg_read_back_with_the_right_length_and_level(pack):
    _root, result, songs = pack
    folder = Path(result["folder"])
    for song in songs.values():
        wav = soundfile.info(folder / song["wav"])
        ogg = soundfile.info(folder / song["ogg"])
        assert (wav.format, wav.subtype, wav.samplerate, wav.channels) == ("WAV", "PCM_16", 48_000, 2)
        assert (ogg.format, ogg.subtype, ogg.samplerate) == ("OGG", "VORBIS", 48_000)
        assert wav.duration == pytest.approx(song["duration_s"], abs=0.001)
        assert ogg.duration == pytest.approx(wav.duration, abs=0.05)
        # About `minutes` long: the last phrase is finished, then rings out.
        assert MINUTES * 60 <= wav.duration <= MINUTES * 60 + 15, (song["title"], wav.duration)
        data, _ = soundfile.read(folder / song["wav"])
        peak = np.max(np.abs(data))
        assert 10 ** (-12 / 20) < peak <= 10 ** (PEAK_CEILING_DBFS / 20) + 1e-4  # loud enough, never clipped
        back, _ = soundfile.read(folder / song["ogg"])
        assert np.max(np.abs(back)) < 1.0


def test_sheet_is_one_page_in_plain_words(pack):
    from pypdf import PdfReader

    _root, result, _songs = pack
    reader = PdfReader(Path(result["folder"]) / PDF_NAME)
    assert len(reader.pages) == 1
    text = " ".join(reader.pages[0].extract_text().split())
    for expected in ("Music at home", "Songs and ideas for Sammy", "Keeps a steady beat with the music.",
                     "Copies short rhythms", "Moving", "Communicating", "Playing together", "01-steady-beat-march.ogg",
                     "03-echo-drums.wav", "Listen to the drum, then play it back on a pot", "How to practise at home",
                     "A few minutes, most days", "Stop while it is still fun", "When Sammy is tired",
                     "Sam loved the march this week!", "J. Rivera, MT-BC"):
        assert expected in text, expected
    for jargon in ("within_window_pct", "80 ms", "70 %", "BPM", "objective", "criterion"):
        assert jargon not in text, jargon  # no scores or jargon
    # the family's page: the child's name (the plan's display_name), never the pseudonymous code
    assert "C07" not in text and "code your therapist uses" not in text
    readme = (Path(result["folder"]) / README_NAME).read_text()
    assert "Music at home for Sammy" in readme and "C07" not in readme
    assert result["shown_as"] == "Sammy" and result["child"] == "C07"


def test_the_sheet_says_each_songs_speed_in_plain_words_and_where_it_comes_from(pack):
    from pypdf import PdfReader

    _root, result, songs = pack
    march, keep = songs["Steady-beat march"]["tempo_bpm"], songs["Tap and keep going"]["tempo_bpm"]
    assert keep == SMT_BPM
    lines = {line.split(":")[0]: line for line in result["practice"][:4]}
    assert lines["Steady-beat march"].endswith(f"Recorded at a calm walking pace (about {round(march)} beats a minute), "
                                               f"the speed Sammy reached in the last session.")
    assert lines["Tap and keep going"].endswith("Recorded at a lively walking pace (about 104 beats a minute), "
                                                "Sammy's own tapping speed.")  # the assessment's 104
    assert lines["Drum conversation"].endswith("Recorded at an easy walking pace (about 90 beats a minute), the "
                                               "song's own speed, until Sammy has played it in a session.")
    general = result["practice"][4:]
    assert any(x.startswith("When Sammy is tired") and "calmest song (Steady-beat march)" in x for x in general)
    text = " ".join(PdfReader(Path(result["folder"]) / PDF_NAME).pages[0].extract_text().split())
    assert f"(about {round(march)} beats a minute), the speed Sammy reached in the last session." in text


def test_home_practice_gives_the_pages_sentences_and_writes_nothing(pack):
    root, result, _ = pack
    plan, records = load_plan(root, "C07"), load_records(root, "C07")
    before = sorted(str(p) for p in root.rglob("*"))
    assert home_practice(root, "C07", plan, records, name="Sammy") == result["practice"]
    by_id = home_practice(root, "C07", plan, records)  # a report names the child by the id
    assert by_id[0].startswith("Steady-beat march: ") and any("When C07 is tired" in x for x in by_id)
    assert not any("Sammy" in x for x in by_id)
    assert sorted(str(p) for p in root.rglob("*")) == before
    assert home_practice(root, "C99", None, []) == []  # nothing to recommend: no plan, no visits


@pytest.mark.parametrize(("bpm", "words"), [
    (60, "a slow, gentle pace (about 60 beats a minute)"), (80, "a calm walking pace (about 80 beats a minute)"),
    (88.2, "a calm walking pace (about 88 beats a minute)"), (96, "an easy walking pace (about 96 beats a minute)"),
    (104, "a lively walking pace (about 104 beats a minute)"), (120, "a quick, bouncy pace (about 120 beats a minute)"),
])
def test_tempo_words(bpm, words):
    assert tempo_words(bpm) == words


def test_without_a_display_name_the_page_uses_the_id_and_says_what_it_is(pack, tmp_path):
    from pypdf import PdfReader

    _root, _result, _ = pack  # for its sound cache (TANDEM_CACHE)
    unnamed = tmp_path / "data"
    (unnamed / "plans").mkdir(parents=True)
    (unnamed / "plans" / "C07.toml").write_text(PLAN.replace('display_name = "Sammy"\n', ""))
    out = make_homepack(unnamed, "C07", out_dir=tmp_path / "pack", names=True, minutes=0.05, today=TODAY)
    text = " ".join(PdfReader(Path(out["folder"]) / PDF_NAME).pages[0].extract_text().split())
    assert "Songs and ideas for C07 (the code your therapist uses for your child)" in text and "Sammy" not in text
    assert out["shown_as"] == "C07"


def test_folder_and_files_are_private_and_listed(pack):
    root, result, _ = pack
    folder = Path(result["folder"])
    assert folder == root / "homepacks" / "C07" / "20261120"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = sorted(p.name for p in folder.iterdir())
    assert files == sorted(result["files"]) and len(files) == 4 * 2 + 2
    for p in folder.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    readme = (folder / README_NAME).read_text()
    assert all(name in readme for name in files)


def test_a_second_pack_the_same_day_gets_its_own_folder_and_out_must_be_empty(pack, tmp_path):
    root, _result, _ = pack
    again = make_homepack(root, "C07", minutes=0.05, today=TODAY)
    assert Path(again["folder"]).name == "20261120-2"
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x.txt").write_text("the family's")
    with pytest.raises(ConfigError, match="not an empty folder"):
        make_homepack(root, "C07", out_dir=tmp_path / "used", minutes=0.05)
    with pytest.raises(ConfigError, match="at most 10"):
        make_homepack(root, "C07", out_dir=tmp_path / "m", minutes=0)
    with pytest.raises(ConfigError, match="Shorten it"):
        make_homepack(root, "C07", out_dir=tmp_path / "n", note="x" * (MAX_NOTE_CHARS + 1), minutes=0.05)


def test_the_longest_note_with_six_goals_and_four_songs_fits_one_page():
    import io

    from pypdf import PdfReader

    words = "We practised waiting for the drum and then answering it, and it went really well today. "
    note = (words * math.ceil(MAX_NOTE_CHARS / len(words)))[:MAX_NOTE_CHARS]
    songs = [SheetSong(number=i, title=f"A song with a long title number {i}",
                       files=(f"0{i}-a-long-script-name.ogg", f"0{i}-a-long-script-name.wav"),
                       how="The music sings, then waits: that is C07's turn to answer, by singing, saying it, or "
                           "with a clap or a drum. Then the music goes on.", minutes=3.1, tempo_bpm=90, speed=SPEED)
             for i in range(1, 5)]
    goals = [("Moving", "Keeps a steady beat with the music, with both hands, while walking in the room.")] * 6
    pdf, html = render_sheet(child="C07", pseudonymous=True, goals=goals, more_goals=3, songs=songs, note=note,
                             therapist="J. Rivera, MT-BC", made=TODAY)
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1
    assert "and 3 more" in html


def test_the_rendered_script_has_a_fixed_tempo_no_free_play_and_runs_for_the_minutes():
    from engine.homepack.render import fixed_tempo_script

    keep = load_script(KEEP)
    wants_free_play = dataclasses.replace(keep, options={**keep.options, "free_play": True, "free_play_s": 20.0})
    fixed = fixed_tempo_script(wants_free_play, 97.5, 2.0)
    assert (fixed.tempo_bpm, fixed.adaptation, fixed.trials, fixed.duration_min) == (97.5, None, None, 2.0)
    assert "free_play" not in fixed.options and "free_play_s" not in fixed.options
    assert fixed.options["continuation_beats"] == keep.options["continuation_beats"]  # the rest is kept
    assert keep.adaptation is not None and keep.tempo_bpm == 90  # the loaded script is untouched


def test_a_typical_sheet_keeps_the_roomy_layout_and_only_a_long_note_needs_the_compact_one():
    four = [SheetSong(number=i, title="Echo drums", files=(f"0{i}-echo-drums.ogg", f"0{i}-echo-drums.wav"),
                      how=play_along(load_script(ECHO), "C07"), minutes=3.0, tempo_bpm=90, speed=SPEED)
            for i in range(1, 5)]
    goals = [("Moving", "Keeps a steady beat with the music.")] * 3
    common = {"child": "C07", "pseudonymous": True, "goals": goals, "more_goals": 0, "songs": four,
              "therapist": "J. Rivera, MT-BC", "made": TODAY}
    _pdf, html = render_sheet(**common, note=NOTE)
    assert "font-size: 9pt" not in html  # the compact layout's
    _pdf, html = render_sheet(**common, note="We sang a lot today. " * 40)
    assert "font-size: 9pt" in html


def test_normalise_reaches_the_level_never_clips_and_fades_out():
    rate = 48_000
    t = np.arange(4 * rate) / rate
    quiet = np.column_stack([0.01 * np.sin(2 * np.pi * 440 * t)] * 2)  # a soft steady tone: the level wins
    y, gain_db = normalise(quiet, rate)
    body = y[: -round(FADE_S * rate)]
    assert 20 * np.log10(np.sqrt(np.mean(body ** 2))) == pytest.approx(TARGET_RMS_DBFS, abs=0.1)
    assert abs(y[-1, 0]) < 1e-9 and np.max(np.abs(y[-round(0.01 * rate):])) < 0.01 * np.max(np.abs(body))
    assert gain_db > 0
    clicks = np.zeros((4 * rate, 2))
    clicks[:: rate // 2] = 2.0  # sparse, loud clicks: the peak ceiling wins, nothing clips
    y, gain_db = normalise(clicks, rate)
    assert np.max(np.abs(y)) == pytest.approx(10 ** (PEAK_CEILING_DBFS / 20), rel=1e-4) and gain_db < 0
    silent, gain_db = normalise(np.zeros((rate, 2)), rate)
    assert not silent.any() and gain_db == 0.0
