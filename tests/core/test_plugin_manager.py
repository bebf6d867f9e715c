"""The plugin manager: registries, isolation of broken plugins, disabling, typed lookups."""

from __future__ import annotations

import types

import pytest

from agentlightning_core import hookimpl
from agentlightning_core.adapter import OpenAIAdapter, get_adapter
from agentlightning_core.bus import open_event_bus
from agentlightning_core.errors import PluginError, PluginNotFoundError
from agentlightning_core.plugin_manager import CORE_DISTRIBUTION, AglPluginManager
from agentlightning_core.registry import Provider, Registry
from agentlightning_core.store import InMemoryStore, open_store


def plugin(name: str, **hooks: object) -> types.ModuleType:
    module = types.ModuleType(name)
    for hook_name, fn in hooks.items():
        setattr(module, hook_name, hookimpl(fn))  # type: ignore[call-overload]
    return module


def test_builtins_register_through_the_same_hooks() -> None:
    manager = AglPluginManager(load_entry_points=False)
    assert "memory" in manager.registry("agl_register_stores")
    assert "memory" in manager.registry("agl_register_event_buses")
    assert "noop" in manager.registry("agl_register_tracers")
    assert "openai" in manager.registry("agl_register_adapters")
    assert "baseline" in manager.registry("agl_register_algorithms")
    assert "openai" in manager.registry("agl_register_llm_engines")
    builtin = manager.infos["builtin"]
    assert builtin.builtin and "agl_register_stores" in builtin.hooks
    assert builtin.registered["store"] == ["memory", "http", "https"]


def test_plugin_registration_records_provider() -> None:
    def agl_register_algorithms(register):
        register("mine", lambda **kw: object(), description="test algo")

    manager = AglPluginManager(
        load_entry_points=False, plugins=[plugin("myplug", agl_register_algorithms=agl_register_algorithms)]
    )
    entry = manager.registry("agl_register_algorithms").entries["mine"]
    assert entry.provider.plugin == "myplug"
    assert entry.description == "test algo"
    assert manager.infos["myplug"].registered == {"algorithm": ["mine"]}


def test_duplicate_name_is_refused_naming_both_providers() -> None:
    def agl_register_stores(register):
        register("memory", lambda url: InMemoryStore())

    manager = AglPluginManager(
        load_entry_points=False, plugins=[plugin("dupe", agl_register_stores=agl_register_stores)]
    )
    registry = manager.registry("agl_register_stores")
    info = manager.infos["dupe"]
    assert info.errors and "builtin" in info.errors[0] and "dupe" in info.errors[0]
    assert registry.entries["memory"].provider.plugin == "builtin"  # the first one stays


def test_duplicate_error_names_both_distributions() -> None:
    registry: Registry[object] = Registry("algorithm")
    registry.add("grpo", lambda: None, Provider("grpo", "agentlightning-grpo", "0.1.0"))
    with pytest.raises(PluginError) as err:
        registry.add("grpo", lambda: None, Provider("fastgrpo", "fast-grpo", "2.0"))
    message = str(err.value)
    assert "agentlightning-grpo 0.1.0" in message and "fast-grpo 2.0" in message
    assert "AGL_DISABLED_PLUGINS=fastgrpo" in message


def test_builtins_are_attributed_to_the_core_distribution() -> None:
    def agl_register_stores(register):
        register("memory", lambda url: InMemoryStore())

    manager = AglPluginManager(
        load_entry_points=False, plugins=[plugin("dupe", agl_register_stores=agl_register_stores)]
    )
    builtin = manager.infos["builtin"]
    assert (
        builtin.distribution == CORE_DISTRIBUTION and builtin.to_dict()["distribution"] == CORE_DISTRIBUTION
    )
    manager.registry("agl_register_stores")
    assert CORE_DISTRIBUTION in manager.infos["dupe"].errors[0]


def test_duplicate_is_fatal_in_strict_mode() -> None:
    def agl_register_stores(register):
        register("memory", lambda url: InMemoryStore())

    manager = AglPluginManager(
        load_entry_points=False,
        plugins=[plugin("dupe", agl_register_stores=agl_register_stores)],
        strict=True,
    )
    with pytest.raises(PluginError, match="registered twice"):
        manager.registry("agl_register_stores")


