"""The README's APO example: agent, critic and editor on (the local stand-in of) Anthropic's API
through the ``litellm`` engine. Needs the ``apo`` algorithm installed (it is in the repo venv);
skipped in an isolated install of this distribution alone."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from agentlightning_core.plugin_manager import AglPluginManager

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "apo_with_anthropic.py"


@pytest.mark.slow
async def test_apo_improves_the_prompt_with_claude_as_agent_critic_and_editor(tmp_path: Path) -> None:
    if "apo" not in AglPluginManager().registry("agl_register_algorithms").names():
        pytest.skip("the apo algorithm is not installed (pip install agentlightning-apo)")
    spec = importlib.util.spec_from_file_location("apo_with_anthropic", EXAMPLE)
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    summary = await example.main(None, tmp_path)
    assert summary["val_reward_before"] == 0.0 and summary["val_reward_after"] == 1.0
    assert "UPPER CASE" in summary["best_prompt"] and "{country}" in summary["best_prompt"]
    assert (tmp_path / "apo").is_dir()
