"""The tool task's held-out problems, greedy, as ``agl demo --task tools`` evaluates them, with the
untrained model or a checkpoint's weights: accuracy per shape of problem, how many tool calls
the tool could run, and a few failures, read from the agent's own spans.

Why: a held-out figure says how much was learned; this says what (for instance: products right,
bracketed expressions copied without their brackets, which is what led to the second worked
example).

    .venv/bin/python benchmarks/tool_heldout.py                      # the untrained model
    .venv/bin/python benchmarks/tool_heldout.py runs/demo-tools/checkpoints/step-000030/trainable.safetensors
"""

from __future__ import annotations

import argparse
import collections
import time

import _grpo_common as common


def shape(expression: str) -> str:
    if "(" not in expression:
        return "a * b"
    return "(a + b) * c" if "+" in expression else "(a - b) * c"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "weights", nargs="?", help="a checkpoint's trainable.safetensors (default: untrained)"
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--failures", type=int, default=5, help="failed problems to print")
    args = parser.parse_args()
    print(
        f"# {common.command_line()}  (git {common.git_rev()}, load {common.load_average()} at start)",
        flush=True,
    )

    import torch
    from agentlightning_quickstart.config import TOOLS_DEFAULTS
    from agentlightning_quickstart.tools_task import make_tool_split, tool_agent
    from agentlightning_transformers import TransformersEngine

    from agentlightning_core import Trainer
    from agentlightning_core.algorithm import Algorithm, AlgorithmResult, RolloutOutcome, TrainerContext
    from agentlightning_core.types import semconv

    torch.manual_seed(0)
    train, val = make_tool_split(TOOLS_DEFAULTS["n_train"], TOOLS_DEFAULTS["n_val"], seed=0)
    outcomes: list[RolloutOutcome] = []

    class HeldOut(Algorithm):
        name = "tool-heldout"

        async def run(self, ctx: TrainerContext) -> AlgorithmResult | None:
            assert ctx.engine is not None
            await ctx.engine.start()
            if args.weights:
                await ctx.engine.update_weights(args.weights)
            llm = ctx.default_llm(temperature=0.0, max_tokens=TOOLS_DEFAULTS["max_tokens"])
            update = await ctx.publish_resources({"main_llm": llm})
            started = time.perf_counter()
            outcomes.extend(await ctx.run_rollouts(val, mode="val", resources_id=update.resources_id))
            print(f"{len(outcomes)} held-out rollouts in {time.perf_counter() - started:.0f} s", flush=True)
            return None

    engine = TransformersEngine(threads=args.threads, forced_tokens=TOOLS_DEFAULTS["forced_tokens"])
    Trainer(HeldOut(), engine=engine, n_runners=1, concurrency=128, store="memory://", progress=False).fit(
        tool_agent, train[:1], val[:1]
    )

    right: dict[str, list[float]] = collections.defaultdict(list)
    calls = runnable = 0
    failures: list[str] = []
    for outcome in outcomes:
        task = outcome.rollout.input
        reward = float(outcome.reward or 0.0)
        right[shape(task["expression"])].append(reward)
        tools = [s for s in outcome.spans if s.attributes.get(semconv.SPAN_TYPE) == "tool"]
        calls += len(tools)
        runnable += sum(
            1 for s in tools if not str(s.attributes.get(semconv.TOOL_RESULT, "")).startswith("error")
        )
        if reward < 1.0 and len(failures) < args.failures:
            trace = [
                f"{s.attributes.get(semconv.TOOL_ARGUMENTS)} -> {s.attributes.get(semconv.TOOL_RESULT)}"
                for s in tools
            ]
            failures.append(f"  {task['question']} (answer {task['answer']}): calls {trace or 'none'}")
    n = len(outcomes)
    total = sum(sum(v) for v in right.values())
    print(f"held-out accuracy (greedy): {total / n:.0%} of {n}")
    for name, rewards in sorted(right.items()):
        print(f"  {name}: {sum(rewards):.0f} / {len(rewards)}")
    print(f"tool calls per rollout: {calls / n:.2f}; calls the tool could run: {runnable} of {calls}")
    if failures:
        print("failures:", *failures, sep="\n")
    print(f"(load {common.load_average()} at end)")


if __name__ == "__main__":
    main()
