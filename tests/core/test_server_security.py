"""Rate limiting wired into the server and the LLM proxy; the client waits out 429s."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from agentlightning_core.proxy.upstream import OpenAIEngine
from agentlightning_core.ratelimit import RateLimitSettings

from .scripted_upstream import MODEL, ScriptedUpstream, scripted_upstream
from .server_helpers import TOKEN, served


@pytest.fixture
async def upstream() -> AsyncIterator[ScriptedUpstream]:
    async with scripted_upstream() as up:
        yield up


async def _get(session: aiohttp.ClientSession, url: str, token: str | None = TOKEN) -> aiohttp.ClientResponse:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with session.get(url, headers=headers) as response:
        await response.read()
        return response


async def test_server_answers_429_with_headers_past_the_limit_and_health_stays_open() -> None:
    async with served(rate_limit=RateLimitSettings(max_requests=3, window_seconds=30)) as server:
        async with aiohttp.ClientSession() as session:
            answers = [await _get(session, f"{server.url}/v1/store/statistics") for _ in range(4)]
            health = [await _get(session, f"{server.url}/health", None) for _ in range(5)]
    assert [r.status for r in answers] == [200, 200, 200, 429]
    assert answers[0].headers["x-ratelimit-limit"] == "3"
    assert answers[2].headers["x-ratelimit-remaining"] == "0"
    assert int(answers[3].headers["retry-after"]) >= 1
    assert {r.status for r in health} == {200}


async def test_wrong_token_floods_are_limited_before_auth() -> None:
    async with served(rate_limit=RateLimitSettings(max_requests=2, window_seconds=30)) as server:
        async with aiohttp.ClientSession() as session:
            statuses = [
                (await _get(session, f"{server.url}/v1/store/statistics", "wrong")).status for _ in range(3)
            ]
            good = await _get(session, f"{server.url}/v1/store/statistics")
    assert statuses == [401, 401, 429]
    assert good.status == 200  # the real token's budget is its own


async def test_http_store_waits_out_429s_instead_of_failing() -> None:
    async with served(rate_limit=RateLimitSettings(max_requests=2, window_seconds=1)) as server:
        start = time.monotonic()
        results = [await server.client.statistics() for _ in range(5)]
        took = time.monotonic() - start
    assert all(r["backend"] == "memory" for r in results)
    assert took >= 1.0  # it had to wait for the window at least once


async def test_rate_limit_disabled_sends_no_headers() -> None:
    async with served(rate_limit=RateLimitSettings(enabled=False)) as server:
        async with aiohttp.ClientSession() as session:
            response = await _get(session, f"{server.url}/v1/store/statistics")
    assert response.status == 200 and "x-ratelimit-limit" not in response.headers


async def test_proxy_is_limited_per_provider_not_per_client(upstream: ScriptedUpstream) -> None:
    settings = RateLimitSettings(
        max_requests=1, window_seconds=30, providers={"openai": "2/30"}, provider_max_wait_seconds=0
    )
    engine = OpenAIEngine(base_url=upstream.url)
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    try:
        async with served(engine=engine, rate_limit=settings) as server, aiohttp.ClientSession() as session:
            statuses, retry = [], None
            for _ in range(3):
                async with session.post(
                    f"{server.url}/v1/chat/completions", json=body, headers=server.auth
                ) as response:
                    statuses.append(response.status)
                    payload = await response.json()
                    retry = response.headers.get("retry-after", retry)
    finally:
        await engine.close()
    # the per-client limit (1) does not apply to the proxy; the provider's (2) does
    assert statuses == [200, 200, 429], payload
    assert payload["error"]["type"] == "RateLimitExceeded" and "openai" in payload["error"]["message"]
    assert retry is not None and int(retry) >= 1
    assert len(upstream.requests) == 2  # the refused call never reached the upstream


async def test_proxy_call_waits_for_a_provider_slot_when_allowed(upstream: ScriptedUpstream) -> None:
    settings = RateLimitSettings(providers={"*": "1/1"}, provider_max_wait_seconds=5)
    engine = OpenAIEngine(base_url=upstream.url)
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    try:
        async with served(engine=engine, rate_limit=settings) as server, aiohttp.ClientSession() as session:
            start = time.monotonic()
            for _ in range(2):
                async with session.post(
                    f"{server.url}/v1/chat/completions", json=body, headers=server.auth
                ) as response:
                    assert response.status == 200
            took = time.monotonic() - start
    finally:
        await engine.close()
    assert took >= 0.9  # the second call waited for the window instead of failing


RUNNER_AGENT = """
from agentlightning_core import rollout

