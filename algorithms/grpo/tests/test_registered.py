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
    with pytest.raises(ValidationError, match="lora.r"):
        GRPO(lora={"r": 0})
    with pytest.raises(ValidationError, match="rank"):
        GRPO(lora={"rank": 8})  # the field is r


def test_agl_plugins_lists_the_lora_adapters_and_credit_options() -> None:
    import json

    from click.testing import CliRunner

    from agentlightning_core.cli.plugins import command

    verbose = CliRunner().invoke(command, ["-v"], env={"COLUMNS": "1000"})
    assert verbose.exit_code == 0, verbose.output
    assert "algorithm: grpo" in verbose.output
    for option in ("lora=", "adapters=", "credit=", "per_call", "discounted", "gamma"):
        assert option in verbose.output, option
    plain = CliRunner().invoke(command, ["--json"])
    grpo = next(p for p in json.loads(plain.output) if p["distribution"] == "agentlightning-grpo")
    assert "lora=" in grpo["descriptions"]["algorithm: grpo"]
