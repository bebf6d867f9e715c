"""Hook implementations: registers the ``verl`` algorithm (nothing heavy at import: VERL, Ray and
torch load when a run starts)."""

from __future__ import annotations

from typing import Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register


def _make_verl(**options: Any) -> Any:
    from .algorithm import VERL

    return VERL(**options)


@hookimpl
def agl_register_algorithms(register: Register) -> None:
    register(
        "verl",
        _make_verl,
        description="GRPO/PPO with VERL's FSDP actor on Ray; rollouts from the runners via the proxy (GPU)",
    )
