"""A full disk, a vanished folder, a kill (issue 18): one sentence naming the file or folder and what to do, exit
non-zero (never 70, an internal error), nothing already written lost, no empty files left, and a session's
``audio.wav`` whose header is right after any stop.

A full disk is made without root with real files: in the subprocess, ``RLIMIT_FSIZE`` (with ``SIGXFSZ``
ignored) makes every write past N bytes of a file fail with EFBIG, as a full disk fails with ENOSPC. A
read-only folder cannot be made here (the tests run as root, which writes into any folder); ``/dev/full`` and
a folder removed during a session stand in for the rest.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from engine.errors import DataDirError
from engine.records.folder import AUDIO_HEADER_S, SessionFolder

ROOT = Path(__file__).resolve().parents[1]
ECHO = ROOT / "content" / "songs" / "echo-drums.toml"
EXIT_ERROR = 2  # engine.cli.exits: a user's error or the machine's, said in one sentence (70: a bug)


def _limit(size: int):
    def apply() -> None:  # in the child, before exec: files it writes stop at `size` bytes
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of the signal that kills
    return apply


def tandem(*args: str, data: Path, limit: int | None = None, **kw) -> subprocess.CompletedProcess:
    """``tandem ARGS --data-dir DATA``, its files limited to ``limit`` bytes (stdout and stderr are pipes)."""
    return subprocess.run([sys.executable, "-m", "engine.cli", *args, "--data-dir", str(data)], cwd=ROOT,
                          capture_output=True, text=True, timeout=180, preexec_fn=_limit(limit) if limit is not None
                          else None, env={**os.environ, "TANDEM_CACHE": str(data.parent / "cache")}, **kw)


def _files(folder: Path) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


def _empty_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and p.stat().st_size == 0]


def failed_in_one_sentence(done: subprocess.CompletedProcess) -> str:
    """The sentence of a command that failed as it should; asserts the rest."""
    assert done.returncode == EXIT_ERROR, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr and "Exception" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tandem: "), done.stderr
    return lines[0]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """One simulated visit of child C1 and a plan, written without a limit."""
    root = tmp_path_factory.mktemp("full") / "data"
    for args in (("demo", str(ECHO), "--child", "C1", "--max-trials", "3"), ("plan", "new", "C1")):
        done = tandem(*args, data=root)
        assert done.returncode == 0, done.stderr
    return root


# --- commands on a full disk -------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [0, 300, 6000, 150_000])
def test_a_demo_on_a_full_disk_is_one_sentence_and_leaves_whole_files(tmp_path, limit):
    data = tmp_path / "data"
    done = tandem("demo", "--child", "C1", "--max-trials", "2", data=data, limit=limit)
    sentence = failed_in_one_sentence(done)  # before: soundfile tracebacks and "internal error", exit 70
    assert "sessions/C1/" in sentence and "Free some space" in sentence  # EFBIG, said as a full disk is
    assert _empty_files(tmp_path) == []  # before: a 0-byte events.jsonl (listed as unreadable for good)
    for visit in (data / "sessions" / "C1").iterdir():
        audio = visit / "audio.wav"
        if audio.exists():  # whatever was written is readable, and its header says how much
            with wave.open(str(audio)) as w:
                frames, width = w.getnframes(), w.getnchannels() * w.getsampwidth()
            assert 0 <= audio.stat().st_size - 44 - frames * width < width
        log = visit / "events.jsonl"
        if log.exists():
            lines = log.read_bytes().split(b"\n")
            assert all(json.loads(x) for x in lines[:-1])  # only the last, unfinished line can be cut


def test_a_plan_on_a_full_disk_is_never_left_empty(tmp_path):
    data = tmp_path / "data"
    for limit in (0, 500):
        sentence = failed_in_one_sentence(tandem("plan", "new", "C9", data=data, limit=limit))
        assert "C9.toml" in sentence and "disk is not full" in sentence
        assert not (data / "plans" / "C9.toml").exists() and _empty_files(tmp_path) == []
    done = tandem("plan", "new", "C9", data=data)
    assert done.returncode == 0, done.stderr
    assert "[[goals]]" in (data / "plans" / "C9.toml").read_text()


def test_a_plan_killed_while_written_is_never_left_empty(tmp_path):
    data = tmp_path / "data"
    # Killed just after the file is made, before a byte is in it.
    killed = ("import os, signal, sys; from pathlib import Path\n"
              "os.fchmod = lambda fd, mode: os.kill(os.getpid(), signal.SIGKILL)\n"
              "from engine.records.plan import new_plan\n"
              "new_plan(Path(sys.argv[1]), 'C9')\n")
    done = subprocess.run([sys.executable, "-c", killed, str(data)], cwd=ROOT, timeout=60)
    assert done.returncode == -signal.SIGKILL
    assert not (data / "plans" / "C9.toml").exists()  # before: a 0-byte plan, after which `plan new` refused
    done = tandem("plan", "new", "C9", data=data)
    assert done.returncode == 0, done.stderr
    assert "[[goals]]" in (data / "plans" / "C9.toml").read_text()


@pytest.mark.parametrize("limit", [
    0, 100, 3000])
def test_a_report_on_a_full_disk_keeps_what_was_there(data, tmp_path, limit):
    out = tmp_path / "report"
    assert tandem("report", "C1", "--include-simulated", "--format", "html,csv,json", "--out", str(out),
                  data=data).returncode == 0
    kept = _files(data)
    before = _files(out)
    sentence = failed_in_one_sentence(tandem("report", "C1", "--include-simulated", "--format", "html,csv,json",
                                             "--out", str(out), data=data, limit=limit))
    assert str(out) in sentence
    assert _empty_files(tmp_path) == [] and _empty_files(data) == []  # before: 0-byte reports
    assert _files(data) == kept  # the sessions and the plan, untouched
    assert set(_files(out)) == set(before)  # every file is there, the old one or a new one whole
    assert (out / "report.html").read_text().rstrip().endswith("</html>")


def test_a_homepack_on_a_full_disk_leaves_no_half_pack(data, tmp_path):
    kept = _files(data)
    for limit in (0, 20_000):
        sentence = failed_in_one_sentence(tandem("homepack", "C1", "--minutes", "0.05", "--include-simulated",
                                                 data=data, limit=limit))
        assert "homepacks" in sentence
        packs = data / "homepacks" / "C1"
        assert not packs.exists() or list(packs.iterdir()) == []  # the half-made pack is gone, not left to "-2"
        assert _files(data) == kept and _empty_files(data) == []


def test_listing_sessions_on_a_full_disk_still_lists_and_leaves_no_empty_index(data):
    (data / "index.sqlite").unlink(missing_ok=True)
    done = tandem("sessions", data=data, limit=0)
    assert done.returncode == 0, done.stderr
    assert "Echo drums" in done.stdout
    assert _empty_files(data) == []


# --- the audio file ---------------------------------------------------------------------------------------------


_WRITER = r"""
import sys, time
import numpy as np
from pathlib import Path
from engine.records.folder import SessionFolder
folder = SessionFolder(Path(sys.argv[1]), child_id="C1", name="killed")
folder.write_header({"kind": "demo", "child_id": "C1"})
folder.open_audio(sample_rate=48000, channels=2)
written = 0
for k in range(int(sys.argv[2])):
    block = np.full((int(sys.argv[3]), 2), 0.25 if k % 2 else -0.25, dtype=np.float32)
    folder.write_audio(block)
    written += len(block)
