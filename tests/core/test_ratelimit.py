"""Rate limiting: settings, the limiter on memory and Redis, the ASGI middleware, the decorator."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from agentlightning_core.ratelimit import (
    Limit,
    Limiter,
    RateLimitExceeded,
    RateLimitSettings,
    client_identity,
    rate_limited,
    setup_rate_limiting,
)

REDIS_URL = "redis://127.0.0.1:6379/0"


def _prefix() -> str:
    return f"agl-test-rl-{uuid.uuid4().hex[:10]}"


@pytest.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[Limiter]:
    url = "memory://" if request.param == "memory" else REDIS_URL
    yield Limiter(url, key_prefix=_prefix())


# --- settings ---------------------------------------------------------------------------------


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATE_LIMIT_MAX_REQUESTS", "7")
    monkeypatch.setenv("RATE_LIMIT_WINDOW_SECONDS", "3")
    monkeypatch.setenv("RATE_LIMIT_ROUTES", '{"POST /v1/spans": "100/60", "/v1/events": "off"}')
    settings = RateLimitSettings()
    assert settings.default_limit == Limit(7, 3)
    assert settings.route_limits() == {("POST", "/v1/spans"): Limit(100, 60), (None, "/v1/events"): None}


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("RATE_LIMIT_MAX_REQUESTS", "0", "max_requests"),
        ("RATE_LIMIT_WINDOW_SECONDS", "-1", "window_seconds"),
        ("RATE_LIMIT_ENABLED", "perhaps", "enabled"),
        ("RATE_LIMIT_STORAGE_URL", "mysql://x", "RATE_LIMIT_STORAGE_URL"),
        ("RATE_LIMIT_ROUTES", '{"/v1/spans": "lots"}', "RATE_LIMIT_ROUTES"),
        ("RATE_LIMIT_ROUTES", '{"v1/spans": "1/1"}', "RATE_LIMIT_ROUTES"),
        ("RATE_LIMIT_PROVIDERS", '{"openai": "5 per hour"}', "RATE_LIMIT_PROVIDERS"),
        ("RATE_LIMIT_STRATEGY", "token-bucket", "strategy"),
    ],
)
def test_bad_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=named):
        RateLimitSettings()


def test_provider_limit_falls_back_to_the_star_entry() -> None:
    settings = RateLimitSettings(providers={"openai": "5/1", "*": "2/1"})
    assert settings.provider_limit("openai") == Limit(5, 1)
    assert settings.provider_limit("vllm") == Limit(2, 1)
    assert RateLimitSettings().provider_limit("openai") is None


# --- the limiter: memory and Redis give the same answers ----------------------------------------


async def _script(limiter: Limiter) -> list[tuple[bool, int]]:
    limit = Limit(3, 1)
    out = []
    for _ in range(5):
        d = await limiter.hit(limit, "b", "alice")
        out.append((d.allowed, d.remaining))
    other = await limiter.hit(limit, "b", "bob")  # another identity has its own count
    out.append((other.allowed, other.remaining))
    await asyncio.sleep(1.1)  # the window has moved past every counted hit
    for _ in range(4):
        d = await limiter.hit(limit, "b", "alice")
        out.append((d.allowed, d.remaining))
    return out


async def test_memory_and_redis_storages_give_the_same_decisions(limiter: Limiter) -> None:
    assert await _script(limiter) == [
        (True, 2), (True, 1), (True, 0), (False, 0), (False, 0),
        (True, 2),
        (True, 2), (True, 1), (True, 0), (False, 0),
    ]  # fmt: skip


async def test_a_refusal_says_when_to_retry(limiter: Limiter) -> None:
    limit = Limit(2, 2)
    await limiter.hit(limit, "b", "k")
    await limiter.hit(limit, "b", "k")
    refused = await limiter.hit(limit, "b", "k")
    assert not refused.allowed
    assert 0 < refused.retry_after <= 2
    headers = refused.headers()
    assert headers["Retry-After"] in ("1", "2") and headers["X-RateLimit-Remaining"] == "0"
    assert int(headers["X-RateLimit-Reset"]) >= int(time.time())


async def test_moving_window_admits_exactly_the_limit_under_concurrency(limiter: Limiter) -> None:
    limit = Limit(25, 30)
    decisions = await asyncio.gather(*(limiter.hit(limit, "b", "same") for _ in range(80)))
    assert sum(d.allowed for d in decisions) == 25


def test_sync_hits_count_too() -> None:
    limiter = Limiter("memory://")
    results = [limiter.hit_sync(Limit(2, 5), "b", "x").allowed for _ in range(3)]
    assert results == [True, True, False]


def test_redis_storage_without_the_client_library_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "redis" else real(name, *a)
    )
    with pytest.raises(RuntimeError, match=r"pip install \"agentlightning-core\[redis\]\""):
        Limiter(REDIS_URL).sync_limiter  # noqa: B018


def test_unknown_strategy_is_refused() -> None:
    with pytest.raises(ValueError, match="moving-window"):
        Limiter(strategy="leaky")


# --- the middleware -----------------------------------------------------------------------------


def _app(settings: RateLimitSettings) -> FastAPI:
    app = FastAPI()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.post("/upload")
    async def upload() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/open")
    async def open_route() -> dict[str, bool]:
        return {"ok": True}

    setup_rate_limiting(app, settings)
    return app


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_429_with_retry_after_and_rate_limit_headers() -> None:
    app = _app(RateLimitSettings(max_requests=3, window_seconds=30))
    async with _client(app) as client:
        answers = [await client.get("/items/1") for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert [r.headers["x-ratelimit-remaining"] for r in answers] == ["2", "1", "0", "0"]
    assert all(r.headers["x-ratelimit-limit"] == "3" for r in answers)
    refused = answers[-1]
    assert 1 <= int(refused.headers["retry-after"]) <= 30
    assert int(refused.headers["x-ratelimit-reset"]) - time.time() <= 31
    error = refused.json()["error"]
    assert error["type"] == "RateLimitExceeded" and "RATE_LIMIT_MAX_REQUESTS" in error["message"]


async def test_health_is_never_limited() -> None:
    app = _app(RateLimitSettings(max_requests=1, window_seconds=30))
    async with _client(app) as client:
        statuses = {(await client.get("/health")).status_code for _ in range(5)}
    assert statuses == {200}


async def test_each_token_has_its_own_budget_and_no_token_falls_back_to_the_ip() -> None:
    app = _app(RateLimitSettings(max_requests=2, window_seconds=30))
    async with _client(app) as client:
        a = [
            (await client.get("/items/1", headers={"Authorization": "Bearer a"})).status_code
            for _ in range(3)
        ]
        b = [
            (await client.get("/items/1", headers={"Authorization": "Bearer b"})).status_code
            for _ in range(3)
        ]
        anon = [(await client.get("/items/1")).status_code for _ in range(3)]
    assert a == b == anon == [200, 200, 429]


def test_identity_never_contains_the_token_and_follows_key_by() -> None:
    scope = {"headers": [(b"authorization", b"Bearer s3cret")], "client": ("10.0.0.9", 5)}
    by_token = client_identity(scope, "token")
    assert "s3cret" not in by_token and by_token.startswith("token:")
    assert client_identity(scope, "ip") == "ip:10.0.0.9"
    assert client_identity(scope, "token+ip") == f"{by_token}|ip:10.0.0.9"
    forwarded = {"headers": [(b"x-forwarded-for", b"203.0.113.5, 10.0.0.1")], "client": ("10.0.0.1", 5)}
    assert client_identity(forwarded, "ip") == "ip:10.0.0.1"  # not trusted by default
    assert client_identity(forwarded, "ip", trust_forwarded_for=True) == "ip:203.0.113.5"


async def test_route_overrides_have_their_own_bucket_and_off_disables() -> None:
    settings = RateLimitSettings(
        max_requests=2, window_seconds=30, routes={"POST /upload": "4/30", "/open": "off"}
    )
    app = _app(settings)
    async with _client(app) as client:
        uploads = [(await client.post("/upload")).status_code for _ in range(5)]
        opened = {(await client.get("/open")).status_code for _ in range(6)}
        items = [(await client.get(f"/items/{i}")).status_code for i in range(3)]
    assert uploads == [200, 200, 200, 200, 429]
    assert opened == {200}
    assert items == [200, 200, 429]  # the default bucket was not used by the overridden routes


async def test_disabled_rate_limiting_adds_nothing() -> None:
    app = _app(RateLimitSettings(enabled=False, max_requests=1))
    async with _client(app) as client:
        answers = [await client.get("/items/1") for _ in range(3)]
    assert {r.status_code for r in answers} == {200}
    assert "x-ratelimit-limit" not in answers[0].headers


async def test_a_broken_storage_lets_requests_through() -> None:
    limiter = Limiter("redis://127.0.0.1:1/0", key_prefix=_prefix())  # nothing listens on port 1
    app = FastAPI()

    @app.get("/x")
    async def x() -> dict[str, bool]:
        return {"ok": True}

    setup_rate_limiting(app, RateLimitSettings(max_requests=1), limiter=limiter)
    async with _client(app) as client:
        assert [(await client.get("/x")).status_code for _ in range(2)] == [200, 200]


# --- the decorator ------------------------------------------------------------------------------


async def test_async_function_raises_over_the_limit(limiter: Limiter) -> None:
    @rate_limited("2/30", limiter=limiter)
    async def tool(x: int) -> int:
        return x * 2

    assert [await tool(1), await tool(2)] == [2, 4]
    with pytest.raises(RateLimitExceeded) as info:
        await tool(3)
    assert info.value.status_code == 429 and 0 < info.value.retry_after <= 30


def test_sync_function_raises_over_the_limit_per_key() -> None:
    limiter = Limiter("memory://")

    @rate_limited("1/30", key=lambda user, body: user, limiter=limiter)
    def send(user: str, body: str) -> str:
        return f"{user}:{body}"

    assert send("ada", "hi") == "ada:hi"
    assert send("bob", "hi") == "bob:hi"
    with pytest.raises(RateLimitExceeded, match="ada"):
        send("ada", "again")


async def test_wait_true_sleeps_until_admitted() -> None:
    @rate_limited("2/1", limiter=Limiter("memory://"), wait=True)
    async def ping() -> float:
        return time.monotonic()

    start = time.monotonic()
    stamps = [await ping() for _ in range(3)]
    assert stamps[2] - start >= 0.9  # the third call waited for the window to move


@pytest.mark.parametrize("enabled", ["true", "false"])
def test_the_default_limiter_follows_the_environment(monkeypatch: pytest.MonkeyPatch, enabled: str) -> None:
    from agentlightning_core.ratelimit import decorator

    monkeypatch.setenv("RATE_LIMIT_ENABLED", enabled)
    monkeypatch.setenv("RATE_LIMIT_STORAGE_URL", REDIS_URL)
    monkeypatch.setenv("RATE_LIMIT_KEY_PREFIX", _prefix())
    monkeypatch.setattr(decorator, "_DEFAULT", None)  # a fresh process: settings read on first call
    monkeypatch.setattr(decorator, "_DEFAULT_ENABLED", None)

    @rate_limited("2/30")
    def lookup(x: int) -> int:
        return x

    @rate_limited("2/30")
    async def fetch(x: int) -> int:
        return x

    async def three_fetches() -> list[int]:
        return [await fetch(i) for i in range(3)]

    if enabled == "false":  # RATE_LIMIT_ENABLED=false turns the decorator's default limit off too
        assert [lookup(i) for i in range(3)] == [0, 1, 2]
        assert asyncio.run(three_fetches()) == [0, 1, 2]
        return
    assert decorator.default_limiter().storage_url == REDIS_URL
    assert [lookup(0), lookup(1)] == [0, 1]
    with pytest.raises(RateLimitExceeded):
        lookup(2)
    with pytest.raises(RateLimitExceeded):
        asyncio.run(three_fetches())


def test_decorator_refuses_a_bad_limit() -> None:
    with pytest.raises(ValueError, match="N/S"):
        rate_limited("fast")
