"""``log_metrics`` also puts the record's numbers on the bus (topic ``metrics``), for live pages."""

from __future__ import annotations

import asyncio

from agentlightning_core import InMemoryStore
from agentlightning_core.algorithm import TrainerContext
from agentlightning_core.bus.memory import InMemoryEventBus
from agentlightning_core.types import EventType, Topic


async def test_logged_metrics_are_published_with_their_numbers_only(tmp_path) -> None:
    store = InMemoryStore()
    store.bus = InMemoryEventBus()
    ctx = TrainerContext(store, output_dir=tmp_path)
    async with store.bus.subscribe([Topic.METRICS]) as sub:
        ctx.log_metrics(
            {"val/reward_mean": 0.75, "apo/beam": ["a", "b"], "bad": float("nan"), "ok": True}, step=3
        )
        event = await sub.get(timeout=5)
    assert event is not None and event.type == EventType.METRICS_LOGGED
    assert event.payload["val/reward_mean"] == 0.75 and event.payload["step"] == 3
    assert "apo/beam" not in event.payload and "bad" not in event.payload and "ok" not in event.payload
    history = await store.bus.get_event_history(Topic.METRICS)
    assert [e.payload["step"] for e in history] == [3]


async def test_without_a_bus_logging_still_works(tmp_path) -> None:
    ctx = TrainerContext(InMemoryStore(), output_dir=tmp_path)
    record = ctx.log_metrics({"train/reward_mean": 0.5}, step=1)
    await asyncio.sleep(0)
    assert record["train/reward_mean"] == 0.5
    assert (tmp_path / "metrics.jsonl").read_text().count("reward_mean") == 1
