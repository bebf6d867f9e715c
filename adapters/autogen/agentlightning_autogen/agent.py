"""An AutoGen agent or team as a ``LitAgent``: build it for the rollout's LLM, run, score."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from agentlightning_core.agent import LitAgent, first_llm, maybe_await
from agentlightning_core.runtime.context import NamedResources
from agentlightning_core.types import LLM, Rollout

TeamBuilder = Callable[..., Any]
"""``build(llm)`` or ``build(llm, resources)`` → an agent or team (anything with ``run(task=...)``)."""

#: what AutoGen needs to know about a model it has no table entry for (local and proxied models)
DEFAULT_MODEL_INFO: dict[str, Any] = {
    "vision": False,
    "function_calling": True,
    "json_output": False,
    "structured_output": False,
    "family": "unknown",
}


def openai_model_client(llm: LLM, **options: Any) -> Any:
    """An ``OpenAIChatCompletionClient`` for ``llm`` (endpoint, model, key, model info filled in)."""
    from autogen_ext.models.openai import OpenAIChatCompletionClient

    options.setdefault("model_info", DEFAULT_MODEL_INFO)
    for key, value in llm.sampling_parameters.items():
        options.setdefault(key, value)
    return OpenAIChatCompletionClient(
        model=llm.model, base_url=llm.endpoint, api_key=llm.api_key_value, **options
    )


async def close_resources(team: Any) -> None:
    """Close what the builder opened for this rollout: model clients and tool workbenches (an
    MCP workbench holds a session to its server)."""
    seen: set[int] = set()
    for agent in getattr(team, "_participants", None) or [team]:
        workbenches = getattr(agent, "_workbench", None) or []
        if not isinstance(workbenches, (list, tuple)):
            workbenches = [workbenches]
        for item in [getattr(agent, "_model_client", None), *workbenches]:
            if item is None or id(item) in seen:
                continue
            seen.add(id(item))
            closer = getattr(item, "close", None) or getattr(item, "stop", None)
            if closer is not None:
                try:
                    await maybe_await(closer())
                except Exception:  # closing twice or a stopped workbench must not fail the rollout
                    pass


class AutoGenAgent(LitAgent[Any]):
    """``build(llm)`` → ``team.run(task=to_task(task))`` → ``reward(task, task_result)``.

    Built per rollout because the LLM endpoint names the rollout and attempt; the builder is where
    the agent's code passes ``llm.endpoint`` as its model client's ``base_url``.
    """

    def __init__(
        self,
        build: TeamBuilder,
        *,
        reward: Callable[[Any, Any], Any],
        to_task: Callable[[Any], Any] | None = None,
        name: str = "autogen",
    ) -> None:
        self.build = build
        self.reward = reward
        self.to_task = to_task
        self.name = name
        self._takes_resources = len(inspect.signature(build).parameters) >= 2

    async def rollout(self, task: Any, resources: NamedResources, rollout: Rollout) -> float | None:
        llm = first_llm(resources, self.name)
        team = await maybe_await(self.build(llm, resources) if self._takes_resources else self.build(llm))
        try:
            result = await team.run(task=self.to_task(task) if self.to_task is not None else str(task))
        finally:
            await close_resources(team)
        value = await maybe_await(self.reward(task, result))
        return None if value is None else float(value)
