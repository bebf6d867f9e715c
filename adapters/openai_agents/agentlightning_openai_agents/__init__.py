"""OpenAI Agents SDK support for Agent Lightning.

The SDK traces with its own span model; ``OtelBridge`` (a ``TracingProcessor``) mirrors agent,
function-tool and handoff spans as OpenTelemetry spans made current while they run, so the LLM
calls inside carry the agent's trace context and name to the proxy. ``wrap(agent, reward=...)``
runs an unchanged ``Agent`` against the rollout's LLM through a model provider set per run.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .adapter import OpenAIAgentsAdapter, wrap
    from .agent import OpenAIAgentsAgent
    from .bridge import OtelBridge

#: public name → module; imported on first use so loading the plugin entry point stays light
_EXPORTS = {
    "OpenAIAgentsAdapter": "adapter",
    "OpenAIAgentsAgent": "agent",
    "OtelBridge": "bridge",
    "wrap": "adapter",
}

__all__ = ["OpenAIAgentsAdapter", "OpenAIAgentsAgent", "OtelBridge", "wrap"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
