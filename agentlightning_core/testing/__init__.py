"""Test kit for plugin authors: conformance suites every backend of a kind must pass.

Subclass a suite in your plugin's tests and provide the fixture it names::

    from agentlightning_core.testing import StoreConformance

    class TestMyStore(StoreConformance):
        @pytest.fixture
        async def store(self):
            async with MyStore(...) as s:
                yield s
"""

from .bus_conformance import BusConformance
from .store_conformance import StoreConformance
from .store_events import StoreEventsConformance

__all__ = ["BusConformance", "StoreConformance", "StoreEventsConformance"]
