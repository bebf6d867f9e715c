"""One real GRPO step through runner -> proxy -> store -> trainer with the real model, then a
resume from its checkpoint. The agent is plain ``openai`` client code making two calls per
rollout, so multi-turn training is exercised too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest
import torch
from agentlightning_grpo import GRPO
from agentlightning_transformers import TransformersEngine

from agentlightning_core import LLM, RolloutOutcome, Trainer, rollout
from agentlightning_core.runtime.context import current_context
from agentlightning_core.types import semconv

pytestmark = pytest.mark.slow


@rollout
def two_turn_agent(task: dict[str, Any], llm: LLM) -> float:
    client = openai.OpenAI(base_url=llm.endpoint, api_key=llm.api_key_value, max_retries=0)
    messages: list[Any] = [{"role": "user", "content": task["question"]}]
    first = client.chat.completions.create(model=llm.model, messages=messages, **llm.sampling_parameters)
    messages += [
        {"role": "assistant", "content": first.choices[0].message.content or ""},
        {"role": "user", "content": "Say it again."},
    ]
    second = client.chat.completions.create(model=llm.model, messages=messages, **llm.sampling_parameters)
    # a reward that differs between samples, so every group carries signal
    return float(len(second.choices[0].message.content or "")) / 10.0


def run(out: Path, steps: int, resume: bool) -> tuple[Trainer, TransformersEngine]:
    engine = TransformersEngine(threads=2, max_tokens=8)
    algo = GRPO(
        steps=steps,
        tasks_per_step=1,
        group_size=4,
        max_tokens=5,
        learning_rate=1e-4,
        eval_before=False,
        eval_after=False,
        checkpoint_every=1,
        resume=resume,
        threads=2,
    )
    trainer = Trainer(
        algo, engine=engine, n_runners=1, concurrency=4, store="memory://", output_dir=out, progress=False
    )
    trainer.fit(two_turn_agent, [{"question": "What is 2+3?"}, {"question": "Name a color."}])
    return trainer, engine


def records(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_a_grpo_step_trains_the_served_model_and_resume_continues(tmp_path: Path) -> None:
    out = tmp_path / "run"
    trainer, engine = run(out, steps=1, resume=False)
    algo = trainer.algorithm
    assert isinstance(algo, GRPO)
    assert engine.weights_version == 1
    learner = algo.learner
    assert learner is not None
    # the engine now serves the learner's weights, which moved away from the starting ones
    served = engine.model.state_dict()
    trained = learner.export_weights()
    name = "model.layers.0.mlp.down_proj.weight"
    # (the engine may serve in bfloat16 while the learner keeps float32 master weights)
    assert torch.equal(served[name], trained[name].to(served[name].dtype))
    start = TransformersEngine(max_tokens=8)
    start._load()
    assert not torch.equal(start.model.state_dict()[name], served[name])

    (step1,) = records(out)
    assert step1["step"] == 1
    for key in (
        "train/reward_mean",
        "train/reward_std",
        "train/accuracy",
        "train/kl",
        "train/loss",
        "perf/tokens_per_s",
        "perf/generation_tokens_per_s",
        "perf/train_tokens_per_s",
        "time/step_s",
    ):
        assert key in step1, key
    assert step1["train/calls_per_rollout"] == 2  # both turns of every rollout are trained
    assert step1["train/trained_samples"] == 8
    assert step1["weights_version"] == 1
    assert (out / "checkpoints" / "step-000001" / "state.json").exists()

    # the published LLM resource names the new weights
    best = trainer.best_resources()
    llm = best.resources["main_llm"]
    assert isinstance(llm, LLM)
    assert llm.weights_version == 1

    trainer2, engine2 = run(out, steps=2, resume=True)
    history = records(out)
    assert [r["step"] for r in history] == [1, 2]
    assert history[0] == step1  # the same history, continued
    assert engine2.weights_version == 2
    assert (out / "checkpoints" / "step-000002" / "state.json").exists()
    assert not (out / "checkpoints" / "step-000001").exists()  # keep_checkpoints=1


class RecordingGRPO(GRPO):
    """GRPO that keeps each step's rollouts, to look at what the proxy recorded."""

    seen: list[RolloutOutcome]

    def _samples(
        self, outcomes: list[RolloutOutcome], groups: list[int], hinted: list[bool] | None = None
    ) -> Any:
        self.seen = getattr(self, "seen", []) + list(outcomes)
        return super()._samples(outcomes, groups, hinted)


def test_a_lora_step_swaps_only_the_adapter_and_every_call_names_it(tmp_path: Path) -> None:
    engine = TransformersEngine(threads=2, max_tokens=8)
    algo = RecordingGRPO(
        steps=1,
        tasks_per_step=1,
        group_size=4,
        max_tokens=5,
        learning_rate=1e-3,
        lora={"r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"], "name": "solver"},
        eval_before=False,
        eval_after=False,
        checkpoint_every=1,
        threads=2,
    )
    trainer = Trainer(
        algo,
        engine=engine,
        n_runners=1,
        concurrency=4,
        store="memory://",
        output_dir=tmp_path,
        progress=False,
    )
    trainer.fit(two_turn_agent, [{"question": "What is 2+3?"}])
    assert engine.weights_version == 0  # the base weights were never swapped
    assert engine.adapters.versions == {"solver": 1}
    start = TransformersEngine(max_tokens=8)
    start._load()
    name = "model.layers.0.self_attn.q_proj.weight"
    assert torch.equal(start.model.state_dict()[name], engine.model.model.layers[0].self_attn.q_proj.weight)
    # the engine serves the learner's adapter: its slot holds the learner's matrices
    assert algo.learner is not None
    adapter = algo.learner.export_adapter("solver")
    a, b = adapter.modules["model.layers.0.self_attn.q_proj"]
    served = engine.model.model.layers[0].self_attn.q_proj
    slot = engine.adapters.slots["solver"]
    assert torch.allclose(served.lora_a[slot, :4].float(), a.float(), atol=1e-2)
    assert torch.allclose(served.lora_b[slot].float(), b.float(), atol=1e-2)
    assert float(b.abs().sum()) > 0  # the step moved B away from zero
    # every recorded call of step 1 names the adapter and the version that answered
    calls = [s for o in algo.seen for s in o.spans if s.span_type == "llm"]
    assert len(calls) == 8
    assert {s.attributes.get(semconv.LLM_ADAPTER) for s in calls} == {"solver"}
    assert {s.attributes.get(semconv.LLM_WEIGHTS_VERSION) for s in calls} == {0}
    assert (tmp_path / "checkpoints" / "step-000001" / "adapter" / "adapter_config.json").exists()
    llm = trainer.best_resources().resources["main_llm"]
    assert isinstance(llm, LLM) and llm.model == "solver" and llm.weights_version == 1


