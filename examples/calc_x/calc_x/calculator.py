"""The calculator as an MCP server (streamable HTTP), and a helper that runs it in a subprocess.

One server serves every rollout of a run: each tool call is one HTTP request, instead of a new
process per rollout as with stdio.

    python -m calc_x.calculator --port 8765      # serve at http://127.0.0.1:8765/mcp
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

from .arithmetic import evaluate, format_number


def build_server() -> object:
    from mcp.server.fastmcp import FastMCP

    server = FastMCP("calculator", log_level="WARNING")

    @server.tool()
    def calculate(expression: str) -> str:
        """Evaluate an arithmetic expression (numbers, + - * / // % ** and parentheses)."""
        try:
            return format_number(evaluate(expression))
        except ValueError as exc:
            return f"error: {exc}"

    return server


def main() -> None:
    parser = argparse.ArgumentParser(description="Calculator MCP server over streamable HTTP")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a free port (printed on stdout)")
    args = parser.parse_args()
    import logging

    import uvicorn

    # the SDK logs an ERROR with a traceback each time a client closes its session's event
    # stream (ClosedResourceError); that is the normal end of every rollout here
    logging.getLogger("mcp.server.streamable_http").setLevel(logging.CRITICAL)
    server = build_server()
    sock = socket.socket()
    sock.bind((args.host, args.port))
    print(f"MCP_URL http://{args.host}:{sock.getsockname()[1]}/mcp", flush=True)
    config = uvicorn.Config(server.streamable_http_app(), log_level="warning")  # type: ignore[attr-defined]
    uvicorn.Server(config).run(sockets=[sock])


@contextlib.contextmanager
def calculator_server(timeout: float = 60.0) -> Iterator[str]:
    """Run the server in a subprocess for the block; yields its MCP URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "calc_x.calculator", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + timeout
        line = process.stdout.readline()
        if not line.startswith("MCP_URL ") or time.monotonic() > deadline:
            raise RuntimeError(f"calculator MCP server did not start (said {line!r}, exit {process.poll()})")
        url = line.split()[1]
        host, port = url.split("//")[1].split("/")[0].split(":")
        while True:  # the socket is bound before uvicorn starts; wait until it answers
            with contextlib.suppress(OSError), socket.create_connection((host, int(port)), timeout=1):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("calculator MCP server did not answer in time")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


if __name__ == "__main__":
    main()
