"""Bad input against the SQL store through the server: 4xx naming the field, never a 500 with
SQL in the body (the issue's case: a worker id over the column's 256 characters on PostgreSQL)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from agentlightning_sql.store import SqlStore

from agentlightning_core.errors import InvalidRequestError
from agentlightning_core.plugin_manager import AglPluginManager
from agentlightning_core.server import create_app, serve_in_background
from agentlightning_core.types import Span, Worker

TOKEN = "limits-token"
HEADERS = {"authorization": f"Bearer {TOKEN}", "content-type": "application/json"}


@contextlib.asynccontextmanager
async def served(url: str) -> AsyncIterator[tuple[str, SqlStore]]:
    store = SqlStore(url)
    app = create_app(store, token=TOKEN, manager=AglPluginManager(load_entry_points=False))
    async with store, serve_in_background(app) as base:
        yield base + "/v1/store", store


async def _call(
    method: str, url: str, body: Any = None, raw: bytes | None = None
) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session:
        data = raw if raw is not None else None
        async with session.request(
            method, url, json=body if raw is None else None, data=data, headers=HEADERS
        ) as r:
            return r.status, await r.json(content_type=None)


def _no_sql(payload: dict[str, Any]) -> None:
    text = str(payload).lower()
    for leak in ("select", "insert", "update ", "[sql", "dbapierror", "sqlalchemy"):
        assert leak not in text, f"{leak!r} leaked into {payload}"


async def test_a_worker_id_over_the_column_is_refused_with_422_naming_it(db_url: str) -> None:
    async with served(db_url) as (api, _):
        await _call("POST", f"{api}/rollouts", {"requests": [{"input": 1}]})
        status, body = await _call("POST", f"{api}/dequeue", {"worker_id": "w" * 300})
        assert status == 422 and "worker_id" in body["error"]["message"]
        _no_sql(body)
        status, body = await _call("PUT", f"{api}/workers/{'w' * 300}", {"worker_id": "w" * 300})
        assert status == 422 and "worker_id" in body["error"]["message"]
        _no_sql(body)
        status, _ = await _call("POST", f"{api}/dequeue", {"worker_id": "w" * 256})
        assert status == 200  # the limit itself is fine


async def test_ids_over_64_characters_are_refused_before_the_database(db_url: str) -> None:
    async with served(db_url) as (api, _):
        status, body = await _call("POST", f"{api}/rollouts", {"requests": [{"resources_id": "r" * 65}]})
        assert status == 422 and "resources_id" in body["error"]["message"]
        span = {"rollout_id": "ro-x", "attempt_id": "at-x", "name": "s", "span_id": "s" * 65}
        status, body = await _call("POST", f"{api}/spans", {"spans": [span]})
        assert status == 422 and "span_id" in body["error"]["message"]
        _no_sql(body)


async def test_nan_in_an_input_is_refused_not_stored_as_null(db_url: str) -> None:
    async with served(db_url) as (api, store):
        status, body = await _call("POST", f"{api}/rollouts", raw=b'{"requests": [{"input": {"x": NaN}}]}')
        assert status in (400, 422) and "NaN" in body["error"]["message"]
        status, body = await _call("POST", f"{api}/rollouts", raw=b'{"requests": [{"input": [Infinity]}]}')
        assert status in (400, 422)
        assert (await store.query_rollouts()).total == 0
        status, _ = await _call(
            "POST", f"{api}/rollouts", raw=b'{"requests": [{"input": "NaN and Infinity"}]}'
        )
        assert status == 200  # the words inside a string are data


async def test_a_direct_caller_gets_a_clean_error_not_the_driver_s(pg_url: str) -> None:
    """Past the API models (a Python caller that skips validation): the database's refusal
    becomes InvalidRequestError without the statement."""
    async with SqlStore(pg_url) as store:
        await store.enqueue_rollout(1)
        taken = await store.dequeue_rollout("w")
        assert taken is not None
        with pytest.raises(InvalidRequestError) as info:
            await store.update_worker(Worker.model_construct(worker_id="w" * 300, metadata={}))
        assert "too long" in str(info.value) and "INSERT" not in str(info.value)
        with pytest.raises(InvalidRequestError):
            span = Span(rollout_id=taken.rollout.rollout_id, attempt_id=taken.attempt.attempt_id, name="x")
            await store.add_spans([span.model_copy(update={"span_id": "s" * 80})])
