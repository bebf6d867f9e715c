"""What the server and its HTTP client share, without importing the server (FastAPI, uvicorn).

Runner processes import :mod:`agentlightning_core.client` only; keeping these few definitions
here keeps that import light.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import TypeAdapter

#: prefix of every store route
STORE_PREFIX = "/v1/store"

#: the longest one ``/rollouts/wait`` request blocks; clients loop for longer waits
MAX_WAIT_SECONDS = 30.0

#: the server's keep-alive; clients keep idle connections for less, so the server never closes
#: a connection a client is about to reuse
SERVER_KEEP_ALIVE_SECONDS = 75
CLIENT_KEEP_ALIVE_SECONDS = 30


@lru_cache(maxsize=64)
def adapter(tp: Any) -> TypeAdapter[Any]:
    """One cached ``TypeAdapter`` per type (building one costs far more than using it)."""
    return TypeAdapter(tp)
