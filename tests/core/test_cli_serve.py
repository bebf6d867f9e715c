"""``agl serve`` as a real process: store over HTTP, proxy to an upstream, clean SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp
import openai
import pytest

from agentlightning_core.cli.serve import is_loopback
from agentlightning_core.client import HttpStore
from agentlightning_core.errors import AuthenticationError
from agentlightning_core.types import LLM, AttemptStatus, semconv

from .scripted_upstream import scripted_upstream

AGL = [str(Path(sys.executable).with_name("agl"))]


def serve_env(token: str | None) -> dict[str, str]:
    env = {**os.environ, "AGL_NO_PLUGIN_COMMANDS": "1", "EVENT_BUS_BACKEND": "memory"}
    env.pop("AGL_SERVER_TOKEN", None)
    env.pop("AGL_SERVER_HOST", None)
    if token is not None:
        env["AGL_SERVER_TOKEN"] = token
    return env


async def start_serve(*args: str, token: str | None) -> tuple[asyncio.subprocess.Process, str]:
    env = serve_env(token)
    proc = await asyncio.create_subprocess_exec(
        *AGL,
        "serve",
        "--port",
        "0",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    assert "listening on http://" in line, line
    return proc, line.rsplit(" ", 1)[1].strip()


@pytest.mark.slow
async def test_serve_runs_store_and_proxy_and_stops_on_sigterm() -> None:
    async with scripted_upstream() as upstream:
        proc, url = await start_serve(
            "--store",
            "memory://",
            "--engine",
            "openai",
            "--engine-option",
            f"base_url={upstream.url}",
            token="cli-token",
        )
        try:
            async with HttpStore(url, token="cli-token") as store:
                rollout = await store.enqueue_rollout({"q": 1})
                got = await store.dequeue_rollout("w")
                assert got is not None
                llm = LLM(endpoint=f"{url}/v1", model="m", proxied=True, api_key="cli-token").for_attempt(
                    rollout.rollout_id, got.attempt.attempt_id
                )
                agent = openai.AsyncOpenAI(base_url=llm.endpoint, api_key=llm.api_key_value, max_retries=0)
                answer = await agent.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "hi"}]
                )
                assert answer.choices[0].message.content == "echo: hi"
                await store.update_attempt(
                    rollout.rollout_id, got.attempt.attempt_id, status=AttemptStatus.SUCCEEDED
                )
                (span,) = await store.query_spans(rollout.rollout_id)
                assert span.attributes[semconv.LLM_COMPLETION_TOKEN_IDS] == [ord(c) for c in "echo: hi"]
            async with HttpStore(url, token="wrong") as intruder:
                with pytest.raises(AuthenticationError):
                    await intruder.statistics()
        finally:
            start = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), 15)
        assert code == 0
        assert time.monotonic() - start < 5


async def test_engine_option_without_engine_is_a_usage_error() -> None:
    proc = await asyncio.create_subprocess_exec(
        *AGL,
        "serve",
        "--engine-option",
        "base_url=x",
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2 and b"--engine-option needs --engine" in err


async def test_engine_option_must_be_key_value() -> None:
    proc = await asyncio.create_subprocess_exec(
        *AGL,
        "serve",
        "--engine",
        "openai",
        "--engine-option",
        "nonsense",
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2 and b"is not KEY=VALUE" in err


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("trainer-box", False),
        ("localhost.example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.7"])
async def test_non_loopback_host_without_token_is_refused(host: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        *AGL,
        "serve",
        "--store",
        "memory://",
        "--host",
        host,
        "--port",
        "0",
        env=serve_env(token=None),
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2, err
    assert b"listening on" not in out
    message = err.decode()
    assert f"refusing to listen on {host} without AGL_SERVER_TOKEN" in message
    assert "--insecure-no-auth" in message


async def test_host_from_env_without_token_is_refused_too() -> None:
    env = {**serve_env(token=None), "AGL_SERVER_HOST": "0.0.0.0"}
    proc = await asyncio.create_subprocess_exec(
        *AGL,
        "serve",
        "--store",
        "memory://",
        "--port",
        "0",
        env=env,
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2 and b"AGL_SERVER_TOKEN" in err and b"--insecure-no-auth" in err


async def _stop(proc: asyncio.subprocess.Process) -> bytes:
    proc.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(proc.communicate(), 15)
    assert proc.returncode == 0, err
    return err


async def _statistics_without_token(url: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/v1/store/statistics") as response:
        return response.status


@pytest.mark.slow
async def test_insecure_no_auth_serves_open_beyond_loopback_with_a_warning() -> None:
    proc, url = await start_serve(
        "--store", "memory://", "--host", "0.0.0.0", "--insecure-no-auth", token=None
    )
    try:
        port = url.rsplit(":", 1)[1]
        assert await _statistics_without_token(f"http://127.0.0.1:{port}") == 200
    finally:
        err = await _stop(proc)
    assert b"warning: listening on 0.0.0.0 without AGL_SERVER_TOKEN (--insecure-no-auth)" in err


@pytest.mark.slow
async def test_loopback_without_token_serves_as_before() -> None:
    proc, url = await start_serve("--store", "memory://", "--host", "127.0.0.1", token=None)
    try:
        assert await _statistics_without_token(url) == 200
    finally:
        err = await _stop(proc)
    assert b"without AGL_SERVER_TOKEN" not in err


@pytest.mark.slow
async def test_token_allows_any_host_and_is_required() -> None:
    proc, url = await start_serve("--store", "memory://", "--host", "0.0.0.0", token="t0ken")
    try:
        port = url.rsplit(":", 1)[1]
        assert await _statistics_without_token(f"http://127.0.0.1:{port}") == 401
    finally:
        err = await _stop(proc)
    assert b"without AGL_SERVER_TOKEN" not in err
