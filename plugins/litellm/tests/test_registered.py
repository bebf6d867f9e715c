from agentlightning_core.plugin_manager import AglPluginManager


def test_installed_and_registered() -> None:
    manager = AglPluginManager()
    assert "litellm" in manager.registry("agl_register_llm_engines").names()
