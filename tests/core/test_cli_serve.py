"""``agl serve`` as a real process: store over HTTP, proxy to an upstream, clean SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import openai
import pytest

from agentlightning_core.client import HttpStore
from agentlightning_core.errors import AuthenticationError
from agentlightning_core.types import LLM, AttemptStatus, semconv

from .scripted_upstream import scripted_upstream

AGL = [str(Path(sys.executable).with_name("agl"))]


async def start_serve(*args: str, token: str) -> tuple[asyncio.subprocess.Process, str]:
    env = {
        **os.environ,
        "AGL_SERVER_TOKEN": token,
        "AGL_NO_PLUGIN_COMMANDS": "1",
        "EVENT_BUS_BACKEND": "memory",
    }
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
