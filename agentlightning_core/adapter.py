"""Framework adapters: make an agent framework's runs visible as spans and its agents runnable.

An adapter instruments its framework (so spans carry agent/node names, tool calls and results)
and wraps the framework's agent or graph object as a :class:`~agentlightning_core.agent.LitAgent`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from .agent import LitAgent, as_agent
from .plugin_manager import AglPluginManager, get_plugin_manager


class Adapter:
    """Base class; the built-in ``openai`` adapter is this class as is (the proxy records calls)."""

    name: ClassVar[str] = "openai"

    def instrument(self) -> None:
        """Patch the framework so its runs emit spans into the current attempt. Idempotent."""

    def uninstrument(self) -> None:
        """Undo :meth:`instrument`."""

    def wrap(self, obj: Any, **options: Any) -> LitAgent[Any]:
        """Turn the framework's agent (or a rollout function using it) into a ``LitAgent``."""
        return as_agent(obj)


class OpenAIAdapter(Adapter):
    """The plain ``openai`` client needs no instrumentation: the proxy attributes and records each call."""

    name = "openai"


AdapterFactory = Callable[[], Adapter]


def get_adapter(name: str, *, manager: AglPluginManager | None = None) -> Adapter:
    """The adapter a plugin registered as ``name`` (``"openai"``, ``"langgraph"``, ...).

    Goes through the registry, so a framework whose adapter is not installed fails with the pip
    command that installs it rather than an ``ImportError`` of the framework.
    """
    built = (manager or get_plugin_manager()).adapter_factory(name)()
    if not isinstance(built, Adapter):
        raise TypeError(
            f"the plugin registering adapter {name!r} returned {type(built).__name__}, not an Adapter"
        )
    return built
