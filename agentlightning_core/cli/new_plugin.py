"""``agl new-plugin KIND NAME``: write a plugin distribution that installs and passes its tests.

The generated folder is a distribution of its own (see :mod:`agentlightning_core.scaffold`); the
next steps it prints are the ones the docs promise: ``pip install -e NAME && pytest NAME``.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import InvalidRequestError
from ..scaffold import KINDS, generate


@click.command(name="new-plugin")
@click.argument("kind", type=click.Choice(sorted(KINDS)))
@click.argument("name")
@click.option(
    "--directory",
    "-d",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write it (default: ./NAME).",
)
@click.option("--force", is_flag=True, help="Write into a folder that already holds files.")
def command(kind: str, name: str, directory: Path | None, force: bool) -> None:
    """Generate a working KIND plugin registered as NAME: pyproject with the entry point, the
    plugin module, an implementation, tests wired to the conformance suite, a README."""
    target = directory if directory is not None else Path(name)
    try:
        written = generate(kind, name, target, force=force)
    except InvalidRequestError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"wrote {len(written)} files to {target}/ ({KINDS[kind].label} {name!r}); next:")
    click.echo(f"  pip install -e {target}")
    click.echo(f"  pytest {target}")
