"""How many runners the queue asks for: enough to run every queued and running rollout at once,
within the bounds. Shrinking waits for a second look in a row, so a queue that drains for an
instant between two batches of an algorithm does not stop runners it needs a second later."""

from __future__ import annotations

import math


def desired_replicas(queued: int, running: int, concurrency: int, lower: int, upper: int) -> int:
    wanted = math.ceil((queued + running) / max(1, concurrency))
    return max(lower, min(upper, wanted))


class ScaleDecider:
    def __init__(self, lower: int, upper: int, concurrency: int) -> None:
        self.lower, self.upper, self.concurrency = lower, upper, concurrency
        self._shrink_votes = 0

    def decide(self, current: int, queued: int, running: int) -> int:
        """The replica count to move to now (``current`` when nothing should change)."""
        target = desired_replicas(queued, running, self.concurrency, self.lower, self.upper)
        if target > current:
            self._shrink_votes = 0
            return target
        if target < current:
            self._shrink_votes += 1
            return target if self._shrink_votes >= 2 else current
        self._shrink_votes = 0
        return current
