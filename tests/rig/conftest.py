"""Shared by every rig test: nothing of ours may be left on the JACK server after a test."""

from __future__ import annotations

import time

import pytest


@pytest.fixture(autouse=True)
def no_stream_left_behind(request):
    """After every test that used the rig, no audio process of ours may still have a stream on the server."""
    yield
    if "jack_server" not in request.fixturenames:
        return
    import jack

    server = request.getfixturevalue("jack_server")
    client = jack.Client("leak-check", no_start_server=True, servername=server.name)
    try:
        deadline = time.monotonic() + 5
        while (left := [p.name for p in client.get_ports(r"PortAudio.*:(in|out)_")]) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        client.close()
    assert not left, f"a stream was left running: {left}"
