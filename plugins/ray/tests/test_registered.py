from agentlightning_core.plugin_manager import AglPluginManager


def test_installed_and_registered() -> None:
    manager = AglPluginManager()
    assert "ray" in manager.registry("agl_register_launchers").names()
