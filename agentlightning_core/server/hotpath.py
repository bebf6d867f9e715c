"""The runner's hot path -- dequeue, add spans, finish the attempt -- served without FastAPI.

Each rollout costs a runner three requests, and with thousands of rollouts a second the generic
machinery (routing through every route, dependency solving, Request/Response objects) cost more
than the store work itself. :class:`HotPathMiddleware` recognises those three requests by method
and path and answers them with plain ASGI messages; everything else, and the OpenAPI
documentation of these three, stays with FastAPI. Both call the same :class:`HotOperations`, so
behaviour cannot drift. It sits inside the auth and body-limit middleware, which still apply.
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import AglError, InvalidRequestError
from ..proxy.recorder import SpanRecorder
from ..store.base import LightningStore
from ..wire import STORE_PREFIX
from .codec import BodyValidationError, parse_json
from .errors import agl_error_response, body_validation_response
from .schemas import AddSpansRequest, DequeueRequest, UpdateAttemptRequest

_DEQUEUE = STORE_PREFIX + "/dequeue"
_SPANS = STORE_PREFIX + "/spans"
_ROLLOUTS = STORE_PREFIX + "/rollouts/"
_JSON_HEADERS = [(b"content-type", b"application/json")]


class HotOperations:
    """Bytes in, bytes out: the three operations, shared by the middleware and the routes."""

    def __init__(self, store: LightningStore, recorder: SpanRecorder) -> None:
        self.store = store
        self.recorder = recorder

    async def dequeue(self, body: bytes) -> bytes:
        worker_id = parse_json(body, DequeueRequest).worker_id if body else None
        got = await self.store.dequeue_rollout(worker_id)
        return b"null" if got is None else got.__pydantic_serializer__.to_json(got)

    async def add_spans(self, body: bytes) -> bytes:
        spans = parse_json(body, AddSpansRequest).spans
        stored = await self.store.add_spans(spans)
        return orjson.dumps({"sequence_ids": [s.sequence_id for s in stored]})

    async def update_attempt(self, rollout_id: str, attempt_id: str, body: bytes) -> bytes:
        update = parse_json(body, UpdateAttemptRequest)
        if update.status is not None and update.status.is_final and self.recorder.pending(attempt_id):
            # the attempt's last LLM calls must be in the store before anyone sees it finished
            await self.recorder.flush(attempt_id)
        attempt = await self.store.update_attempt(
            rollout_id, attempt_id, status=update.status, error=update.error, metadata=update.metadata
        )
        return attempt.__pydantic_serializer__.to_json(attempt)


class HotPathMiddleware:
    def __init__(self, app: ASGIApp, operations: HotOperations) -> None:
        self.app = app
        self.ops = operations

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        ids: list[str] | None = None
        if method == "POST" and (path == _DEQUEUE or path == _SPANS):
            pass
        elif method == "PATCH" and path.startswith(_ROLLOUTS):
            parts = path[len(_ROLLOUTS) :].split("/")  # {rid}/attempts/{aid}
            if len(parts) != 3 or parts[1] != "attempts" or not parts[0] or not parts[2]:
                await self.app(scope, receive, send)
                return
            ids = [parts[0], parts[2]]
        else:
            await self.app(scope, receive, send)
            return
        try:
            if scope.get("query_string"):  # as forbid_unknown_query does for the FastAPI routes
                name = scope["query_string"].split(b"&")[0].split(b"=")[0].decode("latin-1")
                raise InvalidRequestError(f"unknown query parameter {name!r}; this route takes: none")
            body = await _read_body(receive)
            if ids is not None:
                payload = await self.ops.update_attempt(ids[0], ids[1], body)
            elif path == _DEQUEUE:
                payload = await self.ops.dequeue(body)
            else:
                payload = await self.ops.add_spans(body)
        except AglError as exc:
            await agl_error_response(exc, method, path)(scope, receive, send)
            return
        except BodyValidationError as exc:
            await body_validation_response(exc)(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": _JSON_HEADERS + [(b"content-length", str(len(payload)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
