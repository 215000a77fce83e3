"""Simulated children, and sessions played by them on the offline backend (``tandem demo``).

- :mod:`engine.simulation.tapping`: a child tapping along causally, with adult tapping norms;
- :mod:`engine.simulation.models`: behaviour models for every kind of intervention;
- :mod:`engine.simulation.player`: either child as a part of a session (its events through the input path);
- :mod:`engine.simulation.demo`: ``tandem demo`` and one simulated session (the assessment's too).
"""
