"""The screen sends only the bands of a frame that changed to the window system."""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import pygame  # noqa: E402 - after the video driver is chosen

from engine.ui.process import _Bands  # noqa: E402 - after the video driver is chosen


def test_only_changed_bands_are_sent_and_runs_of_bands_are_one_rectangle():
    surf = pygame.Surface((320, 100))
    bands = _Bands()
    assert bands.changed(surf) == [pygame.Rect(0, 0, 320, 100)]  # the first frame: all of it
    assert bands.changed(surf) == []  # nothing moved
    surf.fill((200, 10, 10), pygame.Rect(100, 20, 5, 20))  # rows 20-39: bands 16-31 and 32-47
    assert bands.changed(surf) == [pygame.Rect(0, 16, 320, 32)]
    surf.fill((7, 7, 7), pygame.Rect(0, 0, 1, 1))  # row 0 and the last rows (a short last band)
    surf.fill((9, 9, 9), pygame.Rect(300, 99, 1, 1))
    assert bands.changed(surf) == [pygame.Rect(0, 0, 320, 16), pygame.Rect(0, 96, 320, 4)]
    assert bands.changed(pygame.Surface((200, 50))) == [pygame.Rect(0, 0, 200, 50)]  # a new size: all
