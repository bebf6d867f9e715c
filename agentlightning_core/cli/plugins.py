"""``agl plugins``: what is installed, what each plugin registered, and what failed to load.

This is the command a user runs when something is broken, so it never stops on a broken plugin:
it always builds a non-strict manager (``AGL_STRICT_PLUGINS=1`` or not), lists every failure, and
exits non-zero only when asked with ``--strict``. The table keeps distribution names whole at any
width; load errors print in full below it, wrapped, and hooks appear with ``--verbose``.
"""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from ..plugin_manager import AglPluginManager, PluginInfo, _env_flag, get_plugin_manager

#: below this many columns the registrations column moves to ``--verbose``
NARROW = 100


def _manager() -> AglPluginManager:
    """The process-wide manager unless it is strict: strict mode would raise on the first
    broken plugin, and this command exists to show all of them."""
    if _env_flag("AGL_STRICT_PLUGINS"):
        return AglPluginManager(strict=False)
    manager = get_plugin_manager()
    return manager if not manager.strict else AglPluginManager(strict=False)


def _status(info: PluginInfo) -> str:
    if info.disabled:
        return "[yellow]disabled[/]"
    if info.errors:
        return "[red]broken[/]"
    return "[green]ok[/]"


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--verbose", "-v", is_flag=True, help="Also list each plugin's registrations, hooks and options."
)
@click.option("--strict", is_flag=True, help="Exit with status 1 if any plugin failed to load.")
def command(as_json: bool, verbose: bool, strict: bool) -> None:
    """List plugins: distribution, version, registrations, status and load errors."""
    infos = _manager().plugin_infos()
    broken = [info for info in infos if info.errors]
    if as_json:
        click.echo(json.dumps([info.to_dict() for info in infos], indent=2))
    else:
        _print_table(infos, verbose)
    if strict and broken:
        click.echo(f"agl plugins --strict: {len(broken)} plugin(s) failed to load", err=True)
        raise SystemExit(1)


def _registered(info: PluginInfo) -> str:
    return "; ".join(f"{kind}: {', '.join(sorted(names))}" for kind, names in sorted(info.registered.items()))


def _print_table(infos: list[PluginInfo], verbose: bool) -> None:
    console = Console()
    names = [(info.name, info.distribution or "-", info.version or "") for info in infos]
    # the narrowest table that keeps every name whole: widest cell + padding per column, borders
    needed = sum(max(len(row[i]) for row in names) + 3 for i in range(3)) + len("disabled") + 4
    if needed > console.width:  # too narrow for any table: one plain line per plugin
        for (name, dist, version), info in zip(names, infos, strict=True):
            console.print(f"{name}  {dist} {version}  {_status(info)}", highlight=False, soft_wrap=True)
    else:
        wide = not verbose and console.width >= NARROW
        table = Table(title="Agent Lightning plugins")
        # names never wrap or shrink: a user copies them into pip and AGL_DISABLED_PLUGINS
        table.add_column("plugin", no_wrap=True)
        table.add_column("distribution", no_wrap=True)
        table.add_column("version", no_wrap=True)
        if wide:
            table.add_column("registered", overflow="fold")
        table.add_column("status", no_wrap=True)
        for (name, dist, version), info in zip(names, infos, strict=True):
            row = [name, dist, version]
            if wide:
                row.append(_registered(info).replace("; ", "\n"))
            table.add_row(*row, _status(info))
        console.print(table)
    if verbose:  # details as wrapped text under the table, readable at any width
        for info in infos:
            hooks = ", ".join(h.replace("agl_", "") for h in sorted(info.hooks)) or "none"
            console.print(
                f"[bold]{info.name}[/]: registered {_registered(info) or 'nothing'}; hooks {hooks}",
                highlight=False,
            )
            # what each registration is, with the options it takes (an algorithm's lora, credit, ...)
            for key, description in sorted(info.descriptions.items()):
                console.print(f"  {key}: {description}", highlight=False, soft_wrap=True)
    elif console.width < NARROW:
        console.print("registrations and hooks: agl plugins --verbose (or --json)", highlight=False)
    for info in infos:
        for error in info.errors:
            console.print(f"[red]{info.provider}[/]: {error}", highlight=False)
    if any(info.errors for info in infos) and _env_flag("AGL_STRICT_PLUGINS"):
        console.print(
            "AGL_STRICT_PLUGINS=1: other agl commands stop on these errors; fix or disable them with"
            " AGL_DISABLED_PLUGINS=<plugin>",
            highlight=False,
        )
