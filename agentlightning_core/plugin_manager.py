"""Finding, loading and isolating plugins.

``get_plugin_manager()`` builds one manager lazily and caches it; tests build their own with
exactly the plugins they name (``AglPluginManager(load_entry_points=False, plugins=[...])``).

Every entry point of group ``agentlightning`` is loaded on its own: a plugin that fails to
import, or whose hook raises, is recorded with its error and skipped; the others keep working.
``AGL_STRICT_PLUGINS=1`` turns such failures into exceptions (for plugin authors).
``AGL_DISABLED_PLUGINS=a,b`` blocks plugins by entry-point or distribution name.
``AGL_TRACE_PLUGINS=1`` logs every hook call.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

import pluggy

from . import hookspecs
from .errors import PluginError
from .registry import Provider, Registry

if TYPE_CHECKING:
    import click

    from .adapter import Adapter
    from .algorithm import Algorithm
    from .bus.base import EventBus
    from .engine import LLMEngine
    from .launcher import Launcher
    from .metrics import MetricSink
    from .store.base import LightningStore
    from .tracer import Tracer

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME
BUILTIN_MODULES = ("agentlightning_core.builtin",)
#: the distribution named as the provider of built-ins (in ``agl plugins`` and duplicate errors)
CORE_DISTRIBUTION = "agentlightning-core"

#: hook name → registry kind, in the order ``agl plugins`` lists them
REGISTRY_HOOKS: dict[str, str] = {
    "agl_register_stores": "store",
    "agl_register_event_buses": "event bus",
    "agl_register_tracers": "tracer",
    "agl_register_adapters": "adapter",
    "agl_register_algorithms": "algorithm",
    "agl_register_llm_engines": "llm engine",
    "agl_register_metric_sinks": "metric sink",
    "agl_register_launchers": "launcher",
}

T = TypeVar("T")


@dataclass
class PluginInfo:
    """What ``agl plugins`` shows for one plugin."""

    name: str
    distribution: str | None = None
    version: str | None = None
    module: str | None = None
    hooks: list[str] = field(default_factory=list)
    registered: dict[str, list[str]] = field(default_factory=dict)
    #: ``"kind: name"`` -> the description the plugin registered it with (its options, say)
    descriptions: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    disabled: bool = False
    builtin: bool = False

    @property
    def provider(self) -> Provider:
        return Provider(self.name, self.distribution, self.version)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "module": self.module,
            "hooks": sorted(self.hooks),
            "registered": {k: sorted(v) for k, v in self.registered.items()},
            "descriptions": dict(sorted(self.descriptions.items())),
            "errors": list(self.errors),
            "disabled": self.disabled,
            "builtin": self.builtin,
        }


def _core_version() -> str | None:
    try:
        return metadata.version(CORE_DISTRIBUTION)
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return None


def _env_list(name: str) -> set[str]:
    return {part.strip() for part in os.environ.get(name, "").split(",") if part.strip()}


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


class AglPluginManager:
    """A typed wrapper around a ``pluggy.PluginManager`` plus the core's registries."""

    def __init__(
        self,
        *,
        load_entry_points: bool = True,
        plugins: Iterable[ModuleType | object] = (),
        include_builtins: bool = True,
        disabled: Iterable[str] | None = None,
        strict: bool | None = None,
    ) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self.disabled = set(disabled) if disabled is not None else _env_list("AGL_DISABLED_PLUGINS")
        #: what disabled them, as a lookup error will say it
        self.disabled_by = (
            "AglPluginManager(disabled=...)"
            if disabled is not None
            else f"AGL_DISABLED_PLUGINS={os.environ.get('AGL_DISABLED_PLUGINS', '').strip()}"
        )
        self.strict = _env_flag("AGL_STRICT_PLUGINS") if strict is None else strict
        self._registries: dict[str, Registry[Any]] = {}
        self._lock = threading.RLock()
        if _env_flag("AGL_TRACE_PLUGINS"):
            self.pm.trace.root.setwriter(lambda msg: log.warning("plugin trace: %s", msg.rstrip()))
            self.pm.enable_tracing()
        if include_builtins:
            core_version = _core_version()
            for module_name in BUILTIN_MODULES:
                self._register_module(
                    importlib.import_module(module_name),
                    "builtin",
                    distribution=CORE_DISTRIBUTION,
                    version=core_version,
                    builtin=True,
                )
        for plugin in plugins:
            name = getattr(plugin, "__name__", None) or type(plugin).__name__
            self._register_module(plugin, name)
        if load_entry_points:
            self._load_entry_points()

    # ------------------------------------------------------------------ loading
    def _register_module(
        self,
        plugin: object,
        name: str,
        *,
        distribution: str | None = None,
        version: str | None = None,
        builtin: bool = False,
    ) -> None:
        info = PluginInfo(name, distribution, version, getattr(plugin, "__name__", None), builtin=builtin)
        if name in self.disabled or (distribution and distribution in self.disabled):
            info.disabled = True
            self.infos[name] = info
            return
        if name in self.infos and not self.infos[name].disabled:
            self._fail(info, f"another plugin is already named {name!r} ({self.infos[name].provider})")
            self.infos[f"{name}!{distribution}"] = info
            return
        self.infos[name] = info
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:  # pluggy validation errors (unknown hook, bad signature)
            self._fail(info, f"cannot register: {exc}")
            return
        callers = self.pm.get_hookcallers(plugin) or []
        unknown = [c.name for c in callers if not c.has_spec()]
        if unknown:
            self.pm.unregister(plugin)
            self._fail(
                info, f"implements unknown hook(s) {', '.join(unknown)}; see agentlightning_core.hookspecs"
            )
            return
        info.hooks = [caller.name for caller in callers]

    def _load_entry_points(self) -> None:
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            if ep.name == "builtin" and ep.value in BUILTIN_MODULES:
                continue
            dist = ep.dist.name if ep.dist is not None else None
            version = ep.dist.version if ep.dist is not None else None
            if ep.name in self.disabled or (dist and dist in self.disabled):
                self.infos[ep.name] = PluginInfo(ep.name, dist, version, ep.value, disabled=True)
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                info = PluginInfo(ep.name, dist, version, ep.value)
                self.infos.setdefault(ep.name, info)
                self._fail(info, f"failed to load {ep.value!r}: {type(exc).__name__}: {exc}", exc)
                continue
            self._register_module(plugin, ep.name, distribution=dist, version=version)

    def _fail(self, info: PluginInfo, message: str, exc: BaseException | None = None) -> None:
        info.errors.append(message)
        log.warning("plugin %s skipped: %s", info.provider, message)
        if exc is not None:
            log.debug("".join(traceback.format_exception(exc)))
        if self.strict:
            raise PluginError(f"plugin {info.provider}: {message}") from exc

    # --------------------------------------------------------------- registries
    def registry(self, hook_name: str) -> Registry[Any]:
        """The filled registry for one ``agl_register_*`` hook; hooks run on first use."""
        with self._lock:
            if hook_name in self._registries:
                return self._registries[hook_name]
            registry: Registry[Any] = Registry(
                REGISTRY_HOOKS[hook_name],
                disabled=[info.provider for info in self.infos.values() if info.disabled],
                disabled_by=self.disabled_by,
                broken=[(info.provider, info.errors[0]) for info in self.infos.values() if info.errors],
            )
            caller = getattr(self.pm.hook, hook_name)
            for impl in caller.get_hookimpls():  # registration order: built-ins first
                info = self.infos.get(impl.plugin_name) or PluginInfo(impl.plugin_name)
                self._run_register_hook(registry, impl.function, info)
            self._registries[hook_name] = registry
            return registry

    def _run_register_hook(
        self, registry: Registry[Any], function: Callable[..., Any], info: PluginInfo
    ) -> None:
        """Run one plugin's hook; its registrations land all together or not at all."""
        offered: list[tuple[str, Any, str]] = []

        def register(name: str, obj: Any, *, description: str = "") -> None:
            offered.append((name, obj, description))

        added: list[str] = []
        try:
            function(register=register)
            for name, obj, description in offered:
                registry.add(name, obj, info.provider, description)
                added.append(name)
        except Exception as exc:
            for name in added:
                registry.entries.pop(name, None)
            self._fail(info, f"{registry.kind} registration failed: {type(exc).__name__}: {exc}", exc)
            return
        if added:
            info.registered.setdefault(registry.kind, []).extend(added)
            for name, _, description in offered:
                if description:
                    info.descriptions[f"{registry.kind}: {name}"] = description

    def load_all(self) -> None:
        """Run every registration hook now (``agl plugins`` wants the complete picture)."""
        for hook_name in REGISTRY_HOOKS:
            self.registry(hook_name)

    # -------------------------------------------------------------- typed access
    def store_factory(self, scheme: str) -> Callable[[str], LightningStore]:
        return self.registry("agl_register_stores").get(scheme)

    def event_bus_factory(self, name: str) -> Callable[[], EventBus]:
        return self.registry("agl_register_event_buses").get(name)

    def tracer_factory(self, name: str) -> Callable[[], Tracer]:
        return self.registry("agl_register_tracers").get(name)

    def adapter_factory(self, name: str) -> Callable[[], Adapter]:
        return self.registry("agl_register_adapters").get(name)

    def algorithm_factory(self, name: str) -> Callable[..., Algorithm]:
        return self.registry("agl_register_algorithms").get(name)

    def llm_engine_factory(self, name: str) -> Callable[..., LLMEngine]:
        return self.registry("agl_register_llm_engines").get(name)

    def metric_sink_factory(self, name: str) -> Callable[..., MetricSink]:
        return self.registry("agl_register_metric_sinks").get(name)

    def launcher_factory(self, name: str) -> Callable[..., Launcher]:
        return self.registry("agl_register_launchers").get(name)

    def add_commands(self, cli: click.Group) -> None:
        """Let each plugin add its ``agl`` sub-commands; a failing plugin is reported and skipped."""
        for impl in self.pm.hook.agl_register_commands.get_hookimpls():
            info = self.infos.get(impl.plugin_name) or PluginInfo(impl.plugin_name)
            try:
                impl.function(cli=cli)
            except Exception as exc:
                self._fail(info, f"command registration failed: {type(exc).__name__}: {exc}", exc)

    def extend_server_app(self, app: Any) -> None:
        for impl in self.pm.hook.agl_server_app.get_hookimpls():
            info = self.infos.get(impl.plugin_name) or PluginInfo(impl.plugin_name)
            try:
                impl.function(app=app)
            except Exception as exc:
                self._fail(info, f"server extension failed: {type(exc).__name__}: {exc}", exc)

    def plugin_infos(self) -> list[PluginInfo]:
        self.load_all()
        return sorted(self.infos.values(), key=lambda i: (not i.builtin, i.name))


_manager: AglPluginManager | None = None
_manager_lock = threading.Lock()


def get_plugin_manager() -> AglPluginManager:
    """The process-wide manager, built on first use (never at import time)."""
    global _manager
    with _manager_lock:
        if _manager is None:
            _manager = AglPluginManager()
        return _manager


def set_plugin_manager(manager: AglPluginManager | None) -> None:
    """Replace (or with ``None`` reset) the process-wide manager; for tests and embedding."""
    global _manager
    with _manager_lock:
        _manager = manager
