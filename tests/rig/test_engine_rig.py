"""The engine through real PortAudio streams on the JACK dummy server, checked to the frame.

The virtual child hears the engine's output and plays into its input on JACK's
frame clock; :mod:`tests.rig.measure` relates that clock to the engine's.
Asserts are on frames and counts, never on wall-clock durations.
"""

import time

import numpy as np
import pytest

from tests.rig.measure import (
    click,
    cue_offsets,
    measure_input_offsets,
    open_engine,
    schedule_cues,
    wait_until_stream_frame,
)
from tests.rig.retry import xrun_free

pytestmark = pytest.mark.rig


# The callback in an audio process of its own (x86), and in this process (where the CPU may reorder stores
# between processes, as ARM does: engine.audio.shared.audio_process_policy).
@pytest.mark.parametrize(("blocksize", "process"), [(128, "separate"), (64, "separate"), (128, "in-process")])
def test_cues_are_heard_exactly_where_they_were_scheduled(virtual_child, blocksize, process, monkeypatch):
    monkeypatch.setenv("TANDEM_AUDIO_PROCESS", process)

    def measure():
        rig = open_engine(virtual_child, blocksize=blocksize)
        try:
            eng = rig.engine
            assert eng.params.sample_rate == 48_000 and eng.params.blocksize == blocksize
            assert (eng.core is None) == (process == "separate")
            assert eng.stats()["audio_process"] == f"TANDEM_AUDIO_PROCESS={process}"
            # 120 cues, 2400 + 37·k frames apart so they fall on every offset within a block.
            start = eng.now_frame + 9600
            frames = []
            f = start
            for k in range(120):
                frames.append(f)
                f += 2400 + (37 * k) % 500
            virtual_child.heard_onsets(clear=True)
            schedule_cues(rig, click(), frames)
            wait_until_stream_frame(rig, frames[-1] + 4800)
            return cue_offsets(rig, virtual_child, frames), eng.stats()
        finally:
            rig.close()

    offsets, stats = xrun_free(measure)
    assert None not in offsets, f"unheard cues: {[i for i, o in enumerate(offsets) if o is None]}"
    # One constant path latency, the same to the sample for every cue.
    assert len(set(offsets)) == 1, f"offsets vary: {sorted(set(offsets))}; stream stats {stats}"
    assert 0 <= offsets[0] <= 2 * blocksize
    assert stats["late_sounds"] == 0 and stats["callback_errors"] == 0


def test_input_reaches_the_ring_at_a_constant_frame(virtual_child):
    def measure():
        rig = open_engine(virtual_child, blocksize=128)
        try:
            return measure_input_offsets(rig, virtual_child, impulses=12), rig.engine.stats()
        finally:
            rig.close()

    offsets, _ = xrun_free(measure)
    assert None not in offsets
    assert len(set(offsets)) == 1, offsets


