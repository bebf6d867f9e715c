"""``LitAgent`` / ``@rollout``: how parameters are filled, what a rollout may return, and
``emit_reward`` outside a rollout."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agentlightning_core import LLM, PromptTemplate, Rollout, emit_reward, rollout
from agentlightning_core.agent import FunctionAgent, LitAgent, as_agent
from agentlightning_core.runtime.context import AttemptContext, current_context, reset_context, set_context
from agentlightning_core.types import Attempt

LLM_A = LLM(endpoint="http://a/v1", model="a")
LLM_B = LLM(endpoint="http://b/v1", model="b")
PROMPT = PromptTemplate(template="Q: {q}")
RESOURCES: dict[str, Any] = {"main": LLM_A, "judge": LLM_B, "system": PROMPT}
ROLLOUT = Rollout(input={"q": 1})


async def test_parameters_are_filled_by_name() -> None:
    got: dict[str, Any] = {}

    @rollout
    def agent(
        task: Any, llm: LLM, prompt_template: PromptTemplate, judge: LLM, rollout: Rollout, resources: Any
    ) -> float:
        got.update(
            task=task,
            llm=llm,
            prompt_template=prompt_template,
            judge=judge,
            rollout=rollout,
            resources=resources,
        )
        return 1

    assert isinstance(agent, FunctionAgent) and agent.name == "agent"
    assert await agent.run({"q": 1}, RESOURCES, ROLLOUT) == 1.0
    assert got["task"] == {"q": 1}
    assert got["llm"] is LLM_A  # the first LLM resource
    assert got["judge"] is LLM_B  # a resource by its own name
    assert got["prompt_template"] is PROMPT
    assert got["rollout"] is ROLLOUT
    assert got["resources"] is RESOURCES


async def test_first_parameter_is_the_task_whatever_its_name() -> None:
    @rollout(name="calc")
    async def agent(problem: str) -> float:
        return len(problem)

    assert agent.name == "calc"
    assert await agent.run("abc", {}, ROLLOUT) == 3.0
    assert await agent("abcd") == 4  # still callable as the plain function


async def test_asking_for_a_missing_resource_kind_names_what_there_is() -> None:
    @rollout
    def agent(task: Any, llm: LLM) -> float:
        return 0.0

    with pytest.raises(LookupError, match=r"asks for a LLM.*names: system"):
        await agent.run(1, {"system": PROMPT}, ROLLOUT)


def test_a_function_without_parameters_is_refused() -> None:
    with pytest.raises(TypeError, match="at least the task"):
        rollout(lambda: 1.0)


async def test_lit_agent_subclass_sync_and_async() -> None:
    class Sync(LitAgent[int]):
        def rollout(self, task: int, resources: Any, rollout: Rollout) -> float:
            return task * 2

    class Async(LitAgent[int]):
        async def rollout(self, task: int, resources: Any, rollout: Rollout) -> float:
            await asyncio.sleep(0)
            return task * 3

    assert await Sync().run(2, {}, ROLLOUT) == 4.0
    assert await Async().run(2, {}, ROLLOUT) == 6.0


@pytest.mark.parametrize("value", ["1.0", True, [1.0]])
async def test_a_rollout_returning_a_non_number_is_an_error(value: Any) -> None:
    agent = as_agent(lambda task: value)
    with pytest.raises(TypeError, match="returns a float reward or None"):
        await agent.run(1, {}, ROLLOUT)


async def test_none_is_a_valid_result() -> None:
    assert await as_agent(lambda task: None).run(1, {}, ROLLOUT) is None


def test_as_agent_refuses_what_is_not_callable() -> None:
    with pytest.raises(TypeError, match="expected a LitAgent or a function"):
        as_agent(42)


def test_emit_reward_outside_a_rollout_raises_and_says_what_to_do() -> None:
    assert current_context() is None
    with pytest.raises(RuntimeError, match="outside a rollout"):
        emit_reward(1.0)


def test_emit_reward_needs_a_number() -> None:
    with pytest.raises(TypeError, match="needs a number"):
        emit_reward("high")  # type: ignore[arg-type]


async def test_emit_reward_inside_a_context_is_recorded_as_a_reward_span() -> None:
    ctx = AttemptContext(rollout=ROLLOUT, attempt=Attempt(rollout_id=ROLLOUT.rollout_id, sequence=1))
    token = set_context(ctx)
    try:
        reward = await asyncio.to_thread(emit_reward, 0.25, "partial")  # threads inherit the context
    finally:
        reset_context(token)
    assert reward.value == 0.25 and reward.name == "partial"
    (span,) = ctx.take_pending()
    assert span.span_type == "reward" and span.attempt_id == ctx.attempt_id
    assert current_context() is None
