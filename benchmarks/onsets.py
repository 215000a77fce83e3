"""Onset benchmark: the causal onset detector against aubio and librosa, on real one-shots with exact ground truth.

Run: ``.venv/bin/python -m benchmarks.onsets --json OUT.json`` (``--quick`` for
a short run, ``--conditions clean,leakage`` for some of them). Needs the
``bench`` extra (mir_eval scores; aubio is compared against: GPL, benchmark
only, never a dependency of the engine): ``make bench`` installs it. Reads
``../shared/data/percussion`` (``TANDEM_SHARED_DATA`` moves the data folder);
without it the benchmark says so and skips.

Signals (48 kHz, mono, fixed seed) are built from the folder's one-shot
recordings, so every true onset is known to the sample:

- A *hit* is one recording, mixed to mono (mean of its channels), resampled
  to 48 kHz (``scipy.signal.resample_poly``), peak-normalised, cut to 1.5 s
  (50 ms fade). Its true onset is where it is placed plus its *attack*: the
  first sample at 10 % of its peak, the definition of the folder's
  ``inventory.csv`` (which takes the peak over both channels of the 44.1-kHz
  file and rounds to 0.1 ms); it is recomputed on the 48-kHz mono waveform
  that is actually placed, and ``data_source.attack_check`` says how far the
  two differ. Recordings with no single attack are left out: those whose rise
  from 3 % to 10 % of the peak takes longer than 3 ms (a detector that fires
  where such a sound starts would be counted several ms early: the maracas,
  a shaker, a crash), those that do not decay (RMS over 150–300 ms after the
  attack less than 3 dB below that of the first 50 ms: a sustained synth tone,
  a swelling open hi-hat), and the kit's empty sample (``data_source.excluded``
  lists them).
- Hits come in *phrases*, as a child plays: one instrument for 3–8 hits
  (kit chosen uniformly, then an instrument of it; a loudness layer at random
  for each hit where the kit has layers), inter-onset intervals 150–600 ms,
  0.6–2 s between phrases; phrase peak level uniform in −30…−6 dBFS, each hit
  ±3 dB around it.
- Every signal has a quiet-room floor: pink noise at −75 dBFS RMS.
- ``clean``, the ``noise_*`` conditions and ``music`` are one performance
  (the same hits at the same times) in different rooms, so that they compare
  pair by pair; ``soft`` and ``fast`` are performances of their own.
- SNR of a hit: the RMS of its first 50 ms (from its true onset) over the
  RMS of the background (noise or music), in dB.

Conditions (``--conditions``):

- ``clean``: the hits over the floor.
- ``noise_20db``, ``noise_10db``, ``noise_0db``: stationary room noise
  (spectrum ∝ 1/f^1.5 from 20 Hz, between pink and brown) at −55 dBFS RMS;
  each hit scaled so that its SNR is exactly the condition's.
- ``music``: a chord pad and bass synthesised here (a chord every 2 s; the
  pad fades in over 300 ms and the bass over 150 ms, so nothing in it is a
  percussive onset, and it is not annotated), −45 dBFS RMS; each hit 10–15 dB
  above it (SNR as above).
- ``soft``: only the two quietest layers (Soft, Softest) of Gimme A Hand,
  phrase levels −40…−30 dBFS peak.
- ``fast``: IOIs 80–150 ms, phrases of 6–16 hits.
- ``leakage``: the engine's own cues (its sound bank: built-in clicks,
  General MIDI wood blocks, cowbell, claves) played as a metronome (one beat
  every 450–900 ms, accent every 4th), passed through a room response into
  the microphone: direct path 1–4 ms, speaker band 200 Hz–8 kHz (2nd-order
  Butterworth), six early reflections within 20 ms, an exponentially decaying
  noise tail (RT60 0.25–0.4 s), direct-to-reverberant ratio 8–12 dB; leaked
  cue peaks 0 to −10 dB relative to the child's middle level (−18 dBFS; the
  child's phrases are at −26…−10 dBFS; the path's gain is −12 dB, so the
  engine plays its cues at −16…−6 dBFS peak). Child hits: for half the cues one
  within ±30 ms of the cue's arrival at the microphone (*near*), and in 60 %
  of the gaps one at least 100 ms from any cue (*between*). Several takes,
  each with its own room, cue sound and tempo and a fresh detector. The
  detector gets ``played`` (the dry cue track, aligned with the microphone);
  the same takes are run again without it, to show what suppression buys.

Figures for each condition and detector, from ``mir_eval.util.match_events``
(the one-to-one matching of ``mir_eval.onset.f_measure``; counts pooled over
a condition's takes): ``f1_5ms`` … ``f1_50ms`` (F1 at ±5, ±10, ±25, ±50 ms),
``precision_10ms``, ``recall_10ms``; over the pairs matched at ±50 ms,
``timing_error_median_ms`` / ``_p95_ms`` (|detected − true|) and the signed
median (bias); ``latency_median_ms`` / ``_p95_ms``: from the true onset to the
sample at which the detector reported it (the detector's ``detected_at``;
aubio: the end of the hop that fired; causal librosa: the end of the frame
whose flux peaked, its inherent lag; offline librosa: null), and for the
streaming detectors ``latency_at_return_*``: to the end of the block the
onset was returned with. Leakage: ``cue_false_report_rate`` (onsets that
match no child hit within ±25 ms, per cue: this also counts second transients
inside the child's own recordings, e.g. a clap sample's slap 41 ms after its
attack, which are not cues), ``cues_reported_share`` (cues with
such an onset within −10…+30 ms of their arrival), ``near_recall_25ms`` /
``_10ms`` and ``between_recall_25ms`` / ``_10ms`` (child hits found; a leaked
cue reported within ±25 ms of a near hit counts as finding it, which the
±10 ms figure shows up). CPU: thread CPU time of each ``process()`` call,
per condition too (``leakage`` runs the suppression path). Every onset the
detector reports is scored, whatever its ``kind``; ``n_found_by_kind`` and
``percussive_only`` show what non-percussive reports cost, and
``by_family`` / ``missed_most`` where the misses are.

Goals (``GOALS``, at blocksize 128): F1 at ±10 ms ≥ 0.97 in ``clean`` and
``noise_20db``, ≥ 0.90 in ``noise_10db``, above aubio's in every condition
(both at 1.0 counts); in ``clean`` median |timing error| ≤ 1 ms, p95 ≤ 3 ms,
latency median ≤ 8 ms, p95 ≤ 12 ms (``met_by_condition``: the same
thresholds in every condition); leakage: ≤ 2 % of the engine's cues reported
as onsets (``cues_reported_share``, the issue's own words), ≥ 95 % of near hits
found; CPU: the median block time ≤ 10 % of the block period in
the worst condition.

Comparators: aubio's streaming ``onset("default", 512, 256)`` (HFC, its own
threshold, delay compensation in ``get_last()``) and, for information,
``onset("default", 256, 128)``; librosa ``onset_detect`` with its defaults
(offline, 2048/512, ~100 ms look-ahead in its peak picking) and a causal
variant (mel flux of uncentred 1024-sample frames every 128 samples, dB
without the global ``top_db`` clip, peak picking with ``post_max = post_avg =
1``; the onset is put at the centre of the newest hop of the frame whose flux
peaked, and known at that frame's end; the envelope is still normalised by its
global maximum, the one non-causal step left: a scale, not a look-ahead).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import re
import sys
import time
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from benchmarks.common import SHARED_DATA, skipped

RATE = 48_000
WINDOWS_MS = (5, 10, 25, 50)
CONDITIONS = ("clean", "noise_20db", "noise_10db", "noise_0db", "music", "soft", "fast", "leakage")
FLOOR_DBFS = -75.0  # quiet-room floor (pink noise RMS) under every signal
NOISE_DBFS = -55.0  # room noise RMS in the noise conditions
MUSIC_DBFS = -45.0  # music RMS
LEVEL_DBFS = (-30.0, -6.0)  # phrase peak levels
SOFT_DBFS = (-40.0, -30.0)
CHILD_DBFS = (-26.0, -10.0)  # the child's phrase levels in the leakage condition
LEAK_REF_DBFS = -18.0  # leaked cue peaks are 0 … −10 dB relative to this
PLAYED_DBFS = -6.0  # an accent played at this peak leaks at LEAK_REF_DBFS (the path's gain: −12 dB)
MAX_SHOT_S = 1.5
MAX_RISE_MS = 3.0  # a recording whose rise from 3 % to 10 % of its peak takes longer has no single attack
MIN_DECAY_DB = 3.0  # a recording less than this much down 150–300 ms after its attack is sustained, not a hit
NEAR_MS = 30.0
LEAK_MATCH_MS = 25.0
CUE_PAIRS = (("drum:hi_wood_block", "drum:low_wood_block"), ("click:high", "click"),
             ("drum:cowbell", "drum:cowbell"), ("drum:claves", "drum:claves"))

GOALS = {  # key: (path in the results, comparison, value)
    "clean_f1_10ms": ("conditions.clean.tandem.f1_10ms", ">=", 0.97),
    "noise_20db_f1_10ms": ("conditions.noise_20db.tandem.f1_10ms", ">=", 0.97),
    "noise_10db_f1_10ms": ("conditions.noise_10db.tandem.f1_10ms", ">=", 0.90),
    "f1_10ms_above_aubio_every_condition": ("conditions.*.tandem.f1_10ms", ">",
                                            "conditions.*.aubio.f1_10ms (or both 1.0)"),
    "clean_timing_error_median_ms": ("conditions.clean.tandem.timing_error_median_ms", "<=", 1.0),
    "clean_timing_error_p95_ms": ("conditions.clean.tandem.timing_error_p95_ms", "<=", 3.0),
    "clean_latency_median_ms": ("conditions.clean.tandem.latency_median_ms", "<=", 8.0),
    "clean_latency_p95_ms": ("conditions.clean.tandem.latency_p95_ms", "<=", 12.0),
    "leakage_cues_reported_share": ("leakage.tandem.cues_reported_share", "<=", 0.02),
    "leakage_near_recall_25ms": ("leakage.tandem.near_recall_25ms", ">=", 0.95),
    "cpu_share_median": ("cpu.share_median_worst_condition", "<=", 0.10),
}
# Timing and latency goals are judged on `clean` (met); `met_by_condition` holds them for every condition.
PER_CONDITION_GOALS = {"timing_error_median_ms": 1.0, "timing_error_p95_ms": 3.0,
                       "latency_median_ms": 8.0, "latency_p95_ms": 12.0}

PERCUSSION_DIR = SHARED_DATA / "percussion"
KITS = {  # folder: (citation, licence) — see the data folder's README.md and licenses/
    "Gimme A Hand 1.0": ("Glen MacArthur, 'Gimme A Hand 1.0' (Hydrogen drum kit; Debian hydrogen-drumkits "
                         "2017.09.19)", "GPL-2"),
    "circAfrique v4": ("Jim Harney, 'circAfrique v4' (Hydrogen drum kit; Debian hydrogen-drumkits 2017.09.19)",
                       "CC-BY-SA-3.0"),
    "Millo-Drums_v.1": ("Emiliano Grilli (emillo.net), 'Millo-Drums v.1' (Hydrogen drum kit; Debian "
                        "hydrogen-drumkits 2017.09.19)", "GPL-2"),
    "Audiophob": ("soundcloud.com/audiophobdubstep, 'Audiophob' (Hydrogen drum kit; Debian hydrogen-drumkits "
                  "2017.09.19)", "CC0"),
    "TR808EmulationKit": ("ArtemioLabs, 'TR808EmulationKit' (Debian hydrogen-data 1.2.0)", "GPL-2+"),
}
_LAYER = re.compile(r"^(?P<base>.+)-(?P<layer>Hardest|Hard|Med|Softest|Soft)\.wav$")
_FAMILIES = (("clap", "clap"), ("snare", "snare"), ("snap", "snap"), ("wood", "woodblock"), ("stick", "woodblock"),
             ("cajon", "cajon"), ("bongo", "bongo"), ("conga", "conga"), ("djembe", "djembe"),
             ("dunun", "dunun"), ("kenkeni", "dunun"), ("sangban", "dunun"), ("clave", "clave"),
             ("cowbell", "cowbell"), ("tambourine", "tambourine"), ("waterglass", "glass"),
             ("kick", "kick"), ("bd1", "kick"), ("tom", "tom"), ("hat", "hihat"),
             ("cymbal", "cymbal"), ("crash", "cymbal"), ("ride", "cymbal"), ("cra_", "cymbal"))


# ---------------------------------------------------------------------------------------------------------------
# The recordings


@dataclass(frozen=True, eq=False)
class Shot:
    """One recording, ready to place: mono, 48 kHz, peak 1."""

    kit: str
    file: str
    instrument: str  # kit/name without the loudness layer
    layer: str | None
    family: str
    data: np.ndarray
    attack: int  # samples from the start to the first sample at 10 % of the peak
    rms50: float  # RMS of the first 50 ms from the attack
    inventory_attack_s: float


def family_of(name: str) -> str:
    low = name.lower()
    return next((fam for key, fam in _FAMILIES if key in low), "other")


def load_shots(folder: Path) -> tuple[list[Shot], list[dict]]:
    """Every usable recording in ``folder`` (per inventory.csv), and the ones left out with the reason."""
    import soundfile as sf
    from scipy.signal import resample_poly

    from engine.audio.sound import Sound

    shots, excluded = [], []
    with open(folder / "inventory.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        kit, name = row["kit"], row["file"]
        x, sr = sf.read(folder / kit / name, always_2d=True, dtype="float64")
        x = x.mean(axis=1)
        if sr != RATE:
            ratio = Fraction(RATE, int(sr))
            x = resample_poly(x, ratio.numerator, ratio.denominator)
        peak = float(np.max(np.abs(x))) if x.size else 0.0
        if peak <= 0.0:
            excluded.append({"kit": kit, "file": name, "reason": "silent"})
            continue
        x = x / peak
        attack = Sound.find_attack(x, 0.1)
        rise_ms = (attack - Sound.find_attack(x, 0.03)) * 1000 / RATE
        if rise_ms > MAX_RISE_MS:
            excluded.append({"kit": kit, "file": name,
                             "reason": f"no single attack: 3 % → 10 % of the peak takes {rise_ms:.1f} ms"})
            continue
        head = np.sqrt(np.mean(x[attack: attack + int(0.05 * RATE)] ** 2))
        later = x[attack + int(0.15 * RATE): attack + int(0.3 * RATE)]
        decay_db = 20 * math.log10(max(float(np.sqrt(np.mean(later ** 2))) if later.size else 0.0, 1e-12) / head)
        if decay_db > -MIN_DECAY_DB:
            excluded.append({"kit": kit, "file": name, "reason": f"sustained, not a hit: 150–300 ms after the "
                                                                 f"attack it is only {-decay_db:.1f} dB down"})
            continue
        cut = int(MAX_SHOT_S * RATE)
        if x.size > cut:
            x = x[:cut].copy()
            fade = int(0.05 * RATE)
            x[-fade:] *= 0.5 + 0.5 * np.cos(np.linspace(0, np.pi, fade))
        seg = x[attack: attack + int(0.05 * RATE)]
        m = _LAYER.match(name)
        base = m["base"] if m else Path(name).stem
        shots.append(Shot(kit, name, f"{kit}/{base}", m["layer"] if m else None, family_of(base), x, attack,
                          float(np.sqrt(np.mean(seg * seg))), float(row["attack_start_s"])))
    return shots, excluded


# ---------------------------------------------------------------------------------------------------------------
# Signals


@dataclass
class Take:
    """One signal for one detector run: the microphone, the truth, and (leakage) what the speakers played."""

    mic: np.ndarray  # float32
    truth: np.ndarray  # true onsets, samples
    shots: list[Shot]  # the recording of each true onset
    snr_db: np.ndarray  # each hit's SNR against the background
    played: np.ndarray | None = None
    cues: np.ndarray | None = None  # cue arrivals at the microphone, samples
    near: np.ndarray | None = None  # per true onset: within ±30 ms of a cue's arrival
    info: dict = field(default_factory=dict)


def db(x: float) -> float:
    return 10 ** (x / 20)


def coloured_noise(rng, n: int, *, exponent: float, rms: float, f_lo: float = 20.0) -> np.ndarray:
    """Gaussian noise with power ∝ 1/f^exponent from ``f_lo`` (nothing below), scaled to ``rms``."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / RATE)
    spec *= np.where(f >= f_lo, np.maximum(f, f_lo) ** (-exponent / 2), 0.0)
    y = np.fft.irfft(spec, n)
    return y * (rms / np.sqrt(np.mean(y * y)))


