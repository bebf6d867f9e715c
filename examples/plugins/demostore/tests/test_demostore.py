"""The store passes the project's conformance suite, built through its installed entry point."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from agentlightning_core.plugin_manager import AglPluginManager
from agentlightning_core.store import LightningStore
from agentlightning_core.testing import StoreConformance


def test_installed_and_registered() -> None:
    registry = AglPluginManager().registry("agl_register_stores")
    assert "demostore" in registry, "pip install -e the plugin first: its entry point registers it"
    assert registry.entries["demostore"].provider.distribution == "agentlightning-demostore"


class TestDemostoreStore(StoreConformance):
    @pytest.fixture
    async def store(self) -> AsyncIterator[LightningStore]:
        store = AglPluginManager().store_factory("demostore")("demostore://")
        store.watchdog_interval = 0.05  # the suite waits for the watchdog twice: keep it quick
        async with store:
            yield store
