"""Hook implementations: registers the ``grpo`` algorithm (nothing heavy at import)."""

from __future__ import annotations

from typing import Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register


def _make_grpo(**options: Any) -> Any:
    from .algorithm import GRPO

    return GRPO(**options)


@hookimpl
def agl_register_algorithms(register: Register) -> None:
    register(
        "grpo", _make_grpo, description="group-relative policy optimisation of a local model (torch, CPU/GPU)"
    )
