"""The demo's GRPO settings per task, chosen by measurement on a 2-core CPU (see the README)."""

from __future__ import annotations

from typing import Any

#: keys of a task's settings that are the demo's, not GRPO's
DEMO_KEYS = ("steps", "n_train", "n_val", "eval_every")

DEMO_DEFAULTS: dict[str, Any] = {
    "steps": 20,
    "n_train": 290,
    "n_val": 100,
    "eval_every": 10,
    # 4 tasks x 8 rollouts at T=0.5: at T=0.7 the base model's samples were right 12% of the time
    # (greedy: 34%) and half the groups of a step were all wrong (no gradient); at T=0.5, 31% and
    # 2 of 16 (measured, see the README)
    "tasks_per_step": 4,
    "group_size": 8,
    "temperature": 0.5,
    "max_tokens": 48,
    # a linear decay settles the model that the final evaluation sees
    "learning_rate": 3e-5,
    "lr_schedule": "linear",
    "lr_min_ratio": 0.2,
}

TOOLS_DEFAULTS: dict[str, Any] = {
    "steps": 30,
    "n_train": 300,
    "n_val": 100,
    "eval_every": 10,
    "tasks_per_step": 4,
    "group_size": 8,
    "temperature": 1.0,
    "max_tokens": 48,
    "learning_rate": 2e-5,
}

TASK_DEFAULTS: dict[str, dict[str, Any]] = {"calc": DEMO_DEFAULTS, "tools": TOOLS_DEFAULTS}
