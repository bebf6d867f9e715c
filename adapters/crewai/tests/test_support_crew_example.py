"""The example crew of ``examples/train_support_crew.py`` (router → replier) through the real
proxy and runner: the router's answer decides the reward, and ``agent_match="router"`` keeps only
the router's call, which is what the example trains."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("crewai", reason="runs in .venv-crewai (make test-crewai)")

import agentlightning_crewai
from agentlightning_otel import OtelTracer

from agentlightning_core.testing.proxy_harness import ProxyHarness
from agentlightning_core.testing.scripted_llm import ForwardingEngine, ScriptedUpstream

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "support_crew.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("support_crew", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def respond(body: dict[str, Any]) -> dict[str, Any]:
    system = " ".join(str(m.get("content")) for m in body["messages"] if m["role"] == "system")
    if "router" in system:
        return {"content": "Thought: I now know the final answer\nFinal Answer: shipping"}
    if "replier" in system:
        return {"content": "Thought: I now know the final answer\nFinal Answer: Our billing team will help."}
    raise AssertionError(f"unexpected prompt: {body['messages']}")


def test_first_team_is_the_first_team_named() -> None:
    crew = load_example()
    assert crew.first_team("Team: Shipping, not billing") == "shipping"
    assert crew.first_team("the accountant") is None  # whole words only
    assert crew.first_team("") is None
    agentlightning_crewai.uninstrument()


@pytest.mark.timeout(180)
async def test_the_router_alone_decides_the_reward_and_is_the_one_trained() -> None:
    crew = load_example()
    tickets = [
        {"id": "t1", "label": "shipping", "request": "My parcel is late."},
        {"id": "t2", "label": "billing", "request": "I was charged twice."},
    ]
    try:
        async with ScriptedUpstream(respond).serve() as url, ProxyHarness(ForwardingEngine(url)) as harness:
            right, wrong = await harness.run(crew.agent, tickets, tracer=OtelTracer())
    finally:
        agentlightning_crewai.uninstrument()
    # the replier names billing in both; only the router's "shipping" counts
    assert (right.reward, wrong.reward) == (1.0, 0.0)
    for result in (right, wrong):
        assert len(result.spans_of_type("llm")) == 2  # router, replier
        (routed,) = result.triplets(agent_match="router")
        assert "shipping" in str(routed.response)
