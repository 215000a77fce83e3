"""The audio process: a device stream and the engine's real-time core, alone in a process.

The parent (:class:`AudioProcess`, a Backend) starts ``python -m
engine.audio.rtprocess FD``, sends it the shared-memory segment's name and the
stream settings over a socket, and then only asks it to start, stop, report or
close. The audio process's main thread sleeps in a blocking read between
those requests, so the only Python code running there is the audio callback:
it never waits for the GIL, and the garbage collector (frozen and disabled
after start-up; the callback makes no reference cycles) never pauses it.

If the parent dies, the socket closes (and on Linux the kernel also sends
SIGTERM): the process stops the stream, which silences it, and exits.
"""

from __future__ import annotations

import atexit
import ctypes
import gc
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from dataclasses import asdict
from multiprocessing.connection import Connection

import numpy as np

from engine.audio.backends import Backend, StreamParams, make_backend
from engine.audio.core import EngineCore
from engine.audio.shared import C, Layout, SharedState
from engine.errors import AudioDeviceError, ConfigError, TandemError

__all__ = ["AudioProcess"]

_START_TIMEOUT_S = 30.0
_CALL_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 3.0
_PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_live: weakref.WeakSet[AudioProcess] = weakref.WeakSet()


def _close_all() -> None:
    for proc in list(_live):
        proc.close()


atexit.register(_close_all)


