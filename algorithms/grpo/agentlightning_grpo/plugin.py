"""Hook implementations: registers the ``grpo`` algorithm (nothing heavy at import)."""

from __future__ import annotations

from typing import Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register
from agentlightning_core.optional import needs

#: what the factory imports (top-level module → the extra that brings it; None: a plain dependency)
DRIVERS: dict[str, str | None] = {
    "torch": None,
    "transformers": None,
    "peft": None,
    "safetensors": None,
    "agentlightning_transformers": None,
}


@needs("agentlightning-grpo", DRIVERS, what="algorithm 'grpo'")
def _make_grpo(**options: Any) -> Any:
    from .algorithm import GRPO

    return GRPO(**options)


@hookimpl
def agl_register_algorithms(register: Register) -> None:
    register(
        "grpo", _make_grpo, description="group-relative policy optimisation of a local model (torch, CPU/GPU)"
    )
