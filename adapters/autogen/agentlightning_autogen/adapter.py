"""The ``autogen`` adapter: tool results on AutoGen's spans, agents/teams as ``LitAgent``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from agentlightning_core.adapter import Adapter

from . import instrument as _instrument
from .agent import AutoGenAgent, TeamBuilder


class AutoGenAdapter(Adapter):
    name: ClassVar[str] = "autogen"

    def instrument(self) -> None:
        _instrument.instrument()

    def uninstrument(self) -> None:
        _instrument.uninstrument()

    def wrap(self, obj: Any, **options: Any) -> AutoGenAgent:
        """``obj`` is a builder ``build(llm) -> agent or team``; options as :func:`wrap`."""
        self.instrument()
        return AutoGenAgent(obj, **options)


def wrap(
    build: TeamBuilder,
    *,
    reward: Callable[[Any, Any], Any],
    to_task: Callable[[Any], Any] | None = None,
    name: str = "autogen",
) -> AutoGenAgent:
    """One line from an AutoGen agent or team to a trainable agent::

        agent = agentlightning_autogen.wrap(build_team, reward=lambda task, result: ...)

    :param build: ``build(llm)`` returning the agent or team; it creates its model client with
        ``base_url=llm.endpoint`` (or uses :func:`openai_model_client`).
    :param reward: ``reward(task, task_result)`` → float (may be async).
    :param to_task: task → the string or message given to ``run(task=...)`` (default ``str``).
    """
    return AutoGenAdapter().wrap(build, reward=reward, to_task=to_task, name=name)
