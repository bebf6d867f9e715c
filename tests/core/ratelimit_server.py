"""A FastAPI app limited by setup_rate_limiting, served on an ephemeral port (printed on stdout).

Run by test_ratelimit_processes.py as a real process; RATE_LIMIT_* come from its environment.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys

import uvicorn
from fastapi import FastAPI

from agentlightning_core.ratelimit import setup_rate_limiting

app = FastAPI()


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/work")
async def work() -> dict[str, int]:
    return {"pid": os.getpid()}


setup_rate_limiting(app)


async def main() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    await server.serve(sockets=[sock])


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
