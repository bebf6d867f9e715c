"""Hook implementations: registers the ``transformers`` engine (nothing heavy at import)."""

from __future__ import annotations

from typing import Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register


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
