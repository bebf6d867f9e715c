"""``ServerAuth.delegate``: a plugin's browser pages authenticate themselves; nothing else opens."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from agentlightning_core import InMemoryStore, hookimpl
from agentlightning_core.plugin_manager import AglPluginManager
from agentlightning_core.server import create_app
from agentlightning_core.server.auth import ServerAuth
from agentlightning_core.server.run import serve_in_background


class Pages:
    @hookimpl
    def agl_server_app(self, app: Any) -> None:
        auth: ServerAuth = app.state.auth
        auth.delegate("/pages")

        @app.get("/pages/hello")
        async def hello(key: str = "") -> dict[str, bool]:
            return {"token_ok": auth.check(key)}

        @app.get("/pagesX")
        async def lookalike() -> dict[str, str]:
            return {"open": "no"}


async def test_a_delegated_prefix_skips_the_bearer_check_and_nothing_else_does() -> None:
    app = create_app(
        InMemoryStore(), token="sekret", manager=AglPluginManager(load_entry_points=False, plugins=[Pages()])
    )
    async with serve_in_background(app) as url, httpx.AsyncClient(base_url=url) as client:
        assert (await client.get("/pages/hello?key=nope")).json() == {"token_ok": False}
        assert (await client.get("/pages/hello?key=sekret")).json() == {"token_ok": True}
        assert (await client.get("/pagesX")).status_code == 401  # a prefix, not a string prefix
        assert (await client.get("/v1/store/statistics")).status_code == 401


def test_derived_keys_differ_by_purpose_and_token() -> None:
    a, b = ServerAuth("one"), ServerAuth("two")
    assert a.derived_key("x") != a.derived_key("y")
    assert a.derived_key("x") != b.derived_key("x")
    assert ServerAuth(None).check("anything") and not a.check("two")


def test_core_routes_cannot_be_delegated() -> None:
    auth = ServerAuth("t")
    for prefix in ("/", "", "/v1", "/v1/store", "/rollout/r/attempt/a/v1"):
        with pytest.raises(ValueError, match="the core serves it"):
            auth.delegate(prefix)
