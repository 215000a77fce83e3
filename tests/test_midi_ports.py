"""MIDI ports without a MIDI system: choosing the API, finding ports, plain errors, note tracking, panic."""

from __future__ import annotations

import pytest
import rtmidi

from engine.errors import TandemError
from engine.midi import ports
from engine.midi.ports import InputPort, MidiDeviceError, OutputPort, find_port, midi_api

ALSA, JACK = 2, 3


@pytest.fixture
def clean_env(monkeypatch):
    monkeypatch.delenv("TANDEM_MIDI_API", raising=False)
    monkeypatch.delenv("MIDO_BACKEND", raising=False)
    return monkeypatch


def one_plain_sentence(text: str) -> None:
    assert "\n" not in text and "Traceback" not in text
    assert "RtMidi" not in text and "MidiIn" not in text and "MidiOut" not in text
    assert text[0].isupper() and text.endswith((".", "?"))
    assert not text.endswith(("?.", "..", ".?"))


# ---------------------------------------------------------------- choosing the MIDI system


@pytest.mark.parametrize("setting, api", [("alsa", ALSA), ("JACK", JACK), (" jack ", JACK),
                                          ("linux_alsa", ALSA), ("UNIX_JACK", JACK)])
def test_the_setting_names_the_api(clean_env, setting, api):
    assert midi_api(setting) == api


def test_the_setting_beats_the_environment_which_beats_mido_backend(clean_env):
    clean_env.setenv("TANDEM_MIDI_API", "alsa")
    clean_env.setenv("MIDO_BACKEND", "mido.backends.rtmidi/UNIX_JACK")
    assert midi_api("jack") == JACK
    assert midi_api() == ALSA
    clean_env.delenv("TANDEM_MIDI_API")
    assert midi_api() == JACK
    clean_env.setenv("MIDO_BACKEND", "mido.backends.rtmidi/LINUX_ALSA")
    assert midi_api() == ALSA


def test_without_a_setting_linux_uses_jack_only_when_a_server_runs(clean_env):
    clean_env.setattr(ports.sys, "platform", "linux")
    clean_env.setenv("MIDO_BACKEND", "mido.backends.rtmidi")  # no API named: the platform's own
    clean_env.setattr(ports, "_jack_running", lambda: False)
    assert midi_api() == ALSA
    clean_env.setattr(ports, "_jack_running", lambda: True)
    assert midi_api() == JACK


@pytest.mark.parametrize("where", ["setting", "TANDEM_MIDI_API", "MIDO_BACKEND"])
def test_an_unknown_midi_system_is_one_plain_sentence(clean_env, where):
    if where == "setting":
        call = lambda: midi_api("pipewire")  # noqa: E731
    elif where == "TANDEM_MIDI_API":
        clean_env.setenv("TANDEM_MIDI_API", "pipewire")
        call = midi_api
    else:
        clean_env.setenv("MIDO_BACKEND", "mido.backends.rtmidi/PIPEWIRE")
        call = midi_api
    with pytest.raises(MidiDeviceError) as info:
        call()
    text = str(info.value)
    one_plain_sentence(text)
    assert "pipewire" in text.lower() and "alsa" in text and "jack" in text
    assert isinstance(info.value, TandemError) and isinstance(info.value, OSError)


def test_a_system_this_rtmidi_lacks_is_refused(clean_env):
    clean_env.setattr(rtmidi, "get_compiled_api", lambda: [ALSA, JACK])
    with pytest.raises(MidiDeviceError, match="CoreMIDI") as info:
        midi_api("coremidi")
    one_plain_sentence(str(info.value))


# ---------------------------------------------------------------- finding a port


NAMES = ["Midi Through:Midi Through Port-0 14:0", "TD-17:TD-17 MIDI 1 20:0", "Pad", "Pad 2"]


def test_a_unique_part_of_the_name_finds_the_port_case_insensitively():
    assert find_port(NAMES, "td-17") == 1
    assert find_port(NAMES, "  THROUGH ") == 0


def test_an_exact_name_beats_partial_matches():
    assert find_port(NAMES, "pad") == 2  # "Pad 2" contains "pad" too
    assert find_port(NAMES, "PAD 2") == 3


def test_no_match_names_what_is_connected():
    with pytest.raises(MidiDeviceError) as info:
        find_port(NAMES, "Roland", kind="output")
    text = str(info.value)
    one_plain_sentence(text)
    assert "output" in text and "'Roland'" in text
    assert all(repr(n) in text for n in NAMES)
    with pytest.raises(MidiDeviceError, match="connected: none"):
        find_port([], "Roland")


def test_several_matches_are_named():
    names = ["USB Keyboard A", "USB Keyboard B", "Pad"]
    with pytest.raises(MidiDeviceError) as info:
        find_port(names, "keyboard")
    text = str(info.value)
    one_plain_sentence(text)
    assert "'USB Keyboard A'" in text and "'USB Keyboard B'" in text and "'Pad'" not in text


def test_an_empty_name_part_is_refused():
    with pytest.raises(MidiDeviceError, match="name"):
        find_port(NAMES, "  ")


# ---------------------------------------------------------------- opening where there is no MIDI system


