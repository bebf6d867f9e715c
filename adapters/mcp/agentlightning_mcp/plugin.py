"""Entry point of ``agentlightning-mcp``: registers the ``mcp`` adapter (lazily)."""

from __future__ import annotations

from typing import Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register
from agentlightning_core.optional import needs

#: what the factory imports (top-level module → the extra that brings it; None: a plain dependency)
DRIVERS: dict[str, str | None] = {"mcp": None, "opentelemetry": None}


@needs("agentlightning-mcp", DRIVERS, what="adapter 'mcp'")
def _adapter() -> Any:
    from .adapter import MCPAdapter

    return MCPAdapter()


@hookimpl
def agl_register_adapters(register: Register) -> None:
    register(
        "mcp", _adapter, description="MCP clients: one tool span per tools/call, with arguments and result"
    )