def music_bed(rng, n: int, *, rms: float) -> np.ndarray:
    """A pad and bass: C, Am, F, G, a chord every 2 s, slow fade-ins (no percussive attack), 0.5 s releases."""
    chords = ([48, 64, 67, 72], [45, 64, 69, 72], [41, 65, 69, 72], [43, 62, 67, 71])
    table_n = 4096
    phase = np.arange(table_n) / table_n
    y = np.zeros(n + 3 * RATE)
    chord_s, release_s = 2.0, 0.5
    seg = int((chord_s + release_s) * RATE)
    t = np.arange(seg) / RATE

    def envelope(attack_s: float) -> np.ndarray:
        e = np.ones(seg)
        a = int(attack_s * RATE)
        e[:a] = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, a))
        r0, r = int(chord_s * RATE), seg - int(chord_s * RATE)
        e[r0:] *= 0.5 + 0.5 * np.cos(np.linspace(0, np.pi, r))
        return e

    pad_env, bass_env = envelope(0.3), envelope(0.15)
    for k, start in enumerate(range(0, n, int(chord_s * RATE))):
        bass, *pad = chords[k % len(chords)]
        f = 440.0 * 2 ** ((bass - 69) / 12)
        y[start:start + seg] += 1.2 * bass_env * (np.sin(2 * np.pi * f * t) + 0.3 * np.sin(4 * np.pi * f * t))
        for note in pad:
            f0 = 440.0 * 2 ** ((note - 69) / 12)
            ks = np.arange(1, max(2, int(4000 / f0)) + 1)
            wave = (np.sin(2 * np.pi * np.outer(ks, phase) + rng.uniform(0, 2 * np.pi, (ks.size, 1)))
                    * ks[:, None] ** -1.5).sum(axis=0)
            for cents in (-4.0, 4.0):  # two detuned voices
                fv = f0 * 2 ** (cents / 1200)
                idx = ((fv * t + rng.uniform()) % 1.0 * table_n).astype(np.int64)
                y[start:start + seg] += 0.25 * pad_env * wave[idx]
    y = y[:n]
    return y * (rms / np.sqrt(np.mean(y * y)))


