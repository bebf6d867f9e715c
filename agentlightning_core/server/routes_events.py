"""The event bus over HTTP: a Server-Sent Events stream and the bus history.

``GET /v1/events?topic=rollouts&topic=attempts`` streams every event published on those topics
from the moment the stream opens, one SSE message each (``id`` = event id, ``event`` = event
type, ``data`` = the event as JSON). A comment line every ``keepalive`` seconds keeps proxies
from closing an idle stream. SSE rather than a websocket: any HTTP client (curl, a browser's
``EventSource``, aiohttp) reads it, and it passes the same bearer auth as every other route.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import StreamingResponse

from ..bus.base import EventBus
from ..errors import InvalidRequestError
from ..types import Event, Topic
from .codec import list_response
from .lifecycle import ShutdownSignal
from .query import forbid_unknown_query

ALL_TOPICS = [Topic.ROLLOUTS, Topic.ATTEMPTS, Topic.RESOURCES, Topic.WORKERS]


def sse_message(event: Event) -> bytes:
    data = event.__pydantic_serializer__.to_json(event)
    return (
        b"id: " + event.event_id.encode() + b"\nevent: " + event.type.encode() + b"\ndata: " + data + b"\n\n"
    )


def events_router(bus: EventBus, shutdown: ShutdownSignal, *, keepalive: float = 15.0) -> APIRouter:
    router = APIRouter(prefix="/v1/events", tags=["events"], dependencies=[Depends(forbid_unknown_query)])

    @router.get(
        "",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}, "description": "an SSE stream"}},
    )
    async def stream_events(
        topic: list[str] | None = Query(None, description=f"repeatable; default: {', '.join(ALL_TOPICS)}"),
    ) -> StreamingResponse:
        topics = _topics(topic)
        subscription = bus.subscribe(topics)
        await subscription.ready()

        async def stream() -> AsyncIterator[bytes]:
            stopping = asyncio.ensure_future(shutdown.wait())
            try:
                yield b": subscribed to " + ",".join(topics).encode() + b"\n\n"
                while not shutdown.is_set:
                    getter = asyncio.ensure_future(subscription.get(timeout=keepalive))
                    await asyncio.wait({getter, stopping}, return_when=asyncio.FIRST_COMPLETED)
                    if not getter.done():
                        getter.cancel()
                        break
                    event = getter.result()
                    yield b": keepalive\n\n" if event is None else sse_message(event)
            finally:
                stopping.cancel()
                await subscription.close()

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )

    @router.get("/history/{topic}", response_model=list[Event])
    async def event_history(topic: str, limit: int = 100, since: str | None = None) -> Response:
        """The bus's recent events of ``topic`` (501 on buses that keep none, e.g. RabbitMQ)."""
        return list_response(list[Event], await bus.get_event_history(topic, limit=limit, since=since))

    return router


def _topics(given: list[str] | None) -> list[str]:
    if not given:
        return list(ALL_TOPICS)
    topics = [t.strip() for item in given for t in item.split(",") if t.strip()]
    if not topics:
        raise InvalidRequestError(
            "query parameter 'topic' is empty; name at least one topic, e.g. ?topic=rollouts"
        )
    return list(dict.fromkeys(topics))
