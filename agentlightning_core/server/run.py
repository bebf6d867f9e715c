"""Running the app with uvicorn inside the caller's event loop.

The Trainer runs its server next to the algorithm in one loop; ``agl serve`` runs it as the
whole process. Both use :func:`serve_in_background`, which binds the socket itself (so port 0
works and the real port is known before the first request) and never touches signal handlers:
the caller decides what SIGINT means.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import uvicorn

from ..wire import SERVER_KEEP_ALIVE_SECONDS

log = logging.getLogger(__name__)


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to its host."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted connections only for
    # sockets that say so, and without it every response waits ~40 ms for a delayed ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(
            exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}; pick another --port (0 = any free)"
        ) from exc
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def _http_protocol() -> Any:
    if importlib.util.find_spec("httptools") is None:
        return "h11"
    from .transport import CoalescingHttpToolsProtocol

    return CoalescingHttpToolsProtocol


def base_url(host: str, port: int) -> str:
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


@contextlib.asynccontextmanager
async def serve_in_background(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    log_level: str = "warning",
    graceful_shutdown: float = 5.0,
    **uvicorn_options: Any,
) -> AsyncIterator[str]:
    """Serve ``app`` as a task of the running loop; yield its base URL (``http://host:port``).

    httptools is used when installed. uvloop is used when the *caller's* loop is uvloop (run
    your program with ``uvloop.run`` for it); this function never replaces the loop. On exit the
    app's long-lived responses (event streams, long polls) are told to end, then uvicorn stops.
    """
    options: dict[str, Any] = {
        "http": _http_protocol(),
        "ws": "none",
        "lifespan": "on",
        "proxy_headers": False,
        "log_level": log_level,
        "access_log": False,
        "timeout_graceful_shutdown": graceful_shutdown,
        "loop": "none",
        "timeout_keep_alive": SERVER_KEEP_ALIVE_SECONDS,
        **uvicorn_options,
    }
    config = uvicorn.Config(app, host=host, port=port, **options)
    server = _EmbeddedServer(config)
    sock = _bind(host, port)
    real_port = sock.getsockname()[1]

    async def run() -> None:
        try:
            await server.serve(sockets=[sock])
        except SystemExit:  # uvicorn's answer to a failed startup; must not end the host's loop
            raise RuntimeError(
                f"the server on {host}:{real_port} failed to start (the app's startup raised; see the log)"
            ) from None

    task = asyncio.create_task(run(), name=f"uvicorn-{real_port}")
    try:
        while not server.started:
            if task.done():
                task.result()  # raises the startup error
                raise RuntimeError(f"the server on {host}:{real_port} stopped before it started")
            await asyncio.sleep(0.005)
        url = base_url(host, real_port)
        log.info("serving on %s", url)
        yield url
    finally:
        shutdown = getattr(getattr(app, "state", None), "shutdown", None)
        if shutdown is not None:
            shutdown.set()
        server.should_exit = True
        try:
            await task
        except Exception as exc:
            log.debug("server task ended with %r", exc)
        finally:
            sock.close()
