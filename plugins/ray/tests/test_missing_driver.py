"""A missing ``ray`` fails with one line that names the pip command, not a bare
``ModuleNotFoundError`` (the module is made absent in a fresh interpreter)."""

from __future__ import annotations

from agentlightning_core.testing.missing_module import assert_names_the_pip_command


def test_missing_ray_names_the_pip_command() -> None:
    assert_names_the_pip_command(
        "ray",
        'from agentlightning_core.plugin_manager import AglPluginManager\nAglPluginManager().launcher_factory("ray")()',
        "pip install agentlightning-ray",
        "launcher 'ray'",
    )
