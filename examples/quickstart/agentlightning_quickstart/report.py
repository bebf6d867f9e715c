"""What the demo shows at the end: the before/after table and the reward-curve PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


def val_points(metrics: list[dict[str, Any]]) -> list[tuple[int, float]]:
    return [(int(m["step"]), float(m["val/accuracy"])) for m in metrics if "val/accuracy" in m]


def train_points(metrics: list[dict[str, Any]]) -> list[tuple[int, float]]:
    return [(int(m["step"]), float(m["train/reward_mean"])) for m in metrics if "train/reward_mean" in m]


def print_table(console: Console, metrics: list[dict[str, Any]], seconds: float, n_val: int) -> None:
    vals = val_points(metrics)
    steps = [m for m in metrics if "time/step_s" in m]
    table = Table(title="Calculator agent, held-out problems (greedy)")
    table.add_column("")
    table.add_column("accuracy", justify="right")
    table.add_column("correct", justify="right")
    if vals:
        before, after = vals[0][1], vals[-1][1]
        table.add_row("before training", f"{before:.0%}", f"{round(before * n_val)}/{n_val}")
        table.add_row(f"after {vals[-1][0]} GRPO steps", f"{after:.0%}", f"{round(after * n_val)}/{n_val}")
        table.add_row("change", f"{(after - before) * 100:+.0f} points", "")
    console.print(table)
    if steps:
        mean_step = sum(m["time/step_s"] for m in steps) / len(steps)
        console.print(f"{len(steps)} steps, {mean_step:.1f} s/step; whole run {seconds / 60:.1f} min")


def plot(metrics: list[dict[str, Any]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = train_points(metrics)
    vals = val_points(metrics)
    fig, ax = plt.subplots(figsize=(7, 4))
    if train:
        xs, ys = zip(*train, strict=True)
        ax.plot(xs, ys, color="tab:blue", alpha=0.35, label="train reward (per step)")
        window = 5
        smooth = [
            sum(ys[max(0, i - window + 1) : i + 1]) / len(ys[max(0, i - window + 1) : i + 1])
            for i in range(len(ys))
        ]
        ax.plot(xs, smooth, color="tab:blue", label=f"train reward ({window}-step mean)")
    if vals:
        xs, ys = zip(*vals, strict=True)
        ax.plot(xs, ys, "o-", color="tab:red", label="held-out accuracy (greedy)")
    ax.set_xlabel("GRPO step")
    ax.set_ylabel("reward / accuracy")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title("Calculator agent (SmolLM2-135M) trained with GRPO on CPU")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
