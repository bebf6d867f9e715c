"""PromptSearch: evaluate each candidate prompt template, keep the one with the best reward."""

from __future__ import annotations

from collections.abc import Sequence

from agentlightning_core import Algorithm, AlgorithmResult, PromptTemplate, TrainerContext


class PromptSearch(Algorithm):
    """Try ``candidates`` (templates with ``{field}`` placeholders) on the training tasks.

    :param candidates: the prompt templates to compare.
    :param resource_name: the name the agent receives the template under.
    """

    name = "prompt_search"

    def __init__(self, candidates: Sequence[str], resource_name: str = "prompt") -> None:
        if not candidates:
            raise ValueError("PromptSearch needs at least one candidate template (candidates=[...])")
        self.candidates = list(candidates)
        self.resource_name = resource_name

    async def run(self, ctx: TrainerContext) -> AlgorithmResult:
        # Keep what the user gave (the LLM, other templates); only the prompt changes.
        base = dict(ctx.initial_resources)
        best_id, best_score = None, float("-inf")
        for step, template in enumerate(self.candidates):
            # 1. publish a resources version: runners fetch exactly this version for these rollouts
            update = await ctx.publish_resources(
                {**base, self.resource_name: PromptTemplate(template=template)}
            )
            # 2. run the agent on every training task with it and wait for the rewards
            evaluation = await ctx.evaluate(
                ctx.train_data,
                resources_id=update.resources_id,
                mode="train",
                description=f"candidate {step + 1}/{len(self.candidates)}",
            )
            # 3. log, and remember the best
            ctx.log_metrics(
                {"train/reward_mean": evaluation.mean_reward, "train/failed": evaluation.n_failed}, step=step
            )
            if evaluation.mean_reward > best_score:
                best_id, best_score = update.resources_id, evaluation.mean_reward

        if ctx.val_data:
            validation = await ctx.evaluate(ctx.val_data, resources_id=best_id, description="validation")
            ctx.log_metrics({"val/reward_mean": validation.mean_reward}, step=len(self.candidates))
            best_score = validation.mean_reward

        ctx.best_resources_id = best_id  # what Trainer.best_resources() returns
        return AlgorithmResult(best_resources_id=best_id, best_score=best_score, metrics=ctx.metrics_history)
