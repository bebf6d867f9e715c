"""``@rate_limited``: the same limits for service methods, sync or async.

::

    @rate_limited("10/60")                               # 10 calls in any 60 s, all callers together
    async def call_tool(...): ...

    @rate_limited("5/1", key=lambda user, *a, **k: user)  # per first argument
    def send_mail(user: str, body: str): ...

    @rate_limited("100/60", wait=True)                   # sleep until admitted instead of raising
    async def fetch(...): ...

Over the limit a call raises :class:`RateLimitExceeded` (``retry_after`` in seconds), which the
server turns into a 429. The counts live in the limiter's storage: ``RATE_LIMIT_STORAGE_URL`` by
default, so with Redis every process shares them. With the default limiter the decorator follows
``RATE_LIMIT_ENABLED`` like every other limit (``false``: calls go straight through); a limiter
passed explicitly (``limiter=``) always counts. Both are read once, on the first decorated call.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from .errors import RateLimitExceeded
from .limiter import Decision, Limiter
from .settings import Limit, load_rate_limit_settings, parse_limit

F = TypeVar("F", bound=Callable[..., Any])

_DEFAULT: Limiter | None = None
_DEFAULT_ENABLED: bool | None = None


def default_limiter() -> Limiter:
    """The process-wide limiter over ``RATE_LIMIT_STORAGE_URL`` (created on first use)."""
    global _DEFAULT, _DEFAULT_ENABLED
    if _DEFAULT is None:
        settings = load_rate_limit_settings()
        _DEFAULT = Limiter.from_settings(settings)
        _DEFAULT_ENABLED = settings.enabled
    return _DEFAULT


def _default_or_none() -> Limiter | None:
    """The default limiter, or ``None`` when ``RATE_LIMIT_ENABLED`` is false."""
    limiter = default_limiter()
    if _DEFAULT_ENABLED is None:  # the default was set by hand (tests): it counts
        return limiter
    return limiter if _DEFAULT_ENABLED else None


def rate_limited(
    limit: str | Limit,
    *,
    key: str | Callable[..., str] | None = None,
    limiter: Limiter | None = None,
    wait: bool = False,
) -> Callable[[F], F]:
    """Limit calls of the decorated function to ``limit`` (``"N/S"`` or a :class:`Limit`).

    :param key: a fixed bucket name, or a function of the call's arguments giving one (per user,
        per provider); default: the function's qualified name, shared by all callers.
    :param limiter: where counts live; default :func:`default_limiter` (off when
        ``RATE_LIMIT_ENABLED`` is false).
    :param wait: sleep until a slot frees instead of raising :class:`RateLimitExceeded`.
    """
    parsed = limit if isinstance(limit, Limit) else parse_limit(limit, "rate_limited(limit)")
    if parsed is None:
        raise ValueError("rate_limited(limit): 'off' makes no sense on a decorator; remove it instead")
    the_limit: Limit = parsed

    def decorate(fn: F) -> F:
        name = f"{fn.__module__}.{fn.__qualname__}"

        def bucket(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
            if key is None:
                return name
            return key if isinstance(key, str) else f"{name}:{key(*args, **kwargs)}"

        def refused(decision: Decision, who: str) -> RateLimitExceeded:
            return RateLimitExceeded(who, str(the_limit), decision.retry_after)

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                who = bucket(args, kwargs)
                lim = limiter or _default_or_none()
                if lim is None:
                    return await fn(*args, **kwargs)
                while True:
                    decision = await lim.hit(the_limit, "call", who)
                    if decision.allowed:
                        return await fn(*args, **kwargs)
                    if not wait:
                        raise refused(decision, who)
                    await asyncio.sleep(max(0.01, decision.retry_after))

            return cast(F, async_wrapper)

        @functools.wraps(fn)
        def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
            who = bucket(args, kwargs)
            lim = limiter or _default_or_none()
            if lim is None:
                return fn(*args, **kwargs)
            while True:
                decision = lim.hit_sync(the_limit, "call", who)
                if decision.allowed:
                    return fn(*args, **kwargs)
                if not wait:
                    raise refused(decision, who)
                time.sleep(max(0.01, decision.retry_after))

        return cast(F, sync_wrapper)

    return decorate
