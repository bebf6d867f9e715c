"""Hook implementations: registers the ``transformers`` engine (nothing heavy at import)."""

from __future__ import annotations

from typing import Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register
from agentlightning_core.optional import needs

#: what the factory imports (top-level module → the extra that brings it; None: a plain dependency)
DRIVERS: dict[str, str | None] = {
    "torch": None,
    "transformers": None,
    "gguf": None,
    "safetensors": None,
    "numpy": None,
}


@needs("agentlightning-transformers", DRIVERS, what="llm engine 'transformers'")
def _make_engine(**options: Any) -> Any:
    from .engine import TransformersEngine

    return TransformersEngine(**options)


@hookimpl
def agl_register_llm_engines(register: Register) -> None:
    register(
        "transformers",
        _make_engine,
        description="local transformers model on CPU/GPU (default SmolLM2-135M-Instruct); batched, weight swaps",
    )
