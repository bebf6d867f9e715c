from agentlightning_core.plugin_manager import AglPluginManager


def test_installed_and_registered() -> None:
    manager = AglPluginManager()
    names = [impl.plugin_name for impl in manager.pm.hook.agl_server_app.get_hookimpls()]
    assert "dashboard" in names
