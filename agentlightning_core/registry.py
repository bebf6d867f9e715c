"""Core-owned registries that plugins fill through ``register(...)`` callbacks.

The core validates names, refuses duplicates with both providers named, and records which
plugin and distribution gave each entry (shown by ``agl plugins``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from .errors import PluginError, PluginNotFoundError

T = TypeVar("T")

_NAME_RE = re.compile(r"^[a-z][a-z0-9_.+-]{0,63}$")

#: Where to get what the core knows by name but does not ship. Data, not code: the registry
#: itself stays open to any plugin; this only improves the error a user sees.
INSTALL_HINTS: dict[str, dict[str, str]] = {
    "store": {
        "sqlite": "pip install agentlightning-sql",
        "postgresql": 'pip install "agentlightning-sql[postgres]"',
        "postgres": 'pip install "agentlightning-sql[postgres]"',
        "mongodb": "pip install agentlightning-mongodb",
        "mongodb+srv": "pip install agentlightning-mongodb",
    },
    "event bus": {
        "redis": "pip install agentlightning-redis",
        "rabbitmq": "pip install agentlightning-rabbitmq",
    },
    "tracer": {"otel": "pip install agentlightning-otel", "agentops": "pip install agentlightning-agentops"},
    "adapter": {
        "langgraph": "pip install agentlightning-langgraph",
        "autogen": "pip install agentlightning-autogen",
        "openai_agents": "pip install agentlightning-openai-agents",
        "mcp": "pip install agentlightning-mcp",
        "crewai": "pip install agentlightning-crewai",
    },
    "algorithm": {
        "grpo": "pip install agentlightning-grpo",
        "apo": "pip install agentlightning-apo",
        "verl": "pip install agentlightning-verl",
    },
    "llm engine": {
        "transformers": "pip install agentlightning-transformers",
        "vllm": "pip install agentlightning-vllm",
        "litellm": "pip install agentlightning-litellm",
    },
}


@dataclass(frozen=True)
class Provider:
    """Who registered an entry: the plugin's name and its distribution (with version)."""

    plugin: str
    distribution: str | None = None
    version: str | None = None

    def __str__(self) -> str:
        if self.distribution:
            return f"{self.plugin} ({self.distribution} {self.version or ''})".replace(" )", ")")
        return self.plugin


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    obj: T
    provider: Provider
    description: str = ""


@dataclass
class Registry(Generic[T]):
    """Name → object for one kind (stores, buses, tracers, adapters, algorithms, engines)."""

    kind: str
    entries: dict[str, Entry[T]] = field(default_factory=dict)

    def add(self, name: str, obj: T, provider: Provider, description: str = "") -> None:
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise PluginError(
                f"{provider} registered {self.kind} name {name!r}: names must be lowercase, start with a"
                " letter and use only letters, digits, '_', '.', '+' or '-' (at most 64 characters)"
            )
        if not callable(obj):
            raise PluginError(f"{provider} registered {self.kind} {name!r} with a non-callable {obj!r}")
        if name in self.entries:
            first = self.entries[name].provider
            raise PluginError(
                f"{self.kind} {name!r} is registered twice: by {first} and by {provider}; "
                f"uninstall one or block it with AGL_DISABLED_PLUGINS={provider.plugin}"
            )
        self.entries[name] = Entry(name, obj, provider, description)

    def get(self, name: str) -> T:
        try:
            return self.entries[name].obj
        except KeyError:
            hint = INSTALL_HINTS.get(self.kind, {}).get(name)
            if hint is None:
                hint = f"pip install agentlightning-{name.replace('_', '-')}"
            raise PluginNotFoundError(self.kind, name, list(self.entries), hint) from None

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def names(self) -> list[str]:
        return sorted(self.entries)
