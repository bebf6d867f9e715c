"""The ``langgraph`` adapter: instrument LangGraph, wrap graphs as ``LitAgent``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from agentlightning_core.adapter import Adapter

from . import instrument as _instrument
from .agent import GraphBuilder, LangGraphAgent


class LangGraphAdapter(Adapter):
    name: ClassVar[str] = "langgraph"

    def instrument(self) -> None:
        _instrument.instrument()

    def uninstrument(self) -> None:
        _instrument.uninstrument()

    def wrap(self, obj: Any, **options: Any) -> LangGraphAgent:
        """``obj`` is a graph builder ``build(llm) -> compiled graph``; options as :func:`wrap`."""
        self.instrument()
        return LangGraphAgent(obj, **options)


def wrap(
    build: GraphBuilder,
    *,
    reward: Callable[[Any, Any], Any],
    to_input: Callable[[Any], Any] | None = None,
    name: str = "langgraph",
    config: dict[str, Any] | None = None,
) -> LangGraphAgent:
    """One line from a LangGraph graph to a trainable agent::

        agent = agentlightning_langgraph.wrap(build_graph, reward=lambda task, state: ...)

    :param build: ``build(llm)`` (or ``build(llm, resources)``) returning the compiled graph; it
        passes ``llm.endpoint`` / ``llm.model`` to the model client (e.g. ``ChatOpenAI(base_url=...)``).
    :param reward: ``reward(task, final_state)`` → float (may be async).
    :param to_input: task → the graph's input state (default: the task as is).
    """
    return LangGraphAdapter().wrap(build, reward=reward, to_input=to_input, name=name, config=config)
