from __future__ import annotations

import pytest

pytest.importorskip("agentops", reason="runs in .venv-agentops (make test-agentops)")

from agentlightning_agentops import AgentOpsTracer

from agentlightning_core.plugin_manager import AglPluginManager


def test_installed_and_registered() -> None:
    manager = AglPluginManager()
    assert isinstance(manager.tracer_factory("agentops")(), AgentOpsTracer)
