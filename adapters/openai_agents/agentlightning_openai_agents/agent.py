"""An Agents SDK ``Agent`` as a ``LitAgent``: run it on the rollout's LLM and score it."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from agentlightning_core.agent import LitAgent, first_llm
from agentlightning_core.runtime.context import NamedResources
from agentlightning_core.types import LLM, Rollout


def run_config_for(llm: LLM, **options: Any) -> Any:
    """A ``RunConfig`` whose every agent talks chat completions to ``llm`` (the proxy speaks
    ``/v1/chat/completions``, not the Responses API)."""
    from agents import ModelSettings, OpenAIProvider, RunConfig
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=llm.endpoint, api_key=llm.api_key_value)
    provider = OpenAIProvider(openai_client=client, use_responses=False)
    sampling = {
        k: v for k, v in llm.sampling_parameters.items() if k in ("temperature", "top_p", "max_tokens")
    }
    if sampling and "model_settings" not in options:
        options["model_settings"] = ModelSettings(**sampling)
    return RunConfig(model=llm.model, model_provider=provider, **options)


class OpenAIAgentsAgent(LitAgent[Any]):
    """``Runner.run(agent, to_input(task), run_config=<the rollout's LLM>)`` → ``reward(task, result)``.

    The agent object is used unchanged: the run config routes every model call of every agent
    (handoffs included) to the rollout's endpoint and model.
    """

    def __init__(
        self,
        agent: Any,
        *,
        reward: Callable[[Any, Any], Any],
        to_input: Callable[[Any], Any] | None = None,
        max_turns: int = 10,
        name: str | None = None,
    ) -> None:
        self.agent = agent
        self.reward = reward
        self.to_input = to_input
        self.max_turns = max_turns
        self.name = name or str(getattr(agent, "name", "openai_agents"))

    async def rollout(self, task: Any, resources: NamedResources, rollout: Rollout) -> float | None:
        from agents import Runner

        llm = first_llm(resources, self.name)
        run_input = self.to_input(task) if self.to_input is not None else str(task)
        result = await Runner.run(
            self.agent, run_input, run_config=run_config_for(llm), max_turns=self.max_turns
        )
        value = self.reward(task, result)
        if inspect.isawaitable(value):
            value = await value
        return None if value is None else float(value)
