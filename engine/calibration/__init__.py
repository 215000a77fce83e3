"""Latency calibration: the audio round trip and the MIDI latency, measured and kept per device setup.

- :mod:`~engine.calibration.signals`: the test sounds (a sweep sequence, a pacing click), made in code;
- :mod:`~engine.calibration.roundtrip`: the round trip from a recording (pure);
- :mod:`~engine.calibration.midilatency`: MIDI stamp minus acoustic onset, or the tap-along estimate (pure);
- :mod:`~engine.calibration.profiles`: profiles per device setup in the data directory, and the
  latencies they give a running engine;
- :mod:`~engine.calibration.procedure`: running it all on a live :class:`~engine.audio.engine.AudioEngine`.

See ``docs/calibration.md``.
"""
