"""Store throughput over HTTP: the runner's hot path (dequeue -> spans -> finish) at scale.

Enqueues R rollouts, then W async workers spread over P processes each loop: dequeue a rollout,
record S spans through an ``AttemptContext`` and send them as one batch (as the runner does),
finish the attempt -- until the queue is empty. Prints rollouts/s and spans/s.

    python benchmarks/store_throughput.py --serve -R 2000 -W 64 -S 4 -P 2
    python benchmarks/store_throughput.py --url http://127.0.0.1:4747 -R 2000 -W 64 -S 4 -P 2

``--serve`` starts ``agl serve --store memory://`` (or ``--store URL``) as a separate process
on a free port with a random token; with ``--url`` the token comes from AGL_SERVER_TOKEN.
W counts workers in total (W/P per process).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import queue
import secrets
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from agentlightning_core.client import HttpStore
from agentlightning_core.runtime.context import AttemptContext
from agentlightning_core.store.base import LightningStore
from agentlightning_core.types import AttemptStatus, RolloutRequest, Span


def run(coro: Any) -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


# --------------------------------------------------------------------------- workers
async def worker(store: LightningStore, worker_id: str, n_spans: int, counts: list[int]) -> None:
    while True:
        got = await store.dequeue_rollout(worker_id)
        if got is None:
            return
        ctx = AttemptContext(rollout=got.rollout, attempt=got.attempt, worker_id=worker_id)
        for i in range(n_spans):
            ctx.record_span(
                Span(
                    rollout_id=ctx.rollout_id,
                    attempt_id=ctx.attempt_id,
                    name=f"step-{i}",
                    attributes={"agentlightning.span_type": "other", "step": i, "note": "x" * 64},
                )
            )
        await store.add_spans(ctx.take_pending())
        await store.update_attempt(ctx.rollout_id, ctx.attempt_id, status=AttemptStatus.SUCCEEDED)
        counts[0] += 1
        counts[1] += n_spans


async def process_main(
    url: str, token: str | None, index: int, n_workers: int, n_spans: int, barrier: Any, results: Any
) -> None:
    async with HttpStore(url, token=token) as store:
        await store.statistics()  # open the session before the clock starts
        await asyncio.get_running_loop().run_in_executor(None, barrier.wait)
        counts = [0, 0]
        start, cpu = time.time(), time.process_time()
        await asyncio.gather(*(worker(store, f"p{index}-w{w}", n_spans, counts) for w in range(n_workers)))
        results.put((start, time.time(), counts[0], counts[1], time.process_time() - cpu))


def process_entry(*args: Any) -> None:
    results = args[-1]
    try:
        run(process_main(*args))
    except BaseException as exc:  # the parent waits for one result per process: send the failure
        results.put(("error", f"{type(exc).__name__}: {exc}"))
        raise


# ------------------------------------------------------------------------------ server
def start_server(store_url: str, rate_limit: bool, bus: str) -> tuple[subprocess.Popen[str], str, str]:
    token = secrets.token_hex(16)
    env = {
        **os.environ,
        "AGL_SERVER_TOKEN": token,
        "EVENT_BUS_BACKEND": bus,
        "AGL_NO_PLUGIN_COMMANDS": "1",
    }
    if not rate_limit:
        env["RATE_LIMIT_ENABLED"] = "false"
    agl = str(Path(sys.executable).with_name("agl"))
    proc = subprocess.Popen(
        [agl, "serve", "--store", store_url, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        raise SystemExit(f"agl serve did not start: {line!r}")
    return proc, line.rsplit(" ", 1)[1].strip(), token


async def enqueue(url: str, token: str | None, n: int) -> None:
    async with HttpStore(url, token=token) as store:
        for start in range(0, n, 500):
            await store.enqueue_rollouts(
                [RolloutRequest(input={"i": i}) for i in range(start, min(n, start + 500))]
            )


async def stats(url: str, token: str | None) -> dict[str, Any]:
    async with HttpStore(url, token=token) as store:
        return await store.statistics()


def rate_limit_summary(disabled: bool) -> str:
    from agentlightning_core.ratelimit import RateLimitSettings

    settings = RateLimitSettings()
    if disabled or not settings.enabled:
        return "off"
    return f"on, {settings.max_requests} requests / {settings.window_seconds} s per client (RATE_LIMIT_*)"


def collect(results: Any, procs: list[Any]) -> list[Any]:
    """One result per worker process; a process that died without sending one ends the run."""
    outcomes: list[Any] = []
    while len(outcomes) < len(procs):
        try:
            outcomes.append(results.get(timeout=1.0))
        except queue.Empty:
            dead = [p for p in procs if p.exitcode not in (None, 0)]
            if dead:
                raise SystemExit(
                    f"worker process {dead[0].pid} died (exit code {dead[0].exitcode})"
                ) from None
    return outcomes


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux), to show the server's cost per rollout."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="server base URL (token from AGL_SERVER_TOKEN)")
    parser.add_argument("--serve", action="store_true", help="start `agl serve` for the run")
    parser.add_argument("--store", default="memory://", help="store URL for --serve (default memory://)")
    parser.add_argument("-R", "--rollouts", type=int, default=2000)
    parser.add_argument("-W", "--workers", type=int, default=64, help="async workers in total")
    parser.add_argument("-S", "--spans", type=int, default=4, help="spans per rollout")
    parser.add_argument("-P", "--processes", type=int, default=2)
    parser.add_argument(
        "--no-rate-limit",
        action="store_true",
        help="serve with RATE_LIMIT_ENABLED=false (with --serve); by default the server's RATE_LIMIT_* "
        "settings apply, and all workers share one token, so they share one per-client budget",
    )
    parser.add_argument(
        "--bus",
        default="memory",
        help="event bus of the --serve server (EVENT_BUS_BACKEND: memory, redis, rabbitmq); every state "
        "change is published to it",
    )
    args = parser.parse_args()
    if args.serve == bool(args.url):
        parser.error("give exactly one of --url URL or --serve")
    if args.workers < args.processes:
        parser.error("-W must be at least -P (each process needs a worker)")

    server = None
    token: str | None
    if args.serve:
        server, url, token = start_server(args.store, rate_limit=not args.no_rate_limit, bus=args.bus)
    else:
        url, token = args.url.rstrip("/"), os.environ.get("AGL_SERVER_TOKEN")
    try:
        before = run(stats(url, token))
        run(enqueue(url, token, args.rollouts))
        ctx = mp.get_context("spawn")
        barrier = ctx.Barrier(args.processes)
        results = ctx.Queue()
        per_process = [
            args.workers // args.processes + (1 if i < args.workers % args.processes else 0)
            for i in range(args.processes)
        ]
        procs = [
            ctx.Process(
                target=process_entry, args=(url, token, i, per_process[i], args.spans, barrier, results)
            )
            for i in range(args.processes)
        ]
        server_cpu = cpu_seconds(server.pid) if server is not None else float("nan")
        for p in procs:
            p.start()
        outcomes = collect(results, procs)
        failures = [o[1] for o in outcomes if o[0] == "error"]
        if failures:
            for p in procs:
                p.kill()
            raise SystemExit(f"a worker process failed: {failures[0]}")
        for p in procs:
            p.join()
        if server is not None:
            server_cpu = cpu_seconds(server.pid) - server_cpu
        after = run(stats(url, token))
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)

    elapsed = max(o[1] for o in outcomes) - min(o[0] for o in outcomes)
    done = sum(o[2] for o in outcomes)
    spans = sum(o[3] for o in outcomes)
    succeeded = after["rollouts"].get("succeeded", 0) - before["rollouts"].get("succeeded", 0)
    stored = after["spans"]["total"] - before["spans"]["total"]
    if done != args.rollouts or succeeded != args.rollouts or stored != args.rollouts * args.spans:
        raise SystemExit(
            f"incomplete run: workers finished {done}, store saw {succeeded} succeeded and {stored} spans"
        )
    print(
        f"rollouts: {done}  spans: {spans}  workers: {args.workers} in {args.processes} processes  time: {elapsed:.2f}s"
    )
    print(f"rollouts/s: {done / elapsed:,.0f}")
    print(f"spans/s: {spans / elapsed:,.0f}")
    client_cpu = sum(o[4] for o in outcomes)
    print(f"client CPU: {client_cpu:.2f}s ({1e6 * client_cpu / done:.0f} us per rollout, all processes)")
    if server is not None:
        print(f"server CPU: {server_cpu:.2f}s ({1e6 * server_cpu / done:.0f} us per rollout)")
    if args.serve:
        print(f"server rate limiting: {rate_limit_summary(args.no_rate_limit)}; event bus: {args.bus}")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (1 min) at the end")
    command = ["python", "benchmarks/store_throughput.py"]
    command += ["--serve", "--store", args.store, "--bus", args.bus] if args.serve else ["--url", url]
    command += ["--no-rate-limit"] if args.no_rate_limit else []
    command += [
        "-R",
        str(args.rollouts),
        "-W",
        str(args.workers),
        "-S",
        str(args.spans),
        "-P",
        str(args.processes),
    ]
    print("reproduce:", shlex.join(command))


if __name__ == "__main__":
    main()