def by_kit(shots: list[Shot]) -> dict[str, dict[str, list[Shot]]]:
    kits: dict[str, dict[str, list[Shot]]] = {}
    for s in shots:
        kits.setdefault(s.kit, {}).setdefault(s.instrument, []).append(s)
    return kits


def phrases(rng, shots: list[Shot], n: int, *, ioi_ms=(150, 600), length=(3, 8), gap_s=(0.6, 2.0),
            start_s: float = 0.5, end_s: float = 0.6) -> list[tuple[int, Shot, int]]:
    """(true onset, recording, phrase number) for phrases of one instrument each, until ``end_s`` before ``n``."""
    kits = by_kit(shots)
    names = sorted(kits)
    out: list[tuple[int, Shot, int]] = []
    t, last, p = start_s * RATE, n - end_s * RATE, 0
    while t < last:
        instruments = kits[names[rng.integers(len(names))]]
        inst = sorted(instruments)[rng.integers(len(instruments))]
        layers = instruments[inst]
        for _ in range(int(rng.integers(length[0], length[1] + 1))):
            if t >= last:
                break
            out.append((int(t), layers[rng.integers(len(layers))], p))
            t += rng.uniform(*ioi_ms) * RATE / 1000
        t += rng.uniform(*gap_s) * RATE
        p += 1
    return out


