"""What one rate-limit decision costs: ``Limiter.hit`` (hit + window stats, as the middleware does)
on the in-memory and the Redis storage, for both strategies.

Reproduce (needs Redis on 127.0.0.1:6379; keys use a unique prefix and expire)::

    .venv/bin/python benchmarks/ratelimit_overhead.py
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agentlightning_core.ratelimit import Limit, Limiter

N = 2000


async def measure(url: str, strategy: str) -> float:
    limiter = Limiter(url, strategy, key_prefix=f"agl-bench-{uuid.uuid4().hex[:8]}")
    limit = Limit(1_000_000, 60)  # never refuses: measures the admitted path
    await limiter.hit(limit, "b", "warm")
    start = time.perf_counter()
    for i in range(N):
        await limiter.hit(limit, "b", f"client-{i % 10}")
    return (time.perf_counter() - start) / N * 1e6


async def main() -> None:
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (1 min)")
    for url in ("memory://", "redis://127.0.0.1:6379/0"):
        for strategy in ("moving-window", "sliding-window-counter"):
            us = await measure(url, strategy)
            print(f"{url:28s} {strategy:24s} {us:8.1f} µs per request")
    print("\nreproduce: .venv/bin/python benchmarks/ratelimit_overhead.py")


if __name__ == "__main__":
    asyncio.run(main())
