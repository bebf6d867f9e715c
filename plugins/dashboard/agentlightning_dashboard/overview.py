"""The overview page's numbers, from the store alone (no state kept in the dashboard).

* counts per status: the store's ``statistics()`` (one grouped query on SQL);
* rollouts per status over time and throughput: the latest :data:`RECENT` rollouts, bucketed by
  when they were enqueued and when they ended (one indexed page query, however big the run);
* workers and their heartbeats, and the current resources version;
* the algorithm's reward-like metrics per step, from the bus's history (:mod:`.metrics_view`).
"""

from __future__ import annotations

import time
from typing import Any

from agentlightning_core.bus.base import EventBus
from agentlightning_core.store.base import LightningStore
from agentlightning_core.types import Rollout

from .metrics_view import metric_series

#: rollouts the time series look at
RECENT = 1000
BUCKETS = 30


async def overview(store: LightningStore, bus: EventBus | None = None) -> dict[str, Any]:
    now = time.time()
    stats = await store.statistics()
    recent = (await store.search_rollouts(limit=RECENT, descending=True)).items
    workers = await store.query_workers()
    latest = await store.get_resources()
    return {
        "now": now,
        "counts": stats.get("rollouts", {}),
        "spans": stats.get("spans", {}).get("total"),
        "backend": stats.get("backend"),
        "series": status_series(recent, now),
        "throughput_per_min": throughput(recent, now),
        "metrics": await metric_series(bus),
        "workers": [
            {
                "worker_id": w.worker_id,
                "status": w.status.value,
                "hostname": w.hostname,
                "current_rollouts": len(w.current_rollout_ids),
                "heartbeat_age_s": round(now - w.last_heartbeat, 1),
            }
            for w in workers
        ],
        "resources": None
        if latest is None
        else {
            "resources_id": latest.resources_id,
            "version": latest.version,
            "names": sorted(latest.resources),
        },
    }


def status_series(rollouts: list[Rollout], now: float) -> dict[str, Any]:
    """Rollouts enqueued per time bucket, by their status now (oldest bucket first)."""
    if not rollouts:
        return {"start": now, "step_s": 60.0, "buckets": []}
    start = min(r.enqueue_time for r in rollouts)
    step = max((now - start) / BUCKETS, 1.0)
    buckets: list[dict[str, int]] = [{} for _ in range(BUCKETS)]
    for r in rollouts:
        i = min(int((r.enqueue_time - start) / step), BUCKETS - 1)
        buckets[i][r.status.value] = buckets[i].get(r.status.value, 0) + 1
    return {"start": start, "step_s": step, "buckets": buckets}


def throughput(rollouts: list[Rollout], now: float, window: float = 60.0) -> int:
    """Rollouts that ended in the last ``window`` seconds."""
    return sum(1 for r in rollouts if r.end_time is not None and now - r.end_time <= window)
