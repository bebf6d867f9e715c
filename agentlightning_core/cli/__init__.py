"""The ``agl`` command line. Plugins add sub-commands through ``agl_register_commands``."""

from __future__ import annotations

import importlib
import logging
import os

import click

#: core sub-command modules, each exposing ``command`` (imported lazily so ``agl --help`` is fast)
CORE_COMMANDS = {
    "plugins": "agentlightning_core.cli.plugins",
    "serve": "agentlightning_core.cli.serve",
    "runner": "agentlightning_core.cli.runner",
    "train": "agentlightning_core.cli.train",
    "new-plugin": "agentlightning_core.cli.new_plugin",
}


class AglGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*CORE_COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in CORE_COMMANDS and name not in self.commands:
            module = importlib.import_module(CORE_COMMANDS[name])
            self.add_command(module.command, name)
        return self.commands.get(name)


@click.group(cls=AglGroup)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="agentlightning-core")
def cli(verbose: int) -> None:
    """Agent Lightning: train AI agents with reinforcement learning or prompt optimisation."""
    from ..logging import configure_logger

    # every line the product writes goes through the PII-masking filter (off with
    # AGENT_LIGHTNING_PII_MASKING_ENABLED=false), uvicorn's access log included
    configure_logger(level=max(logging.WARNING - 10 * verbose, logging.DEBUG))


def main() -> None:
    import sys

    from ..errors import PluginError
    from ..plugin_manager import get_plugin_manager

    if os.environ.get("AGL_NO_PLUGIN_COMMANDS") != "1":
        try:
            get_plugin_manager().add_commands(cli)
        except PluginError as exc:  # AGL_STRICT_PLUGINS=1 and a broken plugin
            # `agl plugins` still runs (it lists what is broken); anything else stops with one line
            if "plugins" not in sys.argv[1:2]:
                raise SystemExit(
                    f"agl: {exc}\n(list every plugin and its errors with: agl plugins)"
                ) from None
    from ..optional import MissingDependencyError

    try:
        cli(prog_name="agl")
    except MissingDependencyError as exc:  # one line with the pip command, not a traceback
        raise SystemExit(f"agl: {exc}") from None
