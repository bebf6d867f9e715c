"""A LangGraph graph as a ``LitAgent``: build it for the rollout's LLM, run it, score it."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from agentlightning_core.agent import LitAgent, first_llm, maybe_await
from agentlightning_core.runtime.context import NamedResources
from agentlightning_core.types import Rollout

GraphBuilder = Callable[..., Any]
"""``build(llm)`` or ``build(llm, resources)`` → a compiled graph (anything with ``ainvoke``)."""


class LangGraphAgent(LitAgent[Any]):
    """Runs ``build(llm)`` → ``graph.ainvoke(to_input(task))`` → ``reward(task, final_state)``.

    The graph is built per rollout because the LLM endpoint names the rollout and attempt (the
    proxy's per-attempt path): the builder is where the agent's code takes ``llm.endpoint`` as
    its model client's base URL — the only change an existing graph needs.
    """

    def __init__(
        self,
        build: GraphBuilder,
        *,
        reward: Callable[[Any, Any], Any],
        to_input: Callable[[Any], Any] | None = None,
        name: str = "langgraph",
        config: dict[str, Any] | None = None,
    ) -> None:
        self.build = build
        self.reward = reward
        self.to_input = to_input
        self.name = name
        self.config = dict(config or {})
        self._takes_resources = len(inspect.signature(build).parameters) >= 2

    async def rollout(self, task: Any, resources: NamedResources, rollout: Rollout) -> float | None:
        llm = first_llm(resources, self.name)
        graph = self.build(llm, resources) if self._takes_resources else self.build(llm)
        graph = await maybe_await(graph)
        state = self.to_input(task) if self.to_input is not None else task
        final = await graph.ainvoke(state, config={"run_name": self.name, **self.config})
        value = await maybe_await(self.reward(task, final))
        return None if value is None else float(value)
