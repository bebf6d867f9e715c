"""``AglPPOTrainer``: VERL's ``RayPPOTrainer`` with rollouts from Agent Lightning's runners.

VERL keeps what it is good at — the FSDP actor (and critic, reference) on Ray workers, vLLM
replicas it starts, sleeps, wakes and refreshes with new weights, checkpoints — and the step's
data comes from this project instead of VERL's agent loop: the agent code runs unchanged in the
runners, calls the trainer's LLM proxy, the proxy forwards to VERL's vLLM servers and records
every call with its token ids, and :mod:`.batch` turns those records into VERL's ``DataProto``.

Runs in a worker thread of the Trainer's process (VERL's driver calls block); rollouts go back to
the Trainer's event loop through :class:`RolloutBridge`. Requires GPUs; nothing here runs on a
CPU (the CPU tests exercise :mod:`.batch`, :mod:`.config` and VERL's loss on the same batches).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from agentlightning_core.algorithm import RolloutOutcome

from .batch import build_batch, call_level_advantages, samples_from_outcomes
from .config import VERLConfig

log = logging.getLogger(__name__)

T = TypeVar("T")

#: VERL methods this trainer relies on (checked by the CPU tests against the installed VERL).
VERL_METHODS = (
    "init_workers",
    "_load_checkpoint",
    "_save_checkpoint",
    "_balance_batch",
    "_compute_old_log_prob",
    "_compute_ref_log_prob",
    "_compute_values",
    "_update_actor",
    "_update_critic",
    "_get_dp_size",
)


class RolloutBridge:
    """Runs coroutines of the Trainer's event loop from VERL's (blocking) driver thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()


class TaskIndexDataset:
    """The training data as VERL's dataloader sees it: indices, so its state (saved with every
    checkpoint) says where in the epoch a resumed run continues."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> dict[str, int]:
        return {"index": index}


def collate_indices(rows: list[dict[str, int]]) -> dict[str, list[int]]:
    return {"index": [r["index"] for r in rows]}


def make_trainer(
    verl_config: Any,
    config: VERLConfig,
    *,
    collect: Callable[[list[int], int], tuple[list[RolloutOutcome], list[str]]],
    validate: Callable[[int], dict[str, float]] | None,
    on_step: Callable[[int, dict[str, float]], None],
    n_train: int,
    n_val: int,
) -> Any:
    """Build the trainer (imports VERL and Ray; call on a GPU machine after ``ray.init``)."""
    from verl.trainer.main_ppo_v0 import BaseTaskRunner
    from verl.trainer.ppo.ray_trainer import RayPPOTrainer
    from verl.trainer.ppo.utils import need_critic
    from verl.utils.config import omega_conf_to_dataclass
    from verl.workers.config import HFModelConfig

    class AglPPOTrainer(RayPPOTrainer):
        """See the module docstring."""

        def fit_agl(self) -> None:
            self.global_steps = 0
            self._load_checkpoint()
            self.checkpoint_manager.update_weights(self.global_steps)  # weights into vLLM, replicas awake
            if (
                validate is not None
                and self.config.trainer.get("val_before_train", True)
                and self.global_steps == 0
            ):
                on_step(0, validate(0))
            first_epoch = self.global_steps // max(len(self.train_dataloader), 1)  # as VERL's fit
            self.global_steps += 1
            for _epoch in range(first_epoch, config.epochs):
                for task_batch in self.train_dataloader:
                    metrics = self.step_agl(list(task_batch["index"]))
                    on_step(self.global_steps, metrics)
                    last = self.global_steps >= self.total_training_steps
                    freq = self.config.trainer.test_freq
                    if validate is not None and freq > 0 and (last or self.global_steps % freq == 0):
                        on_step(self.global_steps, validate(self.global_steps))
                    if last:
                        return
                    self.global_steps += 1

        def step_agl(self, task_indices: list[int]) -> dict[str, float]:
            timing: dict[str, float] = {}
            with _timer(timing, "gen"):
                outcomes, groups = collect(task_indices, self.global_steps)
                self.checkpoint_manager.sleep_replicas()  # free vLLM's memory for training
            samples, stats = samples_from_outcomes(outcomes, groups, config)
            dp = self._get_dp_size(self.actor_rollout_wg, "actor")
            batch = build_batch(
                samples,
                pad_token_id=self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0,
                # whole mini-batches of whole "rollouts" on every data-parallel rank (see _mini_batches)
                pad_to_multiple=dp * self._num_mini_batches() * config.group_size,
                meta_info={"temperature": config.temperature, "global_steps": self.global_steps},
            )
            metrics: dict[str, float] = dict(stats.metrics())
            if self.config.trainer.balance_batch:
                self._balance_batch(batch, metrics=metrics)
            batch.meta_info["global_token_num"] = batch.batch["attention_mask"].sum(dim=-1).tolist()
            with _timer(timing, "old_log_prob"):
                old_log_prob, _mfu = self._compute_old_log_prob(batch)
                old_log_prob.batch.pop("entropys")
                batch = batch.union(old_log_prob)
            if self.use_reference_policy:
                with _timer(timing, "ref"):
                    batch = batch.union(self._compute_ref_log_prob(batch))
            if self.use_critic:
                with _timer(timing, "values"):
                    batch = batch.union(self._compute_values(batch))
            if config.advantage_level == "call":
                batch = call_level_advantages(batch, config, self.config)
            else:
                batch.batch["token_level_rewards"] = batch.batch["token_level_scores"]
            with self._mini_batches(len(batch)):
                if self.use_critic:
                    with _timer(timing, "update_critic"):
                        metrics.update(_reduce(self._update_critic(batch).meta_info["metrics"]))
                with _timer(timing, "update_actor"):
                    metrics.update(_reduce(self._update_actor(batch).meta_info["metrics"]))
            last = self.global_steps >= self.total_training_steps
            freq = self.config.trainer.save_freq
            if freq > 0 and (last or self.global_steps % freq == 0):
                with _timer(timing, "save_checkpoint"):
                    self._save_checkpoint()
            with _timer(timing, "update_weights"):
                self.checkpoint_manager.update_weights(self.global_steps)  # and wake the replicas
            metrics.update({f"timing_s/{k}": v for k, v in timing.items()})
            metrics["training/global_step"] = float(self.global_steps)
            return metrics

        def _num_mini_batches(self) -> int:
            return max(config.tasks_per_step // config.ppo_mini_batch_size, 1)

        @contextlib.contextmanager
        def _mini_batches(self, batch_size: int) -> Iterator[None]:
            """VERL sizes a mini-batch as ``ppo_mini_batch_size * rollout.n`` samples, i.e. one
            sample per rollout; here a rollout yields as many samples as it made calls, so the
            step's batch is split into the configured number of mini-batches instead."""
            from omegaconf import open_dict

            actor = self.config.actor_rollout_ref.actor
            critic = self.config.critic
            saved = (actor.ppo_mini_batch_size, critic.get("ppo_mini_batch_size"))
            per = batch_size // self._num_mini_batches()
            n = self.config.actor_rollout_ref.rollout.n
            with open_dict(self.config):
                actor.ppo_mini_batch_size = per // n  # VERL multiplies by n again
                if "ppo_mini_batch_size" in critic:
                    critic.ppo_mini_batch_size = per // n
            try:
                yield
            finally:
                with open_dict(self.config):
                    actor.ppo_mini_batch_size = saved[0]
                    if saved[1] is not None:
                        critic.ppo_mini_batch_size = saved[1]

    runner = BaseTaskRunner()
    actor_rollout_cls, ray_worker_group_cls = runner.add_actor_rollout_worker(verl_config)
    if need_critic(verl_config):
        runner.add_critic_worker(verl_config)
    runner.add_ref_policy_worker(verl_config, actor_rollout_cls)
    model_config: HFModelConfig = omega_conf_to_dataclass(verl_config.actor_rollout_ref.model)
    trainer = AglPPOTrainer(
        config=verl_config,
        tokenizer=model_config.tokenizer,
        processor=model_config.processor,
        role_worker_mapping=runner.role_worker_mapping,
        resource_pool_manager=runner.init_resource_pool_mgr(verl_config),
        ray_worker_group_cls=ray_worker_group_cls,
        train_dataset=TaskIndexDataset(n_train),
        val_dataset=TaskIndexDataset(max(n_val, 1)),
        collate_fn=collate_indices,
    )
    return trainer


