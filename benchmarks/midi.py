"""MIDI benchmark: the virtual child plays a pad into the engine and listens to its MIDI out, on the JACK rig.

Run: ``.venv/bin/python -m benchmarks.midi --json OUT.json``. Starts a private
JACK server (dummy driver, 48 kHz, 128-frame periods) unless ``--server``
names a running one; the engine's PortAudio stream runs at blocksize 128.
For each MIDI transport (:data:`engine.midi.live.TRANSPORTS`; the input is
:class:`MidiInput` with that transport, the output the one ``tandem run`` pairs
with it), on an engine of its own:

- ``stamp_error_ms_median`` / ``_p99``: |engine stamp − true frame| over
  ≥ 2,000 notes sent at random offsets within the period (goal ≤ 1.5 / ≤ 3 ms);
- ``feedback_latency_ms_median``, ``feedback_jitter_ms_sd``: from the true
  hit frame to the frame where the child hears the feedback click (goal
  ≤ 10 ms, SD ≤ 1 ms);
- ``flood_*``: 10 s of 2,000 messages/s (timing clock, active sensing, sysex,
  notes among them): notes lost, xruns, stamp error of the notes;
- ``human_replay_error_ms_p99``: ≥ 20 Groove MIDI performances (their first
  ``--replay-seconds``) played by the child with their note times; the
  engine's note times against the file's (goal ≤ 3 ms);
- ``midi_out_jitter_ms_sd``: SD of (frame the child heard − frame scheduled −
  T0 − output latency) over MIDI-out messages (goal ≤ 1 ms).

Before each phase the output path is measured again with a few cues:
``clock_slip_frames`` is how far the engine's stream clock moved against
JACK's since the start (after a dropout it counted), and the rig's T0
follows it, so every phase is measured against the truth.

The top-level figures are the primary transport's (``--primary``, default
MidiInput's default, rtmidi); ``lost`` (notes and messages that never
arrived) and ``xruns`` are totals over every transport; ``by_transport``
holds each transport's figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from benchmarks.common import SHARED_DATA, jack_rig

if TYPE_CHECKING:
    from tests.rig.midi_measure import HitRun

GOALS = {
    "stamp_error_ms_median": ("<=", 1.5),
    "stamp_error_ms_p99": ("<=", 3.0),
    "feedback_latency_ms_median": ("<=", 10.0),
    "feedback_jitter_ms_sd": ("<=", 1.0),
    "midi_out_jitter_ms_sd": ("<=", 1.0),
    "human_replay_error_ms_p99": ("<=", 3.0),
    "lost": ("==", 0),
    "xruns": ("==", 0),
}
GROOVE_DIR = SHARED_DATA / "groove_midi"
HIT_SPACING_FRAMES = 768  # 16 ms: the child's ear needs the 4 ms click plus 10 ms of quiet per hit


def ms(frames, rate: int) -> np.ndarray:
    return np.asarray(frames, dtype=np.float64) * 1000.0 / rate


def summary(errors_ms: np.ndarray, prefix: str) -> dict:
    """median / p99 / max of |error|, and the signed mean, in ms (None when there is nothing)."""
    if errors_ms.size == 0:
        return {f"{prefix}_median": None, f"{prefix}_p99": None, f"{prefix}_max": None, f"{prefix}_mean": None}
    a = np.abs(errors_ms)
    return {f"{prefix}_median": round(float(np.median(a)), 3), f"{prefix}_p99": round(float(np.percentile(a, 99)), 3),
            f"{prefix}_max": round(float(a.max()), 3), f"{prefix}_mean": round(float(errors_ms.mean()), 3)}


def measure_hits(rig, child, mi, *, hits: int, echo) -> tuple[dict, HitRun]:
    """≥ ``hits`` note-ons at random offsets within the period; stamps and feedback sounds."""
    from tests.rig.midi_measure import hit_frames, send_hits

    rate, period = rig.engine.sample_rate, child.blocksize
    frames = hit_frames(child.frame_time() + rate // 2, hits, spacing=HIT_SPACING_FRAMES, period=period)
    notes = [35 + k % 47 for k in range(hits)]
    echo(f"    {hits} hits over {hits * HIT_SPACING_FRAMES / rate:.0f} s …")
    run = send_hits(rig, child, mi, frames, notes=notes, off_after=HIT_SPACING_FRAMES // 2, settle_s=0.5)
    errors = np.asarray(run.stamp_errors)
    out = {"hits_sent": hits, "hits_received": len(run.events), "note_offs_received": len(run.offs),
           "hits_lost": hits - len(errors), **summary(ms(errors, rate), "stamp_error_ms"),
           "stamp_error_frames_min": int(errors.min()) if errors.size else None,
           "stamp_error_frames_max": int(errors.max()) if errors.size else None,
           "hits_xruns": run.stats["xruns"], "late_sounds": run.stats["late_sounds"],
           "callback_errors": run.stats["callback_errors"]}
    return out, run


def feedback_figures(run, *, nominal: int, rate: int, period: int) -> dict:
    lat = run.feedback_latencies(earliest=0, latest=nominal + 4 * period)
    found = np.asarray([x for x in lat if x is not None])
    return {
        "feedback_expected_frames": nominal,
        "feedback_heard": int(found.size),
        "feedback_unheard": len(lat) - int(found.size),
        "feedback_sounds_heard_total": len(run.heard),
        "feedback_latency_ms_median": round(float(np.median(ms(found, rate))), 3) if found.size else None,
        "feedback_latency_ms_min": round(float(ms(found.min(), rate)), 3) if found.size else None,
        "feedback_latency_ms_max": round(float(ms(found.max(), rate)), 3) if found.size else None,
        "feedback_jitter_ms_sd": round(float(np.std(ms(found, rate))), 3) if found.size else None,
    }


def measure_flood(rig, child, mi, *, seconds: float, echo) -> dict:
    """``seconds`` of 2,000 messages/s, notes among them: are all notes there, on time, without xruns?"""
    from tests.rig.midi_measure import XrunWindow, flood_events, inputs, stamp_errors, wait_until_jack_frame

    eng = rig.engine
    rate = eng.sample_rate
    events, frames, notes = flood_events(child.frame_time() + rate, seconds=seconds, period=child.blocksize)
    echo(f"    flood: {len(events)} messages over {seconds:g} s ({len(notes)} notes among them) …")
    window = XrunWindow(rig, child)
    before = len(mi.events)
    frame0 = eng.now_frame
    child.send_midi_many(events)
    wait_until_jack_frame(child, max(f for f, _ in events) + rate // 20, engine=eng)
    time.sleep(0.5)
    got = inputs(list(mi.events)[before:])
    errors = np.asarray(stamp_errors(frames, notes, got, t0=rig.t0))
    x = window.close()
    return {"flood_messages": len(events), "flood_seconds": seconds, "flood_messages_per_s": 2000,
            "flood_notes_sent": len(notes), "flood_notes_received": len(got),
            "flood_notes_lost": len(notes) - int(errors.size),
            **summary(ms(errors, rate), "flood_stamp_error_ms"),
            "flood_xruns": x["xruns"], "flood_child_late_midi": x["child_late_midi"],
            "flood_stream_ran_s": round((eng.now_frame - frame0) / rate, 2)}


def measure_replay(rig, child, mi, *, groove: Path, performances: int, seconds: float, echo) -> dict:
    """Groove MIDI performances played by the child with their note times, back to back, in one batch."""
    from engine.midi.midifile import load_midi
    from tests.rig.midi_measure import (
        XrunWindow,
        groove_performances,
        inputs,
        match_by_note,
        song_events,
        song_slice,
        wait_until_jack_frame,
    )

    if not (groove / "info.csv").is_file():
        return {"human_replay_error_ms_p99": None,
                "human_replay_note": f"skipped: the Groove MIDI Dataset is not at {groove}"}
    eng = rig.engine
    rate = eng.sample_rate
    paths = groove_performances(groove, performances)
    start = child.frame_time() + rate
    events, sent, spans = [], [], []
    for path in paths:
        song = song_slice(load_midi(path), seconds)
        ev, ons = song_events(song, start, rate=rate)
        events += ev
        spans.append((path, len(sent), len(sent) + len(ons)))
        sent += ons
        start = max(f for f, _ in ev) + rate // 2
    echo(f"    replay: {len(paths)} performances, {len(sent)} notes over {(start - events[0][0]) / rate:.0f} s …")
    window = XrunWindow(rig, child)
    before = len(mi.events)
    child.send_midi_many(events)
    wait_until_jack_frame(child, max(f for f, _ in events) + rate // 20, engine=eng)
    time.sleep(0.5)
    got = inputs(list(mi.events)[before:])
    pairs = match_by_note([(j - rig.t0, n) for j, n in sent], [(e.frame, e.note) for e in got], tolerance=1200)
    err = [None if s is None else s - true for true, s in pairs]
    found = np.asarray([e for e in err if e is not None])
    per = []
    for path, a, b in spans:
        e = np.asarray([x for x in err[a:b] if x is not None])
        per.append({"file": str(path.relative_to(groove)), "notes": b - a, "lost": (b - a) - int(e.size),
                    "error_ms_p99": round(float(np.percentile(np.abs(ms(e, rate)), 99)), 3) if e.size else None})
    x = window.close()
    return {"human_replay_performances": len(paths), "human_replay_seconds_max": seconds,
            "human_replay_notes_sent": len(sent), "human_replay_notes_received": len(got),
            "human_replay_notes_lost": len(sent) - int(found.size),
            **summary(ms(found, rate), "human_replay_error_ms"),
            "human_replay_xruns": x["xruns"], "human_replay_by_performance": per}


def resync(rig, child, path0: int) -> int | None:
    """Measure the output path again; a change means the engine's stream clock moved against JACK's
    (after a dropout): follow it in ``rig.t0`` and return it (None if the cues were not all heard at
    one offset, when an xrun fell into the measurement)."""
    from tests.rig.midi_measure import rig_path

    try:
        slip = rig_path(rig, child) - path0
    except RuntimeError:
        return None
    rig.t0 += slip
    return slip


def run_transport(child, transport: str, *, hits: int, flood_s: float, groove: Path, performances: int,
                  replay_s: float, midi_out_messages: int, feedback_delay_ms: float | None, echo) -> dict:
    """Everything measured through one MIDI transport (MidiInput's, and the output ``tandem run``
    pairs with it), on an engine of its own."""
    from tests.rig.midi_measure import click_bank, open_midi_engine, pad_map, rig_path, start_midi_input

    rig = open_midi_engine(child, transport)
    eng = rig.engine
    mi = None
    try:
        rate, period = eng.sample_rate, child.blocksize
        path = rig_path(rig, child)
        kwargs = {} if feedback_delay_ms is None else {"feedback_delay_ms": feedback_delay_ms}
        with tempfile.TemporaryDirectory() as tmp:
            mi = start_midi_input(rig, transport, device_map=pad_map(Path(tmp)), bank=click_bank(rate), **kwargs)
        slips = {}
        out = {"transport": transport, "rig_path_frames": path, "t0": rig.t0,
               "output_latency_frames": eng.output_latency_frames,
               "feedback_delay_ms": round(mi.feedback_delay_frames * 1000 / rate, 3),
               "clock_slip_frames": slips}
        hit_figures, run = measure_hits(rig, child, mi, hits=hits, echo=echo)
        out.update(hit_figures)
        out.update(feedback_figures(run, nominal=path + mi.feedback_delay_frames, rate=rate, period=period))
        slips["flood"] = resync(rig, child, path)
        out.update(measure_flood(rig, child, mi, seconds=flood_s, echo=echo))
        slips["replay"] = resync(rig, child, path)
        out.update(measure_replay(rig, child, mi, groove=groove, performances=performances, seconds=replay_s,
                                  echo=echo))
        slips["midi_out"] = resync(rig, child, path)
        try:
            out.update(measure_midi_out(rig, child, transport=transport, messages=midi_out_messages, echo=echo))
        except Exception as exc:  # noqa: BLE001 - reported, and every message counted lost
            echo(f"    MIDI out failed: {exc}")
            out.update({"midi_out_error": f"{type(exc).__name__}: {exc}", "midi_out_messages": midi_out_messages,
                        "midi_out_heard": 0, "midi_out_lost": midi_out_messages, "midi_out_jitter_ms_sd": None,
                        "midi_out_on_time_share": 0.0})
        out["decoder_malformed"] = mi.decoder.malformed
        out["feedback_played"] = mi.feedback_played
        out["stream"] = {k: v for k, v in eng.stats().items() if k in (
            "callbacks", "xruns", "skipped_frames", "callback_errors", "late_sounds", "dropped_sounds",
            "queue_full", "callback_ms_p50", "callback_ms_p99", "block_ms")}
        slips["end"] = resync(rig, child, path)
    finally:
        if mi is not None:
            mi.stop()
        rig.close()
    out["lost"] = sum(out.get(k) or 0 for k in ("hits_lost", "flood_notes_lost", "human_replay_notes_lost",
                                                 "midi_out_lost"))
    out["xruns"] = sum(out.get(k) or 0 for k in ("hits_xruns", "flood_xruns", "human_replay_xruns", "midi_out_xruns"))
    return out


def measure_midi_out(rig, child, *, transport: str, messages: int, echo) -> dict:
    """The output ``tandem run`` pairs with ``transport`` → the child's midi_ear: each message's offset
    from its frame + T0 + output latency, and (for a sender thread) how late it was sent.

    Heard note-ons are matched to the scheduled ones by note number and order, so a message lost
    or one the child heard that was never scheduled (counted ``midi_out_unexpected``) does not
    shift the pairs.
    """
    from tests.rig.midi_measure import (
        ON_TIME_NS,
        XrunWindow,
        hit_frames,
        match_by_note,
        note_on,
        open_midi_output,
        wait_until_jack_frame,
    )

    eng = rig.engine
    rate, period = eng.sample_rate, child.blocksize
    mo = open_midi_output(rig, transport)
    try:
        frames = hit_frames(eng.now_frame + rate // 2, messages, spacing=HIT_SPACING_FRAMES, period=period, seed=5)
        echo(f"    MIDI out: {messages} messages over {messages * HIT_SPACING_FRAMES / rate:.0f} s …")
        child.heard_midi(clear=True)
        window = XrunWindow(rig, child)
        sent = [(f, 30 + k % 60) for k, f in enumerate(frames)]
        for f, note in sent:
            mo.send_at(f, note_on(note, 90, channel=0))
        wait_until_jack_frame(child, frames[-1] + rig.t0 + rate // 10, engine=eng)
        heard = child.heard_midi(clear=True)
        x = window.close()
        records = list(getattr(mo, "sent", ()))  # a sender thread's (frame, due_ns, sent_ns), in frame order
    finally:
        mo.stop()
    ons = [(h, d[1]) for h, d in heard if len(d) == 3 and d[0] & 0xF0 == 0x90 and d[2] > 0]
    latency = eng.output_latency_frames
    # on the child's clock: where each message is due to be heard (± a period and a late thread)
    matched = match_by_note([(f + rig.t0 + latency, n) for f, n in sent], ons, tolerance=1200)
    lateness = [s - d for _, d, s in records] if len(records) == messages else [None] * messages
    pairs = [(h - due, late) for (due, h), late in zip(matched, lateness) if h is not None]
    offsets = np.asarray([o for o, _ in pairs])
    late_us = np.asarray([late for late in lateness if late is not None], dtype=np.float64) / 1000
    on_time = np.asarray([o for o, late in pairs if late is None or late <= ON_TIME_NS])
    expected = {(h, n) for (_, h), (_, n) in zip(matched, sent) if h is not None}  # (frame heard, note)
    unexpected = [(h, d) for h, d in heard if len(d) < 2 or (h, d[1]) not in expected]

    def r(x, nd=3):
        return None if x is None else round(float(x), nd)

    return {
        "midi_out_messages": messages, "midi_out_heard": len(pairs), "midi_out_lost": messages - len(pairs),
        "midi_out_unexpected": len(unexpected),
        "midi_out_unexpected_first": [[h - rig.t0, d.hex()] for h, d in unexpected[:5]],
        "midi_out_jitter_ms_sd": r(np.std(ms(offsets, rate))) if offsets.size else None,
        "midi_out_offset_ms_mean": r(np.mean(ms(offsets, rate))) if offsets.size else None,
        "midi_out_offset_frames_min": int(offsets.min()) if offsets.size else None,
        "midi_out_offset_frames_max": int(offsets.max()) if offsets.size else None,
        "midi_out_on_time_share": r(on_time.size / max(offsets.size, 1), 4),
        "midi_out_on_time_spread_frames": int(on_time.max() - on_time.min()) if on_time.size else None,
        "midi_out_sender_late_us_p50": r(np.percentile(late_us, 50), 1) if late_us.size else None,
        "midi_out_sender_late_us_p99": r(np.percentile(late_us, 99), 1) if late_us.size else None,
        "midi_out_sender_late_us_max": r(late_us.max(), 1) if late_us.size else None,
        "midi_out_dropped": mo.dropped, "midi_out_xruns": x["xruns"],
    }


def notes_sent(r: dict) -> int:
    return r["hits_sent"] + r["flood_notes_sent"] + (r.get("human_replay_notes_sent") or 0)


def met(key: str, value) -> bool | None:
    if value is None or key not in GOALS:
        return None
    op, goal = GOALS[key]
    return value <= goal if op == "<=" else value == goal


def main(argv: list[str] | None = None) -> int:
    from engine.midi.live import TRANSPORTS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", metavar="OUT", help="write the results here")
    ap.add_argument("--hits", type=int, default=2000, help="notes for stamps and feedback (default 2000)")
    ap.add_argument("--flood-seconds", type=float, default=10.0)
    ap.add_argument("--performances", type=int, default=20, help="Groove MIDI performances to replay")
    ap.add_argument("--replay-seconds", type=float, default=4.0, help="first seconds of each performance")
    ap.add_argument("--groove", type=Path, default=GROOVE_DIR, help="Groove MIDI Dataset folder")
    ap.add_argument("--midi-out-messages", type=int, default=600)
    ap.add_argument("--transports", default=",".join(TRANSPORTS))
    ap.add_argument("--primary", default="rtmidi", help="transport whose figures are the top-level ones")
    ap.add_argument("--feedback-delay-ms", type=float, default=None, help="default: MidiInput's")
    ap.add_argument("--server", help="use this running JACK server instead of starting one")
    args = ap.parse_args(argv)
    echo = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731

    transports = [t for t in args.transports.split(",") if t]
    unknown = set(transports) - set(TRANSPORTS)
    if unknown:
        ap.error(f"unknown transport(s) {sorted(unknown)}; MidiInput has {list(TRANSPORTS)}")
    t_start = time.monotonic()
    results: dict = {"by_transport": {}}
    with jack_rig(args.server, echo) as (server, child):
        for transport in transports:
            echo(f"transport {transport}:")
            results["by_transport"][transport] = run_transport(
                child, transport, hits=args.hits, flood_s=args.flood_seconds, groove=args.groove,
                performances=args.performances, replay_s=args.replay_seconds,
                midi_out_messages=args.midi_out_messages, feedback_delay_ms=args.feedback_delay_ms, echo=echo)

    by = results["by_transport"]
    primary = by.get(args.primary) or next(iter(by.values()))
    results["primary_transport"] = primary["transport"]
    for key in ("stamp_error_ms_median", "stamp_error_ms_p99", "feedback_latency_ms_median", "feedback_jitter_ms_sd",
                "midi_out_jitter_ms_sd", "human_replay_error_ms_p99", "hits_sent", "hits_received",
                "flood_notes_sent", "flood_notes_received", "human_replay_notes_sent", "human_replay_notes_received",
                "midi_out_messages", "midi_out_heard"):
        results[key] = primary.get(key)
    if "human_replay_note" in primary:
        results["human_replay_note"] = primary["human_replay_note"]
    results["notes_sent"] = sum(notes_sent(r) for r in by.values())
    results["notes_received"] = sum(r["hits_received"] + r["flood_notes_received"]
                                    + (r.get("human_replay_notes_received") or 0) for r in by.values())
    results["lost"] = sum(r["lost"] for r in by.values())
    results["xruns"] = sum(r["xruns"] for r in by.values())
    results["flood_xruns"] = sum(r["flood_xruns"] for r in by.values())
    results["goals"] = {k: f"{op} {v:g}" for k, (op, v) in GOALS.items()}
    results["goals_met"] = {k: met(k, results.get(k)) for k in GOALS}
    results["rig"] = {"server": f"jackd -R -d dummy -r {server.rate} -p {server.period}", "realtime": server.realtime,
                      "blocksize": 128, "machine_cores": os.cpu_count()}
    results["duration_s"] = round(time.monotonic() - t_start, 1)

    print_summary(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


def print_summary(results: dict) -> None:
    by = results["by_transport"]
    rows = [
        ("stamp error median (ms)", "stamp_error_ms_median"),
        ("stamp error p99 (ms)", "stamp_error_ms_p99"),
        ("feedback latency median (ms)", "feedback_latency_ms_median"),
        ("feedback jitter SD (ms)", "feedback_jitter_ms_sd"),
        ("MIDI out jitter SD (ms)", "midi_out_jitter_ms_sd"),
        ("human replay error p99 (ms)", "human_replay_error_ms_p99"),
        ("flood stamp error p99 (ms)", "flood_stamp_error_ms_p99"),
        ("notes sent", None),
        ("notes + messages lost", "lost"),
        ("xruns in the flood", "flood_xruns"),
        ("xruns", "xruns"),
    ]

    def cell(key, value):
        ok = met(key, value)
        return f"{'—' if value is None else value}{'' if ok is None else (' ok' if ok else ' MISSED')}"

    print(f"{'':32}{'goal':>10}" + "".join(f"{n:>16}" for n in by))
    for label, key in rows:
        if key is None:
            print(f"{label:32}{'':>10}" + "".join(f"{notes_sent(r):>16}" for r in by.values()))
        else:
            goal = results["goals"].get(key, "")
            print(f"{label:32}{goal:>10}" + "".join(f"{cell(key, r.get(key)):>16}" for r in by.values()))
    for n, r in by.items():
        late = (f", sender late p99 {r['midi_out_sender_late_us_p99']} µs"
                if r.get("midi_out_sender_late_us_p99") is not None else "")
        print(f"{n}: MIDI out {r['midi_out_heard']}/{r['midi_out_messages']} heard, "
              f"{100 * r['midi_out_on_time_share']:.1f} % sent on time{late}; "
              f"feedback {r['feedback_heard']}/{r['hits_sent']} heard (delay {r['feedback_delay_ms']} ms)"
              + (f"; {r['human_replay_note']}" if "human_replay_note" in r else ""))
    for n, r in by.items():
        if any(r["clock_slip_frames"].values()):
            print(f"{n}: the engine's clock moved against JACK's by {r['clock_slip_frames']} frames (before each phase)")
    print(f"top level ({results['primary_transport']}; lost and xruns over all): lost {results['lost']}, "
          f"xruns {results['xruns']}, {results['notes_received']}/{results['notes_sent']} notes received, "
          f"{results['duration_s']} s")


if __name__ == "__main__":
    sys.exit(main())
