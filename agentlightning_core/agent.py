"""How user code becomes something a runner can execute: ``LitAgent`` and ``@rollout``.

An agent receives the task, the resources of the rollout's version (its LLM endpoint already
routed through the proxy for this attempt, its prompt templates) and the rollout record; it
returns a float reward, or ``None`` after calling ``emit_reward``.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar, overload

from .runtime.context import NamedResources
from .types import LLM, PromptTemplate, Rollout

T = TypeVar("T")
RolloutResult = float | int | None


class LitAgent(ABC, Generic[T]):
    """Subclass and implement :meth:`rollout` (sync or ``async def``)."""

    #: shown in spans and logs; adapters set it from the framework's agent name
    name: str = "agent"

    @abstractmethod
    def rollout(
        self, task: T, resources: NamedResources, rollout: Rollout
    ) -> RolloutResult | Awaitable[RolloutResult]:
        """Run the agent on ``task``; return its reward (or ``None`` if it used ``emit_reward``)."""

    async def run(self, task: T, resources: NamedResources, rollout: Rollout) -> float | None:
        """Call :meth:`rollout`, in a worker thread if it is synchronous, and check its result."""
        if inspect.iscoroutinefunction(self.rollout):
            result = await self.rollout(task, resources, rollout)
        else:
            result = await asyncio.to_thread(self.rollout, task, resources, rollout)
            if inspect.isawaitable(result):
                result = await result
        if result is None:
            return None
        if isinstance(result, bool) or not isinstance(result, (int, float)):
            raise TypeError(
                f"agent {self.name!r} returned {type(result).__name__}; a rollout returns a float reward "
                "or None (after emit_reward)"
            )
        return float(result)


class FunctionAgent(LitAgent[Any]):
    """A plain function as an agent. Its parameters are filled by name:

    ``task`` (required, first), ``resources`` (all named resources), ``rollout`` (the record),
    ``llm`` (the first LLM resource), ``prompt_template`` (the first PromptTemplate), or the name
    of any resource.
    """

    def __init__(self, fn: Callable[..., Any], name: str | None = None) -> None:
        self.fn = fn
        self.name = name or str(getattr(fn, "__name__", "agent"))
        self._params = list(inspect.signature(fn).parameters)
        if not self._params:
            raise TypeError(f"rollout function {self.name!r} must take at least the task argument")
        functools.update_wrapper(self, fn)
        if inspect.iscoroutinefunction(fn):
            self.rollout = self._rollout_async  # type: ignore[method-assign]

    def _kwargs(self, task: Any, resources: NamedResources, rollout: Rollout) -> dict[str, Any]:
        kwargs: dict[str, Any] = {self._params[0]: task}
        for param in self._params[1:]:
            if param == "resources":
                kwargs[param] = resources
            elif param == "rollout":
                kwargs[param] = rollout
            elif param in resources:
                kwargs[param] = resources[param]
            elif param == "llm":
                kwargs[param] = first_resource(resources, LLM, self.name)
            elif param == "prompt_template":
                kwargs[param] = first_resource(resources, PromptTemplate, self.name)
        return kwargs

    def rollout(self, task: Any, resources: NamedResources, rollout: Rollout) -> Any:
        return self.fn(**self._kwargs(task, resources, rollout))

    async def _rollout_async(self, task: Any, resources: NamedResources, rollout: Rollout) -> Any:
        return await self.fn(**self._kwargs(task, resources, rollout))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """The decorated function stays callable as before."""
        return self.fn(*args, **kwargs)


def first_resource(resources: NamedResources, kind: type, agent: str) -> Any:
    """The rollout's first resource of type ``kind``; a clear error naming what it has if none."""
    for value in resources.values():
        if isinstance(value, kind):
            return value
    raise LookupError(
        f"agent {agent!r} asks for a {kind.__name__} but the rollout's resources have none "
        f"(names: {', '.join(resources) or 'none'}); publish one with the algorithm's initial resources"
    )


def first_llm(resources: NamedResources, agent: str) -> LLM:
    """The rollout's first ``LLM`` resource: what a framework adapter points its model client at."""
    llm: LLM = first_resource(resources, LLM, agent)
    return llm


async def maybe_await(value: Any) -> Any:
    """``value``, awaited if it is awaitable: user callbacks (builders, rewards) may be either."""
    return await value if inspect.isawaitable(value) else value


@overload
def rollout(fn: Callable[..., Any]) -> FunctionAgent: ...
@overload
def rollout(*, name: str | None = None) -> Callable[[Callable[..., Any]], FunctionAgent]: ...
def rollout(
    fn: Callable[..., Any] | None = None, *, name: str | None = None
) -> FunctionAgent | Callable[[Callable[..., Any]], FunctionAgent]:
    """Turn a function into a :class:`LitAgent`::

    @rollout
    def calc(task, llm):
        client = OpenAI(base_url=llm.endpoint, api_key=llm.api_key_value)
        ...
        return 1.0 if correct else 0.0
    """
    if fn is not None:
        return FunctionAgent(fn, name)
    return lambda f: FunctionAgent(f, name)


def as_agent(obj: Any) -> LitAgent[Any]:
    """Accept a ``LitAgent`` or a plain callable wherever an agent is expected."""
    if isinstance(obj, LitAgent):
        return obj
    if callable(obj):
        return FunctionAgent(obj)
    raise TypeError(f"expected a LitAgent or a function, got {type(obj).__name__}")
