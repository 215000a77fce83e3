"""Shared fixtures. The JACK rig fixtures start real processes only when a test asks.

- ``jack_server`` (session): a private dummy-driver jackd, PortAudio
  re-initialised to see it; stopped at the end (PortAudio terminated first).
- ``virtual_child`` (function): a started `tests.rig.child.VirtualChild` on
  that server, closed after the test.

Tests marked ``@pytest.mark.rig`` need them. Without jackd the rig fixture
fails (the set-up installs jackd; a silent skip would hide a broken set-up),
unless ``TANDEM_SKIP_RIG=1``, which skips every rig test.
"""

from __future__ import annotations

import os

import pytest

from tests.rig.server import JackServer, jackd_path, reinit_portaudio

_SKIP_RIG_ENV = "TANDEM_SKIP_RIG"


def _skip_rig() -> bool:
    return os.environ.get(_SKIP_RIG_ENV, "").strip() == "1"


def pytest_collection_modifyitems(config, items):
    if not _skip_rig():
        return
    skip = pytest.mark.skip(reason=f"{_SKIP_RIG_ENV}=1: JACK rig tests skipped")
    for item in items:
        if item.get_closest_marker("rig") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def jack_server():
    """A private JACK server (dummy driver, 48 kHz, 128-frame periods) for the session."""
    if _skip_rig():
        pytest.skip(f"{_SKIP_RIG_ENV}=1: JACK rig skipped")
    if jackd_path() is None:
        pytest.fail(
            "jackd is not installed, so the JACK test rig cannot run. Install it "
            "(apt-get install -y --no-install-recommends jackd2 libjack-jackd2-0) "
            f"or set {_SKIP_RIG_ENV}=1 to skip the rig tests.",
            pytrace=False,
        )
    server = JackServer(f"tandem-rig-{os.getpid()}-session")
    server.start()
    try:
        # PortAudio scans host APIs when it initialises; sounddevice may have
        # been imported (and PortAudio initialised) before the server existed.
        reinit_portaudio()
        yield server
    finally:
        server.stop()   # terminates PortAudio before jackd goes


@pytest.fixture
def virtual_child(jack_server):
    """A started virtual child on the session's JACK server; closed after the test."""
    from tests.rig.child import VirtualChild

    child = VirtualChild(jack_server.name)
    child.start()
    try:
        yield child
    finally:
        child.close()
