"""Colours and motion of the session screen's two themes (plain data, no pygame).

Both themes are dark: a dark, steady background keeps the screen's overall
brightness low and lets a few large shapes carry the picture. The child's
words are near-white on that background (contrast ratio above 12:1), so they
read from across a room in both themes.

The **standard** theme gives each phase its own clear colour and lets the
turn's shape swell softly with the beat. The **low-stimulation** theme (for
children who are easily overwhelmed) keeps the same shapes and words but
takes most of the colour out, makes the shapes a little dimmer against the
background, keeps them still (only the small beat dots show the beat), and
fades between phases more slowly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["THEME_SPECS", "Theme", "desaturate", "mix"]

RGB = tuple[int, int, int]


def mix(a: RGB, b: RGB, t: float) -> RGB:
    """``a`` moved ``t`` (0..1) of the way to ``b``."""
    t = min(1.0, max(0.0, t))
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def desaturate(c: RGB, amount: float) -> RGB:
    """``c`` moved ``amount`` of the way to the grey of the same luma."""
    grey = round(0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2])
    return mix(c, (grey, grey, grey), amount)


@dataclass(frozen=True)
class Theme:
    """Colours (sRGB) and motion of one theme.

    ``swell`` is how much the turn's shape grows at each beat (a fraction
    of its size) and ``glow`` how much lighter it gets; ``fade_s`` is the
    cross-fade between two phases (≥ 0.3 s: never a sudden change).
    """

    name: str
    background: RGB
    strip: RGB
    strip_text: RGB
    strip_dim: RGB
    child_text: RGB
    message_text: RGB
    dot_off: RGB
    dot_on: RGB
    phase_colours: dict[str, RGB] = field(default_factory=dict)
    status_colours: dict[str, RGB] = field(default_factory=dict)
    entry_background: RGB = (60, 64, 80)
    confirm_background: RGB = (96, 72, 40)
    swell: float = 0.05
    glow: float = 0.10
    spin_deg_per_s: float = 6.0
    breathe: float = 0.02
    fade_s: float = 0.45


_PHASES: dict[str, RGB] = {
    "count_in": (176, 150, 236),    # soft violet: get ready
    "engine_turn": (96, 168, 236),  # calm blue: listen
    "child_turn": (244, 170, 84),   # warm orange: your turn
    "together": (104, 204, 164),    # sea green: play along
    "wait": (226, 150, 176),        # soft rose: a raised hand
    "reward": (246, 208, 104),      # soft gold: a star
    "paused": (150, 160, 182),      # grey-blue: two bars
    "device_lost": (214, 156, 128),  # sand, not alarm red: just a moment
    "done": (246, 208, 104),
}
_STATUS: dict[str, RGB] = {
    "not started": (120, 128, 146),
    "in progress": (96, 168, 236),
    "met": (104, 204, 140),
    "met this session": (104, 204, 140),
    "mastered": (246, 208, 104),
}

_STANDARD = Theme(
    name="standard",
    background=(16, 22, 38),
    strip=(30, 36, 54),
    strip_text=(228, 232, 240),
    strip_dim=(164, 172, 192),
    child_text=(244, 244, 236),
    message_text=(226, 226, 218),
    dot_off=(58, 66, 92),
    dot_on=(236, 236, 226),
    phase_colours=_PHASES,
    status_colours=_STATUS,
)

_LOW = Theme(
    name="low_stimulation",
    background=(26, 28, 32),
    strip=(38, 40, 46),
    strip_text=(222, 222, 222),
    strip_dim=(160, 162, 168),
    child_text=(226, 226, 220),
    message_text=(214, 214, 208),
    dot_off=(62, 64, 70),
    dot_on=(196, 196, 188),
    phase_colours={k: desaturate(mix(v, (26, 28, 32), 0.22), 0.7) for k, v in _PHASES.items()},
    status_colours=_STATUS,
    confirm_background=(80, 70, 56),
    swell=0.0,
    glow=0.0,
    spin_deg_per_s=0.0,
    breathe=0.0,
    fade_s=0.8,
)

THEME_SPECS: dict[str, Theme] = {t.name: t for t in (_STANDARD, _LOW)}
