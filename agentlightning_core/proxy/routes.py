"""The OpenAI-compatible LLM proxy: ``/v1/chat/completions``, ``/v1/completions``, ``/v1/models``.

The same routes under ``/rollout/{rollout_id}/attempt/{attempt_id}/v1/...`` attribute each call
to an attempt and record one ``llm`` span for it (request, response, token ids, log-probs,
usage, latency; the agent from ``X-AGL-Agent``; trace and parent ids from ``traceparent``). A
rollout's LLM resource points there (``LLM.for_attempt``), so the agent needs no change.

Spans are built and recorded after the answer is on its way (see :mod:`.recorder`), so recording
adds no latency to the call.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from ..engine import LLMEngine
from ..errors import AglError, BackendUnavailableError, InvalidRequestError, NotFoundError
from ..ratelimit.providers import admit_provider_call
from ..store.base import LightningStore
from ..types import semconv
from .assemble import StreamAssembler
from .recorder import SpanRecorder
from .spans import llm_span

JSON = "application/json"
ATTEMPT_PREFIX = "/rollout/{rollout_id}/attempt/{attempt_id}"
_ANY_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object", "description": "OpenAI request body"}}},
    }
}


class AttemptCheck:
    """Is ``(rollout_id, attempt_id)`` an attempt of this store? Positive answers are cached."""

    def __init__(self, store: LightningStore, size: int = 10_000) -> None:
        self.store = store
        self.size = size
        self._known: OrderedDict[tuple[str, str], None] = OrderedDict()

    async def check(self, rollout_id: str, attempt_id: str) -> None:
        key = (rollout_id, attempt_id)
        if key in self._known:
            self._known.move_to_end(key)
            return
        hint = (
            "; the proxy path /rollout/{rollout_id}/attempt/{attempt_id}/v1 must name an attempt of this "
            "server's store (use LLM.for_attempt with a dequeued attempt)"
        )
        try:
            attempts = await self.store.get_attempts(rollout_id)
        except NotFoundError:
            raise NotFoundError(f"rollout {rollout_id!r} does not exist{hint}") from None
        if all(a.attempt_id != attempt_id for a in attempts):
            raise NotFoundError(f"attempt {attempt_id!r} of rollout {rollout_id!r} does not exist{hint}")
        self._known[key] = None
        if len(self._known) > self.size:
            self._known.popitem(last=False)


class ProxyCalls:
    """One proxied call, from request bytes to the response; shared by the FastAPI routes and
    the server's hot path (which serves the completion routes without FastAPI's routing)."""

    def __init__(
        self, engine: LLMEngine | None, store: LightningStore, recorder: SpanRecorder, app_state: Any = None
    ) -> None:
        self.engine = engine
        self.recorder = recorder
        self.attempts = AttemptCheck(store)
        #: the app's ``state``: rate limiting puts its limiter there (read at call time)
        self.app_state = app_state

    def need_engine(self) -> LLMEngine:
        if self.engine is None:
            raise BackendUnavailableError(
                "this server has no LLM engine; start it with `agl serve --engine NAME` "
                "(e.g. --engine openai --engine-option base_url=http://host:8000/v1)"
            )
        return self.engine

    async def models(self, rollout_id: str | None = None, attempt_id: str | None = None) -> Response:
        llm = self.need_engine()
        if rollout_id is not None and attempt_id is not None:
            await self.attempts.check(rollout_id, attempt_id)
        return Response(orjson.dumps({"object": "list", "data": await llm.models()}), media_type=JSON)

    async def complete(
        self,
        operation: str,
        raw: bytes,
        *,
        rollout_id: str | None = None,
        attempt_id: str | None = None,
        agent_name: str | None = None,
        traceparent: str | None = None,
    ) -> Response:
        """Answer a ``chat`` or ``text_completion`` call; record a span when it is attributed."""
        llm = self.need_engine()
        if rollout_id is not None and attempt_id is not None:
            await self.attempts.check(rollout_id, attempt_id)
        body = _parse(raw, operation)
        routed = llm.model_for_agent(agent_name)  # e.g. the agent's own LoRA adapter
        if routed is not None:
            body = {**body, "model": routed}
        provider = llm.provider(body)  # the engine's name, or where a routing engine sends this model
        limiter = getattr(self.app_state, "rate_limiter", None)
        if limiter is not None:  # RATE_LIMIT_PROVIDERS: one budget per upstream, waits then 429
            await admit_provider_call(limiter, self.app_state.rate_limit_settings, provider)
        plain: Callable[[dict[str, Any]], Any]
        if operation == "chat":
            plain, streamed = llm.chat_completions, llm.chat_completions_stream
        else:
            plain, streamed = llm.completions, llm.completions_stream
        start = time.time()
        recorder = self.recorder

        def record(response: dict[str, Any] | None, error: str | None = None) -> None:
            if rollout_id is None or attempt_id is None:
                return
            end, version = time.time(), llm.weights_version  # as of now, though built later
            recorder.record_later(
                attempt_id,
                lambda: llm_span(
                    rollout_id=rollout_id,
                    attempt_id=attempt_id,
                    operation=operation,
                    system=provider,
                    request=body,
                    response=response,
                    start_time=start,
                    end_time=end,
                    agent_name=agent_name,
                    traceparent=traceparent,
                    weights_version=version,
                    error=error,
                ),
            )

        if not body.get("stream"):
            try:
                response = await plain(body)
            except Exception as exc:
                record(None, f"{type(exc).__name__}: {exc}")
                raise
            record(response)
            return Response(orjson.dumps(response), media_type=JSON)

        chunks = streamed(body).__aiter__()
        try:  # the first chunk before the headers, so an engine error still gets its status code
            first = await chunks.__anext__()
        except StopAsyncIteration:
            first = None
        except Exception as exc:
            record(None, f"{type(exc).__name__}: {exc}")
            raise
        return StreamingResponse(
            _relay(first, chunks, StreamAssembler(operation), record),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )


def proxy_router(calls: ProxyCalls) -> APIRouter:
    """The proxy's routes, for the OpenAPI spec and for requests the hot path does not take."""
    router = APIRouter(tags=["llm proxy"])

    async def call(
        request: Request, operation: str, rollout_id: str | None = None, attempt_id: str | None = None
    ) -> Response:
        return await calls.complete(
            operation,
            await request.body(),
            rollout_id=rollout_id,
            attempt_id=attempt_id,
            agent_name=request.headers.get(semconv.AGENT_HEADER),
            traceparent=request.headers.get("traceparent"),
        )

    @router.post("/v1/chat/completions", openapi_extra=_ANY_BODY)
    async def chat_completions(request: Request) -> Response:
        return await call(request, "chat")

    @router.post("/v1/completions", openapi_extra=_ANY_BODY)
    async def completions(request: Request) -> Response:
        return await call(request, "text_completion")

    @router.get("/v1/models")
    async def models() -> Response:
        return await calls.models()

    @router.post(ATTEMPT_PREFIX + "/v1/chat/completions", openapi_extra=_ANY_BODY)
    async def attempt_chat_completions(request: Request, rollout_id: str, attempt_id: str) -> Response:
        return await call(request, "chat", rollout_id, attempt_id)

    @router.post(ATTEMPT_PREFIX + "/v1/completions", openapi_extra=_ANY_BODY)
    async def attempt_completions(request: Request, rollout_id: str, attempt_id: str) -> Response:
        return await call(request, "text_completion", rollout_id, attempt_id)

    @router.get(ATTEMPT_PREFIX + "/v1/models")
    async def attempt_models(rollout_id: str, attempt_id: str) -> Response:
        return await calls.models(rollout_id, attempt_id)

    return router


