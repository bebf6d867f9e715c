"""The demo's GRPO settings, chosen by measurement on a 2-core CPU (see the README)."""

from __future__ import annotations

from typing import Any

DEMO_DEFAULTS: dict[str, Any] = {
    "steps": 30,
    "n_train": 290,
    "n_val": 100,
    "eval_every": 10,
    "tasks_per_step": 2,
    "group_size": 8,
    "temperature": 0.7,
    "max_tokens": 48,
    "learning_rate": 2e-5,
}
