"""Checkpoints: the trainable weights, the optimizer, and where training stood.

Layout: ``<output_dir>/checkpoints/step-000010/`` holding ``trainable.safetensors`` (with LoRA:
the adapter's matrices only, a few MB), ``optimizer.pt``, ``state.json`` and, with LoRA,
``adapter/`` (the adapter in peft's own layout, which peft and vLLM load as they are). ``state.json`` is written last, so a directory without it is
an interrupted write and is ignored by :func:`latest_checkpoint`.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from .learner import Learner


@dataclass
class TrainState:
    """Where training stands: enough to continue exactly where it stopped."""

    step: int = 0
    weights_version: int = 0
    order: list[int] = field(default_factory=list)
    cursor: int = 0
    epoch: int = 0
    best_val: float | None = None
    metrics_history: list[dict[str, Any]] = field(default_factory=list)


def checkpoint_root(output_dir: Path) -> Path:
    return output_dir / "checkpoints"


def save_checkpoint(output_dir: Path, learner: Learner, state: TrainState, keep: int = 1) -> Path:
    from safetensors.torch import save_file

    root = checkpoint_root(output_dir)
    target = root / f"step-{state.step:06d}"
    tmp = root / f".step-{state.step:06d}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file(learner.trainable_state(), str(tmp / "trainable.safetensors"))
    torch.save(learner.optimizer_state(), tmp / "optimizer.pt")
    if learner.lora:
        learner.model.save_pretrained(str(tmp / "adapter"))
    (tmp / "state.json").write_text(json.dumps(asdict(state), default=str))
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    done = sorted(p for p in root.glob("step-*") if (p / "state.json").exists())
    for old in done[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def latest_checkpoint(output_dir: Path) -> Path | None:
    root = checkpoint_root(output_dir)
    done = sorted(p for p in root.glob("step-*") if (p / "state.json").exists())
    return done[-1] if done else None


def load_checkpoint(path: Path, learner: Learner) -> TrainState:
    from safetensors.torch import load_file

    learner.load_trainable_state(load_file(str(path / "trainable.safetensors")))
    learner.load_optimizer_state(torch.load(path / "optimizer.pt", weights_only=True))
    data = json.loads((path / "state.json").read_text())
    return TrainState(**data)


#: tokenizer and generation files copied next to exported weights (those the base folder has)
_SIDE_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
    "generation_config.json",
    "chat_template.jinja",
)


def export_hf(learner: Learner, target: str | Path, adapter: str | None = None) -> Path:
    """Write the trained policy as a plain Hugging Face model folder: the base model with the
    learner's weights, LoRA adapters merged in (``W + scale·B·A``; with one adapter per agent,
    ``adapter`` names which), plus the base's tokenizer.

    Needs no peft to load: ``AutoModelForCausalLM.from_pretrained(target)`` gives the policy.
    """
    from transformers import AutoModelForCausalLM

    out = Path(target)
    out.mkdir(parents=True, exist_ok=True)
    plain: Any = AutoModelForCausalLM.from_pretrained(
        str(learner.model_path), dtype=torch.float32, local_files_only=True
    )
    state = plain.state_dict()
    with torch.no_grad():
        for name, value in learner.export_weights(adapter).items():
            state[name].copy_(value.to(state[name].device))
    plain.save_pretrained(str(out))
    for name in _SIDE_FILES:
        source = Path(learner.model_path) / name
        if source.exists():
            shutil.copyfile(source, out / name)
    return out
