"""Progress of an APO run, shown with rich.

The trainer may already show a ``rich`` progress display (``ctx.progress``); APO then adds its
own line to it. Without one, APO opens a display of its own for the run and lends it to
``ctx.run_rollouts`` meanwhile, so the rollout bars show too.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from agentlightning_core.algorithm import TrainerContext


class RoundProgress:
    """One bar over the rounds (plus the final evaluation), with the current phase as its text."""

    def __init__(self, ctx: TrainerContext, rounds: int, *, enabled: bool = True) -> None:
        self.ctx = ctx
        self.rounds = rounds
        self.enabled = enabled
        self._own: Progress | None = None
        self._task: Any = None

    def __enter__(self) -> RoundProgress:
        if not self.enabled:
            return self
        if self.ctx.progress is None:
            self._own = Progress(
                SpinnerColumn(),
                TextColumn("[progress.description]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                transient=False,
            )
            self._own.start()
            self.ctx.progress = self._own
        assert self.ctx.progress is not None
        self._task = self.ctx.progress.add_task("apo", total=self.rounds + 1)
        return self

    def phase(self, completed: int, text: str) -> None:
        if self._task is not None and self.ctx.progress is not None:
            self.ctx.progress.update(self._task, completed=completed, description=f"apo: {text}")

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._task is not None and self.ctx.progress is not None:
            if exc_type is None:
                self.ctx.progress.update(self._task, completed=self.rounds + 1, description="apo: done")
            if self._own is None:
                self.ctx.progress.remove_task(self._task)
        if self._own is not None:
            self._own.stop()
            self.ctx.progress = None
