"""``agl plugins``: what is installed, what each plugin registered, and what failed to load."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from ..plugin_manager import get_plugin_manager


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "-v", "--verbose", is_flag=True, help="Also list what each registration is, with the options it takes."
)
def command(as_json: bool, verbose: bool) -> None:
    """List plugins: distribution, version, hooks, registrations and load errors."""
    infos = get_plugin_manager().plugin_infos()
    if as_json:
        click.echo(json.dumps([info.to_dict() for info in infos], indent=2))
        return
    table = Table(title="Agent Lightning plugins")
    for column in ("plugin", "distribution", "version", "hooks", "registered", "status"):
        table.add_column(column)
    for info in infos:
        registered = "\n".join(
            f"{kind}: {', '.join(sorted(names))}" for kind, names in sorted(info.registered.items())
        )
        if info.disabled:
            status = "[yellow]disabled[/]"
        elif info.errors:
            status = "[red]" + "\n".join(info.errors) + "[/]"
        else:
            status = "[green]ok[/]"
        table.add_row(
            info.name,
            info.distribution or ("agentlightning-core" if info.builtin else "-"),
            info.version or "",
            "\n".join(h.replace("agl_", "") for h in sorted(info.hooks)),
            registered,
            status,
        )
    console = Console()
    console.print(table)
    if verbose:
        details = Table(title="Registrations")
        for column in ("registration", "plugin", "description and options"):
            details.add_column(column)
        for info in infos:
            for key, description in sorted(info.descriptions.items()):
                details.add_row(key, info.name, description)
        console.print(details)
