"""Every store that keeps its own state publishes one event per state change.

Runs over the stores in ``backends.STORE_BACKENDS`` that publish themselves (not the HTTP
client, whose server publishes).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from agentlightning_core.testing import StoreEventsConformance

from .backends import STORE_BACKENDS, require

#: stores that are clients of a store elsewhere: the remote side publishes
CLIENT_STORES = {"http", "https"}


class TestStoreEvents(StoreEventsConformance):
    @pytest.fixture(params=sorted(set(STORE_BACKENDS) - CLIENT_STORES))
    async def store(self, request: pytest.FixtureRequest) -> AsyncIterator[Any]:
        factory, module, hint = STORE_BACKENDS[request.param]
        require(module, hint)
        async with factory() as store:
            yield store
