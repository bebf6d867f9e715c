"""The plugin module the entry point names: registrations only, nothing heavy at import."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register

if TYPE_CHECKING:
    from agentlightning_core.bus import EventBus


def open_demobus() -> EventBus:
    """Build the bus (not started), configured from the environment."""
    from .bus import DemobusEventBus

    return DemobusEventBus()


@hookimpl
def agl_register_event_buses(register: Register) -> None:
    register("demobus", open_demobus, description="demobus event bus (from agl new-plugin event-bus)")
