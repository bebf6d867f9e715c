"""The runner inside a Ray actor: the same ``Runner`` as ``agl runner``, against the server over HTTP.

The agent is loaded in the constructor. An import that fails is *kept*, not raised: ``run``
answers with it, the launcher reports it once and does not restart the actor (a restart would
fail the same way, in a loop).
"""

from __future__ import annotations

import os
import socket
from typing import Any


class RunnerActor:
    def __init__(
        self,
        agent: Any,
        server_url: str,
        token: str | None,
        worker_id: str,
        concurrency: int,
        tracer: str | None,
        runner_options: dict[str, Any],
    ) -> None:
        self.server_url = server_url
        self.token = token
        self.worker_id = worker_id
        self.concurrency = concurrency
        self.tracer_name = tracer
        self.runner_options = runner_options
        self.runner: Any = None
        self.stopping: float | None | bool = False
        self.agent: Any = None
        self.load_error: str | None = None
        try:
            if isinstance(agent, str):
                from agentlightning_core.cli.loading import load_agent

                self.agent = load_agent(agent)
            else:
                from agentlightning_core.agent import as_agent

                self.agent = as_agent(agent)
        except BaseException as exc:
            self.load_error = f"{type(exc).__name__}: {exc}"

    async def where(self) -> dict[str, Any]:
        import ray

        return {
            "node_id": ray.get_runtime_context().get_node_id(),
            "hostname": socket.gethostname(),
            "pid": os.getpid(),
        }

    async def run(self) -> dict[str, Any]:
        if self.load_error is not None:
            return {"status": "load_failed", "error": self.load_error}
        if self.stopping is not False:
            return {"status": "exited", "succeeded": 0, "failed": 0}
        import asyncio
        import concurrent.futures

        from agentlightning_core.client import HttpStore
        from agentlightning_core.runner import Runner
        from agentlightning_core.trainer.resolve import resolve_tracer

        loop = asyncio.get_running_loop()
        loop.set_default_executor(
            concurrent.futures.ThreadPoolExecutor(self.concurrency + 4, thread_name_prefix="agl-agent")
        )
        where = await self.where()
        metadata = {"launcher": "ray", "ray_node_id": where["node_id"]}
        async with HttpStore(self.server_url, token=self.token) as store:
            self.runner = Runner(
                self.agent,
                store,
                worker_id=self.worker_id,
                concurrency=self.concurrency,
                tracer=resolve_tracer(self.tracer_name),
                worker_metadata=metadata,
                **self.runner_options,
            )
            stats = await self.runner.run()
        return {"status": "exited", "succeeded": stats.succeeded, "failed": stats.failed}

    async def stop(self, grace: float | None = None) -> None:
        self.stopping = grace
        if self.runner is not None:
            self.runner.stop(grace=grace)
