"""``HttpStore``: the :class:`~agentlightning_core.store.LightningStore` interface over HTTP.

A runner cannot tell it from a local store: same methods, same results, same exceptions (the
server sends the exception class name, see :mod:`agentlightning_core.server.errors`). It is the
runner's hot path, so it uses aiohttp (one session, keep-alive) and pydantic-core's JSON
directly; measured on this workload aiohttp on uvloop handles about ten times the requests of
httpx. The server's store runs the watchdog, so this one does not (``sweep`` asks the server).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
import orjson

from . import errors
from .pagination import Page
from .store.base import AttemptSelector, LightningStore
from .types import (
    Attempt,
    AttemptedRollout,
    AttemptStatus,
    Resource,
    ResourcesUpdate,
    Rollout,
    RolloutMode,
    RolloutRequest,
    RolloutStatus,
    Span,
    Worker,
)
from .wire import CLIENT_KEEP_ALIVE_SECONDS, MAX_WAIT_SECONDS, STORE_PREFIX, adapter

_ERROR_TYPES: dict[str, type[errors.AglError]] = {
    cls.__name__: cls
    for cls in (
        errors.InvalidRequestError,
        errors.NotFoundError,
        errors.ConflictError,
        errors.AttemptSupersededError,
        errors.AuthenticationError,
        errors.PayloadTooLargeError,
        errors.BackendUnavailableError,
        errors.NotSupportedError,
    )
}
_ERROR_TYPES["ValidationError"] = errors.InvalidRequestError
_BY_STATUS: dict[int, type[errors.AglError]] = {
    400: errors.InvalidRequestError,
    401: errors.AuthenticationError,
    404: errors.NotFoundError,
    409: errors.ConflictError,
    413: errors.PayloadTooLargeError,
    422: errors.InvalidRequestError,
    501: errors.NotSupportedError,
    502: errors.BackendUnavailableError,
    503: errors.BackendUnavailableError,
    504: errors.BackendUnavailableError,
}
_IDEMPOTENT = frozenset({"GET", "PUT"})


#: how long one call keeps waiting out 429s (the server's Retry-After) before raising
MAX_RATE_LIMITED_WAIT_SECONDS = 60.0


def _retry_after(header: str | None) -> float:
    try:
        return min(max(float(header or 1), 0.05), 30.0)
    except ValueError:  # an HTTP date, or garbage: a short pause
        return 1.0


def error_from_response(status: int, body: bytes) -> errors.AglError:
    """The exception a local store would have raised for this error response."""
    try:
        detail = orjson.loads(body)["error"]
        type_name, message = str(detail["type"]), str(detail["message"])
    except Exception:
        type_name, message = "", body.decode("utf-8", "replace")[:1000] or f"HTTP {status}"
    cls = _ERROR_TYPES.get(type_name) or _BY_STATUS.get(status) or errors.AglError
    return cls(message)


class HttpStore(LightningStore):
    """A remote store served by ``agl serve`` (or a Trainer's server).

    :param url: the server's base URL, e.g. ``http://127.0.0.1:4747``.
    :param token: bearer token; default ``AGL_SERVER_TOKEN`` from the environment.
    :param timeout: seconds to wait for one response (long polls are shorter than this).
    :param max_connections: concurrent connections to the server (0 = unlimited).
    """

    def __init__(
        self, url: str, token: str | None = None, *, timeout: float = 120.0, max_connections: int = 0
    ) -> None:
        super().__init__()
        if not url.startswith(("http://", "https://")):
            raise errors.InvalidRequestError(
                f"HttpStore url {url!r} must start with http:// or https://, e.g. http://127.0.0.1:4747"
            )
        self.url = url.rstrip("/")
        self._store_url = self.url + STORE_PREFIX
        self.token = token if token is not None else (os.environ.get("AGL_SERVER_TOKEN") or None)
        self.timeout = timeout
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"HttpStore({self.url!r})"

    @property
    def runs_watchdog(self) -> bool:
        return False

    # ----------------------------------------------------------------- transport
    async def start(self) -> None:
        await super().start()
        self._get_session()

    async def close(self) -> None:
        await super().close()
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    def _get_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session_loop is not loop:
            headers = {"content-type": "application/json", "accept": "application/json"}
            if self.token:
                headers["authorization"] = f"Bearer {self.token}"
            connector = aiohttp.TCPConnector(
                limit=self.max_connections, keepalive_timeout=CLIENT_KEEP_ALIVE_SECONDS
            )
            self._session = aiohttp.ClientSession(
                headers=headers,
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=self.timeout),
                json_serialize=lambda obj: orjson.dumps(obj).decode(),
            )
            self._session_loop = loop
        return self._session

    async def _call(
        self, method: str, path: str, body: bytes | None = None, params: Mapping[str, Any] | None = None
    ) -> bytes:
        session = self._get_session()
        url = self._store_url + path
        waited = 0.0  # on 429s; a refused request was not processed, so any method may be resent
        attempt = 0
        while attempt < 4:
            try:
                async with session.request(method, url, data=body, params=params) as response:
                    data = await response.read()
                    if response.status == 429 and waited < MAX_RATE_LIMITED_WAIT_SECONDS:
                        delay = _retry_after(response.headers.get("retry-after"))
                        waited += delay
                        await asyncio.sleep(delay)
                        continue
                    if response.status >= 400:
                        raise error_from_response(response.status, data)
                    return data
            except aiohttp.ClientConnectorError as exc:  # nothing was sent: safe to retry
                if attempt == 3:
                    raise self._unreachable(exc) from exc
                await asyncio.sleep(0.1 * 2**attempt)
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
                if method not in _IDEMPOTENT or attempt >= 1:
                    raise self._unreachable(exc) from exc
            except asyncio.TimeoutError as exc:
                raise errors.BackendUnavailableError(
                    f"the Agent Lightning server at {self.url} did not answer {method} {path} within "
                    f"{self.timeout:g}s"
                ) from exc
            attempt += 1
        raise AssertionError("unreachable")

    def _unreachable(self, exc: BaseException) -> errors.BackendUnavailableError:
        return errors.BackendUnavailableError(
            f"cannot reach the Agent Lightning server at {self.url} ({type(exc).__name__}: {exc}); "
            "is `agl serve` running there?"
        )

    @staticmethod
    def _dump(value: Any) -> bytes:
        return orjson.dumps(value)

    # ------------------------------------------------------------------- rollouts
    async def enqueue_rollouts(self, requests: Sequence[RolloutRequest]) -> list[Rollout]:
        if not requests:
            return []
        body = b'{"requests":' + adapter(list[RolloutRequest]).dump_json(list(requests)) + b"}"
        return adapter(list[Rollout]).validate_json(await self._call("POST", "/rollouts", body))

    async def dequeue_rollout(self, worker_id: str | None = None) -> AttemptedRollout | None:
        data = await self._call("POST", "/dequeue", self._dump({"worker_id": worker_id}))
        return None if data == b"null" else AttemptedRollout.model_validate_json(data)

    async def get_rollout(self, rollout_id: str) -> Rollout | None:
        try:
            return Rollout.model_validate_json(await self._call("GET", f"/rollouts/{rollout_id}"))
        except errors.NotFoundError:
            return None

    async def query_rollouts(
        self,
        *,
        status: Sequence[RolloutStatus] | None = None,
        mode: RolloutMode | None = None,
        rollout_ids: Sequence[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
        descending: bool = False,
    ) -> Page[Rollout]:
        query = {
            "status": [RolloutStatus(s).value for s in status] if status is not None else None,
            "mode": mode,
            "rollout_ids": list(rollout_ids) if rollout_ids is not None else None,
            "limit": limit,
            "offset": offset,
            "descending": descending,
        }
        data = await self._call("POST", "/rollouts/query", self._dump(query))
        return Page[Rollout].model_validate_json(data)

    async def search_rollouts(
        self,
        *,
        status: Sequence[RolloutStatus] | None = None,
        mode: RolloutMode | None = None,
        resources_id: str | None = None,
        text: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        descending: bool = True,
    ) -> Page[Rollout]:
        """The server's store searches (one SQL query there), not this client."""
        query = {
            "status": [RolloutStatus(s).value for s in status] if status is not None else None,
            "mode": mode,
            "resources_id": resources_id,
            "text": text,
            "limit": limit,
            "offset": offset,
            "descending": descending,
        }
        data = await self._call("POST", "/rollouts/search", self._dump(query))
        return Page[Rollout].model_validate_json(data)

    async def cancel_rollout(self, rollout_id: str) -> Rollout:
        return Rollout.model_validate_json(await self._call("POST", f"/rollouts/{rollout_id}/cancel"))

    # ------------------------------------------------------------------- attempts
    async def get_attempts(self, rollout_id: str) -> list[Attempt]:
        data = await self._call("GET", f"/rollouts/{rollout_id}/attempts")
        return adapter(list[Attempt]).validate_json(data)

    async def get_latest_attempt(self, rollout_id: str) -> Attempt | None:
        data = await self._call("GET", f"/rollouts/{rollout_id}/attempts/latest")
        return None if data == b"null" else Attempt.model_validate_json(data)

    async def update_attempt(
        self,
        rollout_id: str,
        attempt_id: str,
        *,
        status: AttemptStatus | None = None,
        error: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Attempt:
        body: dict[str, Any] = {}
        if status is not None:
            body["status"] = AttemptStatus(status).value
        if error is not None:
            body["error"] = error
        if metadata is not None:
            body["metadata"] = metadata
        data = await self._call("PATCH", f"/rollouts/{rollout_id}/attempts/{attempt_id}", self._dump(body))
        return Attempt.model_validate_json(data)

    async def heartbeat(self, rollout_id: str, attempt_id: str) -> Attempt:
        data = await self._call("POST", f"/rollouts/{rollout_id}/attempts/{attempt_id}/heartbeat")
        return Attempt.model_validate_json(data)

    # ---------------------------------------------------------------------- spans
    async def add_spans(self, spans: Sequence[Span]) -> list[Span]:
        if not spans:
            return []
        spans = list(spans)
        body = b'{"spans":' + adapter(list[Span]).dump_json(spans) + b"}"
        sequence_ids = orjson.loads(await self._call("POST", "/spans", body))["sequence_ids"]
        return [
            span.model_copy(update={"sequence_id": seq})
            for span, seq in zip(spans, sequence_ids, strict=True)
        ]

    async def query_spans(
        self,
        rollout_id: str,
        *,
        attempt_id: AttemptSelector = None,
        name: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Span]:
        params: dict[str, Any] = {"offset": offset}
        if attempt_id is not None:
            params["attempt_id"] = attempt_id
        if name is not None:
            params["name"] = name
        if limit is not None:
            params["limit"] = limit
        data = await self._call("GET", f"/rollouts/{rollout_id}/spans", params=params)
        return adapter(list[Span]).validate_json(data)

    # ------------------------------------------------------------------ resources
    async def add_resources(self, resources: Mapping[str, Resource]) -> ResourcesUpdate:
        body = b'{"resources":' + adapter(dict[str, Resource]).dump_json(dict(resources)) + b"}"
        return ResourcesUpdate.model_validate_json(await self._call("POST", "/resources", body))

    async def get_resources(self, resources_id: str | None = None) -> ResourcesUpdate | None:
        path = "/resources/latest" if resources_id is None else f"/resources/{resources_id}"
        try:
            return ResourcesUpdate.model_validate_json(await self._call("GET", path))
        except errors.NotFoundError:
            return None

    async def query_resources(self, *, limit: int | None = None, offset: int = 0) -> Page[ResourcesUpdate]:
        params: dict[str, Any] = {"offset": offset}
        if limit is not None:
            params["limit"] = limit
        data = await self._call("GET", "/resources", params=params)
        return Page[ResourcesUpdate].model_validate_json(data)

    # -------------------------------------------------------------------- workers
    async def update_worker(self, worker: Worker) -> Worker:
        body = worker.__pydantic_serializer__.to_json(worker)
        return Worker.model_validate_json(await self._call("PUT", f"/workers/{worker.worker_id}", body))

    async def query_workers(self) -> list[Worker]:
        return adapter(list[Worker]).validate_json(await self._call("GET", "/workers"))

    # ------------------------------------------------------------ watchdog, stats
    async def sweep(self, now: float | None = None) -> list[Attempt]:
        data = await self._call("POST", "/sweep", self._dump({"now": now}))
        return adapter(list[Attempt]).validate_json(data)

    async def statistics(self) -> dict[str, Any]:
        return orjson.loads(await self._call("GET", "/statistics"))

    # ---------------------------------------------------------------------- waits
    async def wait_for_rollouts(
        self, rollout_ids: Sequence[str], timeout: float | None = None
    ) -> list[Rollout]:
        """Long polls of at most 30 s each until every rollout is final or ``timeout`` passes."""
        ids = list(dict.fromkeys(rollout_ids))
        deadline = None if timeout is None else time.monotonic() + timeout
        done: dict[str, Rollout] = {}
        while True:
            pending = [rid for rid in ids if rid not in done]
            left = MAX_WAIT_SECONDS if deadline is None else max(0.0, deadline - time.monotonic())
            body = self._dump({"rollout_ids": pending, "timeout": min(left, MAX_WAIT_SECONDS)})
            data = await self._call("POST", "/rollouts/wait", body)
            for rollout in adapter(list[Rollout]).validate_json(data):
                done[rollout.rollout_id] = rollout
            if len(done) >= len(ids) or (deadline is not None and time.monotonic() >= deadline):
                return [done[rid] for rid in ids if rid in done]
