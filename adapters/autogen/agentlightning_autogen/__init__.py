"""AutoGen (autogen-agentchat) support for Agent Lightning.

AutoGen already emits OpenTelemetry spans in the GenAI conventions (``invoke_agent <name>``,
``execute_tool <tool>``) to the global provider, which the ``otel`` tracer routes into the
rollout; this adapter adds tool arguments and results, and ``wrap(build_team, reward=...)``
turns an agent or team into a ``LitAgent`` in one line.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .adapter import AutoGenAdapter, wrap
    from .agent import AutoGenAgent, openai_model_client

#: public name → module; imported on first use so loading the plugin entry point stays light
_EXPORTS = {
    "AutoGenAdapter": "adapter",
    "AutoGenAgent": "agent",
    "openai_model_client": "agent",
    "wrap": "adapter",
}

__all__ = ["AutoGenAdapter", "AutoGenAgent", "openai_model_client", "wrap"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
