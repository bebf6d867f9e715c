"""Seconds per GRPO step: ours (the full Trainer path) and TRL's GRPOTrainer, in one run.

One step = one group of 8 rollouts of the same prompt, each up to 96 new tokens, then one
optimizer step (full fine-tuning, lr 1e-5, beta 0) on SmolLM2-135M-Instruct, 2 threads. TRL runs
in float32 as configured by the issue; ours runs its defaults (bfloat16 matrix products where the
CPU has them natively, float32 master weights and optimizer state). Each side runs in a process of
its own (see ``_grpo_common.run_sides_apart``).

* ours: ``Trainer(GRPO(...), engine=TransformersEngine())`` — the agent (plain openai client)
  calls the in-process LLM proxy, the runner reports spans to the store, GRPO reads the triplets,
  trains, and swaps the weights into the engine. Generation = the rollouts' wall time; training =
  the learner's step.
* trl: ``trl.GRPOTrainer`` on the same model directory with the same group/lengths/learning rate.

The first step of each is a warm-up and is left out of the medians.

    make bench-deps && .venv/bin/python benchmarks/grpo_step.py --steps 5
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _grpo_common as common

PROMPT = "Write a short story about a robot who learns to paint."
GROUP = 8
MAX_NEW = 96
LR = 1e-5


def story_reward(text: str) -> float:
    """Distinct words / 50: varies between samples, so every group carries a gradient."""
    return len(set(text.split())) / 50.0


def run_ours(steps: int, threads: int, out: Path, lora: int | None = None) -> list[dict[str, Any]]:
    import openai
    from agentlightning_grpo import GRPO
    from agentlightning_transformers import TransformersEngine

    from agentlightning_core import LLM, Trainer, rollout

    @rollout
    async def story_agent(task: dict[str, str], llm: LLM) -> float:
        client = openai.AsyncOpenAI(
            base_url=llm.endpoint, api_key=llm.api_key_value, max_retries=0, timeout=900
        )
        reply = await client.chat.completions.create(
            model=llm.model, messages=[{"role": "user", "content": task["prompt"]}], **llm.sampling_parameters
        )
        return story_reward(reply.choices[0].message.content or "")

    algo = GRPO(
        steps=steps,
        tasks_per_step=1,
        group_size=GROUP,
        max_tokens=MAX_NEW,
        learning_rate=LR,
        eval_before=False,
        eval_after=False,
        eval_every=0,
        threads=threads,
        **({"lora": {"r": lora, "alpha": 2 * lora}} if lora else {}),
    )
    engine = TransformersEngine(threads=threads)
    trainer = Trainer(
        algo, engine=engine, n_runners=1, concurrency=GROUP, store="memory://", output_dir=out, progress=False
    )
    trainer.fit(story_agent, [{"prompt": PROMPT}] * 4)
    rows = []
    for m in trainer.last_result.metrics if trainer.last_result else []:
        if "time/step_s" not in m:
            continue
        gen_tokens = m["perf/generation_tokens_per_s"] * m["time/rollouts_s"]
        rows.append(
            {
                "step_s": m["time/step_s"],
                "gen_s": m["time/rollouts_s"],
                "train_s": m["time/train_s"],
                "gen_tokens": gen_tokens,
                "gen_tok_s": m["perf/generation_tokens_per_s"],
                "train_tok_s": m["perf/train_tokens_per_s"],
            }
        )
    return rows


def run_trl(steps: int, threads: int, out: Path) -> list[dict[str, Any]]:
    trl = common.need_trl()
    import torch
    from agentlightning_transformers.loading import default_model_path
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback

    torch.set_num_threads(threads)
    path = default_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    data = Dataset.from_list([{"prompt": [{"role": "user", "content": PROMPT}]}] * (GROUP * (steps + 2)))

    def reward(completions: list[Any], **_: Any) -> list[float]:
        return [story_reward(c[0]["content"] if isinstance(c, list) else str(c)) for c in completions]

    rows: list[dict[str, Any]] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.t0 = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            rows.append({"step_s": time.perf_counter() - self.t0})

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            if logs and rows and "completions/mean_length" in logs:
                rows[-1]["gen_tokens"] = logs["completions/mean_length"] * GROUP

    args = trl.GRPOConfig(
        output_dir=str(out),
        per_device_train_batch_size=GROUP,
        num_generations=GROUP,
        max_completion_length=MAX_NEW,
        learning_rate=LR,
        beta=0.0,
        temperature=1.0,
        max_steps=steps,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        bf16=False,
        fp16=False,
        seed=0,
        dataloader_num_workers=0,
    )
    trainer = trl.GRPOTrainer(
        model=model,
        reward_funcs=reward,
        args=args,
        train_dataset=data,
        processing_class=tokenizer,
        callbacks=[Clock()],
    )
    trainer.train()
    return rows


def summary(name: str, rows: list[dict[str, Any]]) -> float:
    timed = rows[1:] if len(rows) > 1 else rows
    step = common.median([r["step_s"] for r in timed])
    parts = [f"{name:5s} median {step:6.2f} s/step over {len(timed)} steps"]
    if timed and "gen_s" in timed[0]:
        parts.append(f"generation {common.median([r['gen_s'] for r in timed]):.2f} s")
        parts.append(f"training {common.median([r['train_s'] for r in timed]):.2f} s")
        parts.append(f"gen {common.median([r['gen_tok_s'] for r in timed]):.0f} tok/s")
        parts.append(f"train {common.median([r['train_tok_s'] for r in timed]):.0f} tok/s")
    tokens = [r["gen_tokens"] for r in timed if "gen_tokens" in r]
    if tokens:
        parts.append(f"{common.median(tokens):.0f} new tokens/step")
    print("  ".join(parts), flush=True)
    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", choices=["ours", "trl"], default=None)
    parser.add_argument("--json-result", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--lora",
        type=int,
        default=None,
        help="ours only: train LoRA adapters of this rank (alpha 2r) instead of every weight",
    )
    a = parser.parse_args()
    if a.only is None:  # both sides, each in a process of its own
        print(f"# {common.command_line()}  (git {common.git_rev()}, load {common.load_average()} at start)")
        results = common.run_sides_apart(["ours", "trl"], sys.argv[1:])  # no --only here
        print(
            f"speed-up: {results['trl']['step_s'] / results['ours']['step_s']:.2f}x  "
            f"(load {common.load_average()} at end)"
        )
        return
    if not a.json_result:
        print(f"# {common.command_line()}  (git {common.git_rev()}, load {common.load_average()} at start)")
    with tempfile.TemporaryDirectory() as tmp:
        if a.only == "ours":
            rows = run_ours(a.steps, a.threads, Path(tmp) / a.only, a.lora)
        else:
            rows = run_trl(a.steps, a.threads, Path(tmp) / a.only)
        step = summary(a.only, rows)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    if not a.json_result:
        print(f"peak RSS {peak:.2f} GB  (load {common.load_average()} at end)", flush=True)
    if a.json_result:
        print(json.dumps({"step_s": step}))


if __name__ == "__main__":
    main()
