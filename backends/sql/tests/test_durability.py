"""Durability with real processes: ``agl serve`` on SQLite / PostgreSQL killed with SIGKILL in the
middle of training, then restarted on the same database.

Every rollout that had finished and every span that had been recorded is still there; the
attempts the (also killed) runner was working on are found by the restarted server's watchdog,
marked unresponsive and retried, and training completes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agentlightning_core.client import HttpStore
from agentlightning_core.types import AttemptStatus, RolloutConfig, RolloutStatus

from .conftest import KEY

TOKEN = "durability-token-0123456789"
AGENT = textwrap.dedent(
    """
    import asyncio
    from agentlightning_core import emit_reward

    async def agent(task):
        emit_reward(0.1, name="started")
        await asyncio.sleep(task["seconds"])
        emit_reward(0.5, name="halfway")
        await asyncio.sleep(task["seconds"])
        return float(task["value"])
    """
)


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "AGL_SERVER_TOKEN": TOKEN,
        "AGL_ENCRYPTION_KEY": KEY,
        "AGL_NO_PLUGIN_COMMANDS": "1",
        "EVENT_BUS_BACKEND": "memory",
    }


async def _start_server(store_url: str) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agentlightning_core.cli",
        "serve",
        "--store",
        store_url,
        "--port",
        "0",
        env=_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
    assert "listening on http://" in line, f"server did not start: {line!r}"
    return proc, line.rsplit(" ", 1)[-1].strip()


async def _start_runner(server_url: str, agent_file: Path, worker_id: str) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agentlightning_core.cli",
        "runner",
        "--server",
        server_url,
        "--agent",
        f"{agent_file}:agent",
        "--worker-id",
        worker_id,
        "-n",
        "4",
        "--flush-interval",
        "0.05",
        "--heartbeat-interval",
        "0.2",
        env=_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
    assert "pulling from" in line, f"runner did not start: {line!r}"
    return proc


async def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGKILL)
    await proc.wait()


@pytest.fixture
async def processes() -> AsyncIterator[list[asyncio.subprocess.Process]]:
    started: list[asyncio.subprocess.Process] = []
    yield started
    for proc in started:
        await _kill(proc)


@pytest.mark.slow
async def test_sigkilled_server_restarts_with_nothing_lost(
    db_url: str, tmp_path: Path, processes: list[asyncio.subprocess.Process]
) -> None:
    agent_file = tmp_path / "durable_agent.py"
    agent_file.write_text(AGENT)
    config = RolloutConfig(unresponsive_seconds=3, max_attempts=3)
    tasks = [{"seconds": 0.5, "value": i / 40} for i in range(40)]  # ~10 s of training for one runner

    server, url = await _start_server(db_url)
    processes.append(server)
    async with HttpStore(url, token=TOKEN) as client:
        ids = [(await client.enqueue_rollout(t, config=config)).rollout_id for t in tasks]
        runner = await _start_runner(url, agent_file, "first")
        processes.append(runner)
        for _ in range(600):  # mid-training: some finished, some running
            page = await client.query_rollouts(status=[RolloutStatus.SUCCEEDED])
            running = await client.query_rollouts(status=[RolloutStatus.RUNNING])
            if page.total >= 6 and running.total >= 1:
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("training never got going")
        finished = {
            r.rollout_id: r for r in (await client.query_rollouts(status=[RolloutStatus.SUCCEEDED])).items
        }
        spans_before = {rid: await client.query_spans(rid) for rid in ids}
    await _kill(server)  # mid-training, no warning
    await _kill(runner)  # its attempts are orphaned: only the watchdog can end them

    server, url = await _start_server(db_url)
    processes.append(server)
    async with HttpStore(url, token=TOKEN) as client:
        for rid, before in finished.items():
            after = await client.get_rollout(rid)
            assert after is not None and after.status is RolloutStatus.SUCCEEDED
            assert after.end_time == before.end_time
        for rid, spans in spans_before.items():  # every recorded span, byte for byte
            kept = {s.span_id: s for s in await client.query_spans(rid)}
            for span in spans:
                assert kept.get(span.span_id) == span, f"span {span.span_id} of {rid} was lost or changed"
        orphans = [
            a
            for rid in ids
            for a in await client.get_attempts(rid)
            if a.worker_id == "first" and a.status in (AttemptStatus.RUNNING, AttemptStatus.UNRESPONSIVE)
        ]
        assert orphans, "the first runner had attempts in flight when it was killed"

        runner = await _start_runner(url, agent_file, "second")
        processes.append(runner)
        done = await client.wait_for_rollouts(ids, timeout=120)
        assert len(done) == len(ids) and all(r.status is RolloutStatus.SUCCEEDED for r in done)
        for orphan in orphans:
            attempts = await client.get_attempts(orphan.rollout_id)
            ended = next(a for a in attempts if a.attempt_id == orphan.attempt_id)
            assert ended.status is AttemptStatus.UNRESPONSIVE and ended.error and "watchdog" in ended.error
            assert attempts[-1].worker_id == "second" and attempts[-1].status is AttemptStatus.SUCCEEDED
        stats = await client.statistics()
        assert stats["rollouts"]["succeeded"] == len(ids)
