"""How fast a store's events reach its bus: lag and throughput, for the dashboard's backends page.

A store records each event it publishes with how long the event waited: the time spent in the
outbox (the delay a subscriber sees on top of the bus's own; it grows during a bus outage), or,
for a bus published on directly, the publish call itself. Kept in memory, bounded, stdlib only.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

#: the window the published-events rate is counted over
RATE_WINDOW_SECONDS = 10.0
#: how many of the latest events the lag figures (and a busy bus's rate) are taken from
SAMPLES = 256


class PublishMeter:
    """The latest published events' waits, and the rate they were published at."""

    def __init__(self) -> None:
        self.published = 0
        #: (monotonic time published, seconds it waited) of the latest events
        self._samples: deque[tuple[float, float]] = deque(maxlen=SAMPLES)

    def record(self, waited: float, now: float | None = None) -> None:
        """One event reached the bus after waiting ``waited`` seconds."""
        self.published += 1
        self._samples.append((time.monotonic() if now is None else now, waited))

    def statistics(self) -> dict[str, Any]:
        """``lag_ms``: the median and the largest wait of the latest events (``None`` before the
        first); ``events_per_s``: events published over the last :data:`RATE_WINDOW_SECONDS` (over
        the samples' own span when more than :data:`SAMPLES` came in that window)."""
        now = time.monotonic()
        waits = sorted(w for _, w in self._samples)
        lag = (
            {"median": round(waits[len(waits) // 2] * 1000, 3), "max": round(waits[-1] * 1000, 3)}
            if waits
            else None
        )
        recent = [at for at, _ in self._samples if now - at <= RATE_WINDOW_SECONDS]
        if len(recent) == SAMPLES:  # the bound cut the window short: rate over the samples' span
            rate = len(recent) / max(now - recent[0], 1e-3)
        else:
            rate = len(recent) / RATE_WINDOW_SECONDS
        return {"published": self.published, "lag_ms": lag, "events_per_s": round(rate, 2)}
