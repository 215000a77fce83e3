"""The virtual child: a JACK client that listens, plays and taps on JACK's frame clock.

It hears the engine's output (audio in port ``ear``), plays into the engine's
input (audio out port ``hand``), sends MIDI (MIDI out port ``midi_out``) and
hears MIDI (MIDI in port ``midi_ear``), every sound and event at an absolute
frame of JACK's frame clock. Because it knows when it played and when it
heard, it measures timing to the sample.

It runs in its own process (a fresh interpreter): its Python process callback
would otherwise share the GIL with the engine's Python audio callback in the
test process and disturb exactly what is being measured. The parent talks to
it through a `multiprocessing.connection.Connection` over a socket pair; in
the child the main thread
serves commands and hands scheduled items to the JACK process callback through
a deque (append/popleft are atomic under the GIL, so the callback never waits
on a lock or the pipe). Everything the callback writes (onsets, recording,
MIDI heard, counters) sits in preallocated arrays or in fields only it writes.

Timing conventions (what the rig tests pin down):

- Frame ``t + i`` is sample ``i`` of the cycle whose ``last_frame_time`` is
  ``t``, for inputs and outputs alike.
- The callback reads its inputs before it writes its outputs, so a loop from
  the child's own output to its own input (``hand`` -> ``ear``, ``midi_out``
  -> ``midi_ear``) delays by exactly one period.
- Frame times are JACK's 32-bit frame counter; it wraps after 2**32 frames
  (24.8 hours at 48 kHz), far beyond any test.

Hot-plug: `unplug_midi` unregisters a MIDI port (as when a USB pad is
pulled out: the port and its connections vanish from the server) and
`replug_midi` registers it again under the same name, unconnected, as a
re-plugged device appears. While ``midi_out`` is unplugged, MIDI due on it
is dropped and counted (``midi_unplugged_dropped``); while ``midi_ear`` is
unplugged nothing is heard.
"""

from __future__ import annotations

import atexit
import collections
import gc
import heapq
import itertools
import os
import socket
import subprocess
import sys
import threading
import time
import traceback
import weakref
from multiprocessing.connection import Connection

import numpy as np

__all__ = ["VirtualChild", "VirtualChildError"]

_START_TIMEOUT_S = 20.0
_CALL_TIMEOUT_S = 10.0
_CLOSE_TIMEOUT_S = 5.0
_ONSET_CAPACITY = 1 << 16
_MIDI_HEARD_CAPACITY = 1 << 14
_INBOX_PER_CYCLE = 256   # items taken into the schedule per cycle: bounds the callback's work
# The directory that holds the ``tests`` package, for the child's sys.path.
_IMPORT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Children still running, closed at interpreter exit if a test run ends early.
_LIVE_CHILDREN: "weakref.WeakSet[VirtualChild]" = weakref.WeakSet()


@atexit.register
def _close_live_children() -> None:
    for child in list(_LIVE_CHILDREN):
        child.close()


class VirtualChildError(RuntimeError):
    """The virtual child process failed, or a command it ran failed."""


# ---------------------------------------------------------------------------
# Parent side
# ---------------------------------------------------------------------------


