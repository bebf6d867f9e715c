"""Registers the ``apo`` algorithm. Nothing heavy is imported until the algorithm is built."""

from __future__ import annotations

from typing import Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register
from agentlightning_core.optional import needs

#: what the factory imports (top-level module → the extra that brings it; None: a plain dependency)
DRIVERS: dict[str, str | None] = {"httpx": None, "jinja2": None}


@needs("agentlightning-apo", DRIVERS, what="algorithm 'apo'")
def _apo(**kwargs: Any) -> Any:
    from .algorithm import APO

    return APO(**kwargs)


@hookimpl
def agl_register_algorithms(register: Register) -> None:
    register(
        "apo", _apo, description="automatic prompt optimisation: textual gradients + beam search (ProTeGi)"
    )
