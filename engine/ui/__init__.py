"""The session screen: the child's calm picture of whose turn it is and the therapist's strip.

- :mod:`engine.ui.state`: :class:`ScreenState`, what the engine tells the screen (plain data);
- :mod:`engine.ui.process`: :class:`ScreenProcess`, the screen in its own process (the engine's side);
- :mod:`engine.ui.screen`: :class:`SessionScreen`, the pygame drawing (in-process: tests, screenshots);
- :mod:`engine.ui.keys`: :class:`KeyHandler`, the therapist's keys as log events;
- :mod:`engine.ui.flashes`: photosensitivity checks (flashes per second, sudden area changes);
- :mod:`engine.ui.theme`: the standard and low-stimulation themes.

Importing this package does not import pygame (the engine process never
does); :class:`SessionScreen` is imported on first use.
"""

from engine.ui.keys import KeyHandler
from engine.ui.process import ScreenError, ScreenProcess
from engine.ui.state import (
    PHASES,
    THEMES,
    ObjectiveLine,
    ScreenState,
    beat_origin_on_screen_clock,
)

__all__ = ["PHASES", "THEMES", "KeyHandler", "ObjectiveLine", "ScreenError", "ScreenProcess", "ScreenState",
           "SessionScreen", "beat_origin_on_screen_clock"]


def __getattr__(name: str):
    if name == "SessionScreen":  # imports pygame: only where a screen is drawn
        from engine.ui.screen import SessionScreen

        return SessionScreen
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
