"""The distribution is installed and registers algorithm ``grpo`` through its entry point."""

from __future__ import annotations

import pytest

from agentlightning_core.plugin_manager import AglPluginManager


def test_grpo_is_registered_through_the_entry_point() -> None:
    manager = AglPluginManager()
    registry = manager.registry("agl_register_algorithms")
    assert "grpo" in registry
    assert registry.entries["grpo"].provider.distribution == "agentlightning-grpo"
    algo = manager.algorithm_factory("grpo")(steps=3, group_size=4)
    assert algo.name == "grpo"
    assert algo.config.steps == 3


def test_bad_options_fail_before_any_model_loads() -> None:
    from agentlightning_grpo import GRPO
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="group_size"):
        GRPO(group_size=1)
    with pytest.raises(ValidationError, match="learning_rat"):
        GRPO(learning_rat=1e-5)
    with pytest.raises(ValidationError, match="lora_rank"):
        GRPO(lora_alpha=16)
