"""Algorithms and the context the trainer gives them.

Writing an algorithm is: subclass :class:`Algorithm`, implement ``run(ctx)``, register it with
``agl_register_algorithms`` and add an entry point. ``ctx`` runs rollouts through the runners
(``run_rollouts``, ``evaluate``), publishes resources, and logs metrics; the algorithm never
talks to runners directly, so the same algorithm works with one process or a hundred machines.
"""

from __future__ import annotations

import asyncio
import logging
import math
import statistics as stats
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .metrics import JsonlSink, MetricSinks, RunInfo
from .reward import final_reward
from .store.base import LATEST, LightningStore
from .triplet import TraceToTriplet
from .types import (
    LLM,
    EventType,
    Resource,
    ResourcesUpdate,
    Rollout,
    RolloutConfig,
    RolloutMode,
    RolloutRequest,
    RolloutStatus,
    Span,
    Topic,
    Triplet,
)

if TYPE_CHECKING:
    from rich.progress import Progress

    from .engine import LLMEngine

log = logging.getLogger(__name__)


@dataclass
class RolloutOutcome:
    """A finished (or abandoned) rollout with its latest attempt's spans and final reward."""

    rollout: Rollout
    reward: float | None
    spans: list[Span] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.rollout.status.value == "succeeded"

    def triplets(self, transform: TraceToTriplet | None = None) -> list[Triplet]:
        return (transform or TraceToTriplet()).transform(self.spans)


@dataclass
class Evaluation:
    """Mean reward over a data set; ``None`` rewards (failed rollouts) count as 0."""

    mean_reward: float
    std_reward: float
    n: int
    n_failed: int
    outcomes: list[RolloutOutcome] = field(default_factory=list)

    @classmethod
    def from_outcomes(cls, outcomes: list[RolloutOutcome]) -> Evaluation:
        values = [o.reward if o.reward is not None else 0.0 for o in outcomes]
        return cls(
            mean_reward=stats.fmean(values) if values else 0.0,
            std_reward=stats.pstdev(values) if len(values) > 1 else 0.0,
            n=len(values),
            n_failed=sum(1 for o in outcomes if not o.succeeded),
            outcomes=outcomes,
        )


@dataclass
class AlgorithmResult:
    """What ``Trainer.fit`` returns: the best resources found and the metrics history."""

    best_resources_id: str | None = None
    best_score: float | None = None
    metrics: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


