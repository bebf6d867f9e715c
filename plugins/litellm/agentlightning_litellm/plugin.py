"""Entry point ``litellm``: registers the engine; LiteLLM is imported when the engine is built."""

from __future__ import annotations

from typing import Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register
from agentlightning_core.optional import needs

#: what the factory imports (top-level module → the extra that brings it; None: a plain dependency)
DRIVERS: dict[str, str | None] = {"litellm": None}


@needs("agentlightning-litellm", DRIVERS, what="llm engine 'litellm'")
def _engine(**options: Any) -> Any:
    from .engine import LiteLLMEngine

    return LiteLLMEngine(**options)


@hookimpl
def agl_register_llm_engines(register: Register) -> None:
    register(
        "litellm", _engine, description="any provider LiteLLM's SDK supports (anthropic/..., gemini/...)"
    )
