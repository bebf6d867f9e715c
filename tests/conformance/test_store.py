"""The store conformance suite over every backend in ``backends.STORE_BACKENDS``."""

from agentlightning_core.testing import StoreConformance


class TestStoreConformance(StoreConformance):
    pass
