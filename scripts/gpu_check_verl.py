"""GPU check for agentlightning-verl: VERL's actor update on a randomly initialised model, on CUDA.

NOT RUN HERE: written on a machine without a GPU; it is ready for a machine that has one.

Part 1 (needs torch with CUDA, transformers, VERL 0.9.1 importable — no Ray, no vLLM, no network):
batches in the exact layout ``agentlightning_verl.batch.build_batch`` produces (the span-to-batch
path itself is tested on CPU), VERL's driver transforms (``left_right_2_no_padding``), VERL's PPO
loss (``verl.workers.utils.losses.ppo_loss``) with VERL's typed actor config, on a random Llama of
``--hidden``/``--layers`` in bfloat16 under ``torch.autocast``, AdamW, ``--steps`` updates. It prints
and writes (``--out``, default ``$OUT/gpu_check_verl.json`` or ``./gpu_check_verl.json``): loss per
step, train tokens/s, peak GPU memory, and whether log-probs of positive-advantage responses rose.

Part 2 (``--e2e MODEL``; needs the full stack of scripts/setup_stable_gpu.sh and the model on disk or
the hub): two VERL steps of the calc_x example through runners, proxy and VERL's vLLM replicas —
``python -m calc_x.train --algorithm verl --engine vllm`` with a small config — and checks that
metrics.jsonl has two steps.

    python scripts/gpu_check_verl.py                       # part 1, ~1 min on one GPU
    python scripts/gpu_check_verl.py --e2e Qwen/Qwen2.5-0.5B-Instruct
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def random_samples(n_groups: int, group: int, vocab: int, prompt: int, response: int, seed: int) -> list[Any]:
    import random

    from agentlightning_verl.batch import CallSample

    rng = random.Random(seed)
    samples = []
    for g in range(n_groups):
        rewards = [float(rng.random() < 0.5) for _ in range(group)]
        if len(set(rewards)) == 1:
            rewards[0] = 1.0 - rewards[0]
        mean = sum(rewards) / group
        std = (sum((r - mean) ** 2 for r in rewards) / (group - 1)) ** 0.5
        shared = [rng.randrange(3, vocab) for _ in range(prompt)]
        for k, r in enumerate(rewards):
            for call in range(2):  # two calls per rollout, as a multi-turn agent makes
                n_r = rng.randrange(response // 2, response + 1)
                samples.append(
                    CallSample(
                        prompt_ids=shared + [rng.randrange(3, vocab) for _ in range(call * 16)],
                        response_ids=[rng.randrange(3, vocab) for _ in range(n_r)],
                        response_logprobs=None,
                        reward=r,
                        uid=f"g{g}",
                        rollout_id=f"r{g}-{k}",
                        span_id=f"s{g}-{k}-{call}",
                        agent_name="solver",
                        call_index=call,
                        advantage=(r - mean) / (std + 1e-6),
                    )
                )
    return samples


def part1(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from agentlightning_verl import VERLConfig, compose_verl_config
    from agentlightning_verl.batch import build_batch
    from transformers import LlamaConfig, LlamaForCausalLM
    from verl.utils import tensordict_utils as tu
    from verl.utils.config import omega_conf_to_dataclass
    from verl.workers.utils.losses import ppo_loss
    from verl.workers.utils.padding import left_right_2_no_padding, no_padding_2_padding

    device = torch.device(args.device)
    cuda = device.type == "cuda"
    assert not cuda or torch.cuda.is_available(), (
        "part 1 needs a CUDA GPU (--device cpu checks the script only)"
    )
    torch.manual_seed(args.seed)
    config = LlamaConfig(
        vocab_size=args.vocab,
        hidden_size=args.hidden,
        intermediate_size=args.hidden * 4,
        num_hidden_layers=args.layers,
        num_attention_heads=max(args.hidden // 64, 1),
        num_key_value_heads=max(args.hidden // 256, 1),
        max_position_embeddings=8192,
    )
    model = LlamaForCausalLM(config).to(device)
    with tempfile.TemporaryDirectory() as folder:
        model.config.save_pretrained(folder)
        actor_cfg = omega_conf_to_dataclass(
            compose_verl_config(VERLConfig(model_path=folder), Path(folder) / "run").actor_rollout_ref.actor
        )
    samples = random_samples(args.groups, args.group_size, args.vocab, args.prompt, args.response, args.seed)
    batch = build_batch(samples, pad_token_id=0, pad_to_multiple=8)

    def log_probs(td: Any) -> Any:
        ids, pos = td["input_ids"], td["position_ids"]
        offsets = ids.offsets()
        values, positions = ids.values().to(device), pos.values().to(device)
        out = []
        for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True):
            x = values[a:b]
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
                logits = model(input_ids=x[None], position_ids=positions[a:b][None]).logits[0]
            out.append(torch.log_softmax(logits.float(), -1).gather(-1, torch.roll(x, -1)[:, None])[:, 0])
        return torch.nested.nested_tensor_from_jagged(torch.cat(out).cpu(), offsets=offsets)

    def response_sums() -> Any:
        with torch.no_grad():
            td = left_right_2_no_padding(batch.to_tensordict())
            return (no_padding_2_padding(log_probs(td), td) * batch.batch["response_mask"]).sum(-1)

    before = response_sums()
    with torch.no_grad():
        td0 = left_right_2_no_padding(batch.to_tensordict())
        batch.batch["old_log_probs"] = no_padding_2_padding(log_probs(td0), td0)
    td = left_right_2_no_padding(batch.to_tensordict())
    tu.assign_non_tensor(
        td, dp_size=1, batch_num_tokens=int(td["loss_mask"].sum()), global_batch_size=len(batch)
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    losses, times = [], []
    tokens = int(batch.batch["attention_mask"].sum())
    for _ in range(args.steps):
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        optimizer.zero_grad()
        loss, _metrics = ppo_loss(actor_cfg, {"log_probs": log_probs(td)}, td)
        loss.backward()
        optimizer.step()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
        losses.append(loss.item())
    delta = response_sums() - before
    adv = batch.batch["advantages"][:, 0]
    return {
        "part": 1,
        "device": torch.cuda.get_device_name(0) if cuda else "cpu (script check only)",
        "torch": torch.__version__,
        "params_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 1),
        "samples": len(batch),
        "tokens_per_step": tokens,
        "losses": losses,
        "step_s_median": sorted(times)[len(times) // 2],
        "train_tokens_per_s": tokens / (sorted(times)[len(times) // 2]),
        "peak_gpu_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
        "positive_adv_logprob_delta": float(delta[adv > 0].mean()),
        "negative_adv_logprob_delta": float(delta[adv < 0].mean()),
        "policy_moved_right_way": bool(delta[adv > 0].mean() > 0 > delta[adv < 0].mean()),
    }


def part2(model: str, out_dir: Path) -> dict[str, Any]:
    cfg = out_dir / "verl_e2e.yaml"
    cfg.write_text(
        "\n".join(
            [
                f"model_path: {model}",
                "tasks_per_step: 4",
                "group_size: 2",
                "ppo_mini_batch_size: 4",
                "micro_batch_size_per_gpu: 2",
                "steps: 2",
                "max_prompt_length: 2048",
                "max_response_length: 512",
                "eval_every: 0",
                "eval_before: false",
                "checkpoint_every: 2",
                "gpu_memory_utilization: 0.4",
            ]
        )
    )
    run = out_dir / "calc_x_e2e"
    cmd = [
        sys.executable, "-m", "calc_x.train", "--algorithm", "verl", "--engine", "vllm",
        "--algorithm-option", f"config_file={cfg}", "--train-size", "16", "--val-size", "4",
        "--concurrency", "16", "--output-dir", str(run),
    ]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    metrics = (
        [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        if (run / "metrics.jsonl").exists()
        else []
    )
    return {
        "part": 2,
        "command": " ".join(cmd),
        "returncode": proc.returncode,
        "seconds": round(time.perf_counter() - t0, 1),
        "steps_logged": sorted({m.get("step") for m in metrics if "agl/samples" in m}),
        "hf_export": (run / "hf" / "config.json").exists(),
        "stderr_tail": proc.stderr[-3000:],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--groups", type=int, default=8)
    parser.add_argument("--group-size", type=int, default=4)
    parser.add_argument("--prompt", type=int, default=512)
    parser.add_argument("--response", type=int, default=256)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--lr", type=float, default=1e-5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cuda", help="cpu: check this script's logic only (tiny sizes)")
    parser.add_argument("--e2e", metavar="MODEL", default=None)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    out = Path(args.out or Path(os.environ.get("OUT", ".")) / "gpu_check_verl.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    results = [part1(args)]
    print(json.dumps(results[0], indent=2), flush=True)
    if args.e2e:
        results.append(part2(args.e2e, out.parent))
        print(json.dumps(results[1], indent=2), flush=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
