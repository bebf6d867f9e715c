"""Server routes over real HTTP: error mapping, validation naming the field, body limit, hooks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from agentlightning_core import hookimpl
from agentlightning_core.plugin_manager import AglPluginManager
from agentlightning_core.server import create_app, serve_in_background
from agentlightning_core.store.memory import InMemoryStore
from agentlightning_core.types import AttemptStatus, RolloutConfig

from .server_helpers import TOKEN, Served, served


@pytest.fixture
async def server() -> AsyncIterator[Served]:
    async with served() as s:
        yield s


async def request(
    server: Served, method: str, path: str, *, raw: bytes | None = None, auth: bool = True, **kwargs: Any
) -> tuple[int, Any]:
    headers = dict(server.auth) if auth else {}
    if raw is not None:
        headers["content-type"] = "application/json"
        kwargs["data"] = raw
    async with aiohttp.ClientSession() as session:
        async with session.request(method, server.url + path, headers=headers, **kwargs) as response:
            body = await response.json(content_type=None)
            return response.status, body


async def running(server: Served) -> tuple[str, str]:
    await server.client.enqueue_rollout("t")
    got = await server.client.dequeue_rollout("w")
    assert got is not None
    return got.rollout.rollout_id, got.attempt.attempt_id


async def test_health_is_open(server: Served) -> None:
    assert await request(server, "GET", "/health", auth=False) == (200, {"status": "ok", "version": "0.1.0"})


async def test_not_found_maps_to_404_with_error_body(server: Served) -> None:
    status, body = await request(server, "GET", "/v1/store/rollouts/ro-missing/attempts")
    assert status == 404
    assert body == {"error": {"type": "NotFoundError", "message": "rollout 'ro-missing' does not exist"}}


async def test_conflict_maps_to_409(server: Served) -> None:
    rid, aid = await running(server)
    await server.client.update_attempt(rid, aid, status=AttemptStatus.FAILED)
    status, body = await request(
        server, "PATCH", f"/v1/store/rollouts/{rid}/attempts/{aid}", json={"status": "succeeded"}
    )
    assert status == 409 and body["error"]["type"] == "ConflictError"
    assert "already ended as 'failed'" in body["error"]["message"]


async def test_invalid_request_maps_to_400(server: Served) -> None:
    status, body = await request(server, "POST", "/v1/store/rollouts/query", json={"limit": -1})
    assert status == 400 and body["error"]["type"] == "InvalidRequestError"
    assert "limit must be >= 0" in body["error"]["message"]


async def test_malformed_json_is_400(server: Served) -> None:
    status, body = await request(server, "POST", "/v1/store/spans", raw=b'{"spans": [')
    assert status == 400 and "not valid JSON" in body["error"]["message"]


async def test_invalid_body_is_422_naming_the_field(server: Served) -> None:
    rid, aid = await running(server)
    spans = [{"rollout_id": rid, "attempt_id": aid, "name": "ok"}, {"rollout_id": rid, "attempt_id": aid}]
    status, body = await request(server, "POST", "/v1/store/spans", json={"spans": spans})
    assert status == 422 and body["error"]["type"] == "ValidationError"
    assert "'body.spans.1.name'" in body["error"]["message"]
    assert body["error"]["fields"][0]["field"] == "body.spans.1.name"
    assert (await server.store.statistics())["spans"]["total"] == 0  # nothing half-stored


async def test_wrong_enum_and_unknown_field_are_named(server: Served) -> None:
    rid, aid = await running(server)
    status, body = await request(
        server, "PATCH", f"/v1/store/rollouts/{rid}/attempts/{aid}", json={"status": "done", "colour": 1}
    )
    assert status == 422
    fields = {f["field"] for f in body["error"]["fields"]}
    assert fields == {"body.status", "body.colour"}


async def test_bad_query_parameter_is_422_naming_it(server: Served) -> None:
    rid, _ = await running(server)
    status, body = await request(server, "GET", f"/v1/store/rollouts/{rid}/spans?limit=many")
    assert status == 422 and body["error"]["fields"][0]["field"] == "query.limit"


async def test_bad_rollout_config_is_422_naming_the_nested_field(server: Served) -> None:
    status, body = await request(
        server, "POST", "/v1/store/rollouts", json={"requests": [{"input": 1, "config": {"max_attempts": 0}}]}
    )
    assert status == 422 and body["error"]["fields"][0]["field"] == "body.requests.0.config.max_attempts"


async def test_unknown_route_is_404_json(server: Served) -> None:
    status, body = await request(server, "GET", "/v1/store/nothing-here")
    assert status == 404 and body["error"]["type"] == "NotFound"


async def test_worker_id_mismatch_is_400(server: Served) -> None:
    status, body = await request(server, "PUT", "/v1/store/workers/w1", json={"worker_id": "w2"})
    assert status == 400 and "differs from the path" in body["error"]["message"]


async def test_add_spans_answers_only_sequence_ids(server: Served) -> None:
    rid, aid = await running(server)
    spans = [{"rollout_id": rid, "attempt_id": aid, "name": f"s{i}"} for i in range(3)]
    assert await request(server, "POST", "/v1/store/spans", json={"spans": spans}) == (
        200,
        {"sequence_ids": [1, 2, 3]},
    )


async def test_sweep_route_runs_the_watchdog(server: Served) -> None:
    rid, aid = await running(server)
    await server.client.enqueue_rollout("x", config=RolloutConfig(timeout_seconds=1))
    got = await server.client.dequeue_rollout()
    assert got is not None
    status, body = await request(server, "POST", "/v1/store/sweep", json={"now": time.time() + 10})
    assert status == 200 and [a["attempt_id"] for a in body] == [got.attempt.attempt_id]
    assert body[0]["status"] == "timeout"
    status, body = await request(server, "POST", "/v1/store/sweep")
    assert (status, body) == (200, [])


async def test_statistics_route(server: Served) -> None:
    await running(server)
    status, body = await request(server, "GET", "/v1/store/statistics")
    assert status == 200 and body["backend"] == "memory" and body["rollouts"]["running"] == 1


async def test_wait_is_a_bounded_long_poll(server: Served) -> None:
    rid, aid = await running(server)
    start = time.monotonic()
    status, body = await request(
        server, "POST", "/v1/store/rollouts/wait", json={"rollout_ids": [rid], "timeout": 0.2}
    )
    assert (status, body) == (200, [])
    assert 0.15 <= time.monotonic() - start < 2

    async def finish() -> None:
        await asyncio.sleep(0.1)
        await server.client.update_attempt(rid, aid, status=AttemptStatus.SUCCEEDED)

    task = asyncio.create_task(finish())
    status, body = await request(
        server, "POST", "/v1/store/rollouts/wait", json={"rollout_ids": [rid], "timeout": 500}
    )
    await task
    assert status == 200 and [r["status"] for r in body] == ["succeeded"]
    status, body = await request(
        server, "POST", "/v1/store/rollouts/wait", json={"rollout_ids": [rid], "timeout": -1}
    )
    assert status == 422 and body["error"]["fields"][0]["field"] == "body.timeout"


async def test_client_loops_long_polls_past_the_server_bound(
    server: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    import agentlightning_core.client as client_module

    monkeypatch.setattr(client_module, "MAX_WAIT_SECONDS", 0.1)
    rid, aid = await running(server)

    async def finish() -> None:
        await asyncio.sleep(0.5)
        await server.client.update_attempt(rid, aid, status=AttemptStatus.SUCCEEDED)

    task = asyncio.create_task(finish())
    done = await server.client.wait_for_rollouts([rid], timeout=10)  # needs ~5 polls of 0.1 s
    await task
    assert [r.rollout_id for r in done] == [rid]


async def test_shutdown_ends_a_pending_long_poll_promptly() -> None:
    store = InMemoryStore()
    app = create_app(store, token="", manager=AglPluginManager(load_entry_points=False))
    async with store, aiohttp.ClientSession() as session:
        rollout = await store.enqueue_rollout("t")
        async with serve_in_background(app) as url:
            poll = asyncio.ensure_future(
                session.post(f"{url}/v1/store/rollouts/wait", json={"rollout_ids": [rollout.rollout_id]})
            )
            await asyncio.sleep(0.2)
            assert not poll.done()
            start = time.monotonic()
        assert time.monotonic() - start < 2  # not the 30 s the poll would otherwise last
        response = await poll
        assert response.status == 200 and await response.json() == []  # answered, not cut off


async def test_body_over_the_limit_is_413() -> None:
    async with served(max_body_bytes=2000) as server:
        rid, aid = await running(server)
        spans = [{"rollout_id": rid, "attempt_id": aid, "name": "x" * 500} for _ in range(10)]
        status, body = await request(server, "POST", "/v1/store/spans", json={"spans": spans})
        assert status == 413 and body["error"]["type"] == "PayloadTooLargeError"
        assert "2000 bytes" in body["error"]["message"]

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
            yield b'{"spans": ['
            for _ in range(10):
                yield b'{"rollout_id": "r", "attempt_id": "a", "name": "' + b"y" * 500 + b'"},'
            yield b"]}"

        status, body = await request(server, "POST", "/v1/store/spans", raw=None, data=chunks())
        assert status == 413
        assert (await server.store.statistics())["spans"]["total"] == 0
        small = [{"rollout_id": rid, "attempt_id": aid, "name": "ok"}]
        assert (await request(server, "POST", "/v1/store/spans", json={"spans": small}))[0] == 200


async def test_plugins_extend_the_app_and_their_routes_need_the_token() -> None:
    class Extension:
        @hookimpl
        def agl_server_app(self, app: Any) -> None:
            @app.get("/x/hello")
            async def hello() -> dict[str, str]:
                return {"hello": "plugin"}

    manager = AglPluginManager(load_entry_points=False, plugins=[Extension()])
    async with served(manager=manager) as server:
        assert await request(server, "GET", "/x/hello") == (200, {"hello": "plugin"})
        assert (await request(server, "GET", "/x/hello", auth=False))[0] == 401


async def test_serve_in_background_reports_a_failed_startup_without_killing_the_loop() -> None:
    class BrokenStore(InMemoryStore):
        async def start(self) -> None:
            raise RuntimeError("database is on fire")

    app = create_app(BrokenStore(), token="", manager=AglPluginManager(load_entry_points=False))
    with pytest.raises(RuntimeError, match="failed to start"):
        async with serve_in_background(app):
            pass
    assert asyncio.get_running_loop().is_running()


async def test_serve_in_background_binds_port_zero_to_a_real_port() -> None:
    app = create_app(InMemoryStore(), token=TOKEN, manager=AglPluginManager(load_entry_points=False))
    async with serve_in_background(app, port=0) as url:
        port = int(url.rsplit(":", 1)[1])
        assert port > 0
        async with aiohttp.ClientSession() as session, session.get(f"{url}/health") as response:
            assert response.status == 200


async def test_documented_hot_routes_answer_like_the_hot_path() -> None:
    """Dequeue / spans / update are served by HotPathMiddleware; the FastAPI routes that document
    them must give the same answers when reached without it (e.g. mounted in another app)."""
    import httpx

    from agentlightning_core.server.hotpath import HotPathMiddleware

    store = InMemoryStore()
    app = create_app(store, token="", manager=AglPluginManager(load_entry_points=False))
    app.user_middleware = [m for m in app.user_middleware if m.cls is not HotPathMiddleware]
    await store.enqueue_rollout("t")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as direct:
        got = (await direct.post("/v1/store/dequeue", json={"worker_id": "w"})).json()
        rid, aid = got["rollout"]["rollout_id"], got["attempt"]["attempt_id"]
        spans = [{"rollout_id": rid, "attempt_id": aid, "name": "s"}]
        assert (await direct.post("/v1/store/spans", json={"spans": spans})).json() == {"sequence_ids": [1]}
        done = await direct.patch(f"/v1/store/rollouts/{rid}/attempts/{aid}", json={"status": "succeeded"})
        assert done.json()["status"] == "succeeded"
        bad = await direct.patch(f"/v1/store/rollouts/{rid}/attempts/{aid}", json={"status": "nope"})
        assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "body.status"
    assert (await store.get_rollout(rid)).status.value == "succeeded"  # type: ignore[union-attr]


async def test_paths_near_the_hot_path_fall_through_to_the_router(server: Served) -> None:
    rid, aid = await running(server)
    status, body = await request(server, "PATCH", f"/v1/store/rollouts/{rid}/tries/{aid}", json={})
    assert status in (404, 405) and "error" in body
    status, body = await request(server, "PATCH", f"/v1/store/rollouts/{rid}/attempts/{aid}/extra", json={})
    assert status in (404, 405)
    status, body = await request(server, "GET", "/v1/store/dequeue")
    assert status == 405
