"""The distribution is installed and registers engine ``transformers`` through its entry point."""

from __future__ import annotations

from agentlightning_core.plugin_manager import AglPluginManager


def test_engine_is_registered_through_the_entry_point() -> None:
    manager = AglPluginManager()
    registry = manager.registry("agl_register_llm_engines")
    assert "transformers" in registry
    entry = registry.entries["transformers"]
    assert entry.provider.distribution == "agentlightning-transformers"
    engine = manager.llm_engine_factory("transformers")(max_tokens=8)
    assert engine.name == "transformers"
    assert engine.model is None  # nothing loads before start()