print(folder.path, written, flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("blocks, frames", [(7, 24_000), (11, 6_000), (1, 100)])
def test_audio_killed_mid_session_has_a_header_that_says_what_it_holds(tmp_path, blocks, frames):
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), str(blocks), str(frames)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        folder, written = proc.stdout.readline().split()
    finally:
        proc.kill()  # SIGKILL: no close, no final header
        proc.wait()
    audio = Path(folder) / "audio.wav"
    with wave.open(str(audio)) as w:  # strict: the header's sizes, not the file's
        held = w.getnframes()
        samples = np.frombuffer(w.readframes(held), dtype=np.int16)
    assert int(written) - AUDIO_HEADER_S * 48_000 <= held <= int(written)  # before: 0 frames
    assert len(samples) == 2 * held


def test_audio_of_a_demo_killed_in_real_time_is_readable(tmp_path):
    data = tmp_path / "data"
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "demo", "--child", "C1", "--max-trials", "4",
                             "--pace", "realtime", "--data-dir", str(data)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, "TANDEM_CACHE": str(tmp_path / "cache")})
    try:
        for _ in range(600):  # until two seconds of audio are on disk (or the demo ended)
            found = list(data.glob("sessions/C1/*/audio.wav"))
            if (found and found[0].stat().st_size > 2 * 48_000 * 4) or proc.poll() is not None:
                break
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait()
    (audio,) = data.glob("sessions/C1/*/audio.wav")
    size = audio.stat().st_size
    with wave.open(str(audio)) as w:
        held, width, rate = w.getnframes(), w.getnchannels() * w.getsampwidth(), w.getframerate()
    assert held > 0 and (size - 44) // width - held <= AUDIO_HEADER_S * rate + 48_000  # at most a chunk behind


