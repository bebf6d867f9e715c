"""The runner over ``HttpStore`` against a real server: the same behaviour as over a local
store, since it only uses the store interface — and the Trainer pointed at a server by URL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agentlightning_core import LLM, Baseline, PromptTemplate, Trainer, emit_reward, rollout
from agentlightning_core.reward import final_reward
from agentlightning_core.runner import Runner
from agentlightning_core.runtime.context import current_context
from agentlightning_core.types import (
    RETRYABLE_STATUSES,
    AttemptStatus,
    RolloutConfig,
    RolloutStatus,
    WorkerStatus,
)

from .conftest import running
from .server_helpers import TOKEN, served


async def test_a_runner_over_http_runs_retries_and_reports_like_a_local_one() -> None:
    calls: list[str] = []

    @rollout
    async def agent(task: str, llm: LLM) -> float:
        ctx = current_context()
        assert ctx is not None
        calls.append(llm.endpoint)
        emit_reward(0.1, name="partial")
        if len(calls) == 1:
            raise RuntimeError("first try fails")
        return 0.75

    async with served() as s:
        client = s.client
        update = await client.add_resources({"llm": LLM(endpoint=f"{s.url}/v1", model="m", proxied=True)})
        ro = await client.enqueue_rollout(
            "t",
            resources_id=update.resources_id,
            config=RolloutConfig(max_attempts=2, retry_on=list(RETRYABLE_STATUSES)),
        )
        runner = Runner(agent, client, worker_id="http-worker")
        async with running(runner):
            (done,) = await client.wait_for_rollouts([ro.rollout_id], timeout=10)
        assert done.status is RolloutStatus.SUCCEEDED
        attempts = await client.get_attempts(ro.rollout_id)
        assert [a.status for a in attempts] == [AttemptStatus.FAILED, AttemptStatus.SUCCEEDED]
        assert attempts[0].error == "RuntimeError: first try fails"
        assert calls == [f"{s.url}/rollout/{ro.rollout_id}/attempt/{a.attempt_id}/v1" for a in attempts]
        assert final_reward(await client.query_spans(ro.rollout_id, attempt_id="latest")) == 0.75
        (worker,) = await client.query_workers()
        assert worker.worker_id == "http-worker" and worker.status is WorkerStatus.STOPPED


async def test_a_cancel_on_the_server_stops_the_agent_of_a_remote_runner() -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    @rollout
    async def agent(task: str) -> float:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return 1.0

    async with served() as s:
        ro = await s.client.enqueue_rollout("t")
        runner = Runner(agent, s.client, heartbeat_interval=0.05)
        async with running(runner):
            await asyncio.wait_for(started.wait(), 10)
            await s.store.cancel_rollout(ro.rollout_id)  # e.g. an algorithm's timeout, server side
            await asyncio.wait_for(cancelled.wait(), 10)
        assert runner.stats.ended_by_store == 1


async def test_heartbeats_over_http_keep_a_slow_rollout_alive() -> None:
    @rollout
    async def slow(task: str) -> float:
        await asyncio.sleep(0.8)
        return 1.0

    async with served() as s:  # the server's store sweeps every 50 ms
        ro = await s.client.enqueue_rollout("t", config=RolloutConfig(unresponsive_seconds=0.3))
        async with running(Runner(slow, s.client)):
            (done,) = await s.client.wait_for_rollouts([ro.rollout_id], timeout=10)
        assert done.status is RolloutStatus.SUCCEEDED and done.num_attempts == 1


async def test_trainer_against_a_server_url_runs_its_runners_over_http(tmp_path: Path) -> None:
    @rollout
    def agent(task: int, prompt_template: PromptTemplate) -> float:
        return float(prompt_template.template == "ok" and task % 2 == 0)

    async with served() as s:
        trainer = Trainer(
            Baseline(),
            store=s.url,
            token=TOKEN,
            initial_resources={"p": PromptTemplate(template="ok")},
            output_dir=tmp_path,
            progress=False,
            concurrency=2,
        )
        assert trainer.remote_url == s.url and not trainer.serve
        result = await trainer.fit_async(agent, [0, 1, 2, 3])
        assert result.best_score == 0.5
        stats = await s.store.statistics()  # everything went to the server's store
        assert stats["rollouts"]["succeeded"] == 4
        assert trainer.best_resources().resources["p"].template == "ok"  # type: ignore[union-attr]


async def test_a_wrong_token_stops_the_runner_with_the_servers_explanation() -> None:
    from agentlightning_core.client import HttpStore
    from agentlightning_core.errors import AuthenticationError

    @rollout
    def agent(task: str) -> float:
        return 1.0

    async with served() as s, HttpStore(s.url, token="wrong") as bad:
        with pytest.raises(AuthenticationError, match="bearer token"):
            await asyncio.wait_for(Runner(agent, bad).run(), 10)


async def test_fit_with_no_agent_here_waits_for_runners_started_elsewhere(tmp_path: Path) -> None:
    """``n_runners=0`` and ``agent=None``: the agent's framework lives in another venv; a runner
    over HTTP (as ``agl runner --server URL`` starts) runs every rollout of the fit."""
    import socket

    from agentlightning_core.client import HttpStore

    @rollout
    def agent(task: int) -> float:
        return float(task % 2 == 0)

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    trainer = Trainer(
        Baseline(),
        n_runners=0,
        store="memory://",
        bus="memory",
        port=port,
        output_dir=tmp_path,
        progress=False,
    )
    fit = asyncio.create_task(trainer.fit_async(None, [0, 1, 2, 3]))
    async with HttpStore(f"http://127.0.0.1:{port}") as remote:
        for _ in range(100):  # the server starts inside fit_async
            try:
                await remote.statistics()
                break
            except Exception:
                await asyncio.sleep(0.1)
        async with running(Runner(agent, remote, worker_id="elsewhere")):
            result = await asyncio.wait_for(fit, 30)
    assert result.best_score == 0.5


def test_no_agent_with_runners_in_this_process_names_the_fix(tmp_path: Path) -> None:
    trainer = Trainer(
        Baseline(), n_runners=1, store="memory://", serve=False, output_dir=tmp_path, progress=False
    )
    with pytest.raises(ValueError, match=r"agent is None but n_runners=1.*n_runners=0"):
        trainer.fit(None, [0])