@rollout
def write_then_check(task: dict[str, Any], llm: LLM) -> float:
    """Two agents of one system, each naming itself in ``X-AGL-Agent``; neither picks a model."""
    client = openai.OpenAI(base_url=llm.endpoint, api_key=llm.api_key_value, max_retries=0)
    draft = client.chat.completions.create(
        model=llm.model,
        messages=[{"role": "user", "content": task["question"]}],
        extra_headers={"X-AGL-Agent": "write"},
        **llm.sampling_parameters,
    )
    text = draft.choices[0].message.content or ""
    check = client.chat.completions.create(
        model=llm.model,
        messages=[{"role": "user", "content": f"Is this right? {text}"}],
        extra_headers={"X-AGL-Agent": "check"},
        **llm.sampling_parameters,
    )
    return float(len(text) + len(check.choices[0].message.content or "")) / 10.0


def test_one_adapter_per_agent_routes_trains_and_records_each_agents_adapter(tmp_path: Path) -> None:
    engine = TransformersEngine(threads=2, max_tokens=8)
    algo = RecordingGRPO(
        steps=1,
        tasks_per_step=1,
        group_size=4,
        max_tokens=5,
        learning_rate=1e-3,
        adapters={"writer": "write", "checker": "check"},
        lora={"r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"]},
        eval_before=False,
        eval_after=False,
        threads=2,
    )
    trainer = Trainer(
        algo,
        engine=engine,
        n_runners=1,
        concurrency=4,
        store="memory://",
        output_dir=tmp_path,
        progress=False,
    )
    trainer.fit(write_then_check, [{"question": "What is 2+3?"}])
    assert engine.weights_version == 0
    assert engine.adapters.versions == {"writer": 1, "checker": 1}
    calls = [s for o in algo.seen for s in o.spans if s.span_type == "llm"]
    assert len(calls) == 8
    by_agent = {(s.attributes.get(semconv.AGENT_NAME), s.attributes.get(semconv.LLM_ADAPTER)) for s in calls}
    assert by_agent == {("write", "writer"), ("check", "checker")}
    assert {s.attributes.get(semconv.LLM_WEIGHTS_VERSION) for s in calls} == {0}
    (record,) = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert record["train/writer/samples"] == 4 and record["train/checker/samples"] == 4
    # each adapter moved, from its own samples
    assert algo.learner is not None
    for name in ("writer", "checker"):
        a, b = algo.learner.export_adapter(name).modules["model.layers.0.self_attn.q_proj"]
        assert float(b.abs().sum()) > 0, name
    resources = trainer.best_resources().resources
    assert {k: getattr(v, "model", None) for k, v in resources.items() if k.endswith("_llm")} == {
        "main_llm": engine.model_name,
        "writer_llm": "writer",
        "checker_llm": "checker",
    }


@rollout
def hint_reporting_agent(task: dict[str, Any], llm: LLM) -> float:
    """One call; reward 1 when the rollout's metadata carries GRPO's hint, so the metrics show
    which rollouts were hinted."""
    client = openai.OpenAI(base_url=llm.endpoint, api_key=llm.api_key_value, max_retries=0)
    client.chat.completions.create(
        model=llm.model, messages=[{"role": "user", "content": task["question"]}], **llm.sampling_parameters
    )
    ctx = current_context()
    assert ctx is not None
    return 1.0 if ctx.rollout.metadata.get("hint") else 0.0


def test_hinted_rollouts_carry_the_hint_only_in_the_first_steps_and_never_in_validation(
    tmp_path: Path,
) -> None:
    engine = TransformersEngine(threads=2, max_tokens=4)
    algo = GRPO(
        steps=2,
        tasks_per_step=1,
        group_size=4,
        max_tokens=3,
        hinted_per_group=1,
        hint_until_step=1,
        eval_before=False,
        threads=2,
    )
    trainer = Trainer(
        algo,
        engine=engine,
        n_runners=1,
        concurrency=4,
        store="memory://",
        output_dir=tmp_path,
        progress=False,
    )
    result = trainer.fit(
        hint_reporting_agent, [{"question": "2+3?"}], [{"question": "4+4?"}, {"question": "1+1?"}]
    )
    step1, step2, val = records(tmp_path)
    assert step1["train/hinted_rollouts"] == 1
    assert step1["train/hinted_reward_mean"] == 1.0 and step1["train/unhinted_reward_mean"] == 0.0
    assert step1["train/unhinted_calls_per_rollout"] == 1.0
    assert step2["train/hinted_rollouts"] == 0 and step2["train/reward_mean"] == 0.0
    assert val["val/n"] == 2 and val["val/reward_mean"] == 0.0  # validation is never hinted
    assert result.best_score == 0.0
