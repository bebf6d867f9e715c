"""What every tracer must do, as a suite a tracer plugin runs on itself.

    from agentlightning_core.testing import TracerConformance

    class TestMyTracer(TracerConformance):
        @pytest.fixture
        def tracer(self):
            return MyTracer()

Each test runs a real ``Runner`` over an in-memory store: the tracer must let the agent's reward
and errors through unchanged, tag everything it records with the right attempt, keep concurrent
attempts apart and survive repeated worker set-up and tear-down.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ..reward import final_reward
from ..runtime.context import current_context, emit_reward
from ..store.memory import InMemoryStore
from ..tracer import Tracer
from ..types import Rollout, RolloutRequest, Span


async def run_with_tracer(
    tracer: Tracer, agent: Any, inputs: list[Any], concurrency: int = 1
) -> list[tuple[Rollout, list[Span]]]:
    """Run ``agent`` on ``inputs`` with one runner using ``tracer``; rollouts with their spans."""
    from ..runner import Runner

    store = InMemoryStore()
    await store.start()
    try:
        rollouts = await store.enqueue_rollouts([RolloutRequest(input=i) for i in inputs])
        runner = Runner(agent, store, tracer=tracer, concurrency=concurrency, max_rollouts=len(rollouts))
        await runner.run()
        done = {r.rollout_id: r for r in await store.wait_for_rollouts([r.rollout_id for r in rollouts], 30)}
        return [(done[r.rollout_id], await store.query_spans(r.rollout_id)) for r in rollouts]
    finally:
        await store.close()


class TracerConformance:
    """Subclass and provide a ``tracer`` fixture returning a fresh tracer."""

    @pytest.fixture
    def tracer(self) -> Tracer:
        raise NotImplementedError("provide a `tracer` fixture returning the tracer under test")

    async def test_reward_passes_through_and_spans_are_tagged(self, tracer: Tracer) -> None:
        async def agent(task: str) -> float:
            assert current_context() is not None, "the agent must run inside the attempt's context"
            return 0.5

        ((rollout, spans),) = await run_with_tracer(tracer, agent, ["t"])
        assert rollout.status.value == "succeeded"
        assert final_reward(spans) == 0.5
        assert spans and all(s.rollout_id == rollout.rollout_id for s in spans)
        assert len({s.attempt_id for s in spans}) == 1

    async def test_an_agent_error_fails_the_attempt(self, tracer: Tracer) -> None:
        async def agent(task: str) -> float:
            raise ValueError("broken agent")

        ((rollout, _),) = await run_with_tracer(tracer, agent, ["t"])
        assert rollout.status.value == "failed"

    async def test_sync_agents_run_in_threads_under_the_tracer(self, tracer: Tracer) -> None:
        def agent(task: str) -> None:
            emit_reward(1.0)

        ((rollout, spans),) = await run_with_tracer(tracer, agent, ["t"])
        assert rollout.status.value == "succeeded" and final_reward(spans) == 1.0

    async def test_concurrent_attempts_keep_their_spans(self, tracer: Tracer) -> None:
        async def agent(task: float) -> None:
            for step in range(3):
                await asyncio.sleep(0.01)
                emit_reward(task + step / 10, name=f"step{step}")

        results = await run_with_tracer(tracer, agent, [1.0, 2.0, 3.0, 4.0], concurrency=4)
        for task, (rollout, spans) in zip([1.0, 2.0, 3.0, 4.0], results, strict=True):
            values = sorted(
                s.attributes["agentlightning.reward.value"] for s in spans if s.span_type == "reward"
            )
            assert values == pytest.approx([task, task + 0.1, task + 0.2]), rollout.rollout_id

    def test_worker_set_up_and_tear_down_twice(self, tracer: Tracer) -> None:
        for _ in range(2):
            tracer.init_worker("conformance-worker")
            tracer.teardown_worker("conformance-worker")
