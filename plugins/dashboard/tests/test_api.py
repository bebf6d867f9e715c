"""The dashboard's HTTP side against a real server (uvicorn in this loop): login and cookie,
refusals, read-only routes, 400/404, masking and truncation."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from agentlightning_dashboard import plugin
from agentlightning_dashboard.session import COOKIE

from agentlightning_core import InMemoryStore
from agentlightning_core.plugin_manager import AglPluginManager
from agentlightning_core.server import create_app
from agentlightning_core.server.run import serve_in_background
from agentlightning_core.types import AttemptStatus, PromptTemplate, Span, semconv

TOKEN = "dash-test-token"


@contextlib.asynccontextmanager
async def served(store: InMemoryStore | None = None, token: str = TOKEN) -> AsyncIterator[tuple[str, Any]]:
    store = store or InMemoryStore()
    manager = AglPluginManager(load_entry_points=False, plugins=[plugin])
    app = create_app(store, token=token, manager=manager)
    async with serve_in_background(app) as url:
        yield url, app


@contextlib.asynccontextmanager
async def logged_in(url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        response = await client.post("/dashboard/login", data={"token": TOKEN})
        assert response.status_code == 303, response.text
        yield client


async def test_login_sets_an_httponly_samesite_cookie_and_opens_the_pages() -> None:
    async with served() as (url, _):
        async with httpx.AsyncClient(base_url=url) as anonymous:
            page = await anonymous.get("/dashboard/")
            assert page.status_code == 303 and page.headers["location"] == "/dashboard/login"
            api = await anonymous.get("/dashboard/api/overview")
            assert api.status_code == 401 and "log in at /dashboard/login" in api.json()["error"]["message"]
            wrong = await anonymous.post("/dashboard/login", data={"token": "nope"})
            assert wrong.status_code == 401 and "Wrong token" in wrong.text
            assert COOKIE not in wrong.cookies
            ok = await anonymous.post("/dashboard/login", data={"token": TOKEN})
            cookie = ok.headers["set-cookie"]
            assert ok.status_code == 303
            assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/dashboard" in cookie
            assert TOKEN not in cookie
            overview = await anonymous.get("/dashboard/api/overview")
            assert overview.status_code == 200 and overview.json()["counts"]["total"] == 0
            # the cookie opens the dashboard only, not the store's API
            assert (await anonymous.get("/v1/store/statistics")).status_code == 401


async def test_a_token_in_the_url_is_refused_even_when_right() -> None:
    async with served() as (url, _):
        async with httpx.AsyncClient(base_url=url) as client:
            for path in ("/dashboard/?token=" + TOKEN, "/dashboard/login?access_token=" + TOKEN):
                response = await client.get(path)
                assert response.status_code == 400
                assert "never accepted" in response.json()["error"]["message"]
            response = await client.post("/dashboard/login?token=" + TOKEN, data={"token": TOKEN})
            assert response.status_code == 400 and COOKIE not in response.cookies


async def test_a_forged_or_expired_cookie_is_refused() -> None:
    async with served() as (url, _):
        expired = f"{int(time.time()) - 10}.{'0' * 64}"
        forged = f"{int(time.time()) + 3600}.{'a' * 64}"
        for value in (expired, forged, "garbage"):
            async with httpx.AsyncClient(base_url=url, cookies={COOKIE: value}) as client:
                assert (await client.get("/dashboard/api/overview")).status_code == 401


async def test_every_route_only_reads_but_login_and_logout() -> None:
    async with served() as (_, app):
        writes = {
            (route.path, method)
            for route in app.state.dashboard.routes
            for method in getattr(route, "methods", set())
            if method not in ("GET", "HEAD")
        }
        assert writes == {("/dashboard/login", "POST"), ("/dashboard/logout", "POST")}


async def test_malformed_filters_get_400_naming_the_parameter() -> None:
    async with served() as (url, _):
        async with logged_in(url) as client:
            cases = {
                "status=done": "'status'",
                "mode=training": "'mode'",
                "page=0": "'page'",
                "page=x": "'page'",
                "per_page=100000": "'per_page'",
                "colour=red": "'colour'",
                "q=" + "x" * 500: "'q'",
            }
            for query, named in cases.items():
                for path in ("/dashboard/api/rollouts", "/dashboard/rollouts"):
                    response = await client.get(f"{path}?{query}")
                    assert response.status_code == 400, (path, query)
                    assert named in response.json()["error"]["message"]
            bad_page = await client.get("/dashboard/api/stream?page=nowhere")
            assert bad_page.status_code == 400


async def test_unknown_rollouts_and_spans_are_404() -> None:
    store = InMemoryStore()
    async with served(store) as (url, _):
        async with logged_in(url) as client:
            page = await client.get("/dashboard/rollouts/ro-missing")
            assert page.status_code == 404 and "ro-missing" in page.text and "<html" in page.text
            assert (await client.get("/dashboard/api/rollouts/ro-missing")).status_code == 404
            rollout = await store.enqueue_rollout({"q": 1})
            missing_span = await client.get(f"/dashboard/api/rollouts/{rollout.rollout_id}/spans/nope")
            assert missing_span.status_code == 404 and "nope" in missing_span.json()["error"]["message"]


async def test_table_filters_searches_and_pages_on_the_server() -> None:
    store = InMemoryStore()
    v1 = await store.add_resources({"p": PromptTemplate(template="a")})
    for i in range(30):
        await store.enqueue_rollout(
            {"question": f"what is {i} + 1", "n": i},
            mode="train" if i % 2 else "val",
            resources_id=v1.resources_id if i < 10 else None,
        )
    async with served(store) as (url, _):
        async with logged_in(url) as client:
            page = (await client.get("/dashboard/api/rollouts?per_page=7&page=2")).json()
            assert page["total"] == 30 and len(page["items"]) == 7
            val = (await client.get("/dashboard/api/rollouts?mode=val&per_page=100")).json()
            assert val["total"] == 15 and {r["mode"] for r in val["items"]} == {"val"}
            by_version = (await client.get(f"/dashboard/api/rollouts?resources_id={v1.resources_id}")).json()
            assert by_version["total"] == 10
            found = (await client.get("/dashboard/api/rollouts?q=WHAT IS 17 %2B")).json()
            assert [r["input"] for r in found["items"]] == ['{"question": "what is 17 + 1", "n": 17}']
            queued = (await client.get("/dashboard/api/rollouts?status=queued,running")).json()
            assert queued["total"] == 30


async def test_detail_masks_pii_and_cuts_huge_spans_with_a_show_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_LIGHTNING_PII_MASKING_ENABLED", "true")
    store = InMemoryStore()
    rollout = await store.enqueue_rollout({"question": "mail alice.smith@example.com"})
    got = await store.dequeue_rollout("w1")
    assert got is not None
    aid = got.attempt.attempt_id
    huge = "x" * 50_000
    call = Span(
        rollout_id=rollout.rollout_id,
        attempt_id=aid,
        name="gen_ai.chat",
        end_time=time.time() + 0.2,
        attributes={
            semconv.SPAN_TYPE: "llm",
            semconv.GEN_AI_REQUEST_MODEL: "scripted",
            semconv.GEN_AI_INPUT_TOKENS: 12,
            semconv.LLM_REQUEST: {"messages": [{"role": "user", "content": "call +1 415 555 0100 " + huge}]},
            semconv.LLM_RESPONSE: {"choices": [{"message": {"role": "assistant", "content": "ok"}}]},
        },
    )
    await store.add_spans([call])
    await store.update_attempt(rollout.rollout_id, aid, status=AttemptStatus.SUCCEEDED)
    async with served(store) as (url, _):
        async with logged_in(url) as client:
            detail = (await client.get(f"/dashboard/api/rollouts/{rollout.rollout_id}")).json()
            assert "alice.smith@example.com" not in str(detail)
            (span,) = detail["spans"]
            prompt = span["llm"]["prompt"][0]["content"]
            assert span["truncated"] is True and "truncated: " in prompt and len(prompt) < 5000
            assert "555 0100" not in prompt
            assert span["llm"]["model"] == "scripted" and span["llm"]["input_tokens"] == 12
            assert detail["triplets"][0]["response"]["content"] == "ok"
            full = (
                await client.get(f"/dashboard/api/rollouts/{rollout.rollout_id}/spans/{span['span_id']}")
            ).json()
            whole = full["attributes"][semconv.LLM_REQUEST]["messages"][0]["content"]
            assert whole.endswith(huge) and "555 0100" not in whole


async def test_masking_off_shows_the_text_as_stored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_LIGHTNING_PII_MASKING_ENABLED", "false")
    store = InMemoryStore()
    await store.enqueue_rollout({"question": "mail alice.smith@example.com"})
    async with served(store) as (url, _):
        async with logged_in(url) as client:
            table = (await client.get("/dashboard/api/rollouts")).json()
            assert "alice.smith@example.com" in table["items"][0]["input"]


async def test_prompt_versions_are_diffed_against_their_parent() -> None:
    store = InMemoryStore()
    await store.add_resources(
        {"system": PromptTemplate(template="You are a calculator.\nReply with a number.")}
    )
    await store.add_resources(
        {"system": PromptTemplate(template="You are a calculator.\nReply with only the number.")}
    )
    async with served(store) as (url, _):
        async with logged_in(url) as client:
            data = (await client.get("/dashboard/api/resources")).json()
            newest, oldest = data["versions"]
            assert oldest["resources"][0]["diff"] is None
            diff = newest["resources"][0]["diff"]
            assert "-Reply with a number." in diff and "+Reply with only the number." in diff
            assert newest["resources"][0]["parent_version"] == oldest["version"]


async def test_without_a_server_token_the_dashboard_is_open_like_the_server() -> None:
    async with served(token="") as (url, _):
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/dashboard/api/overview")).status_code == 200
            assert (await client.get("/dashboard/")).status_code == 200


async def test_the_stream_sends_one_change_for_a_burst_of_events() -> None:
    store = InMemoryStore()
    async with served(store) as (url, _):
        async with (
            logged_in(url) as client,
            client.stream("GET", "/dashboard/api/stream?page=rollouts") as stream,
        ):
            lines = stream.aiter_lines()
            seen: list[str] = []
            while "event: live" not in seen:
                seen.append(await anext(lines))
            for i in range(20):
                await store.enqueue_rollout({"i": i})
            while not any(line.startswith("data:") and '"events":' in line for line in seen):
                seen.append(await anext(lines))
            changes = [line for line in seen if line == "event: change"]
            assert len(changes) == 1
            data = next(line for line in seen if '"events":' in line)
            assert '"events":20' in data and "rollout.enqueued" in data


async def test_the_overview_plots_the_algorithms_logged_rewards_per_step(tmp_path: Any) -> None:
    from agentlightning_core.algorithm import TrainerContext

    store = InMemoryStore()
    async with served(store) as (url, _):
        ctx = TrainerContext(store, output_dir=tmp_path)  # the server gave the store its bus
        for step, reward in enumerate([0.25, 0.5, 0.75], start=1):
            ctx.log_metrics({"train/reward_mean": reward, "train/loss": 1.0 / step}, step=step)
        ctx.log_metrics({"val/reward_mean": 0.6, "val/accuracy": 0.6}, step=3)
        await asyncio.sleep(0.1)
        async with logged_in(url) as client:
            metrics = (await client.get("/dashboard/api/overview")).json()["metrics"]
    assert metrics["available"] is True and metrics["latest_step"] == 3
    assert metrics["series"]["train/reward_mean"] == [[1, 0.25], [2, 0.5], [3, 0.75]]
    assert metrics["series"]["val/reward_mean"] == [[3, 0.6]]
    assert "train/loss" not in metrics["series"]


async def test_the_backends_page_shows_store_statistics_and_the_bus_lag_and_throughput() -> None:
    store = InMemoryStore()
    async with served(store) as (url, _):
        for i in range(30):
            await store.enqueue_rollout({"i": i})
        async with logged_in(url) as client:
            data = (await client.get("/dashboard/api/backends")).json()
    assert data["store"]["kind"] == "InMemoryStore"
    bus = data["bus"]
    assert bus["kind"] == "InMemoryEventBus" and bus["in_outage"] is False
    assert bus["outbox"] is None  # the in-process bus takes events directly
    assert bus["published"] >= 30
    assert 0 <= bus["lag_ms"]["median"] <= bus["lag_ms"]["max"]
    assert bus["events_per_s"] >= 30 / 10  # at least the 30 enqueues within the last 10 s


def test_a_change_message_names_at_most_max_ids_rollouts_and_only_the_pages_rollout() -> None:
    from agentlightning_dashboard.live import MAX_IDS, summarize

    from agentlightning_core.types import Event, EventType, Topic

    events = [
        Event(
            topic=Topic.ROLLOUTS,
            type=EventType.ROLLOUT_STATUS_CHANGED,
            payload={"rollout_id": f"ro-{i % 80}"},
        )
        for i in range(400)
    ] + [Event(topic=Topic.WORKERS, type=EventType.WORKER_UPDATED, payload={"worker_id": "w"})]
    change = summarize(events, None)
    assert change is not None
    assert change["events"] == 401 and change["topics"] == [Topic.ROLLOUTS, Topic.WORKERS]
    assert change["rollout_ids"] == [f"ro-{i}" for i in range(MAX_IDS)]  # first seen first, no repeats
    one = summarize(events, "ro-7")
    assert one == {
        "events": 5,
        "topics": [Topic.ROLLOUTS],
        "types": [EventType.ROLLOUT_STATUS_CHANGED],
        "rollout_ids": ["ro-7"],
    }
    assert summarize(events, "ro-missing") is None
