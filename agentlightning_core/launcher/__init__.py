"""Launchers: where runners run (hook ``agl_register_launchers``; built-in ``local``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import Launcher, LauncherError, LaunchSpec, ReplicaState, ReplicaStatus, check_replicas

if TYPE_CHECKING:
    from ..plugin_manager import AglPluginManager

__all__ = [
    "LaunchSpec",
    "Launcher",
    "LauncherError",
    "ReplicaState",
    "ReplicaStatus",
    "check_replicas",
    "open_launcher",
]


def open_launcher(
    launcher: str | Launcher, options: dict[str, Any] | None = None, manager: AglPluginManager | None = None
) -> Launcher:
    """A launcher instance from a registered name (built with ``options``) or the instance itself."""
    if isinstance(launcher, Launcher):
        if options:
            raise LauncherError("launcher_options only apply to a launcher given by name")
        return launcher
    from ..plugin_manager import get_plugin_manager

    factory = (manager or get_plugin_manager()).launcher_factory(launcher)
    built = factory(**(options or {}))
    if not isinstance(built, Launcher):
        raise LauncherError(f"launcher {launcher!r} built {type(built).__name__}, not a Launcher")
    return built
