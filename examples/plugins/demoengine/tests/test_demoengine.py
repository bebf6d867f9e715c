"""The engine, found through its installed entry point, answers chat requests."""

from __future__ import annotations

import pytest
from agentlightning_core.engine import LLMEngine
from agentlightning_core.plugin_manager import AglPluginManager


def test_installed_and_registered() -> None:
    registry = AglPluginManager().registry("agl_register_llm_engines")
    assert "demoengine" in registry, "pip install -e the plugin first: its entry point registers it"
    assert registry.entries["demoengine"].provider.distribution == "agentlightning-demoengine"


async def test_answers_a_chat_request() -> None:
    engine = AglPluginManager().llm_engine_factory("demoengine")(prefix="echo: ")
    assert isinstance(engine, LLMEngine)
    await engine.start()
    try:
        answer = await engine.chat_completions({"messages": [{"role": "user", "content": "hi"}]})
    finally:
        await engine.close()
    assert answer["choices"][0]["message"] == {"role": "assistant", "content": "echo: hi"}


async def test_a_bad_request_names_the_field() -> None:
    engine = AglPluginManager().llm_engine_factory("demoengine")()
    with pytest.raises(ValueError, match="messages"):
        await engine.chat_completions({"messages": []})
