"""Choosing and opening the event bus: ``EVENT_BUS_BACKEND``, else Redis if it answers, else memory."""

from __future__ import annotations

import logging
import os

from ..plugin_manager import AglPluginManager, get_plugin_manager
from .base import EventBus

log = logging.getLogger(__name__)


async def open_event_bus(name: str | None = None, *, manager: AglPluginManager | None = None) -> EventBus:
    """Build and start a bus.

    With no name and no ``EVENT_BUS_BACKEND``, Redis is used when its plugin is installed and a
    server answers at ``REDIS_URL``; otherwise the in-process bus, with one log line saying why.
    A bus asked for by name that cannot start raises instead of falling back.
    """
    manager = manager or get_plugin_manager()
    name = name or os.environ.get("EVENT_BUS_BACKEND") or None
    if name:
        bus = manager.event_bus_factory(name)()
        await bus.start()
        return bus
    registry = manager.registry("agl_register_event_buses")
    if "redis" in registry:
        bus = registry.get("redis")()
        try:
            await bus.start()
            return bus
        except Exception as exc:
            reason = (
                f"Redis at {os.environ.get('REDIS_URL', 'redis://localhost:6379')} did not answer ({exc})"
            )
    else:
        reason = "the redis plugin is not installed"
    log.info("event bus: using the in-process bus because %s", reason)
    bus = registry.get("memory")()
    await bus.start()
    return bus
