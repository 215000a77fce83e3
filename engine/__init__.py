"""Tandem: a real-time music-intervention engine for music therapists."""

__version__ = "0.1.0"
