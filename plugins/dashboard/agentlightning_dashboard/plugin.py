"""Entry point ``dashboard``: mounts the pages on every server the core builds."""

from __future__ import annotations

from typing import Any

from agentlightning_core import hookimpl


@hookimpl
def agl_server_app(app: Any) -> None:
    from .mount import mount_dashboard

    mount_dashboard(app)
