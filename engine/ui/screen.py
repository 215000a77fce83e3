"""The session screen drawn with pygame: the child's picture above, the therapist's strip below.

:class:`SessionScreen` draws one :class:`~engine.ui.state.ScreenState` at a
moment onto a pygame Surface; it needs no window (only ``pygame.font``), so
tests and ``--screenshot`` use it headless, and the screen process
(:mod:`engine.ui.process`) draws with it 60 times a second.

**The child's side** shows one large shape and one kind word per phase, a
different shape *and* colour *and* word for each, so a child who reads
none of them still sees whose turn it is: violet circle with the count
("Get ready"), a blue circle sending out sound waves ("Listen"), an orange
drum ("Your turn"), the drum with sound around it ("Play along"), a raised
hand ("Wait"), a gold star ("Well done"), two bars ("Pause"), a plug ("Just a moment", with the
therapist's message), a sun ("All done"). A row of dots under the word
shows the beat: a soft light moves from dot to dot, and (standard theme)
the shape swells a little on each beat.

**Photosensitivity.** Nothing blinks: every change of light is eased
(the beat's swell is a raised cosine, the dot light slides over 15 % of a
beat), the swell is small enough that no region's brightness changes by
the 10 % that makes a flash (WCAG 2.x), and a phase change cross-fades the
whole child area over ``Theme.fade_s`` (≥ 0.45 s), so no frame changes the
brightness of more than a small part of the screen. The background never
changes with the phase. :mod:`engine.ui.flashes` measures all of this.

**Cost.** Text is rendered once and cached; the therapist's strip is drawn
only when what it shows changes; a frame is a fill, a few antialiased
polygons and a handful of blits (about 1–3 ms at 1280×720).
"""

from __future__ import annotations

import io
import math
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import pygame  # after silencing its banner
import pygame.gfxdraw

from engine.paths import write_private
from engine.ui.keys import KEY_HELP, KeyHandler, prompt_label
from engine.ui.state import ScreenState
from engine.ui.theme import THEME_SPECS, Theme, mix

__all__ = ["CHILD_WORDS", "SessionScreen"]

CHILD_WORDS = {
    "count_in": "Get ready",
    "engine_turn": "Listen",
    "child_turn": "Your turn",
    "together": "Play along",
    "wait": "Wait",
    "reward": "Well done",
    "paused": "Pause",
    "device_lost": "Just a moment",
    "done": "All done",
}
"""The one word (or two) the child sees in each phase: short, kind, never a judgement."""

BEAT_PHASES = ("count_in", "engine_turn", "child_turn", "together")  # the phases that show the beat
STRIP_FRACTION = 0.2  # of the window's height: the therapist's strip
DOT_SLIDE = 0.15  # of a beat: how long the beat light takes to move to the next dot
_TEXT_CACHE = 256  # rendered strings kept
_WHITE = (255, 255, 255)


def _smoothstep(x: float) -> float:
    x = min(1.0, max(0.0, x))
    return x * x * (3.0 - 2.0 * x)


def beat_envelope(frac: float) -> float:
    """The beat's soft swell, 0..1: 1 on the beat, easing to 0 half-way and back (no edge anywhere)."""
    c = 0.5 * (1.0 + math.cos(2.0 * math.pi * frac))
    return c * c


