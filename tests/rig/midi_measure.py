"""MIDI on the JACK rig, measured against the virtual child's truth; shared by rig tests and benchmarks.

The virtual child sends MIDI on ``midi_out`` at exact JACK frames, hears MIDI
on ``midi_ear`` and sound on ``ear`` at exact JACK frames. With ``T0``, the
JACK frame of stream frame 0 (see :mod:`tests.rig.measure`):

- a note the child sent at JACK frame J happened at stream frame ``J − T0``;
  the engine's stamp error is ``stamp − (J − T0)``;
- a feedback sound for that note is heard at JACK frame H; its latency is
  ``H − J`` (the feedback delay plus the output path, plus the stamp error);
- a message the engine scheduled at stream frame F and the child heard at
  JACK frame H has the offset ``H − (F + T0 + output latency)``.

Keep the child quiet while measuring: every request wakes its command thread,
which then competes for the GIL its JACK callback needs. Send batches
(:meth:`VirtualChild.send_midi_many`), wait by the wall clock
(:func:`wait_until_jack_frame` asks the child once or twice), and read what it
heard once, at the end.
"""

from __future__ import annotations

import csv
import random
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from tests.rig.measure import RigEngine, click, cue_offsets, open_engine, schedule_cues

__all__ = [
    "SLACK_FRAMES",
    "ON_TIME_NS",
    "HitRun",
    "XrunWindow",
    "note_on",
    "hit_frames",
    "pad_map",
    "click_bank",
    "open_midi_engine",
    "start_midi_input",
    "open_midi_output",
    "wait_until_jack_frame",
    "wait_for_inputs",
    "inputs",
    "statuses",
    "rig_path",
    "send_hits",
    "match_by_note",
    "stamp_errors",
    "sent_offsets",
    "flood_events",
    "song_slice",
    "song_events",
    "groove_performances",
]

SLACK_FRAMES = 16
"""Frames allowed beyond one JACK period for a stamp or a MIDI-out offset (clock-map noise)."""

ON_TIME_NS = 250_000
"""A MIDI-out message the sender thread sent within this of its due time was sent on time. Later
ones are the operating system's doing (a sleeping thread woke late: on this VM up to a few ms,
for a bare Python thread as much as for the engine's); benchmarks.midi reports them."""

FEEDBACK_CLICK_DECAY_MS = 1.0
"""The feedback click: 4 ms long, so hits 16 ms apart are still heard one by one (the child's
ear needs 10 ms of quiet before an onset)."""

PAD_SOUND = "click"


def note_on(note: int, velocity: int = 100, channel: int = 9) -> bytes:
    """A note-on (velocity 0: the note-off most pads send); channel 9 is MIDI channel 10."""
    return bytes([0x90 | channel, note, velocity])


def hit_frames(start: int, n: int, *, spacing: int, period: int, seed: int = 1) -> list[int]:
    """``n`` JACK frames ``spacing`` apart, each moved by a random offset within the period."""
    rng = np.random.default_rng(seed)
    return [start + k * spacing + int(rng.integers(0, period)) for k in range(n)]


def pad_map(directory: Path, *, makes_own_sound: bool = False):
    """A device map for the virtual child: every note is a pad whose feedback is the click.

    Fixed velocity curve (gain 1.0), so every feedback click is loud enough for the child's ear.
    """
    from engine.midi.devicemap import DeviceMap

    lines = ['name = "Rig pad"', 'match = ["virtual-child"]',
             f"makes_own_sound = {'true' if makes_own_sound else 'false'}",
             "[velocity]", 'curve = "fixed"', "max = 1.0", "[notes]"]
    lines += [f'{n} = {{ role = "pad{n}", sound = "{PAD_SOUND}" }}' for n in range(128)]
    path = Path(directory) / ("pad-own-sound.toml" if makes_own_sound else "pad.toml")
    path.write_text("\n".join(lines) + "\n")
    return DeviceMap.load(path)


def click_bank(rate: int = 48_000) -> dict:
    """The feedback sounds :func:`pad_map` asks for (a plain mapping works as a bank)."""
    return {PAD_SOUND: click(rate, decay_ms=FEEDBACK_CLICK_DECAY_MS)}


def open_midi_engine(child, transport: str = "rtmidi", *, blocksize: int = 128) -> RigEngine:
    """An engine on the rig wired to the child, with the backend ``transport`` needs.

    ``rtmidi`` reads MIDI in the control process: the rig's frame probe backend.
    ``jack`` reads MIDI in the audio process: :data:`engine.midi.jackmidi.SPEC`,
    which reports ``T0`` itself.
    """
    if transport == "rtmidi":
        return open_engine(child, blocksize=blocksize)
    if transport != "jack":
        raise ValueError(f"no rig set-up for MIDI transport {transport!r}")
    from engine.midi.jackmidi import SPEC

    return open_engine(child, blocksize=blocksize, backend=SPEC)


