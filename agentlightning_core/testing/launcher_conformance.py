"""What every launcher must do, as a suite a launcher plugin runs on itself.

    from agentlightning_core.testing import LauncherConformance

    class TestMyLauncher(LauncherConformance):
        launcher_name = "my"                      # the name your plugin registers

        def launcher_options(self):
            return {}                             # its options, if it needs any

Launchers are built through the installed entry point (``launcher_factory(launcher_name)``) and
started against a real server (an in-memory store behind ``create_app`` on a free port, with a
bearer token). The agent is given as ``MODULE:OBJECT`` (:data:`AGENT_SPEC`), the form every
launcher must accept, since it is the one that crosses processes and machines.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ..launcher import Launcher, LauncherError, LaunchSpec, ReplicaStatus
from ..types import AttemptStatus, RolloutConfig, RolloutRequest, RolloutStatus

TOKEN = "launcher-conformance-token-0123"
#: the agent every launcher runs: importable wherever agentlightning-core is installed
AGENT_SPEC = "agentlightning_core.testing.launcher_conformance:conformance_agent"


async def conformance_agent(task: dict[str, Any]) -> float:
    """Sleeps a little (so replicas share the work) and returns the task's reward."""
    await asyncio.sleep(task.get("seconds", 0.05))
    return float(task["reward"])


class LauncherConformance:
    #: the registered name of the launcher under test
    launcher_name: str = ""
    #: seconds the suite waits for every rollout (a launcher that starts processes needs a few)
    timeout: float = 60.0

    def launcher_options(self) -> dict[str, Any]:
        """Keyword arguments of the launcher's factory."""
        return {}

    def build(self) -> Launcher:
        from ..plugin_manager import AglPluginManager

        assert self.launcher_name, "set launcher_name to the name your plugin registers"
        launcher = AglPluginManager().launcher_factory(self.launcher_name)(**self.launcher_options())
        assert isinstance(launcher, Launcher), f"{self.launcher_name!r} built {type(launcher).__name__}"
        return launcher

    @pytest.fixture
    async def server(self) -> AsyncIterator[str]:
        from ..bus.memory import InMemoryEventBus
        from ..plugin_manager import AglPluginManager
        from ..server import create_app, serve_in_background
        from ..store.memory import InMemoryStore

        store = InMemoryStore(watchdog_interval=0.1)
        store.bus = InMemoryEventBus()
        app = create_app(store, bus=store.bus, token=TOKEN, manager=AglPluginManager(load_entry_points=False))
        async with store, serve_in_background(app) as url:
            yield url

    def spec(self, url: str, replicas: int) -> LaunchSpec:
        return LaunchSpec(
            agent=AGENT_SPEC,
            replicas=replicas,
            server_url=url,
            concurrency=2,
            tracer="noop",
            worker_id=f"conf-{self.launcher_name}",
            runner_options={"heartbeat_interval": 0.5},
            token=TOKEN,
        )

    async def test_every_rollout_runs_exactly_once_on_the_replicas(self, server: str) -> None:
        from ..client import HttpStore

        launcher = self.build()
        async with HttpStore(server, token=TOKEN) as client:
            config = RolloutConfig(unresponsive_seconds=10.0)
            requests = [
                RolloutRequest(input={"reward": i % 2, "seconds": 0.1}, config=config) for i in range(12)
            ]
            ids = [r.rollout_id for r in await client.enqueue_rollouts(requests)]
            await launcher.start(self.spec(server, replicas=2))
            try:
                done = await client.wait_for_rollouts(ids, timeout=self.timeout)
                assert [r.status for r in done] == [RolloutStatus.SUCCEEDED] * len(ids), [
                    r.status for r in done
                ]
                states = launcher.states()
                assert len(states) == 2, f"states() lists {len(states)} replicas for 2"
                assert len({s.worker_id for s in states}) == 2, "each replica has its own worker id"
                workers = {a.worker_id for rid in ids for a in await client.get_attempts(rid)}
                assert workers <= {s.worker_id for s in states}, (workers, [s.worker_id for s in states])
                for rid in ids:
                    attempts = await client.get_attempts(rid)
                    assert [a.status for a in attempts] == [AttemptStatus.SUCCEEDED], (rid, attempts)
            finally:
                await launcher.stop(grace=1.0)
        assert all(s.status in (ReplicaStatus.EXITED, ReplicaStatus.FAILED) for s in launcher.states()), [
            s.status for s in launcher.states()
        ]

    async def test_stop_ends_every_replica_and_can_be_called_twice(self, server: str) -> None:
        launcher = self.build()
        await launcher.start(self.spec(server, replicas=2))
        await asyncio.sleep(0.5)
        await asyncio.wait_for(launcher.stop(grace=0.5), self.timeout)
        await asyncio.wait_for(launcher.stop(grace=0.5), self.timeout)
        assert all(s.status is not ReplicaStatus.RUNNING for s in launcher.states())

    async def test_zero_replicas_are_refused_with_the_reason(self, server: str) -> None:
        launcher = self.build()
        with pytest.raises(LauncherError, match="replicas must be an integer >= 1"):
            await launcher.start(self.spec(server, replicas=0))
        with contextlib.suppress(Exception):
            await launcher.stop(grace=0.0)
