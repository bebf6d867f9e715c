"""Time to accuracy on the reference task: ours and TRL's GRPOTrainer side by side, one run.

Task (from issue 3): "What is a+b?" with a, b in 0..15 (256 pairs, shuffled with seed 0; a fixed
100 held out, 156 for training); system prompt "You are a calculator. Reply with only the
number."; reward 1 when the last integer of the reply equals a+b; held-out accuracy is greedy.
Both train SmolLM2-135M-Instruct on 2 threads, 2 prompts x 8 completions per step, at most 24 new
tokens, beta 0; TRL in float32 as the issue configured it, ours with its defaults (bfloat16 matrix
products where the CPU has them natively; float32 weights and optimizer). Each side runs in a
process of its own. The clock counts training only: it is paused while the held-out set
is evaluated, for both. Each run stops at 90% held-out accuracy or at its time budget.

    make bench-deps && .venv/bin/python benchmarks/learning_cpu.py

``--task tools`` (issue 14): the quickstart's tool task (``agl demo --task tools``: products and
two-step expressions only the ``calculate`` tool gets right; the agent is a plain OpenAI client
passing ``tools=[...]``), ours alone. It prints held-out accuracy before -> after, the minutes and
the LLM calls per training rollout (first steps -> last steps; above 1 means the tool is called).
Ours alone: TRL 1.16's GRPOTrainer takes ``tools=``, but its tool loop renders the calls with the
model's chat template and parses them back with a response schema it knows only for a few
templates (Qwen2.5/3/3.5, Llama 3.1/3.2, GLM-4-MoE, gpt-oss: ``trl.chat_template_utils``).
SmolLM2-135M-Instruct's ChatML template renders no tool calls (``supports_tool_calling`` is
false; this project's engine writes the tool list itself), so TRL refuses the task with this
model and no comparison is claimed.

    .venv/bin/python benchmarks/learning_cpu.py --task tools --steps 30 --seed 0
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _grpo_common as common

SYSTEM = "You are a calculator. Reply with only the number."
TARGET = 0.90


def split() -> tuple[list[dict[str, int]], list[dict[str, int]]]:
    pairs = [{"a": a, "b": b} for a in range(16) for b in range(16)]
    random.Random(0).shuffle(pairs)
    return pairs[100:], pairs[:100]


def question(t: dict[str, int]) -> str:
    return f"What is {t['a']}+{t['b']}?"


def reward(reply: str | None, t: dict[str, int]) -> float:
    found = re.findall(r"-?\d+", reply or "")
    return 1.0 if found and int(found[-1]) == t["a"] + t["b"] else 0.0


def run_ours(args: argparse.Namespace, out: Path) -> list[tuple[float, float]]:
    import openai
    from agentlightning_grpo import GRPO
    from agentlightning_transformers import TransformersEngine

    from agentlightning_core import LLM, Trainer, rollout

    @rollout
    async def calc(task: dict[str, int], llm: LLM) -> float:
        client = openai.AsyncOpenAI(
            base_url=llm.endpoint, api_key=llm.api_key_value, max_retries=0, timeout=900
        )
        r = await client.chat.completions.create(
            model=llm.model,
            messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": question(task)}],
            **llm.sampling_parameters,
        )
        return reward(r.choices[0].message.content, task)

    train, val = split()
    algo = GRPO(
        steps=10_000,
        tasks_per_step=2,
        group_size=8,
        max_tokens=24,
        learning_rate=args.lr,
        eval_every=args.eval_every,
        stop_at_accuracy=TARGET,
        time_budget_s=args.budget_min * 60,
        threads=args.threads,
    )
    engine = TransformersEngine(threads=args.threads, max_batch_size=128)
    trainer = Trainer(
        algo, engine=engine, n_runners=1, concurrency=128, store="memory://", output_dir=out, progress=False
    )
    trainer.fit(calc, train, val)
    curve = []
    metrics = trainer.last_result.metrics if trainer.last_result else []
    for m in metrics:
        if "val/accuracy" in m:
            spent = sum(float(x.get("time/step_s", 0.0)) for x in metrics if x.get("step", 0) <= m["step"])
            curve.append((spent, float(m["val/accuracy"])))
    return curve


def run_trl(args: argparse.Namespace, out: Path) -> list[tuple[float, float]]:
    trl = common.need_trl()
    import torch
    from agentlightning_transformers.loading import default_model_path
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback

    torch.set_num_threads(args.threads)
    path = default_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    train, val = split()

    def prompt(t: dict[str, int]) -> list[dict[str, str]]:
        return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question(t)}]

    data = Dataset.from_list([{"prompt": prompt(t), "a": t["a"], "b": t["b"]} for t in train] * 50)

    def rewards(completions: list[Any], a: list[int], b: list[int], **_: Any) -> list[float]:
        return [reward(c[0]["content"], {"a": x, "b": y}) for c, x, y in zip(completions, a, b, strict=True)]

    gen_tok = AutoTokenizer.from_pretrained(path)
    gen_tok.padding_side = "left"
    texts = [gen_tok.apply_chat_template(prompt(t), tokenize=False, add_generation_prompt=True) for t in val]

    def accuracy() -> float:
        model.eval()
        enc = gen_tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            outs = model.generate(
                **enc, max_new_tokens=24, do_sample=False, pad_token_id=gen_tok.pad_token_id
            )
        model.train()
        replies = gen_tok.batch_decode(outs[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
        return sum(reward(r, t) for r, t in zip(replies, val, strict=True)) / len(val)

    curve: list[tuple[float, float]] = []
    clock = {"spent": 0.0, "t0": 0.0}
    eval_every, budget_s = args.eval_every, args.budget_min * 60

    class Eval(TrainerCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            curve.append((0.0, accuracy()))
            clock["t0"] = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            clock["spent"] += time.perf_counter() - clock["t0"]
            if state.global_step % eval_every == 0:
                acc = accuracy()
                curve.append((clock["spent"], acc))
                print(
                    f"  trl  step {state.global_step:4d}  {clock['spent'] / 60:5.1f} min  acc {acc:.2f}",
                    flush=True,
                )
                if acc >= TARGET or clock["spent"] >= budget_s:
                    control.should_training_stop = True
            clock["t0"] = time.perf_counter()

    config = trl.GRPOConfig(
        output_dir=str(out),
        per_device_train_batch_size=16,
        num_generations=8,
        max_completion_length=24,
        learning_rate=1e-5,
        beta=0.0,
        temperature=1.0,
        max_steps=100_000,
        logging_steps=10,
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
        reward_funcs=rewards,
        args=config,
        train_dataset=data,
        processing_class=tokenizer,
        callbacks=[Eval()],
    )
    trainer.train()
    return curve


def run_tools(args: argparse.Namespace, out: Path) -> None:
    """Ours on the tool task: held-out before -> after, minutes, calls per rollout."""
    import torch
    from agentlightning_grpo import GRPO
    from agentlightning_quickstart.config import DEMO_KEYS, ENGINE_KEYS, TOOLS_DEFAULTS
    from agentlightning_quickstart.tools_task import make_tool_split, tool_agent
    from agentlightning_transformers import TransformersEngine

    from agentlightning_core import Trainer

    torch.manual_seed(args.seed)
    train, val = make_tool_split(TOOLS_DEFAULTS["n_train"], TOOLS_DEFAULTS["n_val"], seed=0)
    params = {k: v for k, v in TOOLS_DEFAULTS.items() if k not in DEMO_KEYS}
    engine_options = {k: params.pop(k) for k in ENGINE_KEYS if k in params}
    algo = GRPO(
        steps=args.steps,
        eval_every=args.steps,  # before and after only: the clock is the point
        threads=args.threads,
        seed=args.seed,
        **params,
    )
    engine = TransformersEngine(threads=args.threads, max_batch_size=128, **engine_options)
    trainer = Trainer(
        algo, engine=engine, n_runners=1, concurrency=128, store="memory://", output_dir=out, progress=False
    )
    started = time.perf_counter()
    trainer.fit(tool_agent, train, val)
    minutes = (time.perf_counter() - started) / 60
    metrics = trainer.last_result.metrics if trainer.last_result else []
    vals = [float(m["val/accuracy"]) for m in metrics if "val/accuracy" in m]
    calls = [float(m["train/calls_per_rollout"]) for m in metrics if "train/calls_per_rollout" in m]
    k = min(5, len(calls))
    print(f"tools: held-out before -> after: {vals[0]:.0%} -> {vals[-1]:.0%}  ({len(val)} problems, greedy)")
    print(f"tools: {len(calls)} steps, {minutes:.1f} min (model load and evaluations included)")
    if calls:
        print(f"tools: LLM calls per training rollout {sum(calls[:k]) / k:.2f} -> {sum(calls[-k:]) / k:.2f}")
        # the policy by itself: hinted rollouts (TOOLS_DEFAULTS' hinted_per_group) left out
        plain = [
            float(m["train/unhinted_calls_per_rollout"]) for m in metrics if "train/calls_per_rollout" in m
        ]
        print(f"tools: unhinted rollouts only {sum(plain[:k]) / k:.2f} -> {sum(plain[-k:]) / k:.2f}")


def reached(curve: list[tuple[float, float]]) -> str:
    for spent, acc in curve:
        if acc >= TARGET:
            return f"{spent / 60:.1f}"
    return "not reached"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--lr", type=float, default=2e-5, help="our learning rate (TRL keeps its 1e-5)")
    parser.add_argument("--eval-every", type=int, default=5, help="steps between held-out evaluations")
    parser.add_argument("--budget-min", type=float, default=15.0, help="training minutes before giving up")
    parser.add_argument("--only", choices=["ours", "trl"], default=None)
    parser.add_argument(
        "--task", choices=["add", "tools"], default="add", help="tools: ours alone (see above)"
    )
    parser.add_argument("--steps", type=int, default=30, help="GRPO steps of the tool task")
    parser.add_argument("--seed", type=int, default=0, help="training order and sampling of the tool task")
    parser.add_argument("--json-result", action="store_true", help=argparse.SUPPRESS)
    a = parser.parse_args()
    if not a.json_result:
        print(
            f"# {common.command_line()}  (git {common.git_rev()}, load {common.load_average()} at start)",
            flush=True,
        )
    if a.task == "tools":
        with tempfile.TemporaryDirectory() as tmp:
            run_tools(a, Path(tmp) / "tools")
        print(f"(load {common.load_average()} at end)")
        return
    curves: dict[str, list[tuple[float, float]]] = {}
    if a.only is None:  # both sides, each in a process of its own
        results = common.run_sides_apart(["ours", "trl"], sys.argv[1:])  # no --only here
        curves = {name: [tuple(p) for p in r["curve"]] for name, r in results.items()}
    else:
        with tempfile.TemporaryDirectory() as tmp:
            fn = run_ours if a.only == "ours" else run_trl
            curves[a.only] = fn(a, Path(tmp) / a.only)
        print(f"{a.only}: held-out accuracy vs training minutes", flush=True)
        for spent, acc in curves[a.only]:
            print(f"  {spent / 60:6.2f} min  {acc:5.0%}  {'#' * round(acc * 40)}", flush=True)
        if a.json_result:
            print(json.dumps({"curve": curves[a.only]}), flush=True)
            return
    print(f"(load {common.load_average()} at end)")
    ours = reached(curves["ours"]) if "ours" in curves else "not run"
    trl = reached(curves["trl"]) if "trl" in curves else "not run"
    print(f"time-to-90%: ours {ours} min, trl {trl} min")


if __name__ == "__main__":
    main()
