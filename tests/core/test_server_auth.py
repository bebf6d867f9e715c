"""Bearer auth: every route in the OpenAPI spec but /health refuses a missing or wrong token."""

from __future__ import annotations

import inspect
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from agentlightning_core.client import HttpStore
from agentlightning_core.errors import AuthenticationError
from agentlightning_core.plugin_manager import AglPluginManager
from agentlightning_core.server import create_app, serve_in_background
from agentlightning_core.store.base import LightningStore
from agentlightning_core.store.memory import InMemoryStore

from .server_helpers import TOKEN, Served, served


@pytest.fixture
async def server() -> AsyncIterator[Served]:
    async with served() as s:
        yield s


async def spec_of(server: Served) -> dict[str, Any]:
    async with aiohttp.ClientSession(headers=server.auth) as session:
        async with session.get(f"{server.url}/openapi.json") as response:
            assert response.status == 200
            return await response.json()  # type: ignore[no-any-return]


def operations(spec: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (method.upper(), re.sub(r"\{[^}]+\}", "x", path))
        for path, ops in spec["paths"].items()
        for method in ops
    ]


async def test_every_route_but_health_refuses_missing_and_wrong_tokens(server: Served) -> None:
    spec = await spec_of(server)
    ops = operations(spec)
    assert len(ops) >= 29  # 20 store, 2 events, 6 proxy, health
    headers_cases = {
        "missing": {},
        "wrong": {"authorization": "Bearer not-the-token"},
        "not bearer": {"authorization": TOKEN},
    }
    async with aiohttp.ClientSession() as session:
        for method, path in ops + [("GET", "/openapi.json"), ("GET", "/docs")]:
            for case, headers in headers_cases.items():
                async with session.request(method, server.url + path, headers=headers, json={}) as response:
                    if path == "/health":
                        assert response.status == 200
                        continue
                    assert response.status == 401, f"{method} {path} with a {case} token: {response.status}"
                    body = await response.json()
                    assert body["error"]["type"] == "AuthenticationError"
                    assert response.headers["www-authenticate"] == "Bearer"
    assert (await server.store.statistics())["rollouts"]["total"] == 0  # nothing ran


async def test_spec_declares_bearer_security_on_every_route_but_health(server: Served) -> None:
    spec = await spec_of(server)
    assert spec["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    for path, ops in spec["paths"].items():
        for op in ops.values():
            assert ("security" in op) == (path != "/health"), path


async def test_spec_refs_resolve_and_bodies_are_documented(server: Served) -> None:
    spec = await spec_of(server)
    schemas = spec["components"]["schemas"]
    refs = set(re.findall(r'"\$ref":\s*"#/components/schemas/([^"]+)"', str(spec).replace("'", '"')))
    assert refs and refs <= set(schemas), refs - set(schemas)
    spans = spec["paths"]["/v1/store/spans"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert spans == {"$ref": "#/components/schemas/AddSpansRequest"}
    assert "spans" in schemas["AddSpansRequest"]["properties"]


async def test_every_store_method_has_a_route(server: Served) -> None:
    spec = await spec_of(server)
    operation_ids = " ".join(op["operationId"] for ops in spec["paths"].values() for op in ops.values())
    methods = [
        name
        for name, member in inspect.getmembers(LightningStore, inspect.iscoroutinefunction)
        if not name.startswith("_") and name not in {"start", "close", "__aenter__", "__aexit__"}
    ]
    # the single-item helpers travel as their batch forms
    aliases = {"enqueue_rollout": "enqueue_rollouts", "add_span": "add_spans"}
    missing = [m for m in methods if aliases.get(m, m) not in operation_ids]
    assert not missing, missing


async def test_client_with_wrong_token_raises_authentication_error(server: Served) -> None:
    async with HttpStore(server.url, token="nope") as client:
        with pytest.raises(AuthenticationError, match="wrong bearer token"):
            await client.statistics()


async def test_token_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGL_SERVER_TOKEN", "from-env")
    store = InMemoryStore()
    app = create_app(store, manager=AglPluginManager(load_entry_points=False))
    async with store, serve_in_background(app) as url:
        async with HttpStore(url) as client:  # reads AGL_SERVER_TOKEN too
            assert (await client.statistics())["backend"] == "memory"
        async with HttpStore(url, token="other") as client:
            with pytest.raises(AuthenticationError):
                await client.statistics()


async def test_empty_token_turns_auth_off() -> None:
    async with served(token="") as server, aiohttp.ClientSession() as session:
        async with session.get(f"{server.url}/v1/store/statistics") as response:
            assert response.status == 200
