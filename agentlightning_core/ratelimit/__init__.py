"""Rate limiting on the ``limits`` library: for HTTP apps, service methods and LLM providers.

* :func:`setup_rate_limiting` — per-client limits for any FastAPI app (429 + ``Retry-After``,
  ``X-RateLimit-*`` headers); the server uses it.
* :func:`rate_limited` — a decorator for sync and async functions.
* :class:`Limiter` — the counting itself (moving window by default; memory or Redis storage), for
  code that counts its own buckets (the LLM proxy, per upstream provider).

Settings: ``RATE_LIMIT_*`` (:class:`RateLimitSettings`); see docs/security.md.
"""

from __future__ import annotations

from .decorator import default_limiter, rate_limited
from .errors import RateLimitExceeded
from .limiter import Decision, Limiter
from .middleware import RateLimitMiddleware, client_identity, setup_rate_limiting
from .providers import admit_provider_call
from .settings import Limit, RateLimitSettings, load_rate_limit_settings, parse_limit

__all__ = [
    "Decision",
    "admit_provider_call",
    "Limit",
    "Limiter",
    "RateLimitExceeded",
    "RateLimitMiddleware",
    "RateLimitSettings",
    "client_identity",
    "default_limiter",
    "load_rate_limit_settings",
    "parse_limit",
    "rate_limited",
    "setup_rate_limiting",
]
