"""``VERL``: GRPO/PPO through VERL, with this project's runners, proxy and spans as the data path.

What runs where (one GPU machine, or a Ray cluster):

* VERL (in a worker thread of the Trainer's process, as VERL's "driver"): the FSDP actor, the
  reference policy and, for PPO, the critic, as Ray workers; the vLLM replicas it starts in
  server mode, puts to sleep while training and wakes with the new weights after each step;
  checkpoints every ``checkpoint_every`` steps and resumes from the latest.
* this project (the Trainer's event loop): the runners run the user's agent unchanged; the agent
  calls the LLM resource, i.e. the trainer's proxy; the proxy's engine (``vllm``, attached to
  VERL's replicas) forwards each call and the proxy records it with token ids and log-probs;
  :mod:`.batch` turns the recorded calls into VERL's batch.

The agent code is the same as on the CPU path (``algorithm="grpo"``): only the algorithm and the
engine change.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from agentlightning_core.algorithm import Algorithm, AlgorithmResult, RolloutOutcome, TrainerContext

from .config import VERLConfig, compose_verl_config
from .requirements import require_gpu_stack
from .trainer import RolloutBridge, export_hf, latest_checkpoint, make_trainer, task_groups

log = logging.getLogger(__name__)


class VERL(Algorithm):
    """Train the policy at ``model_path`` with VERL. Accepts a :class:`VERLConfig`, a mapping,
    a YAML file (``config_file=``, as the examples ship) and keyword overrides on top."""

    name = "verl"

    def __init__(
        self,
        config: VERLConfig | Mapping[str, Any] | None = None,
        *,
        config_file: str | Path | None = None,
        **overrides: Any,
    ) -> None:
        if config_file is not None:
            base = VERLConfig.from_yaml(config_file).model_dump()
        elif isinstance(config, VERLConfig):
            base = config.model_dump()
        else:
            base = dict(config or {})
        self.config = VERLConfig(**{**base, **overrides})

    # ------------------------------------------------------------------ checks
    def check(self, ctx: TrainerContext) -> None:
        """Everything that can fail before a GPU is touched, with the fix in the message."""
        cfg = self.config
        if not cfg.model_path:
            raise ValueError(
                "the verl algorithm needs model_path (a Hugging Face id or a local model folder)"
            )
        if not ctx.train_data:
            raise ValueError("the verl algorithm needs training data: fit(agent, train_data, val_data)")
        if len(ctx.train_data) < cfg.tasks_per_step:
            raise ValueError(
                f"tasks_per_step={cfg.tasks_per_step} but only {len(ctx.train_data)} training tasks; "
                "lower tasks_per_step"
            )
        require_gpu_stack(cfg.n_gpus_per_node)
        if ctx.engine is None:
            raise ValueError(
                "the verl algorithm serves rollouts from VERL's vLLM replicas through the trainer's proxy: "
                "pass engine='vllm' to the Trainer (pip install agentlightning-vllm)"
            )
        if ctx.proxy_url is None:
            raise ValueError(
                "the verl algorithm needs the trainer's LLM proxy (Trainer(serve=True), the default)"
            )

    # --------------------------------------------------------------------- run
    async def run(self, ctx: TrainerContext) -> AlgorithmResult:
        self.check(ctx)
        cfg = self.config
        verl_config = compose_verl_config(cfg, ctx.output_dir)
        bridge = RolloutBridge(asyncio.get_running_loop())
        val = list(ctx.val_data or [])
        progress_task = None
        if ctx.progress is not None:
            progress_task = ctx.progress.add_task("VERL steps", total=cfg.steps)

        def on_step(step: int, metrics: dict[str, float]) -> None:
            ctx.log_metrics(metrics, step=step)
            if ctx.progress is not None and progress_task is not None:
                ctx.progress.update(progress_task, completed=step)

        def collect(task_indices: list[int], step: int) -> tuple[list[RolloutOutcome], list[str]]:
            return bridge.run(self._collect(ctx, task_indices, step))

        def validate(step: int) -> dict[str, float]:
            return bridge.run(self._validate(ctx, val, step))

        def build_and_fit() -> Any:
            import ray

            if not ray.is_initialized():
                from verl.trainer.constants_ppo import get_ppo_ray_runtime_env

                ray.init(runtime_env=get_ppo_ray_runtime_env(verl_config))
            trainer = make_trainer(
                verl_config,
                cfg,
                collect=collect,
                validate=validate if val else None,
                on_step=lambda s, m: bridge.run(_call(on_step, s, m)),
                n_train=len(ctx.train_data),
                n_val=len(val),
            )
            trainer.init_workers()
            addresses = trainer.llm_server_manager.get_addresses()
            bridge.run(ctx.engine.attach_servers([f"http://{a}/v1" for a in addresses]))  # type: ignore[union-attr]
            trainer.fit_agl()
            return trainer

        trainer = await asyncio.to_thread(build_and_fit)
        extra: dict[str, Any] = {"steps": int(trainer.global_steps)}
        checkpoint = latest_checkpoint(Path(ctx.output_dir) / "checkpoints")
        if cfg.export_hf and checkpoint is not None:
            target = await asyncio.to_thread(export_hf, checkpoint, Path(ctx.output_dir) / "hf")
            extra["hf_model"] = str(target)
            log.info("exported the trained model to %s (loads with transformers and vLLM)", target)
        final = await ctx.publish_resources(self._resources(ctx, greedy=False))
        ctx.best_resources_id = final.resources_id
        return AlgorithmResult(best_resources_id=final.resources_id, metrics=ctx.metrics_history, extra=extra)

    # ----------------------------------------------------------------- pieces
    def _resources(self, ctx: TrainerContext, *, greedy: bool) -> dict[str, Any]:
        cfg = self.config
        llm = ctx.default_llm(
            temperature=0.0 if greedy else cfg.temperature, max_tokens=cfg.max_response_length
        )
        return {**ctx.initial_resources, cfg.llm_resource: llm}

    async def _collect(
        self, ctx: TrainerContext, task_indices: Sequence[int], step: int
    ) -> tuple[list[RolloutOutcome], list[str]]:
        cfg = self.config
        if ctx.engine is not None:
            ctx.engine.weights_version = step - 1  # VERL has synced step - 1 updates into vLLM
        update = await ctx.publish_resources(self._resources(ctx, greedy=False))
        inputs = [ctx.train_data[i] for i in task_indices for _ in range(cfg.group_size)]
        groups = task_groups(task_indices, cfg.group_size, step)
        outcomes = await ctx.run_rollouts(
            inputs,
            mode="train",
            resources_id=update.resources_id,
            metadata=[{"verl_step": step, "group": g} for g in groups],
            description=f"step {step} rollouts",
        )
        return outcomes, groups

    async def _validate(self, ctx: TrainerContext, val: Sequence[Any], step: int) -> dict[str, float]:
        update = await ctx.publish_resources(self._resources(ctx, greedy=True))
        evaluation = await ctx.evaluate(
            val, resources_id=update.resources_id, description=f"val (step {step})"
        )
        values = [o.reward if o.reward is not None else 0.0 for o in evaluation.outcomes]
        return {
            "val/reward_mean": evaluation.mean_reward,
            "val/accuracy": sum(v >= 1.0 for v in values) / max(len(values), 1),
            "val/n": float(evaluation.n),
            "val/failed": float(evaluation.n_failed),
        }


async def _call(fn: Any, *args: Any) -> None:
    fn(*args)