def test_a_full_disk_under_the_audio_is_one_sentence_and_no_traceback(tmp_path, capfd):
    folder = SessionFolder(tmp_path, child_id="C1", name="full")
    folder.write_header({"kind": "demo", "child_id": "C1"})
    folder.open_audio(sample_rate=8000, channels=1)
    folder.write_audio(np.zeros(4000, dtype=np.float32))
    folder._audio_sink.file = open("/dev/full", "r+b", buffering=0)  # noqa: SIM115 - the disk fills up now
    with pytest.raises(DataDirError, match=r"^The disk is full while writing .*audio\.wav; everything .* is kept "
                                           r"there\. Free some space"):
        folder.write_audio(np.zeros(4000, dtype=np.float32))
    folder.write_audio(np.zeros(10, dtype=np.float32))  # said once; the session ends with what it has
    folder.close()
    assert capfd.readouterr().err == ""  # before: "Exception ignored from cffi callback" tracebacks
    with wave.open(str(folder.audio_path)) as w:
        assert w.getnframes() == 4000


def test_the_sound_librarys_own_errors_become_one_sentence(tmp_path):
    from engine.records.folder import _audio_error

    err = _audio_error(tmp_path / "audio.wav", RuntimeError("Error : unspecified internal error."))
    assert isinstance(err, DataDirError) and str(err).startswith(f"Tandem could not write {tmp_path}/audio.wav (")
    assert "the sound library said" in str(err)
    assert str(_audio_error(tmp_path / "a.wav", OSError(28, "No space left on device"))).startswith("The disk is full")


# --- a folder removed during a session ---------------------------------------------------------------------------


def test_a_session_folder_removed_mid_session_is_said_plainly(tmp_path):
    folder = SessionFolder(tmp_path, child_id="C1", name="gone")
    folder.write_header({"kind": "demo", "child_id": "C1"})
    folder.open_audio(sample_rate=8000, channels=1)
    folder.write_audio(np.zeros(4000, dtype=np.float32))
    folder.flush()
    shutil.rmtree(folder.path)
    with pytest.raises(DataDirError, match=rf"^The folder {re.escape(str(folder.path))} was removed or moved while "):
        folder.close()  # before: "everything recorded up to now is kept" (it was not)


def test_a_data_folder_removed_during_a_demo_is_one_sentence(tmp_path):
    data = tmp_path / "data"
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "demo", "--child", "C1", "--max-trials", "1",
                             "--tempo", "240", "--pace", "realtime", "--data-dir", str(data)], cwd=ROOT,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TANDEM_CACHE": str(tmp_path / "cache")})
    for _ in range(600):
        if list(data.glob("sessions/C1/*/audio.wav")) or proc.poll() is not None:
            break
        time.sleep(0.05)
    shutil.rmtree(data)
    _, err = proc.communicate(timeout=120)
    done = subprocess.CompletedProcess(proc.args, proc.returncode, "", err)
    sentence = failed_in_one_sentence(done)  # before: an internal error (exit 70) reading the vanished log
    assert "was removed" in sentence and "sessions/C1/" in sentence
