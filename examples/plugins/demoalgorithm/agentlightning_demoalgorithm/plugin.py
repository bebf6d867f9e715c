"""The plugin module the entry point names: registrations only, nothing heavy at import."""

from __future__ import annotations

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register

from .algorithm import Demoalgorithm


@hookimpl
def agl_register_algorithms(register: Register) -> None:
    # An Algorithm subclass is registered as is: Trainer(algorithm="demoalgorithm", **options) calls
    # Demoalgorithm(**options). A factory function returning an instance works the same way; use one
    # when the algorithm's module imports something heavy (torch), and import it inside the factory.
    register(
        "demoalgorithm", Demoalgorithm, description="demoalgorithm algorithm (from agl new-plugin algorithm)"
    )
