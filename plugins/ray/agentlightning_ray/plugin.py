"""Entry point ``ray``: registers the launcher; ray itself is imported when a launcher starts."""

from __future__ import annotations

from typing import Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register
from agentlightning_core.optional import needs

#: what the factory imports (top-level module → the extra that brings it; None: a plain dependency)
DRIVERS: dict[str, str | None] = {"ray": None}


@needs("agentlightning-ray", DRIVERS, what="launcher 'ray'")
def _launcher(**options: Any) -> Any:
    from .launcher import RayLauncher

    return RayLauncher(**options)


@hookimpl
def agl_register_launchers(register: Register) -> None:
    register(
        "ray",
        _launcher,
        description="runners as Ray actors (num_cpus, num_gpus, resources, max_restarts, runtime_env, autoscale)",
    )