class SessionScreen:
    """Draws the session screen onto a Surface of ``size`` (width, height) pixels.

    Parameters
    ----------
    size : (int, int)
        The window's size; the strip takes the bottom fifth, the child's picture the rest.
    theme : str
        ``"standard"`` or ``"low_stimulation"``; a state's own ``theme`` (when not None) wins.

    Attributes
    ----------
    surface : pygame.Surface
        The last frame drawn.
    text_rects : list of (str, str, pygame.Rect)
        (area, text, rectangle) of every string in the last frame; area is ``"child"`` or ``"strip"``.
    child_rect, strip_rect : pygame.Rect
    """

    def __init__(self, size: tuple[int, int] = (1280, 720), theme: str = "standard") -> None:
        if theme not in THEME_SPECS:
            raise ValueError(f"theme must be one of {', '.join(THEME_SPECS)}, not {theme!r}.")
        if not pygame.font.get_init():
            pygame.font.init()  # fonts only: pygame.init() would also open the mixer (DESIGN.md, Known traps)
        self.theme_name = theme
        self._fonts: dict[int, pygame.font.Font] = {}
        self._texts: OrderedDict[tuple, pygame.Surface] = OrderedDict()
        self.text_rects: list[tuple[str, str, pygame.Rect]] = []
        self._phase: str | None = None
        self._theme_shown: str | None = None
        self._fade_from: pygame.Surface | None = None
        self._fade_t0 = 0.0
        self._strip_key: Any = None
        self._strip_texts: list[tuple[str, str, pygame.Rect]] = []
        self.resize(size)

    # -- geometry -------------------------------------------------------------

    def resize(self, size: tuple[int, int]) -> None:
        """Lay the screen out for a new window size (the next frame starts without a fade)."""
        w, h = int(size[0]), int(size[1])
        if w < 320 or h < 240:
            raise ValueError(f"The session screen needs at least 320×240 pixels, not {w}×{h}.")
        self.size = (w, h)
        self.surface = pygame.Surface(self.size)
        strip_h = round(h * STRIP_FRACTION)
        self.child_rect = pygame.Rect(0, 0, w, h - strip_h)
        self.strip_rect = pygame.Rect(0, h - strip_h, w, strip_h)
        self._strip = pygame.Surface(self.strip_rect.size)
        self._live = pygame.Surface(self.child_rect.size)
        self._strip_key = None
        self._phase = None
        self._fade_from = None
        px = max(12, int(strip_h / 4.0))
        while px > 12 and 5 * self._font(px).get_linesize() + 6 > strip_h:  # five lines, as large as fit
            px -= 1
        self._strip_font_px = px

    def _font(self, px: int) -> pygame.font.Font:
        font = self._fonts.get(px)
        if font is None:
            font = self._fonts[px] = pygame.font.Font(None, px)  # pygame's own font: present everywhere
        return font

    def _text(self, text: str, px: int, colour: tuple[int, int, int]) -> pygame.Surface:
        key = (text, px, colour)
        surf = self._texts.get(key)
        if surf is None:
            surf = self._texts[key] = self._font(px).render(text, True, colour)
            if len(self._texts) > _TEXT_CACHE:
                self._texts.popitem(last=False)
        else:
            self._texts.move_to_end(key)
        return surf

    def _fit(self, text: str, px: int, max_w: int) -> str:
        """``text``, cut with an ellipsis to fit ``max_w`` pixels at ``px``."""
        font = self._font(px)
        if font.size(text)[0] <= max_w:
            return text
        lo, hi = 0, len(text)
        while lo < hi:  # the longest prefix that fits with the ellipsis
            mid = (lo + hi + 1) // 2
            if font.size(text[:mid].rstrip() + "…")[0] <= max_w:
                lo = mid
            else:
                hi = mid - 1
        return text[:lo].rstrip() + "…"

    # -- a frame --------------------------------------------------------------

    def render(self, state: ScreenState, now_s: float, *, keys: KeyHandler | None = None) -> pygame.Surface:
        """Draw ``state`` as it looks at ``now_s`` (seconds on the state's beat clock); returns :attr:`surface`.

        ``keys`` (the screen's key handler) adds the note being typed or the
        stop confirmation to the strip and shows its prompt level.
        """
        theme = THEME_SPECS[state.theme or self.theme_name]
        self.text_rects = []
        if self._phase is None or theme.name != self._theme_shown:
            self._phase, self._fade_from = state.phase, None  # first frame or a new theme: nothing to fade from
        elif state.phase != self._phase:
            # Freeze what is on screen now (mid-fade too) and fade from it: never a jump.
            self._fade_from = self.surface.subsurface(self.child_rect).copy()
            self._fade_t0 = now_s
            self._phase = state.phase
        self._theme_shown = theme.name
        self._draw_child(self._live, state, now_s, theme)
        if self._fade_from is not None:
            a = _smoothstep((now_s - self._fade_t0) / theme.fade_s) if now_s >= self._fade_t0 else 1.0
            if a >= 1.0:
                self._fade_from = None
            else:
                self.surface.blit(self._fade_from, self.child_rect)
                self._live.set_alpha(round(255 * a))
        self.surface.blit(self._live, self.child_rect)
        self._live.set_alpha(None)
        self._draw_strip(state, theme, keys)
        return self.surface

    def save(self, path: str | os.PathLike) -> Path:
        """Write the last frame as a PNG (the format from the name's ending); returns the path.

        A session's picture is the child's data: it is written by
        :func:`engine.paths.write_private`, readable by the user alone from
        its first byte and atomically; missing folders are made (0700), and
        folders that exist keep their mode.

        Raises
        ------
        DataDirError
            When it cannot be written (one sentence naming the file or folder).
        """
        path = Path(path)
        image = io.BytesIO()
        pygame.image.save(self.surface, image, path.name)
        return write_private(path, image.getvalue())

    # -- the child's picture ----------------------------------------------------

    def _draw_child(self, surf: pygame.Surface, state: ScreenState, now_s: float, theme: Theme) -> None:
        surf.fill(theme.background)
        w, h = surf.get_size()
        phase = state.phase
        colour = theme.phase_colours[phase]
        beat = state.beat_at(now_s) if phase in BEAT_PHASES else None
        env = beat_envelope(beat[1]) if beat is not None else 0.0
        radius = min(0.24 * h, 0.2 * w) * (1.0 + theme.swell * env)
        colour = mix(colour, _WHITE, theme.glow * env)
        cx, cy = w / 2, 0.38 * h
        _FIGURES[phase](self, surf, state, now_s, theme, cx, cy, radius, colour)

        word = CHILD_WORDS[phase]
        px = int(0.19 * h)  # the word's letters about 1/12 of the window high: readable from 2 m
        while px > 12 and self._font(px).size(word)[0] > 0.92 * w:
            px -= 2
        self._blit_centred(surf, "child", word, px, theme.child_text, (w / 2, 0.75 * h))
        if phase == "device_lost" or (phase == "done" and state.message):
            self._message(surf, state.message, theme, 0.89 * h)
        elif beat is not None:
            self._beat_dots(surf, state, beat, theme, 0.91 * h)

    def _blit_centred(self, surf, area: str, text: str, px: int, colour, centre) -> pygame.Rect:
        img = self._text(text, px, colour)
        rect = img.get_rect(center=(round(centre[0]), round(centre[1])))
        surf.blit(img, rect)
        self.text_rects.append((area, text, rect))
        return rect

    def _message(self, surf, message: str, theme: Theme, y: float) -> None:
        """The therapist's sentence, up to two lines under the word."""
        if not message:
            return
        w, h = surf.get_size()
        px = max(14, int(0.055 * h))
        lines = _wrap(message, self._font(px), int(0.9 * w))
        if len(lines) > 2:
            lines = [lines[0], self._fit(" ".join(lines[1:]), px, int(0.9 * w))]
        step = self._font(px).get_linesize()
        top = y - step * (len(lines) - 1) / 2
        for i, line in enumerate(lines):
            self._blit_centred(surf, "child", line, px, theme.message_text, (w / 2, top + i * step))

    def _beat_dots(self, surf, state: ScreenState, beat: tuple[int, float], theme: Theme, y: float) -> None:
        w, h = surf.get_size()
        n = int(state.beats_per_bar)
        r = 0.026 * h
        step = min(4.2 * r, 0.7 * w / max(1, n))
        whole, frac = beat
        cur, prev = whole % n, (whole - 1) % n
        moved = _smoothstep(frac / DOT_SLIDE)
        for i in range(n):
            level = (moved if i == cur else 0.0) + (1.0 - moved if i == prev and n > 1 else 0.0)
            if n == 1:
                level = 1.0 - 0.6 * (1.0 - beat_envelope(frac))  # one dot: a soft swell, never off
            x = w / 2 + (i - (n - 1) / 2) * step
            ri = r * (1.3 if i == 0 else 1.0)
            _circle(surf, x, y, ri, mix(theme.dot_off, theme.dot_on, level))

    # Figures: one per phase, each centred on (cx, cy) with size r.

    def _fig_count_in(self, surf, state, now_s, theme, cx, cy, r, colour) -> None:
        _circle(surf, cx, cy, r, colour)
        if state.count_in_remaining > 0:
            self._blit_centred(surf, "child", str(int(state.count_in_remaining)), int(1.1 * r), theme.background,
                               (cx, cy + 0.04 * r))

    def _fig_listen(self, surf, state, now_s, theme, cx, cy, r, colour) -> None:
        _circle(surf, cx, cy, 0.52 * r, colour)
        for k, rr in enumerate((0.8 * r, 1.08 * r)):
            shade = mix(colour, theme.background, 0.25 * k)
            for side in (0.0, math.pi):
                _arc(surf, cx, cy, rr, 0.1 * r, side - 0.7, side + 0.7, shade)

    def _fig_drum(self, surf, state, now_s, theme, cx, cy, r, colour) -> None:
        _drum(surf, cx, cy, r, colour, theme)

    def _fig_together(self, surf, state, now_s, theme, cx, cy, r, colour) -> None:
        _drum(surf, cx, cy, 0.78 * r, colour, theme)
        for k, rr in enumerate((1.0 * r, 1.22 * r)):
            shade = mix(colour, theme.background, 0.3 + 0.25 * k)
            for side in (0.0, math.pi):
                _arc(surf, cx, cy, rr, 0.08 * r, side - 0.55, side + 0.55, shade)

    def _fig_star(self, surf, state, now_s, theme, cx, cy, r, colour) -> None:
        r *= 1.0 + theme.breathe * math.sin(2.0 * math.pi * 0.25 * now_s)  # a slow breath, 4 s
        turn = math.radians(theme.spin_deg_per_s * now_s) - math.pi / 2
        for i in range(10):  # a ring of soft lights around it, never blinking
            a = -turn + i * math.pi / 5 + math.pi / 10
            _circle(surf, cx + 1.22 * r * math.cos(a), cy + 1.22 * r * math.sin(a), 0.06 * r,
                    mix(theme.background, colour, 0.45))
        pts = []
        for i in range(10):
            rr = r if i % 2 == 0 else 0.46 * r
            a = turn + i * math.pi / 5
            pts.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
        _polygon(surf, pts, colour)

    def _fig_hand(self, surf, state, now_s, theme, cx, cy, r, colour) -> None:
        palm = pygame.Rect(0, 0, round(0.95 * r), round(0.9 * r))
        palm.midtop = (round(cx), round(cy - 0.05 * r))
        for k, (dx, length) in enumerate(((-0.36, 0.78), (-0.12, 0.95), (0.12, 0.92), (0.36, 0.76))):
            finger = pygame.Rect(0, 0, round(0.2 * r), round(length * r))
            finger.midbottom = (round(cx + dx * r), palm.top + round(0.25 * r))
            pygame.draw.rect(surf, colour, finger, border_radius=round(0.1 * r))
        thumb = [(cx - 0.42 * r, cy + 0.55 * r), (cx - 0.88 * r, cy + 0.02 * r), (cx - 0.74 * r, cy - 0.1 * r),
                 (cx - 0.3 * r, cy + 0.2 * r)]
        _polygon(surf, thumb, colour)
        pygame.draw.rect(surf, colour, palm, border_radius=round(0.3 * r))

    def _fig_paused(self, surf, state, now_s, theme, cx, cy, r, colour) -> None:
        bw, bh = 0.36 * r, 1.5 * r
        for dx in (-0.36 * r, 0.36 * r):
            rect = pygame.Rect(0, 0, round(bw), round(bh))
            rect.center = (round(cx + dx), round(cy))
            pygame.draw.rect(surf, colour, rect, border_radius=round(0.12 * r))

    def _fig_plug(self, surf, state, now_s, theme, cx, cy, r, colour) -> None:
        body = pygame.Rect(0, 0, round(0.9 * r), round(0.75 * r))
        body.center = (round(cx), round(cy))
        for dx in (-0.22 * r, 0.22 * r):  # the prongs
            prong = pygame.Rect(0, 0, round(0.14 * r), round(0.45 * r))
            prong.midbottom = (round(cx + dx), body.top + 2)
            pygame.draw.rect(surf, colour, prong, border_radius=round(0.05 * r))
        pygame.draw.rect(surf, colour, body, border_radius=round(0.18 * r))
        cable = pygame.Rect(0, 0, round(0.2 * r), round(0.55 * r))
        cable.midtop = (round(cx), body.bottom - 2)
        pygame.draw.rect(surf, mix(colour, theme.background, 0.3), cable, border_radius=round(0.08 * r))

    def _fig_sun(self, surf, state, now_s, theme, cx, cy, r, colour) -> None:
        turn = math.radians(theme.spin_deg_per_s * now_s)
        for i in range(12):
            a = turn + i * math.pi / 6
            _arc(surf, cx, cy, 0.88 * r, 0.26 * r, a - 0.09, a + 0.09, colour)
        _circle(surf, cx, cy, 0.58 * r, colour)

    # -- the therapist's strip --------------------------------------------------

    def _draw_strip(self, state: ScreenState, theme: Theme, keys: KeyHandler | None) -> None:
        mode = keys.mode if keys is not None else "keys"
        note = keys.note_text if keys is not None else ""
        prompt = prompt_label(keys.prompt if keys is not None else state.prompt, state.default_prompt)
        key = (state.script, state.trial, state.trials_total, state.last_score, state.objectives, state.devices,
               state.latency, prompt, state.phase, theme.name, mode, note)
        if key != self._strip_key:
            self._strip_key = key
            self._build_strip(state, theme, mode, note, prompt)
        self.surface.blit(self._strip, self.strip_rect)
        self.text_rects.extend(self._strip_texts)

    def _build_strip(self, state: ScreenState, theme: Theme, mode: str, note: str, prompt: str) -> None:
        surf = self._strip
        surf.fill(theme.strip)
        w, h = surf.get_size()
        px = self._strip_font_px
        line_h = self._font(px).get_linesize()
        margin = max(8, int(0.012 * w))
        width = w - 2 * margin
        top = max(2, (h - 5 * line_h) // 2)
        texts: list[tuple[str, str, pygame.Rect]] = []
        off = self.strip_rect.topleft

        def put(text: str, x: int, y: int, colour, max_w: int) -> int:
            text = self._fit(text, px, max_w)
            img = self._text(text, px, colour)
            surf.blit(img, (x, y))
            rect = img.get_rect(topleft=(x + off[0], y + off[1]))
            texts.append(("strip", text, rect))
            return img.get_width()

        trial = (f"trial {state.trial} of {state.trials_total}" if state.trials_total
                 else f"trial {state.trial}" if state.trial else "no trial yet")
        head = " · ".join(p for p in (state.script or "Session", trial, f"prompt: {prompt}",
                                      "paused" if state.phase == "paused" else "") if p)
        put(head, margin, top, theme.strip_text, width)
        put(f"last trial: {state.last_score or '–'}", margin, top + line_h, theme.strip_dim, width)

        y = top + 2 * line_h
        x = margin
        if not state.objectives:
            put("no objectives in this script", x, y, theme.strip_dim, width)
        for i, obj in enumerate(state.objectives):
            room = margin + width - x
            dot_r = max(3, px // 4)
            if room < 6 * dot_r + self._font(px).size("…")[0]:
                break
            colour = theme.status_colours.get(obj.status, theme.strip_dim)
            _circle(surf, x + dot_r, y + line_h / 2, dot_r, colour)
            x += 3 * dot_r
            figure = f" {obj.figure}" if obj.figure else ""
            text = f"{obj.name}{figure} ({obj.status})" + ("   " if i + 1 < len(state.objectives) else "")
            x += put(text, x, y, theme.strip_text, margin + width - x)

        put(" · ".join(p for p in (state.devices, state.latency) if p) or "no devices", margin, top + 3 * line_h,
            theme.strip_dim, width)

        y = top + 4 * line_h
        if mode == "note":
            pygame.draw.rect(surf, theme.entry_background, (margin // 2, y - 1, w - margin, line_h + 2),
                             border_radius=4)
            tail = "|   Enter saves · Esc cancels"
            budget = width - self._font(px).size(tail)[0] - self._font(px).size("note: ")[0]
            shown = note
            while shown and self._font(px).size(shown)[0] > budget:  # keep the end of a long note in view
                shown = shown[1:]
            put(f"note: {shown}{tail}", margin, y, theme.strip_text, width)
        elif mode == "confirm_stop":
            pygame.draw.rect(surf, theme.confirm_background, (margin // 2, y - 1, w - margin, line_h + 2),
                             border_radius=4)
            put("Stop the session?  Esc or y: stop · any other key: go on", margin, y, theme.strip_text, width)
        else:
            put(KEY_HELP, margin, y, theme.strip_dim, width)
        self._strip_texts = texts


_FIGURES = {
    "count_in": SessionScreen._fig_count_in,
    "engine_turn": SessionScreen._fig_listen,
    "child_turn": SessionScreen._fig_drum,
    "together": SessionScreen._fig_together,
    "wait": SessionScreen._fig_hand,
    "reward": SessionScreen._fig_star,
    "paused": SessionScreen._fig_paused,
    "device_lost": SessionScreen._fig_plug,
    "done": SessionScreen._fig_sun,
}


# -- drawing helpers (antialiased) ------------------------------------------------

def _circle(surf, x: float, y: float, r: float, colour) -> None:
    xi, yi, ri = round(x), round(y), max(1, round(r))
    pygame.gfxdraw.filled_circle(surf, xi, yi, ri, colour)
    pygame.gfxdraw.aacircle(surf, xi, yi, ri, colour)


def _polygon(surf, points, colour) -> None:
    pts = [(round(x), round(y)) for x, y in points]
    pygame.gfxdraw.filled_polygon(surf, pts, colour)
    pygame.gfxdraw.aapolygon(surf, pts, colour)


def _arc(surf, cx: float, cy: float, r: float, width: float, a0: float, a1: float, colour) -> None:
    """A thick arc of mid-radius ``r`` from angle ``a0`` to ``a1`` (radians, y down)."""
    n = max(4, int(abs(a1 - a0) * r / 6))
    outer = [(cx + (r + width / 2) * math.cos(a0 + (a1 - a0) * i / n),
              cy + (r + width / 2) * math.sin(a0 + (a1 - a0) * i / n)) for i in range(n + 1)]
    inner = [(cx + (r - width / 2) * math.cos(a1 - (a1 - a0) * i / n),
              cy + (r - width / 2) * math.sin(a1 - (a1 - a0) * i / n)) for i in range(n + 1)]
    _polygon(surf, outer + inner, colour)


def _ellipse(surf, cx: float, cy: float, rx: float, ry: float, colour) -> None:
    xi, yi, rxi, ryi = round(cx), round(cy), max(1, round(rx)), max(1, round(ry))
    pygame.gfxdraw.filled_ellipse(surf, xi, yi, rxi, ryi, colour)
    pygame.gfxdraw.aaellipse(surf, xi, yi, rxi, ryi, colour)


def _drum(surf, cx: float, cy: float, r: float, colour, theme: Theme) -> None:
    """A drum seen a little from above: body, rim and a lighter skin."""
    rx, ry = 0.78 * r, 0.26 * r
    top, bottom = cy - 0.42 * r, cy + 0.5 * r
    body = mix(colour, theme.background, 0.18)
    _ellipse(surf, cx, bottom, rx, ry, body)
    pygame.draw.rect(surf, body, pygame.Rect(round(cx - rx), round(top), round(2 * rx) + 1, round(bottom - top)))
    cord = [(cx - rx + k * 2 * rx / 8, (top + 0.2 * r) if k % 2 == 0 else (bottom + 0.12 * r)) for k in range(9)]
    pygame.draw.lines(surf, mix(body, theme.background, 0.35), False, cord[1:-1], max(2, round(0.045 * r)))
    _ellipse(surf, cx, top, rx, ry, colour)
    _ellipse(surf, cx, top, 0.86 * rx, 0.8 * ry, mix(colour, _WHITE, 0.35))


def _wrap(text: str, font: pygame.font.Font, max_w: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and font.size(lines[-1] + " " + word)[0] <= max_w:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines
