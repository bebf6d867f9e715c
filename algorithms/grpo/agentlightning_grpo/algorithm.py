"""``GRPO``: sample a group of rollouts per task through the runners, learn, swap the weights in.

One step: ``tasks_per_step`` tasks × ``group_size`` rollouts run through ``ctx.run_rollouts``
(the agent calls the trainer's LLM proxy, which records every call with its token ids); every
LLM call of a rollout becomes a training sample carrying that rollout's group-relative
advantage, so multi-turn rollouts are trained call by call; the learner takes one optimizer
step; the new weights go into the engine in-process (``engine.update_weights``) and a new LLM
resource version names them, so later rollouts (and the spans they record) say which weights
answered. Validation is greedy (temperature 0).
"""

from __future__ import annotations

import json
import logging
import random
import statistics as stats
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from agentlightning_core.algorithm import Algorithm, AlgorithmResult, RolloutOutcome, TrainerContext
from agentlightning_core.engine import LLMEngine
from agentlightning_core.triplet import TraceToTriplet
from agentlightning_core.types import Triplet

from .checkpoint import TrainState, export_hf, latest_checkpoint, load_checkpoint, save_checkpoint
from .config import GRPOConfig, adapter_patterns
from .learner import Learner, Sample, StepStats
from .losses import group_advantages, position_advantages, returns_to_go
from .schedule import learning_rate_at

log = logging.getLogger(__name__)


class GRPO(Algorithm):
    """Group-relative policy optimisation of the trainer's local engine.

    Accepts a :class:`GRPOConfig`, a mapping, or its fields as keyword arguments
    (``Trainer(algorithm="grpo", steps=40, learning_rate=2e-5)``). Needs an engine that serves
    a local model and can swap weights (``engine="transformers"``).
    """

    name = "grpo"

    def __init__(self, config: GRPOConfig | Mapping[str, Any] | None = None, **overrides: Any) -> None:
        base = config.model_dump() if isinstance(config, GRPOConfig) else dict(config or {})
        self.config = GRPOConfig(**{**base, **overrides})
        self.learner: Learner | None = None
        self.state = TrainState()
        self._last_eval_step: int | None = None
        self._last_eval_accuracy: float | None = None
        self._adapters_checked = False

    # ------------------------------------------------------------------ setup
    async def _setup(self, ctx: TrainerContext) -> Any:
        engine = ctx.engine
        if engine is None:
            raise ValueError(
                "GRPO trains the model the trainer serves: pass engine='transformers' to the Trainer "
                "(pip install agentlightning-transformers)"
            )
        await engine.start()
        model_path = engine.model_path
        if model_path is None:
            raise ValueError(
                f"GRPO needs an engine that serves a local model it can update; engine {engine.name!r} has "
                "no model_path — use engine='transformers'"
            )
        import torch

        if self.config.threads:
            # OpenMP's thread count is per thread: set it on the thread the learner will run on
            await engine.run_compute(torch.set_num_threads, self.config.threads)
        device = self.config.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.learner = await engine.run_compute(Learner, Path(model_path), self.config, device)
        if self.config.adapters:
            engine.route_agents(
                [(p.pattern, name) for name, ps in self.config.adapters.items() for p in adapter_patterns(ps)]
            )
        return engine

    async def _train(
        self, engine: LLMEngine, learner: Learner, samples: list[Sample], learning_rate: float | None = None
    ) -> tuple[StepStats, dict[str, float]]:
        """One optimizer step; with ``adapters``, one per adapter on its own samples (its own
        optimizer), reported as ``train/<adapter>/...`` and summed/averaged into ``train/...``."""
        if not self.config.adapters:
            return await engine.run_compute(learner.train_step, samples, None, learning_rate), {}
        total = StepStats()
        extra: dict[str, float] = {}
        ran = 0
        for name in self.config.adapters:
            own = [s for s in samples if s.adapter == name]
            extra[f"train/{name}/samples"] = float(len(own))
            if not own:
                continue
            st = await engine.run_compute(learner.train_step, own, name, learning_rate)
            ran += 1
            extra[f"train/{name}/loss"] = st.loss
            extra[f"train/{name}/grad_norm"] = st.grad_norm
            for key in ("loss", "policy_loss", "kl", "clip_fraction", "grad_norm"):
                setattr(total, key, getattr(total, key) + getattr(st, key))
            total.tokens += st.tokens
            total.trained_samples += st.trained_samples
            total.seconds += st.seconds
        for key in ("loss", "policy_loss", "kl", "clip_fraction", "grad_norm"):
            setattr(total, key, getattr(total, key) / max(ran, 1))
        return total, extra

    async def _push(self, engine: LLMEngine, version: int | None = None) -> int:
        """The learner's weights into the engine: the adapter's matrices only with LoRA (the base
        weights the engine serves stay as they are), else every trained weight."""
        learner = self.learner
        assert learner is not None
        if self.config.adapters:
            new = 0
            for name in self.config.adapters:
                adapter = await engine.run_compute(learner.export_adapter, name)
                new = await engine.update_adapter(adapter, version)
            return new
        if self.config.lora is not None:
            adapter = await engine.run_compute(learner.export_adapter, self.config.lora.name)
            return await engine.update_adapter(adapter, version)
        weights = await engine.run_compute(learner.export_weights)
        return await engine.update_weights(weights, version)

    def _resources(self, ctx: TrainerContext, greedy: bool) -> dict[str, Any]:
        cfg = self.config
        if greedy:
            llm = ctx.default_llm(temperature=0.0, max_tokens=cfg.eval_max_tokens or cfg.max_tokens)
        else:
            llm = ctx.default_llm(temperature=cfg.temperature, max_tokens=cfg.max_tokens)
        if cfg.adapters:  # the proxy sends each agent's calls to its adapter (route_agents)
            llm = llm.model_copy(update={"weights_version": self.state.weights_version})
            # and one LLM resource per adapter, for agents that choose their model themselves
            own = {f"{name}_llm": llm.model_copy(update={"model": name}) for name in cfg.adapters}
            return {**ctx.initial_resources, cfg.llm_resource: llm, **own}
        if cfg.lora is not None:  # calls name the adapter as their model, so the engine applies it
            llm = llm.model_copy(
                update={"model": cfg.lora.name, "weights_version": self.state.weights_version}
            )
        return {**ctx.initial_resources, cfg.llm_resource: llm}

    # -------------------------------------------------------------------- run
    async def run(self, ctx: TrainerContext) -> AlgorithmResult:
        cfg = self.config
        if not ctx.train_data:
            raise ValueError(
                "GRPO needs training data: fit(agent, train_data, val_data) with train_data non-empty"
            )
        engine = await self._setup(ctx)
        learner = self.learner
        assert learner is not None
        state = TrainState(weights_version=engine.weights_version)
        if cfg.lora is not None:  # the starting adapter(s) (B = 0: the base model's answers), version 0
            state.weights_version = await self._push(engine, 0)
        resumed = False
        if cfg.resume:
            ckpt = latest_checkpoint(ctx.output_dir)
            if ckpt is not None:
                state = await engine.run_compute(load_checkpoint, ckpt, learner)
                state.weights_version = await self._push(engine, state.weights_version)
                _restore_history(ctx, state.metrics_history)
                resumed = True
                log.info("resumed from %s (step %d)", ckpt, state.step)
        self.state = state
        val = ctx.val_data or []
        if val and cfg.eval_before and not resumed:
            await self._evaluate(ctx, val, step=0)
        task_id = None
        if ctx.progress is not None:
            task_id = ctx.progress.add_task("GRPO steps", total=cfg.steps, completed=state.step)
        train_update = await ctx.publish_resources(self._resources(ctx, greedy=False))
        train_seconds = sum(float(m.get("time/step_s", 0.0)) for m in ctx.metrics_history)
        while state.step < cfg.steps and not self._should_stop(train_seconds):
            step_started = time.perf_counter()
            tasks = self._next_tasks(ctx.train_data, state)
            inputs = [t for t in tasks for _ in range(cfg.group_size)]
            groups = [g for g in range(len(tasks)) for _ in range(cfg.group_size)]
            hinted = self._hinted(state.step + 1, len(tasks))
            t0 = time.perf_counter()
            outcomes = await ctx.run_rollouts(
                inputs,
                mode="train",
                resources_id=train_update.resources_id,
                metadata=[
                    {"grpo_step": state.step + 1, "group": g, "hint": h}
                    for g, h in zip(groups, hinted, strict=True)
                ],
                description=f"step {state.step + 1} rollouts",
            )
            rollout_s = time.perf_counter() - t0
            samples, summary = self._samples(outcomes, groups, hinted)
            lr = learning_rate_at(state.step, cfg)
            stats_, per_adapter = await self._train(engine, learner, samples, lr)
            t1 = time.perf_counter()
            state.weights_version = await self._push(engine)
            train_update = await ctx.publish_resources(self._resources(ctx, greedy=False))
            swap_s = time.perf_counter() - t1
            state.step += 1
            step_s = time.perf_counter() - step_started
            train_seconds += step_s
            gen_tokens = summary.pop("completion_tokens")
            record = {
                **summary,
                "train/loss": stats_.loss,
                "train/kl": stats_.kl,
                "train/clip_fraction": stats_.clip_fraction,
                "train/grad_norm": stats_.grad_norm,
                "train/learning_rate": lr,
                "train/trained_samples": stats_.trained_samples,
                "perf/generation_tokens_per_s": gen_tokens / rollout_s if rollout_s > 0 else 0.0,
                "perf/train_tokens_per_s": stats_.tokens / stats_.seconds if stats_.seconds > 0 else 0.0,
                "perf/tokens_per_s": gen_tokens / step_s if step_s > 0 else 0.0,
                "time/rollouts_s": rollout_s,
                "time/train_s": stats_.seconds,
                "time/weight_swap_s": swap_s,
                "time/step_s": step_s,
                "time/train_total_s": train_seconds,
                "weights_version": state.weights_version,
                **per_adapter,
            }
            ctx.log_metrics(record, step=state.step)
            if ctx.progress is not None and task_id is not None:
                ctx.progress.update(
                    task_id,
                    completed=state.step,
                    description=f"GRPO step {state.step}/{cfg.steps} reward {summary['train/reward_mean']:.2f}",
                )
            last = state.step == cfg.steps or self._should_stop(train_seconds)
            if val and cfg.eval_every and state.step % cfg.eval_every == 0 and not last:
                await self._evaluate(ctx, val, step=state.step)
            if cfg.checkpoint_every and (state.step % cfg.checkpoint_every == 0 or last):
                state.metrics_history = list(ctx.metrics_history)
                await engine.run_compute(
                    save_checkpoint, ctx.output_dir, learner, state, cfg.keep_checkpoints
                )
        if ctx.progress is not None and task_id is not None:
            ctx.progress.remove_task(task_id)
        final_score = None
        reached = cfg.stop_at_accuracy is not None and (state.best_val or 0.0) >= cfg.stop_at_accuracy
        if val and cfg.eval_after and not (reached and self._last_eval_step == state.step):
            final_score = await self._evaluate(ctx, val, step=state.step)
        elif val and self._last_eval_step == state.step:
            final_score = self._last_eval_accuracy
        final = await ctx.publish_resources(self._resources(ctx, greedy=False))
        ctx.best_resources_id = final.resources_id
        return AlgorithmResult(
            best_resources_id=final.resources_id,
            best_score=final_score,
            metrics=ctx.metrics_history,
            extra={
                "weights_version": state.weights_version,
                "best_val_accuracy": state.best_val,
                "steps": state.step,
            },
        )

    def export(self, target: str | Path) -> Path:
        """Write the trained policy to ``target`` as a Hugging Face model folder (LoRA adapters
        merged into the base weights), loadable without this project or peft."""
        if self.learner is None:
            raise RuntimeError("export: nothing trained yet; call Trainer.fit first")
        return export_hf(self.learner, target)

    # ----------------------------------------------------------------- pieces
    def _should_stop(self, train_seconds: float) -> bool:
        cfg = self.config
        if cfg.time_budget_s is not None and train_seconds >= cfg.time_budget_s:
            return True
        return cfg.stop_at_accuracy is not None and (self.state.best_val or 0.0) >= cfg.stop_at_accuracy

    def _next_tasks(self, data: Sequence[Any], state: TrainState) -> list[Any]:
        """``tasks_per_step`` tasks, walking a seeded permutation of the data epoch by epoch."""
        out: list[Any] = []
        while len(out) < self.config.tasks_per_step:
            if state.cursor >= len(state.order) or len(state.order) != len(data):
                state.order = list(range(len(data)))
                random.Random(self.config.seed + state.epoch).shuffle(state.order)
                state.cursor = 0
                state.epoch += 1
            out.append(data[state.order[state.cursor]])
            state.cursor += 1
        return out

    def _hinted(self, step: int, n_groups: int) -> list[bool]:
        """Which rollouts of a step are hinted, in rollout order: the first ``hinted_per_group``
        of each group while ``step <= hint_until_step`` (README, *Hinted rollouts*)."""
        cfg = self.config
        k = cfg.hinted_per_group if step <= cfg.hint_until_step else 0
        return [i < k for _ in range(n_groups) for i in range(cfg.group_size)]

    def _samples(
        self, outcomes: list[RolloutOutcome], groups: list[int], hinted: list[bool] | None = None
    ) -> tuple[list[Sample], dict[str, Any]]:
        cfg = self.config
        rewards = [o.reward if o.reward is not None else 0.0 for o in outcomes]
        transform = TraceToTriplet(
            agent_match=cfg.agent_match,
            reward_mode="per_call" if cfg.credit != "final" else "final",
            require_tokens=True,
        )
        traces = [o.triplets(transform) for o in outcomes]
        adapters_of: list[list[str | None]]
        if cfg.adapters:
            # each adapter learns from its own agents' calls only, with advantages of its own
            route = self._adapter_routes(traces)
            owners = [[route.get(t.agent_name or "") for t in triplets] for triplets in traces]
            kept = [
                [t for t, a in zip(tr, own, strict=True) if a is not None]
                for tr, own in zip(traces, owners, strict=True)
            ]
            adapters_of = [[a for a in own if a is not None] for own in owners]
            per_sample = [[0.0] * len(tr) for tr in kept]
            for name in cfg.adapters:
                own_traces = [
                    [t for t, a in zip(tr, ad, strict=True) if a == name]
                    for tr, ad in zip(kept, adapters_of, strict=True)
                ]
                own_advs = self._advantages(own_traces, rewards, groups)
                for i, (owned, advs) in enumerate(zip(adapters_of, own_advs, strict=True)):
                    positions = [k for k, a in enumerate(owned) if a == name]
                    for k, adv in zip(positions, advs, strict=True):
                        per_sample[i][k] = adv
            traces = kept
        else:
            adapters_of = [[None] * len(tr) for tr in traces]
            per_sample = self._advantages(traces, rewards, groups)
        samples: list[Sample] = []
        calls: list[int] = []
        tokens = 0
        for triplets, advs, group, ads in zip(traces, per_sample, groups, adapters_of, strict=True):
            calls.append(len(triplets))
            for t, adv, ad in zip(triplets, advs, ads, strict=True):
                samples.append(Sample(t.prompt_token_ids, t.response_token_ids, adv, group, ad))
                tokens += len(t.response_token_ids)
        summary = {
            "train/reward_mean": stats.fmean(rewards),
            "train/reward_std": stats.pstdev(rewards) if len(rewards) > 1 else 0.0,
            "train/accuracy": sum(r >= cfg.success_threshold for r in rewards) / len(rewards),
            "train/failed": sum(1 for o in outcomes if not o.succeeded),
            "train/calls_per_rollout": stats.fmean(calls) if calls else 0.0,
            "train/zero_advantage_groups": _flat_groups(rewards, groups),
            "train/group_reward_means": _group_means(rewards, groups),
            "completion_tokens": tokens,
        }
        hinted = hinted or [False] * len(outcomes)
        plain = [i for i, h in enumerate(hinted) if not h]
        summary["train/hinted_rollouts"] = len(outcomes) - len(plain)
        if len(plain) < len(outcomes):
            # the unhinted rollouts alone: what the policy does by itself while hints are on
            summary["train/unhinted_calls_per_rollout"] = (
                stats.fmean(calls[i] for i in plain) if plain else 0.0
            )
            summary["train/unhinted_reward_mean"] = stats.fmean(rewards[i] for i in plain) if plain else 0.0
            summary["train/hinted_reward_mean"] = stats.fmean(
                r for r, h in zip(rewards, hinted, strict=True) if h
            )
        else:
            summary["train/unhinted_calls_per_rollout"] = summary["train/calls_per_rollout"]
            summary["train/unhinted_reward_mean"] = summary["train/reward_mean"]
        if not samples:
            log.warning(
                "no LLM call with token ids was recorded in %d rollouts: is the agent calling the LLM "
                "resource's endpoint (the trainer's proxy)?",
                len(outcomes),
            )
        return samples, summary

    def _advantages(
        self, traces: list[list[Triplet]], rewards: list[float], groups: list[int]
    ) -> list[list[float]]:
        """One advantage per call of each rollout, as ``credit`` says (README, *Credit*)."""
        cfg = self.config
        if cfg.credit != "final":
            gamma = 0.0 if cfg.credit == "per_call" else cfg.gamma
            returns = [
                returns_to_go([t.reward if t.reward is not None else 0.0 for t in triplets], gamma)
                for triplets in traces
            ]
            return position_advantages(returns, groups, scale=cfg.scale_rewards)
        advantages = group_advantages(rewards, groups, scale=cfg.scale_rewards)
        return [[adv] * len(triplets) for adv, triplets in zip(advantages, traces, strict=True)]

    def _adapter_routes(self, traces: list[list[Triplet]]) -> dict[str, str]:
        """Agent name -> adapter for the agents in these traces. The first step's agents are
        checked: every adapter must match one of them, and no agent may match two adapters."""
        adapters = self.config.adapters or {}
        seen = sorted({t.agent_name for tr in traces for t in tr if t.agent_name})
        routes: dict[str, str] = {}
        for agent in seen:
            names = [n for n, ps in adapters.items() if any(p.fullmatch(agent) for p in adapter_patterns(ps))]
            if len(names) > 1:
                raise ValueError(
                    f"adapters: agent {agent!r} is matched by adapters {names}; each agent must have one"
                )
            if names:
                routes[agent] = names[0]
        if not self._adapters_checked:
            unmatched = [n for n in adapters if n not in routes.values()]
            if unmatched:
                raise ValueError(
                    f"adapters {unmatched} match none of the agents seen in the first step: {seen or 'no named agent'} "
                    "(agent names come from adapter spans or the X-AGL-Agent header); fix their patterns"
                )
            self._adapters_checked = True
        return routes

    async def _evaluate(self, ctx: TrainerContext, val: Sequence[Any], step: int) -> float:
        cfg = self.config
        update = await ctx.publish_resources(self._resources(ctx, greedy=True))
        t0 = time.perf_counter()
        evaluation = await ctx.evaluate(
            val, resources_id=update.resources_id, description=f"val (step {step})"
        )
        values = [o.reward if o.reward is not None else 0.0 for o in evaluation.outcomes]
        accuracy = sum(v >= cfg.success_threshold for v in values) / max(len(values), 1)
        ctx.log_metrics(
            {
                "val/accuracy": accuracy,
                "val/reward_mean": evaluation.mean_reward,
                "val/n": evaluation.n,
                "val/failed": evaluation.n_failed,
                "time/val_s": time.perf_counter() - t0,
                "weights_version": self.state.weights_version,
            },
            step=step,
        )
        self._last_eval_step = step
        self._last_eval_accuracy = accuracy
        if self.state.best_val is None or accuracy > self.state.best_val:
            self.state.best_val = accuracy
        return accuracy


def _flat_groups(rewards: list[float], groups: list[int]) -> int:
    by: dict[int, set[float]] = {}
    for r, g in zip(rewards, groups, strict=True):
        by.setdefault(g, set()).add(r)
    return sum(1 for values in by.values() if len(values) == 1)


def _group_means(rewards: list[float], groups: list[int]) -> list[float]:
    """Each group's mean reward, in group order: the points of a reward curve whose spread shows
    how much one step's mean depends on which tasks it drew."""
    by: dict[int, list[float]] = {}
    for r, g in zip(rewards, groups, strict=True):
        by.setdefault(g, []).append(r)
    return [round(stats.fmean(by[g]), 4) for g in sorted(by)]


def _restore_history(ctx: TrainerContext, history: list[dict[str, Any]]) -> None:
    """Continue the metrics where the checkpoint left them: records logged after it are dropped."""
    ctx.metrics_history[:] = list(history)
    ctx.output_dir.mkdir(parents=True, exist_ok=True)
    with (ctx.output_dir / "metrics.jsonl").open("w") as fh:
        for record in history:
            fh.write(json.dumps(record, default=str) + "\n")
