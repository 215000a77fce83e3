"""The audio process's answers when there is no device, or a bad backend: one sentence, nothing left running."""

import os
import subprocess
import sys

import pytest

from engine.audio.engine import AudioEngine
from engine.errors import AudioDeviceError, ConfigError


@pytest.fixture
def no_sound_server(monkeypatch):
    # No sound card here; point JACK at a server that does not exist, so PortAudio finds nothing.
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "tandem-no-such-server")
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")


def audio_children():
    out = subprocess.run(["pgrep", "-f", "engine.audio.rtprocess"], capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


def test_no_audio_device_is_one_plain_sentence(no_sound_server):
    before = audio_children()
    eng = AudioEngine(backend="sounddevice")
    with pytest.raises(AudioDeviceError) as err:
        eng.start()
    msg = str(err.value)
    assert "cannot find the default audio device" in msg and "tandem devices" in msg
    assert "\n" not in msg
    assert audio_children() <= before  # the audio process is gone
    eng.close()  # safe after a failed start


def test_a_named_device_that_does_not_exist(no_sound_server):
    with pytest.raises(AudioDeviceError, match="'Nonexistent Pad'"):
        AudioEngine(backend="sounddevice", backend_options={"device": "Nonexistent Pad"}).start()


def test_unknown_backend_names():
    with pytest.raises(ConfigError, match="Unknown audio backend"):
        AudioEngine(backend="nope")
    with pytest.raises(AudioDeviceError, match="ModuleNotFoundError"):
        AudioEngine(backend="no_such_module:Backend").start()


def test_cli_devices_lists_nothing_without_a_server(no_sound_server):
    r = subprocess.run([sys.executable, "-m", "engine.cli", "devices"], capture_output=True, text=True,
                       env=dict(os.environ), timeout=60)
    assert r.returncode == 0 and "(none found)" in r.stdout and r.stderr == ""


def test_the_audio_process_is_used_only_where_stores_are_ordered(monkeypatch):
    """x86 keeps stores in order between processes; ARM (Apple silicon) does not, so there the callback stays
    in the control process, where the interpreter's lock orders memory (engine.audio.shared)."""
    from engine.audio.shared import audio_process_policy

    monkeypatch.delenv("TANDEM_AUDIO_PROCESS", raising=False)
    assert audio_process_policy(machine_ordered=True)[0] is True
    separate, why = audio_process_policy(machine_ordered=False)
    assert separate is False and "may reorder stores" in why
    monkeypatch.setenv("TANDEM_AUDIO_PROCESS", "in-process")
    assert audio_process_policy(machine_ordered=True) == (False, "TANDEM_AUDIO_PROCESS=in-process")
    monkeypatch.setenv("TANDEM_AUDIO_PROCESS", "separate")
    assert audio_process_policy(machine_ordered=False) == (True, "TANDEM_AUDIO_PROCESS=separate")
