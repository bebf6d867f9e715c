"""The ``openai_agents`` adapter: bridge the SDK's tracing to OpenTelemetry, wrap agents."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, ClassVar

from agentlightning_core.adapter import Adapter

from .agent import OpenAIAgentsAgent
from .bridge import OtelBridge

_lock = threading.Lock()
_bridge: OtelBridge | None = None


class OpenAIAgentsAdapter(Adapter):
    name: ClassVar[str] = "openai_agents"

    def instrument(self) -> None:
        """Add the bridge to the SDK's trace processors (once per process). The SDK's own
        exporter stays as configured; it uploads to OpenAI only when an API key is set."""
        global _bridge
        from agents import add_trace_processor

        with _lock:
            if _bridge is None:
                _bridge = OtelBridge()
                add_trace_processor(_bridge)
            _bridge.enabled = True

    def uninstrument(self) -> None:
        """Stop mirroring (the SDK cannot remove one processor, so the bridge is switched off)."""
        if _bridge is not None:
            _bridge.enabled = False

    def wrap(self, obj: Any, **options: Any) -> OpenAIAgentsAgent:
        self.instrument()
        return OpenAIAgentsAgent(obj, **options)


def wrap(
    agent: Any,
    *,
    reward: Callable[[Any, Any], Any],
    to_input: Callable[[Any], Any] | None = None,
    max_turns: int = 10,
) -> OpenAIAgentsAgent:
    """One line from an Agents SDK ``Agent`` (with its handoffs and tools) to a trainable agent::

        agent = agentlightning_openai_agents.wrap(triage_agent, reward=lambda task, result: ...)

    :param reward: ``reward(task, run_result)`` → float (may be async); ``run_result.final_output``.
    :param to_input: task → the run's input (default ``str``).
    """
    return OpenAIAgentsAdapter().wrap(agent, reward=reward, to_input=to_input, max_turns=max_turns)
