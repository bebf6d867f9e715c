"""Opening a store from a URL through the plugin registry (never by importing a backend)."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from ..errors import InvalidRequestError
from ..plugin_manager import AglPluginManager, get_plugin_manager

if TYPE_CHECKING:
    from ..bus.base import EventBus
    from .base import LightningStore

log = logging.getLogger(__name__)

EMBEDDED_SQLITE_URL = "sqlite:///agentlightning.db"


def url_scheme(url: str) -> str:
    """``postgresql+asyncpg://...`` → ``postgresql``; ``mongodb+srv://`` stays whole."""
    if "://" not in url:
        raise InvalidRequestError(
            f"store URL {url!r} has no scheme; use e.g. memory://, sqlite:///agentlightning.db or "
            "postgresql://user@host/db"
        )
    scheme = url.split("://", 1)[0].lower()
    return scheme if scheme == "mongodb+srv" else scheme.split("+", 1)[0]


def default_store_url(manager: AglPluginManager | None = None) -> str:
    """``DATABASE_URL`` if set; else the embedded SQLite file when the sql plugin is installed;
    else the in-memory store."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    manager = manager or get_plugin_manager()
    if "sqlite" in manager.registry("agl_register_stores"):
        return EMBEDDED_SQLITE_URL
    return "memory://"


def open_store(
    url: str | None = None, *, bus: EventBus | None = None, manager: AglPluginManager | None = None
) -> LightningStore:
    """Build (not start) the store for ``url``; the scheme picks the plugin."""
    manager = manager or get_plugin_manager()
    url = url or default_store_url(manager)
    store = manager.store_factory(url_scheme(url))(url)
    store.bus = bus
    log.debug("opened store %s for %s", type(store).__name__, url.split("@")[-1])
    return store