class TrainerContext:
    """The trainer's services, as an algorithm sees them."""

    def __init__(
        self,
        store: LightningStore,
        *,
        train_data: Sequence[Any] = (),
        val_data: Sequence[Any] | None = None,
        engine: LLMEngine | None = None,
        proxy_url: str | None = None,
        output_dir: str | Path = "runs/latest",
        rollout_config: RolloutConfig | None = None,
        rollout_timeout: float | None = None,
        progress: Progress | None = None,
        initial_resources: Mapping[str, Resource] | None = None,
        on_metrics: Callable[[dict[str, Any]], None] | None = None,
        metric_sinks: MetricSinks | None = None,
    ) -> None:
        self.store = store
        self.train_data = list(train_data)
        self.val_data = list(val_data) if val_data is not None else None
        self.engine = engine
        self.proxy_url = proxy_url
        self.output_dir = Path(output_dir)
        self.rollout_config = rollout_config or RolloutConfig()
        self.rollout_timeout = rollout_timeout
        self.progress = progress
        self.initial_resources = dict(initial_resources or {})
        self.metrics_history: list[dict[str, Any]] = []
        self.best_resources_id: str | None = None
        self._on_metrics = on_metrics
        self._metric_events: set[asyncio.Task[None]] = set()
        #: where ``log_metrics`` records go; by default only ``metrics.jsonl`` in ``output_dir``
        self.metric_sinks = metric_sinks or MetricSinks(
            [JsonlSink()], run=RunInfo(self.output_dir, self.output_dir.name)
        )

    # -------------------------------------------------------------- resources
    def default_llm(self, **sampling: Any) -> LLM:
        """An LLM resource pointing at the trainer's proxy (and so at its engine)."""
        if self.proxy_url is None:
            raise RuntimeError("this trainer runs no LLM proxy; pass initial_resources with an LLM endpoint")
        model = self.engine.model_name if self.engine is not None else "default"
        version = self.engine.weights_version if self.engine is not None else None
        return LLM(
            endpoint=self.proxy_url,
            model=model,
            sampling_parameters=sampling,
            proxied=True,
            weights_version=version,
        )

    async def publish_resources(self, resources: Mapping[str, Resource]) -> ResourcesUpdate:
        update = await self.store.add_resources(resources)
        log.debug("published resources %s (version %d)", update.resources_id, update.version)
        return update

    # --------------------------------------------------------------- rollouts
    async def run_rollouts(
        self,
        inputs: Sequence[Any],
        *,
        mode: RolloutMode = "train",
        resources_id: str | None = None,
        config: RolloutConfig | None = None,
        metadata: Sequence[dict[str, Any]] | None = None,
        timeout: float | None = None,
        description: str | None = None,
    ) -> list[RolloutOutcome]:
        """Enqueue one rollout per input, wait for them, and return outcomes in input order.

        Rollouts still unfinished after ``timeout`` (default: the trainer's ``rollout_timeout``)
        are cancelled and returned with reward ``None``.
        """
        if not inputs:
            return []
        requests = [
            RolloutRequest(
                input=item,
                mode=mode,
                resources_id=resources_id,
                config=config or self.rollout_config,
                metadata=(metadata[i] if metadata is not None else {}),
            )
            for i, item in enumerate(inputs)
        ]
        rollouts = await self.store.enqueue_rollouts(requests)
        ids = [r.rollout_id for r in rollouts]
        task_id = None
        if self.progress is not None:
            task_id = self.progress.add_task(description or f"{mode} rollouts", total=len(ids))
        try:
            finished = await self._wait(
                ids, timeout if timeout is not None else self.rollout_timeout, task_id
            )
        finally:
            if self.progress is not None and task_id is not None:
                self.progress.remove_task(task_id)
        outcomes = []
        for rid in ids:
            rollout = finished.get(rid)
            if rollout is None:
                rollout = await self.store.cancel_rollout(rid)
            spans = await self.store.query_spans(rid, attempt_id=LATEST) if rollout.num_attempts else []
            # A rollout that did not succeed scores None (counted as 0), whatever partial rewards it emitted.
            reward = final_reward(spans) if rollout.status is RolloutStatus.SUCCEEDED else None
            outcomes.append(RolloutOutcome(rollout, reward, spans))
        return outcomes

    async def _wait(self, ids: list[str], timeout: float | None, task_id: Any) -> dict[str, Rollout]:
        if self.progress is None or task_id is None:
            return {r.rollout_id: r for r in await self.store.wait_for_rollouts(ids, timeout)}
        if self.store.bus is not None:
            return await self._wait_with_events(ids, timeout, task_id)
        deadline = None if timeout is None else time.monotonic() + timeout
        done: dict[str, Rollout] = {}
        pending = list(ids)
        while pending:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            step = 1.0 if left is None else min(1.0, left)
            for rollout in await self.store.wait_for_rollouts(pending, step):
                done[rollout.rollout_id] = rollout
            pending = [rid for rid in pending if rid not in done]
            self.progress.update(task_id, completed=len(done))
            if deadline is not None and time.monotonic() >= deadline:
                break
        return done

    async def _wait_with_events(
        self, ids: list[str], timeout: float | None, task_id: Any
    ) -> dict[str, Rollout]:
        """The store's wait decides when the batch is over; the bus moves the progress bar as
        each rollout finishes, so neither polls."""
        assert self.store.bus is not None and self.progress is not None
        final = {s.value for s in RolloutStatus if s.is_final}
        wanted = set(ids)
        finished: set[str] = set()
        async with self.store.bus.subscribe([Topic.ROLLOUTS]) as subscription:
            waiter = asyncio.ensure_future(self.store.wait_for_rollouts(ids, timeout))
            try:
                while not waiter.done():
                    getter = asyncio.ensure_future(subscription.get())
                    await asyncio.wait({waiter, getter}, return_when=asyncio.FIRST_COMPLETED)
                    if not getter.done():
                        getter.cancel()
                        continue
                    event = getter.result()
                    rollout_id = event.payload.get("rollout_id") if event is not None else None
                    if rollout_id in wanted and event is not None and event.payload.get("status") in final:
                        finished.add(rollout_id)
                        self.progress.update(task_id, completed=len(finished))
            finally:
                if not waiter.done():
                    waiter.cancel()
            done = {r.rollout_id: r for r in waiter.result()}
        self.progress.update(task_id, completed=len(done))
        return done

    async def evaluate(
        self,
        data: Sequence[Any],
        *,
        resources_id: str | None = None,
        mode: RolloutMode = "val",
        description: str | None = None,
    ) -> Evaluation:
        outcomes = await self.run_rollouts(
            data, mode=mode, resources_id=resources_id, description=description or f"{mode} eval"
        )
        return Evaluation.from_outcomes(outcomes)

    # ---------------------------------------------------------------- metrics
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> dict[str, Any]:
        """Record one set of metrics: in the history, in ``metrics.jsonl`` and in every metric sink
        the run has (TensorBoard, MLflow, W&B, ...). Returns the record. A sink that fails is
        reported once and switched off; this call never raises because of one."""
        now = time.time()
        record = {"time": now, **({"step": step} if step is not None else {}), **dict(metrics)}
        self.metrics_history.append(record)
        self.metric_sinks.log_metrics(metrics, step, now)
        if self._on_metrics is not None:
            self._on_metrics(record)
        self._publish_metrics(record)
        return record

    def _publish_metrics(self, record: Mapping[str, Any]) -> None:
        """Send the record's numbers as a ``metrics.logged`` event on the store's bus, so a page on
        the run's server (the dashboard) can plot them live and from the bus's history. Through
        the store's outbox: never waits on, nor fails because of, the bus."""
        if self.store.bus is None:
            return
        payload = {
            k: v
            for k, v in record.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        }
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # logged outside the event loop: the sinks have it, the bus does not
            return
        task = loop.create_task(self.store._publish(Topic.METRICS, EventType.METRICS_LOGGED, payload))
        self._metric_events.add(task)
        task.add_done_callback(self._metric_events.discard)

    def log_config(self, config: Mapping[str, Any]) -> None:
        """Add to the run's configuration in every metric sink (``config.json``, MLflow params,
        W&B config, ...). The Trainer logs its own settings and the algorithm's options at the
        start; an algorithm adds what only it knows (a resolved model path, a resumed step)."""
        self.metric_sinks.log_config(config)


