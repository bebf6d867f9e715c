"""``agl train``: ``Trainer(...).fit(agent, train, val)`` from the command line.

``--dev`` does a dry run instead (``Trainer.dev``: a few tasks, each rollout printed with its
error, spans and reward). Initial resources come from a JSON file mapping names to resources,
e.g. ``{"prompt": {"resource_type": "prompt_template", "template": "Solve: {q}"}}``; its JSON
Schema is ``agentlightning_core/schemas/resources.schema.json`` (``--resources-schema`` prints it).
"""

from __future__ import annotations

import json
from typing import Any

import click

from .loading import load_agent, load_data, parse_values


def _print_schema(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from ..resources_file import SCHEMA_PATH

    click.echo(SCHEMA_PATH.read_text(), nl=False)
    ctx.exit()


@click.command()
@click.option("--algorithm", default="baseline", show_default=True, help="Registered algorithm name.")
@click.option("--agent", "agent_spec", required=True, help="MODULE:OBJECT or path/to/file.py:OBJECT.")
@click.option("--train", "train_path", required=True, help="Training tasks (.jsonl, or .json list).")
@click.option("--val", "val_path", default=None, help="Validation tasks (.jsonl, or .json list).")
@click.option(
    "--store",
    "store_url",
    default=None,
    help="Store URL, or http://host:port of a server (default: DATABASE_URL, else SQLite, else memory).",
)
@click.option(
    "--n-runners",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="In-process runners (0: runners connect with `agl runner --server URL`).",
)
@click.option(
    "-n",
    "--concurrency",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Rollouts each in-process runner runs at once.",
)
@click.option(
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Algorithm option, repeatable; values are JSON when they parse (lr=0.1).",
)
@click.option("--engine", "engine_name", default=None, help="LLM engine behind the proxy (e.g. openai).")
@click.option(
    "--engine-option", "engine_options", multiple=True, metavar="KEY=VALUE", help="Engine option, repeatable."
)
@click.option(
    "--resources",
    "resources_path",
    default=None,
    help="JSON file of initial resources (format: agl train --resources-schema; docs/resources.md).",
)
@click.option(
    "--resources-schema",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_schema,
    help="Print the JSON Schema of the --resources file and exit.",
)
@click.option(
    "--tracer",
    "tracer_name",
    default=None,
    help="Registered tracer name (default: otel when installed, else noop).",
)
@click.option(
    "--output-dir", default=None, help="Where metrics.jsonl and result.json go (default runs/<time>)."
)
@click.option(
    "--metric-sink",
    "metric_sinks",
    multiple=True,
    metavar="NAME",
    help="Also send metrics and the run's config to this sink (tensorboard, mlflow, wandb), "
    "repeatable; default AGL_METRIC_SINKS. metrics.jsonl is always written.",
)
@click.option("--port", type=int, default=0, show_default=True, help="Server port (0: any free port).")
@click.option("--dev", is_flag=True, help="Dry run on the first --limit training tasks instead of training.")
@click.option("--limit", type=click.IntRange(min=1), default=5, show_default=True, help="Tasks for --dev.")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
def command(
    algorithm: str,
    agent_spec: str,
    train_path: str,
    val_path: str | None,
    store_url: str | None,
    n_runners: int,
    concurrency: int,
    options: tuple[str, ...],
    engine_name: str | None,
    engine_options: tuple[str, ...],
    resources_path: str | None,
    tracer_name: str | None,
    output_dir: str | None,
    metric_sinks: tuple[str, ...],
    port: int,
    dev: bool,
    limit: int,
    no_progress: bool,
) -> None:
    """Train an agent (or dry-run it with --dev)."""
    from ..errors import AglError
    from ..trainer import Trainer

    agent = load_agent(agent_spec)
    train = load_data(train_path)
    val = load_data(val_path) if val_path else None
    if engine_options and not engine_name:
        raise click.UsageError("--engine-option needs --engine NAME")
    resources = _load_resources(resources_path) if resources_path else None
    try:
        trainer = Trainer(
            algorithm if not dev else "baseline",
            n_runners=n_runners,
            concurrency=concurrency,
            store=store_url,
            tracer=tracer_name,
            engine=engine_name,
            engine_options=parse_values(engine_options, "--engine-option") if engine_options else None,
            initial_resources=resources,
            output_dir=output_dir,
            metric_sinks=list(metric_sinks) if metric_sinks else None,
            progress=not no_progress,
            port=port,
            **(parse_values(options) if not dev else {}),
        )
        if dev:
            report = trainer.dev(agent, train, limit=limit)
            if report.n_succeeded < len(report.rollouts):
                raise SystemExit(1)
            return
        result = trainer.fit(agent, train, val)
    except (AglError, OSError, TypeError, ValueError) as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc
    summary: dict[str, Any] = {
        "best_score": result.best_score,
        "best_resources_id": result.best_resources_id,
        "output_dir": str(trainer.output_dir),
    }
    click.echo(json.dumps(summary, indent=2))


def _load_resources(path: str) -> dict[str, Any]:
    from ..errors import InvalidRequestError
    from ..resources_file import load_resources_file

    try:
        return load_resources_file(path)
    except InvalidRequestError as exc:
        raise click.BadParameter(str(exc), param_hint="--resources") from None
