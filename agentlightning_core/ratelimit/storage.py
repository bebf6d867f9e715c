"""Storages of the ``limits`` library from one URL, async and sync.

``memory://`` counts in this process only. ``redis://`` shares the counts between processes and
machines; it needs the ``redis`` client library, which the core does not depend on: it comes with
the Redis plugin (``pip install "agentlightning-core[redis]"``) or on its own (``pip install redis``),
and is looked for only when a Redis URL is configured.
"""

from __future__ import annotations

import importlib.util
from typing import Any


def _need_redis(url: str) -> None:
    if importlib.util.find_spec("redis") is None:
        raise RuntimeError(
            f"RATE_LIMIT_STORAGE_URL={url} needs the 'redis' client library: "
            'pip install "agentlightning-core[redis]" (or: pip install redis), or use memory://'
        )


def async_storage(url: str, key_prefix: str) -> Any:
    if url.startswith("memory://"):
        from limits.aio.storage import MemoryStorage

        return MemoryStorage()
    _need_redis(url)
    from limits.aio.storage import RedisStorage

    scheme, rest = url.split("://", 1)
    return RedisStorage(f"async+{scheme}://{rest}", implementation="redispy", key_prefix=key_prefix)


def sync_storage(url: str, key_prefix: str) -> Any:
    if url.startswith("memory://"):
        from limits.storage import MemoryStorage

        return MemoryStorage()
    _need_redis(url)
    from limits.storage import RedisStorage

    return RedisStorage(url.replace("redis+unix://", "unix://"), key_prefix=key_prefix)