def start_midi_input(rig: RigEngine, transport: str = "rtmidi", *, device_map, bank=None, **kwargs):
    """A started :class:`MidiInput` on the child's ``midi_out``."""
    from engine.midi.live import MidiInput

    mi = MidiInput(rig.engine, "virtual-child", transport=transport, device_map=device_map, bank=bank, **kwargs)
    mi.start()
    return mi


def open_midi_output(rig: RigEngine, transport: str = "rtmidi", *, part: str = "virtual-child:midi_ear", **kwargs):
    """A started MIDI output to the child's ``midi_ear``, of the kind ``tandem run`` pairs with ``transport``.

    ``rtmidi``: :class:`~engine.midi.sender.MidiOutput` (a sender thread, sleep then spin);
    ``jack``: :class:`~engine.midi.jackmidi.JackMidiOutput` (written at exact frames by the
    audio process; needs the engine :func:`open_midi_engine` opens for ``jack``).
    """
    if transport == "jack":
        from engine.midi.jackmidi import JackMidiOutput as Output
    else:
        from engine.midi.sender import MidiOutput as Output
    out = Output(rig.engine, part, **kwargs)
    out.start()
    return out


def wait_until_jack_frame(child, frame: int, *, engine=None, grace_s: float = 10.0) -> int:
    """Sleep until JACK's frame time passes ``frame``, asking the child once or twice, not in a loop.

    JACK's dummy driver runs on the wall clock, so the wait is computed once
    from the child's frame time and checked after it. ``engine.check()`` is
    called meanwhile, so a dead stream fails at once; a server that stalls
    fails ``grace_s`` after the frame should have come (TimeoutError).
    """
    rate = child.rate or 48_000
    deadline = time.monotonic() + max(frame - child.frame_time(), 0) / rate + grace_s
    while True:
        now = child.frame_time()
        if now >= frame:
            return now
        if time.monotonic() > deadline:
            raise TimeoutError(f"JACK frame time {now} did not reach {frame} in time: is the server stalled?")
        end = time.monotonic() + (frame - now) / rate + 0.01
        while (left := end - time.monotonic()) > 0:
            if engine is not None:
                engine.check()
            time.sleep(min(left, 0.1))


def inputs(events, source: str = "midi") -> list:
    """The InputEvents of ``source`` (``midi`` note-ons, ``midi-off`` note-offs) in arrival order."""
    return [e for e in list(events) if getattr(e, "source", None) == source]


def statuses(events) -> list[str]:
    """The ``what`` of each StatusEvent (``device_lost``, ``device_back``) in order."""
    return [e.what for e in list(events) if hasattr(e, "what")]


def wait_for_inputs(mi, n: int, *, source: str = "midi", timeout_s: float = 3.0) -> list:
    """The MidiInput's ``source`` events once there are ``n`` of them (or what there is at the timeout)."""
    deadline = time.monotonic() + timeout_s
    while len(inputs(mi.events, source)) < n and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.05)  # anything more (a duplicate) would have arrived with the rest
    return inputs(mi.events, source)


def rig_path(rig: RigEngine, child, *, cues: int = 4) -> int:
    """Frames from a sound's stream frame F to where the child hears it, minus T0 (one constant).

    What the engine calls its output latency, as the child's ear sees it.
    Raises RuntimeError if the cues were not all heard at one offset.
    """
    eng = rig.engine
    sound = click(eng.sample_rate, decay_ms=FEEDBACK_CLICK_DECAY_MS)
    child.heard_onsets(clear=True)
    start = eng.now_frame + eng.sample_rate // 10
    frames = [start + k * 2400 for k in range(cues)]
    schedule_cues(rig, sound, frames)
    wait_until_jack_frame(child, frames[-1] + rig.t0 + 2400, engine=eng)
    offsets = cue_offsets(rig, child, frames, heard=child.heard_onsets(clear=True))
    if None in offsets or len(set(offsets)) != 1:
        raise RuntimeError(f"the rig's output path is not one constant: {offsets}")
    return offsets[0]


