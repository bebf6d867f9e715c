"""The adapter, found through its installed entry point, runs a framework agent under a real runner."""

from __future__ import annotations

import pytest
from agentlightning_core import get_adapter
from agentlightning_core.plugin_manager import AglPluginManager
from agentlightning_core.reward import final_reward
from agentlightning_core.testing.tracer_conformance import run_with_tracer
from agentlightning_core.tracer import NoopTracer


class EchoAgent:
    """Stands for the framework's agent: rewards the tasks that say "yes"."""

    async def run(self, task: str) -> float:
        return 1.0 if task == "yes" else 0.0


def test_installed_and_registered() -> None:
    registry = AglPluginManager().registry("agl_register_adapters")
    assert "demoadapter" in registry, "pip install -e the plugin first: its entry point registers it"
    assert registry.entries["demoadapter"].provider.distribution == "agentlightning-demoadapter"


async def test_wrapped_agent_runs_as_rollouts_with_a_span_each() -> None:
    agent = get_adapter("demoadapter").wrap(EchoAgent())
    results = await run_with_tracer(NoopTracer(), agent, ["yes", "no"])
    for (rollout, spans), expected in zip(results, [1.0, 0.0], strict=True):
        assert rollout.status.value == "succeeded"
        (run,) = [s for s in spans if s.name == "demoadapter.run"]
        assert run.attributes["agentlightning.agent_name"] == "EchoAgent"
        assert final_reward(spans) == expected


def test_refuses_what_it_cannot_run() -> None:
    with pytest.raises(TypeError, match="run\\(task\\)"):
        get_adapter("demoadapter").wrap(object())
