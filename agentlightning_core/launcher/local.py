"""The built-in ``local`` launcher: runners on this machine.

Two shapes, picked by what the spec carries:

* an in-process store (the Trainer's): each replica is an async task in this event loop, so an
  agent object needs no import path and a crash stops training with its error;
* a server URL and an agent ``MODULE:OBJECT`` (``agl runner --replicas N``): each replica is a
  child process ``agl runner --server URL --agent SPEC``; signals are forwarded to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import socket
import sys
from typing import Any

from .base import Launcher, LauncherError, LaunchSpec, ReplicaState, ReplicaStatus, check_replicas

log = logging.getLogger(__name__)


class LocalLauncher(Launcher):
    name = "local"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._states: list[ReplicaState] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self._runners: list[Any] = []
        self._processes: list[asyncio.subprocess.Process] = []

    async def start(self, spec: LaunchSpec) -> None:
        check_replicas(spec.replicas)
        prefix = spec.worker_id or _default_prefix()
        if spec.store is not None and not isinstance(spec.agent, str):
            self._start_in_process(spec, prefix)
        else:
            await self._start_processes(spec, prefix)

    # ---------------------------------------------------------------- in process
    def _start_in_process(self, spec: LaunchSpec, prefix: str) -> None:
        from ..runner import Runner

        for i in range(spec.replicas):
            runner = Runner(
                spec.agent,
                spec.store,
                worker_id=f"{prefix}-r{i}",
                tracer=spec.tracer,
                concurrency=spec.concurrency,
                bus=spec.bus,
                worker_metadata={"launcher": "local"},
                **{"before_finish": spec.before_finish, **spec.runner_options},
            )
            state = ReplicaState(i, runner.worker_id, ReplicaStatus.RUNNING, f"pid {os.getpid()}")
            task = asyncio.create_task(runner.run(), name=f"runner-{i}")
            task.add_done_callback(functools.partial(_record_end, state))
            self._runners.append(runner)
            self._states.append(state)
            self._tasks.append(task)

    # ---------------------------------------------------------------- processes
    async def _start_processes(self, spec: LaunchSpec, prefix: str) -> None:
        if not isinstance(spec.agent, str):
            raise LauncherError(
                "the local launcher starts runner processes from an agent given as MODULE:OBJECT "
                f"(got {type(spec.agent).__name__}); pass its import path, e.g. my_agents:agent"
            )
        if not spec.server_url:
            raise LauncherError("the local launcher needs server_url to start runner processes")
        env = dict(os.environ)
        if spec.token:
            env["AGL_SERVER_TOKEN"] = spec.token
        for i in range(spec.replicas):
            worker_id = f"{prefix}-{i}"
            args = [*_runner_args(spec), "--worker-id", worker_id]
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "agentlightning_core.cli", "runner", *args, env=env
            )
            self._processes.append(process)
            self._states.append(ReplicaState(i, worker_id, ReplicaStatus.RUNNING, f"pid {process.pid}"))
            watch = self._watch(process, self._states[-1])
            self._tasks.append(asyncio.create_task(watch, name=worker_id))

    async def _watch(self, process: asyncio.subprocess.Process, state: ReplicaState) -> None:
        code = await process.wait()
        state.status = ReplicaStatus.EXITED if code == 0 else ReplicaStatus.FAILED
        if code != 0:  # the others keep running: one lost process is one runner fewer, not an outage
            state.error = f"exited with {code}"
            log.error("runner %s (%s) exited with %s", state.worker_id, state.location, code)

    # ---------------------------------------------------------------- common
    async def wait(self) -> None:
        """Until every replica ended. In process, the first one that fails raises at once
        (training stops with its error rather than waiting on rollouts nobody runs); child
        processes all run to their end, and then the failed ones are named."""
        if self._processes:
            await asyncio.gather(*self._tasks, return_exceptions=True)
            failed = [s for s in self._states if s.status is ReplicaStatus.FAILED]
            if failed:
                raise LauncherError(
                    "; ".join(f"runner {s.worker_id} ({s.location}) {s.error}" for s in failed)
                )
            return
        pending = set(self._tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                error = None if task.cancelled() else task.exception()
                if error is not None:
                    name = task.get_name()
                    raise LauncherError(f"runner {name} crashed: {error}") from error

    def tasks(self) -> list[asyncio.Task[Any]]:
        """One task per replica (the Trainer watches them to stop training on a crash)."""
        return list(self._tasks)

    def forward_signal(self, signum: int) -> None:
        for process in self._processes:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signum)

    async def stop(self, grace: float | None = None) -> None:
        for runner in self._runners:
            runner.stop(grace=grace)
        self.forward_signal(signal.SIGTERM)
        results = await asyncio.gather(*self._tasks, return_exceptions=True)
        for state, result in zip(self._states, results, strict=True):
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                log.error("runner %s ended with %s: %s", state.worker_id, type(result).__name__, result)

    def states(self) -> list[ReplicaState]:
        return list(self._states)


def _record_end(state: ReplicaState, task: asyncio.Task[Any]) -> None:
    error = None if task.cancelled() else task.exception()
    state.status = ReplicaStatus.FAILED if error is not None else ReplicaStatus.EXITED
    state.error = f"{type(error).__name__}: {error}" if error is not None else None


def _default_prefix() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def _runner_args(spec: LaunchSpec) -> list[str]:
    """``agl runner`` options that reproduce the spec in a child process."""
    args = ["--server", str(spec.server_url), "--agent", str(spec.agent), "-n", str(spec.concurrency)]
    if isinstance(spec.tracer, str):
        args += ["--tracer", spec.tracer]
    flags = {
        "heartbeat_interval": "--heartbeat-interval",
        "flush_interval": "--flush-interval",
        "stop_grace": "--stop-grace",
        "max_rollouts": "--max-rollouts",
    }
    for key, value in spec.runner_options.items():
        if key not in flags:
            raise LauncherError(
                f"runner option {key!r} cannot reach a runner process; use one of {sorted(flags)}"
            )
        if value is not None:
            args += [flags[key], str(value)]
    return args
