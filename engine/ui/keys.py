"""The therapist's keys on the session screen, as events for the session log.

A pure state machine (no pygame, no I/O): :meth:`KeyHandler.handle` takes one
key press (pygame's key name and the character it typed) and returns the
event dicts it makes. Every key press makes exactly one event, except the
characters typed into a note, which make up the note's one event.

==========  =========================================================
space       ``toggle``: start / pause / resume
``n``       ``next``: go on to the next trial
``p``       ``prompt``: the current trial's prompt level, cycling
            independent, gestural, verbal, model, physical, not recorded
            (from the visit's default; "not recorded" takes a mistake back)
``m``       start a note: type, Enter saves (a ``note`` event), Esc cancels
Esc         ``stop_asked``; then Esc or ``y`` confirms (``stop_confirmed``),
            any other key cancels (``stop_cancelled``)
==========  =========================================================

Other keys make ``{"type": "key", "key": ..., "action": "none"}`` so that the
log still shows them (a child reaching for the laptop is worth knowing).
Each event carries ``t_s``, the press time on ``time.monotonic()`` (the
engine maps it to its stream clock) and, where it concerns a trial, the
trial's number as the screen last showed it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from engine.scoring.objectives import NOT_RECORDED, TRIAL_PROMPTS

__all__ = ["KEY_HELP", "NOTE_MAX_CHARS", "KeyHandler", "from_pygame", "prompt_label"]

NOTE_MAX_CHARS = 200  # a note is a line, not a report
KEY_HELP = "space start/pause · n next trial · a next activity · p prompt · m note · Esc stop"
"""The key map as the therapist's strip shows it."""

_NAMES = {" ": "space", "\x1b": "escape", "\r": "return", "\n": "return", "\b": "backspace", "\x7f": "backspace"}


class KeyHandler:
    """Turns key presses into command events (see the module docstring).

    Attributes
    ----------
    mode : str
        ``"keys"``, ``"note"`` (typing a note) or ``"confirm_stop"`` (Esc was pressed once).
    note_text : str
        The note typed so far.
    prompt : str
        The prompt level the strip shows: the engine's (from :meth:`sync`) until ``p`` is pressed.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.mode = "keys"
        self.note_text = ""
        self.prompt = NOT_RECORDED
        self.trial = 0
        self._engine_prompt: str | None = None

    def sync(self, prompt: str, trial: int) -> None:
        """Take the engine's prompt level and trial from a new state.

        A prompt level the engine *changed* (a new trial starting at the
        visit's default) replaces the one shown; an unchanged one does not
        undo a ``p`` the engine has not confirmed yet.
        """
        if prompt != self._engine_prompt and prompt in TRIAL_PROMPTS:
            self.prompt = prompt
        self._engine_prompt = prompt
        self.trial = int(trial)

    def _event(self, key: str, action: str, **extra: Any) -> dict[str, Any]:
        return {"type": "key", "key": key, "action": action, "t_s": self.clock(), **extra}

    def handle(self, key: str, text: str = "") -> list[dict[str, Any]]:
        """One key press: ``key`` as pygame names it (``"space"``, ``"escape"``, ``"return"``,
        ``"backspace"``, ``"p"``...) and ``text`` the character it typed (``""`` for none)."""
        key = _NAMES.get(key, key).lower()
        if self.mode == "note":
            return self._note_key(key, text)
        if self.mode == "confirm_stop":
            self.mode = "keys"
            if key in ("escape", "y"):
                return [{"type": "stop_confirmed", "key": key, "t_s": self.clock()}]
            return [self._event(key, "stop_cancelled")]
        if key == "space":
            return [self._event(key, "toggle")]
        if key == "n":
            return [self._event(key, "next", trial=self.trial)]
        if key == "a":
            return [self._event(key, "next_activity")]
        if key == "p":
            i = TRIAL_PROMPTS.index(self.prompt) if self.prompt in TRIAL_PROMPTS else -1
            self.prompt = TRIAL_PROMPTS[(i + 1) % len(TRIAL_PROMPTS)]
            return [self._event(key, "prompt", prompt=self.prompt, trial=self.trial)]
        if key == "m":
            self.mode, self.note_text = "note", ""
            return [self._event(key, "note_started", trial=self.trial)]
        if key in ("escape", "window_close"):
            self.mode = "confirm_stop"
            return [self._event(key, "stop_asked")]
        return [self._event(key, "none")]

    def _note_key(self, key: str, text: str) -> list[dict[str, Any]]:
        if key in ("return", "enter", "keypad enter"):
            self.mode = "keys"
            note = self.note_text.strip()
            self.note_text = ""
            if not note:
                return [self._event(key, "note_cancelled")]
            return [{"type": "note", "text": note, "trial": self.trial, "t_s": self.clock()}]
        if key == "escape":
            self.mode, self.note_text = "keys", ""
            return [self._event(key, "note_cancelled")]
        if key == "backspace":
            self.note_text = self.note_text[:-1]
        elif text and text.isprintable() and len(self.note_text) < NOTE_MAX_CHARS:
            self.note_text += text
        return []  # typing: the note's own event says what was typed


def prompt_label(prompt: str, default: str) -> str:
    """The trial's prompt level as the therapist's strip shows it: "independent (visit default)" when it is
    the default the therapist chose at the start, else the level ("not recorded" until one is given)."""
    return f"{prompt} (visit default)" if prompt == default != NOT_RECORDED else prompt


def from_pygame(event: Any) -> tuple[str, str] | None:
    """(key name, typed text) of a pygame ``KEYDOWN`` event, ``("window_close", "")`` for ``QUIT``;
    None for any other event. Imports pygame (call it in the screen process only)."""
    import pygame  # the engine process never imports pygame (see engine.ui)

    if event.type == pygame.QUIT:
        return "window_close", ""
    if event.type != pygame.KEYDOWN:
        return None
    return pygame.key.name(event.key), getattr(event, "unicode", "") or ""
