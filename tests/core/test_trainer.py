"""``Trainer``: fit with the built-in Baseline over a real function agent, dev(), best_resources(),
and how it resolves and reports its parts. In-process store and bus; no server (``serve=False``)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from agentlightning_core import (
    LLM,
    Algorithm,
    AlgorithmResult,
    Baseline,
    PromptTemplate,
    RolloutConfig,
    Trainer,
    TrainerContext,
    emit_reward,
    rollout,
)
from agentlightning_core.errors import PluginNotFoundError
from agentlightning_core.tracer import Tracer
from agentlightning_core.trainer import RunnerCrashed
from agentlightning_core.types import AttemptStatus

PROMPT = PromptTemplate(template="Add {a} and {b}.")


@rollout
def adder(task: dict[str, int], prompt_template: PromptTemplate) -> float:
    """A deterministic 'agent': correct on even a, wrong on odd a; the prompt must be the one given."""
    assert prompt_template.format(**task).startswith("Add")
    answer = task["a"] + task["b"] + (task["a"] % 2)
    return 1.0 if answer == task["a"] + task["b"] else 0.0


def make_trainer(tmp_path: Path, **kwargs: Any) -> Trainer:
    options: dict[str, Any] = dict(
        store="memory://",
        bus="memory",
        serve=False,
        output_dir=tmp_path / "run",
        initial_resources={"prompt": PROMPT},
        progress=False,
    )
    options.update(kwargs)
    return Trainer(**options)


DATA = [{"a": a, "b": 10} for a in range(8)]


def test_fit_with_baseline_evaluates_every_task_and_reports_the_mean_reward(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path, n_runners=2, concurrency=3, progress=True)
    result = trainer.fit(adder, DATA)
    assert isinstance(trainer.algorithm, Baseline)
    assert result.best_score == pytest.approx(0.5)  # even a right, odd a wrong
    metrics = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert metrics[-1]["val/reward_mean"] == pytest.approx(0.5)
    assert metrics[-1]["val/n"] == 8 and metrics[-1]["val/failed"] == 0
    best = trainer.best_resources()
    assert best.resources_id == result.best_resources_id
    assert best.resources["prompt"] == PROMPT
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert saved["best_resources"]["resources"]["prompt"]["template"] == PROMPT.template
    assert saved["best_score"] == pytest.approx(0.5)


def test_fit_uses_val_data_when_given(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path)
    result = trainer.fit(adder, DATA, val_data=[{"a": 2, "b": 1}, {"a": 4, "b": 1}])
    assert result.best_score == 1.0
    assert result.metrics[-1]["val/n"] == 2


def test_failed_rollouts_count_as_failed_and_zero(tmp_path: Path) -> None:
    @rollout
    def half_broken(task: int) -> float:
        if task % 2:
            raise RuntimeError("odd task")
        return 1.0

    trainer = make_trainer(tmp_path)
    result = trainer.fit(half_broken, list(range(6)))
    assert result.metrics[-1]["val/failed"] == 3
    assert result.best_score == pytest.approx(0.5)
    # By default an agent's own error is not retried (a bug shows at once); a dead runner is.
    assert trainer.rollout_config.retry_on == [AttemptStatus.UNRESPONSIVE, AttemptStatus.TIMEOUT]
    store = trainer._open_store()
    rollouts = asyncio.run(store.query_rollouts()).items
    assert [r.num_attempts for r in rollouts] == [1] * 6


def test_sync_agents_run_concurrently_across_runners(tmp_path: Path) -> None:
    active = 0
    peak = 0

    @rollout
    def slow(task: int) -> float:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        time.sleep(0.1)
        active -= 1
        return 1.0

    make_trainer(tmp_path, n_runners=3, concurrency=2).fit(slow, list(range(12)))
    assert 2 < peak <= 6


def test_dev_prints_each_rollout_with_error_spans_and_rewards(tmp_path: Path) -> None:
    @rollout
    def agent(task: int) -> float:
        emit_reward(0.25, name="format")
        if task == 1:
            raise ValueError("cannot parse the answer")
        return 1.0

    trainer = make_trainer(tmp_path, rollout_config=RolloutConfig(max_attempts=3))
    out = io.StringIO()
    trainer.console = Console(file=out, width=120)
    report = trainer.dev(agent, [0, 1, 2, 3], limit=2)
    assert len(report.rollouts) == 2  # limit
    ok, bad = report.rollouts
    assert ok.outcome.succeeded and ok.outcome.reward == 1.0 and ok.error is None
    assert not bad.outcome.succeeded
    assert bad.outcome.rollout.num_attempts == 1  # dev never retries: errors show at once
    assert bad.error == "ValueError: cannot parse the answer"
    assert bad.traceback is not None and "cannot parse" in bad.traceback
    text = out.getvalue()
    assert "ValueError: cannot parse the answer" in text
    assert "format=0.25" in text and "reward=1.0" in text
    assert "1/2 rollouts succeeded" in text


def test_best_resources_before_fit_says_to_call_fit(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="call trainer.fit"):
        make_trainer(tmp_path).best_resources()


def test_an_unknown_algorithm_name_lists_what_is_available_and_names_no_package() -> None:
    with pytest.raises(PluginNotFoundError, match="available: .*baseline") as err:
        Trainer(algorithm="no_such_algorithm_xyz", serve=False)
    assert "pip install" not in str(err.value)


def test_a_shipped_algorithm_name_misspelt_gets_the_close_match() -> None:
    with pytest.raises(PluginNotFoundError, match="did you mean 'grpo'"):
        Trainer(algorithm="grpoo", serve=False)


def test_options_with_an_algorithm_instance_are_refused() -> None:
    with pytest.raises(TypeError, match="pass the options to its constructor"):
        Trainer(algorithm=Baseline(), serve=False, learning_rate=0.1)


def test_an_algorithm_class_gets_the_keyword_options(tmp_path: Path) -> None:
    trainer = make_trainer(
        tmp_path, algorithm=Baseline, resources={"prompt": PromptTemplate(template="Add {a}")}
    )
    assert isinstance(trainer.algorithm, Baseline)
    trainer.fit(adder, DATA[:2])
    assert trainer.best_resources().resources["prompt"].template == "Add {a}"  # type: ignore[union-attr]


class PromptSearch(Algorithm):
    """A tiny algorithm: publish each candidate prompt, evaluate it, keep the best."""

    name = "prompt_search"

    def __init__(self, candidates: list[str]) -> None:
        self.candidates = candidates

    async def run(self, ctx: TrainerContext) -> AlgorithmResult:
        best_id, best_score = None, -1.0
        for step, template in enumerate(self.candidates):
            update = await ctx.publish_resources({"prompt": PromptTemplate(template=template)})
            evaluation = await ctx.evaluate(ctx.train_data, resources_id=update.resources_id)
            ctx.log_metrics({"reward": evaluation.mean_reward}, step=step)
            if evaluation.mean_reward > best_score:
                best_id, best_score = update.resources_id, evaluation.mean_reward
        return AlgorithmResult(best_resources_id=best_id, best_score=best_score, metrics=ctx.metrics_history)


def test_best_resources_is_the_version_the_algorithm_chose_not_the_latest(tmp_path: Path) -> None:
    @rollout
    def agent(task: int, prompt: PromptTemplate) -> float:
        return float(len(prompt.template) == 6)

    trainer = make_trainer(tmp_path, algorithm=PromptSearch(["short", "sixsix", "longer one"]))
    result = trainer.fit(agent, [1, 2, 3])
    assert result.best_score == 1.0
    assert trainer.best_resources().resources["prompt"].template == "sixsix"  # type: ignore[union-attr]
    assert [m["reward"] for m in result.metrics] == [0.0, 1.0, 0.0]


def test_rollout_timeout_cancels_what_does_not_finish(tmp_path: Path) -> None:
    @rollout
    async def sometimes_hangs(task: int) -> float:
        if task == 0:
            await asyncio.sleep(3600)
        return 1.0

    trainer = make_trainer(
        tmp_path, rollout_timeout=0.5, runner_options={"heartbeat_interval": 0.05}, concurrency=2
    )
    result = trainer.fit(sometimes_hangs, [0, 1, 2])
    assert result.metrics[-1]["val/failed"] == 1
    assert result.best_score == pytest.approx(2 / 3)


class BrokenTracer(Tracer):
    name = "broken"

    def init_worker(self, worker_id: str) -> None:
        raise OSError("exporter endpoint unreachable")


def test_a_crashing_runner_stops_fit_with_its_error(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path, tracer=BrokenTracer(), rollout_timeout=30)
    with pytest.raises(RunnerCrashed, match="exporter endpoint unreachable"):
        trainer.fit(adder, DATA)


async def test_fit_inside_a_running_loop_points_to_fit_async(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path)
    with pytest.raises(RuntimeError, match="fit_async"):
        trainer.fit(adder, DATA)
    result = await trainer.fit_async(adder, DATA[:2])
    assert result.best_score == 0.5


def test_the_memory_store_is_kept_across_fit_and_dev(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path)
    trainer.fit(adder, DATA[:2])
    trainer.dev(adder, DATA[:1], quiet=True)
    store = trainer._open_store()
    stats = asyncio.run(store.statistics())
    assert stats["rollouts"]["total"] == 3
    assert stats["resources"]["versions"] == 2


def test_engine_with_a_remote_store_is_refused() -> None:
    with pytest.raises(ValueError, match="agl serve --engine"):
        Trainer(store="http://127.0.0.1:1", engine="openai")


def test_llm_resources_keep_their_key_out_of_result_json(tmp_path: Path) -> None:
    llm = LLM(endpoint="https://api.example.com/v1", model="m", api_key="sk-secret")  # type: ignore[arg-type]

    @rollout
    def agent(task: int, llm: LLM) -> float:
        return float(llm.api_key_value == "sk-secret")

    trainer = make_trainer(tmp_path, initial_resources={"llm": llm})
    assert trainer.fit(agent, [1]).best_score == 1.0
    text = (tmp_path / "run" / "result.json").read_text()
    assert "sk-secret" not in text and "api.example.com" in text


def test_clean_run_at_concurrency_one_logs_no_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Every attempt succeeds, so stopping the runner has nothing to fail: the idle dequeue that is
    out at stop is not an attempt, and nothing may say "failing N attempts still running"."""
    caplog.set_level(logging.INFO, logger="agentlightning_core")
    result = make_trainer(tmp_path, n_runners=1, concurrency=1).fit(adder, DATA)
    assert result.best_score == pytest.approx(0.5)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [], [r.getMessage() for r in warnings]
    stopped = [r.getMessage() for r in caplog.records if "stopped:" in r.getMessage()]
    assert stopped and f"{len(DATA)} succeeded, 0 failed" in stopped[0]
