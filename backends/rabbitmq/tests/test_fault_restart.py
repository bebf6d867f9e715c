"""Fault test with real processes: a private RabbitMQ node is stopped and started while events
flow; the bus recovers without restarting this process.

Documented guarantee (README "Guarantees"):

* a durable subscription gets every event whose ``publish()`` returned (confirmed, persistent,
  durable queue), across the broker restart, in publish order, each once (repeats dropped by id);
* a plain subscription's queue lives only while its connection does: events published from the
  broker stop until the robust connection has re-declared its queue are lost to it; everything
  before and after that window arrives, in order, once;
* a publish made while the broker is down waits for it (up to ``retry_seconds``).

The test counts published, delivered and lost events per subscription and prints them.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from pathlib import Path

import pytest
from agentlightning_rabbitmq import RabbitMQEventBus, RabbitMQSettings
from agentlightning_rabbitmq.testing import PrivateRabbitMQ

from agentlightning_core.errors import BackendUnavailableError

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("rabbitmq-server") is None
        and not Path("/usr/lib/rabbitmq/bin/rabbitmq-server").exists(),
        reason="needs the rabbitmq-server binary for a private server (apt-get install rabbitmq-server)",
    ),
]

TOPIC = "rollouts"
RATE = 100  # events per second


async def test_rabbitmq_restart_keeps_durable_events_and_recovers(tmp_path: Path) -> None:
    node = PrivateRabbitMQ(tmp_path / "rabbitmq")
    await asyncio.to_thread(node.start)
    try:
        settings = RabbitMQSettings(host="127.0.0.1", port=node.port, exchange="fault", retry_seconds=120)
        async with RabbitMQEventBus(settings) as bus:
            plain = bus.subscribe([TOPIC])
            durable = bus.subscribe([TOPIC], durable="fault-watcher")
            await plain.ready()
            await durable.ready()
            published: dict[int, float] = {}  # i -> when publish() returned
            failed: list[int] = []
            received: dict[str, list[tuple[int, float]]] = {"plain": [], "durable": []}
            stop = asyncio.Event()

            async def publisher() -> None:
                i = 0
                while not stop.is_set():
                    try:
                        await bus.emit(TOPIC, "seq", {"i": i})
                        published[i] = time.monotonic()
                    except BackendUnavailableError:
                        failed.append(i)
                    i += 1
                    await asyncio.sleep(1 / RATE)

            async def consumer(name: str, sub) -> None:
                while True:
                    event = await sub.get()
                    received[name].append((event.payload["i"], time.monotonic()))

            tasks = [
                asyncio.create_task(consumer("plain", plain)),
                asyncio.create_task(consumer("durable", durable)),
            ]
            pub = asyncio.create_task(publisher())
            await asyncio.sleep(2.0)
            t_stop = time.monotonic()
            await asyncio.to_thread(node.stop)
            await asyncio.sleep(1.0)
            await asyncio.to_thread(node.start)
            t_up = time.monotonic()
            await asyncio.sleep(4.0)
            stop.set()
            await pub
            await asyncio.sleep(2.0)  # let the last deliveries land
            for task in tasks:
                task.cancel()
            order = sorted(published)
            assert failed == []  # publishes waited the outage out
            assert any(published[i] < t_stop for i in order) and any(published[i] > t_up for i in order)

            seq = [i for i, _ in received["durable"]]
            print(
                f"rabbitmq fault test [durable]: published {len(order)}, delivered {len(seq)}, "
                f"lost {len(set(order) - set(seq))}, repeats dropped {durable.duplicates}"
            )
            assert seq == order

            seq = [i for i, _ in received["plain"]]
            lost = sorted(set(order) - set(seq))
            assert seq == sorted(set(seq)), "plain: duplicates or out of order"
            assert set(seq) <= set(order)
            back = min((at for i, at in received["plain"] if published[i] > t_up), default=None)
            assert back is not None, "the plain subscription never recovered"
            window = [i for i in order if t_stop - 1.0 <= published[i] <= back]
            print(
                f"rabbitmq fault test [plain]: published {len(order)}, delivered {len(seq)}, lost {len(lost)} "
                f"(all published between the broker stop and {back - t_up:.1f}s after it was back, before "
                "the subscription's queue was re-declared)"
            )
            assert set(lost) <= set(window)
            for sub in (plain, durable):
                await sub.close()
            await bus.delete_durable("fault-watcher")
    finally:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(node.stop)
