"""The server's middleware stack, in one place.

Order, outermost first (a request passes them top to bottom)::

    [request logging, PII-masked]   (not yet: the security work adds it here)
    [rate limiting]                 (not yet: the security work adds it here)
    BearerAuthMiddleware            401 before anything else is read
    BodySizeLimitMiddleware         413 before / while the body is read
    FastAPI routes

All are plain ASGI classes (no ``BaseHTTPMiddleware``), which keeps per-request overhead at a
few microseconds; new ones should be too.
"""

from __future__ import annotations

from fastapi import FastAPI

from .auth import BearerAuthMiddleware
from .limits import BodySizeLimitMiddleware


def install_middleware(app: FastAPI, *, token: str | None, max_body_bytes: int) -> None:
    # Starlette wraps in reverse order of addition: add innermost first.
    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=max_body_bytes)
    if token:
        app.add_middleware(BearerAuthMiddleware, token=token)