class XrunWindow:
    """Xruns from now on: the stream's own count and JACK's (the xruns the child was told of).

    Open it after the set-up: an engine with the JACK MIDI backend has an xrun or two as it
    starts, which no measurement should count. Windows may overlap (nothing is reset).
    """

    def __init__(self, rig: RigEngine, child) -> None:
        self.rig, self.child = rig, child
        self.child0 = child.stats()
        self.stream0 = rig.engine.xruns

    def close(self) -> dict:
        """``xruns`` (both), ``stream_xruns``, ``jack_xruns``, and the MIDI the child sent late."""
        child = self.child.stats()
        stream = self.rig.engine.xruns - self.stream0
        jack = child["xruns"] - self.child0["xruns"]
        return {"xruns": stream + jack, "stream_xruns": stream, "jack_xruns": jack,
                "child_late_midi": child["late_midi"] - self.child0["late_midi"]}


@dataclass
class HitRun:
    """What one batch of hits gave: truth, the engine's events, what the child heard."""

    frames: list[int]  # JACK frames of the note-ons
    notes: list[int]
    t0: int
    events: list = field(default_factory=list)  # the engine's note-on InputEvents
    offs: list = field(default_factory=list)  # its note-off InputEvents
    heard: list[int] = field(default_factory=list)  # the child's onsets (JACK frames)
    stats: dict = field(default_factory=dict)  # engine stats + the child's xruns

    @property
    def stamp_errors(self) -> list[int]:
        """``stamp − (J − T0)`` per note (notes lost, or stamped more than 25 ms off, left out)."""
        return stamp_errors(self.frames, self.notes, self.events, t0=self.t0)

    def feedback_latencies(self, *, earliest: int, latest: int) -> list[int | None]:
        """``H − J`` per hit: the first onset heard in ``[J + earliest, J + latest]`` (None: none)."""
        heard = np.asarray(sorted(self.heard), dtype=np.int64)
        out = []
        for j in self.frames:
            i = int(np.searchsorted(heard, j + earliest))
            out.append(int(heard[i]) - j if i < heard.size and heard[i] <= j + latest else None)
        return out


def stamp_errors(frames: list[int], notes: list[int], events, *, t0: int, tolerance: int = 1200) -> list[int]:
    """``stamp − (J − T0)`` for each note sent at JACK frame J that the engine stamped within
    ``tolerance`` frames (25 ms) of it; matched note by note (:func:`match_by_note`)."""
    pairs = match_by_note([(j - t0, n) for j, n in zip(frames, notes)], [(e.frame, e.note) for e in events],
                          tolerance=tolerance)
    return [stamp - true for true, stamp in pairs if stamp is not None]


