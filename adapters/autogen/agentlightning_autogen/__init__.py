"""AutoGen (autogen-agentchat) support for Agent Lightning.

AutoGen already emits OpenTelemetry spans in the GenAI conventions (``invoke_agent <name>``,
``execute_tool <tool>``) to the global provider, which the ``otel`` tracer routes into the
rollout; this adapter adds tool arguments and results, and ``wrap(build_team, reward=...)``
turns an agent or team into a ``LitAgent`` in one line.
"""

from __future__ import annotations

from .adapter import AutoGenAdapter, wrap
from .agent import AutoGenAgent, openai_model_client

__all__ = ["AutoGenAdapter", "AutoGenAgent", "openai_model_client", "wrap"]
