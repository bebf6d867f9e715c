"""The plugin module the entry point names: registrations only, nothing heavy at import."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register

if TYPE_CHECKING:
    from agentlightning_core.engine import LLMEngine


def make_demoengine(**options: Any) -> LLMEngine:
    """The engine, built with ``Trainer(engine_options={...})`` / ``agl serve --engine-option``."""
    # Import the model library (torch, an SDK) in the engine's module or its start(), not here.
    from .engine import DemoengineEngine

    return DemoengineEngine(**options)


@hookimpl
def agl_register_llm_engines(register: Register) -> None:
    register("demoengine", make_demoengine, description="demoengine engine (from agl new-plugin llm-engine)")
