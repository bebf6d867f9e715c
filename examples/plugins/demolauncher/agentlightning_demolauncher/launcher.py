"""The ``demolauncher`` launcher: each replica is a runner task in this process, reaching the server
over HTTP exactly as a runner on another machine would.

Replace ``_run_replica`` with what starts a runner where yours run (a job on a scheduler, a
container, a process over ssh); import that system's library inside ``start``, not at module
import, so ``agl plugins`` works where it is not installed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from agentlightning_core.launcher import (
    Launcher,
    LauncherError,
    LaunchSpec,
    ReplicaState,
    ReplicaStatus,
    check_replicas,
)


class DemolauncherLauncher(Launcher):
    name = "demolauncher"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)  # refuses options this launcher does not know, naming them
        self._states: list[ReplicaState] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._runners: list[Any] = []

    async def start(self, spec: LaunchSpec) -> None:
        check_replicas(spec.replicas)
        if not spec.server_url:
            raise LauncherError("the demolauncher launcher needs the server's URL (spec.server_url)")
        for index in range(spec.replicas):
            state = ReplicaState(index, f"{spec.worker_id or 'demolauncher'}-{index}", ReplicaStatus.STARTING)
            self._states.append(state)
            self._tasks.append(asyncio.create_task(self._run_replica(spec, state)))

    async def _run_replica(self, spec: LaunchSpec, state: ReplicaState) -> None:
        from agentlightning_core.cli.loading import load_agent
        from agentlightning_core.client import HttpStore
        from agentlightning_core.runner import Runner

        try:
            agent = load_agent(spec.agent) if isinstance(spec.agent, str) else spec.agent
            async with HttpStore(str(spec.server_url), token=spec.token) as store:
                runner = Runner(
                    agent,
                    store,
                    worker_id=state.worker_id,
                    concurrency=spec.concurrency,
                    **spec.runner_options,
                )
                self._runners.append(runner)
                state.status, state.location = ReplicaStatus.RUNNING, "in process"
                await runner.run()
            state.status = ReplicaStatus.EXITED
        except Exception as exc:
            state.status, state.error = ReplicaStatus.FAILED, f"{type(exc).__name__}: {exc}"
            raise LauncherError(f"runner {state.worker_id}: {state.error}") from exc

    async def wait(self) -> None:
        await asyncio.gather(*self._tasks)

    async def stop(self, grace: float | None = None) -> None:
        for runner in self._runners:
            runner.stop(grace=grace)
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def states(self) -> list[ReplicaState]:
        return list(self._states)
