"""OpenAI Agents SDK support for Agent Lightning.

The SDK traces with its own span model; ``OtelBridge`` (a ``TracingProcessor``) mirrors agent,
function-tool and handoff spans as OpenTelemetry spans made current while they run, so the LLM
calls inside carry the agent's trace context and name to the proxy. ``wrap(agent, reward=...)``
runs an unchanged ``Agent`` against the rollout's LLM through a model provider set per run.
"""

from __future__ import annotations

from .adapter import OpenAIAgentsAdapter, wrap
from .agent import OpenAIAgentsAgent
from .bridge import OtelBridge

__all__ = ["OpenAIAgentsAdapter", "OpenAIAgentsAgent", "OtelBridge", "wrap"]
