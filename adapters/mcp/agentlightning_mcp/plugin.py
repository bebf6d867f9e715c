"""Entry point of ``agentlightning-mcp``: registers the ``mcp`` adapter (lazily)."""

from __future__ import annotations

from typing import Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register


def _adapter() -> Any:
    from .adapter import MCPAdapter

    return MCPAdapter()


@hookimpl
def agl_register_adapters(register: Register) -> None:
    register(
        "mcp", _adapter, description="MCP clients: one tool span per tools/call, with arguments and result"
    )
