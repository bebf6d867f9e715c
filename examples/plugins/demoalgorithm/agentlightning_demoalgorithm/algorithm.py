"""The ``demoalgorithm`` algorithm: evaluate the initial resources, then each candidate prompt, keep the best.

An algorithm publishes resources, asks for rollouts with them and reads the rewards back; it never
talks to runners, so it works with one in-process runner or many machines. Replace ``run`` with
your training loop (``ctx`` is documented in ``agentlightning_core.algorithm.TrainerContext``).
"""

from __future__ import annotations

from collections.abc import Sequence

from agentlightning_core import Algorithm, AlgorithmResult, PromptTemplate, TrainerContext


class Demoalgorithm(Algorithm):
    """:param prompts: candidate prompt templates published as the ``prompt`` resource."""

    name = "demoalgorithm"

    def __init__(self, prompts: Sequence[str] = ()) -> None:
        self.prompts = list(prompts)

    async def run(self, ctx: TrainerContext) -> AlgorithmResult:
        best_id, best_score = None, float("-inf")
        candidates = [dict(ctx.initial_resources)]
        candidates += [{**ctx.initial_resources, "prompt": PromptTemplate(template=p)} for p in self.prompts]
        for step, resources in enumerate(candidates):
            update = await ctx.publish_resources(resources)
            evaluation = await ctx.evaluate(ctx.train_data, resources_id=update.resources_id, mode="train")
            ctx.log_metrics({"train/reward_mean": evaluation.mean_reward}, step=step)
            if evaluation.mean_reward > best_score:
                best_id, best_score = update.resources_id, evaluation.mean_reward
        ctx.best_resources_id = best_id
        return AlgorithmResult(best_resources_id=best_id, best_score=best_score, metrics=ctx.metrics_history)
