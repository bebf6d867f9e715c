"""Processes the fault tests own: an ``agl serve`` on a PostgreSQL database of its own, ``agl
runner`` processes, a private redis-server; and the invariants every scenario asserts.

Every scenario ends with :func:`check_invariants`: zero rollouts lost, every rollout finished
(succeeded), zero rollouts with two succeeded attempts, zero duplicate spans.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from agentlightning_core.client import HttpStore
from agentlightning_core.types import AttemptStatus, RolloutStatus

TOKEN = "faults-token-0123456789"
PG_BASE_URL = os.environ.get("AGL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")

AGENT_SOURCE = textwrap.dedent(
    """
    import asyncio

    from agentlightning_core.runtime.context import current_context
    from agentlightning_core.types import Span


    async def agent(task):
        ctx = current_context()
        for i in range(3):  # spans flushed while it runs, and at its end
            ctx.record_span(Span(rollout_id="", attempt_id="", name=f"step-{i}"))
            await asyncio.sleep(task["seconds"] / 3)
        return 1.0
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def pg_database(prefix: str = "agl_faults") -> AsyncIterator[str]:
    """A throwaway PostgreSQL database, dropped afterwards."""
    import asyncpg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = f"{PG_BASE_URL}/postgres"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield f"{PG_BASE_URL}/{name}"
    finally:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


def _env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "AGL_SERVER_TOKEN": TOKEN,
        "AGL_NO_PLUGIN_COMMANDS": "1",
        "RATE_LIMIT_ENABLED": "false",
        **extra,
    }


@dataclass
class Proc:
    name: str
    process: asyncio.subprocess.Process
    log: Path

    def signal(self, sig: int) -> None:
        self.process.send_signal(sig)

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    async def stop(self, timeout: float = 30.0) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout)
            except TimeoutError:
                await self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


async def _spawn(name: str, args: Sequence[str], log: Path, ready: str, env: dict[str, str]) -> Proc:
    handle = log.open("ab")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "agentlightning_core.cli", *args, env=env, stdout=handle, stderr=handle
    )
    handle.close()
    proc = Proc(name, process, log)
    for _ in range(600):  # 60 s
        if ready in proc.output():
            return proc
        if process.returncode is not None:
            break
        await asyncio.sleep(0.1)
    await proc.kill()
    raise AssertionError(f"{name} did not start:\n{proc.output()[-4000:]}")


async def start_server(
    store_url: str, port: int, workdir: Path, name: str = "server", bus: str = "memory", **env: str
) -> Proc:
    args = ["serve", "--store", store_url, "--bus", bus, "--port", str(port)]
    log = workdir / f"{name}.log"
    return await _spawn(name, args, log, f"listening on http://127.0.0.1:{port}", _env(**env))


async def start_runner(server_url: str, agent_file: Path, worker_id: str, workdir: Path, *extra: str) -> Proc:
    args = [
        "runner",
        "--server",
        server_url,
        "--agent",
        f"{agent_file}:agent",
        "--worker-id",
        worker_id,
        "--heartbeat-interval",
        "0.2",
        "--flush-interval",
        "0.2",
        *extra,
    ]
    log = workdir / f"{worker_id}.log"
    return await _spawn(worker_id, args, log, f"runner {worker_id} pulling from", _env())


def agent_file(workdir: Path) -> Path:
    path = workdir / "fault_agent.py"
    path.write_text(AGENT_SOURCE)
    return path


async def wait_all_final(client: HttpStore, ids: list[str], timeout: float) -> None:
    """Until every rollout is final (the assertion names how many are not)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        page = await client.query_rollouts(rollout_ids=ids)
        pending = [r for r in page.items if not r.status.is_final]
        if not pending:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{len(pending)} of {len(ids)} rollouts not final after {timeout}s")
        await asyncio.sleep(0.5)


async def check_invariants(client: HttpStore, ids: list[str]) -> dict[str, int]:
    """The guarantees every scenario must keep; returns counts for the test's own assertions."""
    page = await client.query_rollouts(rollout_ids=ids)
    assert page.total == len(ids), f"{len(ids) - page.total} rollouts lost"
    not_succeeded = [
        (r.rollout_id, r.status.value) for r in page.items if r.status is not RolloutStatus.SUCCEEDED
    ]
    if not_succeeded:
        why = [
            [(a.status.value, a.error) for a in await client.get_attempts(rid)]
            for rid, _ in not_succeeded[:3]
        ]
        raise AssertionError(
            f"{len(not_succeeded)} rollouts did not succeed: {not_succeeded[:3]}; attempts: {why}"
        )
    retried = 0
    for rid in ids:
        attempts = await client.get_attempts(rid)
        succeeded = [a for a in attempts if a.status is AttemptStatus.SUCCEEDED]
        assert len(succeeded) == 1, f"rollout {rid}: {len(succeeded)} succeeded attempts"
        retried += len(attempts) > 1
        spans = await client.query_spans(rid)
        keys = [(s.attempt_id, s.span_id) for s in spans]
        assert len(keys) == len(set(keys)), f"rollout {rid}: duplicate spans"
        names = [s.name for s in spans if s.attempt_id == succeeded[0].attempt_id]
        for step in ("step-0", "step-1", "step-2"):  # the agent's own spans, each exactly once
            assert names.count(step) == 1, f"rollout {rid}: {names.count(step)} x {step} in {names}"
    return {"rollouts": len(ids), "retried": retried}