def place(mic: np.ndarray, onset: int, shot: Shot, gain: float) -> None:
    start = onset - shot.attack
    end = min(mic.size, start + shot.data.size)
    mic[start:end] += gain * shot.data[: end - start]


def phrase_gains(rng, hits, levels_dbfs) -> np.ndarray:
    """Peak gain of each hit: its phrase's level (uniform in ``levels_dbfs``) ±3 dB."""
    phrase_db = {p: rng.uniform(*levels_dbfs) for p in {h[2] for h in hits}}
    return np.array([db(phrase_db[p] + rng.uniform(-3, 3)) for _, _, p in hits])


def build_condition(name: str, shots: list[Shot], seed: int, seconds: float, takes: int) -> list[Take]:
    """The condition's takes. clean, noise_* and music share one performance (the same hits at the same
    times: only the background and the levels differ), so they compare pair by pair; soft and fast have
    their own. Every condition's signal is the same whether it runs alone or with others."""
    rng = np.random.default_rng([seed, CONDITIONS.index(name)])
    if name == "leakage":
        return [build_leakage_take(shots, rng, seconds) for _ in range(takes)]
    n = int(seconds * RATE)
    floor = coloured_noise(rng, n, exponent=1.0, rms=db(FLOOR_DBFS))
    pool = [s for s in shots if s.layer in ("Soft", "Softest")] if name == "soft" else shots
    kw = {"ioi_ms": (80, 150), "length": (6, 16), "gap_s": (0.5, 1.5)} if name == "fast" else {}
    performance = {"soft": 1, "fast": 2}.get(name, 0)
    hits = phrases(np.random.default_rng([seed, 100 + performance]), pool, n, **kw)
    rms50 = np.array([s.rms50 for _, s, _ in hits])
    info: dict = {"seconds": seconds, "floor_dbfs_rms": FLOOR_DBFS}
    if name.startswith("noise_"):
        snr = float(name.removeprefix("noise_").removesuffix("db"))
        background = coloured_noise(rng, n, exponent=1.5, rms=db(NOISE_DBFS))
        gains = db(NOISE_DBFS) * db(snr) / rms50
        info.update(noise_dbfs_rms=NOISE_DBFS, noise_spectrum="1/f^1.5 from 20 Hz", snr_db=snr)
    elif name == "music":
        background = music_bed(rng, n, rms=db(MUSIC_DBFS))
        gains = db(MUSIC_DBFS) * np.array([db(rng.uniform(10, 15)) for _ in hits]) / rms50
        info.update(music_dbfs_rms=MUSIC_DBFS, music="synthesised pad + bass, not annotated",
                    hits_above_music_db=[10, 15])
    else:
        background = None
        gains = phrase_gains(rng, hits, SOFT_DBFS if name == "soft" else LEVEL_DBFS)
        info.update(phrase_peak_dbfs=list(SOFT_DBFS if name == "soft" else LEVEL_DBFS))
    mic = floor + (background if background is not None else 0.0)
    for (onset, shot, _), g in zip(hits, gains):
        place(mic, onset, shot, g)
    ref_rms = db(FLOOR_DBFS) if background is None else float(np.sqrt(np.mean(background ** 2)))
    snr_db = 20 * np.log10(gains * rms50 / ref_rms)
    info["peak_dbfs"] = round(20 * math.log10(float(np.max(np.abs(mic)))), 1)
    truth = np.array([h[0] for h in hits])
    return [Take(mic.astype(np.float32), truth, [h[1] for h in hits], snr_db, info=info)]


def room_response(rng) -> tuple[np.ndarray, dict]:
    """Speaker → microphone: direct path, early reflections, a decaying noise tail, band-limited."""
    from scipy.signal import butter, sosfilt

    delay_ms, rt60, drr_db = rng.uniform(1, 4), rng.uniform(0.25, 0.4), rng.uniform(8, 12)
    d = int(round(delay_ms * RATE / 1000))
    size = d + int(1.2 * rt60 * RATE)
    direct = np.zeros(size)
    direct[d] = 1.0
    early = np.zeros(size)
    for _ in range(6):
        early[d + int(rng.uniform(1.5, 20) * RATE / 1000)] += rng.uniform(0.3, 0.7) * rng.choice([-1, 1])
    tail = np.zeros(size)
    t0 = d + int(0.005 * RATE)
    tt = np.arange(size - t0) / RATE
    tail[t0:] = rng.standard_normal(tt.size) * np.exp(-6.91 * tt / rt60)
    tail *= np.sqrt(2 * np.sum(early ** 2) / np.sum(tail ** 2))  # the tail carries 2/3 of the reverberant energy
    reverb = early + tail
    reverb *= np.sqrt(1.0 / np.sum(reverb ** 2) / 10 ** (drr_db / 10))
    sos = butter(2, [200, 8000], btype="bandpass", fs=RATE, output="sos")
    h = sosfilt(sos, direct + reverb)
    return h, {"direct_delay_ms": round(delay_ms, 2), "rt60_s": round(rt60, 3), "drr_db": round(drr_db, 1),
               "band_hz": [200, 8000]}


_BANK = None


def cue_bank():
    """The engine's own cue sounds (its sound bank, as a session renders them)."""
    global _BANK
    if _BANK is None:
        from engine.audio.soundbank import SoundBank

        _BANK = SoundBank.load(sorted({c for pair in CUE_PAIRS for c in pair}), sample_rate=RATE)
    return _BANK


