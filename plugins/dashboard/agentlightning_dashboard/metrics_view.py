"""The algorithm's logged metrics per step, from the event bus's history.

``TrainerContext.log_metrics`` publishes each record's numbers as a ``metrics.logged`` event; the
bus keeps the latest ones (memory: 1000 per topic, Redis: ``REDIS_BUS_HISTORY``), so the overview
can plot rewards per step without reading the run's ``metrics.jsonl``. A bus that keeps no history
(RabbitMQ) gives ``available: False`` and the page says so. Only reward-like series are sent.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from agentlightning_core.bus.base import EventBus
from agentlightning_core.types import Topic

log = logging.getLogger(__name__)

#: metric names the overview plots (train and val reward, accuracy, APO's beam score)
PLOTTED = re.compile(r"reward|accuracy|best_mean|best_val", re.IGNORECASE)
HISTORY = 1000


async def metric_series(bus: EventBus | None) -> dict[str, Any]:
    if bus is None or not bus.supports_history:
        return {"available": False, "series": {}, "latest_step": None}
    try:
        events = await bus.get_event_history(Topic.METRICS, limit=HISTORY)
    except Exception as exc:  # a bus outage must not take the overview down
        log.info("dashboard: no metrics history from the bus: %s", exc)
        return {"available": False, "series": {}, "latest_step": None}
    series: dict[str, list[list[float]]] = {}
    step = None
    for i, event in enumerate(events):
        step = event.payload.get("step", i)
        for key, value in event.payload.items():
            if key not in ("step", "time") and PLOTTED.search(key) and isinstance(value, (int, float)):
                series.setdefault(key, []).append([step, value])
    return {"available": True, "series": series, "latest_step": step}
