"""Peak RSS and seconds of GRPO learner steps on spider-shaped batches, with and without
gradient checkpointing, at equal micro-batch.

Why this shape: the spider run (examples/spider/README.md) peaked at 14.8 GB RSS, and the
learner's activations are most of it. One of its steps trains ~30 calls (2 questions × 8
rollouts × 1.85 trained calls) of ~470 prompt tokens and up to 64 completion tokens, in
micro-batches of 16. This script builds such batches from the spider agent's real prompt length
spread (prompts share a long system prefix: the schema) with random token ids, and runs
``Learner.train_step`` on them: the same code path the algorithm runs, without the engine and the
rollouts around it, so the figure isolates what ``gradient_checkpointing`` changes.

Each side runs in a process of its own (a fresh peak RSS; see ``_grpo_common.run_sides_apart``).

    .venv/bin/python benchmarks/learner_memory.py --steps 3
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import time
from typing import Any

import _grpo_common as common

SIDES = ["default", "checkpointing"]


def spider_samples(n: int, seed: int, vocab: int = 49152) -> list[Any]:
    """``n`` samples: a 380-token shared prefix (system prompt + schema), a 60–160-token question
    tail, a 20–64-token completion; advantages ±1 (a group with variance)."""
    from agentlightning_grpo.learner import Sample

    rng = random.Random(seed)
    prefix = [rng.randrange(vocab) for _ in range(380)]
    out = []
    for i in range(n):
        tail = [rng.randrange(vocab) for _ in range(rng.randint(60, 160))]
        response = [rng.randrange(vocab) for _ in range(rng.randint(20, 64))]
        out.append(Sample(prefix + tail, response, advantage=1.0 if i % 2 else -1.0, group=i // 8))
    return out


def run_side(name: str, steps: int, samples: int, micro_batch: int, threads: int) -> dict[str, Any]:
    import torch
    from agentlightning_grpo.config import GRPOConfig
    from agentlightning_grpo.learner import Learner
    from agentlightning_transformers.loading import default_model_path

    torch.set_num_threads(threads)
    config = GRPOConfig(micro_batch_size=micro_batch, gradient_checkpointing=name == "checkpointing")
    learner = Learner(default_model_path(), config)
    loaded_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    seconds = []
    for step in range(steps):
        batch = spider_samples(samples, seed=step)
        started = time.perf_counter()
        stats = learner.train_step(batch)
        seconds.append(time.perf_counter() - started)
        print(f"  {name}: step {step} {seconds[-1]:.1f} s, {stats.tokens} completion tokens", flush=True)
    return {
        "side": name,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024,
        "rss_after_load_gb": loaded_rss,
        "median_s": statistics.median(seconds[1:] or seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--steps", type=int, default=3, help="learner steps per side (the first is a warm-up)"
    )
    parser.add_argument("--samples", type=int, default=30, help="trained calls per step (spider: ~30)")
    parser.add_argument("--micro-batch", type=int, default=16, help="micro_batch_size, equal on both sides")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", choices=SIDES, default=None)
    parser.add_argument("--json-result", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only:
        result = run_side(args.only, args.steps, args.samples, args.micro_batch, args.threads)
        print(json.dumps(result) if args.json_result else result, flush=True)
        return
    argv = [
        "--steps",
        str(args.steps),
        "--samples",
        str(args.samples),
        "--micro-batch",
        str(args.micro_batch),
    ]
    argv += ["--threads", str(args.threads)]
    load_before = common.load_average()
    results = common.run_sides_apart(SIDES, argv)
    print(
        f"\nlearner steps on spider-shaped batches: {args.samples} calls of ~380+60..160 prompt and 20..64 "
        f"completion tokens, micro-batch {args.micro_batch}, {args.threads} threads, SmolLM2-135M, "
        f"commit {common.git_rev()}, load {load_before} → {common.load_average()}"
    )
    print("| gradient checkpointing | peak RSS | RSS after model load | s/step (median after warm-up) |")
    print("|---|---|---|---|")
    for name in SIDES:
        r = results[name]
        print(
            f"| {'on' if name == 'checkpointing' else 'off'} | {r['peak_rss_gb']:.2f} GB | "
            f"{r['rss_after_load_gb']:.2f} GB | {r['median_s']:.1f} |"
        )
    print(f"reproduce: {common.command_line()}")


if __name__ == "__main__":
    main()
