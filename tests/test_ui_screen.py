"""The session screen drawn headless: each phase, the strip, sizes, themes, photosensitivity."""

from __future__ import annotations

import itertools
import os

os.environ["SDL_VIDEODRIVER"] = "dummy"  # before pygame is imported: no window, no sound device
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import numpy as np
import pygame
import pytest

from engine.ui.flashes import FlashMeter
from engine.ui.keys import KeyHandler
from engine.ui.screen import CHILD_WORDS, SessionScreen
from engine.ui.state import PHASES, ObjectiveLine, ScreenState
from engine.ui.theme import THEME_SPECS

SIZES = [(1280, 720), (800, 600)]
THEMES = ["standard", "low_stimulation"]

STATE = ScreenState(
    phase="engine_turn", bpm=100.0, beat_origin_s=0.0, beats_per_bar=4, count_in_remaining=3,
    script="Echo drums", trial=3, trials_total=10,
    last_score="trial  2 at 100 BPM: latency 420 ms, notes matched 3, missed 0, rhythm error 35 ms; correct",
    objectives=(ObjectiveLine("imitates-3-beat", "3 of 4 correct", "in progress"),
                ObjectiveLine("steady-beat", "72 % on the beat", "met this session")),
    devices="MIDI pad · mic", latency="latency calibrated 2026-11-29", prompt="verbal",
    message="The drum pad was unplugged — plug it back in")

LONG = STATE.replace(
    script="A very long intervention title that a therapist typed without thinking of the screen " * 2,
    last_score="trial 12 at 104 BPM: " + ", ".join(f"score {i} {i * 17} ms" for i in range(20)),
    objectives=tuple(ObjectiveLine(f"objective-number-{i}-with-a-long-name", f"{i * 10} % of trials", "in progress")
                     for i in range(8)),
    devices="MIDI pad (Alesis SamplePad Pro, USB, port 2) · microphone (built-in, 48 kHz) " * 2,
    message="The drum pad was unplugged — plug it back in, or press space to pause the session while you look "
            "for the cable; the trials so far are kept and nothing is lost when it comes back again later.")


def _pixels(surface: pygame.Surface) -> np.ndarray:
    return pygame.surfarray.array3d(surface).astype(np.int16)  # (width, height, 3)


def _render(state: ScreenState, now_s: float = 0.3, *, size=(1280, 720), theme="standard", keys=None):
    screen = SessionScreen(size, theme)
    screen.render(state, now_s, keys=keys)
    return screen


def test_each_phase_looks_different_and_keeps_the_same_background():
    shots = {p: _render(STATE.replace(phase=p)) for p in PHASES}
    child = {p: _pixels(s.surface)[:, : s.child_rect.height] for p, s in shots.items()}
    for a, b in itertools.combinations(PHASES, 2):
        differing = np.mean(np.any(child[a] != child[b], axis=2))
        assert differing > 0.015, f"{a} and {b} look nearly the same ({differing:.1%} of pixels differ)"
    corner = {tuple(c[5, 5]) for c in child.values()}
    assert corner == {THEME_SPECS["standard"].background}  # a phase change never changes the background
    assert len(set(CHILD_WORDS.values())) == len(PHASES)
    for p, s in shots.items():
        assert ("child", CHILD_WORDS[p]) in [(a, t) for a, t, _ in s.text_rects]


def test_the_therapists_strip_shows_trial_prompt_objectives_devices_and_keys():
    keys = KeyHandler()
    keys.sync("verbal", 3)
    screen = _render(STATE, keys=keys)
    strip = " | ".join(t for area, t, _ in screen.text_rects if area == "strip")
    for part in ("Echo drums", "trial 3 of 10", "prompt: verbal", "latency 420 ms", "imitates-3-beat 3 of 4 correct",
                 "(in progress)", "steady-beat", "(met this session)", "MIDI pad · mic",
                 "latency calibrated 2026-11-29", "space start/pause", "n next trial", "p prompt", "m note",
                 "Esc stop"):
        assert part in strip
    px = _pixels(screen.surface)
    assert tuple(px[2, screen.strip_rect.top + 1]) == THEME_SPECS["standard"].strip
    assert screen.strip_rect.height >= 0.18 * 720 and screen.strip_rect.bottom == 720

    keys.handle("p", "")
    keys.handle("m", "")
    for ch in "hums":
        keys.handle(ch, ch)
    screen.render(STATE, 0.3, keys=keys)
    strip = " | ".join(t for area, t, _ in screen.text_rects if area == "strip")
    assert "prompt: model" in strip and "note: hums|" in strip and "Enter saves" in strip
    keys.handle("escape", "")
    keys.handle("escape", "")
    screen.render(STATE, 0.3, keys=keys)
    assert "Stop the session?" in " ".join(t for _, t, _ in screen.text_rects)