def build_leakage_take(shots: list[Shot], rng, seconds: float) -> Take:
    from scipy.signal import fftconvolve

    from engine.audio.sound import Sound

    n = int(seconds * RATE)
    bank = cue_bank()
    accent, beat = CUE_PAIRS[rng.integers(len(CUE_PAIRS))]
    h, room = room_response(rng)
    period = rng.uniform(0.45, 0.9) * RATE
    # The path's gain: an accent played at −6 dBFS peak reaches the microphone at the reference level.
    x = np.asarray(bank[accent].data, dtype=np.float64)
    h *= db(LEAK_REF_DBFS - PLAYED_DBFS) / float(np.max(np.abs(fftconvolve(x / np.max(np.abs(x)), h))))
    # Leaked cue: its 10 %-of-peak point after the cue's start, and its peak for a cue played at peak 1.
    leak = {}
    for name in sorted({accent, beat}):
        x = np.asarray(bank[name].data, dtype=np.float64)
        x = x / np.max(np.abs(x))
        y = fftconvolve(x, h)
        leak[name] = (x, Sound.find_attack(y, 0.1), float(np.max(np.abs(y))))
    played = np.zeros(n)
    arrivals = []
    t, k = 0.4 * RATE, 0
    while t < n - 0.6 * RATE:
        name = accent if k % 4 == 0 else beat
        x, offset, peak1 = leak[name]
        g = db(LEAK_REF_DBFS + rng.uniform(-10, 0)) / peak1
        start = int(t)
        played[start:start + x.size] += g * x[: max(0, min(x.size, n - start))]
        arrivals.append(start + offset)
        t += period
        k += 1
    arrivals_a = np.array(arrivals)
    mic = fftconvolve(played, h)[:n]
    # Child hits: near a cue (±30 ms of its arrival) for half the cues, between cues in 60 % of the gaps.
    onsets, near = [], []
    for i, a in enumerate(arrivals):
        if rng.uniform() < 0.5:
            onsets.append(int(a + rng.uniform(-NEAR_MS, NEAR_MS) * RATE / 1000))
            near.append(True)
        if i + 1 < len(arrivals):
            lo, hi = a + 0.1 * RATE, arrivals[i + 1] - 0.1 * RATE
            if hi > lo and rng.uniform() < 0.6:
                onsets.append(int(rng.uniform(lo, hi)))
                near.append(False)
    order = np.argsort(onsets)
    truth, near_a = np.array(onsets)[order], np.array(near)[order]
    # The child's instruments and levels, in phrases of 4–8 hits.
    kits = by_kit(shots)
    names = sorted(kits)
    placed, gains, j = [], [], 0
    while j < truth.size:
        instruments = kits[names[rng.integers(len(names))]]
        layers = instruments[sorted(instruments)[rng.integers(len(instruments))]]
        level = rng.uniform(*CHILD_DBFS)
        for _ in range(int(rng.integers(4, 9))):
            if j >= truth.size:
                break
            shot = layers[rng.integers(len(layers))]
            g = db(level + rng.uniform(-3, 3))
            place(mic, int(truth[j]), shot, g)
            placed.append(shot)
            gains.append(g * shot.rms50)
            j += 1
    mic += coloured_noise(rng, n, exponent=1.0, rms=db(FLOOR_DBFS))
    snr_db = 20 * np.log10(np.array(gains) / db(FLOOR_DBFS))
    info = {"seconds": seconds, "cues": [accent, beat], "cue_period_ms": round(period * 1000 / RATE, 1),
            "room": room, "played_peak_dbfs": round(20 * math.log10(float(np.max(np.abs(played)))), 1)}
    return Take(mic.astype(np.float32), truth, placed, snr_db, played=played.astype(np.float32),
                cues=arrivals_a, near=near_a, info=info)


# ---------------------------------------------------------------------------------------------------------------
# Detectors: each returns per take (onset samples, emitted-at samples or None, returned-at samples or None)


@dataclass
class Found:
    onset: np.ndarray  # samples (float)
    emitted: np.ndarray | None  # the sample at which each was reported (None: offline)
    returned: np.ndarray | None  # the end of the block it was returned with
    kinds: list[str] | None = None  # tandem's Onset.kind of each


def run_tandem(take: Take, blocksize: int, *, use_played: bool, cpu_ns: list[int]) -> Found:
    from engine.audio.onsets import OnsetDetector, merge_voiced

    det = OnsetDetector(RATE)
    x = take.mic
    pl = take.played if use_played else None
    got: list[tuple] = []  # (onset, returned at)
    clock = time.thread_time_ns
    for i in range(0, x.size - blocksize + 1, blocksize):
        block = x[i:i + blocksize]
        played = None if pl is None else pl[i:i + blocksize]
        t0 = clock()
        out = det.process(block, played=played)
        cpu_ns.append(clock() - t0)
        got += [(o, i + blocksize) for o in out]
    end = x.size - x.size % blocksize
    got += [(o, end) for o in det.flush()]
    # One entry per onset, as `tandem onsets` reports them (a voice folded into its attack), each
    # returned with the block of its first report.
    returned = {}
    for o, at in got:
        returned[o.sample] = min(returned.get(o.sample, at), at)
    got = [(o, returned[o.sample]) for o in merge_voiced([o for o, _ in got])]
    return Found(np.array([o.sample for o, _ in got], float), np.array([o.detected_at for o, _ in got], float),
                 np.array([at for _, at in got], float), [o.kind for o, _ in got])


def run_aubio(take: Take, hop: int, cpu_ns: list[int] | None = None) -> Found:
    import aubio

    o = aubio.onset("default", 2 * hop, hop, RATE)
    x = take.mic
    onsets, emitted = [], []
    clock = time.thread_time_ns
    for i in range(0, x.size - hop + 1, hop):
        t0 = clock()
        fired = o(x[i:i + hop])
        if cpu_ns is not None:
            cpu_ns.append(clock() - t0)
        if fired:
            onsets.append(o.get_last())
            emitted.append(i + hop)
    e = np.array(emitted, float)
    return Found(np.array(onsets, float), e, e)


def run_librosa(take: Take) -> Found:
    import librosa

    t = librosa.onset.onset_detect(y=take.mic.astype(np.float32), sr=RATE, units="time")
    return Found(np.asarray(t, float) * RATE, None, None)


CAUSAL_N_FFT, CAUSAL_HOP = 1024, 128


