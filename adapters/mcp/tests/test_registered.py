from agentlightning_mcp import MCPAdapter

from agentlightning_core.plugin_manager import AglPluginManager


def test_installed_and_registered() -> None:
    manager = AglPluginManager()
    assert isinstance(manager.adapter_factory("mcp")(), MCPAdapter)
