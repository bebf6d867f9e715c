"""MkDocs hook: the CLI reference, generated from the click commands at build time.

A page holding the line ``<!-- agl-cli-reference -->`` gets, in its place, every ``agl`` command
with its usage, help and options as click prints them, so the reference cannot drift from the
code. The core's commands always; a plugin's (``agl demo``) when its distribution is installed.
"""

from __future__ import annotations

from typing import Any

import click

MARKER = "<!-- agl-cli-reference -->"


def _section(command: click.Command, path: list[str], parent: click.Context | None) -> list[str]:
    ctx = click.Context(command, info_name=path[-1], parent=parent, terminal_width=100, max_content_width=100)
    out = [f"## `{' '.join(path)}`", "", "```text", command.get_help(ctx).rstrip(), "```", ""]
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                out += _section(sub, [*path, name], ctx)
    return out


def reference() -> str:
    from agentlightning_core.cli import cli
    from agentlightning_core.plugin_manager import AglPluginManager

    AglPluginManager(strict=False).add_commands(cli)  # what installed plugins add (agl demo)
    return "\n".join(_section(cli, ["agl"], None))


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, reference())
