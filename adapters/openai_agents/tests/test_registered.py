from agentlightning_openai_agents import OpenAIAgentsAdapter

from agentlightning_core.plugin_manager import AglPluginManager


def test_installed_and_registered() -> None:
    manager = AglPluginManager()
    assert isinstance(manager.adapter_factory("openai_agents")(), OpenAIAgentsAdapter)
