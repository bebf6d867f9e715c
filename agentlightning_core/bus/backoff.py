"""Reconnect pacing shared by the networked buses (Redis, RabbitMQ).

Exponential with full jitter: many clients that lost the same server do not all knock on it in
the same millisecond when it comes back, and a long outage settles at ``maximum`` seconds
between tries instead of hammering it.
"""

from __future__ import annotations

import random


class Backoff:
    """Delays of ``initial * factor**n`` seconds, capped at ``maximum``, each scaled by a random
    factor in [0.5, 1]; ``reset()`` after a success."""

    def __init__(self, initial: float = 0.05, maximum: float = 2.0, factor: float = 2.0) -> None:
        if initial <= 0 or maximum < initial or factor < 1:
            raise ValueError(
                f"Backoff(initial={initial}, maximum={maximum}, factor={factor}): need 0 < initial <= "
                "maximum and factor >= 1"
            )
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.failures = 0

    def next(self) -> float:
        """The delay before the next try; counts one more failure."""
        delay = min(self.maximum, self.initial * self.factor**self.failures)
        self.failures += 1
        return delay * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.failures = 0
