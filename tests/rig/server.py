"""A private JACK server on the dummy driver, for the test rig.

The machines that run the tests have no sound card. JACK's dummy driver is a
real sound server with no hardware: every client (PortAudio, the virtual
child) runs on its frame clock exactly as it would on a laptop.

Rules this module enforces (see DESIGN.md, "Testing without a sound card"):

- a private server name, never the default one: other engineers run their own
  servers on the same machine;
- ``JACK_DEFAULT_SERVER`` points at it while it runs, so PortAudio's JACK host
  API (which reads that variable when it opens its client) finds it;
- PortAudio is terminated before the server stops: PortAudio's JACK host API
  aborts the process at exit (pa_jack.c assertion, exit 134) if its server
  vanished under it;
- nothing is left running: ``stop()`` in ``close()``, an ``atexit`` hook for a
  run that ends early, and the kernel's parent-death signal (``setpriv
  --pdeathsig``) for a run that is killed outright.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

__all__ = ["JackServer", "jackd_path", "reinit_portaudio", "terminate_portaudio"]

_READY_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 5.0
# Both variables are read by libjack when a client opens.
_ENV_SERVER = "JACK_DEFAULT_SERVER"
_ENV_NO_START = "JACK_NO_START_SERVER"


def jackd_path() -> str | None:
    """Path of the ``jackd`` executable, or None when JACK is not installed."""
    return shutil.which("jackd")


def _sounddevice():
    """The sounddevice module if this process imported it, else None.

    Never imports it: importing sounddevice initialises PortAudio, which is
    exactly what a process that does not use it should not pay for.
    """
    return sys.modules.get("sounddevice")


def terminate_portaudio() -> int:
    """Terminate PortAudio completely if sounddevice is loaded.

    Returns how many times it had been initialised (0 when sounddevice is not
    imported), so the caller can restore that count with `reinit_portaudio`.
    Streams still open are closed by PortAudio itself.
    """
    sd = _sounddevice()
    if sd is None:
        return 0
    count = 0
    while sd._initialized > 0:
        sd._terminate()
        count += 1
    return count


def reinit_portaudio(count: int = 1) -> None:
    """Make PortAudio rescan its host APIs (``sd._terminate(); sd._initialize()``).

    PortAudio lists host APIs once, when it initialises (at ``import
    sounddevice``). A process that imported sounddevice before the JACK server
    started calls this to see the "JACK Audio Connection Kit" host API.
    Imports sounddevice if needed. ``count`` is how many initialisations to
    leave in place (sounddevice's own exit handler undoes all of them).
    """
    import sounddevice as sd

    terminate_portaudio()
    for _ in range(max(count, 1)):
        sd._initialize()


def _server_answers(name: str) -> bool:
    """True if a JACK server called ``name`` is running and accepts clients."""
    try:
        out = subprocess.run(
            ["jack_wait", "-s", name, "-c"],
            capture_output=True, text=True, timeout=_READY_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.stdout.strip() == "running"


class JackServer:
    """A private ``jackd`` on the dummy driver.

    Parameters
    ----------
    name : str, optional
        Server name; default ``f"tandem-rig-{os.getpid()}"``. Never the
        default server: other people's servers share the machine.
    rate : int
        Sample rate in Hz.
    period : int
        Frames per JACK period (the block every client processes).

    Use as a context manager, or call `start` and `close`. If a server of
    that name already answers, `start` uses it and `stop` leaves it alone.
    """

    def __init__(self, name: str | None = None, *, rate: int = 48000,
                 period: int = 128) -> None:
        if rate <= 0 or period <= 0:
            raise ValueError(f"rate and period must be positive, got {rate=}, {period=}")
        self.name = name or f"tandem-rig-{os.getpid()}"
        self.rate = int(rate)
        self.period = int(period)
        self.realtime: bool | None = None   # True: -R held; False: fell back to -S
        self.owned = False                  # True only if this object spawned jackd
        self._proc: subprocess.Popen | None = None
        self._log_dir: str | None = None
        self._log_file = None
        self._env_before: dict[str, str | None] = {}
        self._lock = threading.Lock()
        self._atexit_registered = False
        self._started = False

    # -- public ------------------------------------------------------------

    @property
    def log_path(self) -> Path | None:
        """jackd's stdout+stderr (None before `start` or if not spawned here)."""
        return Path(self._log_dir, "jackd.log") if self._log_dir else None

    @property
    def running(self) -> bool:
        """True between a successful `start` and `stop`."""
        return self._started

    def start(self) -> "JackServer":
        """Start the server (unless one of that name answers) and wait until ready.

        Raises
        ------
        RuntimeError
            jackd is not installed, or the server did not answer within 10 s
            (the message carries the tail of jackd's log).
        """
        with self._lock:
            if self.running:
                return self
            if jackd_path() is None:
                raise RuntimeError(
                    "jackd is not installed: the JACK test rig needs it "
                    "(apt-get install jackd2), or set TANDEM_SKIP_RIG=1 to skip the rig."
                )
            if not self._atexit_registered:
                atexit.register(self._at_exit)
                self._atexit_registered = True
            if not _server_answers(self.name):
                self._spawn()
            self._set_env()
            self._started = True
        return self

    def stop(self) -> None:
        """Stop the server if this object started it; restore the environment.

        PortAudio is terminated first (if sounddevice is loaded) and, once the
        server is gone, initialised again as often as it was, so sounddevice
        stays usable (and then sees the server named by the restored
        ``JACK_DEFAULT_SERVER``, if any).
        """
        self._stop(reinit=True)

    close = stop

    def __enter__(self) -> "JackServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"JackServer(name={self.name!r}, rate={self.rate}, period={self.period}, {state})"

    def log_tail(self, n_lines: int = 30) -> str:
        """The last ``n_lines`` of jackd's log ('' if there is none)."""
        path = self.log_path
        if path is None or not path.exists():
            return ""
        lines = path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-n_lines:])

    # -- internals ---------------------------------------------------------

    def _command(self, mode_flag: str) -> list[str]:
        cmd = [jackd_path(), "-n", self.name, mode_flag,
               "-d", "dummy", "-r", str(self.rate), "-p", str(self.period)]
        # The kernel sends jackd SIGTERM when the thread that spawned it dies,
        # so a test run killed with SIGKILL does not leave a server behind.
        setpriv = shutil.which("setpriv")
        if setpriv and sys.platform.startswith("linux"):
            cmd = [setpriv, "--pdeathsig", "TERM", "--"] + cmd
        return cmd

    def _spawn(self) -> None:
        if self._log_dir is None:
            self._log_dir = tempfile.mkdtemp(prefix=f"{self.name}-")
        self._log_file = open(self.log_path, "ab", buffering=0)
        env = dict(os.environ)
        env.pop(_ENV_SERVER, None)
        for mode_flag in ("-R", "-S"):
            self._log_file.write(f"### tandem rig: starting jackd with {mode_flag}\n".encode())
            self._proc = subprocess.Popen(
                self._command(mode_flag), stdin=subprocess.DEVNULL,
                stdout=self._log_file, stderr=subprocess.STDOUT, env=env,
                start_new_session=True,   # a Ctrl-C meant for pytest is handled by our stop()
            )
            self.owned = True
            if self._wait_ready():
                self.realtime = mode_flag == "-R"
                return
            self._kill_proc()
            self.owned = False
            if mode_flag == "-R":
                self._log_file.write(
                    b"### tandem rig: jackd -R (realtime) did not come up, "
                    b"falling back to -S (expect dropouts under load)\n")
        tail = self.log_tail()
        raise RuntimeError(
            f"JACK server {self.name!r} did not become ready within "
            f"{_READY_TIMEOUT_S:.0f} s. Tail of {self.log_path}:\n{tail}")

    def _wait_ready(self) -> bool:
        """Wait until the server answers, or jackd exits, or the timeout passes."""
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            # Short jack_wait slices so a jackd that died is noticed at once.
            try:
                out = subprocess.run(
                    ["jack_wait", "-s", self.name, "-w", "-t", "1"],
                    capture_output=True, text=True, timeout=_READY_TIMEOUT_S,
                )
            except subprocess.TimeoutExpired:
                continue
            if out.returncode == 0 and "available" in out.stdout:
                return self._proc.poll() is None
        return False

    def _set_env(self) -> None:
        self._env_before = {k: os.environ.get(k) for k in (_ENV_SERVER, _ENV_NO_START)}
        os.environ[_ENV_SERVER] = self.name
        # A client that cannot find our server must fail, not start a default one.
        os.environ[_ENV_NO_START] = "1"

    def _restore_env(self) -> None:
        for key, value in self._env_before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._env_before = {}

    def _kill_proc(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=_STOP_TIMEOUT_S)

    def _stop(self, *, reinit: bool) -> None:
        with self._lock:
            if not self.running:
                return
            pa_count = terminate_portaudio() if self.owned else 0
            try:
                if self.owned:
                    self._kill_proc()
                    self.owned = False
            finally:
                self._started = False
                self._restore_env()
                if self._log_file is not None:
                    self._log_file.close()
                    self._log_file = None
                if reinit and pa_count:
                    reinit_portaudio(pa_count)

    def _at_exit(self) -> None:
        # At interpreter exit: no PortAudio re-initialisation (sounddevice's
        # own exit handler may already have run).
        try:
            self._stop(reinit=False)
        except Exception:   # noqa: BLE001 - never mask the real exit status
            pass
