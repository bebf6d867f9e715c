"""The event-bus conformance suite over every backend in ``backends.BUS_BACKENDS``."""

from agentlightning_core.testing import BusConformance


class TestBusConformance(BusConformance):
    pass