def test_the_strip_says_when_a_trial_is_at_the_visits_default_prompt_level():
    def head(state: ScreenState) -> str:
        keys = KeyHandler()
        keys.sync(state.prompt, state.trial)
        return next(t for area, t, _ in _render(state, keys=keys).text_rects if area == "strip")

    assert "prompt: not recorded" in head(STATE.replace(prompt="not recorded"))  # no default chosen, none given
    chosen = STATE.replace(prompt="independent", default_prompt="independent")
    assert "prompt: independent (visit default)" in head(chosen)
    assert head(chosen.replace(prompt="verbal")).endswith("prompt: verbal")  # given for this trial


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("theme", THEMES)
def test_every_text_fits_inside_its_part_of_the_window(size, theme):
    modes = [None, "note", "confirm_stop"]
    for phase, mode in itertools.product(PHASES, modes):
        keys = KeyHandler()
        if mode == "note":
            keys.handle("m", "")
            for _ in range(150):
                keys.handle("w", "w")
        elif mode == "confirm_stop":
            keys.handle("escape", "")
        screen = _render(LONG.replace(phase=phase), size=size, theme=theme, keys=keys)
        assert screen.text_rects
        for area, text, rect in screen.text_rects:
            box = screen.child_rect if area == "child" else screen.strip_rect
            assert box.contains(rect), f"{phase}/{mode}: {text!r} at {rect} outside the {area} area {box}"
        word = next(r for a, t, r in screen.text_rects if t == CHILD_WORDS[phase])
        assert word.height >= 0.09 * size[1], "the child's word must read from 2 m"
        if phase == "device_lost":
            lines = [t for a, t, _ in screen.text_rects if a == "child" and t != CHILD_WORDS[phase]]
            assert 1 <= len(lines) <= 2 and lines[0].startswith("The drum pad was unplugged")


def test_count_in_shows_the_count_and_the_beat_moves():
    three = _render(STATE.replace(phase="count_in", count_in_remaining=3))
    two = _render(STATE.replace(phase="count_in", count_in_remaining=2))
    assert ("child", "3") in [(a, t) for a, t, _ in three.text_rects]
    assert np.mean(np.any(_pixels(three.surface) != _pixels(two.surface), axis=2)) > 0.0005
    # The beat: on the beat the shape is larger than half-way through it (standard theme swells).
    spb = 60.0 / STATE.bpm
    on = _render(STATE.replace(phase="child_turn"), 10 * spb)
    off = _render(STATE.replace(phase="child_turn"), 10.5 * spb)
    bg = np.array(THEME_SPECS["standard"].background)
    h = on.child_rect.height
    area_on = np.count_nonzero(np.any(_pixels(on.surface)[:, : int(0.62 * h)] != bg, axis=2))
    area_off = np.count_nonzero(np.any(_pixels(off.surface)[:, : int(0.62 * h)] != bg, axis=2))
    assert area_on > 1.05 * area_off


def _saturation(px: np.ndarray) -> float:
    mx, mn = px.max(axis=2), px.min(axis=2)
    sat = np.where(mx > 0, (mx - mn) / np.maximum(mx, 1), 0.0)
    return float(sat.mean())


