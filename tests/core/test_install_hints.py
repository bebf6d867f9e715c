"""Install hints name only what this project ships, for exactly the kind and name asked; other
names get close matches; a disabled plugin is reported as disabled, with the variable that did it."""

from __future__ import annotations

import types
from importlib import metadata
from pathlib import Path

import pytest
import tomllib

from agentlightning_core import hookimpl
from agentlightning_core.errors import PluginDisabledError, PluginNotFoundError
from agentlightning_core.plugin_manager import REGISTRY_HOOKS, AglPluginManager
from agentlightning_core.registry import SHIPPED, install_hint
from agentlightning_core.store import open_store

ROOT = Path(__file__).resolve().parents[2]
HOOK_OF_KIND = {kind: hook for hook, kind in REGISTRY_HOOKS.items()}


def repository_distributions() -> dict[str, dict]:
    """name → [project] table of every distribution folder in this repository."""
    found = {}
    for pyproject in ROOT.glob("*/*/pyproject.toml"):
        if pyproject.parts[-3] in {"plugins", "adapters", "algorithms", "backends"}:
            project = tomllib.loads(pyproject.read_text())["project"]
            found[project["name"]] = project
    return found


ROWS = [(kind, name, dist, extra) for kind, names in SHIPPED.items() for name, (dist, extra) in names.items()]


@pytest.mark.parametrize(("kind", "name", "dist", "extra"), ROWS, ids=[f"{r[0]}:{r[1]}" for r in ROWS])
def test_every_hint_names_a_shipped_distribution_and_extra(kind, name, dist, extra) -> None:
    dists = repository_distributions()
    assert dist in dists, f"{dist} is not a distribution of this repository"
    if extra is not None:
        assert extra in dists[dist].get("optional-dependencies", {}), f"{dist} has no extra {extra!r}"


@pytest.fixture(scope="module")
def installed() -> AglPluginManager:
    return AglPluginManager(strict=False, disabled=())


@pytest.mark.parametrize(("kind", "name", "dist", "extra"), ROWS, ids=[f"{r[0]}:{r[1]}" for r in ROWS])
def test_every_hint_names_the_distribution_that_registers_that_kind_and_name(
    installed: AglPluginManager, kind, name, dist, extra
) -> None:
    try:
        metadata.distribution(dist)
    except metadata.PackageNotFoundError:
        pytest.skip(f"{dist} is not installed here (only the root venv has every distribution)")
    registry = installed.registry(HOOK_OF_KIND[kind])
    assert name in registry, f"{dist} is installed but registers no {kind} {name!r}"
    assert registry.entries[name].provider.distribution == dist


def test_every_registration_of_a_shipped_distribution_has_a_hint(installed: AglPluginManager) -> None:
    shipped = set(repository_distributions())
    for hook, kind in REGISTRY_HOOKS.items():
        for name, entry in installed.registry(hook).entries.items():
            if entry.provider.distribution in shipped:
                assert SHIPPED.get(kind, {}).get(name, (None,))[0] == entry.provider.distribution, (
                    f"{entry.provider.distribution} registers {kind} {name!r}, which SHIPPED does not list"
                )


def bare() -> AglPluginManager:
    return AglPluginManager(load_entry_points=False, disabled=())


def test_a_misspelt_scheme_gets_the_close_match_and_no_made_up_package() -> None:
    with pytest.raises(PluginNotFoundError) as err:
        open_store("postgress://localhost/db", manager=bare())
    message = str(err.value)
    assert "did you mean " in message and "postgresql" in err.value.suggestions
    assert "'postgresql' come with: pip install \"agentlightning-sql[postgres]\"" in message
    assert "agentlightning-postgress" not in message
    assert "available: http, https, memory" in message


def test_a_name_of_another_kind_says_so_instead_of_naming_its_package_for_this_kind() -> None:
    with pytest.raises(PluginNotFoundError) as err:
        open_store("redis://localhost:6379/0", manager=bare())
    message = str(err.value)
    assert "pip install" not in message
    assert "'redis' is an event bus (agentlightning-redis), not a store" in message


def test_an_unknown_name_lists_what_is_available_and_suggests_no_package() -> None:
    with pytest.raises(PluginNotFoundError) as err:
        bare().algorithm_factory("my_thing")
    assert "pip install" not in str(err.value) and "available: baseline" in str(err.value)
    assert install_hint("algorithm", "my_thing") is None


def test_a_close_match_among_installed_names_is_suggested() -> None:
    with pytest.raises(PluginNotFoundError, match="did you mean 'baseline'"):
        bare().algorithm_factory("baselin")


def test_a_shipped_name_gets_its_pip_command() -> None:
    with pytest.raises(PluginNotFoundError, match='pip install "agentlightning-verl\\[verl\\]"'):
        bare().algorithm_factory("verl")
    with pytest.raises(PluginNotFoundError, match="pip install agentlightning-tensorboard"):
        bare().metric_sink_factory("tensorboard")


def best_of_n_plugin() -> types.ModuleType:
    module = types.ModuleType("best_of_n")

    def agl_register_algorithms(register):
        register("best_of_n", lambda **kw: object())

    module.agl_register_algorithms = hookimpl(agl_register_algorithms)  # type: ignore[attr-defined]
    return module


def test_a_disabled_plugin_is_reported_as_disabled_by_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGL_DISABLED_PLUGINS", "best_of_n")
    manager = AglPluginManager(load_entry_points=False, plugins=[best_of_n_plugin()])
    with pytest.raises(PluginDisabledError) as err:
        manager.algorithm_factory("best_of_n")
    message = str(err.value)
    assert "disabled by AGL_DISABLED_PLUGINS=best_of_n" in message
    assert "no installed plugin" not in message and "pip install" not in message


def test_a_shipped_plugin_disabled_by_distribution_name_is_reported_as_disabled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    try:
        metadata.distribution("agentlightning-apo")
    except metadata.PackageNotFoundError:
        pytest.skip("agentlightning-apo is not installed here")
    monkeypatch.setenv("AGL_DISABLED_PLUGINS", "agentlightning-apo")
    with pytest.raises(
        PluginDisabledError, match=r"apo \(agentlightning-apo [^)]*\) is installed, which provides it"
    ):
        AglPluginManager(strict=False).algorithm_factory("apo")


def test_a_disabled_plugin_is_mentioned_when_it_may_provide_an_unknown_name() -> None:
    manager = AglPluginManager(load_entry_points=False, plugins=[best_of_n_plugin()], disabled={"best_of_n"})
    with pytest.raises(PluginNotFoundError) as err:
        manager.algorithm_factory("something_else")
    assert "disabled by AglPluginManager(disabled=...) (one may provide it): best_of_n" in str(err.value)


def test_a_plugin_that_failed_to_load_is_named_as_the_likely_cause() -> None:
    from agentlightning_core.testing.missing_module import error_without

    printed = error_without(
        ["agentlightning_redis"],  # the whole distribution unimportable: its entry point fails
        "from agentlightning_core.bus import open_event_bus\nimport asyncio\nasyncio.run(open_event_bus('redis'))",
    )
    assert printed.startswith("PluginNotFoundError: no installed plugin provides event bus 'redis'"), printed
    assert "pip install agentlightning-redis" in printed
    assert "plugin redis (agentlightning-redis" in printed and "failed to load" in printed, printed
