"""The bus passes the project's conformance suite, built through its installed entry point."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from agentlightning_core.bus import EventBus
from agentlightning_core.plugin_manager import AglPluginManager
from agentlightning_core.testing import BusConformance


def test_installed_and_registered() -> None:
    registry = AglPluginManager().registry("agl_register_event_buses")
    assert "demobus" in registry, "pip install -e the plugin first: its entry point registers it"
    assert registry.entries["demobus"].provider.distribution == "agentlightning-demobus"


class TestDemobusEventBus(BusConformance):
    @pytest.fixture
    async def bus(self) -> AsyncIterator[EventBus]:
        async with AglPluginManager().event_bus_factory("demobus")() as bus:
            yield bus
