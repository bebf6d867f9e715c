"""Rollouts/s with one and with two ``agl serve`` processes on one PostgreSQL database.

For each layout: a fresh database, the server(s), four ``agl runner`` processes split evenly
between the servers (``-n`` rollouts at once each), a cheap agent (no LLM, a few spans, a short
sleep), R rollouts enqueued at once; the clock runs from the enqueue to the last rollout final.
Servers and runners are real processes talking HTTP, as in a deployment.

    python benchmarks/two_servers.py -R 2000 -n 16 --repeat 2

PostgreSQL at AGL_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432); databases
are named agl_i20_bench_<random> and dropped afterwards. On a machine with few cores the servers,
runners and PostgreSQL share them, so a second server adds capacity only where the first one is
the bottleneck: read the figures with the core count printed beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from agentlightning_core.client import HttpStore
from agentlightning_core.types import RolloutRequest, RolloutStatus

PG = os.environ.get("AGL_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")
AGENT = textwrap.dedent(
    """
    import asyncio

    from agentlightning_core.runtime.context import current_context
    from agentlightning_core.types import Span


    async def agent(task):
        ctx = current_context()
        for i in range(2):
            ctx.record_span(Span(rollout_id="", attempt_id="", name=f"step-{i}"))
        await asyncio.sleep(task["seconds"])
        return 1.0
    """
)
FINAL = [RolloutStatus.SUCCEEDED, RolloutStatus.FAILED, RolloutStatus.CANCELLED]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def database() -> AsyncIterator[str]:
    import asyncpg

    name = f"agl_i20_bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(f"{PG}/postgres")
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    try:
        yield f"{PG}/{name}"
    finally:
        conn = await asyncpg.connect(f"{PG}/postgres")
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


def spawn(args: list[str], log: Path, ready: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "agentlightning_core.cli", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    deadline = time.monotonic() + 60
    while ready not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"{args[0]} did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.1)
    return proc


async def one_layout(servers: int, rollouts: int, concurrency: int, seconds: float, workdir: Path) -> float:
    token = secrets.token_hex(16)
    env = {
        **os.environ,
        "AGL_SERVER_TOKEN": token,
        "AGL_NO_PLUGIN_COMMANDS": "1",
        "RATE_LIMIT_ENABLED": "false",
    }
    agent = workdir / "bench_agent.py"
    agent.write_text(AGENT)
    procs: list[subprocess.Popen[bytes]] = []
    async with database() as db:
        try:
            urls = []
            for i in range(servers):
                port = free_port()
                args = ["serve", "--store", db, "--bus", "memory", "--port", str(port)]
                url = f"http://127.0.0.1:{port}"
                procs.append(spawn(args, workdir / f"server-{i}.log", f"listening on {url}", env))
                urls.append(url)
            for i in range(4):
                args = ["runner", "--server", urls[i % servers], "--agent", f"{agent}:agent"]
                args += ["-n", str(concurrency), "--worker-id", f"b{i}", "--tracer", "noop"]
                procs.append(spawn(args, workdir / f"runner-{i}.log", f"runner b{i} pulling from", env))
            async with HttpStore(urls[0], token=token) as client:
                requests = [RolloutRequest(input={"seconds": seconds, "i": i}) for i in range(rollouts)]
                start = time.monotonic()
                for first in range(0, rollouts, 500):
                    await client.enqueue_rollouts(requests[first : first + 500])
                while True:  # the servers' own count, polled: the clock stops within 50 ms
                    if (await client.query_rollouts(status=FINAL, limit=0)).total >= rollouts:
                        break
                    await asyncio.sleep(0.05)
                elapsed = time.monotonic() - start
                ok = (await client.query_rollouts(status=[RolloutStatus.SUCCEEDED], limit=0)).total
                if ok != rollouts:
                    raise SystemExit(f"{rollouts - ok} rollouts did not succeed")
        finally:
            for proc in reversed(procs):
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
    return rollouts / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-R", "--rollouts", type=int, default=2000)
    parser.add_argument(
        "-n", "--concurrency", type=int, default=16, help="rollouts at once per runner process"
    )
    parser.add_argument("--seconds", type=float, default=0.01, help="the agent's sleep per rollout")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    results: dict[int, list[float]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            for servers in (1, 2):  # interleaved, so drift in the machine's load hits both
                results[servers].append(
                    asyncio.run(one_layout(servers, args.rollouts, args.concurrency, args.seconds, Path(tmp)))
                )
    print(f"command: python benchmarks/two_servers.py -R {args.rollouts} -n {args.concurrency} "
          f"--seconds {args.seconds} --repeat {args.repeat}")  # fmt: skip
    print(
        f"machine: {os.cpu_count()} cores; 4 runner processes x {args.concurrency} concurrent rollouts; PostgreSQL"
    )
    for servers, rates in results.items():
        runs = ", ".join(f"{r:.0f}" for r in rates)
        print(f"{servers} server(s): {statistics.median(rates):.0f} rollouts/s median (runs: {runs})")


if __name__ == "__main__":
    main()
