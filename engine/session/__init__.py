"""The one session driver and what it is handed (DESIGN.md, "Architecture").

- :mod:`engine.session.driver`: :func:`~engine.session.driver.run_session`, the loop every session runs;
- :mod:`engine.session.parts`: how the clock runs (a device or the offline backend) and what plays into a session;
- :mod:`engine.session.activities`: what a session plays (a script, a MIDI song, free play);
- :mod:`engine.session.runner`: one script's trials on a running stream (plans, cues, scores);
- :mod:`engine.session.live`: ``tandem run``, the devices of a live session;
- :mod:`engine.session.controls`: the therapist's screen or terminal, keys and marks;
- :mod:`engine.session.terminal`: raw keys from the terminal;
- :mod:`engine.session.screenshot`: the session screen drawn off-screen for an offline session.
"""
