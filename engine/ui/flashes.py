"""Photosensitivity checks on rendered frames: flashes per second and sudden area changes.

WCAG 2.x ("general flash"): a **flash** is a pair of opposing changes in
relative luminance of 10 % or more of the maximum (1.0) where the darker
state is below 0.80; a page must not flash more than **three times in any
one second** over a large enough area (about a quarter of a 10° field of
view: at a normal viewing distance, roughly a quarter of a 1024×768
screen). This module measures both on frames given as sRGB pixel arrays:

- :func:`count_transitions` finds the changes (≥ 10 %, opposing each
  other, with hysteresis) in one luminance series; :func:`max_flashes_per_s`
  counts the flashes (half the changes) in the worst one-second window.
- :class:`FlashMeter` follows the whole frame's mean luminance and each
  cell of a grid (4×4 by default, each about a 10° field at a laptop
  distance), and the share of the screen whose luminance changes by
  ≥ 10 % between two consecutive frames (a sudden change over a large
  area; a cross-fade spreads it over many frames).

Pure numpy; no pygame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["FlashMeter", "FlashReport", "changed_area", "count_transitions", "max_flashes_per_s",
           "relative_luminance"]

CHANGE = 0.10  # a change of relative luminance that counts (of the maximum, 1.0)
DARK_BELOW = 0.80  # the darker state of a flash is below this

_LINEAR = np.array([(c / 255 / 12.92) if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4
                    for c in range(256)], dtype=np.float32)


def relative_luminance(rgb: np.ndarray) -> np.ndarray:
    """Relative luminance (0..1, WCAG 2.x) of sRGB pixels, an (..., 3) uint8 array."""
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.shape[-1] != 3:
        raise ValueError(f"relative_luminance needs sRGB pixels as uint8 (..., 3), not {rgb.dtype} {rgb.shape}.")
    lin = _LINEAR[rgb]
    return lin[..., 0] * 0.2126 + lin[..., 1] * 0.7152 + lin[..., 2] * 0.0722


def count_transitions(series, *, change: float = CHANGE, dark_below: float = DARK_BELOW) -> list[int]:
    """Indices where a luminance ``series`` completes a change of at least ``change`` against the
    previous extreme, in the direction opposite to the change before (the first change may go either
    way), and where the darker side is below ``dark_below``.

    A slow drift in one direction is one change, however long; a swell that
    rises and falls by less than ``change`` is none.
    """
    s = np.asarray(series, dtype=float)
    out: list[int] = []
    if s.size == 0:
        return out
    direction = 0
    extreme = low = high = s[0]  # the run's extreme, and before the first change the range seen so far
    for i, v in enumerate(s[1:], start=1):
        if direction == 0:
            low, high = min(low, v), max(high, v)
            if v - low >= change and low < dark_below:
                direction, extreme = 1, v
                out.append(i)
            elif high - v >= change and v < dark_below:
                direction, extreme = -1, v
                out.append(i)
        elif direction > 0:
            if v > extreme:
                extreme = v
            elif extreme - v >= change:
                direction, extreme = -1, v
                if v < dark_below:
                    out.append(i)
        else:
            if v < extreme:
                extreme = v
            elif v - extreme >= change:
                darker = extreme
                direction, extreme = 1, v
                if darker < dark_below:
                    out.append(i)
    return out


def max_flashes_per_s(transitions: list[int], fps: float) -> float:
    """The most flashes (pairs of changes: half the changes) in any one-second window of frames."""
    if not transitions:
        return 0.0
    t = np.asarray(transitions)
    window = round(fps)
    ends = np.searchsorted(t, t + window, side="left")  # changes in [t_i, t_i + 1 s)
    return float(np.max(ends - np.arange(t.size))) / 2.0


def changed_area(lum_a: np.ndarray, lum_b: np.ndarray, *, change: float = CHANGE,
                 dark_below: float = DARK_BELOW) -> float:
    """The share (0..1) of pixels whose luminance changes by ``change`` or more between two frames,
    the darker of the two below ``dark_below``."""
    diff = np.abs(lum_b - lum_a) >= change
    dark = np.minimum(lum_a, lum_b) < dark_below
    return float(np.count_nonzero(diff & dark)) / diff.size


@dataclass(frozen=True)
class FlashReport:
    """What :class:`FlashMeter` found.

    ``max_flashes_per_s`` is the worst over the whole frame's mean and every
    grid cell; ``max_changed_area`` the largest share of the screen changing
    between two consecutive frames, at frame ``worst_area_frame``.
    """

    frames: int
    max_flashes_per_s: float
    worst_region: tuple[int, int] | None
    max_changed_area: float
    worst_area_frame: int

    @property
    def safe(self) -> bool:
        """At most three flashes in any second and no frame changing a quarter of the screen."""
        return self.max_flashes_per_s <= 3.0 and self.max_changed_area <= 0.25


class FlashMeter:
    """Collects frames (sRGB uint8 arrays, height × width × 3 or width × height × 3) and reports flashes.

    Parameters
    ----------
    fps : float
        The frames' rate.
    grid : (int, int)
        Cells across and down whose mean luminance is followed as well as the whole frame's.
    stride : int
        Measure every ``stride``-th pixel across and down (2: a quarter of the work; the shapes a
        flash is made of are far larger than that).
    """

    def __init__(self, *, fps: float = 60.0, grid: tuple[int, int] = (4, 4), stride: int = 1) -> None:
        self.fps = fps
        self.grid = grid
        self.stride = max(1, int(stride))
        self._means: list[float] = []
        self._cells: list[np.ndarray] = []
        self._prev: np.ndarray | None = None
        self._max_area = 0.0
        self._worst_area_frame = 0

    def add(self, rgb: np.ndarray) -> None:
        lum = relative_luminance(np.asarray(rgb)[::self.stride, ::self.stride])
        gx, gy = self.grid
        h, w = lum.shape[0] - lum.shape[0] % gy, lum.shape[1] - lum.shape[1] % gx
        cells = lum[:h, :w].reshape(gy, h // gy, gx, w // gx).mean(axis=(1, 3))
        self._means.append(float(lum.mean()))
        self._cells.append(cells)
        if self._prev is not None:
            area = changed_area(self._prev, lum)
            if area > self._max_area:
                self._max_area, self._worst_area_frame = area, len(self._means) - 1
        self._prev = lum

    def report(self) -> FlashReport:
        worst = max_flashes_per_s(count_transitions(self._means), self.fps)
        where = None
        if self._cells:
            cells = np.stack(self._cells)
            for iy in range(cells.shape[1]):
                for ix in range(cells.shape[2]):
                    f = max_flashes_per_s(count_transitions(cells[:, iy, ix]), self.fps)
                    if f > worst:
                        worst, where = f, (ix, iy)
        return FlashReport(frames=len(self._means), max_flashes_per_s=worst, worst_region=where,
                           max_changed_area=self._max_area, worst_area_frame=self._worst_area_frame)