def _parse(raw: bytes, operation: str) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequestError(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequestError("request body must be a JSON object")
    field = "messages" if operation == "chat" else "prompt"
    if operation == "chat" and not isinstance(body.get("messages"), list):
        raise InvalidRequestError(f"field {field!r} is required and must be a list of messages")
    if operation == "text_completion" and body.get("prompt") is None:
        raise InvalidRequestError(f"field {field!r} is required")
    return body


async def _relay(
    first: dict[str, Any] | None,
    chunks: AsyncIterator[dict[str, Any]],
    assembler: StreamAssembler,
    record: Callable[[dict[str, Any] | None, str | None], None],
) -> AsyncIterator[bytes]:
    """SSE-encode the engine's chunks for the client while assembling the span's response."""
    error: str | None = "client disconnected before the stream ended"
    try:
        if first is not None:
            assembler.add(first)
            yield b"data: " + orjson.dumps(first) + b"\n\n"
            async for chunk in chunks:
                assembler.add(chunk)
                yield b"data: " + orjson.dumps(chunk) + b"\n\n"
        error = None
        yield b"data: [DONE]\n\n"
    except AglError as exc:
        error = f"{type(exc).__name__}: {exc}"
        payload = {
            "error": {
                "type": getattr(exc, "error_type", None) or type(exc).__name__,
                "message": str(exc),
                "code": getattr(exc, "code", None) or exc.status_code,
            }
        }
        yield b"data: " + orjson.dumps(payload) + b"\n\n"
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        payload = {"error": {"type": "InternalServerError", "message": error, "code": 500}}
        yield b"data: " + orjson.dumps(payload) + b"\n\n"
    finally:
        record(assembler.response(), error)
