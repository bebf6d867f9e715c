"""Two agents, one system: shared weights vs one LoRA adapter per agent, final vs per-call credit.

Task: "a+b+c" in two steps by two agents of one system. ``solver`` answers "What is a+b?" (its
answer is checked and rewarded on the spot with ``emit_reward``), ``adder`` then answers "What is
<solver's answer>+c?"; the rollout's reward is 1 when the adder's answer equals a+b+c. Operands
0..9 (1,000 tasks; 48 fixed held out). Every run trains LoRA adapters (r 8, alpha 16, all
projections) of SmolLM2-135M-Instruct with the same budget (``--steps`` steps of 2 tasks x 8
rollouts, at most 8 new tokens per call), learning rate ``--lr``:

* ``shared-final``: one adapter answers both agents, the final reward goes to every call;
* ``shared-per_call``: one adapter, each reward goes to the call before it;
* ``adapters-final``: ``adapters={"solver": "solver", "adder": "adder"}``, final reward;
* ``adapters-per_call``: one adapter per agent and per-call credit.

Each configuration runs in a process of its own (peak RSS is that process's). Reported: greedy
held-out accuracy of the whole system before and after, median s/step, peak RSS.

    .venv/bin/python benchmarks/two_agent_credit.py --steps 12 [--seed N]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import sys
import tempfile
from pathlib import Path
from typing import Any

import _grpo_common as common

SYSTEM = "You are a calculator. Reply with only the number."
CONFIGS = ["shared-final", "shared-per_call", "adapters-final", "adapters-per_call"]


def split() -> tuple[list[dict[str, int]], list[dict[str, int]]]:
    tasks = [{"a": a, "b": b, "c": c} for a in range(10) for b in range(10) for c in range(10)]
    random.Random(0).shuffle(tasks)
    return tasks[48:], tasks[:48]


def last_int(text: str | None) -> int | None:
    found = re.findall(r"-?\d+", text or "")
    return int(found[-1]) if found else None


def run_one(name: str, args: argparse.Namespace) -> dict[str, Any]:
    import openai
    from agentlightning_grpo import GRPO
    from agentlightning_transformers import TransformersEngine

    from agentlightning_core import LLM, Trainer, emit_reward, rollout

    @rollout
    async def solve(task: dict[str, int], llm: LLM) -> float:
        client = openai.AsyncOpenAI(
            base_url=llm.endpoint, api_key=llm.api_key_value, max_retries=0, timeout=900
        )

        async def ask(agent: str, question: str) -> int | None:
            r = await client.chat.completions.create(
                model=llm.model,
                messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}],
                extra_headers={"X-AGL-Agent": agent},
                **llm.sampling_parameters,
            )
            return last_int(r.choices[0].message.content)

        partial = await ask("solver", f"What is {task['a']}+{task['b']}?")
        emit_reward(1.0 if partial == task["a"] + task["b"] else 0.0, name="solver")
        total = await ask("adder", f"What is {partial if partial is not None else 0}+{task['c']}?")
        return 1.0 if total == task["a"] + task["b"] + task["c"] else 0.0

    shape, credit = name.split("-")
    lora = {"r": 8, "alpha": 16}
    options: dict[str, Any] = {"lora": lora, "credit": credit}
    if shape == "adapters":
        options["adapters"] = {"solver": "solver", "adder": "adder"}
    train, val = split()
    algo = GRPO(
        steps=args.steps,
        tasks_per_step=2,
        group_size=8,
        max_tokens=8,
        learning_rate=args.lr,
        eval_every=0,
        threads=args.threads,
        seed=args.seed,
        **options,
    )
    engine = TransformersEngine(threads=args.threads, max_batch_size=128)
    out = Path(tempfile.mkdtemp(prefix=f"agl-two-agent-{name}-"))
    trainer = Trainer(
        algo, engine=engine, n_runners=1, concurrency=128, store="memory://", output_dir=out, progress=False
    )
    trainer.fit(solve, train, val)
    metrics = trainer.last_result.metrics if trainer.last_result else []
    accs = [float(m["val/accuracy"]) for m in metrics if "val/accuracy" in m]
    steps = [float(m["time/step_s"]) for m in metrics if "time/step_s" in m]
    return {
        "config": name,
        "val_before": accs[0] if accs else None,
        "val_after": accs[-1] if accs else None,
        "s_per_step_median": common.median(steps),
        "s_per_step_min": min(steps) if steps else None,
        "s_per_step_max": max(steps) if steps else None,
        "train_reward_first3": [m.get("train/reward_mean") for m in metrics if "train/reward_mean" in m][:3],
        "train_reward_last3": [m.get("train/reward_mean") for m in metrics if "train/reward_mean" in m][-3:],
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0, help="GRPO's seed (task order, sampling)")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--only", choices=CONFIGS)
    parser.add_argument("--json-result", action="store_true")
    args = parser.parse_args()
    if args.only:
        result = run_one(args.only, args)
        print(json.dumps(result) if args.json_result else result, flush=True)
        return
    names = args.configs.split(",")
    argv = [a for a in sys.argv[1:]]
    print(
        f"# {common.command_line()}  (git {common.git_rev()}, load {common.load_average()} at start)",
        flush=True,
    )
    results = common.run_sides_apart(names, argv)
    print("| config | held-out before | held-out after | s/step median (min-max) | peak RSS |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['val_before']:.2f} | {r['val_after']:.2f} | {r['s_per_step_median']:.1f} "
            f"({r['s_per_step_min']:.1f}-{r['s_per_step_max']:.1f}) | {r['peak_rss_gb']:.2f} GB |"
        )
    for name, r in results.items():
        print(
            f"# {name}: train reward first 3 steps {r['train_reward_first3']}, last 3 {r['train_reward_last3']}"
        )
    print(f"# load {common.load_average()} at end", flush=True)


if __name__ == "__main__":
    main()
