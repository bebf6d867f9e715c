"""GRPO for Agent Lightning: group-relative policy optimisation of a local transformers model.

Importing the package is cheap; torch loads when the algorithm runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["GRPO", "GRPOConfig"]

if TYPE_CHECKING:
    from .algorithm import GRPO
    from .config import GRPOConfig


def __getattr__(name: str) -> Any:
    if name == "GRPO":
        from .algorithm import GRPO

        return GRPO
    if name == "GRPOConfig":
        from .config import GRPOConfig

        return GRPOConfig
    raise AttributeError(name)
