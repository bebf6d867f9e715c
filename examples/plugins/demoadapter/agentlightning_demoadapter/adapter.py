"""The ``demoadapter`` adapter: runs a framework's agent as a rollout and records each of its steps.

Here the "framework" is any object with a ``run(task)`` method (sync or async) that returns a
reward; replace ``wrap`` with your framework's way of running its agent, and ``instrument`` with
the patching that makes its internals (agent names, tool calls) visible as spans.
"""

from __future__ import annotations

import inspect
import time
from typing import Any

from agentlightning_core import Adapter, LitAgent, Rollout, Span, current_context
from agentlightning_core.runtime.context import NamedResources


class DemoadapterAgent(LitAgent[Any]):
    """A framework agent as a ``LitAgent``: one span around each run, its reward returned."""

    def __init__(self, agent: Any, name: str) -> None:
        self.agent = agent
        self.name = name

    async def rollout(self, task: Any, resources: NamedResources, rollout: Rollout) -> float | None:
        ctx = current_context()
        span = None
        if ctx is not None:
            span = Span(rollout_id=ctx.rollout_id, attempt_id=ctx.attempt_id, name="demoadapter.run")
            span.attributes["agentlightning.agent_name"] = self.name
        result = self.agent.run(task)
        if inspect.isawaitable(result):
            result = await result
        if ctx is not None and span is not None:
            span.end_time = max(span.start_time, time.time())
            ctx.record_span(span)
        return None if result is None else float(result)


class DemoadapterAdapter(Adapter):
    name = "demoadapter"

    def wrap(self, obj: Any, **options: Any) -> LitAgent[Any]:
        if not callable(getattr(obj, "run", None)):
            raise TypeError(
                f"the demoadapter adapter wraps an object with a run(task) method; got {type(obj).__name__}"
            )
        return DemoadapterAgent(obj, name=options.get("name") or type(obj).__name__)
