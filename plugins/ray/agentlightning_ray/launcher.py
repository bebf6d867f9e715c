"""``RayLauncher``: each runner replica is a Ray actor; Ray places it, restarts it, scales it.

One supervising task per replica awaits the actor's ``run``. When the actor's process or node
dies, Ray restarts the actor (up to ``max_restarts``) wherever its resources fit; the supervisor
sees the lost call, records the replica as restarting, and calls ``run`` again, which Ray queues
until the actor is back. The rollouts the dead runner held are not the launcher's business: the
store's watchdog requeues them once their heartbeats stop, and a live runner takes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from pydantic import ValidationError

from agentlightning_core.launcher import (
    Launcher,
    LauncherError,
    LaunchSpec,
    ReplicaState,
    ReplicaStatus,
    check_replicas,
)

from .autoscale import ScaleDecider
from .connect import connect
from .options import RayLauncherOptions

log = logging.getLogger(__name__)


class _Replica:
    def __init__(self, state: ReplicaState, handle: Any) -> None:
        self.state = state
        self.handle = handle
        self.task: asyncio.Task[None] | None = None
        self.lost_at: float | None = None


class RayLauncher(Launcher):
    name = "ray"

    def __init__(self, **options: Any) -> None:
        try:
            self.options = RayLauncherOptions(**options)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'options'}: {e['msg']}" for e in exc.errors()
            )
            raise LauncherError(f"ray launcher options: {problems} (see plugins/ray/README.md)") from None
        self._replicas: dict[int, _Replica] = {}
        self._spec: LaunchSpec | None = None
        self._actor_class: Any = None
        self._owns_ray = False
        self._stopping = False
        self._failure: LauncherError | None = None
        self._changed = asyncio.Event()
        self._scaler: asyncio.Task[None] | None = None
        #: seconds from a replica's loss to its actor answering again, one entry per recovery
        self.recoveries: list[float] = []

    # ------------------------------------------------------------------ start
    async def start(self, spec: LaunchSpec) -> None:
        check_replicas(spec.replicas)
        if not spec.server_url:
            raise LauncherError(
                "the ray launcher needs the server's URL (runners reach the store over HTTP): "
                "use `agl runner --server URL`, or a Trainer that serves (the default)"
            )
        opts = self.options
        self._owns_ray = await connect(
            opts.address, timeout=opts.connect_timeout, runtime_env=opts.runtime_env, namespace=opts.namespace
        )
        import ray

        from .actor import RunnerActor

        self._actor_class = ray.remote(RunnerActor).options(
            num_cpus=opts.num_cpus,
            num_gpus=opts.num_gpus,
            resources=opts.resources or None,
            max_restarts=opts.max_restarts,
            max_task_retries=0,
            max_concurrency=8,
            scheduling_strategy=opts.scheduling_strategy,
        )
        self._spec = spec
        replicas = spec.replicas
        if opts.autoscale:
            replicas = max(opts.min_replicas or 1, min(opts.max_replicas or replicas, replicas))
        for index in range(replicas):
            self._spawn(index)
        if opts.autoscale:
            self._scaler = asyncio.create_task(self._autoscale(), name="ray-autoscale")

    def _spawn(self, index: int) -> None:
        spec = self._spec
        assert spec is not None
        prefix = spec.worker_id or "ray"
        worker_id = f"{prefix}-{index}"
        tracer = spec.tracer if isinstance(spec.tracer, str) else None  # a tracer object stays home
        options = {k: v for k, v in spec.runner_options.items() if k != "before_finish"}
        handle = self._actor_class.remote(
            spec.agent, spec.server_url, spec.token, worker_id, spec.concurrency, tracer, options
        )
        replica = _Replica(ReplicaState(index, worker_id, ReplicaStatus.STARTING), handle)
        self._replicas[index] = replica
        replica.task = asyncio.create_task(self._supervise(replica), name=f"ray-runner-{index}")

    # -------------------------------------------------------------- supervision
    async def _supervise(self, replica: _Replica) -> None:
        from ray.exceptions import RayActorError

        state = replica.state
        max_restarts = self.options.max_restarts
        while True:
            try:
                where = await replica.handle.where.remote()
                state.location = f"node {where['node_id'][:12]} {where['hostname']} pid {where['pid']}"
                if replica.lost_at is not None:
                    self.recoveries.append(time.monotonic() - replica.lost_at)
                    log.warning(
                        "runner %s is back on %s after %.1fs",
                        state.worker_id,
                        state.location,
                        self.recoveries[-1],
                    )
                    replica.lost_at = None
                state.status = ReplicaStatus.RUNNING
                self._changed.set()
                result = await replica.handle.run.remote()
            except RayActorError as exc:
                if self._stopping:
                    break
                if replica.lost_at is not None:  # still coming back: the same loss, seen again
                    await asyncio.sleep(0.2)
                    continue
                state.restarts += 1
                if max_restarts != -1 and state.restarts > max_restarts:
                    state.status = ReplicaStatus.FAILED
                    state.error = f"lost {state.restarts} times, past max_restarts={max_restarts}: {exc}"
                    self._fail(f"runner {state.worker_id} {state.error}")
                    break
                replica.lost_at = time.monotonic()
                state.status = ReplicaStatus.RESTARTING
                log.warning(
                    "runner %s lost (%s); Ray restarts it (%d of %s)",
                    state.worker_id,
                    type(exc).__name__,
                    state.restarts,
                    "unlimited" if max_restarts == -1 else max_restarts,
                )
                self._changed.set()
                continue
            if result.get("status") == "load_failed":
                state.status = ReplicaStatus.FAILED
                state.error = result["error"]
                # a restart would fail the same way: end it for good and say why, once
                with contextlib.suppress(Exception):
                    import ray

                    ray.kill(replica.handle, no_restart=True)
                self._fail(f"runner {state.worker_id} could not load the agent: {state.error}")
                break
            state.status = ReplicaStatus.EXITED
            break
        self._changed.set()

    def _fail(self, message: str) -> None:
        if self._failure is None:
            self._failure = LauncherError(message)
            log.error("ray launcher: %s", message)
        self._changed.set()

    # --------------------------------------------------------------- autoscale
    async def _autoscale(self) -> None:
        from agentlightning_core.client import HttpStore
        from agentlightning_core.types import RolloutStatus

        spec, opts = self._spec, self.options
        assert spec is not None and spec.server_url is not None
        decider = ScaleDecider(opts.min_replicas or 1, opts.max_replicas or 1, spec.concurrency)
        async with HttpStore(spec.server_url, token=spec.token) as store:
            while not self._stopping:
                await asyncio.sleep(opts.scale_interval)
                try:
                    queued = (await store.query_rollouts(status=[RolloutStatus.QUEUED], limit=0)).total
                    running = (await store.query_rollouts(status=[RolloutStatus.RUNNING], limit=0)).total
                except Exception as exc:  # the server restarting: look again next time
                    log.warning("ray autoscale: cannot read the queue (%s: %s)", type(exc).__name__, exc)
                    continue
                live = sorted(i for i, r in self._replicas.items() if r.state.status not in _ENDED)
                target = decider.decide(len(live), queued, running)
                if target > len(live):
                    start = max(self._replicas, default=-1) + 1
                    for index in range(start, start + target - len(live)):
                        self._spawn(index)
                    log.warning("ray autoscale: %d queued, %d running -> %d runners", queued, running, target)
                elif target < len(live):
                    for index in live[target:]:
                        self._replicas[index].state.status = ReplicaStatus.EXITED
                        self._replicas[index].handle.stop.remote(None)  # in-flight rollouts finish
                    log.warning("ray autoscale: %d queued, %d running -> %d runners", queued, running, target)

    def replica_count(self) -> int:
        """Replicas that are starting, running or restarting now."""
        return sum(r.state.status not in _ENDED for r in self._replicas.values())

    # ------------------------------------------------------------------ common
    async def wait(self) -> None:
        while True:
            if self._failure is not None:
                raise self._failure
            tasks = [r.task for r in self._replicas.values() if r.task is not None]
            if not self.options.autoscale and tasks and all(t.done() for t in tasks):
                return
            self._changed.clear()
            await self._changed.wait()

    async def stop(self, grace: float | None = None) -> None:
        if self._stopping:
            return
        self._stopping = True
        import ray

        if self._scaler is not None:
            self._scaler.cancel()
        for replica in self._replicas.values():
            with contextlib.suppress(Exception):
                replica.handle.stop.remote(grace)
        tasks = [r.task for r in self._replicas.values() if r.task is not None]
        limit = (10.0 if grace is None else grace) + 5.0
        if tasks:
            await asyncio.wait(tasks, timeout=limit)
        for replica in self._replicas.values():
            with contextlib.suppress(Exception):
                ray.kill(replica.handle, no_restart=True)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._owns_ray:
            ray.shutdown()
        self._changed.set()

    def states(self) -> list[ReplicaState]:
        return [self._replicas[i].state for i in sorted(self._replicas)]


_ENDED = (ReplicaStatus.EXITED, ReplicaStatus.FAILED)
