"""Several ``agl serve`` on one PostgreSQL database (issue 20): two servers, four runners split
between them, 1,000 rollouts, one server killed with ``kill -9`` mid-run.

What must hold: zero rollouts lost, every rollout succeeded exactly once, and zero rollouts
dequeued twice — a rollout has a second attempt only when its first runner lost its server (the
killed one), so the retried rollouts are at most what the killed server's runners held at once.
Both servers run the watchdog on the same rows; both serve the same resources versions.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from agentlightning_core.client import HttpStore
from agentlightning_core.types import (
    AttemptStatus,
    PromptTemplate,
    RolloutConfig,
    RolloutRequest,
    RolloutStatus,
)

from .harness import TOKEN, agent_file, check_invariants, free_port, pg_database, start_runner, start_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

ROLLOUTS = 1000
CONCURRENCY = 5
#: runners heartbeat every 0.2 s; silent for 1.5 s means their server (or they) are gone
CONFIG = RolloutConfig(unresponsive_seconds=1.5, max_attempts=3)


async def test_two_servers_one_killed_mid_run_lose_nothing_and_hand_out_nothing_twice(tmp_path: Path) -> None:
    agent = agent_file(tmp_path)
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    async with pg_database("agl_i20") as db:
        servers = [await start_server(db, p, tmp_path, name=f"server-{i}") for i, p in enumerate(ports)]
        runners = []
        for i in range(4):  # r0, r1 on server-0; r2, r3 on server-1
            url = urls[i // 2]
            runners.append(await start_runner(url, agent, f"r{i}", tmp_path, "-n", str(CONCURRENCY)))
        try:
            async with HttpStore(urls[0], token=TOKEN) as client, HttpStore(urls[1], token=TOKEN) as other:
                # resources versions are one sequence across servers
                v1 = await client.add_resources({"p": PromptTemplate(template="a={a}")})
                v2 = await other.add_resources({"p": PromptTemplate(template="b={b}")})
                assert (v1.version, v2.version) == (1, 2)
                assert (await client.get_resources(None)).resources_id == v2.resources_id  # type: ignore[union-attr]
                requests = [
                    RolloutRequest(input={"seconds": 0.03, "i": i}, config=CONFIG) for i in range(ROLLOUTS)
                ]
                ids = []
                for start in range(0, ROLLOUTS, 250):
                    ids += [
                        r.rollout_id for r in await client.enqueue_rollouts(requests[start : start + 250])
                    ]
                started = time.monotonic()
                while (done := await _succeeded(client, ids)) < ROLLOUTS // 3:
                    assert time.monotonic() - started < 120, f"only {done} done after 120 s"
                    await asyncio.sleep(0.2)
                await servers[1].kill()  # kill -9 mid-run: r2 and r3 lose their server
                killed_at = time.monotonic()
                await _wait_final(client, ids, 240)
                elapsed = time.monotonic() - started
                after_kill = time.monotonic() - killed_at
                counts = await check_invariants(client, ids)
                retried, by_worker = await _attempts(client, ids)
        finally:
            for proc in (*runners, *servers):
                await proc.stop()
    # zero dequeued twice: only the killed server's runners' in-flight rollouts ran again
    assert counts["retried"] == len(retried)
    assert len(retried) <= 2 * CONCURRENCY, f"{len(retried)} rollouts ran twice: {retried[:5]}"
    for rid, statuses in retried:
        assert (
            statuses[-1] == AttemptStatus.SUCCEEDED.value
            and AttemptStatus.SUCCEEDED.value not in statuses[:-1]
        ), (
            rid,
            statuses,
        )
    assert by_worker["r0"] and by_worker["r1"] and by_worker["r2"] and by_worker["r3"], by_worker
    print(
        f"\ntwo servers on one database: {ROLLOUTS} rollouts in {elapsed:.1f}s, server-1 killed at {done} done, "
        f"{len(retried)} retried, every rollout final {after_kill:.1f}s after the kill; "
        f"attempts per runner {dict(sorted(by_worker.items()))}"
    )


async def _succeeded(client: HttpStore, ids: list[str]) -> int:
    return (await client.query_rollouts(status=[RolloutStatus.SUCCEEDED], limit=0)).total


async def _wait_final(client: HttpStore, ids: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    final = [RolloutStatus.SUCCEEDED, RolloutStatus.FAILED, RolloutStatus.CANCELLED]
    while (await client.query_rollouts(status=final, limit=0)).total < len(ids):
        assert time.monotonic() < deadline, f"rollouts not final after {timeout}s"
        await asyncio.sleep(0.5)


async def _attempts(client: HttpStore, ids: list[str]) -> tuple[list[tuple[str, list[str]]], dict[str, int]]:
    retried: list[tuple[str, list[str]]] = []
    by_worker: dict[str, int] = {}
    for rid in ids:
        attempts = sorted(await client.get_attempts(rid), key=lambda a: a.sequence)
        for a in attempts:
            by_worker[a.worker_id or "?"] = by_worker.get(a.worker_id or "?", 0) + 1
        if len(attempts) > 1:
            retried.append((rid, [a.status.value for a in attempts]))
    return retried, by_worker
