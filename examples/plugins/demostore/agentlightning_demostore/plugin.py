"""The plugin module the entry point names: registrations only, nothing heavy at import."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register

if TYPE_CHECKING:
    from agentlightning_core.store import LightningStore


def open_demostore(url: str) -> LightningStore:
    """Build the store for a ``demostore://`` URL (not started: the caller starts it)."""
    # Imported here, not at module import: `agl plugins` loads this module and must stay fast
    # even when the store needs a database driver.
    from .store import DemostoreStore

    return DemostoreStore.from_url(url)


@hookimpl
def agl_register_stores(register: Register) -> None:
    register("demostore", open_demostore, description="demostore store (from agl new-plugin store)")
