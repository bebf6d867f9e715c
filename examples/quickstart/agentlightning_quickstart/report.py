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


def group_points(metrics: list[dict[str, Any]]) -> list[tuple[int, float]]:
    """One point per GRPO group (task): its mean reward over the group's rollouts."""
    out: list[tuple[int, float]] = []
    for m in metrics:
        if "train/group_reward_means" in m:
            out += [(int(m["step"]), float(v)) for v in m["train/group_reward_means"]]
        elif "train/reward_mean" in m:  # a run logged before group means were recorded
            out.append((int(m["step"]), float(m["train/reward_mean"])))
    return out


def smoothed(points: list[tuple[int, float]], window: int) -> list[tuple[int, float, float]]:
    """For each step: the mean and standard error of the group means of the last ``window`` steps.

    Why a band: one step sees a few tasks, so its mean reward mostly says which tasks it drew;
    the trend is in the window's mean, and the band (± 1 standard error) shows how sure it is.
    """
    steps = sorted({s for s, _ in points})
    out: list[tuple[int, float, float]] = []
    for step in steps:
        values = [v for s, v in points if step - window < s <= step]
        mean = sum(values) / len(values)
        var = sum((v - mean) ** 2 for v in values) / (len(values) - 1) if len(values) > 1 else 0.0
        out.append((step, mean, (var / len(values)) ** 0.5))
    return out


def print_table(
    console: Console,
    metrics: list[dict[str, Any]],
    seconds: float,
    n_val: int,
    seed: int = 0,
    title: str = "Calculator agent",
) -> None:
    vals = val_points(metrics)
    steps = [m for m in metrics if "time/step_s" in m]
    table = Table(title=f"{title}, held-out problems (greedy), seed {seed}")
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
        calls = [float(m["train/calls_per_rollout"]) for m in steps if "train/calls_per_rollout" in m]
        if calls:
            k = min(5, len(calls))
            console.print(
                f"LLM calls per training rollout: {sum(calls[:k]) / k:.2f} (first {k} steps) -> "
                f"{sum(calls[-k:]) / k:.2f} (last {k})"
            )
        if any(m.get("train/hinted_rollouts") for m in steps):
            plain = [float(m["train/unhinted_calls_per_rollout"]) for m in steps]
            k = min(5, len(plain))
            hinted = sum(1 for m in steps if m.get("train/hinted_rollouts"))
            console.print(
                f"  unhinted rollouts only (hints in the first {hinted} steps): {sum(plain[:k]) / k:.2f} "
                f"(first {k} steps) -> {sum(plain[-k:]) / k:.2f} (last {k})"
            )


def plot(metrics: list[dict[str, Any]], path: Path, title: str = "Calculator agent") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = group_points(metrics)
    vals = val_points(metrics)
    fig, ax = plt.subplots(figsize=(7, 4))
    if groups:
        xs, ys = zip(*groups, strict=True)
        ax.scatter(xs, ys, s=8, color="tab:blue", alpha=0.25, label="train reward, one point per group")
        window = 5
        curve = smoothed(groups, window)
        cx = [c[0] for c in curve]
        cy = [c[1] for c in curve]
        ax.fill_between(
            cx,
            [c[1] - c[2] for c in curve],
            [c[1] + c[2] for c in curve],
            color="tab:blue",
            alpha=0.2,
            label=f"± 1 standard error ({window}-step window)",
        )
        ax.plot(cx, cy, color="tab:blue", label=f"train reward, {window}-step mean of group means")
    if vals:
        xs, ys = zip(*vals, strict=True)
        ax.plot(xs, ys, "o-", color="tab:red", label="held-out accuracy (greedy)")
    ax.set_xlabel("GRPO step")
    ax.set_ylabel("reward / accuracy")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(f"{title} (SmolLM2-135M) trained with GRPO on CPU")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
