"""``agl runner``: run an agent on the rollouts of a server (``agl serve`` or a Trainer's).

``--replicas N`` has a launcher start N runners (each ``-n`` rollouts at once) and waits for them:
``--launcher local`` (default) starts child processes, ``--launcher ray`` Ray actors
(``agentlightning-ray``); ``--launcher-option KEY=VALUE`` passes the launcher's options.
SIGINT/SIGTERM stop them gracefully (a second signal: at once). The server token comes from
``AGL_SERVER_TOKEN`` only, never from the command line.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import signal
import sys
import time
from typing import Any

import click

from .loading import load_agent, loop_runner, parse_values


@click.command()
@click.option(
    "--server", "server_url", required=True, help="The server's base URL, e.g. http://127.0.0.1:4747."
)
@click.option("--agent", "agent_spec", required=True, help="MODULE:OBJECT or path/to/file.py:OBJECT.")
@click.option(
    "-n",
    "--concurrency",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Rollouts each process runs at once.",
)
@click.option(
    "--replicas",
    type=int,
    default=None,
    help="Runners the launcher starts (default 1, in this process, when no --launcher is given).",
)
@click.option(
    "--launcher",
    "launcher_name",
    default=None,
    help="Where the replicas run: local (child processes, default) or a registered launcher (ray).",
)
@click.option(
    "--launcher-option",
    "launcher_option",
    multiple=True,
    help='KEY=VALUE option of the launcher (JSON values parse: num_cpus=0.5, resources={"x":1}).',
)
@click.option(
    "--autoscale",
    "autoscale",
    default=None,
    metavar="MIN:MAX",
    help="Grow and shrink the runners with the queue, between MIN and MAX (a launcher that scales: ray). "
    "Same as --launcher-option autoscale=true min_replicas=MIN max_replicas=MAX.",
)
@click.option(
    "--processes", type=click.IntRange(min=1), default=None, hidden=True, help="Old name of --replicas."
)
@click.option(
    "--tracer",
    "tracer_name",
    default=None,
    help="Registered tracer name (default: otel when installed, else noop).",
)
@click.option("--worker-id", default=None, help="Worker id (default: host-pid-random; -<i> per process).")
@click.option(
    "--max-rollouts",
    type=click.IntRange(min=1),
    default=None,
    help="Exit after this many rollouts (per process).",
)
@click.option(
    "--heartbeat-interval",
    type=click.FloatRange(min=0.01),
    default=5.0,
    show_default=True,
    help="Seconds between heartbeats (capped at a quarter of a rollout's unresponsive_seconds).",
)
@click.option(
    "--flush-interval",
    type=click.FloatRange(min=0.01),
    default=1.0,
    show_default=True,
    help="Seconds between span flushes of a running rollout (spans are always sent at its end).",
)
@click.option(
    "--stop-grace",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    help="Seconds in-flight rollouts get to finish after SIGTERM before they are failed (and retried).",
)
def command(
    server_url: str,
    agent_spec: str,
    concurrency: int,
    replicas: int | None,
    launcher_name: str | None,
    launcher_option: tuple[str, ...],
    autoscale: str | None,
    processes: int | None,
    tracer_name: str | None,
    worker_id: str | None,
    max_rollouts: int | None,
    heartbeat_interval: float,
    flush_interval: float,
    stop_grace: float,
) -> None:
    """Pull rollouts from a server and run the agent on them until stopped."""
    if replicas is None:
        replicas = processes
    scaling = _autoscale_options(autoscale)
    if scaling and launcher_name is None:
        raise click.BadParameter(
            "the local launcher does not scale; add --launcher ray (agentlightning-ray)",
            param_hint="--autoscale",
        )
    if replicas is not None or launcher_name is not None:
        from ..launcher import LauncherError, check_replicas

        try:
            check_replicas(1 if replicas is None else replicas, "--replicas")
        except LauncherError as exc:
            raise click.BadParameter(str(exc), param_hint="--replicas") from None
    if launcher_name is not None or (replicas is not None and replicas > 1):
        runner_options: dict[str, Any] = {
            "heartbeat_interval": heartbeat_interval,
            "flush_interval": flush_interval,
            "stop_grace": stop_grace,
            "max_rollouts": max_rollouts,
        }
        spec_args = (
            server_url,
            agent_spec,
            replicas or 1,
            concurrency,
            tracer_name,
            worker_id,
            runner_options,
        )
        sys.exit(
            _launch(
                launcher_name or "local",
                {**parse_values(launcher_option, "--launcher-option"), **scaling},
                *spec_args,
            )
        )
    agent = load_agent(agent_spec)  # fail here, before connecting, on a bad agent
    from ..errors import AglError
    from ..trainer.resolve import resolve_tracer

    tracer = resolve_tracer(tracer_name)
    options = {
        "concurrency": concurrency,
        "worker_id": worker_id,
        "max_rollouts": max_rollouts,
        "heartbeat_interval": heartbeat_interval,
        "flush_interval": flush_interval,
        "stop_grace": stop_grace,
    }
    try:
        stats = loop_runner()(_run(server_url, agent, tracer, options))
    except (AglError, OSError) as exc:
        raise click.ClickException(f"runner stopped: {type(exc).__name__}: {exc}") from exc
    click.echo(
        f"runner finished: {stats.succeeded} succeeded, {stats.failed + stats.timed_out} failed, "
        f"{stats.ended_by_store} ended by the server, {stats.aborted} aborted at stop"
    )


async def _run(server_url: str, agent: Any, tracer: Any, options: dict[str, Any]) -> Any:
    from ..client import HttpStore
    from ..runner import Runner

    loop = asyncio.get_running_loop()
    # Synchronous agents run in threads: one per rollout that may run at once.
    loop.set_default_executor(
        concurrent.futures.ThreadPoolExecutor(options["concurrency"] + 4, thread_name_prefix="agl-agent")
    )
    async with HttpStore(server_url) as store:
        runner = Runner(agent, store, tracer=tracer, **options)
        signals = 0

        def on_signal() -> None:
            nonlocal signals
            signals += 1
            runner.stop(grace=None if signals == 1 else 0.0)

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        click.echo(f"runner {runner.worker_id} pulling from {server_url} (concurrency {runner.concurrency})")
        sys.stdout.flush()
        try:
            return await runner.run()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)


def _autoscale_options(value: str | None) -> dict[str, Any]:
    """``"2:8"`` -> the launcher options that scale between 2 and 8 runners."""
    if value is None:
        return {}
    low, sep, high = value.partition(":")
    try:
        if not sep:
            raise ValueError
        minimum, maximum = int(low), int(high)
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: expected MIN:MAX runners, e.g. --autoscale 1:8", param_hint="--autoscale"
        ) from None
    if not 1 <= minimum <= maximum:
        raise click.BadParameter(
            f"{value!r}: need 1 <= MIN <= MAX, e.g. --autoscale 1:8", param_hint="--autoscale"
        )
    return {"autoscale": True, "min_replicas": minimum, "max_replicas": maximum}


def _launch(
    launcher_name: str,
    launcher_options: dict[str, Any],
    server_url: str,
    agent_spec: str,
    replicas: int,
    concurrency: int,
    tracer_name: str | None,
    worker_id: str | None,
    runner_options: dict[str, Any],
) -> int:
    """Start ``replicas`` runners through the launcher; wait; forward signals as a stop."""
    from ..errors import AglError
    from ..launcher import LauncherError, LaunchSpec, open_launcher
    from ..settings import load_settings

    try:
        launcher = open_launcher(launcher_name, launcher_options)
    except (AglError, LauncherError, TypeError) as exc:
        raise click.ClickException(f"launcher {launcher_name!r}: {exc}") from exc
    spec = LaunchSpec(
        agent=agent_spec,
        replicas=replicas,
        server_url=server_url,
        concurrency=concurrency,
        tracer=tracer_name,
        worker_id=worker_id,
        runner_options=runner_options,
        token=load_settings().agl_server_token,
    )

    async def main() -> int:
        loop = asyncio.get_running_loop()
        signals = 0

        def on_signal() -> None:
            nonlocal signals
            signals += 1
            loop.create_task(launcher.stop(grace=None if signals == 1 else 0.0))

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        try:
            await launcher.start(spec)
            click.echo(f"launcher {launcher.name}: {replicas} runner(s) against {server_url}")
            watcher = asyncio.create_task(_echo_states(launcher))
            try:
                await launcher.wait()
            finally:
                watcher.cancel()
        except LauncherError as exc:
            click.echo(f"launcher {launcher.name}: {exc}", err=True)
            click.echo(launcher.describe(), err=True)
            with contextlib.suppress(Exception):
                await launcher.stop(grace=0.0)
            return 1
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        click.echo(f"launcher {launcher.name}: every runner ended")
        click.echo(launcher.describe())
        return 0

    return int(asyncio.run(main()))


async def _echo_states(launcher: Any, interval: float = 1.0) -> None:
    """Print the replicas' states whenever they change (placed, lost, restarted, scaled)."""
    shown = ""
    while True:
        now = launcher.describe()
        if now != shown:
            click.echo(f"runners ({time.strftime('%H:%M:%S')}):\n{now}")
            sys.stdout.flush()
            shown = now
        await asyncio.sleep(interval)
