"""``setup_rate_limiting(app)``: per-client limits for any FastAPI (or Starlette) app.

A plain ASGI middleware (no ``BaseHTTPMiddleware``): it answers 429 before the app reads the
body, and adds ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (epoch
seconds) to every limited response, plus ``Retry-After`` (seconds) on a 429.

Who is counted (``RATE_LIMIT_KEY_BY``): the bearer token (a hash of it, never the token) or, without
one, the client IP; or the IP alone; or both. Which limit: the route's override from
``RATE_LIMIT_ROUTES`` when there is one (its own bucket), else the default
``RATE_LIMIT_MAX_REQUESTS`` per ``RATE_LIMIT_WINDOW_SECONDS`` shared by all other routes.

If the storage fails (Redis down), requests are let through and a warning is logged once a
minute: losing rate limiting for a while is better than losing the server.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable
from typing import Any

from starlette.responses import JSONResponse
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .limiter import Decision, Limiter
from .settings import Limit, RateLimitSettings, load_rate_limit_settings, parse_routes

log = logging.getLogger(__name__)

OPEN_PATHS = frozenset({"/health"})


def client_identity(scope: Scope, key_by: str, trust_forwarded_for: bool = False) -> str:
    token = b""
    forwarded = b""
    for key, value in scope.get("headers", ()):
        if key == b"authorization" and value[:7].lower() == b"bearer ":
            token = value[7:].strip()
        elif key == b"x-forwarded-for":
            forwarded = value
    ip = ""
    if trust_forwarded_for and forwarded:
        ip = forwarded.split(b",")[0].strip().decode("latin-1")
    elif scope.get("client"):
        ip = str(scope["client"][0])
    ip = f"ip:{ip or 'unknown'}"
    if key_by == "ip" or not token:
        return ip
    token_id = "token:" + hashlib.sha256(token).hexdigest()[:20]
    return token_id if key_by == "token" else f"{token_id}|{ip}"


class RateLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        settings: RateLimitSettings,
        limiter: Limiter,
        open_paths: Iterable[str] = OPEN_PATHS,
        default_routes: dict[str, str] | None = None,
    ) -> None:
        self.app = app
        self.settings = settings
        self.limiter = limiter
        self.default = settings.default_limit
        base = parse_routes(default_routes or {})
        overrides = {**base, **settings.route_limits()}  # the operator's entries win
        # path templates compiled the way Starlette compiles routes ("/x/{id}" → regex), matched
        # against the request path before routing; method-specific entries are tried first
        self.overrides = sorted(
            (
                (method, template, compile_path(template)[0], limit)
                for (method, template), limit in overrides.items()
            ),
            key=lambda entry: entry[0] is None,
        )
        self.open_paths = frozenset(open_paths)
        self._warned_at = 0.0

    def _rule(self, scope: Scope) -> tuple[str, Limit | None]:
        path, method = scope["path"], scope.get("method", "GET")
        for want_method, template, regex, limit in self.overrides:
            if (want_method is None or want_method == method) and regex.match(path):
                return f"route:{want_method or '*'} {template}", limit
        return "all", self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        bucket, limit = self._rule(scope)
        if limit is None:  # this route's override is "off"
            await self.app(scope, receive, send)
            return
        who = client_identity(scope, self.settings.key_by, self.settings.trust_forwarded_for)
        try:
            decision = await self.limiter.hit(limit, bucket, who)
        except Exception as exc:  # storage down: fail open, say so (not on every request)
            now = time.monotonic()
            if now - self._warned_at > 60:
                self._warned_at = now
                log.warning("rate limiting skipped: storage %s failed: %s", self.limiter.storage_url, exc)
            await self.app(scope, receive, send)
            return
        if not decision.allowed:
            await self._refuse(decision, limit, scope, receive, send)
            return
        extra = [(k.lower().encode(), v.encode()) for k, v in decision.headers().items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _refuse(
        self, decision: Decision, limit: Limit, scope: Scope, receive: Receive, send: Send
    ) -> None:
        retry = decision.headers()["Retry-After"]
        body = {
            "error": {
                "type": "RateLimitExceeded",
                "message": (
                    f"rate limit of {limit} exceeded for this client on {scope['path']}; retry after "
                    f"{retry} s (server settings RATE_LIMIT_MAX_REQUESTS / RATE_LIMIT_WINDOW_SECONDS / "
                    "RATE_LIMIT_ROUTES)"
                ),
            }
        }
        response = JSONResponse(body, status_code=429, headers=decision.headers())
        await response(scope, receive, send)


def setup_rate_limiting(
    app: Any,
    settings: RateLimitSettings | None = None,
    *,
    limiter: Limiter | None = None,
    open_paths: Iterable[str] = OPEN_PATHS,
    default_routes: dict[str, str] | None = None,
) -> Limiter | None:
    """Limit every route of ``app`` but ``open_paths``; returns the limiter (``None`` when disabled).

    ``settings`` default to ``RATE_LIMIT_*`` from the environment. ``default_routes`` are route
    overrides the app ships with (``{"/v1/chat/completions": "off"}``); ``RATE_LIMIT_ROUTES``
    entries for the same route replace them. Call it after the routes are added or before —
    overrides resolve route templates at request time. The limiter and settings are also put on
    ``app.state.rate_limiter`` / ``app.state.rate_limit_settings`` so handlers (the LLM proxy) can
    count their own buckets with them.
    """
    settings = settings or load_rate_limit_settings()
    if not settings.enabled:
        return None
    limiter = limiter or Limiter.from_settings(settings)
    app.add_middleware(
        RateLimitMiddleware,
        settings=settings,
        limiter=limiter,
        open_paths=open_paths,
        default_routes=default_routes,
    )
    app.state.rate_limiter = limiter
    app.state.rate_limit_settings = settings
    return limiter
