"""GPU check for the own GRPO trainer: generation tokens/s, s/step full vs LoRA, peak GPU memory.

NOT RUN: written in a session without a GPU (smoke-tested on CPU with ``--tiny``); ready for one.

A randomly initialised model of Qwen2.5-1.5B's shape (28 layers, hidden 1536, GQA 12/2 heads,
vocab 151,936, transformers' default RoPE base; nothing downloaded) is written to a temporary folder in bfloat16, then:

1. **generation**: ``generate_batch`` with the engine's fast decoder, ``--rows`` rows of random
   ``--prompt``-token prompts, ``--new`` tokens each (temperature 1, no stop token), bfloat16;
   again with half the rows on one LoRA adapter and half on another (per-row delta, one batch);
2. **training**: the GRPO ``Learner`` (bf16 autocast, float32 master weights and AdamW) on
   ``--samples`` random samples (prompt ``--prompt``, completion ``--new`` tokens, advantages ±1):
   full fine-tuning, then LoRA r 16 on every projection; one warm-up step, then ``--steps`` timed.

Peak GPU memory (``torch.cuda.max_memory_allocated``) is reset before each part. Results are
printed and written as JSON to ``--out`` (default ``$OUT/gpu_check_grpo.json`` or
``./gpu_check_grpo.json``). Needs torch with CUDA, transformers and peft, and the project's
pure-Python dependencies (pydantic, pluggy, ... as wheels); no install of the project itself:

    PYTHONPATH=.:algorithms/grpo:plugins/transformers python scripts/gpu_check_grpo.py   # ~5 min
    PYTHONPATH=.:algorithms/grpo:plugins/transformers python scripts/gpu_check_grpo.py --tiny  # CPU smoke
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch


def model_config(tiny: bool) -> Any:
    from transformers import Qwen2Config

    if tiny:
        return Qwen2Config(
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            vocab_size=1000,
            tie_word_embeddings=True,
        )
    return Qwen2Config(  # Qwen2.5-1.5B's shape
        hidden_size=1536,
        intermediate_size=8960,
        num_hidden_layers=28,
        num_attention_heads=12,
        num_key_value_heads=2,
        vocab_size=151936,
        max_position_embeddings=32768,
        rms_norm_eps=1e-6,
        tie_word_embeddings=True,
        use_sliding_window=False,
    )


def peak_gb(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    return torch.cuda.max_memory_allocated(device) / 1024**3


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def generation(folder: Path, args: argparse.Namespace, device: torch.device, vocab: int) -> dict[str, Any]:
    from agentlightning_transformers.fast_decode import FastDecoder, supports
    from agentlightning_transformers.generate import SampleRequest, generate_batch
    from agentlightning_transformers.lora import AdapterTable
    from transformers import AutoModelForCausalLM

    reset_peak(device)
    loaded: Any = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.bfloat16)
    model = loaded.to(device).eval()
    decoder = FastDecoder(model) if supports(model) else None
    g = torch.Generator().manual_seed(0)

    def rows(adapters: list[int]) -> list[SampleRequest]:
        return [
            SampleRequest(
                prompt_ids=torch.randint(10, vocab, (args.prompt,), generator=g).tolist(),
                max_new_tokens=args.new,
                temperature=1.0,
                adapter=a,
            )
            for a in adapters
        ]

    def timed(requests: list[SampleRequest], table: AdapterTable | None) -> tuple[float, int]:
        sync(device)
        t0 = time.perf_counter()
        results, _ = generate_batch(
            model, requests, 0, None, decoder, adapters=table.state if table else None
        )
        sync(device)
        return time.perf_counter() - t0, sum(len(r.token_ids) for r in results)

    timed(rows([0] * min(4, args.rows)), None)  # warm-up (kernels, allocator)
    base_s, base_tokens = timed(rows([0] * args.rows), None)
    out: dict[str, Any] = {
        "rows": args.rows,
        "prompt_tokens": args.prompt,
        "new_tokens": args.new,
        "fast_decoder": decoder is not None,
        "base_s": base_s,
        "base_tokens_per_s": base_tokens / base_s,
        "base_peak_gb": peak_gb(device),
    }
    print(
        f"generation (base): {base_tokens} tokens in {base_s:.2f} s = {base_tokens / base_s:.0f} tok/s",
        flush=True,
    )
    table = AdapterTable()
    named = dict(model.named_modules())
    targets = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    for name in ("writer", "checker"):
        modules = {}
        for path, m in named.items():
            if path.endswith(targets):
                o, i = m.weight.shape
                modules[path] = (torch.randn(16, i) * 0.01, torch.randn(o, 16) * 0.01)
        table.load(model, name, modules, 2.0)
    if decoder is not None:
        decoder.refresh()
    reset_peak(device)
    mixed = [table.slots["writer"], table.slots["checker"]] * (args.rows // 2)
    lora_s, lora_tokens = timed(rows(mixed), table)
    out.update(
        {
            "two_adapters_s": lora_s,
            "two_adapters_tokens_per_s": lora_tokens / lora_s,
            "two_adapters_peak_gb": peak_gb(device),
        }
    )
    print(
        f"generation (2 LoRA adapters, rows mixed): {lora_tokens} tokens in {lora_s:.2f} s = "
        f"{lora_tokens / lora_s:.0f} tok/s",
        flush=True,
    )
    return out


def training(
    folder: Path, args: argparse.Namespace, device: torch.device, vocab: int, lora: bool
) -> dict[str, Any]:
    from agentlightning_grpo.config import GRPOConfig
    from agentlightning_grpo.learner import Learner, Sample

    reset_peak(device)
    options: dict[str, Any] = {"lora": {"r": 16, "alpha": 32}} if lora else {}
    cfg = GRPOConfig(
        precision="bf16" if device.type == "cuda" else "fp32",
        micro_batch_size=args.micro_batch,
        learning_rate=1e-5,
        device=device.type,
        **options,
    )
    learner = Learner(folder, cfg, device.type)
    g = torch.Generator().manual_seed(1)
    groups = max(1, args.samples // 8)
    prompts = [torch.randint(10, vocab, (args.prompt,), generator=g).tolist() for _ in range(groups)]
    samples = [
        Sample(
            prompts[i % groups],
            torch.randint(10, vocab, (args.new,), generator=g).tolist(),
            (-1.0) ** i,
            i % groups,
        )
        for i in range(args.samples)
    ]
    learner.train_step(samples)  # warm-up
    times = []
    for _ in range(args.steps):
        sync(device)
        t0 = time.perf_counter()
        learner.train_step(samples)
        sync(device)
        times.append(time.perf_counter() - t0)
    kind = "lora" if lora else "full"
    result = {
        f"{kind}_s_per_step": statistics.median(times),
        f"{kind}_s_per_step_all": times,
        f"{kind}_train_tokens_per_s": args.samples * args.new / statistics.median(times),
        f"{kind}_peak_gb": peak_gb(device),
        f"{kind}_trainable_params": sum(p.numel() for p in learner.params),
    }
    print(
        f"training ({kind}): {statistics.median(times):.2f} s/step (median of {len(times)}: "
        f"{', '.join(f'{t:.2f}' for t in times)}), peak {result[f'{kind}_peak_gb']} GB",
        flush=True,
    )
    del learner
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="a tiny model on the CPU: checks the script runs")
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--prompt", type=int, default=256)
    parser.add_argument("--new", type=int, default=256)
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--micro-batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if args.tiny:
        args.rows, args.prompt, args.new, args.samples, args.steps = 4, 8, 4, 8, 1
    device = torch.device("cuda" if torch.cuda.is_available() and not args.tiny else "cpu")
    started = time.perf_counter()
    cfg = model_config(args.tiny)
    result: dict[str, Any] = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "model": "random init, Qwen2.5-1.5B shape" if not args.tiny else "tiny",
    }
    with tempfile.TemporaryDirectory(prefix="agl-gpu-grpo-") as tmp:
        folder = Path(tmp) / "model"
        from transformers import AutoModelForCausalLM

        torch.manual_seed(0)
        AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16).save_pretrained(str(folder))
        result["params"] = sum(
            p.numel() for p in AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16).parameters()
        )
        result.update(generation(folder, args, device, cfg.vocab_size))
        result.update(training(folder, args, device, cfg.vocab_size, lora=False))
        result.update(training(folder, args, device, cfg.vocab_size, lora=True))
    result["wall_s"] = time.perf_counter() - started
    out = Path(args.out or os.path.join(os.environ.get("OUT", "."), "gpu_check_grpo.json"))
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2), flush=True)


if __name__ == "__main__":
    main()
