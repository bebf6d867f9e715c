"""Runners as Ray actors: the ``ray`` launcher (``Trainer(launcher="ray")``, ``agl runner --launcher ray``)."""

from __future__ import annotations

from .options import RayLauncherOptions

__all__ = ["RayLauncher", "RayLauncherOptions"]


def __getattr__(name: str) -> object:
    if name == "RayLauncher":  # imports nothing of ray until start()
        from .launcher import RayLauncher

        return RayLauncher
    raise AttributeError(name)
