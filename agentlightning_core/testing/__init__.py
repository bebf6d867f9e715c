"""Test kit for plugin authors: conformance suites every backend of a kind must pass.

Subclass a suite in your plugin's tests and provide the fixture it names::

    from agentlightning_core.testing import StoreConformance

    class TestMyStore(StoreConformance):
        @pytest.fixture
        async def store(self):
            async with MyStore(...) as s:
                yield s

Running agents for real in tests: :mod:`.scripted_llm` (a scripted OpenAI-compatible HTTP server
with token ids, and an engine forwarding to it) and :mod:`.proxy_harness` (store + server with the
LLM proxy + runner + tracer over a list of inputs); framework adapters and examples use both.
:func:`.spans.llm_call_span` builds an LLM-call span by hand, for tests of what reads them.
"""

from .bus_conformance import BusConformance
from .launcher_conformance import LauncherConformance
from .metric_sink_conformance import MetricSinkConformance, Recorded
from .store_conformance import StoreConformance
from .store_events import StoreEventsConformance
from .tracer_conformance import TracerConformance

__all__ = [
    "BusConformance",
    "LauncherConformance",
    "MetricSinkConformance",
    "Recorded",
    "StoreConformance",
    "StoreEventsConformance",
    "TracerConformance",
]
