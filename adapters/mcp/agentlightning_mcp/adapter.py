"""The ``mcp`` adapter: MCP tool calls as tool spans, for any agent that uses an MCP client."""

from __future__ import annotations

from typing import Any, ClassVar

from agentlightning_core.adapter import Adapter
from agentlightning_core.agent import LitAgent, as_agent

from . import instrument as _instrument


class MCPAdapter(Adapter):
    """MCP is not an agent framework: ``wrap`` takes the same rollout function or ``LitAgent`` as
    the built-in ``openai`` adapter, and turns the instrumentation on first."""

    name: ClassVar[str] = "mcp"

    def instrument(self) -> None:
        _instrument.instrument()

    def uninstrument(self) -> None:
        _instrument.uninstrument()

    def wrap(self, obj: Any, **options: Any) -> LitAgent[Any]:
        self.instrument()
        return as_agent(obj)
