"""Registers the ``apo`` algorithm. Nothing heavy is imported until the algorithm is built."""

from __future__ import annotations

from typing import Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register


def _apo(**kwargs: Any) -> Any:
    from .algorithm import APO

    return APO(**kwargs)


@hookimpl
def agl_register_algorithms(register: Register) -> None:
    register(
        "apo", _apo, description="automatic prompt optimisation: textual gradients + beam search (ProTeGi)"
    )
