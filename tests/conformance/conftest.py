from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from .backends import BUS_BACKENDS, SESSION_CLEANUPS, STORE_BACKENDS, require


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


@pytest.fixture(scope="session", autouse=True)
def _backend_cleanups() -> Iterator[None]:
    """Drop the throwaway databases and files that backends created for this session."""
    yield
    while SESSION_CLEANUPS:
        SESSION_CLEANUPS.pop()()
