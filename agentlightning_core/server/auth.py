"""Bearer-token authentication for every route but the open ones (``/health``).

A plain ASGI middleware rather than a FastAPI dependency: it covers routes plugins add through
``agl_server_app`` too, and it refuses a request before the body is read. The comparison is
constant-time (``hmac.compare_digest``) so response timing does not leak the token.

A plugin whose pages a browser opens (a dashboard) cannot send an ``Authorization`` header on a
page load. :class:`ServerAuth` (``app.state.auth``) lets such a plugin take over authentication
of its own path prefix (``auth.delegate("/dashboard")``) and check a token a person typed
(``auth.check``) or sign its session cookies with a key derived from the token
(``auth.derived_key``), without ever seeing the token itself.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import error_response

OPEN_PATHS = frozenset({"/health"})
#: what the core serves itself; no plugin may take over its authentication
CORE_PREFIXES = ("/v1", "/rollout", "/health", "/docs", "/redoc", "/openapi.json")


class ServerAuth:
    """The server's token, as far as plugins may use it. ``enabled`` is False without a token."""

    def __init__(self, token: str | None) -> None:
        self._token = (token or "").encode()
        self._delegated: list[str] = []

    @property
    def enabled(self) -> bool:
        return bool(self._token)

    def check(self, given: str) -> bool:
        """Whether ``given`` is the server's token (constant time); always True without one."""
        return not self._token or hmac.compare_digest(given.encode(), self._token)

    def derived_key(self, purpose: str) -> bytes:
        """A secret for ``purpose`` (e.g. signing cookies) that changes when the token does."""
        return hmac.new(self._token, b"agl-derived-key:" + purpose.encode(), hashlib.sha256).digest()

    def delegate(self, prefix: str) -> None:
        """Leave requests under ``prefix`` (``/dashboard`` and ``/dashboard/...``) to the plugin
        that serves them: it must authenticate them itself, e.g. by a cookie it signs with
        :meth:`derived_key`. The core's routes cannot be delegated."""
        prefix = "/" + prefix.strip("/")
        if prefix == "/" or any(prefix == c or prefix.startswith(c + "/") for c in CORE_PREFIXES):
            raise ValueError(f"cannot delegate authentication of {prefix!r}: the core serves it")
        self._delegated.append(prefix)

    def is_delegated(self, path: str) -> bool:
        return any(path == p or path.startswith(p + "/") for p in self._delegated)


class BearerAuthMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        token: str,
        open_paths: Iterable[str] = OPEN_PATHS,
        auth: ServerAuth | None = None,
    ) -> None:
        if not token:
            raise ValueError("BearerAuthMiddleware needs a non-empty token")
        self.app = app
        self._expected = f"Bearer {token}".encode()
        self.open_paths = frozenset(open_paths)
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        if self.auth is not None and self.auth.is_delegated(scope["path"]):
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
