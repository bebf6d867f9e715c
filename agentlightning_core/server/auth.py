"""Bearer-token authentication for every route but the open ones (``/health``).

A plain ASGI middleware rather than a FastAPI dependency: it covers routes plugins add through
``agl_server_app`` too, and it refuses a request before the body is read. The comparison is
constant-time (``hmac.compare_digest``) so response timing does not leak the token.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import error_response

OPEN_PATHS = frozenset({"/health"})


class BearerAuthMiddleware:
    def __init__(self, app: ASGIApp, token: str, open_paths: Iterable[str] = OPEN_PATHS) -> None:
        if not token:
            raise ValueError("BearerAuthMiddleware needs a non-empty token")
        self.app = app
        self._expected = f"Bearer {token}".encode()
        self.open_paths = frozenset(open_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        given = b""
        for key, value in scope["headers"]:
            if key == b"authorization":
                given = value
                break
        if hmac.compare_digest(given, self._expected):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        reason = "missing" if not given else "wrong"
        response = error_response(
            401,
            "AuthenticationError",
            f"{reason} bearer token: send 'Authorization: Bearer <token>' with the server's "
            "AGL_SERVER_TOKEN (HttpStore reads it from the environment)",
        )
        response.headers["www-authenticate"] = "Bearer"
        await response(scope, receive, send)
