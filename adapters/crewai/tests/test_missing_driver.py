"""A missing driver of this distribution fails with one line that names the pip command (and
extra) that brings it, not with a bare ``ModuleNotFoundError``. The driver is made absent in a fresh
interpreter (see ``agentlightning_core.testing.missing_module``)."""

from __future__ import annotations

import pytest

from agentlightning_core.testing.missing_module import assert_names_the_pip_command

pytest.importorskip("agentlightning_crewai", reason="runs in .venv-crewai (make test-crewai)")

CASES = [
    (
        "crewai",
        'from agentlightning_core.plugin_manager import AglPluginManager\nAglPluginManager().adapter_factory("crewai")()',
        "pip install agentlightning-crewai",
        "adapter 'crewai'",
    ),
]


@pytest.mark.parametrize(("module", "code", "command", "what"), CASES, ids=[c[0] for c in CASES])
def test_missing_driver_names_the_pip_command(module: str, code: str, command: str, what: str) -> None:
    assert_names_the_pip_command(module, code, command, what)
