"""The plugin module the entry point names: registrations only, nothing heavy at import."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register

if TYPE_CHECKING:
    from agentlightning_core.tracer import Tracer


def make_demotracer() -> Tracer:
    """A fresh tracer (one per runner)."""
    from .tracer import DemotracerTracer

    return DemotracerTracer()


@hookimpl
def agl_register_tracers(register: Register) -> None:
    register("demotracer", make_demotracer, description="demotracer tracer (from agl new-plugin tracer)")
