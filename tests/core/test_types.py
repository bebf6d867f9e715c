"""The data model: JSON round trips and validation that names the field."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from agentlightning_core.types import (
    LLM,
    Attempt,
    AttemptedRollout,
    AttemptStatus,
    Event,
    PromptTemplate,
    ResourcesUpdate,
    Reward,
    Rollout,
    RolloutConfig,
    RolloutStatus,
    Span,
    SpanEvent,
    Triplet,
    Worker,
    WorkerStatus,
)

SAMPLES: list[BaseModel] = [
    Rollout(
        input={"q": "1+1", "nested": [1, {"a": None}]},
        mode="train",
        status=RolloutStatus.RUNNING,
        config=RolloutConfig(timeout_seconds=3, max_attempts=2, retry_on=[AttemptStatus.TIMEOUT]),
        metadata={"k": "v"},
    ),
    Attempt(rollout_id="ro-1", sequence=2, worker_id="w", status=AttemptStatus.UNRESPONSIVE, error="silent"),
    Span(
        rollout_id="ro-1",
        attempt_id="at-1",
        sequence_id=4,
        name="gen_ai.chat",
        attributes={"x": [1, 2]},
        events=[SpanEvent(name="e", attributes={"i": 1})],
    ),
    Reward(value=0.5, name="format"),
    Triplet(
        rollout_id="ro-1",
        attempt_id="at-1",
        span_id="s",
        prompt=[{"role": "user", "content": "hi"}],
        response={"role": "assistant", "content": "yo"},
        prompt_token_ids=[1, 2],
        response_token_ids=[3],
        response_logprobs=[-0.1],
        reward=1.0,
    ),
    ResourcesUpdate(
        version=3,
        resources={
            "llm": LLM(endpoint="http://h/v1", model="m", api_key="sk-1"),
            "prompt": PromptTemplate(template="Q: {q}"),
        },
    ),
    Worker(worker_id="w1", status=WorkerStatus.BUSY, current_rollout_ids=["ro-1"], pid=12),
    Event(topic="rollouts", type="rollout.status_changed", payload={"rollout_id": "ro-1"}),
]


@pytest.mark.parametrize("model", SAMPLES, ids=lambda m: type(m).__name__)
def test_json_round_trip(model: BaseModel) -> None:
    again = type(model).model_validate_json(model.model_dump_json())
    assert again.model_dump(mode="json") == model.model_dump(mode="json")


def test_attempted_rollout_round_trip() -> None:
    pair = AttemptedRollout(rollout=Rollout(input=1), attempt=Attempt(rollout_id="r", sequence=1))
    assert AttemptedRollout.model_validate_json(pair.model_dump_json()) == pair


def test_llm_api_key_is_hidden_in_repr_but_travels_in_json() -> None:
    llm = LLM(endpoint="http://h/v1", model="m", api_key="sk-secret")
    assert "sk-secret" not in repr(llm)
    assert '"sk-secret"' in llm.model_dump_json()


def test_llm_for_attempt_routes_through_proxy_path() -> None:
    llm = LLM(endpoint="http://127.0.0.1:9/v1", model="m", proxied=True)
    routed = llm.for_attempt("ro-1", "at-2")
    assert routed.endpoint == "http://127.0.0.1:9/rollout/ro-1/attempt/at-2/v1"
    plain = LLM(endpoint="https://api.example.com/v1", model="m")
    assert plain.for_attempt("ro-1", "at-2").endpoint == "https://api.example.com/v1"


def test_prompt_template_formats_and_lists_placeholders() -> None:
    template = PromptTemplate(template="Route {ticket} into {n} classes")
    assert template.placeholders == ["ticket", "n"]
    assert template.format(ticket="T", n=3) == "Route T into 3 classes"


def test_resources_union_is_discriminated() -> None:
    update = ResourcesUpdate.model_validate(
        {
            "resources": {
                "a": {"resource_type": "prompt_template", "template": "x"},
                "b": {"resource_type": "llm", "endpoint": "http://h/v1", "model": "m"},
            }
        }
    )
    assert isinstance(update.resources["a"], PromptTemplate) and isinstance(update.resources["b"], LLM)


def test_invalid_config_names_the_field() -> None:
    with pytest.raises(ValidationError, match="max_attempts"):
        RolloutConfig(max_attempts=0)
    with pytest.raises(ValidationError, match="retry_on"):
        RolloutConfig(retry_on=[AttemptStatus.SUCCEEDED])
    with pytest.raises(ValidationError, match="timeout_seconds"):
        RolloutConfig(timeout_seconds=-1)
    with pytest.raises(ValidationError, match="unknown_field"):
        RolloutConfig.model_validate({"unknown_field": 1})


def test_reward_span_round_trip() -> None:
    span = Reward(value=0.75, name="accuracy").to_span("ro", "at")
    assert span.span_type == "reward"
    back = Reward.from_span(span)
    assert (back.value, back.name, back.rollout_id) == (0.75, "accuracy", "ro")
    with pytest.raises(ValueError, match="not a reward"):
        Reward.from_span(Span(rollout_id="r", attempt_id="a", name="x"))


def test_status_finality() -> None:
    assert {s for s in RolloutStatus if s.is_final} == {
        RolloutStatus.SUCCEEDED,
        RolloutStatus.FAILED,
        RolloutStatus.CANCELLED,
    }
    assert {s for s in AttemptStatus if not s.is_final} == {AttemptStatus.RUNNING}