@contextlib.contextmanager
def _timer(timing: dict[str, float], name: str) -> Iterator[None]:
    t0 = time.perf_counter()
    try:
        yield
    finally:
        timing[name] = timing.get(name, 0.0) + time.perf_counter() - t0


def _reduce(metrics: dict[str, Any]) -> dict[str, float]:
    from verl.utils.metric import reduce_metrics

    return {k: float(v) for k, v in reduce_metrics(metrics).items()}


def export_hf(checkpoint_dir: str | Path, target_dir: str | Path) -> Path:
    """Merge VERL's sharded FSDP actor checkpoint into a Hugging Face folder (safetensors, config,
    tokenizer) that vLLM and transformers load directly — VERL's own model merger, in-process."""
    from verl.model_merger.base_model_merger import ModelMergerConfig
    from verl.model_merger.fsdp_model_merger import FSDPModelMerger

    actor = Path(checkpoint_dir) / "actor"
    if not actor.is_dir():
        raise FileNotFoundError(f"no VERL actor checkpoint at {actor}: was checkpoint_every > 0?")
    target = Path(target_dir)
    merger = FSDPModelMerger(
        ModelMergerConfig(operation="merge", backend="fsdp", local_dir=str(actor), target_dir=str(target))
    )
    merger.merge_and_save()
    return target


def latest_checkpoint(root: str | Path) -> Path | None:
    """VERL's ``global_step_N`` folder named by ``latest_checkpointed_iteration.txt``, if any."""
    marker = Path(root) / "latest_checkpointed_iteration.txt"
    if not marker.exists():
        return None
    step = marker.read_text().strip()
    folder = Path(root) / f"global_step_{step}"
    return folder if folder.is_dir() else None


def task_groups(task_indices: Sequence[int], group_size: int, step: int) -> list[str]:
    """The ``uid`` of each of a step's rollouts: one per task, repeated ``group_size`` times."""
    return [f"s{step}-t{i}" for i in task_indices for _ in range(group_size)]