class Algorithm(ABC):
    """Subclass, implement :meth:`run`, register with ``agl_register_algorithms`` (the class itself, or
    a factory function returning an instance: either is called with the user's options)."""

    name: ClassVar[str] = "abstract"

    @abstractmethod
    async def run(self, ctx: TrainerContext) -> AlgorithmResult | None:
        """Train (or evaluate) using ``ctx``; return the best resources and metrics."""


class Baseline(Algorithm):
    """Evaluate only: runs the validation set (or the training set) once with the given or
    latest resources and reports the mean reward. Useful as the "before" of any comparison."""

    name = "baseline"

    def __init__(self, resources: Mapping[str, Resource] | None = None) -> None:
        self.resources = dict(resources) if resources else None

    async def run(self, ctx: TrainerContext) -> AlgorithmResult:
        resources = self.resources or ctx.initial_resources
        if resources:
            resources_id: str | None = (await ctx.publish_resources(resources)).resources_id
        else:
            latest = await ctx.store.get_resources()
            if latest is None and ctx.proxy_url is not None:
                latest = await ctx.publish_resources({"main_llm": ctx.default_llm()})
            resources_id = latest.resources_id if latest is not None else None
        data = ctx.val_data if ctx.val_data else ctx.train_data
        evaluation = await ctx.evaluate(
            data, resources_id=resources_id, mode="val" if ctx.val_data else "train"
        )
        ctx.log_metrics(
            {
                "val/reward_mean": evaluation.mean_reward,
                "val/reward_std": evaluation.std_reward,
                "val/n": evaluation.n,
                "val/failed": evaluation.n_failed,
            },
            step=0,
        )
        ctx.best_resources_id = resources_id
        return AlgorithmResult(
            best_resources_id=resources_id, best_score=evaluation.mean_reward, metrics=ctx.metrics_history
        )
