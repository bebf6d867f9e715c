"""The distribution is installed and registers engine ``vllm`` through its entry point; ``agl
plugins`` lists it (and the ``verl`` algorithm, which uses it)."""

from __future__ import annotations

import json
import subprocess
import sys

from agentlightning_core.plugin_manager import AglPluginManager


def test_vllm_is_registered_through_the_entry_point() -> None:
    manager = AglPluginManager()
    registry = manager.registry("agl_register_llm_engines")
    assert "vllm" in registry
    assert registry.entries["vllm"].provider.distribution == "agentlightning-vllm"
    engine = manager.llm_engine_factory("vllm")(base_url="http://127.0.0.1:1/v1")
    assert engine.name == "vllm"


def test_agl_plugins_lists_vllm_and_verl() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "agentlightning_core.cli", "plugins", "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    by_dist = {info["distribution"]: info for info in json.loads(out)}
    vllm = by_dist["agentlightning-vllm"]
    assert vllm["registered"] == {"llm engine": ["vllm"]} and not vllm["errors"]
    if "agentlightning-verl" in by_dist:  # installed beside it in the dev venvs, not in an isolated one
        verl = by_dist["agentlightning-verl"]
        assert verl["registered"] == {"algorithm": ["verl"]} and not verl["errors"]
