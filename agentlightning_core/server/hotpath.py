"""The hot paths -- a runner's dequeue, add spans, finish, and LLM calls through the proxy --
served without FastAPI.

Each rollout costs a runner three requests, and with thousands of rollouts a second the generic
machinery (routing through every route, dependency solving, Request/Response objects) cost more
than the store work itself (and, for the proxy, than forwarding the call). :class:`HotPathMiddleware`
recognises those requests by method and path and answers them with plain ASGI messages;
everything else, and the OpenAPI documentation of these routes, stays with FastAPI. Both call
the same :class:`HotOperations` / :class:`~agentlightning_core.proxy.routes.ProxyCalls`, so
behaviour cannot drift. It sits inside the auth and body-limit middleware, which still apply.
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import AglError, InvalidRequestError
from ..proxy.recorder import SpanRecorder
from ..proxy.routes import ProxyCalls
from ..store.base import LightningStore
from ..types import semconv
from ..wire import STORE_PREFIX
from .codec import BodyValidationError, parse_json
from .errors import agl_error_response, body_validation_response
from .schemas import AddSpansRequest, DequeueRequest, UpdateAttemptRequest

_DEQUEUE = STORE_PREFIX + "/dequeue"
_SPANS = STORE_PREFIX + "/spans"
_ROLLOUTS = STORE_PREFIX + "/rollouts/"
_COMPLETIONS = "/completions"
_AGENT_HEADER = semconv.AGENT_HEADER.encode()
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
    """Answers the hot requests itself; passes everything else on to FastAPI."""

    def __init__(self, app: ASGIApp, operations: HotOperations, proxy: ProxyCalls | None = None) -> None:
        self.app = app
        self.ops = operations
        self.proxy = proxy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method, path = scope["method"], scope["path"]
            if method == "POST":
                if path == _DEQUEUE or path == _SPANS:
                    await self._store(scope, receive, send, None)
                    return
                if self.proxy is not None and path.endswith(_COMPLETIONS):
                    target = _proxy_target(path)
                    if target is not None:
                        await self._complete(scope, receive, send, *target)
                        return
            elif method == "PATCH" and path.startswith(_ROLLOUTS):
                parts = path[len(_ROLLOUTS) :].split("/")  # {rid}/attempts/{aid}
                if len(parts) == 3 and parts[1] == "attempts" and parts[0] and parts[2]:
                    await self._store(scope, receive, send, (parts[0], parts[2]))
                    return
        await self.app(scope, receive, send)

    async def _store(self, scope: Scope, receive: Receive, send: Send, ids: tuple[str, str] | None) -> None:
        path = scope["path"]
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
            await agl_error_response(exc, scope["method"], path)(scope, receive, send)
            return
        except BodyValidationError as exc:
            await body_validation_response(exc)(scope, receive, send)
            return
        headers = [*_JSON_HEADERS, (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    async def _complete(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        operation: str,
        rollout_id: str | None,
        attempt_id: str | None,
    ) -> None:
        assert self.proxy is not None
        agent_name = traceparent = None
        for key, value in scope["headers"]:
            if key == _AGENT_HEADER:
                agent_name = value.decode("latin-1")
            elif key == b"traceparent":
                traceparent = value.decode("latin-1")
        try:
            response = await self.proxy.complete(
                operation,
                await _read_body(receive),
                rollout_id=rollout_id,
                attempt_id=attempt_id,
                agent_name=agent_name,
                traceparent=traceparent,
            )
        except AglError as exc:
            response = agl_error_response(exc, scope["method"], scope["path"])
        await response(scope, receive, send)


def _proxy_target(path: str) -> tuple[str, str | None, str | None] | None:
    """(operation, rollout_id, attempt_id) for a completion path, else None."""
    if path == "/v1/chat/completions":
        return "chat", None, None
    if path == "/v1/completions":
        return "text_completion", None, None
    parts = path.split("/")  # "", rollout, {rid}, attempt, {aid}, v1, chat?, completions
    if len(parts) < 7 or parts[1] != "rollout" or parts[3] != "attempt" or parts[5] != "v1":
        return None
    if not parts[2] or not parts[4]:
        return None
    if len(parts) == 8 and parts[6] == "chat":
        return "chat", parts[2], parts[4]
    if len(parts) == 7:
        return "text_completion", parts[2], parts[4]
    return None


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
