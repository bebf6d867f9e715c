"""A stdio MCP server for the tests: the ``mcp`` SDK's FastMCP with two calculator tools."""

from __future__ import annotations

from mcp.server.fastmcp import FastMCP

server = FastMCP("calculator")


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
