"""Runner throughput over HTTP: the real ``Runner`` (heartbeats, span batching, worker records,
resources cache) pulling from ``agl serve`` — what a training run gets per runner process.

Enqueues R rollouts naming one resources version, then P processes each run one ``Runner``
with concurrency W/P over ``HttpStore``; the agent records S spans and returns a reward (so S+1
spans per rollout, sent in one batch). Prints rollouts/s and spans/s from the first dequeue to
the last rollout finished, and the runners' CPU seconds.

    python benchmarks/runner_throughput.py -R 2000 -W 64 -S 4 -P 2

``agl serve --store memory://`` is started as its own process on a free port with a random token
(``--url`` uses a running server instead; the token then comes from AGL_SERVER_TOKEN). Compare
with ``benchmarks/store_throughput.py`` (a bare dequeue → spans → finish loop, same workload) for
the runner's own cost.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from agentlightning_core import PromptTemplate, rollout
from agentlightning_core.client import HttpStore
from agentlightning_core.runner import Runner
from agentlightning_core.runtime.context import current_context
from agentlightning_core.types import RolloutRequest, Span

N_SPANS = 4


@rollout
async def bench_agent(task: int) -> float:
    ctx = current_context()
    assert ctx is not None
    for i in range(N_SPANS):
        ctx.record_span(
            Span(
                rollout_id=ctx.rollout_id,
                attempt_id=ctx.attempt_id,
                name=f"step-{i}",
                attributes={"agentlightning.span_type": "other", "step": i, "note": "x" * 64},
            )
        )
    return 1.0


def run(coro: Any) -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


async def process_main(
    url: str, token: str | None, index: int, concurrency: int, barrier: Any, stop: Any, results: Any
) -> None:
    async with HttpStore(url, token=token) as store:
        await store.statistics()  # connect before the clock starts
        runner = Runner(bench_agent, store, concurrency=concurrency, worker_id=f"bench-{index}")
        await asyncio.get_running_loop().run_in_executor(None, barrier.wait)
        cpu = time.process_time()
        task = asyncio.create_task(runner.run())
        await asyncio.get_running_loop().run_in_executor(None, stop.wait)
        runner.stop(grace=5)
        stats = await task
        results.put((stats.succeeded, time.process_time() - cpu))


def process_entry(*args: Any) -> None:
    global N_SPANS
    N_SPANS = args[-1]
    run(process_main(*args[:-1]))


def start_server() -> tuple[subprocess.Popen[str], str, str]:
    token = secrets.token_hex(16)
    env = {
        **os.environ,
        "AGL_SERVER_TOKEN": token,
        "EVENT_BUS_BACKEND": "memory",
        "AGL_NO_PLUGIN_COMMANDS": "1",
    }
    agl = str(Path(sys.executable).with_name("agl"))
    proc = subprocess.Popen(
        [agl, "serve", "--store", "memory://", "--port", "0"], env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        raise SystemExit(f"agl serve did not start: {line!r}")
    return proc, line.rsplit(" ", 1)[1].strip(), token


async def enqueue_and_wait(url: str, token: str | None, n: int, ready: Any, go: Any) -> tuple[float, float]:
    async with HttpStore(url, token=token) as store:
        update = await store.add_resources({"prompt": PromptTemplate(template="{x}")})
        ids: list[str] = []
        for start in range(0, n, 500):
            batch = [
                RolloutRequest(input=i, resources_id=update.resources_id)
                for i in range(start, min(n, start + 500))
            ]
            ids += [r.rollout_id for r in await store.enqueue_rollouts(batch)]
        ready.set()
        await asyncio.get_running_loop().run_in_executor(None, go.wait)
        t0 = time.perf_counter()
        done = await store.wait_for_rollouts(ids, timeout=600)
        elapsed = time.perf_counter() - t0
        assert len(done) == n, f"only {len(done)}/{n} rollouts finished"
        return t0, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-R", "--rollouts", type=int, default=2000)
    parser.add_argument("-W", "--workers", type=int, default=64, help="concurrent rollouts in total")
    parser.add_argument("-S", "--spans", type=int, default=4, help="spans the agent records per rollout")
    parser.add_argument("-P", "--processes", type=int, default=2)
    parser.add_argument("--url", default=None, help="a running server (default: start agl serve)")
    args = parser.parse_args()
    server = None
    if args.url:
        url, token = args.url, os.environ.get("AGL_SERVER_TOKEN")
    else:
        server, url, token = start_server()
    try:
        ctx = mp.get_context("spawn")
        barrier = ctx.Barrier(args.processes + 1)
        stop = ctx.Event()
        results = ctx.Queue()
        per = max(1, args.workers // args.processes)
        procs = [
            ctx.Process(target=process_entry, args=(url, token, i, per, barrier, stop, results, args.spans))
            for i in range(args.processes)
        ]
        for p in procs:
            p.start()
        import threading

        ready, go = threading.Event(), threading.Event()
        outcome: list[tuple[float, float]] = []
        waiter = threading.Thread(
            target=lambda: outcome.append(run(enqueue_and_wait(url, token, args.rollouts, ready, go)))
        )
        waiter.start()
        ready.wait()
        barrier.wait()  # runners connected; the queue is full: go
        go.set()
        waiter.join()
        stop.set()
        per_process = [results.get(timeout=60) for _ in procs]
        for p in procs:
            p.join(30)
        _, elapsed = outcome[0]
        done = sum(n for n, _ in per_process)
        spans = done * (args.spans + 1)
        print(f"runner throughput: R={args.rollouts} W={args.workers} S={args.spans} P={args.processes}")
        print(
            f"  {done} rollouts in {elapsed:.2f}s: {done / elapsed:.0f} rollouts/s, {spans / elapsed:.0f} spans/s"
        )
        print(f"  runner CPU: {', '.join(f'{cpu:.1f}s' for _, cpu in per_process)}")
        print(f"  load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        print(
            f"  reproduce: python benchmarks/runner_throughput.py -R {args.rollouts} -W {args.workers} "
            f"-S {args.spans} -P {args.processes}"
        )
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(30)


if __name__ == "__main__":
    main()