def test_stop_fades_out_on_the_rig(virtual_child):
    """A long loud sound is playing when the engine stops: the child hears a fade, not a cut."""
    rig = open_engine(virtual_child, blocksize=128)
    rate = 48_000
    tone = (0.5 * np.sin(2 * np.pi * 220 * np.arange(rate * 5) / rate)).astype(np.float32)
    from engine.audio.sound import Sound

    eng = rig.engine
    start = eng.now_frame + 4800
    eng.play(Sound("tone", tone, rate), start, pan=-1.0)
    wait_until_stream_frame(rig, start + rate // 2)
    stop_frame = eng.now_frame
    rig.close()
    assert eng.backend.exit_code == 0  # the audio process closed cleanly, not killed
    rec_start = start + rig.t0
    n = stop_frame - start + 4800
    virtual_child.wait_for_frame(rec_start + n + 256)
    heard = virtual_child.recording(rec_start, n)
    assert np.abs(heard[: rate // 4]).max() > 0.4  # it was sounding
    after = np.abs(heard[stop_frame - start + 2 * 480 + 3 * 128 :])
    assert after.max() == 0.0  # silent within the fade (10 ms) and a few blocks


def test_a_rate_the_server_does_not_run_is_refused_plainly(jack_server):
    from engine.audio.engine import AudioEngine
    from engine.errors import AudioDeviceError

    eng = AudioEngine(backend="sounddevice", sample_rate=44_100)
    with pytest.raises(AudioDeviceError) as err:
        eng.start()
    assert "runs at 48000 Hz" in str(err.value) and "44100" in str(err.value)
    eng.close()


def test_a_server_that_vanishes_mid_stream(jack_server):
    """jackd dies under a running session: one sentence, the clock and recordings kept, close() is clean."""
    import os
    import time

    from engine.audio.engine import AudioEngine
    from engine.errors import AudioDeviceError
    from tests.rig.server import JackServer

    srv = JackServer(f"tandem-rig-{os.getpid()}-vanish")
    srv.start()  # the audio process inherits JACK_DEFAULT_SERVER naming this server
    eng = None
    try:
        eng = AudioEngine(backend="sounddevice", blocksize=128)
        eng.start()
        tone = (0.3 * np.sin(2 * np.pi * 330 * np.arange(48_000 * 10) / 48_000)).astype(np.float32)
        from engine.audio.sound import Sound

        eng.play(Sound("tone", tone, 48_000), eng.now_frame + 1000)
        deadline = time.monotonic() + 10
        while eng.now_frame < 48_000 // 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        played = eng.now_frame
        assert played >= 48_000 // 2
        srv.stop()  # the server goes away, like a pulled USB interface
        deadline = time.monotonic() + 10
        while not eng.failure and time.monotonic() < deadline:
            time.sleep(0.05)
        with pytest.raises(AudioDeviceError) as err:
            eng.check()
        assert "What was recorded so far is kept." in str(err.value)
        kept = eng.output_ring.read(played - 4800, 4800)  # what was played is still readable
        assert np.abs(kept).max() > 0.1
    finally:
        if eng is not None:
            eng.close()
        srv.stop()
    assert eng.now_frame >= played


def test_devices_lists_the_jack_device_and_midi_ports(virtual_child):
    """`tandem devices --json` in a fresh process sees the rig's JACK device and the child's MIDI port."""
    import json
    import os
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "engine.cli", "devices", "--json"], capture_output=True,
                       text=True, env=dict(os.environ), timeout=60)
    assert r.returncode == 0, r.stderr
    found = json.loads(r.stdout)
    jack_audio = [d for d in found["audio"] if "JACK" in d["hostapi"]]
    # PortAudio lists every JACK client with ports as a device: the server's own and the child.
    assert {"system", "virtual-child"} <= {d["name"] for d in jack_audio}
    assert all(d["default_samplerate"] == 48_000 for d in jack_audio)
    # An unknown pad gets the generic profile (feedback for every note).
    assert {"name": "virtual-child:midi_out", "api": "JACK", "profile": "Generic MIDI device"} in found["midi_inputs"]
    assert {"name": "virtual-child:midi_ear", "api": "JACK"} in found["midi_outputs"]


SESSION_SCRIPT = """
import sys, time
import numpy as np
from engine.audio.engine import AudioEngine
from engine.audio.sound import Sound

eng = AudioEngine(backend="sounddevice")
eng.start()
tone = (0.5 * np.sin(2 * np.pi * 220 * np.arange(48_000 * 30) / 48_000)).astype(np.float32)
eng.play(Sound("tone", tone, 48_000), eng.now_frame + 2400, pan=-1.0)
while eng.now_frame < 48_000:
    time.sleep(0.01)
print("sounding", flush=True)
sys.stdin.readline()  # "exit": leave without closing the engine; EOF or a kill otherwise
"""


@pytest.mark.parametrize("ending", ["kill -9", "exit without close"])
def test_a_session_that_ends_abruptly_leaves_nothing_sounding(virtual_child, tmp_path, ending):
    """The session process is killed, or exits without closing the engine: the sound fades out and stops."""
    import os
    import signal
    import subprocess
    import sys

    script = tmp_path / "session.py"
    script.write_text(SESSION_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=dict(os.environ))
    try:
        assert proc.stdout.readline().strip() == "sounding"
        outs = [p for p in virtual_child.port_names(r"PortAudio.*:out_") if p.endswith("_0")]
        assert len(outs) == 1, outs
        virtual_child.connect(outs[0], virtual_child.ear_port)
        start = virtual_child.frame_time() + 4800
        virtual_child.wait_for_frame(start + 24_000)
        if ending == "kill -9":
            proc.kill()  # SIGKILL: no handler, no clean-up in the session process
        else:
            proc.stdin.write("exit\n")
            proc.stdin.flush()
        proc.wait(timeout=10)
        virtual_child.wait_for_frame(start + 3 * 48_000)
        heard = virtual_child.recording(start, 3 * 48_000)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    loud = np.flatnonzero(np.abs(heard) > 1e-4)
    assert np.abs(heard[:24_000]).max() > 0.4  # the tone was sounding before the kill
    end = int(loud[-1])
    assert end < len(heard) - 48_000  # then silence: at least the last second is empty
    # It faded rather than stopped dead: over its last 10 ms the tone's peaks fall steadily.
    tail = np.abs(heard[end - 480 : end + 1])
    peaks = [tail[i : i + 110].max() for i in range(0, 440, 110)]  # 4 windows, one 220 Hz period each
    assert peaks == sorted(peaks, reverse=True) and peaks[-1] < 0.5 * peaks[0], peaks


@pytest.mark.parametrize("blocksize", [128, 64])
def test_cues_stay_exact_across_a_dropout(virtual_child, blocksize):
    """The audio process is frozen for 30 ms (a dropout): the clock follows the device, cues stay exact."""
    import os
    import signal
    import time

    rig = open_engine(virtual_child, blocksize=blocksize)
    try:
        eng = rig.engine
        start = eng.now_frame + 9600
        before = [start + k * 2411 for k in range(10)]
        schedule_cues(rig, click(), before)
        wait_until_stream_frame(rig, before[-1] + 2400)
        os.kill(eng.backend.pid, signal.SIGSTOP)
        time.sleep(0.03)
        os.kill(eng.backend.pid, signal.SIGCONT)
        start = eng.now_frame + 9600
        after = [start + k * 2411 for k in range(10)]
        schedule_cues(rig, click(), after)
        wait_until_stream_frame(rig, after[-1] + 4800)
        offsets = cue_offsets(rig, virtual_child, before + after)
        stats = eng.stats()
    finally:
        rig.close()
    assert stats["skipped_frames"] >= 128, stats  # the device ran on without us, and the engine saw it
    assert None not in offsets



@pytest.mark.parametrize("backend", ["tests.rig.measure:JackFrameProbe", "engine.midi.jackmidi:JackMidiBackend"])
def test_a_stalled_audio_process_keeps_the_clock_on_the_device(virtual_child, backend):
    """The audio process is stopped for 50 ms (a real dropout: JACK runs on without it).

    The stream clock must jump by the frames the device played meanwhile, so a
    cue scheduled afterwards is still heard exactly where it belongs. The JACK
    MIDI backend reads the jump off JACK's frame counter; the plain backend
    estimates it from PortAudio's stream time.
    """
    import os
    import signal

    rig = open_engine(virtual_child, blocksize=128, backend=backend)
    try:
        eng = rig.engine

        def offsets() -> list:
            start = eng.now_frame + 9600
            frames = [start + k * 2400 + 37 * k for k in range(8)]
            virtual_child.heard_onsets(clear=True)
            schedule_cues(rig, click(), frames)
            wait_until_stream_frame(rig, frames[-1] + 4800)
            return cue_offsets(rig, virtual_child, frames)

        before = offsets()
        os.kill(eng.backend.pid, signal.SIGSTOP)
        time.sleep(0.05)
        os.kill(eng.backend.pid, signal.SIGCONT)
        time.sleep(0.3)
        skipped = eng.stats()["skipped_frames"]
        after = offsets()
    finally:
        rig.close()
    assert None not in before and None not in after
    assert len(set(before)) == 1 and set(after) == set(before), (before, after)
    # 50 ms is 2400 frames: what the device played without us, counted in whole periods.
    assert skipped % 128 == 0 and 1920 <= skipped <= 48_000, skipped