def send_hits(rig: RigEngine, child, mi, frames: list[int], *, notes: list[int] | None = None,
              off_after: int | None = None, settle_s: float = 0.3) -> HitRun:
    """Send note-ons at JACK ``frames`` in one batch, each note's off (a velocity-0 note-on, as
    most pads send) ``off_after`` frames later; collect what the engine and the child got.

    The child is asked four things: its onsets cleared and its counters read before, and at
    the end its onsets and its counters (the JACK xruns it saw). ``stats`` has the engine's
    stats with ``xruns`` etc. from an :class:`XrunWindow` over the hits.
    """
    notes = notes or [38] * len(frames)
    batch = [(f, note_on(n)) for f, n in zip(frames, notes)]
    if off_after is not None:
        batch += [(f + off_after, note_on(n, 0)) for f, n in zip(frames, notes)]
    eng = rig.engine
    before = len(mi.events)
    child.heard_onsets(clear=True)
    window = XrunWindow(rig, child)
    child.send_midi_many(batch)
    wait_until_jack_frame(child, max(f for f, _ in batch) + eng.sample_rate // 20, engine=eng)
    time.sleep(settle_s)  # the input thread's last notes, the last feedback sounds
    new = list(mi.events)[before:]
    run = HitRun(frames=list(frames), notes=list(notes), t0=rig.t0, events=inputs(new, "midi"),
                 offs=inputs(new, "midi-off"), heard=child.heard_onsets(clear=True))
    run.stats = {**eng.stats(), **window.close()}
    return run


def match_by_note(sent: list[tuple[int, int]], got: list[tuple[int, int]], *,
                  tolerance: int | None = None) -> list[tuple[int, int | None]]:
    """Pair ``(frame, note)`` sent with ``(frame, note)`` received, note by note, in order.

    Without ``tolerance`` the k-th of each note number pairs with the k-th received. With it
    (frames; both lists then on the same clock), a received note pairs with the next one sent
    only if it is within ``tolerance`` of it: a note lost, or one received that was never sent,
    then does not shift the pairs after it.
    Returns ``(sent frame, received frame or None)`` per sent item, in the sent order.
    """
    by_note: dict[int, list[int]] = {}
    for frame, note in got:
        by_note.setdefault(note, []).append(frame)
    pos: dict[int, int] = {}
    out = []
    for frame, note in sent:
        frames = by_note.get(note, [])
        k = pos.get(note, 0)
        if tolerance is not None:
            while k < len(frames) and frames[k] < frame - tolerance:
                k += 1  # received, but never sent (or far too early to be this one)
            if k < len(frames) and frames[k] > frame + tolerance:
                out.append((frame, None))  # this one never came
                pos[note] = k
                continue
        out.append((frame, frames[k] if k < len(frames) else None))
        pos[note] = k + 1
    return out


def sent_offsets(output, heard, *, t0: int, frames: list[int] | None = None) -> list[tuple[int, int | None]]:
    """Each MIDI-out message: ``(H − (F + T0 + output latency), how late the sender sent it, in ns)``.

    ``heard`` is the child's ``(JACK frame H, bytes)`` in order, ``frames`` the stream frames F
    the same messages were scheduled at, in the order they were sent; by default those of a
    sender thread's own records (:attr:`MidiOutput.sent`, which also say how late each was
    sent). The lateness is None for an output without a thread to be late (the JACK output:
    the audio process writes each message at its frame).
    """
    latency = output.engine.output_latency_frames if output.align_to_audio else 0
    records = list(getattr(output, "sent", ()))
    if frames is None:
        frames = [f for f, _, _ in records]
    lateness = [sent - due for _, due, sent in records] if len(records) == len(frames) else [None] * len(frames)
    return [(h - (f + t0 + latency), late) for f, late, (h, _) in zip(frames, lateness, heard)]


def flood_events(start: int, *, seconds: float, per_second: int = 2000, note_every: int = 20,
                 sysex_every: int = 50, long_sysex_every: int = 500, period: int = 128,
                 rate: int = 48_000, seed: int = 3) -> tuple[list[tuple[int, bytes]], list[int], list[int]]:
    """A MIDI flood from JACK frame ``start``: ``per_second`` messages, mostly timing clock and active sensing.

    Every ``note_every``-th message is a note-on (its note-off follows as a
    velocity-0 note-on 5 ms later, on top of the count), every ``sysex_every``-th a short
    sysex and every ``long_sysex_every``-th a 600-byte one; the rest alternate F8 and FE.
    Returns the events, the note-ons' frames and their note numbers.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * per_second)
    step = rate / per_second
    events, note_frames, notes = [], [], []
    long_sysex = bytes([0xF0, 0x7D]) + bytes(i % 128 for i in range(597)) + bytes([0xF7])
    for k in range(n):
        f = start + int(k * step) + int(rng.integers(0, max(1, min(period, int(step)))))
        if k % note_every == note_every // 2:
            note = 35 + len(notes) % 47
            events.append((f, note_on(note, 100)))
            events.append((f + rate // 200, note_on(note, 0)))
            note_frames.append(f)
            notes.append(note)
        elif k % long_sysex_every == 1:
            events.append((f, long_sysex))
        elif k % sysex_every == 3:
            events.append((f, bytes([0xF0, 0x7E, 0x7F, 0x06, 0x01, 0xF7])))
        else:
            events.append((f, bytes([0xF8 if k % 2 else 0xFE])))
    return events, note_frames, notes


def song_slice(song, max_s: float):
    """The song's notes that start before ``max_s`` seconds."""
    return replace(song, notes=tuple(n for n in song.notes if n.start_s < max_s))


def song_events(song, start: int, *, rate: int = 48_000) -> tuple[list[tuple[int, bytes]], list[tuple[int, int]]]:
    """A performance as the child plays it from JACK frame ``start``: note-ons with the file's
    velocities, note-offs (0x8n) after each note's duration. Returns the events and the
    ``(frame, note)`` of each note-on, in the file's order."""
    events, ons = [], []
    for note in song.notes:
        f = start + int(np.floor(note.start_s * rate + 0.5))
        events.append((f, bytes([0x90 | note.channel, note.note, max(1, note.velocity)])))
        events.append((f + max(1, int(round(note.duration_s * rate))), bytes([0x80 | note.channel, note.note, 0])))
        ons.append((f, note.note))
    return events, ons


def groove_performances(root: Path, n: int, *, min_s: float = 2.0, seed: int = 7) -> list[Path]:
    """``n`` performances from a Groove MIDI Dataset folder (``info.csv`` + drummerN/…/*.mid).

    A fixed pseudo-random sample (beats and fills of all styles) of those at least ``min_s`` long.
    """
    root = Path(root)
    with open(root / "info.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh)
                if float(r["duration"]) >= min_s and (root / r["midi_filename"]).is_file()]
    rows.sort(key=lambda r: r["id"])
    return [root / r["midi_filename"] for r in random.Random(seed).sample(rows, min(n, len(rows)))]
