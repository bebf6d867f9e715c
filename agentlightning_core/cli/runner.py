"""``agl runner``: run an agent on the rollouts of a server (``agl serve`` or a Trainer's).

``--processes P`` starts P runner processes (each ``-n`` rollouts at once) and waits for them;
SIGINT/SIGTERM stop them gracefully (a second signal: at once). The server token comes from
``AGL_SERVER_TOKEN`` only, never from the command line.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import signal
import subprocess
import sys
from typing import Any

import click

from .loading import load_agent, loop_runner


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
    "--processes", type=click.IntRange(min=1), default=1, show_default=True, help="Runner processes to start."
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
    processes: int,
    tracer_name: str | None,
    worker_id: str | None,
    max_rollouts: int | None,
    heartbeat_interval: float,
    flush_interval: float,
    stop_grace: float,
) -> None:
    """Pull rollouts from a server and run the agent on them until stopped."""
    if processes > 1:
        child = ["--server", server_url, "--agent", agent_spec, "-n", str(concurrency)]
        child += ["--heartbeat-interval", str(heartbeat_interval), "--stop-grace", str(stop_grace)]
        child += ["--flush-interval", str(flush_interval)]
        if tracer_name:
            child += ["--tracer", tracer_name]
        if max_rollouts is not None:
            child += ["--max-rollouts", str(max_rollouts)]
        sys.exit(_run_processes(processes, child, worker_id))
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


def _run_processes(processes: int, args: list[str], worker_id: str | None) -> int:
    """Start ``processes`` single-process runners with ``args``; wait; forward signals to them."""
    children: list[subprocess.Popen[bytes]] = []
    for i in range(processes):
        child_args = [*args, "--worker-id", f"{worker_id}-{i}"] if worker_id else list(args)
        command = [sys.executable, "-m", "agentlightning_core.cli", "runner", *child_args]
        children.append(subprocess.Popen(command))

    def forward(signum: int, frame: Any) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, forward)
    codes = [child.wait() for child in children]
    failed = [(i, code) for i, code in enumerate(codes) if code != 0]
    for i, code in failed:
        click.echo(f"runner process {i} (pid {children[i].pid}) exited with {code}", err=True)
    return 1 if failed else 0
