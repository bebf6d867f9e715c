"""``agl serve``: the store, event stream and LLM proxy as one HTTP server process.

Runners elsewhere connect with ``agl runner --server URL`` (their store is then
:class:`~agentlightning_core.client.HttpStore`). The token comes from ``AGL_SERVER_TOKEN``
only, never from the command line, where other users of the machine could read it. Without a
token the server is open, so it refuses to listen beyond the loopback interface unless
``--insecure-no-auth`` says that is meant.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
import sys
from typing import Any

import click

from ..settings import load_settings

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (``127.0.0.0/8``, ``::1``); any other name or
    address, ``0.0.0.0`` and ``::`` included, may be reachable from other machines."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_auth(host: str, token: str | None, insecure_no_auth: bool) -> None:
    """Refuse an open server on a non-loopback interface unless ``--insecure-no-auth`` is given."""
    if token or is_loopback(host):
        return
    if not insecure_no_auth:
        raise click.UsageError(
            f"refusing to listen on {host} without AGL_SERVER_TOKEN: anyone who can reach the port "
            "could use the store and the LLM proxy. Set AGL_SERVER_TOKEN (e.g. "
            "AGL_SERVER_TOKEN=$(openssl rand -hex 16)) and give runners the same token, or pass "
            "--insecure-no-auth to serve without authentication on purpose."
        )
    click.echo(
        f"warning: listening on {host} without AGL_SERVER_TOKEN (--insecure-no-auth): "
        "anyone who can reach it can use it",
        err=True,
    )


def parse_options(pairs: tuple[str, ...]) -> dict[str, str]:
    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE (e.g. base_url=http://localhost:8000/v1)")
        options[key.strip()] = value
    return options


@click.command()
@click.option(
    "--store",
    "store_url",
    default=None,
    help="Store URL (default: DATABASE_URL, else SQLite if installed, else memory://).",
)
@click.option(
    "--engine", "engine_name", default=None, help="LLM engine behind the proxy, e.g. openai (pass-through)."
)
@click.option(
    "--engine-option",
    "engine_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Engine option, repeatable (openai: base_url=..., model=..., api_key=...).",
)
@click.option(
    "--bus",
    "bus_name",
    default=None,
    help="Event bus (default: EVENT_BUS_BACKEND, else Redis if it answers, else memory).",
)
@click.option("--host", default=None, help="Interface to listen on (default AGL_SERVER_HOST or 127.0.0.1).")
@click.option(
    "--port", type=int, default=None, help="Port (default AGL_SERVER_PORT or 4747; 0 = any free port)."
)
@click.option(
    "--insecure-no-auth",
    is_flag=True,
    default=False,
    help="Allow listening beyond localhost without AGL_SERVER_TOKEN (anyone who can reach it can use it).",
)
def command(
    store_url: str | None,
    engine_name: str | None,
    engine_options: tuple[str, ...],
    bus_name: str | None,
    host: str | None,
    port: int | None,
    insecure_no_auth: bool,
) -> None:
    """Serve the store, event stream and LLM proxy over HTTP until SIGINT/SIGTERM."""
    settings = load_settings()
    options = parse_options(engine_options)
    if options and not engine_name:
        raise click.UsageError("--engine-option needs --engine NAME")
    host = host or settings.agl_server_host
    port = settings.agl_server_port if port is None else port
    check_auth(host, settings.agl_server_token, insecure_no_auth)
    runner = _loop_runner()
    try:
        runner(serve(store_url, engine_name, options, bus_name, host, port))
    except Exception as exc:
        from ..errors import AglError

        if isinstance(exc, (AglError, OSError)):
            raise click.ClickException(str(exc)) from exc
        raise


def _loop_runner() -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


async def serve(
    store_url: str | None,
    engine_name: str | None,
    engine_options: dict[str, str],
    bus_name: str | None,
    host: str,
    port: int,
) -> None:
    from ..bus.open import open_event_bus
    from ..plugin_manager import get_plugin_manager
    from ..server import create_app, serve_in_background
    from ..store.open import open_store

    manager = get_plugin_manager()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        bus = await open_event_bus(bus_name, manager=manager)
        stack.push_async_callback(bus.close)
        store = open_store(store_url, bus=bus, manager=manager)
        await store.start()
        stack.push_async_callback(store.close)
        engine = None
        if engine_name:
            engine = manager.llm_engine_factory(engine_name)(**engine_options)
            await engine.start()
            stack.push_async_callback(engine.close)
        app = create_app(store, engine=engine, bus=bus, manager=manager)
        async with serve_in_background(app, host, port, log_level="info") as url:
            click.echo(f"Agent Lightning server listening on {url}", file=sys.stdout)
            sys.stdout.flush()
            await stop.wait()
            click.echo("stopping", err=True)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(sig)
