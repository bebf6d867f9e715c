"""One Server-Sent Events stream per open page, fed by the event bus.

The stream does not forward every bus event: it gathers them for :data:`COALESCE_SECONDS` and
sends one ``change`` message naming the topics and rollouts that changed; the page then fetches
its one JSON document again. A training run that finishes 500 rollouts a second thus costs an
open page two small messages a second, and the browser two requests, however busy the bus is.

When the bus fails (a Redis restart), the stream sends ``bus-down`` with the error and ends; the
browser's ``EventSource`` reconnects after ``retry`` milliseconds and the page says so meanwhile.
The answer is always a 200 stream: an ``EventSource`` gives up for good on an error status.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from agentlightning_core.bus.base import EventBus
from agentlightning_core.types import Event, Topic

log = logging.getLogger(__name__)

COALESCE_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0
#: how often the stream looks at the bus's health while no event comes
STATUS_SECONDS = 1.0
RETRY_MS = 2000
#: rollout ids one ``change`` message names at most
MAX_IDS = 50

PAGE_TOPICS = {
    "overview": [Topic.ROLLOUTS, Topic.RESOURCES, Topic.WORKERS, Topic.METRICS],
    "rollouts": [Topic.ROLLOUTS],
    "rollout": [Topic.ROLLOUTS, Topic.ATTEMPTS],
    "resources": [Topic.RESOURCES],
    "backends": [Topic.ROLLOUTS, Topic.WORKERS],
}


def message(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def page_stream(
    bus: EventBus, page: str, shutdown: Any, rollout_id: str | None = None, store: Any = None
) -> AsyncIterator[bytes]:
    """The SSE body for one page (``page`` is a key of :data:`PAGE_TOPICS`, already checked).

    ``store``: whose outbox tells when the bus refuses events (a networked bus reconnects its
    subscriptions by itself, so the stream would otherwise just go quiet): the page then shows
    ``bus-down`` until events flow again (``live``, and a ``change`` so it catches up).
    """
    yield f"retry: {RETRY_MS}\n\n".encode()
    subscription = bus.subscribe(PAGE_TOPICS[page])
    try:
        try:
            await subscription.ready()
        except Exception as exc:  # the bus is down right now: say so; the browser retries
            yield message("bus-down", {"error": f"{type(exc).__name__}: {exc}"})
            return
        yield message("live", {"topics": PAGE_TOPICS[page]})
        last_sent = time.monotonic()
        down = False
        while not shutdown.is_set:
            try:
                first = await subscription.get(timeout=STATUS_SECONDS)
            except Exception as exc:
                yield message("bus-down", {"error": f"{type(exc).__name__}: {exc}"})
                return
            outage = bool(store is not None and store.bus_in_outage)
            if outage != down:
                down = outage
                if down:
                    yield message("bus-down", {"error": "the event bus refuses events; the store keeps them"})
                else:
                    yield message("live", {"topics": PAGE_TOPICS[page], "recovered": True})
                    yield message(
                        "change", {"events": 0, "topics": PAGE_TOPICS[page], "types": [], "rollout_ids": []}
                    )
                last_sent = time.monotonic()
            if first is None:
                if time.monotonic() - last_sent > KEEPALIVE_SECONDS:
                    yield b": keepalive\n\n"
                    last_sent = time.monotonic()
                continue
            events = [first]
            await asyncio.sleep(COALESCE_SECONDS)
            try:
                events.extend(await drain(subscription))
            except Exception:
                pass  # what was gathered still goes out; the next get reports the outage
            change = summarize(events, rollout_id)
            if change is not None:
                yield message("change", change)
                last_sent = time.monotonic()
    finally:
        try:
            await subscription.close()
        except Exception as exc:  # a dead bus may fail to close; the stream is over anyway
            log.debug("dashboard stream: closing the subscription failed: %s", exc)


async def drain(subscription: Any) -> list[Event]:
    """Every event waiting in ``subscription``, without waiting for more.

    A queue-fed subscription (the in-process bus, Redis' and RabbitMQ's receive loops) is emptied
    directly: a ``get(timeout)`` per event would cost a timer and a task each, which at thousands
    of events a second is a measurable share of the server's one event loop.
    """
    queue = getattr(subscription, "queue", None)
    if isinstance(queue, asyncio.Queue):
        out: list[Event] = []
        while not queue.empty():
            out.append(queue.get_nowait())
        return out
    out = []
    while (event := await subscription.get(timeout=0)) is not None:
        out.append(event)
    return out


def summarize(events: list[Event], rollout_id: str | None) -> dict[str, Any] | None:
    """One ``change`` message for a batch of events; ``None`` when none concerns the page.

    One pass over the batch, and rollout ids only until :data:`MAX_IDS` are found: at thousands
    of events a second this loop is most of what an open page costs the server besides its
    refetches (``benchmarks/dashboard_stream_cost.py --profile``).
    """
    topics: set[str] = set()
    types: set[str] = set()
    ids: dict[str, None] = {}
    count = 0
    for event in events:
        rid = event.payload.get("rollout_id")
        if rollout_id is not None and rid != rollout_id:
            continue
        count += 1
        topics.add(event.topic)
        types.add(event.type)
        if rid is not None and len(ids) < MAX_IDS:
            ids[str(rid)] = None
    if count == 0 and rollout_id is not None:
        return None
    return {"events": count, "topics": sorted(topics), "types": sorted(types), "rollout_ids": list(ids)}