def test_low_stimulation_is_less_colourful_and_moves_less():
    sat, motion = {}, {}
    for theme in THEMES:
        sats = []
        for phase in PHASES:
            s = _render(STATE.replace(phase=phase), theme=theme)
            sats.append(_saturation(_pixels(s.surface)[:, : s.child_rect.height]))
        sat[theme] = np.mean(sats)
        screen = SessionScreen((640, 360), theme)
        frames = [_pixels(screen.render(STATE.replace(phase="child_turn"), 5 + f / 60)) for f in range(36)]
        motion[theme] = float(np.mean([np.abs(b - a).mean() for a, b in itertools.pairwise(frames)]))
    assert sat["low_stimulation"] < 0.6 * sat["standard"]
    assert 0 < motion["low_stimulation"] < 0.6 * motion["standard"]  # the beat still shows, just quieter


def test_a_phase_change_fades_over_at_least_300_ms():
    screen = SessionScreen((640, 360))
    old = _pixels(screen.render(STATE.replace(phase="paused"), 1.0)).copy()
    new_state = STATE.replace(phase="reward")
    first = _pixels(screen.render(new_state, 1.0)).copy()
    mid = _pixels(screen.render(new_state, 1.0 + 0.15)).copy()
    late = _pixels(screen.render(new_state, 1.0 + THEME_SPECS["standard"].fade_s + 0.01)).copy()
    target = _pixels(_render(new_state, 1.0 + THEME_SPECS["standard"].fade_s + 0.01, size=(640, 360)).surface)
    child = slice(0, screen.child_rect.height)
    assert np.abs(first - old)[:, child].mean() < 0.5  # the first frame after the change is still the old picture
    assert 2 < np.abs(mid - old)[:, child].mean() < np.abs(target - old)[:, child].mean() - 2  # half-way
    assert np.array_equal(late, target)
    assert THEME_SPECS["standard"].fade_s >= 0.3 and THEME_SPECS["low_stimulation"].fade_s >= 0.3


_CYCLE = ["count_in", "engine_turn", "child_turn", "reward", "together", "wait", "paused", "device_lost",
          "engine_turn", "done"]


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("bpm", [60, 120, 200])
def test_ten_seconds_at_60_fps_never_flash_or_jump(bpm, theme):
    """Every phase (1 s each, with their cross-fades), the beat at 60–200 BPM: WCAG's general flash limit."""
    screen = SessionScreen((640, 360), theme)
    meter = FlashMeter(fps=60, stride=2)
    for f in range(600):
        now = f / 60
        phase = _CYCLE[min(len(_CYCLE) - 1, int(now))]
        state = STATE.replace(phase=phase, bpm=bpm, count_in_remaining=max(0, 4 - int(now * bpm / 60)))
        meter.add(pygame.surfarray.pixels3d(screen.render(state, now)))
    report = meter.report()
    assert report.frames == 600
    assert report.max_flashes_per_s <= 3, report
    assert report.max_changed_area <= 0.25, report


def test_fast_phase_changes_are_tamed_by_the_fades_but_would_flash_without_them():
    def run(fade: bool) -> float:
        screen = SessionScreen((640, 360))
        meter = FlashMeter(fps=60, stride=2)
        for f in range(180):
            now = f / 60
            if not fade:
                screen.resize((640, 360))  # forgets the last frame: every change is a cut
            phase = ("count_in", "paused")[int(now / 0.125) % 2]  # 4 changes of picture a second, each way
            meter.add(pygame.surfarray.pixels3d(screen.render(STATE.replace(phase=phase, bpm=200), now)))
        return meter.report().max_flashes_per_s

    assert run(fade=False) > 3  # the check can fail: cut between these two pictures, it flashes
    assert run(fade=True) <= 3


def test_save_writes_a_png_of_the_window_size(tmp_path):
    screen = _render(STATE.replace(phase="child_turn"), size=(800, 600))
    path = screen.save(tmp_path / "shots" / "child.png")
    img = pygame.image.load(str(path))
    assert img.get_size() == (800, 600)
    assert np.array_equal(_pixels(img), _pixels(screen.surface))


def test_bad_states_and_sizes_are_refused_with_a_sentence():
    with pytest.raises(ValueError, match="phase must be one of"):
        ScreenState(phase="dancing")
    with pytest.raises(ValueError, match="status must be one of"):
        ObjectiveLine("x", "", "almost")
    with pytest.raises(ValueError, match="at least 320"):
        SessionScreen((100, 100))
    st = ScreenState.from_dict({**STATE.to_dict(), "from_a_newer_engine": 1})
    assert st == STATE
