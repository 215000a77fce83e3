"""MIDI in and out on the engine's one clock (see DESIGN.md, "One clock").

- :mod:`~engine.midi.ports`: rtmidi ports by name part, the MIDI system by setting, silence on every way out.
- :mod:`~engine.midi.decode`: raw bytes to notes (running status, sysex, real-time bytes, garbage).
- :mod:`~engine.midi.live`: a live input: stamps, device map, feedback sounds, hot-plug.
- :mod:`~engine.midi.sender`: MIDI out through rtmidi, sent on time by a sleep-then-spin thread.
- :mod:`~engine.midi.jackmidi`: where JACK is the server, frame-exact MIDI in and out (and feedback) in the audio process.
- :mod:`~engine.midi.devicemap`, :mod:`~engine.midi.midifile`, :mod:`~engine.midi.playback`: profiles, files, songs.
"""