@rollout
async def agent(task):
    return 1.0
"""


@pytest.mark.slow
async def test_a_runner_with_a_wrong_token_stops_with_an_error_naming_the_token(tmp_path: Path) -> None:
    agent_file = tmp_path / "agents.py"
    agent_file.write_text(RUNNER_AGENT)
    async with served() as server:
        await server.client.enqueue_rollout("t")
        env = {**os.environ, "AGL_SERVER_TOKEN": "not-the-token", "AGL_NO_PLUGIN_COMMANDS": "1"}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "agentlightning_core.cli", "runner", "--server", server.url,
            "--agent", f"{agent_file}:agent", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode != 0
        assert "bearer token" in err.decode()
        assert (await server.store.statistics())["attempts"]["total"] == 0  # it took nothing


async def test_span_upload_over_the_configured_body_limit_is_413(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGL_MAX_BODY_BYTES", "4096")  # read by create_app like AGL_SERVER_TOKEN
    async with served() as server, aiohttp.ClientSession(headers=server.auth) as session:
        await server.client.enqueue_rollout("t")
        got = await server.client.dequeue_rollout("w")
        assert got is not None
        span = {"rollout_id": got.rollout.rollout_id, "attempt_id": got.attempt.attempt_id, "name": "llm"}
        big = {"spans": [{**span, "attributes": {"prompt": "x" * 8000}}]}
        async with session.post(f"{server.url}/v1/store/spans", json=big) as response:
            body = await response.json()
            assert response.status == 413 and "AGL_MAX_BODY_BYTES" in body["error"]["message"]
        chat = {"model": MODEL, "messages": [{"role": "user", "content": "y" * 8000}]}
        async with session.post(f"{server.url}/v1/chat/completions", json=chat) as response:
            assert response.status == 413  # LLM call uploads through the proxy too
        async with session.post(f"{server.url}/v1/store/spans", json={"spans": [span]}) as response:
            assert response.status == 200
        assert (await server.store.statistics())["spans"]["total"] == 1


async def test_runner_per_rollout_routes_are_off_the_per_client_count() -> None:
    from agentlightning_core.client import HttpStore
    from agentlightning_core.types import AttemptStatus, RolloutRequest, Span

    async with served(rate_limit=RateLimitSettings(max_requests=3, window_seconds=60)) as server:
        await server.store.enqueue_rollouts([RolloutRequest(input=i) for i in range(5)])
        async with HttpStore(server.url, token=TOKEN) as client:
            for _ in range(5):  # 5 x (dequeue + spans + heartbeat + finish) = 20 requests, limit 3
                got = await client.dequeue_rollout("w")
                assert got is not None
                rid, aid = got.rollout.rollout_id, got.attempt.attempt_id
                await client.add_spans([Span(rollout_id=rid, attempt_id=aid, name="s")])
                await client.heartbeat(rid, aid)
                await client.update_attempt(rid, aid, status=AttemptStatus.SUCCEEDED)
        async with aiohttp.ClientSession() as session:
            statuses = [(await _get(session, f"{server.url}/v1/store/statistics")).status for _ in range(4)]
    assert statuses == [200, 200, 200, 429]  # everything else keeps the per-client budget
