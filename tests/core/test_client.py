"""HttpStore specifics the store conformance suite does not cover (it runs that suite too)."""

from __future__ import annotations

import socket
import time

import pytest

from agentlightning_core.client import HttpStore, error_from_response
from agentlightning_core.errors import (
    AglError,
    BackendUnavailableError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
)
from agentlightning_core.plugin_manager import AglPluginManager
from agentlightning_core.store.open import open_store
from agentlightning_core.types import Span

from .server_helpers import Served, served


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_http_urls_open_an_http_store_without_a_watchdog() -> None:
    store = open_store("http://127.0.0.1:4747", manager=AglPluginManager(load_entry_points=False))
    assert isinstance(store, HttpStore) and store.url == "http://127.0.0.1:4747"
    assert store.runs_watchdog is False


def test_url_without_http_scheme_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="http://"):
        HttpStore("127.0.0.1:4747")


async def test_unreachable_server_raises_backend_unavailable_naming_it() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with HttpStore(url) as store:
        start = time.monotonic()
        with pytest.raises(BackendUnavailableError, match="agl serve") as info:
            await store.dequeue_rollout()
        assert url in str(info.value)
        assert time.monotonic() - start < 5  # a few quick retries, then a clear error


def test_error_responses_map_to_the_local_exception_classes() -> None:
    body = b'{"error": {"type": "ConflictError", "message": "attempt ended"}}'
    assert isinstance(error_from_response(409, body), ConflictError)
    assert str(error_from_response(409, body)) == "attempt ended"
    validation = b'{"error": {"type": "ValidationError", "message": "invalid field"}}'
    assert isinstance(error_from_response(422, validation), InvalidRequestError)
    assert isinstance(error_from_response(404, b"<html>nope</html>"), NotFoundError)
    assert isinstance(error_from_response(503, b""), BackendUnavailableError)
    other = error_from_response(418, b"teapot")
    assert type(other) is AglError and "teapot" in str(other)


async def test_add_spans_returns_the_spans_with_their_sequence_ids() -> None:
    server: Served
    async with served() as server:
        await server.client.enqueue_rollout("t")
        got = await server.client.dequeue_rollout()
        assert got is not None
        rid, aid = got.rollout.rollout_id, got.attempt.attempt_id
        sent = [Span(rollout_id=rid, attempt_id=aid, name=f"s{i}", attributes={"i": i}) for i in range(3)]
        stored = await server.client.add_spans(sent)
        assert [s.sequence_id for s in stored] == [1, 2, 3]
        assert [s.model_dump(exclude={"sequence_id"}) for s in stored] == [
            s.model_dump(exclude={"sequence_id"}) for s in sent
        ]
        assert all(s.sequence_id is None for s in sent)  # the caller's objects are untouched
        assert await server.client.add_spans([]) == []


async def test_store_can_be_reused_after_close() -> None:
    async with served() as server:
        store = HttpStore(server.url, token=server.client.token)
        async with store:
            await store.enqueue_rollout("a")
        async with store:
            assert (await store.statistics())["rollouts"]["total"] == 1
