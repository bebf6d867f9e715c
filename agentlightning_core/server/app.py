"""The HTTP server: the store, the event stream and the LLM proxy in one FastAPI app.

``create_app`` builds it; :func:`~agentlightning_core.server.run.serve_in_background` runs it
in the current event loop; ``agl serve`` runs it as a process. Everything but ``/health`` needs
``Authorization: Bearer <AGL_SERVER_TOKEN>`` when a token is set.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from ..bus.base import EventBus
from ..bus.memory import InMemoryEventBus
from ..engine import LLMEngine
from ..proxy.recorder import SpanRecorder
from ..proxy.routes import ProxyCalls, proxy_router
from ..ratelimit import RateLimitSettings
from ..settings import load_settings
from ..store.base import LightningStore
from .auth import ServerAuth
from .errors import install_error_handlers
from .hotpath import HotOperations
from .lifecycle import ShutdownSignal
from .middleware import install_middleware
from .openapi import install_openapi
from .routes_events import events_router
from .routes_store import store_router

if TYPE_CHECKING:
    from ..plugin_manager import AglPluginManager

log = logging.getLogger(__name__)

VERSION = "0.1.0"


def _no_native_telemetry() -> dict[str, Any]:
    """Turn off FastAPI's built-in OpenTelemetry where the installed FastAPI has it.

    Its per-request check alone is a measurable share of a hot-path request, and per-request
    HTTP spans are not what this server's users trace: the store's events and the proxy's LLM
    spans are. (Older FastAPI versions have no such option.)
    """
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}}


def create_app(
    store: LightningStore,
    *,
    engine: LLMEngine | None = None,
    bus: EventBus | None = None,
    token: str | None = None,
    max_body_bytes: int | None = None,
    manager: AglPluginManager | None = None,
    rate_limit: RateLimitSettings | None = None,
) -> FastAPI:
    """Build the server app over ``store``.

    :param engine: what the LLM proxy forwards to; without one the proxy answers 503.
    :param bus: whose events ``/v1/events`` streams; default the store's bus, else a new
        in-process bus that is also given to the store (so its changes are streamed).
    :param token: bearer token; ``None`` reads ``AGL_SERVER_TOKEN``; ``""`` turns auth off.
    :param max_body_bytes: request body limit (413 above it); ``None`` reads ``AGL_MAX_BODY_BYTES``.
    :param rate_limit: rate limiting settings; ``None`` reads ``RATE_LIMIT_*`` (on by default,
        see docs/security.md); ``RateLimitSettings(enabled=False)`` turns it off.
    :param manager: plugin manager whose ``agl_server_app`` hooks extend the app; default the
        process-wide one.

    Lifespan: startup starts the store (its watchdog) and the engine, both idempotent; shutdown
    writes the proxy's buffered spans. Whoever opened the store, engine and bus closes them.
    """
    settings = load_settings()
    token = settings.agl_server_token if token is None else token
    max_body_bytes = settings.agl_max_body_bytes if max_body_bytes is None else max_body_bytes
    if bus is None:
        bus = store.bus
    if bus is None:
        bus = InMemoryEventBus()
    if store.bus is None:
        store.bus = bus
    recorder = SpanRecorder(store)
    shutdown = ShutdownSignal()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await store.start()
        if engine is not None:
            await engine.start()
        try:
            yield
        finally:
            shutdown.set()
            await recorder.close()

    app = FastAPI(
        title="Agent Lightning",
        version=VERSION,
        description=(
            "Store, event stream and OpenAI-compatible LLM proxy of an Agent Lightning trainer. "
            'Errors are `{"error": {"type", "message"}}`; every route but /health needs '
            "`Authorization: Bearer <AGL_SERVER_TOKEN>` when the server has a token."
        ),
        lifespan=lifespan,
        **_no_native_telemetry(),
    )
    app.state.store = store
    app.state.engine = engine
    app.state.bus = bus
    app.state.span_recorder = recorder
    app.state.shutdown = shutdown
    #: for plugins serving browser pages: delegate a prefix, check a typed token (see auth.py)
    app.state.auth = ServerAuth(token)

    install_error_handlers(app)

    @app.get("/health", tags=["server"])
    async def health() -> dict[str, Any]:
        """Liveness; open without a token."""
        return {"status": "ok", "version": VERSION}

    hot = HotOperations(store, recorder)
    app.include_router(store_router(store, hot, shutdown))
    app.include_router(events_router(bus, shutdown))
    proxy = ProxyCalls(engine, store, recorder, app.state)
    app.include_router(proxy_router(proxy))
    install_openapi(app, secured=bool(token))
    install_middleware(
        app,
        token=token,
        max_body_bytes=max_body_bytes,
        hot_path=hot,
        proxy=proxy,
        rate_limit=rate_limit,
        auth=app.state.auth,
    )
    if not token:
        log.info("server: no AGL_SERVER_TOKEN set; every route is open (bind to 127.0.0.1 only)")

    if manager is None:
        from ..plugin_manager import get_plugin_manager

        manager = get_plugin_manager()
    manager.extend_server_app(app)
    return app
