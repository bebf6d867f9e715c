"""The backends page: the store's own statistics (the SQL pools: size, checked out, overflow,
waits) and the event bus: its kind, its lag and throughput (the store's
:class:`~agentlightning_core.bus.meter.PublishMeter`), and the store's outbox (events waiting
while the bus is down)."""

from __future__ import annotations

from typing import Any

from agentlightning_core.bus.base import EventBus
from agentlightning_core.store.base import LightningStore


async def backends(store: LightningStore, bus: EventBus | None) -> dict[str, Any]:
    stats = await store.statistics()
    outbox = store.outbox
    return {
        "store": {"kind": type(store).__name__, **stats},
        "bus": {
            "kind": None if bus is None else type(bus).__name__,
            "in_outage": store.bus_in_outage,
            **store.bus_meter.statistics(),
            "outbox": None if outbox is None else outbox.statistics(),
        },
    }
