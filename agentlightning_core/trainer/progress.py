"""Progress bars and metric lines for a training run (rich)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)


def make_progress(console: Console | None = None) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def metrics_printer(console: Console) -> Callable[[dict[str, Any]], None]:
    """Print each metrics record as one line: ``step 3  val/reward_mean=0.512  val/n=50``."""

    def show(record: dict[str, Any]) -> None:
        parts = [f"step {record['step']}"] if "step" in record else []
        for key, value in record.items():
            if key in ("time", "step"):
                continue
            parts.append(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}")
        console.print("  ".join(parts), highlight=False)

    return show
