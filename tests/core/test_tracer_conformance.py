import pytest

from agentlightning_core.testing import TracerConformance
from agentlightning_core.tracer import NoopTracer, Tracer


class TestNoopTracerConformance(TracerConformance):
    @pytest.fixture
    def tracer(self) -> Tracer:
        return NoopTracer()
