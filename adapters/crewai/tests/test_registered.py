from __future__ import annotations

import pytest

pytest.importorskip("crewai", reason="runs in .venv-crewai (make test-crewai)")

from agentlightning_crewai import CrewAIAdapter

from agentlightning_core.plugin_manager import AglPluginManager


def test_installed_and_registered() -> None:
    manager = AglPluginManager()
    assert isinstance(manager.adapter_factory("crewai")(), CrewAIAdapter)