class AudioProcess(Backend):
    """Parent-side handle: runs a named backend and the engine core in a child process."""

    def __init__(self, spec: str, options: dict, *, layout: Layout, shm_name: str, core_args: dict,
                 counters: np.ndarray) -> None:
        self.name = spec
        self._config = {"spec": spec, "options": options, "layout": layout.to_dict(),
                        "shm_name": shm_name, "core_args": core_args}
        self._counters = counters
        self._proc: subprocess.Popen | None = None
        self._conn: Connection | None = None
        self._closing = False

    # -- Backend -----------------------------------------------------------------

    def open(self, process, *, sample_rate, blocksize, channels_in, channels_out) -> StreamParams:
        parent_sock, child_sock = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PROJECT_ROOT, env.get("PYTHONPATH")) if p)
        fd = child_sock.fileno()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "engine.audio.rtprocess", str(fd)],
                pass_fds=(fd,), env=env, stdin=subprocess.DEVNULL,
            )
        except OSError as exc:
            parent_sock.close()
            raise AudioDeviceError(f"Tandem could not start its audio process ({exc}).") from None
        finally:
            child_sock.close()
        self._conn = Connection(parent_sock.detach())
        _live.add(self)
        self._config.update(sample_rate=sample_rate, blocksize=blocksize,
                            channels_in=channels_in, channels_out=channels_out)
        self._conn.send(self._config)
        params = self._reply("open", timeout_s=_START_TIMEOUT_S)
        self.params = StreamParams(**params)
        return self.params

    def start(self) -> None:
        self._call("start")

    def stop(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        try:
            self._call("stop", timeout_s=_STOP_TIMEOUT_S)
        except TandemError:
            self._end_process()  # a stream that cannot stop (its device is gone) dies with its process

    def close(self) -> None:
        if self._proc is None or self._closing:
            self._counters = np.array(self._counters)  # never let a view outlive the shared memory
            return
        self._closing = True
        try:
            if self._proc.poll() is None:
                try:
                    self._call("close", timeout_s=_STOP_TIMEOUT_S)
                    self._proc.wait(timeout=_STOP_TIMEOUT_S)
                except (TandemError, subprocess.TimeoutExpired):
                    self._end_process()
        finally:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._counters = np.array(self._counters)  # a copy: the shared memory can go
            _live.discard(self)

    def _end_process(self) -> None:
        """SIGTERM (the process closes its stream), then SIGKILL if that hangs too."""
        for sig, wait_s in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
            if self._proc.poll() is not None:
                return
            self._proc.send_signal(sig)
            try:
                self._proc.wait(timeout=wait_s)
                return
            except subprocess.TimeoutExpired:
                continue

    def info(self) -> dict:
        return self._call("info")

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def exit_code(self) -> int | None:
        """The audio process's exit code once it has ended (0: a clean close), else None."""
        return None if self._proc is None else self._proc.poll()

    @property
    def failed(self) -> str | None:
        if self._counters[C.FAILED]:
            return "The audio stream stopped on its own: the device was unplugged or its server went away."
        if self._proc is not None and not self._closing and self._proc.poll() is not None:
            return f"Tandem's audio process ended unexpectedly (exit code {self._proc.returncode})."
        return None

    # -- the conversation ----------------------------------------------------------

    def _call(self, cmd: str, *args, timeout_s: float = _CALL_TIMEOUT_S):
        if self._conn is None:
            raise AudioDeviceError("The audio process is not running.")
        try:
            self._conn.send((cmd, args))
        except OSError:
            raise AudioDeviceError(self.failed or "Tandem's audio process is gone.") from None
        return self._reply(cmd, timeout_s=timeout_s)

    def _reply(self, what: str, *, timeout_s: float):
        if not self._conn.poll(timeout_s):
            raise AudioDeviceError(f"Tandem's audio process did not answer ({what}) within {timeout_s:g} s.")
        try:
            kind, payload = self._conn.recv()
        except (EOFError, OSError):
            try:
                code = self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                code = None
            raise AudioDeviceError(f"Tandem's audio process ended unexpectedly (exit code {code}).") from None
        if kind == "ok":
            return payload
        if kind == "config":
            raise ConfigError(payload)
        raise AudioDeviceError(payload)


# ---------------------------------------------------------------------- the child side


def _set_parent_death_signal() -> None:
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
        except Exception:
            pass  # the socket's EOF still ends the process


def _terminate_portaudio() -> None:
    """Close PortAudio (and so its JACK client) properly before leaving with os._exit."""
    sd = sys.modules.get("sounddevice")
    if sd is not None:
        try:
            sd._terminate()  # noqa: SLF001
        except Exception:
            pass


_KEEP: list = []


def main(fd: int) -> int:
    _set_parent_death_signal()
    conn = Connection(fd)
    backend: Backend | None = None
    core = None
    shm = None

    def fade_out() -> None:
        """Fade out whatever still sounds (at most 0.2 s: a stalled stream never gets there).

        Only when the parent cannot be pushing commands any more (it died, or it
        is closing us), since the parent is the FIFO's producer.
        """
        if core is None or backend is None or backend.failed is not None or core.state.counters is None:
            return
        counters = core.state.counters
        counters[C.FB_ENABLED] = 0
        if counters[C.ACTIVE_VOICES] == 0 and counters[C.Q_WRITE] == counters[C.Q_READ]:
            return
        core.mixer.stop_all()
        target = counters[C.FRAME] + core.mixer.fade_frames + 2 * cfg["blocksize"]
        for _ in range(100):
            if counters[C.FRAME] >= target:
                break
            time.sleep(0.002)

    def shutdown(*_):
        # The parent died (SIGTERM from the kernel, or the socket closed) or gave up on us.
        # Both can happen at once: the second must not re-enter PortAudio mid-close.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        # Whatever hangs below (a driver that never returns), the process ends in 2 s,
        # and with it the stream: the OS closes the device connection.
        threading.Timer(2.0, os._exit, args=(1,)).start()
        fade_out()
        if backend is not None:
            backend.close()  # stops the stream: nothing is left sounding
        _terminate_portaudio()
        os._exit(0)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    cfg: dict = {}
    try:
        cfg = conn.recv()
        state, shm = SharedState.attach(Layout(**cfg["layout"]), cfg["shm_name"])  # shm: keeps the mapping
        _KEEP.append(shm)  # alive until os._exit, whichever way main() returns
        core = EngineCore(state, **cfg["core_args"])
        backend = make_backend(cfg["spec"], **cfg["options"])
        backend.on_failure = core.mark_failed
        if hasattr(backend, "attach_core"):  # a backend that also feeds the engine (JACK MIDI input)
            backend.attach_core(core)
        params = backend.open(core.process, sample_rate=cfg["sample_rate"], blocksize=cfg["blocksize"],
                              channels_in=cfg["channels_in"], channels_out=cfg["channels_out"])
        conn.send(("ok", asdict(params)))
    except ConfigError as exc:
        conn.send(("config", str(exc)))
        return 1
    except TandemError as exc:
        conn.send(("device", str(exc)))
        return 1
    except EOFError:
        return 1  # the parent went away before saying anything
    except Exception as exc:  # noqa: BLE001 - reported to the parent as one sentence
        conn.send(("device", f"The audio process failed to open the stream ({type(exc).__name__}: {exc})."))
        return 1
    # From here on the callback is the only Python that runs: no collector pauses.
    gc.collect()
    gc.freeze()
    gc.disable()
    while True:
        try:
            cmd, _args = conn.recv()
        except (EOFError, OSError):
            shutdown()
        try:
            if cmd == "start":
                backend.start()
                reply = None
            elif cmd == "stop":
                backend.stop()
                reply = None
            elif cmd == "info":
                reply = backend.info() if hasattr(backend, "info") else {}
            elif cmd == "close":
                fade_out()
                backend.close()
                backend = None  # a SIGTERM from here on has nothing left to stop
                _terminate_portaudio()
                try:
                    conn.send(("ok", None))
                except OSError:
                    pass
                # Leave without interpreter teardown: the core's views of the shared
                # memory would make its finaliser complain; exiting unmaps it anyway.
                os._exit(0)
            else:
                raise ConfigError(f"unknown audio process command {cmd!r}")
            conn.send(("ok", reply))
        except ConfigError as exc:
            conn.send(("config", str(exc)))
        except TandemError as exc:
            conn.send(("device", str(exc)))
        except Exception as exc:  # noqa: BLE001
            conn.send(("device", f"The audio process failed ({type(exc).__name__}: {exc})."))


if __name__ == "__main__":
    code = main(int(sys.argv[1]))
    # Leave without interpreter teardown (as the normal close does): the core's views of
    # the shared memory would make its finaliser complain on stderr.
    _terminate_portaudio()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
