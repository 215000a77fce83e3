"""The therapist's keys on the session screen become log events (pure; pygame only to build events)."""

from __future__ import annotations

import os

import pytest

from engine.scoring.objectives import TRIAL_PROMPTS
from engine.ui.keys import NOTE_MAX_CHARS, KeyHandler, from_pygame

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")


def _handler() -> KeyHandler:
    ticks = iter(range(1000))
    return KeyHandler(clock=lambda: float(next(ticks)))


def _strip_t(events):
    return [{k: v for k, v in e.items() if k != "t_s"} for e in events]


def test_space_n_and_unmapped_keys_each_make_one_event():
    keys = _handler()
    keys.sync("independent", 3)
    assert _strip_t(keys.handle("space", " ")) == [{"type": "key", "key": "space", "action": "toggle"}]
    assert _strip_t(keys.handle("n", "n")) == [{"type": "key", "key": "n", "action": "next", "trial": 3}]
    assert _strip_t(keys.handle("q", "q")) == [{"type": "key", "key": "q", "action": "none"}]
    ev = keys.handle("space", " ")[0]
    assert ev["t_s"] == 3.0  # stamped with the handler's clock, one tick per event


def test_p_cycles_the_prompt_levels_and_wraps():
    keys = _handler()
    keys.sync("independent", 1)
    got = [keys.handle("p", "p")[0]["prompt"] for _ in TRIAL_PROMPTS]
    # "not recorded" is in the cycle: a level pressed by mistake can be taken back.
    assert got == ["gestural", "verbal", "model", "physical", "not recorded", "independent"]
    ev = _strip_t(keys.handle("p", "p"))
    assert ev == [{"type": "key", "key": "p", "action": "prompt", "prompt": "gestural", "trial": 1}]


def test_an_unmarked_trial_shows_not_recorded_and_p_starts_at_independent():
    keys = _handler()
    assert keys.prompt == "not recorded"  # before the engine's first state too
    keys.sync("not recorded", 1)
    assert keys.handle("p", "p")[0]["prompt"] == "independent"


def test_prompt_follows_the_engine_only_when_the_engine_changes_it():
    keys = _handler()
    keys.sync("independent", 1)
    keys.handle("p", "")  # gestural, not yet confirmed by the engine
    keys.sync("independent", 1)  # a state sent before the key arrived: must not undo it
    assert keys.prompt == "gestural"
    keys.sync("gestural", 1)
    keys.sync("independent", 2)  # a new trial back at independent: the engine's change wins
    assert keys.prompt == "independent"
    assert keys.handle("p", "")[0] == {"type": "key", "key": "p", "action": "prompt", "prompt": "gestural",
                                       "trial": 2, "t_s": pytest.approx(1.0)}


def test_note_entry_saves_on_enter_with_backspace_and_ignores_commands_while_typing():
    keys = _handler()
    keys.sync("independent", 4)
    assert _strip_t(keys.handle("m", "m")) == [{"type": "key", "key": "m", "action": "note_started", "trial": 4}]
    assert keys.mode == "note"
    typed = []
    for name, text in [("l", "l"), ("o", "o"), ("o", "o"), ("k", "k"), ("backspace", ""), ("space", " "),
                       ("n", "n"), ("p", "p"), ("return", "\r")]:
        typed += keys.handle(name, text)
    assert _strip_t(typed) == [{"type": "note", "text": "loo np", "trial": 4}]
    assert keys.mode == "keys" and keys.note_text == ""
    assert keys.prompt == "independent"  # the p typed into the note changed nothing


def test_note_escape_cancels_and_an_empty_note_is_not_saved():
    keys = _handler()
    keys.handle("m", "m")
    keys.handle("a", "a")
    assert _strip_t(keys.handle("escape", "\x1b")) == [{"type": "key", "key": "escape", "action": "note_cancelled"}]
    assert keys.mode == "keys" and keys.note_text == ""
    keys.handle("m", "m")
    assert keys.handle("return", "\r")[0]["action"] == "note_cancelled"


def test_note_is_capped():
    keys = _handler()
    keys.handle("m", "m")
    for _ in range(NOTE_MAX_CHARS + 50):
        keys.handle("x", "x")
    assert len(keys.handle("return", "")[0]["text"]) == NOTE_MAX_CHARS


@pytest.mark.parametrize("confirm", ["escape", "y"])
def test_escape_asks_and_a_second_escape_or_y_confirms(confirm):
    keys = _handler()
    assert _strip_t(keys.handle("escape", "\x1b")) == [{"type": "key", "key": "escape", "action": "stop_asked"}]
    assert keys.mode == "confirm_stop"
    assert _strip_t(keys.handle(confirm, "")) == [{"type": "stop_confirmed", "key": confirm}]
    assert keys.mode == "keys"


def test_any_other_key_cancels_the_stop_and_does_nothing_else():
    keys = _handler()
    keys.handle("escape", "")
    assert _strip_t(keys.handle("space", " ")) == [{"type": "key", "key": "space", "action": "stop_cancelled"}]
    assert keys.mode == "keys"
    assert keys.handle("space", " ")[0]["action"] == "toggle"  # back to normal


def test_closing_the_window_asks_too():
    keys = _handler()
    assert keys.handle("window_close")[0]["action"] == "stop_asked"
    assert keys.handle("n", "n")[0]["action"] == "stop_cancelled"


def test_from_pygame_reads_keydown_and_quit_events():
    import pygame

    down = pygame.event.Event(pygame.KEYDOWN, key=pygame.K_SPACE, unicode=" ", mod=0, scancode=0)
    assert from_pygame(down) == ("space", " ")
    esc = pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE, unicode="\x1b", mod=0, scancode=0)
    assert from_pygame(esc) == ("escape", "\x1b")
    assert from_pygame(pygame.event.Event(pygame.QUIT)) == ("window_close", "")
    assert from_pygame(pygame.event.Event(pygame.KEYUP, key=pygame.K_SPACE, mod=0, scancode=0)) is None
    keys = _handler()
    assert keys.handle(*from_pygame(esc))[0]["action"] == "stop_asked"
    assert keys.handle(*from_pygame(esc))[0]["type"] == "stop_confirmed"
