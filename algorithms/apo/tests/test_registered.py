"""The distribution is installed and its entry point registers ``apo``."""

from __future__ import annotations

from agentlightning_apo import APO

from agentlightning_core.plugin_manager import AglPluginManager


def test_apo_is_registered_through_its_entry_point() -> None:
    manager = AglPluginManager()
    registry = manager.registry("agl_register_algorithms")
    assert "apo" in registry
    assert registry.entries["apo"].provider.distribution == "agentlightning-apo"
    algorithm = manager.algorithm_factory("apo")(rounds=2, beam_width=3)
    assert isinstance(algorithm, APO)
    assert (algorithm.config.rounds, algorithm.config.beam_width) == (2, 3)
