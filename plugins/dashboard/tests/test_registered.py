from agentlightning_core import InMemoryStore
from agentlightning_core.plugin_manager import AglPluginManager
from agentlightning_core.server import create_app


def test_installed_and_registered() -> None:
    manager = AglPluginManager()
    names = [impl.plugin_name for impl in manager.pm.hook.agl_server_app.get_hookimpls()]
    assert "dashboard" in names


def test_every_server_the_core_builds_mounts_it() -> None:
    """``agl serve`` and the Trainer's embedded server both build their app with ``create_app``
    and the process's plugin manager: the installed plugin is found through its entry point."""
    app = create_app(InMemoryStore(), token="t", manager=AglPluginManager())
    paths = {route.path for route in app.state.dashboard.routes}
    assert {"/dashboard/", "/dashboard/login", "/dashboard/api/stream"} <= paths
    assert app.state.auth.is_delegated("/dashboard/api/overview")
    assert not app.state.auth.is_delegated("/v1/store/rollouts")


def test_core_prefixes_cannot_be_delegated() -> None:
    import pytest

    app = create_app(InMemoryStore(), token="t", manager=AglPluginManager(load_entry_points=False))
    for prefix in ("/", "/v1/store", "/rollout/x"):
        with pytest.raises(ValueError, match="the core serves it"):
            app.state.auth.delegate(prefix)
