"""W3C trace context (and the agent's name) into HTTP calls made during a rollout.

The LLM proxy reads ``traceparent`` and ``X-AGL-Agent`` from each request, so the LLM span it
records becomes a child of the agent span that made the call and carries the agent's name.
Model clients build their own HTTP clients (openai → httpx, or httpx2 from openai 3 on; some
tools → aiohttp or requests),
so the send methods of those libraries are patched once per process; a request outside a
rollout, or one that already has the headers, is left untouched.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from collections.abc import Callable, MutableMapping
from typing import Any

from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from agentlightning_core.runtime.context import current_context
from agentlightning_core.types import semconv

from .router import AttemptRouter

_lock = threading.Lock()
_patched: dict[str, tuple[Any, str, Any]] = {}
_router: AttemptRouter | None = None
_propagator = TraceContextTextMapPropagator()


def trace_headers() -> dict[str, str]:
    """Headers that link an outgoing call to the current span; empty outside a rollout."""
    if current_context() is None:
        return {}
    span = trace.get_current_span()
    context = span.get_span_context()
    if not context.is_valid:
        return {}
    headers: dict[str, str] = {}
    _propagator.inject(headers)
    router = _router
    agent = router.agent_of(context.span_id) if router is not None else None
    if agent and agent.isascii():  # header values are ASCII; the traceparent still links the call
        headers[semconv.AGENT_HEADER] = agent
    return headers


def _add_missing(target: MutableMapping[str, str], headers: dict[str, str]) -> None:
    lowered = {k.lower() for k in target.keys()}
    for key, value in headers.items():
        if key.lower() not in lowered:
            target[key] = value


def _patch(module_name: str, owner: Any, attr: str, make: Callable[[Any], Any]) -> None:
    key = f"{module_name}:{owner.__name__}.{attr}"
    if key in _patched:
        return
    original = getattr(owner, attr)
    setattr(owner, attr, make(original))
    _patched[key] = (owner, attr, original)


def _patch_httpx(module_name: str = "httpx") -> None:
    httpx: Any = importlib.import_module(module_name)

    def sync_send(original: Any) -> Any:
        @functools.wraps(original)
        def send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            _add_missing(request.headers, trace_headers())
            return original(self, request, *args, **kwargs)

        return send

    def async_send(original: Any) -> Any:
        @functools.wraps(original)
        async def send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            _add_missing(request.headers, trace_headers())
            return await original(self, request, *args, **kwargs)

        return send

    _patch(module_name, httpx.Client, "send", sync_send)
    _patch(module_name, httpx.AsyncClient, "send", async_send)


def _patch_aiohttp() -> None:
    import aiohttp

    def request(original: Any) -> Any:
        @functools.wraps(original)
        async def _request(self: Any, method: str, url: Any, *args: Any, **kwargs: Any) -> Any:
            extra = trace_headers()
            if extra:
                headers = dict(kwargs.get("headers") or {})
                _add_missing(headers, extra)
                kwargs["headers"] = headers
            return await original(self, method, url, *args, **kwargs)

        return _request

    _patch("aiohttp", aiohttp.ClientSession, "_request", request)


def _patch_requests() -> None:
    import requests

    def send(original: Any) -> Any:
        @functools.wraps(original)
        def _send(self: Any, request: Any, **kwargs: Any) -> Any:
            _add_missing(request.headers, trace_headers())
            return original(self, request, **kwargs)

        return _send

    _patch("requests", requests.Session, "send", send)


def install(router: AttemptRouter) -> None:
    """Patch the HTTP libraries that are installed (idempotent)."""
    global _router
    with _lock:
        _router = router
        for name in ("httpx", "httpx2"):  # openai >= 3 sends through httpx2
            if importlib.util.find_spec(name) is not None:
                _patch_httpx(name)
        for name, patch in (("aiohttp", _patch_aiohttp), ("requests", _patch_requests)):
            if importlib.util.find_spec(name) is not None:
                patch()


def uninstall() -> None:
    """Restore the original send methods."""
    global _router
    with _lock:
        for owner, attr, original in _patched.values():
            setattr(owner, attr, original)
        _patched.clear()
        _router = None
