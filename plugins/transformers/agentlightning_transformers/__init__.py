"""Local inference engine for Agent Lightning: a transformers causal LM behind the OpenAI chat API.

Importing this package is cheap; torch and transformers load when the engine starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["TransformersEngine", "default_model_path"]

if TYPE_CHECKING:
    from .engine import TransformersEngine
    from .loading import default_model_path


def __getattr__(name: str) -> Any:
    if name == "TransformersEngine":
        from .engine import TransformersEngine

        return TransformersEngine
    if name == "default_model_path":
        from .loading import default_model_path

        return default_model_path
    raise AttributeError(name)
