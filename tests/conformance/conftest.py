from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from .backends import BUS_BACKENDS, STORE_BACKENDS, require


@pytest.fixture(params=sorted(STORE_BACKENDS))
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    factory, module, hint = STORE_BACKENDS[request.param]
    require(module, hint)
    async with factory() as store:
        yield store


@pytest.fixture(params=sorted(BUS_BACKENDS))
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    factory, module, hint = BUS_BACKENDS[request.param]
    require(module, hint)
    async with factory() as bus:
        yield bus
