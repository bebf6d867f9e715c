"""A stdio MCP server for the tests: the ``mcp`` SDK's FastMCP (MCPServer in mcp 2.x) with two tools."""

from __future__ import annotations

try:  # mcp 1.x
    from mcp.server.fastmcp import FastMCP as Server
except ImportError:  # mcp 2.x renamed it
    from mcp.server.mcpserver import MCPServer as Server  # type: ignore[no-redef]

server = Server("calculator")


@server.tool()
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


@server.tool()
def divide(a: float, b: float) -> float:
    """Divide a by b."""
    if b == 0:
        raise ValueError("division by zero")
    return a / b


if __name__ == "__main__":
    server.run("stdio")
