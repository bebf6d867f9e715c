"""Every :class:`~agentlightning_core.store.LightningStore` method as a route under ``/v1/store``.

Route map (bodies are JSON; see the OpenAPI spec at ``/openapi.json``):

===================================================  ===========================================
``POST   /v1/store/rollouts``                          ``enqueue_rollouts`` ``{"requests": [...]}``
``POST   /v1/store/dequeue``                           ``dequeue_rollout`` → AttemptedRollout | null
``POST   /v1/store/rollouts/query``                    ``query_rollouts`` (filters in the body)
``POST   /v1/store/rollouts/search``                   ``search_rollouts`` (filters + text in the body)
``POST   /v1/store/rollouts/wait``                     ``wait_for_rollouts`` (long poll, bounded)
``GET    /v1/store/rollouts/{rid}``                    ``get_rollout`` (404 when unknown)
``POST   /v1/store/rollouts/{rid}/cancel``             ``cancel_rollout``
``GET    /v1/store/rollouts/{rid}/attempts``           ``get_attempts``
``GET    /v1/store/rollouts/{rid}/attempts/latest``    ``get_latest_attempt`` → Attempt | null
``PATCH  /v1/store/rollouts/{rid}/attempts/{aid}``     ``update_attempt``
``POST   /v1/store/rollouts/{rid}/attempts/{aid}/heartbeat``  ``heartbeat``
``POST   /v1/store/spans``                             ``add_spans`` → ``{"sequence_ids": [...]}``
``GET    /v1/store/rollouts/{rid}/spans``              ``query_spans``
``POST   /v1/store/resources``                         ``add_resources``
``GET    /v1/store/resources``                         ``query_resources``
``GET    /v1/store/resources/latest``                  ``get_resources()`` (404 when none)
``GET    /v1/store/resources/{id}``                    ``get_resources(id)`` (404 when unknown)
``PUT    /v1/store/workers/{worker_id}``               ``update_worker``
``GET    /v1/store/workers``                           ``query_workers``
``POST   /v1/store/sweep``                             ``sweep`` (the watchdog, on demand)
``GET    /v1/store/statistics``                        ``statistics``
===================================================  ===========================================
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from ..errors import InvalidRequestError, NotFoundError
from ..pagination import Page
from ..store.base import LightningStore
from ..types import Attempt, AttemptedRollout, ResourcesUpdate, Rollout, Span, Worker
from ..types.limits import WORKER_ID_MAX_LENGTH
from ..wire import MAX_WAIT_SECONDS, STORE_PREFIX
from .codec import JSON, json_response, list_response, model_response, parse_body
from .hotpath import HotOperations
from .lifecycle import ShutdownSignal
from .openapi import body_spec
from .query import forbid_unknown_query
from .schemas import (
    AddResourcesRequest,
    AddSpansRequest,
    AddSpansResponse,
    DequeueRequest,
    EnqueueRequest,
    QueryRolloutsRequest,
    SearchRolloutsRequest,
    SweepRequest,
    UpdateAttemptRequest,
    WaitRequest,
)

PREFIX = STORE_PREFIX


def store_router(store: LightningStore, hot: HotOperations, shutdown: ShutdownSignal) -> APIRouter:
    """Routes bound to ``store``; the runner's hot path goes through ``hot``."""
    router = APIRouter(prefix=PREFIX, tags=["store"], dependencies=[Depends(forbid_unknown_query)])

    # ------------------------------------------------------------------ rollouts
    @router.post("/rollouts", response_model=list[Rollout], openapi_extra=body_spec(EnqueueRequest))
    async def enqueue_rollouts(request: Request) -> Response:
        body = await parse_body(request, EnqueueRequest)
        return list_response(list[Rollout], await store.enqueue_rollouts(body.requests))

    @router.post(
        "/dequeue",
        response_model=AttemptedRollout | None,
        openapi_extra=body_spec(DequeueRequest, required=False),  # no body: no worker id
    )
    async def dequeue_rollout(request: Request) -> Response:
        return Response(await hot.dequeue(await request.body()), media_type=JSON)

    @router.post(
        "/rollouts/query", response_model=Page[Rollout], openapi_extra=body_spec(QueryRolloutsRequest)
    )
    async def query_rollouts(request: Request) -> Response:
        body = await parse_body(request, QueryRolloutsRequest)
        page = await store.query_rollouts(
            status=body.status,
            mode=body.mode,
            rollout_ids=body.rollout_ids,
            limit=body.limit,
            offset=body.offset,
            descending=body.descending,
        )
        return model_response(page)

    @router.post(
        "/rollouts/search", response_model=Page[Rollout], openapi_extra=body_spec(SearchRolloutsRequest)
    )
    async def search_rollouts(request: Request) -> Response:
        body = await parse_body(request, SearchRolloutsRequest)
        page = await store.search_rollouts(
            status=body.status,
            mode=body.mode,
            resources_id=body.resources_id,
            text=body.text,
            limit=body.limit,
            offset=body.offset,
            descending=body.descending,
        )
        return model_response(page)

    @router.post("/rollouts/wait", response_model=list[Rollout], openapi_extra=body_spec(WaitRequest))
    async def wait_for_rollouts(request: Request) -> Response:
        """Long poll: returns when every rollout is final or after ``timeout`` (at most 30 s)."""
        body = await parse_body(request, WaitRequest)
        timeout = MAX_WAIT_SECONDS if body.timeout is None else min(body.timeout, MAX_WAIT_SECONDS)
        waiting = asyncio.ensure_future(store.wait_for_rollouts(body.rollout_ids, timeout))
        if not await shutdown.race(waiting):
            # the server is stopping: answer with what is final now, the client retries elsewhere
            page = await store.query_rollouts(rollout_ids=body.rollout_ids)
            return list_response(list[Rollout], [r for r in page.items if r.status.is_final])
        return list_response(list[Rollout], waiting.result())

    @router.get("/rollouts/{rollout_id}", response_model=Rollout)
    async def get_rollout(rollout_id: str) -> Response:
        rollout = await store.get_rollout(rollout_id)
        if rollout is None:
            raise NotFoundError(f"rollout {rollout_id!r} does not exist")
        return model_response(rollout)

    @router.post("/rollouts/{rollout_id}/cancel", response_model=Rollout)
    async def cancel_rollout(rollout_id: str) -> Response:
        return model_response(await store.cancel_rollout(rollout_id))

    # ------------------------------------------------------------------ attempts
    @router.get("/rollouts/{rollout_id}/attempts", response_model=list[Attempt])
    async def get_attempts(rollout_id: str) -> Response:
        return list_response(list[Attempt], await store.get_attempts(rollout_id))

    @router.get("/rollouts/{rollout_id}/attempts/latest", response_model=Attempt | None)
    async def get_latest_attempt(rollout_id: str) -> Response:
        return model_response(await store.get_latest_attempt(rollout_id))

    @router.patch(
        "/rollouts/{rollout_id}/attempts/{attempt_id}",
        response_model=Attempt,
        openapi_extra=body_spec(UpdateAttemptRequest),
    )
    async def update_attempt(rollout_id: str, attempt_id: str, request: Request) -> Response:
        """Served by :class:`~.hotpath.HotPathMiddleware`; documented (and reachable without it) here."""
        return Response(
            await hot.update_attempt(rollout_id, attempt_id, await request.body()), media_type=JSON
        )

    @router.post("/rollouts/{rollout_id}/attempts/{attempt_id}/heartbeat", response_model=Attempt)
    async def heartbeat(rollout_id: str, attempt_id: str) -> Response:
        return model_response(await store.heartbeat(rollout_id, attempt_id))

    # --------------------------------------------------------------------- spans
    @router.post("/spans", response_model=AddSpansResponse, openapi_extra=body_spec(AddSpansRequest))
    async def add_spans(request: Request) -> Response:
        """Served by :class:`~.hotpath.HotPathMiddleware`; documented (and reachable without it) here."""
        return Response(await hot.add_spans(await request.body()), media_type=JSON)

    @router.get("/rollouts/{rollout_id}/spans", response_model=list[Span])
    async def query_spans(
        rollout_id: str,
        attempt_id: str | None = Query(None, description="an attempt id, or 'latest'"),
        name: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> Response:
        spans = await store.query_spans(
            rollout_id, attempt_id=attempt_id, name=name, limit=limit, offset=offset
        )
        return list_response(list[Span], spans)

    # ----------------------------------------------------------------- resources
    @router.post("/resources", response_model=ResourcesUpdate, openapi_extra=body_spec(AddResourcesRequest))
    async def add_resources(request: Request) -> Response:
        body = await parse_body(request, AddResourcesRequest)
        return model_response(await store.add_resources(body.resources))

    @router.get("/resources", response_model=Page[ResourcesUpdate])
    async def query_resources(limit: int | None = None, offset: int = 0) -> Response:
        return model_response(await store.query_resources(limit=limit, offset=offset))

    @router.get("/resources/latest", response_model=ResourcesUpdate)
    async def get_latest_resources() -> Response:
        update = await store.get_resources()
        if update is None:
            raise NotFoundError("no resources have been published yet")
        return model_response(update)

    @router.get("/resources/{resources_id}", response_model=ResourcesUpdate)
    async def get_resources(resources_id: str) -> Response:
        update = await store.get_resources(resources_id)
        if update is None:
            raise NotFoundError(f"resources {resources_id!r} do not exist")
        return model_response(update)

    # ------------------------------------------------------------------- workers
    @router.put("/workers/{worker_id}", response_model=Worker, openapi_extra=body_spec(Worker))
    async def update_worker(
        request: Request, worker_id: str = Path(max_length=WORKER_ID_MAX_LENGTH)
    ) -> Response:
        worker = await parse_body(request, Worker)
        if worker.worker_id != worker_id:
            raise InvalidRequestError(
                f"worker_id in the body ({worker.worker_id!r}) differs from the path ({worker_id!r})"
            )
        return model_response(await store.update_worker(worker))

    @router.get("/workers", response_model=list[Worker])
    async def query_workers() -> Response:
        return list_response(list[Worker], await store.query_workers())

    # ------------------------------------------------------------ watchdog, stats
    @router.post(
        "/sweep", response_model=list[Attempt], openapi_extra=body_spec(SweepRequest, required=False)
    )
    async def sweep(request: Request) -> Response:
        now = (await parse_body(request, SweepRequest)).now if await request.body() else None
        return list_response(list[Attempt], await store.sweep(now=now))

    @router.get("/statistics", response_model=dict[str, Any])
    async def statistics() -> Response:
        stats = await store.statistics()
        if store.outbox is not None:  # events waiting for (or dropped during) a bus outage
            stats["outbox"] = store.outbox.statistics()
        return json_response(stats)

    return router
