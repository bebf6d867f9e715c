"""The error a limited call raises; the server maps it to 429 with ``Retry-After``."""

from __future__ import annotations

import math

from ..errors import AglError


class RateLimitExceeded(AglError):
    status_code = 429

    def __init__(self, what: str, limit: str, retry_after: float) -> None:
        self.retry_after = max(0.0, retry_after)
        super().__init__(
            f"rate limit of {limit} exceeded for {what}; retry in {math.ceil(self.retry_after)} s "
            "(limits: RATE_LIMIT_MAX_REQUESTS / RATE_LIMIT_WINDOW_SECONDS / RATE_LIMIT_ROUTES)"
        )
