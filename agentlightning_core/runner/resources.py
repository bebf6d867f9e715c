"""Fetching a rollout's resources once per version, and handing each attempt its own copy.

Resources versions never change once published, so a version fetched for one rollout serves
every later rollout that names it. ``resources_id=None`` means "the latest at dequeue time" and
is asked of the store every time, because the latest moves.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from ..errors import NotFoundError
from ..store.base import LightningStore
from ..types import LLM, Resource, ResourcesUpdate


class ResourcesCache:
    """A small LRU of :class:`ResourcesUpdate` by id; concurrent misses share one fetch."""

    def __init__(self, store: LightningStore, *, max_versions: int = 32) -> None:
        self.store = store
        self.max_versions = max_versions
        self._cache: OrderedDict[str, ResourcesUpdate] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[ResourcesUpdate]] = {}
        self.fetches = 0

    async def get(self, resources_id: str | None) -> ResourcesUpdate | None:
        """The version ``resources_id`` (``None``: the latest, or ``None`` if nothing is published).

        Raises :class:`NotFoundError` when the rollout names a version the store does not have.
        """
        if resources_id is None:
            self.fetches += 1
            latest = await self.store.get_resources(None)
            if latest is not None:
                self._put(latest)
            return latest
        cached = self._cache.get(resources_id)
        if cached is not None:
            self._cache.move_to_end(resources_id)
            return cached
        pending = self._inflight.get(resources_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[ResourcesUpdate] = asyncio.get_running_loop().create_future()
        self._inflight[resources_id] = future
        try:
            self.fetches += 1
            update = await self.store.get_resources(resources_id)
            if update is None:
                raise NotFoundError(
                    f"resources_id {resources_id!r} named by the rollout does not exist in the store; "
                    "publish it with add_resources before enqueueing rollouts that use it"
                )
            self._put(update)
            future.set_result(update)
            return update
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: nobody else may be waiting
            raise
        finally:
            del self._inflight[resources_id]

    def _put(self, update: ResourcesUpdate) -> None:
        self._cache[update.resources_id] = update
        self._cache.move_to_end(update.resources_id)
        while len(self._cache) > self.max_versions:
            self._cache.popitem(last=False)


def resources_for_attempt(
    update: ResourcesUpdate | None, rollout_id: str, attempt_id: str
) -> dict[str, Resource]:
    """Deep copies of the version's resources; proxied LLMs routed to this attempt's endpoint.

    Copies, because agent code may change what it is given (sampling parameters, a template) and
    must not change what the next attempt receives.
    """
    if update is None:
        return {}
    routed: dict[str, Resource] = {}
    for name, resource in update.resources.items():
        copy = resource.model_copy(deep=True)
        routed[name] = copy.for_attempt(rollout_id, attempt_id) if isinstance(copy, LLM) else copy
    return routed
