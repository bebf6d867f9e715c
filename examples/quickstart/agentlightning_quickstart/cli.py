"""``agl demo``: evaluate, train with GRPO, evaluate again, show the table and the curve.

Everything runs in this process on the embedded defaults: the default store (``open_store()``),
the in-process event bus, the local ``transformers`` engine serving SmolLM2-135M-Instruct, the
LLM proxy, one runner running every rollout of a step at once.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from .config import DEMO_DEFAULTS


@click.command()
@click.option("--steps", type=int, default=DEMO_DEFAULTS["steps"], show_default=True, help="GRPO steps.")
@click.option("--output-dir", type=click.Path(path_type=Path), default=Path("runs/demo"), show_default=True)
@click.option("--threads", type=int, default=2, show_default=True, help="torch CPU threads.")
@click.option("--n-train", type=int, default=DEMO_DEFAULTS["n_train"], show_default=True)
@click.option("--n-val", type=int, default=DEMO_DEFAULTS["n_val"], show_default=True)
@click.option("--eval-every", type=int, default=DEMO_DEFAULTS["eval_every"], show_default=True)
@click.option("--resume", is_flag=True, help="Continue from the last checkpoint in --output-dir.")
@click.option(
    "--model", default=None, help="A local model directory or .gguf file (default: SmolLM2-135M-Instruct)."
)
def demo(
    steps: int,
    output_dir: Path,
    threads: int,
    n_train: int,
    n_val: int,
    eval_every: int,
    resume: bool,
    model: str | None,
) -> None:
    """Train a calculator agent with GRPO on this CPU and show it getting better (~6 minutes on 2 cores)."""
    import shutil

    from agentlightning_transformers.compute import configure_openmp

    # Before torch loads: bounded spinning of the OpenMP workers (see compute.py).
    configure_openmp()

    from agentlightning_grpo import GRPO
    from agentlightning_transformers import TransformersEngine
    from rich.console import Console

    from agentlightning_core.trainer import Trainer

    from .agent import SYSTEM_PROMPT, calculator_agent
    from .data import make_split
    from .report import plot, print_table

    console = Console(stderr=True)
    started = time.monotonic()
    if output_dir.exists() and not resume:
        shutil.rmtree(output_dir)
    train, val = make_split(n_train, n_val, seed=0)
    console.print(
        f"[bold]Agent Lightning demo[/bold]: calculator agent ({SYSTEM_PROMPT!r} + a calculate tool), "
        f"{len(train)} training / {len(val)} held-out word problems, GRPO for {steps} steps on "
        f"{threads} CPU threads"
    )
    console.print("loading SmolLM2-135M-Instruct (the first run converts the GGUF file once, ~1 min)...")
    engine = TransformersEngine(model, threads=threads)
    params = {k: v for k, v in DEMO_DEFAULTS.items() if k not in ("steps", "n_train", "n_val", "eval_every")}
    algorithm = GRPO(
        steps=steps, eval_every=eval_every, resume=resume, threads=threads, checkpoint_every=10, **params
    )
    concurrency = max(int(params["tasks_per_step"]) * int(params["group_size"]), len(val))
    trainer = Trainer(algorithm, engine=engine, n_runners=1, concurrency=concurrency, output_dir=output_dir)
    result = trainer.fit(calculator_agent, train, val)
    seconds = time.monotonic() - started
    print_table(console, result.metrics, seconds, len(val))
    png = plot(result.metrics, output_dir / "reward_curve.png")
    console.print(f"metrics: {output_dir / 'metrics.jsonl'}\ncurve:   {png}")