def test_failing_hook_is_isolated() -> None:
    def broken(register):
        raise RuntimeError("kaboom")

    def fine(register):
        register("fine_algo", lambda **kw: object())

    manager = AglPluginManager(
        load_entry_points=False,
        plugins=[
            plugin("broken", agl_register_algorithms=broken),
            plugin("fine", agl_register_algorithms=fine),
        ],
    )
    registry = manager.registry("agl_register_algorithms")
    assert "fine_algo" in registry and "baseline" in registry
    assert "kaboom" in manager.infos["broken"].errors[0]


def test_bad_names_and_objects_are_refused() -> None:
    registry: Registry[object] = Registry("store")
    with pytest.raises(PluginError, match="lowercase"):
        registry.add("Bad Name", lambda: None, Provider("p"))
    with pytest.raises(PluginError, match="non-callable"):
        registry.add("ok", 42, Provider("p"))


def test_disabled_plugin_is_not_registered() -> None:
    def agl_register_algorithms(register):
        register("blocked_algo", lambda **kw: object())

    manager = AglPluginManager(
        load_entry_points=False,
        plugins=[plugin("blockme", agl_register_algorithms=agl_register_algorithms)],
        disabled={"blockme"},
    )
    assert "blocked_algo" not in manager.registry("agl_register_algorithms")
    assert manager.infos["blockme"].disabled


def test_disabled_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGL_DISABLED_PLUGINS", "x, builtin")
    manager = AglPluginManager(load_entry_points=False)
    assert manager.infos["builtin"].disabled
    assert manager.registry("agl_register_stores").names() == []


def test_missing_plugin_error_carries_pip_command() -> None:
    manager = AglPluginManager(load_entry_points=False)
    with pytest.raises(PluginNotFoundError) as err:
        open_store("postgresql://localhost/db", manager=manager)
    assert 'pip install "agentlightning-sql[postgres]"' in str(err.value)
    assert "memory" in str(err.value)
    with pytest.raises(PluginNotFoundError, match="pip install agentlightning-grpo"):
        manager.algorithm_factory("grpo")
    with pytest.raises(PluginNotFoundError) as unknown:  # no made-up package for unknown names
        manager.algorithm_factory("my_thing")
    assert "pip install" not in str(unknown.value)


async def test_missing_event_bus_error_carries_pip_command() -> None:
    manager = AglPluginManager(load_entry_points=False)
    with pytest.raises(PluginNotFoundError, match="pip install agentlightning-rabbitmq"):
        await open_event_bus("rabbitmq", manager=manager)


def test_adapters_are_resolved_by_name_and_a_missing_one_names_its_pip_command() -> None:
    manager = AglPluginManager(load_entry_points=False)
    assert isinstance(get_adapter("openai", manager=manager), OpenAIAdapter)
    with pytest.raises(PluginNotFoundError) as err:
        get_adapter("langgraph", manager=manager)
    assert "pip install agentlightning-langgraph" in str(err.value) and "openai" in str(err.value)


def test_an_adapter_factory_returning_something_else_is_refused() -> None:
    def agl_register_adapters(register):
        register("odd", lambda: object())

    manager = AglPluginManager(
        load_entry_points=False, plugins=[plugin("odd", agl_register_adapters=agl_register_adapters)]
    )
    with pytest.raises(TypeError, match="'odd' returned object, not an Adapter"):
        get_adapter("odd", manager=manager)


def test_unknown_hook_in_plugin_is_reported() -> None:
    module = types.ModuleType("typo")
    module.agl_register_storez = hookimpl(lambda register: None)  # type: ignore[attr-defined]
    manager = AglPluginManager(load_entry_points=False, plugins=[module])
    assert manager.infos["typo"].errors and "agl_register_storez" in manager.infos["typo"].errors[0]


def test_open_store_by_url_and_scheme_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    manager = AglPluginManager(load_entry_points=False)
    assert isinstance(open_store("memory://", manager=manager), InMemoryStore)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert isinstance(open_store(manager=manager), InMemoryStore)
    with pytest.raises(ValueError, match="no scheme"):
        open_store("nonsense", manager=manager)


def test_commands_hook_adds_subcommands_and_isolates_failures() -> None:
    import click

    @click.command()
    def hello() -> None:
        click.echo("hi")

    def good(cli):
        cli.add_command(hello, name="hello")

    def bad(cli):
        raise ImportError("missing dep")

    manager = AglPluginManager(
        load_entry_points=False,
        plugins=[plugin("good", agl_register_commands=good), plugin("bad", agl_register_commands=bad)],
    )
    group = click.Group()
    manager.add_commands(group)
    assert "hello" in group.commands
    assert "missing dep" in manager.infos["bad"].errors[0]
