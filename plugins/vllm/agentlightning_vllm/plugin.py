"""Hook implementations: registers the ``vllm`` inference engine (vLLM loads only in the server
process the engine starts, never in the trainer's)."""

from __future__ import annotations

from typing import Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register


def _make_vllm(**options: Any) -> Any:
    from .engine import VLLMEngine

    return VLLMEngine(**options)


@hookimpl
def agl_register_llm_engines(register: Register) -> None:
    register(
        "vllm",
        _make_vllm,
        description="vLLM's OpenAI server (started here, running elsewhere, or VERL's replicas); GPU",
    )
