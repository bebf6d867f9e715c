"""The ray launcher against a real local Ray cluster this module starts: a head and a second node
(``ray start`` processes with their own resources), an ``agl serve`` on SQLite, runner actors.

The headline scenario: rollouts running on runners spread over both nodes, the second node killed
with SIGKILL mid-run. Every rollout must finish exactly once (one succeeded attempt each), the
lost runners must be restarted on the surviving node, and the time to recover is printed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from agentlightning_core.client import HttpStore
from agentlightning_core.launcher import LauncherError, LaunchSpec, ReplicaStatus
from agentlightning_core.types import AttemptStatus, RolloutConfig, RolloutRequest, RolloutStatus
from agentlightning_core.types.semconv import REWARD_VALUE

from .cluster import Cluster, free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

TOKEN = "ray-test-token-0123456789"
#: runners heartbeat every 0.2 s: a runner silent for 1.5 s is gone and its rollout is requeued
CONFIG = RolloutConfig(unresponsive_seconds=1.5, max_attempts=5)
RUNNER_OPTIONS = {"heartbeat_interval": 0.2, "flush_interval": 0.2}

#: shipped to the workers by runtime_env working_dir: the agent's code is not on their path
AGENT_MODULE = textwrap.dedent(
    """
    import asyncio
    import os


    async def agent(task):
        await asyncio.sleep(task["seconds"])
        # the runtime_env's env_vars reach the worker: without them the reward is 0
        return 1.0 if os.environ.get("AGL_RAY_TEST_MARK") == "from-runtime-env" else 0.0
    """
)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    workdir = tmp_path_factory.mktemp("ray")
    # short so the socket paths under it stay below the 107-byte limit of AF_UNIX
    short = Path(f"/tmp/agl-ray-{os.getpid()}")
    short.mkdir(exist_ok=True)
    c = Cluster(short)
    try:
        c.start_head(cpus=1, resources={"runner_slot": 4})
        c.start_node("node-2", cpus=1, resources={"runner_slot": 2})
        yield c
    finally:
        c.stop()
        for node in c.nodes:
            (workdir / f"{node.name}.log").write_bytes(node.log.read_bytes())
        shutil.rmtree(short, ignore_errors=True)


@pytest.fixture(scope="module")
def agent_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("agent_code")
    (folder / "ray_test_agent.py").write_text(AGENT_MODULE)
    return folder


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "AGL_SERVER_TOKEN": TOKEN,
        "AGL_NO_PLUGIN_COMMANDS": "1",
        "RATE_LIMIT_ENABLED": "false",
    }
    command = ["-m", "agentlightning_core.cli", "serve", "--port", str(port)]
    command += ["--store", f"sqlite:///{tmp_path / 'agl.db'}", "--bus", "memory"]
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, *command, stdout=out, stderr=subprocess.STDOUT, env=env
        )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if f"listening on {url}" in log.read_text(errors="replace"):
                break
            assert process.returncode is None, log.read_text()
            await asyncio.sleep(0.1)
        yield url
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 20)


def _launcher(cluster: Cluster, agent_dir: Path, **options: object) -> object:
    from agentlightning_ray import RayLauncher

    runtime_env = {"working_dir": str(agent_dir), "env_vars": {"AGL_RAY_TEST_MARK": "from-runtime-env"}}
    return RayLauncher(address=cluster.address, runtime_env=runtime_env, num_cpus=0, **options)


def _spec(url: str, replicas: int, agent: str = "ray_test_agent:agent", concurrency: int = 4) -> LaunchSpec:
    return LaunchSpec(
        agent=agent,
        replicas=replicas,
        server_url=url,
        concurrency=concurrency,
        tracer="noop",
        worker_id="ray",
        runner_options=dict(RUNNER_OPTIONS),
        token=TOKEN,
    )


async def _until(predicate: object, timeout: float, what: str) -> float:
    start = time.monotonic()
    while not predicate():  # type: ignore[operator]
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what} not within {timeout}s")
        await asyncio.sleep(0.1)
    return time.monotonic() - start


async def test_a_node_killed_mid_run_loses_no_rollout_and_its_runners_come_back(
    cluster: Cluster, agent_dir: Path, server: str
) -> None:
    launcher = _launcher(
        cluster, agent_dir, resources={"runner_slot": 1}, max_restarts=5, scheduling_strategy="SPREAD"
    )
    async with HttpStore(server, token=TOKEN) as client:
        requests = [RolloutRequest(input={"seconds": 0.5, "i": i}, config=CONFIG) for i in range(200)]
        ids = [r.rollout_id for r in await client.enqueue_rollouts(requests)]
        await launcher.start(_spec(server, replicas=4))  # type: ignore[attr-defined]
        try:
            states = launcher.states  # type: ignore[attr-defined]
            await _until(lambda: all(s.status is ReplicaStatus.RUNNING for s in states()), 90, "4 runners up")
            victim_node = cluster.nodes[1]
            # which replicas live on node-2: the node with 2 runner slots
            node2_id = _node_with_slots(2.0)
            on_node2 = [s.worker_id for s in states() if node2_id and node2_id[:12] in s.location]
            assert on_node2, (
                f"SPREAD put no runner on node-2 ({[s.location for s in states()]}): nothing to kill"
            )
            await asyncio.sleep(2.0)  # mid-run: some finished, some running on node-2
            before = await _succeeded(client, ids)
            assert 0 < before < len(ids), f"{before} of {len(ids)} done at the kill: not mid-run"
            killed_at = time.monotonic()
            victim_node.kill()
            # the restart counter, not the RESTARTING status: a restart that lands between two polls
            # (the launcher logged one "back after 0.0s" in CI) never shows the transient status
            await _until(lambda: any(s.restarts >= 1 for s in states()), 60, "the loss seen")
            seen = time.monotonic() - killed_at
            await _until(lambda: all(s.status is ReplicaStatus.RUNNING for s in states()), 90, "runners back")
            recovered = time.monotonic() - killed_at
            relocated = [s for s in states() if s.worker_id in on_node2]
            assert all(node2_id[:12] not in s.location for s in relocated), [s.location for s in relocated]
            assert all(s.restarts >= 1 for s in relocated)
            await _wait_final(client, ids, 120)
            finished = time.monotonic() - killed_at
            retried = await _check_exactly_once(client, ids)
            workers = {w.worker_id: w for w in await client.query_workers()}
            assert {workers[f"ray-{i}"].metadata.get("launcher") for i in range(4)} == {"ray"}
            assert all(
                workers[w].metadata["ray_node_id"] != node2_id for w in on_node2
            )  # the record moved too
            by_worker: dict[str, int] = {}
            for rid in ids:
                for attempt in await client.get_attempts(rid):
                    by_worker[attempt.worker_id or "?"] = by_worker.get(attempt.worker_id or "?", 0) + 1
        finally:
            await launcher.stop(grace=0.0)  # type: ignore[attr-defined]
    assert retried >= 1, (
        f"the kill hit no running rollout: the scenario tested nothing ({before} done, {by_worker})"
    )
    print(
        f"\nray node kill: {len(on_node2)} of 4 runners on the killed node, {before}/{len(ids)} rollouts done "
        f"at the kill; loss seen after {seen:.1f}s, runners running again after {recovered:.1f}s "
        f"(launcher: {', '.join(f'{r:.1f}s' for r in launcher.recoveries)}), every rollout final "  # type: ignore[attr-defined]
        f"{finished:.1f}s after the kill, {retried} rollouts retried, each succeeded exactly once"
    )


def _node_with_slots(slots: float) -> str:
    import ray

    for node in ray.nodes():
        if node["Alive"] and node["Resources"].get("runner_slot") == slots:
            return str(node["NodeID"])
    raise AssertionError(f"no live node with {slots} runner slots: {ray.nodes()}")


async def _succeeded(client: HttpStore, ids: list[str]) -> int:
    page = await client.query_rollouts(rollout_ids=ids, status=[RolloutStatus.SUCCEEDED], limit=0)
    return page.total


async def _wait_final(client: HttpStore, ids: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        page = await client.query_rollouts(rollout_ids=ids)
        pending = [r for r in page.items if not r.status.is_final]
        if not pending:
            return
        assert time.monotonic() < deadline, (
            f"{len(pending)} of {len(ids)} rollouts not final after {timeout}s"
        )
        await asyncio.sleep(0.5)


async def _check_exactly_once(client: HttpStore, ids: list[str]) -> int:
    """Every rollout succeeded, with exactly one succeeded attempt and reward 1 (the runtime_env
    reached the worker); returns how many needed more than one attempt."""
    page = await client.query_rollouts(rollout_ids=ids)
    assert page.total == len(ids), f"{len(ids) - page.total} rollouts lost"
    bad = [(r.rollout_id, r.status.value) for r in page.items if r.status is not RolloutStatus.SUCCEEDED]
    assert not bad, f"{len(bad)} rollouts did not succeed: {bad[:3]}"
    retried = 0
    for rid in ids:
        attempts = await client.get_attempts(rid)
        succeeded = [a for a in attempts if a.status is AttemptStatus.SUCCEEDED]
        assert len(succeeded) == 1, f"rollout {rid}: {len(succeeded)} succeeded attempts"
        retried += len(attempts) > 1
        rewards = [s for s in await client.query_spans(rid) if s.attempt_id == succeeded[0].attempt_id]
        values = [s.attributes.get(REWARD_VALUE) for s in rewards if REWARD_VALUE in s.attributes]
        assert values == [1.0], f"rollout {rid}: rewards {values} (runtime_env env_vars missing?)"
    return retried


async def test_an_agent_that_cannot_be_imported_is_reported_once_and_not_restarted(
    cluster: Cluster, agent_dir: Path, server: str, caplog: pytest.LogCaptureFixture
) -> None:
    launcher = _launcher(cluster, agent_dir, max_restarts=5)
    caplog.set_level(logging.WARNING, logger="agentlightning_ray")
    start = time.monotonic()
    await launcher.start(_spec(server, replicas=2, agent="no_such_agent_module_xyz:agent"))  # type: ignore[attr-defined]
    try:
        with pytest.raises(LauncherError, match="could not load the agent.*no_such_agent_module_xyz"):
            await asyncio.wait_for(launcher.wait(), 60)  # type: ignore[attr-defined]
        elapsed = time.monotonic() - start
        await asyncio.sleep(2.0)  # time enough to see a restart loop, were there one
        states = launcher.states()  # type: ignore[attr-defined]
        assert all(s.restarts == 0 for s in states), [(s.worker_id, s.restarts) for s in states]
        assert any(
            s.status is ReplicaStatus.FAILED and "no_such_agent_module_xyz" in (s.error or "") for s in states
        )
    finally:
        await launcher.stop(grace=0.0)  # type: ignore[attr-defined]
    reports = [r for r in caplog.records if "could not load the agent" in r.getMessage()]
    assert len(reports) == 1, [r.getMessage() for r in reports]
    assert elapsed < 60


async def test_autoscale_grows_with_the_queue_and_shrinks_when_it_drains(
    cluster: Cluster, agent_dir: Path, server: str
) -> None:
    launcher = _launcher(
        cluster, agent_dir, autoscale=True, min_replicas=1, max_replicas=3, scale_interval=0.5
    )
    async with HttpStore(server, token=TOKEN) as client:
        await launcher.start(_spec(server, replicas=1, concurrency=2))  # type: ignore[attr-defined]
        try:
            count = launcher.replica_count  # type: ignore[attr-defined]
            assert count() == 1
            requests = [RolloutRequest(input={"seconds": 1.0, "i": i}, config=CONFIG) for i in range(30)]
            ids = [r.rollout_id for r in await client.enqueue_rollouts(requests)]
            await _until(lambda: count() == 3, 30, "3 runners for a queue of 30")
            await _wait_final(client, ids, 120)
            await _until(lambda: count() == 1, 30, "back to 1 runner once the queue drained")
            await _check_exactly_once(client, ids)
        finally:
            await launcher.stop(grace=0.0)  # type: ignore[attr-defined]


def test_the_trainer_runs_its_rollouts_on_ray_actors(
    cluster: Cluster, agent_dir: Path, tmp_path: Path
) -> None:
    """``Trainer(launcher="ray")``: the runners are actors on the cluster, reaching the Trainer's
    own server; the agent object travels by reference, its module by runtime_env working_dir."""
    import sys

    from agentlightning_core import Trainer

    sys.path.insert(0, str(agent_dir))
    try:
        from ray_test_agent import agent  # type: ignore[import-not-found]

        runtime_env = {"working_dir": str(agent_dir), "env_vars": {"AGL_RAY_TEST_MARK": "from-runtime-env"}}
        trainer = Trainer(
            launcher="ray",
            n_runners=2,
            concurrency=2,
            launcher_options={"address": cluster.address, "runtime_env": runtime_env, "num_cpus": 0},
            store="memory://",
            bus="memory",
            output_dir=tmp_path / "run",
            progress=False,
            runner_options=dict(RUNNER_OPTIONS),
        )
        result = trainer.fit(agent, [{"seconds": 0.1, "i": i} for i in range(8)])
    finally:
        sys.path.remove(str(agent_dir))
        sys.modules.pop("ray_test_agent", None)
    assert result.best_score == 1.0  # every rollout ran on an actor that had the runtime_env
