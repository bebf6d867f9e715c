"""One object that answers "may this caller go on, and when may it next?" for async and sync code.

Strategy (``RATE_LIMIT_STRATEGY``), both from the ``limits`` library:

* ``moving-window`` (default): every admitted request's timestamp is kept for one window, and a
  request is admitted when fewer than N are in the last S seconds. Exact — never more than N in
  any S-second span, across processes when the storage is Redis (one Lua script per hit, atomic).
  Costs one list entry per admitted request per key: fine for the hundreds to thousands per
  minute a server sees per client.
* ``sliding-window-counter``: two counters per key (this window, the last one) and a weighted
  sum; O(1) memory, but it admits a little more or less than N around window edges. For very
  large limits where memory matters more than exactness.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItemPerSecond

from .settings import Limit, RateLimitSettings
from .storage import async_storage, sync_storage


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    #: epoch seconds when the oldest counted request leaves the window (one more is admitted then)
    reset_at: float

    @property
    def retry_after(self) -> float:
        return 0.0 if self.allowed else max(0.0, self.reset_at - time.time())

    def headers(self) -> dict[str, str]:
        """``X-RateLimit-*`` (and ``Retry-After`` when refused), as most APIs send them."""
        out = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.remaining)),
            "X-RateLimit-Reset": str(math.ceil(self.reset_at)),
        }
        if not self.allowed:
            out["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        return out


def _item(limit: Limit) -> RateLimitItemPerSecond:
    return RateLimitItemPerSecond(limit.max_requests, limit.window_seconds, namespace="agl")


class Limiter:
    """Counts hits per ``(bucket, identity)`` against a :class:`Limit`; storages open lazily."""

    def __init__(
        self,
        storage_url: str = "memory://",
        strategy: str = "moving-window",
        key_prefix: str = "agl-ratelimit",
    ) -> None:
        if strategy not in ("moving-window", "sliding-window-counter"):
            raise ValueError(
                f"strategy {strategy!r} is unknown; use 'moving-window' or 'sliding-window-counter'"
            )
        self.storage_url = storage_url
        self.strategy = strategy
        self.key_prefix = key_prefix
        self._async: Any = None
        self._sync: Any = None

    @classmethod
    def from_settings(cls, settings: RateLimitSettings) -> Limiter:
        return cls(settings.storage_url, settings.strategy, settings.key_prefix)

    def _strategy_class(self, module: Any) -> Any:
        if self.strategy == "moving-window":
            return module.MovingWindowRateLimiter
        return module.SlidingWindowCounterRateLimiter

    @property
    def async_limiter(self) -> Any:
        if self._async is None:
            from limits.aio import strategies

            self._async = self._strategy_class(strategies)(async_storage(self.storage_url, self.key_prefix))
        return self._async

    @property
    def sync_limiter(self) -> Any:
        if self._sync is None:
            from limits import strategies

            self._sync = self._strategy_class(strategies)(sync_storage(self.storage_url, self.key_prefix))
        return self._sync

    async def hit(self, limit: Limit, *identifiers: str) -> Decision:
        item = _item(limit)
        allowed = await self.async_limiter.hit(item, *identifiers)
        stats = await self.async_limiter.get_window_stats(item, *identifiers)
        return Decision(allowed, limit.max_requests, stats.remaining, stats.reset_time)

    def hit_sync(self, limit: Limit, *identifiers: str) -> Decision:
        item = _item(limit)
        allowed = self.sync_limiter.hit(item, *identifiers)
        stats = self.sync_limiter.get_window_stats(item, *identifiers)
        return Decision(allowed, limit.max_requests, stats.remaining, stats.reset_time)

    async def clear(self, limit: Limit, *identifiers: str) -> None:
        await self.async_limiter.clear(_item(limit), *identifiers)
