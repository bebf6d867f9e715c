"""The tracer passes the project's conformance suite, built through its installed entry point."""

from __future__ import annotations

import pytest
from agentlightning_core.plugin_manager import AglPluginManager
from agentlightning_core.testing import TracerConformance
from agentlightning_core.testing.tracer_conformance import run_with_tracer
from agentlightning_core.tracer import Tracer


def test_installed_and_registered() -> None:
    registry = AglPluginManager().registry("agl_register_tracers")
    assert "demotracer" in registry, "pip install -e the plugin first: its entry point registers it"
    assert registry.entries["demotracer"].provider.distribution == "agentlightning-demotracer"


class TestDemotracerTracer(TracerConformance):
    @pytest.fixture
    def tracer(self) -> Tracer:
        return AglPluginManager().tracer_factory("demotracer")()


async def test_one_span_per_attempt() -> None:
    tracer = AglPluginManager().tracer_factory("demotracer")()

    async def agent(task: str) -> float:
        return 1.0

    ((rollout, spans),) = await run_with_tracer(tracer, agent, ["task"])
    (mine,) = [s for s in spans if s.name == "demotracer.attempt"]
    assert mine.end_time is not None and mine.end_time >= mine.start_time
    assert mine.rollout_id == rollout.rollout_id and rollout.status.value == "succeeded"