def run_librosa_causal(take: Take) -> Found:
    import librosa

    n_fft, hop = CAUSAL_N_FFT, CAUSAL_HOP
    S = librosa.feature.melspectrogram(y=take.mic.astype(np.float32), sr=RATE, n_fft=n_fft, hop_length=hop,
                                       center=False, fmax=RATE / 2)
    S = librosa.power_to_db(S, top_db=None)
    env = librosa.onset.onset_strength(S=S, sr=RATE, n_fft=n_fft, hop_length=hop, center=False)
    frames = librosa.onset.onset_detect(onset_envelope=env, sr=RATE, hop_length=hop, units="frames",
                                        pre_max=int(0.03 * RATE // hop), post_max=1,
                                        pre_avg=int(0.10 * RATE // hop), post_avg=1,
                                        wait=int(0.03 * RATE // hop), delta=0.07)
    # env[t] is the flux into frame t, which covers [t·hop, t·hop + n_fft): what is new in it is its last
    # hop, so the onset is put at that hop's centre; it is known at the frame's end.
    end = np.asarray(frames, float) * hop + n_fft
    return Found(end - hop / 2, end, end)


# ---------------------------------------------------------------------------------------------------------------
# Scoring


def match(ref: np.ndarray, est: np.ndarray, window_ms: float) -> list[tuple[int, int]]:
    """mir_eval's one-to-one matching (as in mir_eval.onset.f_measure) of sample positions."""
    from mir_eval.util import match_events

    if ref.size == 0 or est.size == 0:
        return []
    return [(int(i), int(j)) for i, j in match_events(ref / RATE, est / RATE, window_ms / 1000)]


def sorted_found(f: Found) -> Found:
    order = np.argsort(f.onset, kind="stable")
    return Found(f.onset[order], None if f.emitted is None else f.emitted[order],
                 None if f.returned is None else f.returned[order],
                 None if f.kinds is None else [f.kinds[i] for i in order])


def r(x, nd: int = 3):
    return None if x is None else round(float(x), nd)


def pct(a: np.ndarray, q: float):
    return r(np.percentile(a, q)) if a.size else None


def prf(takes: list[Take], found: list[Found], window_ms: float) -> tuple[float, float, float]:
    """Precision, recall and F1 of the onsets at ±``window_ms``, counts pooled over the takes."""
    n_true = sum(t.truth.size for t in takes)
    n_found = sum(f.onset.size for f in found)
    m = sum(len(match(t.truth, f.onset, window_ms)) for t, f in zip(takes, found))
    p, rc = (m / n_found if n_found else 0.0), (m / n_true if n_true else 0.0)
    return p, rc, (2 * p * rc / (p + rc) if p + rc else 0.0)


def score(takes: list[Take], found: list[Found]) -> dict:
    out: dict = {"n_true": sum(t.truth.size for t in takes), "n_found": sum(f.onset.size for f in found)}
    for w in WINDOWS_MS:
        p, rc, f1 = prf(takes, found, w)
        out[f"f1_{w}ms"] = r(f1, 4)
        if w == 10:
            out["precision_10ms"], out["recall_10ms"] = r(p, 4), r(rc, 4)
    if found and found[0].kinds is not None:  # every onset is scored, whatever its kind
        kinds = [k for f in found for k in f.kinds]
        out["n_found_by_kind"] = {k: kinds.count(k) for k in sorted(set(kinds))}
        if set(kinds) - {"percussive"}:  # and the percussive ones alone, to show what the others cost
            perc = [Found(f.onset[[k == "percussive" for k in f.kinds]], None, None) for f in found]
            p, rc, f1 = prf(takes, perc, 10)
            out["percussive_only"] = {"n_found": sum(f.onset.size for f in perc), "f1_10ms": r(f1, 4),
                                      "precision_10ms": r(p, 4), "recall_10ms": r(rc, 4)}
    err, lat, ret = [], [], []
    for t, f in zip(takes, found):
        for i, j in match(t.truth, f.onset, 50):
            err.append(f.onset[j] - t.truth[i])
            if f.emitted is not None:
                lat.append(f.emitted[j] - t.truth[i])
                ret.append(f.returned[j] - t.truth[i])
    e = np.array(err) * 1000 / RATE
    a = np.abs(e)
    out.update(timing_error_median_ms=pct(a, 50), timing_error_p95_ms=pct(a, 95),
               timing_error_signed_median_ms=pct(e, 50))
    lat_ms, ret_ms = np.array(lat) * 1000 / RATE, np.array(ret) * 1000 / RATE
    streaming = found and found[0].emitted is not None
    out.update(latency_median_ms=pct(lat_ms, 50) if streaming else None,
               latency_p95_ms=pct(lat_ms, 95) if streaming else None)
    if streaming:
        out.update(latency_at_return_median_ms=pct(ret_ms, 50), latency_at_return_p95_ms=pct(ret_ms, 95))
    return out


def where_missed(takes: list[Take], found: list[Found]) -> dict:
    """Recall at ±10 and ±50 ms per instrument family, and the recordings missed most (at ±10 ms)."""
    fams: dict[str, list[int]] = {}
    files: dict[str, list[int]] = {}
    for t, f in zip(takes, found):
        m10 = {i for i, _ in match(t.truth, f.onset, 10)}
        m50 = {i for i, _ in match(t.truth, f.onset, 50)}
        for i, shot in enumerate(t.shots):
            c = fams.setdefault(shot.family, [0, 0, 0])
            c[0] += 1
            c[1] += i in m10
            c[2] += i in m50
            c = files.setdefault(f"{shot.kit}/{shot.file}", [0, 0])
            c[0] += 1
            c[1] += i not in m10
    worst = sorted(((c[1], c[0], k) for k, c in files.items() if c[1]), reverse=True)[:8]
    return {"by_family": {fam: {"n": c[0], "recall_10ms": r(c[1] / c[0], 3), "recall_50ms": r(c[2] / c[0], 3)}
                          for fam, c in sorted(fams.items())},
            "missed_most": [f"{k}: {m} of {n}" for m, n, k in worst]}


def score_leakage(takes: list[Take], found: list[Found]) -> dict:
    n_cues = sum(t.cues.size for t in takes)
    false, cues_hit = 0, 0
    near = [0, 0, 0]  # n, found ±25, found ±10
    between = [0, 0, 0]
    for t, f in zip(takes, found):
        m25 = match(t.truth, f.onset, LEAK_MATCH_MS)
        m10 = {i for i, _ in match(t.truth, f.onset, 10)}
        matched_est = {j for _, j in m25}
        matched_ref = {i for i, _ in m25}
        unmatched = np.array([f.onset[j] for j in range(f.onset.size) if j not in matched_est])
        false += unmatched.size
        for a in t.cues:
            if unmatched.size and np.any((unmatched >= a - 0.010 * RATE) & (unmatched <= a + 0.030 * RATE)):
                cues_hit += 1
        for i, is_near in enumerate(t.near):
            c = near if is_near else between
            c[0] += 1
            c[1] += i in matched_ref
            c[2] += i in m10
    return {"n_cues": n_cues, "n_near": near[0], "n_between": between[0], "false_reports": false,
            "cue_false_report_rate": r(false / n_cues, 4) if n_cues else None,
            "cues_reported_share": r(cues_hit / n_cues, 4) if n_cues else None,
            "near_recall_25ms": r(near[1] / near[0], 4) if near[0] else None,
            "near_recall_10ms": r(near[2] / near[0], 4) if near[0] else None,
            "between_recall_25ms": r(between[1] / between[0], 4) if between[0] else None,
            "between_recall_10ms": r(between[2] / between[0], 4) if between[0] else None}


# ---------------------------------------------------------------------------------------------------------------
# Running


def aubio_status() -> str | None:
    """None when aubio can be used, else why not."""
    try:
        import aubio  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - any import failure means: skip it, and say why
        return f"aubio not importable ({type(exc).__name__}: {exc}); install the bench extra: pip install -e '.[bench]'"
    return None


def detectors(aubio_missing: str | None) -> dict:
    """name → run(take, cpu_ns) for the comparators (the reason, a string, where one cannot run)."""
    d: dict = {}
    if aubio_missing:
        d["aubio"] = d["aubio_hop128"] = aubio_missing
    else:
        d["aubio"] = lambda take, cpu: run_aubio(take, 256, cpu)
        d["aubio_hop128"] = lambda take, cpu: run_aubio(take, 128)
    d["librosa"] = lambda take, cpu: run_librosa(take)
    d["librosa_causal"] = lambda take, cpu: run_librosa_causal(take)
    return d


def run_condition(name: str, takes: list[Take], *, blocksize: int, aubio_missing: str | None,
                  cpu: dict, echo) -> dict:
    res: dict = {}
    t0 = time.monotonic()
    ns = cpu["tandem"].setdefault(name, [])
    runs = {"tandem": [sorted_found(run_tandem(t, blocksize, use_played=True, cpu_ns=ns))
                       for t in takes]}
    if name == "leakage":
        runs["tandem_without_played"] = [sorted_found(run_tandem(t, blocksize, use_played=False, cpu_ns=[]))
                                         for t in takes]
    skipped = {}
    for det, fn in detectors(aubio_missing).items():
        if isinstance(fn, str):
            skipped[det] = {"skipped": fn}
            continue
        runs[det] = [sorted_found(fn(t, cpu["aubio"] if det == "aubio" else None)) for t in takes]
    for det, found in runs.items():
        res[det] = score(takes, found)
        if name == "leakage":
            res[det].update(score_leakage(takes, found))
    res.update(skipped)
    res["tandem"].update(where_missed(takes, runs["tandem"]))
    snr = np.concatenate([t.snr_db for t in takes])
    res["signal"] = {"takes": len(takes), "seconds": round(sum(t.mic.size for t in takes) / RATE, 1),
                     "hits": int(sum(t.truth.size for t in takes)),
                     "hit_snr_db": {"p5": pct(snr, 5), "median": pct(snr, 50), "p95": pct(snr, 95)},
                     **({"per_take": [t.info for t in takes]} if len(takes) > 1 else takes[0].info)}
    echo(f"  {name}: {res['signal']['hits']} hits, {res['signal']['seconds']} s, scored in "
         f"{time.monotonic() - t0:.1f} s")
    return res


def cpu_figures(cpu: dict, blocksize: int) -> dict:
    """Per-block CPU time of the detector: over all conditions, and per condition (the leakage condition
    runs the suppression path, which a session runs whenever the engine plays: the goal takes the worst)."""
    period_ms = blocksize * 1000 / RATE
    ms = {c: np.array(v, float) / 1e6 for c, v in cpu["tandem"].items()}
    every = np.concatenate(list(ms.values())) if ms else np.zeros(0)
    by = {c: {"median_ms": pct(v, 50), "p95_ms": pct(v, 95), "share_median": r(np.median(v) / period_ms, 4)}
          for c, v in ms.items() if v.size}
    return {"block_time_median_ms": pct(every, 50), "block_time_p95_ms": pct(every, 95),
            "block_time_max_ms": r(every.max()) if every.size else None, "block_period_ms": r(period_ms),
            "blocks": int(every.size), "share_median": r(np.median(every) / period_ms, 4) if every.size else None,
            "share_median_worst_condition": max((v["share_median"] for v in by.values()), default=None),
            "by_condition": by, "clock": "thread CPU time of each process() call",
            "aubio_hop256_time_median_ms": pct(np.array(cpu["aubio"], float) / 1e6, 50)}


def lookup(results: dict, path: str):
    cur = results
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def compare(value, op: str, goal) -> bool | None:
    if value is None:
        return None
    return {"<=": value <= goal, ">=": value >= goal, ">": value > goal}[op]


def above(pair) -> bool:
    """Tandem's F1 above aubio's (both at 1.0 counts: nothing is above it)."""
    t, a = pair
    return t > a or t == a == 1.0


def goals_met(results: dict) -> dict:
    met: dict = {}
    for key, (path, op, goal) in GOALS.items():
        if key == "f1_10ms_above_aubio_every_condition":
            pairs = [(c["tandem"].get("f1_10ms"), c.get("aubio", {}).get("f1_10ms"))
                     for c in results["conditions"].values()]
            met[key] = None if not pairs or any(a is None for _, a in pairs) else all(map(above, pairs))
        else:
            met[key] = compare(lookup(results, path), op, goal)
    return met


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", metavar="OUT", help="write the results here")
    ap.add_argument("--quick", action="store_true", help="20 s per condition, 2 leakage takes of 10 s")
    ap.add_argument("--conditions", default=",".join(CONDITIONS), help=f"some of {','.join(CONDITIONS)}")
    ap.add_argument("--seconds", type=float, help="seconds per condition (default 120, quick 20)")
    ap.add_argument("--blocksize", type=int, default=128)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    echo = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    conditions = [c for c in args.conditions.split(",") if c]
    unknown = sorted(set(conditions) - set(CONDITIONS))
    if unknown:
        ap.error(f"unknown condition(s) {unknown}; there are {list(CONDITIONS)}")

    if not (PERCUSSION_DIR / "inventory.csv").exists():
        msg = (f"onsets benchmark skipped: no percussion recordings at {PERCUSSION_DIR} "
               "(the shared data folder; TANDEM_SHARED_DATA moves it)")
        return skipped(msg, args.json)
    try:
        import mir_eval
    except ImportError:
        print("onsets benchmark: mir_eval is missing (it scores the onsets): "
              ".venv/bin/python -m pip install -e '.[bench]'", file=sys.stderr)
        return 2
    aubio_missing = aubio_status()
    if aubio_missing:
        echo(f"aubio skipped: {aubio_missing}")

    t_start = time.monotonic()
    state = git_state()  # before the detector is imported: other people may be editing it
    seconds = args.seconds or (20.0 if args.quick else 120.0)
    leak_takes, leak_s = (2, seconds / 2) if args.quick else (4, seconds / 4)
    echo(f"loading the recordings from {PERCUSSION_DIR} …")
    shots, excluded = load_shots(PERCUSSION_DIR)
    warnings.filterwarnings("ignore", module="mir_eval")
    results: dict = {"conditions": {}}
    cpu: dict = {"tandem": {}, "aubio": []}
    for name in conditions:
        takes = build_condition(name, shots, args.seed, leak_s if name == "leakage" else seconds, leak_takes)
        res = run_condition(name, takes, blocksize=args.blocksize, aubio_missing=aubio_missing, cpu=cpu, echo=echo)
        if name == "leakage":
            results["leakage"] = res
        else:
            results["conditions"][name] = res

    results["cpu"] = cpu_figures(cpu, args.blocksize)
    results["goals"] = {k: f"{path} {op} {g}" for k, (path, op, g) in GOALS.items()}
    results["met"] = goals_met(results)
    every = {**results["conditions"], **({"leakage": results["leakage"]} if "leakage" in results else {})}
    results["met_by_condition"] = {c: {k: compare(v["tandem"].get(k), "<=", g) for k, g in PER_CONDITION_GOALS.items()}
                                   for c, v in every.items()}
    inv = np.array([(s.attack / RATE - s.inventory_attack_s) * 1000 for s in shots])
    kits_used = sorted({s.kit for s in shots})
    results["data_source"] = {
        "folder": str(PERCUSSION_DIR),
        "kits": {k: {"citation": KITS.get(k, ("?", "?"))[0], "licence": KITS.get(k, ("?", "?"))[1],
                     "files": sum(s.kit == k for s in shots)} for k in kits_used},
        "licence_texts": str(SHARED_DATA / "licenses"),
        "cues": "the engine's sound bank (built-in clicks; General MIDI drums through FluidSynth where available)",
        "cue_sources": cue_bank().sources if "leakage" in conditions else None,
        "recordings_used": len(shots), "excluded": excluded,
        "attack_check": {"definition": "first sample at 10 % of the peak, on the 48-kHz mono waveform placed",
                         "vs_inventory_ms_median_abs": pct(np.abs(inv), 50),
                         "vs_inventory_ms_max_abs": r(np.max(np.abs(inv))),
                         "over_0.1ms": [f"{s.kit}/{s.file}: {d:+.2f} ms" for s, d in zip(shots, inv) if abs(d) > 0.1]},
    }
    import librosa

    results["setup"] = {"sample_rate": RATE, "blocksize": args.blocksize, "seed": args.seed, "quick": args.quick,
                        "seconds_per_condition": seconds, "leakage_takes": leak_takes,
                        "aubio": aubio_missing or _version("aubio"), "librosa": librosa.__version__,
                        "mir_eval": mir_eval.__version__, "numpy": np.__version__,
                        "librosa_causal": {"n_fft": CAUSAL_N_FFT, "hop": CAUSAL_HOP}, "machine_cores": os.cpu_count(),
                        **state, "onsets_py_changed_during_run": git_state().get("onsets_py_sha1") !=
                        state.get("onsets_py_sha1")}
    results["duration_s"] = round(time.monotonic() - t_start, 1)
    print_summary(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


def git_state() -> dict:
    """The commit measured, and the detector's files changed since it (the benchmark runs the work tree)."""
    import subprocess

    repo = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
        changed = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--", "engine"],
                                 capture_output=True, text=True, timeout=10).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return {}
    detector = repo / "engine" / "audio" / "onsets.py"
    return {"commit": head or None, "engine_changed_since": [line[3:] for line in changed if line.strip()],
            "onsets_py_sha1": hashlib.sha1(detector.read_bytes()).hexdigest()[:12] if detector.exists() else None}


def _version(module: str) -> str:
    from importlib.metadata import version

    return version(module)


def print_summary(results: dict) -> None:
    s = results["setup"]
    print(f"onsets: {s['sample_rate']} Hz, blocksize {s['blocksize']}, {s['seconds_per_condition']:g} s per "
          f"condition, seed {s['seed']}; ±w = F1 within ±w ms; |err| and latency in ms (median / p95)")
    head = (f"{'condition':12}{'detector':23}{'true':>5}{'found':>6}{'±5':>7}{'±10':>7}{'±25':>7}{'±50':>7}"
            f"{'P±10':>7}{'R±10':>7}{'|err|':>7}{'p95':>7}{'bias':>7}{'lat':>7}{'p95':>7}")
    print(head)

    def f(x, nd=3):
        return "—" if x is None else f"{x:.{nd}f}"

    def rows(cond: str, res: dict) -> None:
        first = True
        for det, v in res.items():
            if det == "signal":
                continue
            label = cond if first else ""
            first = False
            if "skipped" in v:
                print(f"{label:12}{det:23}skipped")
                continue
            print(f"{label:12}{det:23}{v['n_true']:>5}{v['n_found']:>6}" + "".join(
                f"{f(v[k]):>7}" for k in ("f1_5ms", "f1_10ms", "f1_25ms", "f1_50ms", "precision_10ms",
                                          "recall_10ms"))
                + "".join(f"{f(v[k], 2):>7}" for k in ("timing_error_median_ms", "timing_error_p95_ms",
                                                       "timing_error_signed_median_ms", "latency_median_ms",
                                                       "latency_p95_ms")))

    for cond, res in results["conditions"].items():
        rows(cond, res)
    others = {c: v["tandem"] for c, v in [*results["conditions"].items(), ("leakage", results.get("leakage"))]
              if v and "percussive_only" in v["tandem"]}
    if others:
        print("tandem's percussive onsets alone (it also reported others, scored above as onsets): " + "; ".join(
            f"{c} {v['n_found_by_kind']}, F1±10 {v['percussive_only']['f1_10ms']}" for c, v in others.items()))
    if "leakage" in results:
        lk = results["leakage"]
        rows("leakage", lk)
        t = lk["tandem"]
        print(f"leakage: {lk['signal']['takes']} takes, {t['n_cues']} cues, {t['n_near']} child hits within "
              f"±{NEAR_MS:g} ms of a cue, {t['n_between']} between cues")
        print(f"{'':12}{'detector':23}{'false/cue':>10}{'cues rep.':>10}{'near±25':>9}{'near±10':>9}"
              f"{'betw±25':>9}{'betw±10':>9}")
        for det, v in lk.items():
            if det == "signal" or "skipped" in v:
                continue
            print(f"{'':12}{det:23}{f(v['cue_false_report_rate']):>10}{f(v['cues_reported_share']):>10}"
                  f"{f(v['near_recall_25ms']):>9}{f(v['near_recall_10ms']):>9}{f(v['between_recall_25ms']):>9}"
                  f"{f(v['between_recall_10ms']):>9}")
    c = results["cpu"]
    print(f"cpu: process() median {c['block_time_median_ms']} ms, p95 {c['block_time_p95_ms']} ms of a "
          f"{c['block_period_ms']} ms block (median share {c['share_median']}) over {c['blocks']} blocks; "
          "median by condition: " + ", ".join(f"{k} {v['median_ms']}" for k, v in c["by_condition"].items()))
    print("goals:")
    for key, desc in results["goals"].items():
        ok = results["met"][key]
        value = lookup(results, GOALS[key][0])
        shown = f" (is {value})"
        if key == "f1_10ms_above_aubio_every_condition":
            not_above = [c for c, v in results["conditions"].items()
                         if "f1_10ms" in v.get("aubio", {}) and not above((v["tandem"]["f1_10ms"],
                                                                             v["aubio"]["f1_10ms"]))]
            shown = f" (not above in: {', '.join(not_above)})" if not_above else ""
        print(f"  {'—' if ok is None else ('ok' if ok else 'MISSED'):7}{desc}{shown}")
    missed = {c: [k for k, ok in v.items() if ok is False] for c, v in results["met_by_condition"].items()}
    missed = {c: ks for c, ks in missed.items() if ks}
    if missed:
        print("  timing/latency thresholds missed by condition: "
              + "; ".join(f"{c}: {', '.join(ks)}" for c, ks in missed.items()))
    print(f"{results['duration_s']} s")


if __name__ == "__main__":
    sys.exit(main())
