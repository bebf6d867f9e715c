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
    register("grpo", _make_grpo, description=DESCRIPTION)


#: what ``agl plugins -v`` shows: the options users ask about most (all: GRPOConfig, the README)
DESCRIPTION = (
    "group-relative policy optimisation of a local model (torch, CPU/GPU). Options include "
    "steps, tasks_per_step, group_size, learning_rate, agent_match; "
    "lora={'r': 16, 'alpha': 32, 'target_modules': [...], 'name': 'policy'} (peft LoRA: the engine serves "
    "base + adapter, updates copy only the adapter, export merges); "
    "adapters={'writer': 'write', 'checker': 'check|rewrite'} (one LoRA adapter per agent, agent-name regex "
    "as agent_match; calls routed by X-AGL-Agent, decoded in one batch); "
    "credit='final'|'per_call'|'discounted' with gamma (which reward each LLM call learns from; "
    "per-call returns are group-normalised per step position)"
)
