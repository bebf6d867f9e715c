"""The demo's GRPO settings per task, chosen by measurement on a 2-core CPU (see the README)."""

from __future__ import annotations

from typing import Any

#: keys of a task's settings that are the demo's, not GRPO's
DEMO_KEYS = ("steps", "n_train", "n_val", "eval_every")
#: keys of a task's settings that go to the engine (TransformersEngine), not to GRPO
ENGINE_KEYS = ("forced_tokens",)

DEMO_DEFAULTS: dict[str, Any] = {
    "steps": 20,
    "n_train": 290,
    "n_val": 100,
    "eval_every": 10,
    # 4 tasks x 8 rollouts: with 2 tasks, 40% of the groups of the first 10 steps were all wrong
    # or all right (no gradient), so many steps learned from one problem; 4 costs ~15% more per
    # step on 2 cores (one engine batch) and doubles the problems each step learns from
    "tasks_per_step": 4,
    "group_size": 8,
    "temperature": 0.7,
    "max_tokens": 48,
    # half-way decay: the last steps move the model that the final evaluation sees less
    "learning_rate": 3e-5,
    "lr_schedule": "linear",
    "lr_min_ratio": 0.5,
}

TOOLS_DEFAULTS: dict[str, Any] = {
    "steps": 30,
    "n_train": 300,
    "n_val": 100,
    "eval_every": 10,
    "tasks_per_step": 4,
    "group_size": 8,
    # 0.7: a hinted rollout (forced tool call) gets the answer right 7 of 24 times, 4 of 24 at 1.0
    "temperature": 0.7,
    "max_tokens": 48,
    "learning_rate": 3e-5,
    # the untrained model never calls the tool (README), so every group would score 0 and learn
    # nothing: for the first 20 steps, 4 of each group's 8 rollouts force their first call to be
    # a tool call (tool_choice="required")
    "hinted_per_group": 4,
    "hint_until_step": 20,
    # ... and the forced call's opening tokens are trained like sampled ones: with them on the
    # prompt side the unhinted rollouts learned only once one called the tool by itself (0% -> 0%
    # on seeds 0-2); trained, with two worked examples, 0% -> 100% on seeds 0-2 (README)
    "forced_tokens": "completion",
}

TASK_DEFAULTS: dict[str, dict[str, Any]] = {"calc": DEMO_DEFAULTS, "tools": TOOLS_DEFAULTS}
