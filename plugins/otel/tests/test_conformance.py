import pytest
from agentlightning_otel import OtelTracer

from agentlightning_core.testing import TracerConformance
from agentlightning_core.tracer import Tracer


class TestOtelTracerConformance(TracerConformance):
    @pytest.fixture
    def tracer(self) -> Tracer:
        return OtelTracer()
