"""Adds ``agl demo`` through ``agl_register_commands``; the core never imports this package."""

from __future__ import annotations

from typing import Any

from agentlightning_core import hookimpl


@hookimpl
def agl_register_commands(cli: Any) -> None:
    from .cli import demo

    cli.add_command(demo, name="demo")
