"""The plugin module the entry point names: registrations only, nothing heavy at import."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register

if TYPE_CHECKING:
    from agentlightning_core.launcher import Launcher


def make_demolauncher(**options: Any) -> Launcher:
    """The launcher, built with ``Trainer(launcher_options={...})`` or ``--launcher-option K=V``."""
    from .launcher import DemolauncherLauncher

    return DemolauncherLauncher(**options)


@hookimpl
def agl_register_launchers(register: Register) -> None:
    register(
        "demolauncher", make_demolauncher, description="demolauncher launcher (from agl new-plugin launcher)"
    )
