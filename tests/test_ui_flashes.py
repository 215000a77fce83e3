"""The photosensitivity helpers on signals whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from engine.ui.flashes import (
    FlashMeter,
    changed_area,
    count_transitions,
    max_flashes_per_s,
    relative_luminance,
)

FPS = 60


def _square(hz: float, lo: float, hi: float, seconds: float = 3.0) -> np.ndarray:
    t = np.arange(int(seconds * FPS)) / FPS
    return np.where((t * hz) % 1.0 < 0.5, hi, lo)


def test_relative_luminance_of_black_white_and_grey():
    px = np.array([[[0, 0, 0], [255, 255, 255], [128, 128, 128], [255, 0, 0]]], dtype=np.uint8)
    assert relative_luminance(px)[0] == pytest.approx([0.0, 1.0, 0.2159, 0.2126], abs=1e-3)
    with pytest.raises(ValueError):
        relative_luminance(px.astype(float))


@pytest.mark.parametrize(("hz", "flashes"), [(1.0, 1.0), (2.0, 2.0), (5.0, 5.0)])
def test_a_square_wave_flashes_at_its_rate(hz, flashes):
    assert max_flashes_per_s(count_transitions(_square(hz, 0.05, 0.5)), FPS) == pytest.approx(flashes, abs=0.5)


def test_small_or_bright_swings_are_not_flashes():
    t = np.arange(3 * FPS) / FPS
    assert count_transitions(0.2 + 0.045 * np.sin(2 * np.pi * 5 * t)) == []  # 9 % swing: too small
    assert count_transitions(_square(5, 0.85, 1.0)) == []  # both states brighter than 0.8


def test_a_slow_fade_is_one_change_not_a_flash():
    ramp = np.concatenate([np.linspace(0.05, 0.6, 30), np.full(60, 0.6)])
    assert len(count_transitions(ramp)) == 1
    assert max_flashes_per_s(count_transitions(ramp), FPS) == 0.5


def test_changed_area_counts_pixels_changing_by_ten_percent():
    a = np.zeros((10, 10))
    b = a.copy()
    b[:3, :] = 0.5  # 30 % of the pixels
    b[5, :5] = 0.05  # too small a change
    assert changed_area(a, b) == pytest.approx(0.30)
    assert changed_area(np.full((4, 4), 0.9), np.full((4, 4), 1.0)) == 0.0  # both bright: below the 10 % step


def test_meter_finds_a_flashing_corner_and_a_full_screen_jump():
    dark = np.full((90, 160, 3), 20, dtype=np.uint8)
    meter = FlashMeter(fps=FPS)
    for f in range(2 * FPS):
        frame = dark.copy()
        if (f // 6) % 2:  # 5 Hz in the top-left cell only
            frame[:22, :40] = 200
        meter.add(frame)
    report = meter.report()
    assert report.max_flashes_per_s >= 4.5 and report.worst_region == (0, 0)
    assert report.max_changed_area == pytest.approx(22 * 40 / (90 * 160))
    assert not report.safe

    jump = FlashMeter(fps=FPS)
    jump.add(dark)
    jump.add(np.full_like(dark, 230))
    assert jump.report().max_changed_area == 1.0 and not jump.report().safe
