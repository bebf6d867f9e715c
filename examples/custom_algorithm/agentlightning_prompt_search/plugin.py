"""The plugin module the entry point names: registrations only, nothing heavy at import."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentlightning_core import hookimpl
from agentlightning_core.hookspecs import Register

if TYPE_CHECKING:
    from agentlightning_core import Algorithm


def _prompt_search(**options: Any) -> Algorithm:
    # Imported on use: `agl plugins` loads this module and must stay fast even when an
    # algorithm needs torch or another heavy library.
    from .algorithm import PromptSearch

    return PromptSearch(**options)


@hookimpl
def agl_register_algorithms(register: Register) -> None:
    register("prompt_search", _prompt_search, description="try candidate prompt templates, keep the best")
