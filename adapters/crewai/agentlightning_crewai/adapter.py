"""The ``crewai`` adapter: agent and tool spans, crews as ``LitAgent``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from agentlightning_core.adapter import Adapter

from . import instrument as _instrument
from .agent import CrewAIAgent, CrewBuilder


class CrewAIAdapter(Adapter):
    name: ClassVar[str] = "crewai"

    def instrument(self) -> None:
        _instrument.instrument()

    def uninstrument(self) -> None:
        _instrument.uninstrument()

    def wrap(self, obj: Any, **options: Any) -> CrewAIAgent:
        """``obj`` is a builder ``build(llm) -> Crew``; options as :func:`wrap`."""
        self.instrument()
        return CrewAIAgent(obj, **options)


def wrap(
    build: CrewBuilder,
    *,
    reward: Callable[[Any, Any], Any],
    to_inputs: Callable[[Any], dict[str, Any]] | None = None,
    name: str = "crewai",
) -> CrewAIAgent:
    """One line from a CrewAI crew to a trainable agent::

        agent = agentlightning_crewai.wrap(build_crew, reward=lambda task, output: ...)

    :param build: ``build(llm)`` returning the crew; its agents use ``crewai_llm(llm)`` (or a
        ``crewai.LLM`` with ``base_url=llm.endpoint``).
    :param reward: ``reward(task, crew_output)`` → float (may be async).
    :param to_inputs: task → the ``inputs`` dict of ``kickoff`` (default: the task, if a dict).
    """
    return CrewAIAdapter().wrap(build, reward=reward, to_inputs=to_inputs, name=name)
