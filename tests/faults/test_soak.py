"""The issue's soak: thousands of ~1 s rollouts with runners paused now and then, and zero
duplicate span ids. Minutes long, so opt-in: ``AGL_FAULTS_SOAK=2000`` runs 2,000 rollouts (the
issue's size); CI leaves it out (the fault suite and the conformance tests cover the same rules
at a bounded size).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from agentlightning_core.client import HttpStore
from agentlightning_core.types import RolloutConfig, RolloutRequest

from .harness import TOKEN, agent_file, check_invariants, free_port, pg_database, start_runner, start_server

SOAK = int(os.environ.get("AGL_FAULTS_SOAK", "0"))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(3600),
    pytest.mark.skipif(SOAK <= 0, reason="opt-in: AGL_FAULTS_SOAK=<rollouts> (the issue's soak is 2000)"),
]


async def test_soak_of_one_second_rollouts_with_pauses_stores_no_span_twice(tmp_path: Path) -> None:
    agent = agent_file(tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = RolloutConfig(unresponsive_seconds=2.0)
    async with pg_database() as db:
        server = await start_server(db, port, tmp_path)
        runners = [await start_runner(url, agent, f"r{i}", tmp_path, "-n", "10") for i in range(2)]
        try:
            async with HttpStore(url, token=TOKEN) as client:
                start = time.monotonic()
                requests = [
                    RolloutRequest(input={"seconds": 1.0, "i": i}, config=config) for i in range(SOAK)
                ]
                ids = [r.rollout_id for r in await client.enqueue_rollouts(requests)]
                pauses = 0
                while True:
                    page = await client.query_rollouts(rollout_ids=ids)
                    if all(r.status.is_final for r in page.items):
                        break
                    victim = runners[pauses % 2]
                    victim.signal(signal.SIGSTOP)  # past its 2 s limit half the time
                    await asyncio.sleep(1.0 + 2.0 * (pauses % 2))
                    victim.signal(signal.SIGCONT)
                    pauses += 1
                    await asyncio.sleep(5.0)
                counts = await check_invariants(client, ids)
            print(
                f"soak: {counts['rollouts']} rollouts in {time.monotonic() - start:.0f}s, "
                f"{pauses} pauses, {counts['retried']} retried, 0 duplicate spans"
            )
        finally:
            for proc in (*runners, server):
                await proc.stop()