class VirtualChild:
    """Parent-side handle of the virtual child process.

    Parameters
    ----------
    server_name : str
        The JACK server to join (a private one; see `tests.rig.server`).
    name : str
        Exact JACK client name; ports are ``f"{name}:ear"`` and so on.
    threshold : float
        An onset is where ``|ear|`` first reaches ``threshold`` ...
    quiet_frames : int
        ... after at least ``quiet_frames`` frames below it. The detector
        starts disarmed: it needs ``quiet_frames`` of quiet first.
    record_seconds : float
        Length of the ring buffer behind `recording`.

    Use as a context manager, or `start` / `close` (`close` always ends the
    process and is safe twice).
    """

    def __init__(self, server_name: str, *, name: str = "virtual-child",
                 threshold: float = 0.05, quiet_frames: int = 480,
                 record_seconds: float = 20.0) -> None:
        if not threshold > 0:
            raise ValueError(f"threshold must be > 0, got {threshold!r}")
        if quiet_frames < 1:
            raise ValueError(f"quiet_frames must be >= 1, got {quiet_frames!r}")
        self.server_name = server_name
        self.name = name
        self.threshold = float(threshold)
        self.quiet_frames = int(quiet_frames)
        self.record_seconds = float(record_seconds)
        self.rate: int | None = None
        self.blocksize: int | None = None
        self.ear_port = f"{name}:ear"
        self.hand_port = f"{name}:hand"
        self.midi_port = f"{name}:midi_out"
        self.midi_ear_port = f"{name}:midi_ear"
        self._proc = None
        self._conn = None
        self._lock = threading.Lock()

    # -- life cycle ----------------------------------------------------------

    def start(self) -> "VirtualChild":
        """Start the process and wait until its JACK client is active."""
        if self._proc is not None:
            return self
        parent_sock, child_sock = socket.socketpair()
        config = dict(server_name=self.server_name, name=self.name,
                      threshold=self.threshold, quiet_frames=self.quiet_frames,
                      record_seconds=self.record_seconds)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (_IMPORT_ROOT, env.get("PYTHONPATH")) if p)
        # A plain subprocess rather than multiprocessing's "spawn": spawn
        # re-imports the caller's __main__, which breaks any script without
        # an ``if __name__ == "__main__"`` guard.
        proc = subprocess.Popen(
            [sys.executable, "-c",
             f"import tests.rig.child as c; c._child_main({child_sock.fileno()})"],
            pass_fds=(child_sock.fileno(),), env=env, stdin=subprocess.DEVNULL,
        )
        child_sock.close()
        conn = Connection(parent_sock.detach())
        self._proc, self._conn = proc, conn
        _LIVE_CHILDREN.add(self)
        try:
            conn.send(config)
            if not conn.poll(_START_TIMEOUT_S):
                raise VirtualChildError(
                    f"virtual child {self.name!r} did not start within {_START_TIMEOUT_S:.0f} s")
            kind, payload = conn.recv()
            if kind != "ready":
                raise VirtualChildError(f"virtual child {self.name!r} failed to start:\n{payload}")
        except BaseException as exc:
            self.close()
            if isinstance(exc, (EOFError, OSError)):
                raise VirtualChildError(
                    f"virtual child {self.name!r} exited during start-up") from exc
            raise
        self.rate = payload["rate"]
        self.blocksize = payload["blocksize"]
        self.ear_port = payload["ear"]
        self.hand_port = payload["hand"]
        self.midi_port = payload["midi_out"]
        self.midi_ear_port = payload["midi_ear"]
        return self

    def close(self) -> None:
        """Deactivate the client and end the process (safe twice)."""
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        if proc is None:
            return
        try:
            with self._lock:
                conn.send(("close", ()))
                if conn.poll(_CLOSE_TIMEOUT_S):
                    conn.recv()
        except (OSError, EOFError, BrokenPipeError):
            pass
        finally:
            _LIVE_CHILDREN.discard(self)
            conn.close()
            try:
                proc.wait(_CLOSE_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(_CLOSE_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(_CLOSE_TIMEOUT_S)

    def __enter__(self) -> "VirtualChild":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self._proc is not None else "closed"
        return f"VirtualChild(server={self.server_name!r}, name={self.name!r}, {state})"

    @property
    def pid(self) -> int | None:
        """Process id of the child process (None when not running)."""
        return self._proc.pid if self._proc is not None else None

    # -- commands ------------------------------------------------------------

    def connect(self, src: str, dst: str) -> None:
        """Connect any two ports on the server (output ``src`` -> input ``dst``)."""
        self._call("connect", src, dst)

    def disconnect(self, src: str, dst: str) -> None:
        """Disconnect ``src`` -> ``dst``."""
        self._call("disconnect", src, dst)

    def port_names(self, pattern: str = "") -> list[str]:
        """Names of all ports on the server matching the regex ``pattern``."""
        return self._call("port_names", pattern)

    def connections(self, port: str) -> list[str]:
        """Names of the ports connected to ``port``."""
        return self._call("connections", port)

    def frame_time(self) -> int:
        """JACK's current (estimated) frame time."""
        return self._call("frame_time")

    def wait_for_frame(self, frame: int, *, timeout_s: float = 10.0) -> int:
        """Wait until JACK's frame time reaches ``frame``; return the frame time.

        The timeout only guards against a stalled server (TimeoutError).
        """
        deadline = time.monotonic() + timeout_s
        rate = self.rate or 48000
        while True:
            now = self.frame_time()
            if now >= frame:
                return now
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"JACK frame time {now} did not reach {frame} within {timeout_s} s")
            time.sleep(min(max((frame - now) / rate / 2, 0.0005), 0.05))

    def play_audio(self, at_frame: int, samples: np.ndarray) -> None:
        """Play mono ``samples`` on the hand port from absolute frame ``at_frame``.

        Overlapping sounds are mixed. A sound whose first frame has already
        passed when the callback first sees it is dropped and counted as late.
        """
        samples = np.ascontiguousarray(samples, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError(f"samples must be 1-D (mono), got shape {samples.shape}")
        if samples.size == 0:
            return
        self._call("play", int(at_frame), samples)

    def send_midi(self, at_frame: int, data: bytes) -> None:
        """Send one MIDI message on the MIDI out port at absolute frame ``at_frame``."""
        data = bytes(data)
        if not data or not data[0] & 0x80:
            raise ValueError(f"a MIDI message starts with a status byte, got {data!r}")
        self._call("midi", int(at_frame), data)

    def send_midi_many(self, events, *, raw: bool = False) -> None:
        """Send many ``(absolute frame, bytes)`` MIDI events in one request.

        One request instead of one per message: every request wakes the
        child's command thread, and thousands of wake-ups would disturb the
        timing being measured. The callback takes at most
        ``_INBOX_PER_CYCLE`` items per cycle, so schedule a large batch
        well ahead (about 1 s per 50,000 events). ``raw=True`` lets malformed
        bytes through (for robustness tests: a stray data byte, a cut message).
        """
        batch = []
        for frame, data in events:
            data = bytes(data)
            if not data or (not raw and not data[0] & 0x80):
                raise ValueError(f"a MIDI message starts with a status byte, got {data!r}")
            batch.append((int(frame), data))
        batch.sort(key=lambda e: e[0])
        self._call("midi_many", batch)

    def unplug_midi(self, port: str = "midi_out") -> None:
        """Unplug the MIDI port ``"midi_out"`` or ``"midi_ear"``: unregister it from JACK.

        Returns once the process callback no longer touches the port and it
        is gone from the server (with its connections). Safe when already unplugged.
        """
        self._call("unplug", _check_midi_port(port))

    def replug_midi(self, port: str = "midi_out") -> None:
        """Plug ``port`` back in: register it again under the same name (unconnected)."""
        self._call("replug", _check_midi_port(port))

    def heard_onsets(self, clear: bool = False) -> list[int]:
        """Absolute frames where the ear crossed the threshold after a quiet spell."""
        return self._call("onsets", bool(clear))

    def heard_midi(self, clear: bool = False) -> list[tuple[int, bytes]]:
        """``(absolute frame, message bytes)`` of each MIDI event on ``midi_ear``."""
        return self._call("heard_midi", bool(clear))

    def recording(self, start_frame: int, n: int) -> np.ndarray:
        """What the ear heard in frames ``[start_frame, start_frame + n)`` (float32).

        Raises ValueError if that span is not (or no longer) in the ring buffer. A span
        that ends in the cycle JACK is running now (``wait_for_frame`` returns as soon as
        the frame time reaches it) is waited for, up to a second.
        """
        deadline = time.monotonic() + 1.0
        while True:
            try:
                return self._call("recording", int(start_frame), int(n))
            except ValueError as exc:
                if "not heard yet" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.005)

    def stall(self, at_frame: int, seconds: float, *, after_midi_frames: int | None = None) -> None:
        """Force a dropout: the child's cycle that reaches ``at_frame`` sleeps ``seconds`` at its end, and
        the server misses that many seconds of deadlines: every client sees the xrun there. With
        ``after_midi_frames``: instead, that many frames after the first MIDI event the child sends from
        ``at_frame`` on (so a stall can be placed between the child's taps)."""
        self._call("stall", int(at_frame), float(seconds),
                   None if after_midi_frames is None else int(after_midi_frames))

    def stats(self, reset: bool = False) -> dict:
        """Counters: cycles, late items, xruns, callback errors, max callback time (µs).

        ``reset=True`` zeroes the counters after reading them.
        """
        return self._call("stats", bool(reset))

    def _call(self, cmd: str, *args):
        with self._lock:
            if self._conn is None:
                raise VirtualChildError("the virtual child is not running (call start())")
            try:
                self._conn.send((cmd, args))
                if not self._conn.poll(_CALL_TIMEOUT_S):
                    raise VirtualChildError(
                        f"virtual child did not answer {cmd!r} within {_CALL_TIMEOUT_S:.0f} s")
                kind, payload = self._conn.recv()
            except (EOFError, OSError) as exc:
                raise VirtualChildError(f"virtual child process is gone ({exc!r})") from exc
        if kind == "ok":
            return payload
        if kind == "value_error":
            raise ValueError(payload)
        raise VirtualChildError(f"virtual child failed on {cmd!r}:\n{payload}")


_MIDI_PORTS = ("midi_out", "midi_ear")


def _check_midi_port(port: str) -> str:
    if port not in _MIDI_PORTS:
        raise ValueError(f"port must be one of {_MIDI_PORTS}, got {port!r}")
    return port


# ---------------------------------------------------------------------------
# Child process
# ---------------------------------------------------------------------------


def _set_parent_death_signal() -> None:
    """Ask Linux to SIGTERM this process when its parent dies (best effort)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        import signal
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)
    except Exception:   # noqa: BLE001 - the pipe EOF still ends the process
        pass


def _child_main(fd: int) -> None:
    """Entry point of the child process: build the client, then serve commands.

    ``fd`` is this end of the socket pair; the first message on it is the
    configuration.
    """
    _set_parent_death_signal()
    # A 5 ms switch interval is longer than a 128-frame period (2.7 ms): keep
    # the command thread from holding the GIL the process callback needs.
    sys.setswitchinterval(0.0005)
    conn = Connection(fd)
    engine = None
    try:
        config = conn.recv()
        engine = _ChildEngine(**config)
        # The callback makes no reference cycles; a collector pass is a pause
        # we do not need (frozen objects are never scanned either).
        gc.collect()
        gc.freeze()
        gc.disable()
        engine.activate()
        conn.send(("ready", engine.info()))
        engine.serve(conn)
    except (EOFError, OSError):
        pass   # the parent went away
    except Exception:   # noqa: BLE001 - reported to the parent
        try:
            conn.send(("error", traceback.format_exc()))
        except OSError:
            pass
    finally:
        if engine is not None:
            engine.close()
        conn.close()


class _ChildEngine:
    """The JACK client inside the child process."""

    def __init__(self, *, server_name: str, name: str, threshold: float,
                 quiet_frames: int, record_seconds: float) -> None:
        import jack  # noqa: PLC0415 - only the child process needs it

        self._jack = jack
        self.client = jack.Client(name, use_exact_name=True, no_start_server=True,
                                  servername=server_name)
        self.rate = self.client.samplerate
        self.threshold = np.float32(threshold)
        self.quiet_frames = quiet_frames

        self._ear = self.client.inports.register("ear")
        self._hand = self.client.outports.register("hand")
        self._midi_out = self.client.midi_outports.register("midi_out")
        self._midi_ear = self.client.midi_inports.register("midi_ear")
        # Hot-plug: the callback touches a MIDI port only while its flag is set. The
        # command thread clears the flag and waits for two cycle starts (so a cycle
        # that read the flag before has ended) before unregistering the port; on
        # re-plug it sets the new port first, then the flag.
        self._midi_out_plugged = True
        self._midi_ear_plugged = True
        self._cycle_serial = 0                 # cycles ever run (never reset)

        # Hand-over from the command thread: deque.append / popleft are atomic.
        self._inbox: collections.deque = collections.deque()
        self._seq = itertools.count()          # tie-breaker so heaps never compare arrays
        # Callback-owned schedule.
        self._audio_pending: list = []         # heap of (start_frame, seq, samples)
        self._audio_active: list = []          # [start_frame, samples] now sounding
        self._midi_pending: list = []          # heap of (frame, seq, data)

        # Ear: onset detector state and its output ring.
        self._alloc_block(self.client.blocksize)
        self._quiet_run = 0                    # frames below threshold so far (disarmed)
        self._onsets = np.zeros(_ONSET_CAPACITY, dtype=np.int64)
        self._onsets_written = 0               # written only by the callback
        self._onsets_read = 0                  # moved only by the command thread
        # Ear: recording ring, indexed by absolute frame modulo its length.
        self._ring = np.zeros(max(int(record_seconds * self.rate), 1), dtype=np.float32)
        self._ring_end = None                  # absolute frame after the last recorded one
        # MIDI heard on midi_ear: (frame, bytes); deque(maxlen) never grows.
        self._midi_heard: collections.deque = collections.deque(maxlen=_MIDI_HEARD_CAPACITY)

        self._zero_counters()
        self._next_t = None
        self._shutdown_reason: str | None = None
        # A forced dropout: (frame, seconds), the cycle that reaches that frame takes that long, so the whole
        # JACK graph misses its deadlines: an xrun at a known moment, of a known length. ``_stall_after_midi``
        # (frame, seconds, frames) arms it at the first MIDI event the child sends from that frame on, that
        # many frames later. Events of the child's own that fall due while it sleeps are late (``late_midi``):
        # place a stall where nothing of the child's is due.
        self._stall: tuple[int, float] | None = None
        self._stall_after_midi: tuple[int, float, int] | None = None

        self.client.set_process_callback(self._process)
        self.client.set_xrun_callback(self._on_xrun)
        self.client.set_blocksize_callback(self._on_blocksize)
        self.client.set_shutdown_callback(self._on_shutdown)

    def activate(self, *, settle_cycles: int = 8) -> None:
        """Activate the client; return once it has run ``settle_cycles`` cycles.

        Before activation, one dry run of the ear path warms numpy's code
        paths, so the first real cycles are as quick as the later ones.
        """
        silence = np.zeros(self.blocksize, dtype=np.float32)
        self._listen(0, silence, self.blocksize)
        self._quiet_run = 0
        self.client.activate()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while self._cycles < settle_cycles and time.monotonic() < deadline:
            time.sleep(0.001)
        self._zero_counters()   # start-up cycles are not part of any test

    # -- helpers shared by both threads ---------------------------------------

    def _alloc_block(self, blocksize: int) -> None:
        self.blocksize = blocksize
        self._abs = np.zeros(blocksize, dtype=np.float32)
        self._loud = np.zeros(blocksize, dtype=bool)

    def _zero_counters(self) -> None:
        self._cycles = 0
        self._late_audio = 0
        self._late_midi = 0
        self._midi_write_errors = 0
        self._midi_unplugged_dropped = 0
        self._xruns = 0
        self._callback_errors = 0
        self._discontinuities = 0
        self._onsets_overflowed = 0
        self._max_callback_ns = 0

    def info(self) -> dict:
        return dict(rate=self.rate, blocksize=self.client.blocksize,
                    ear=self._ear.name, hand=self._hand.name,
                    midi_out=self._midi_out.name, midi_ear=self._midi_ear.name)

    # -- JACK callbacks (process thread / notification thread) ---------------

    def _on_xrun(self, delayed_usecs: float) -> None:
        self._xruns += 1

    def _on_blocksize(self, blocksize: int) -> None:
        # Called by JACK while the process callback is not running.
        self._alloc_block(blocksize)

    def _on_shutdown(self, status, reason: str) -> None:
        self._shutdown_reason = reason or "server shut down"

    def _process(self, frames: int) -> None:
        start_ns = time.perf_counter_ns()
        try:
            t = self.client.last_frame_time
            self._cycles += 1
            self._cycle_serial += 1
            if self._next_t is not None and t != self._next_t:
                self._discontinuities += 1
                if t > self._next_t:
                    self._quiet_run += t - self._next_t   # unheard frames count as quiet
            self._next_t = t + frames
            # Inputs first: a self-loop then delays by exactly one period.
            ear = self._ear.get_array()
            self._listen(t, ear, frames)
            self._record(t, ear, frames)
            if self._midi_ear_plugged:
                for offset, data in self._midi_ear.incoming_midi_events():
                    self._midi_heard.append((t + offset, bytes(data)))
            # Outputs.
            hand = self._hand.get_array()
            hand.fill(0.0)
            if self._midi_out_plugged:
                self._midi_out.clear_buffer()
            self._take_inbox(t)
            self._mix(t, hand, frames)
            wrote = self._write_midi(t, frames)
            armed = self._stall_after_midi
            if armed is not None and wrote and t >= armed[0]:
                self._stall_after_midi = None
                self._stall = (t + armed[2], armed[1])
            stall = self._stall
            if stall is not None and t >= stall[0]:
                self._stall = None
                time.sleep(stall[1])  # the fault itself: this cycle is late by design
        except Exception:   # noqa: BLE001 - an exception would stop the callback for good
            self._callback_errors += 1
            try:
                self._hand.get_array().fill(0.0)
            except Exception:   # noqa: BLE001
                pass
        finally:
            elapsed = time.perf_counter_ns() - start_ns
            if elapsed > self._max_callback_ns:
                self._max_callback_ns = elapsed

    def _listen(self, t: int, ear: np.ndarray, frames: int) -> None:
        """Onsets: first |x| >= threshold after >= quiet_frames frames below it."""
        mag = self._abs[:frames]
        loud = self._loud[:frames]
        np.abs(ear, out=mag)
        np.greater_equal(mag, self.threshold, out=loud)
        if not loud.any():
            self._quiet_run += frames
            return
        idx = np.flatnonzero(loud)
        q = self.quiet_frames
        if idx[0] + self._quiet_run >= q:
            self._add_onset(t + int(idx[0]))
        if idx.size > 1:
            gaps = idx[1:] - idx[:-1] - 1        # quiet frames before each later loud one
            for i in np.flatnonzero(gaps >= q):
                self._add_onset(t + int(idx[i + 1]))
        self._quiet_run = frames - 1 - int(idx[-1])

    def _add_onset(self, frame: int) -> None:
        n = self._onsets_written
        if n - self._onsets_read >= _ONSET_CAPACITY:
            self._onsets_overflowed += 1
            return
        self._onsets[n % _ONSET_CAPACITY] = frame
        self._onsets_written = n + 1

    def _record(self, t: int, ear: np.ndarray, frames: int) -> None:
        ring = self._ring
        size = ring.size
        if frames > size:
            return
        pos = t % size
        first = min(frames, size - pos)
        ring[pos:pos + first] = ear[:first]
        if first < frames:
            ring[:frames - first] = ear[first:]
        self._ring_end = t + frames

    def _take_inbox(self, t: int) -> None:
        inbox = self._inbox
        for _ in range(_INBOX_PER_CYCLE):
            if not inbox:
                break
            kind, frame, payload = inbox.popleft()
            if frame < t:   # its first frame has passed: late, never played shifted
                if kind == "play":
                    self._late_audio += 1
                else:
                    self._late_midi += 1
                continue
            heap = self._audio_pending if kind == "play" else self._midi_pending
            heapq.heappush(heap, (frame, next(self._seq), payload))

    def _mix(self, t: int, hand: np.ndarray, frames: int) -> None:
        end = t + frames
        pending = self._audio_pending
        active = self._audio_active
        while pending and pending[0][0] < end:
            start, _, samples = heapq.heappop(pending)
            if start < t:   # only after a frame-clock jump (xrun)
                self._late_audio += 1
                continue
            active.append((start, samples))
        if not active:
            return
        keep = 0
        for start, samples in active:
            offset = start - t                       # may be negative: started earlier
            dst0 = max(offset, 0)
            src0 = dst0 - offset
            n = min(frames - dst0, samples.size - src0)
            if n > 0:
                out = hand[dst0:dst0 + n]
                np.add(out, samples[src0:src0 + n], out=out)
            if src0 + n < samples.size:
                active[keep] = (start, samples)
                keep += 1
        del active[keep:]

    def _write_midi(self, t: int, frames: int) -> int:
        """Write the MIDI events due in this cycle; returns how many were written."""
        written = 0
        end = t + frames
        pending = self._midi_pending
        port = self._midi_out
        plugged = self._midi_out_plugged
        while pending and pending[0][0] < end:
            frame, _, data = heapq.heappop(pending)
            if frame < t:   # only after a frame-clock jump (xrun)
                self._late_midi += 1
                continue
            if not plugged:   # a pulled-out device sends nothing
                self._midi_unplugged_dropped += 1
                continue
            try:
                port.write_midi_event(frame - t, data)   # heap order = time order
                written += 1
            except self._jack.JackError:
                self._midi_write_errors += 1
        return written

    # -- command thread ------------------------------------------------------

    def serve(self, conn) -> None:
        """Answer the parent's commands until 'close' or the pipe closes."""
        while True:
            try:
                cmd, args = conn.recv()
            except (EOFError, OSError):
                return
            if cmd == "close":
                self.close()
                conn.send(("ok", None))
                return
            try:
                if self._shutdown_reason is not None and cmd not in ("stats", "onsets",
                                                                     "heard_midi", "recording"):
                    raise VirtualChildError(f"JACK server gone: {self._shutdown_reason}")
                reply = ("ok", getattr(self, "_cmd_" + cmd)(*args))
            except ValueError as exc:
                reply = ("value_error", str(exc))
            except Exception:   # noqa: BLE001 - reported to the parent
                reply = ("error", traceback.format_exc())
            conn.send(reply)

    def close(self) -> None:
        client = self.client
        if client is not None:
            client.deactivate()   # the process callback does not run after this
            client.close()
            self.client = None

    def _cmd_connect(self, src: str, dst: str) -> None:
        self.client.connect(src, dst)

    def _cmd_disconnect(self, src: str, dst: str) -> None:
        self.client.disconnect(src, dst)

    def _cmd_port_names(self, pattern: str) -> list[str]:
        return [p.name for p in self.client.get_ports(pattern)]

    def _cmd_connections(self, port: str) -> list[str]:
        return [p.name for p in self.client.get_all_connections(port)]

    def _cmd_frame_time(self) -> int:
        return self.client.frame_time

    def _cmd_play(self, at_frame: int, samples: np.ndarray) -> None:
        self._inbox.append(("play", at_frame, samples))

    def _cmd_midi(self, at_frame: int, data: bytes) -> None:
        self._inbox.append(("midi", at_frame, data))

    def _cmd_midi_many(self, batch: list[tuple[int, bytes]]) -> None:
        inbox = self._inbox
        for frame, data in batch:
            inbox.append(("midi", frame, data))

    def _cmd_unplug(self, which: str) -> None:
        flag = f"_{which}_plugged"
        if not getattr(self, flag):
            return
        setattr(self, flag, False)
        # Two cycle starts after the flag changed, no cycle uses the old port any more.
        target = self._cycle_serial + 2
        deadline = time.monotonic() + 1.0   # a stalled server runs no cycles at all
        while self._cycle_serial < target and time.monotonic() < deadline:
            time.sleep(0.001)
        getattr(self, f"_{which}").unregister()

    def _cmd_stall(self, at_frame: int, seconds: float, after_midi_frames: int | None) -> None:
        if after_midi_frames is None:
            self._stall = (int(at_frame), float(seconds))
        else:
            self._stall_after_midi = (int(at_frame), float(seconds), int(after_midi_frames))

    def _cmd_replug(self, which: str) -> None:
        flag = f"_{which}_plugged"
        if getattr(self, flag):
            return
        ports = self.client.midi_outports if which == "midi_out" else self.client.midi_inports
        setattr(self, f"_{which}", ports.register(which))
        setattr(self, flag, True)

    def _cmd_onsets(self, clear: bool) -> list[int]:
        written = self._onsets_written       # read once: the callback may add more
        read = self._onsets_read
        frames = [int(self._onsets[i % _ONSET_CAPACITY]) for i in range(read, written)]
        if clear:
            self._onsets_read = written
        return frames

    def _cmd_heard_midi(self, clear: bool) -> list[tuple[int, bytes]]:
        heard = list(self._midi_heard)       # list(deque) copies atomically under the GIL
        if clear:
            for _ in range(len(heard)):
                self._midi_heard.popleft()
        return heard

    def _cmd_recording(self, start_frame: int, n: int) -> np.ndarray:
        end = self._ring_end
        size = self._ring.size
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        if end is None or start_frame + n > end:
            raise ValueError(f"frames up to {start_frame + n} not heard yet (heard up to "
                             f"{end}); wait_for_frame({start_frame + n}) first")
        # Keep one block of margin: the callback may be overwriting the oldest one.
        if start_frame < end - size + self.blocksize:
            raise ValueError(f"frame {start_frame} is no longer in the {size}-frame recording")
        idx = (np.arange(start_frame, start_frame + n) % size)
        return self._ring[idx].copy()

    def _cmd_stats(self, reset: bool) -> dict:
        stats = dict(
            cycles=self._cycles,
            late_items=self._late_audio + self._late_midi,
            late_audio=self._late_audio,
            late_midi=self._late_midi,
            xruns=self._xruns,
            callback_errors=self._callback_errors,
            discontinuities=self._discontinuities,
            midi_write_errors=self._midi_write_errors,
            midi_unplugged_dropped=self._midi_unplugged_dropped,
            midi_unplugged=[p for p in _MIDI_PORTS if not getattr(self, f"_{p}_plugged")],
            onsets_overflowed=self._onsets_overflowed,
            max_callback_us=self._max_callback_ns / 1000.0,
            pending_audio=len(self._audio_pending) + len(self._audio_active),
            pending_midi=len(self._midi_pending),
            realtime=bool(self.client.realtime),
            blocksize=self.client.blocksize,
            rate=self.rate,
            pid=os.getpid(),
        )
        if reset:
            self._zero_counters()
        return stats
