"""The session screen drawn off-screen during an offline session, saved once as a PNG.

An offline stream has no deadline, so the screen is drawn in this process
(:class:`engine.ui.screen.SessionScreen`), at the first step at which the
child plays (the same moment ``tandem run --screenshot`` takes its picture),
or at the session's end if the child never did.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.interventions.script import Script
from engine.scoring.objectives import Objective
from engine.session.controls import SCREENSHOT_PHASES, SessionUI
from engine.session.parts import Context, Part
from engine.ui.state import ScreenState

__all__ = ["OfflineScreenshot"]


class OfflineScreenshot(Part):
    """Saves a picture of the session screen to ``path`` (see the module docstring); ``summary()`` says
    where and in which phase (``{"screenshot": {"path", "phase"}}``)."""

    def __init__(self, path: Path, script: Script, plan_objectives: Sequence[Objective] = ()) -> None:
        self.path = Path(path)
        self.script = script
        self.plan_objectives = tuple(plan_objectives)
        self.ui: SessionUI | None = None
        self.saved: dict | None = None
        self._runner: Any = None

    def start(self, ctx: Context) -> None:
        self.ui = SessionUI(engine=ctx.engine, write=ctx.write, echo=lambda line: None, script=self.script,
                            devices="simulated child", latency="offline stream: no device latency",
                            plan_objectives=self.plan_objectives)

    def after_step(self, runner: Any) -> None:
        self._runner = runner
        if self.saved is None and runner is not None:
            state = self.ui.state(runner)
            if state.phase in SCREENSHOT_PHASES:
                self._save(state)

    def stop(self) -> None:
        if self.saved is None and self.ui is not None and self._runner is not None:
            self._save(self.ui.state(self._runner))

    def _save(self, state: ScreenState) -> None:
        from engine.ui.screen import SessionScreen  # pygame: loaded only when a picture is asked for

        screen = SessionScreen()
        screen.render(state, time.monotonic())
        screen.save(self.path)  # 0600 from the first byte; missing folders 0700, existing ones as they are
        self.saved = {"path": str(self.path), "phase": state.phase}

    def summary(self) -> dict[str, Any]:
        return {"screenshot": self.saved} if self.saved is not None else {}