@pytest.mark.parametrize("cls", [InputPort, OutputPort])
def test_opening_through_alsa_without_a_sequencer_is_one_plain_sentence(cls, capfd):
    port = cls("TD-17", api=ALSA)
    with pytest.raises(MidiDeviceError) as info:
        port.open()
    text = str(info.value)
    one_plain_sentence(text)
    assert "ALSA" in text
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert not port.is_open and not port.present()
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # rtmidi/ALSA noise kept off the terminal


# ---------------------------------------------------------------- input stamping


def test_an_input_message_is_stamped_and_queued_as_bytes():
    port = InputPort("pad", api=ALSA)
    before = ports.time.monotonic_ns()
    port._on_message(([0x99, 38, 100], 0.001))
    after = ports.time.monotonic_ns()
    arrival_ns, data = port.messages.get_nowait()
    assert data == bytes([0x99, 38, 100]) and before <= arrival_ns <= after
    assert port.received == 1


class FakeClient:
    """Stands in for an rtmidi MidiIn/MidiOut."""

    def __init__(self, ports_listed=(), fail_after: int | None = None):
        self.sent: list[list[int]] = []
        self.ports_listed = list(ports_listed)
        self.fail_after = fail_after
        self.closed = 0
        self.deleted = 0
        self.callback_cancelled = 0

    def send_message(self, msg):
        if self.fail_after is not None and len(self.sent) >= self.fail_after:
            raise SystemError("device gone")
        self.sent.append(list(msg))

    def get_ports(self):
        return list(self.ports_listed)

    def close_port(self):
        self.closed += 1

    def delete(self):
        self.deleted += 1

    def cancel_callback(self):
        self.callback_cancelled += 1


def test_input_present_and_close_twice():
    port = InputPort("td-17", api=ALSA)
    client = FakeClient(["TD-17 MIDI 1"])
    port._client, port.name = client, "TD-17 MIDI 1"
    assert port.is_open and port.present()
    client.ports_listed = []
    assert not port.present()
    port.close()
    port.close()
    assert not port.is_open and client.closed == 1 and client.deleted == 1 and client.callback_cancelled == 1


# ---------------------------------------------------------------- output: note tracking and panic


def open_output(client: FakeClient) -> OutputPort:
    port = OutputPort("synth", api=ALSA)  # api given: no probe; ALSA: close() does not wait for JACK
    port._client, port.name = client, "Synth"
    return port


def all_off() -> list[list[int]]:
    msgs = []
    for ch in range(16):
        msgs += [[0xB0 + ch, 64, 0], [0xB0 + ch, 123, 0], [0xB0 + ch, 120, 0]]
    return msgs


def test_output_tracks_which_notes_are_on():
    port = open_output(FakeClient())
    assert port.send([0x90, 60, 100]) and port.send(bytes([0x93, 64, 90])) and port.send([0x99, 38, 127])
    assert port.notes_on() == {(0, 60), (3, 64), (9, 38)}
    port.send([0x93, 64, 0])  # velocity 0: off
    port.send([0x89, 38, 64])  # note-off
    port.send([0xC0, 5])  # a program change is not a note
    port.send([0xB0, 123, 0])
    assert port.notes_on() == {(0, 60)}
    assert port.sent == 7 and port.send_errors == 0


def test_panic_turns_off_each_note_then_everything_on_every_channel():
    client = FakeClient()
    port = open_output(client)
    for msg in ([0x90, 60, 100], [0x92, 40, 1], [0x90, 62, 100], [0x90, 62, 0]):
        port.send(msg)
    client.sent.clear()
    port.panic()
    assert client.sent == [[0x80, 60, 0], [0x82, 40, 0]] + all_off()
    assert port.notes_on() == set()


def test_close_silences_then_closes_and_is_safe_twice():
    client = FakeClient()
    port = open_output(client)
    port.send([0x95, 70, 80])
    client.sent.clear()
    port.close()
    port.close()
    assert client.sent == [[0x85, 70, 0]] + all_off()  # once: the second close sends nothing
    assert client.closed == 1 and client.deleted == 1 and not port.is_open


def test_a_with_block_silences_on_an_exception():
    client = FakeClient()
    port = open_output(client)
    with pytest.raises(KeyboardInterrupt), port:
        port.send([0x90, 48, 100])
        raise KeyboardInterrupt
    assert client.sent[1] == [0x80, 48, 0] and client.sent[2:] == all_off()
    assert not port.is_open


def test_send_on_a_closed_port_fails_and_is_counted():
    port = open_output(FakeClient())
    port.close()
    assert port.send([0x90, 60, 100]) is False
    assert port.send([0x80, 60, 0]) is False
    assert port.send_errors == 2 and port.sent == 0 and port.notes_on() == set()


def test_a_device_that_refuses_a_message_is_counted_not_raised():
    client = FakeClient(fail_after=1)
    port = open_output(client)
    assert port.send([0x90, 60, 100]) is True
    assert port.send([0x90, 61, 100]) is False
    assert port.notes_on() == {(0, 60)}  # the refused note is not on
    assert port.sent == 1 and port.send_errors == 1
    port.panic()  # stops at the first refusal, counts it, forgets the notes
    assert port.send_errors == 2 and port.notes_on() == set()
