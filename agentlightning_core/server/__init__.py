"""The HTTP server: store, event stream and LLM proxy (``create_app``), and how to run it.

Imported lazily: ``agentlightning_core.server.create_app`` loads FastAPI on first use only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app
    from .run import serve_in_background

__all__ = ["create_app", "serve_in_background"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "serve_in_background":
        from .run import serve_in_background

        return serve_in_background
    raise AttributeError(f"module 'agentlightning_core.server' has no attribute {name!r}")
