"""Request body size limit (413), enforced while the body streams in.

A declared ``Content-Length`` over the limit is refused without buffering anything; a chunked
body is counted as it arrives and refused as soon as it passes the limit, so a client cannot make
the server buffer an unbounded upload.

Refusing a declared body, the server still reads it (and throws it away) before answering, up
to ``DRAIN_MAX_BYTES``: a server that closes a connection with an upload still arriving makes
the kernel reset it, and a client that writes its whole body before reading (Python's
``http.client``, many others) then sees ``ConnectionResetError`` instead of the 413. A body
declared larger than that is not worth reading; it is refused at once and the client may see
the reset.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import PayloadTooLargeError
from .errors import error_response

#: a refused body up to this size is read and discarded so the client gets to read the 413
DRAIN_MAX_BYTES = 256 * 1024 * 1024


def _too_large(size: int | str, limit: int) -> str:
    return (
        f"request body of {size} bytes exceeds the server limit of {limit} bytes; send fewer spans "
        "per request or raise AGL_MAX_BODY_BYTES (agl serve) / max_body_bytes (create_app)"
    )


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        if max_body_bytes <= 0:
            raise ValueError(f"max_body_bytes must be > 0 (got {max_body_bytes})")
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        for key, value in scope["headers"]:
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    if declared <= DRAIN_MAX_BYTES:
                        await _discard_body(receive)
                    response = error_response(413, "PayloadTooLargeError", _too_large(declared, limit))
                    response.headers["connection"] = "close"
                    await response(scope, receive, send)
                    return
                break
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLargeError(_too_large(f"more than {limit}", limit))
            return message

        await self.app(scope, counting_receive, send)


async def _discard_body(receive: Receive) -> None:
    """Read the request body to its end without keeping it."""
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
