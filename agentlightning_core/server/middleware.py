"""The server's middleware stack, in one place.

Order, outermost first (a request passes them top to bottom)::

    RateLimitMiddleware             429 per client (token, else IP); /health open; the LLM proxy's
                                    routes are limited per upstream provider instead (see below)
    BearerAuthMiddleware            401 before anything else is read
    BodySizeLimitMiddleware         413 before / while the body is read
    HotPathMiddleware               answers dequeue / add spans / update attempt / completions itself
    FastAPI routes

All are plain ASGI classes (no ``BaseHTTPMiddleware``), which keeps per-request overhead at a
few microseconds; new ones should be too. Request logging is uvicorn's access log, which
``configure_logger`` masks (client IPs included).

Rate limiting sits outside auth so that a flood of requests with a wrong token is limited too (by
that token's hash or the client IP). The proxy's routes are off the per-client count by default:
a training run's agents share one token and call the LLM far more often than the store, and their
real limit is the upstream's, which ``RATE_LIMIT_PROVIDERS`` sets (``RATE_LIMIT_ROUTES`` can still
put a route back under a per-client limit).
"""

from __future__ import annotations

from fastapi import FastAPI

from ..proxy.routes import ProxyCalls
from ..ratelimit import RateLimitSettings, setup_rate_limiting
from .auth import OPEN_PATHS, BearerAuthMiddleware, ServerAuth
from .hotpath import HotOperations, HotPathMiddleware
from .limits import BodySizeLimitMiddleware

#: per-client limits off for the LLM proxy (limited per provider instead); RATE_LIMIT_ROUTES wins
PROXY_ROUTES_OFF = {
    path: "off"
    for prefix in ("", "/rollout/{rollout_id}/attempt/{attempt_id}")
    for path in (f"{prefix}/v1/chat/completions", f"{prefix}/v1/completions", f"{prefix}/v1/models")
}

#: per-client limits off for a runner's per-rollout calls. Every runner of a training run shares one
#: token, and each rollout costs three or four of these calls: a per-client budget sized for people
#: would throttle training itself (6000/60 s capped a 2-process benchmark at 33 rollouts/s). They
#: stay behind the bearer token and the body-size limit; RATE_LIMIT_ROUTES can put them back.
RUNNER_ROUTES_OFF = {
    path: "off"
    for path in (
        "POST /v1/store/dequeue",
        "POST /v1/store/spans",
        "PATCH /v1/store/rollouts/{rollout_id}/attempts/{attempt_id}",
        "POST /v1/store/rollouts/{rollout_id}/attempts/{attempt_id}/heartbeat",
    )
}


def install_middleware(
    app: FastAPI,
    *,
    token: str | None,
    max_body_bytes: int,
    hot_path: HotOperations | None = None,
    proxy: ProxyCalls | None = None,
    rate_limit: RateLimitSettings | None = None,
    auth: ServerAuth | None = None,
) -> None:
    """``rate_limit``: settings to use; ``None`` reads ``RATE_LIMIT_*`` (enabled by default).
    ``auth``: the prefixes plugins authenticate themselves (see :class:`.auth.ServerAuth`)."""
    # Starlette wraps in reverse order of addition: add innermost first.
    if hot_path is not None:
        app.add_middleware(HotPathMiddleware, operations=hot_path, proxy=proxy)
    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=max_body_bytes)
    if token:
        app.add_middleware(BearerAuthMiddleware, token=token, auth=auth)
    setup_rate_limiting(
        app, rate_limit, open_paths=OPEN_PATHS, default_routes={**PROXY_ROUTES_OFF, **RUNNER_ROUTES_OFF}
    )
