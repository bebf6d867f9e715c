"""Event-bus throughput and publish->deliver latency, per backend.

For each backend: one subscriber in this process, and
* throughput: ``--events`` events published by ``--concurrency`` tasks as fast as they go; events/s
  is events over the time from the first publish to the last delivery;
* latency: ``--latency-events`` events published one at a time, ``--interval`` seconds apart;
  each carries its publish time, the subscriber notes when ``get()`` returned it; p50/p99.

Runs against the servers named by REDIS_URL (default redis://127.0.0.1:6379) and RABBITMQ_HOST /
RABBITMQ_PORT (default 127.0.0.1:5672), on a key prefix / exchange of its own that it removes.

    .venv/bin/python benchmarks/bus_throughput.py
    .venv/bin/python benchmarks/bus_throughput.py --backends redis --events 20000 --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from rich.console import Console
from rich.table import Table

from agentlightning_core.bus.base import EventBus
from agentlightning_core.bus.memory import InMemoryEventBus


@asynccontextmanager
async def open_bus(name: str) -> AsyncIterator[EventBus]:
    unique = uuid.uuid4().hex[:10]
    if name == "memory":
        async with InMemoryEventBus(history_size=100_000) as bus:
            yield bus
    elif name == "redis":
        from agentlightning_redis import RedisEventBus

        url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")
        async with RedisEventBus(url, prefix=f"agl-bench:{unique}") as rbus:
            try:
                yield rbus
            finally:
                keys = [k async for k in rbus.redis.scan_iter(match=f"{rbus.prefix}:*")]
                if keys:
                    await rbus.redis.delete(*keys)
    elif name == "rabbitmq":
        from agentlightning_rabbitmq import RabbitMQEventBus, RabbitMQSettings

        settings = RabbitMQSettings(
            host=os.environ.get("RABBITMQ_HOST", "127.0.0.1"), exchange=f"agl-bench.{unique}"
        )
        async with RabbitMQEventBus(settings) as qbus:
            try:
                yield qbus
            finally:
                await qbus.delete_exchange()
    else:
        raise SystemExit(f"unknown backend {name!r}; choose from memory, redis, rabbitmq")


async def throughput(bus: EventBus, events: int, concurrency: int, payload: str) -> float:
    topic = "bench.throughput"
    async with bus.subscribe([topic]) as sub:
        start = time.perf_counter()

        async def publisher(k: int) -> None:
            for i in range(k, events, concurrency):
                await bus.emit(topic, "bench", {"i": i, "pad": payload})

        async def consumer() -> None:
            for _ in range(events):
                if await sub.get(timeout=60) is None:
                    raise RuntimeError("an event did not arrive within 60 s")

        await asyncio.gather(consumer(), *(publisher(k) for k in range(concurrency)))
        return events / (time.perf_counter() - start)


async def latency(bus: EventBus, events: int, interval: float, payload: str) -> list[float]:
    topic = "bench.latency"
    delays: list[float] = []
    async with bus.subscribe([topic]) as sub:

        async def consumer() -> None:
            for _ in range(events):
                event = await sub.get(timeout=60)
                if event is None:
                    raise RuntimeError("an event did not arrive within 60 s")
                delays.append(time.perf_counter() - event.payload["t"])

        task = asyncio.create_task(consumer())
        for _ in range(events):
            await bus.emit(topic, "bench", {"t": time.perf_counter(), "pad": payload})
            await asyncio.sleep(interval)
        await task
    return delays


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


async def main(args: argparse.Namespace) -> None:
    console = Console()
    table = Table(title="event bus: throughput and publish->deliver latency")
    for column in ("backend", "events/s", "p50 ms", "p99 ms", "max ms"):
        table.add_column(column, justify="right")
    payload = "x" * args.payload_bytes
    rows: list[tuple[Any, ...]] = []
    for name in args.backends.split(","):
        with console.status(f"{name}: measuring"):
            async with open_bus(name) as bus:
                rate = await throughput(bus, args.events, args.concurrency, payload)
                delays = await latency(bus, args.latency_events, args.interval, payload)
        ms = [d * 1000 for d in delays]
        row = (
            name,
            f"{rate:,.0f}",
            f"{percentile(ms, 50):.2f}",
            f"{percentile(ms, 99):.2f}",
            f"{max(ms):.2f}",
        )
        rows.append(row)
        table.add_row(*row)
        print(f"{name}: {rate:,.0f} events/s; latency p50 {row[2]} ms, p99 {row[3]} ms, max {row[4]} ms")
    console.print(table)
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print("reproduce: .venv/bin/python " + " ".join(shlex.quote(a) for a in sys.argv))


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backends", default="memory,redis,rabbitmq", help="comma-separated")
    parser.add_argument("--events", type=int, default=5000, help="events for the throughput run")
    parser.add_argument("--concurrency", type=int, default=16, help="publishing tasks in the throughput run")
    parser.add_argument("--latency-events", type=int, default=1000, help="events for the latency run")
    parser.add_argument("--interval", type=float, default=0.002, help="seconds between latency events")
    parser.add_argument("--payload-bytes", type=int, default=200, help="padding per event")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
