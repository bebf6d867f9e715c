"""The untrained model on the demo's tasks: how often its samples are right, call the tool, and
how many GRPO groups would carry no signal, per temperature.

Why: GRPO learns only from groups whose rollouts disagree; this shows, before any training,
how many of a step's groups would (issue 14's "why does the gain vary"). Temperature 0 is greedy.

    .venv/bin/python benchmarks/demo_probe.py --task calc --problems 16 --temperatures 0.5,0.7,1.0
    .venv/bin/python benchmarks/demo_probe.py --task tools --problems 24 --temperatures 0,1.0
"""

from __future__ import annotations

import argparse
import collections
import time
from typing import Any

import _grpo_common as common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", choices=["calc", "tools"], default="calc")
    parser.add_argument("--problems", type=int, default=16, help="training problems, 8 samples each")
    parser.add_argument("--temperatures", default="0.5,0.7,1.0")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--few-shot", action="store_true", help="tools: one worked example before the question"
    )
    args = parser.parse_args()
    print(
        f"# {common.command_line()}  (git {common.git_rev()}, load {common.load_average()} at start)",
        flush=True,
    )

    from agentlightning_transformers.compute import configure_openmp

    configure_openmp()
    import torch
    from agentlightning_quickstart.agent import score, solve
    from agentlightning_quickstart.data import make_split
    from agentlightning_quickstart.tools_task import make_tool_split, solve_with_tools
    from agentlightning_transformers import TransformersEngine

    from agentlightning_core import LLM, Trainer, rollout
    from agentlightning_core.algorithm import Algorithm, AlgorithmResult, TrainerContext

    torch.manual_seed(0)
    train: list[dict[str, Any]] = (
        make_split(290, 100, 0) if args.task == "calc" else make_tool_split(300, 100, 0)
    )[0]
    temperatures = [float(t) for t in args.temperatures.split(",")]
    #: temperature -> question -> [(reward, llm calls, tool calls)]
    seen: dict[float, dict[str, list[tuple[float, int, int]]]] = collections.defaultdict(dict)

    @rollout
    def probe(task: dict[str, Any], llm: LLM) -> float:
        temperature = float(llm.sampling_parameters.get("temperature", 1.0))
        if args.task == "calc":
            reply, calls, finished = solve(task, llm)
            result = (score(reply, int(task["answer"]), finished), calls, calls - 1)
        else:
            reward, calls, tools, _ = solve_with_tools(task, llm, few_shot=args.few_shot)
            result = (reward, calls, tools)
        seen[temperature].setdefault(task["question"], []).append(result)
        return result[0]

    class Probe(Algorithm):
        name = "probe"

        async def run(self, ctx: TrainerContext) -> AlgorithmResult | None:
            assert ctx.engine is not None
            await ctx.engine.start()
            for t in temperatures:
                update = await ctx.publish_resources(
                    {"main_llm": ctx.default_llm(temperature=t, max_tokens=48)}
                )
                data = [x for x in train[: args.problems] for _ in range(8)]
                started = time.perf_counter()
                await ctx.evaluate(data, resources_id=update.resources_id)
                groups = seen[t]
                results = [r for g in groups.values() for r in g]
                flat = sum(1 for g in groups.values() if len({r for r, _, _ in g}) == 1)
                print(
                    f"T={t}: {len(groups)} problems x 8: right {sum(r for r, _, _ in results) / len(results):.1%}, "
                    f"rollouts calling the tool {sum(1 for _, _, k in results if k > 0) / len(results):.1%}, "
                    f"LLM calls per rollout {sum(c for _, c, _ in results) / len(results):.2f}, "
                    f"all-equal groups {flat}/{len(groups)} ({time.perf_counter() - started:.0f} s)",
                    flush=True,
                )
            return None

    engine = TransformersEngine(threads=args.threads)
    Trainer(Probe(), engine=engine, n_runners=1, concurrency=128, store="memory://", progress=False).fit(
        probe, train, train[:1]
    )
    print(f"(load {common.load_average()} at end)")


if __name__ == "__main__":
    main()
