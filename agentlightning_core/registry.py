"""Core-owned registries that plugins fill through ``register(...)`` callbacks.

The core validates names, refuses duplicates with both providers named, and records which
plugin and distribution gave each entry (shown by ``agl plugins``).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from .errors import PluginDisabledError, PluginError, PluginNotFoundError

T = TypeVar("T")


def _article(kind: str) -> str:
    return "an" if kind[0] in "aeiou" else "a"


_NAME_RE = re.compile(r"^[a-z][a-z0-9_.+-]{0,63}$")

#: What this project ships, by kind and name: the distribution (and extra) whose plugin registers
#: exactly that kind and name. Data, not code: the registry itself stays open to any plugin; this
#: only lets an error name a real package. ``tests/core/test_install_hints.py`` checks every row
#: against the installed plugins, so a hint cannot name a package that does not provide it.
SHIPPED: dict[str, dict[str, tuple[str, str | None]]] = {
    "store": {
        "sqlite": ("agentlightning-sql", None),
        "postgresql": ("agentlightning-sql", "postgres"),
        "postgres": ("agentlightning-sql", "postgres"),
        "mongodb": ("agentlightning-mongodb", None),
        "mongodb+srv": ("agentlightning-mongodb", None),
    },
    "event bus": {
        "redis": ("agentlightning-redis", None),
        "rabbitmq": ("agentlightning-rabbitmq", None),
    },
    "tracer": {"otel": ("agentlightning-otel", None), "agentops": ("agentlightning-agentops", None)},
    "adapter": {
        "langgraph": ("agentlightning-langgraph", None),
        "autogen": ("agentlightning-autogen", None),
        "openai_agents": ("agentlightning-openai-agents", None),
        "mcp": ("agentlightning-mcp", None),
        "crewai": ("agentlightning-crewai", None),
    },
    "algorithm": {
        "grpo": ("agentlightning-grpo", None),
        "apo": ("agentlightning-apo", None),
        "verl": ("agentlightning-verl", "verl"),
    },
    "llm engine": {
        "transformers": ("agentlightning-transformers", None),
        "vllm": ("agentlightning-vllm", "vllm"),
        "litellm": ("agentlightning-litellm", None),
    },
    "metric sink": {
        "tensorboard": ("agentlightning-tensorboard", None),
        "mlflow": ("agentlightning-mlflow", None),
        "wandb": ("agentlightning-wandb", None),
    },
    "launcher": {"ray": ("agentlightning-ray", None)},
}


def pip_command(distribution: str, extra: str | None = None) -> str:
    """The shell command that installs ``distribution`` (quoted when it carries an extra)."""
    return f'pip install "{distribution}[{extra}]"' if extra else f"pip install {distribution}"


def install_hint(kind: str, name: str) -> str | None:
    """The pip command for a shipped provider of ``kind`` ``name``; ``None`` for any other name."""
    shipped = SHIPPED.get(kind, {}).get(name)
    return pip_command(*shipped) if shipped else None


#: kept for callers of the former table: kind → name → pip command
INSTALL_HINTS: dict[str, dict[str, str]] = {
    kind: {name: pip_command(*dist) for name, dist in names.items()} for kind, names in SHIPPED.items()
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
    #: installed plugins that were not loaded, so that a lookup can say "disabled", not "missing"
    disabled: list[Provider] = field(default_factory=list)
    #: what disabled them, for the message (the environment variable or the manager's argument)
    disabled_by: str = "AGL_DISABLED_PLUGINS"
    #: installed plugins that failed to load, with their first error: the likelier cause of a miss
    broken: list[tuple[Provider, str]] = field(default_factory=list)

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
            raise self.missing(name) from None

    def missing(self, name: str) -> PluginNotFoundError:
        """The error for a name nobody registered: disabled, installable, or a likely typo."""
        available = sorted(self.entries)
        shipped = SHIPPED.get(self.kind, {}).get(name)
        for disabled in self.disabled:
            provides = shipped is not None and disabled.distribution == shipped[0]
            if provides or disabled.plugin == name:
                why = "which provides it" if provides else "whose name matches"
                return PluginDisabledError(
                    self.kind,
                    name,
                    available,
                    f"plugin {disabled} is installed, {why}, but disabled by {self.disabled_by};"
                    f" remove {disabled.plugin!r} from it to use {self.kind} {name!r}",
                )
        notes: list[str] = []
        for provider, error in self.broken:
            if (shipped is not None and provider.distribution == shipped[0]) or provider.plugin == name:
                notes.append(f"plugin {provider} is installed but failed to load: {error}")
        if self.disabled:
            names = ", ".join(sorted(str(p) for p in self.disabled))
            notes.append(f"disabled by {self.disabled_by} (one may provide it): {names}")
        if shipped is not None:
            return PluginNotFoundError(self.kind, name, available, pip_command(*shipped), notes=notes)
        known = sorted({*available, *SHIPPED.get(self.kind, {})})
        suggestions = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        by_hint: dict[str, list[str]] = {}
        for suggestion in suggestions:
            hint = install_hint(self.kind, suggestion)
            if suggestion not in self.entries and hint:
                by_hint.setdefault(hint, []).append(repr(suggestion))
        for hint, quoted in by_hint.items():
            notes.append(f"{' and '.join(quoted)} {'comes' if len(quoted) == 1 else 'come'} with: {hint}")
        for other_kind, shipped_names in SHIPPED.items():
            if other_kind != self.kind and name in shipped_names:
                dist = shipped_names[name][0]
                notes.append(
                    f"{name!r} is {_article(other_kind)} {other_kind} ({dist}), not {_article(self.kind)} {self.kind}"
                )
        return PluginNotFoundError(self.kind, name, available, None, suggestions=suggestions, notes=notes)

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def names(self) -> list[str]:
        return sorted(self.entries)
