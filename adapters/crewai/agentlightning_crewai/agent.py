"""A CrewAI crew as a ``LitAgent``: build it for the rollout's LLM, kick it off, score."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

from agentlightning_core.agent import LitAgent, first_llm, maybe_await
from agentlightning_core.runtime.context import NamedResources
from agentlightning_core.types import LLM, Rollout

CrewBuilder = Callable[..., Any]
"""``build(llm)`` or ``build(llm, resources)`` → a ``crewai.Crew``."""


def crewai_llm(llm: LLM, **options: Any) -> Any:
    """A ``crewai.LLM`` that talks to ``llm`` (the rollout's proxy endpoint) through CrewAI's
    native OpenAI provider, with the resource's sampling parameters as defaults."""
    from crewai import LLM as CrewLLM

    for key, value in llm.sampling_parameters.items():
        options.setdefault(key, value)
    return CrewLLM(
        model=f"openai/{llm.model}", base_url=llm.endpoint, api_key=llm.api_key_value or "none", **options
    )


class CrewAIAgent(LitAgent[Any]):
    """``build(llm)`` → ``crew.kickoff(inputs=to_inputs(task))`` → ``reward(task, crew_output)``.

    ``kickoff`` is synchronous; it runs in a worker thread (``asyncio.to_thread`` carries the
    rollout's context, so spans and proxy calls are attributed) while the runner's loop goes on.
    """

    def __init__(
        self,
        build: CrewBuilder,
        *,
        reward: Callable[[Any, Any], Any],
        to_inputs: Callable[[Any], dict[str, Any]] | None = None,
        name: str = "crewai",
    ) -> None:
        self.build = build
        self.reward = reward
        self.to_inputs = to_inputs
        self.name = name
        self._takes_resources = len(inspect.signature(build).parameters) >= 2

    def _inputs(self, task: Any) -> dict[str, Any]:
        if self.to_inputs is not None:
            return dict(self.to_inputs(task))
        if isinstance(task, dict):
            return {str(k): v for k, v in task.items()}
        raise TypeError(
            f"agent {self.name!r}: a CrewAI crew takes a dict of inputs; the task is a "
            f"{type(task).__name__}: pass to_inputs=lambda task: {{...}} to wrap()"
        )

    async def rollout(self, task: Any, resources: NamedResources, rollout: Rollout) -> float | None:
        llm = first_llm(resources, self.name)
        crew = await maybe_await(self.build(llm, resources) if self._takes_resources else self.build(llm))
        output = await asyncio.to_thread(crew.kickoff, inputs=self._inputs(task))
        value = await maybe_await(self.reward(task, output))
        return None if value is None else float(value)
