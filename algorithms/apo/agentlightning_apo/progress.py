"""APO's line in the trainer's rich progress display (``ctx.progress``).

The trainer owns the display (``Trainer(progress=True)``, the default) and the rollout bars that
``ctx.run_rollouts`` adds to it; APO adds one bar over its rounds whose text names the current
phase (critique and edit, scoring with pulls spent, final evaluation). Without a display —
``progress=False`` or a bare ``TrainerContext`` — this does nothing.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from agentlightning_core.algorithm import TrainerContext


class RoundProgress:
    """One bar over the rounds (plus the final evaluation), with the current phase as its text."""

    def __init__(self, ctx: TrainerContext, rounds: int) -> None:
        self.ctx = ctx
        self.rounds = rounds
        self._task: Any = None

    def __enter__(self) -> RoundProgress:
        if self.ctx.progress is not None:
            self._task = self.ctx.progress.add_task("apo", total=self.rounds + 1)
        return self

    def phase(self, completed: int, text: str) -> None:
        if self._task is not None and self.ctx.progress is not None:
            self.ctx.progress.update(self._task, completed=completed, description=f"apo: {text}")

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._task is not None and self.ctx.progress is not None and exc_type is None:
            self.ctx.progress.update(self._task, completed=self.rounds + 1, description="apo: done")
