"""The plugin module the entry point names: registrations only, nothing heavy at import."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register

if TYPE_CHECKING:
    from agentlightning_core import Adapter


def make_demoadapter() -> Adapter:
    """The adapter; import the framework inside its methods, not here."""
    from .adapter import DemoadapterAdapter

    return DemoadapterAdapter()


@hookimpl
def agl_register_adapters(register: Register) -> None:
    register("demoadapter", make_demoadapter, description="demoadapter adapter (from agl new-plugin adapter)")
