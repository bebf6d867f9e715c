"""The launcher passes the project's conformance suite, built through its installed entry point."""

from __future__ import annotations

from agentlightning_core.plugin_manager import AglPluginManager
from agentlightning_core.testing import LauncherConformance


def test_installed_and_registered() -> None:
    registry = AglPluginManager().registry("agl_register_launchers")
    assert "demolauncher" in registry, "pip install -e the plugin first: its entry point registers it"
    assert registry.entries["demolauncher"].provider.distribution == "agentlightning-demolauncher"


class TestDemolauncherLauncher(LauncherConformance):
    launcher_name = "demolauncher"
