"""Per upstream provider limits for the LLM proxy (``RATE_LIMIT_PROVIDERS``).

An upstream's quota (OpenAI's requests per minute, a vLLM server's capacity) is one budget for
everyone, so the count is per provider, not per client: ``LLMEngine.provider(body)``, the engine's
name, or for an engine that routes (``litellm``) the provider the request's model goes to
(``anthropic``, ``gemini``). A call over the limit first waits, up to ``RATE_LIMIT_PROVIDER_MAX_WAIT_SECONDS``, for a slot (agents see latency, not
errors, during a burst); past that it is refused with :class:`RateLimitExceeded` (429 +
``Retry-After``), which OpenAI clients retry on their own.
"""

from __future__ import annotations

import asyncio
import time

from .errors import RateLimitExceeded
from .limiter import Limiter
from .settings import RateLimitSettings


async def admit_provider_call(limiter: Limiter, settings: RateLimitSettings, provider: str) -> None:
    """Return when a call to ``provider`` may go; raise :class:`RateLimitExceeded` if none may soon."""
    limit = settings.provider_limit(provider)
    if limit is None:
        return
    deadline = time.monotonic() + settings.provider_max_wait_seconds
    while True:
        decision = await limiter.hit(limit, "provider", provider)
        if decision.allowed:
            return
        wait = max(0.01, decision.retry_after)
        if time.monotonic() + wait > deadline:
            raise RateLimitExceeded(
                f"upstream provider {provider!r} (RATE_LIMIT_PROVIDERS)", str(limit), decision.retry_after
            )
        await asyncio.sleep(wait)
