"""``agl demo``: evaluate, train with GRPO, evaluate again, show the table and the curve.

Everything runs in this process on the embedded defaults: the default store (``open_store()``),
the in-process event bus, the local ``transformers`` engine serving SmolLM2-135M-Instruct, the
LLM proxy, one runner running every rollout of a step at once.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from .config import DEMO_KEYS, ENGINE_KEYS, TASK_DEFAULTS


@click.command()
@click.option(
    "--task",
    type=click.Choice(sorted(TASK_DEFAULTS)),
    default="calc",
    show_default=True,
    help="calc: word problems answered directly; tools: products only the calculate tool gets right.",
)
@click.option("--steps", type=int, default=None, help="GRPO steps [default: the task's, 30].")
@click.option("--output-dir", type=click.Path(path_type=Path), default=None, help="[default: runs/demo]")
@click.option(
    "--threads",
    default="auto",
    show_default=True,
    help="torch CPU threads; auto = the cores the load average leaves free (at least 1).",
)
@click.option("--n-train", type=int, default=None, help="training problems [default: the task's]")
@click.option("--n-val", type=int, default=None, help="held-out problems [default: 100]")
@click.option("--eval-every", type=int, default=None, help="greedy evaluation every N steps [default: 10]")
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seeds the training order and the sampling (the held-out split stays fixed, so runs compare).",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override one GRPO setting (e.g. --set learning_rate=1e-5); repeatable.",
)
@click.option("--resume", is_flag=True, help="Continue from the last checkpoint in --output-dir.")
@click.option(
    "--model", default=None, help="A local model directory or .gguf file (default: SmolLM2-135M-Instruct)."
)
def demo(
    task: str,
    steps: int | None,
    output_dir: Path | None,
    threads: str,
    n_train: int | None,
    n_val: int | None,
    eval_every: int | None,
    seed: int,
    overrides: tuple[str, ...],
    resume: bool,
    model: str | None,
) -> None:
    """Train a calculator agent with GRPO on this CPU and show it getting better (~6 minutes on 2 cores)."""
    import random
    import shutil

    from agentlightning_transformers.compute import configure_openmp

    # Before torch loads: bounded spinning of the OpenMP workers (see compute.py).
    configure_openmp()

    import torch
    from agentlightning_grpo import GRPO
    from agentlightning_transformers import TransformersEngine
    from rich.console import Console

    from agentlightning_core.trainer import Trainer

    from .report import plot, print_table

    n_threads = resolve_threads(threads)
    defaults = TASK_DEFAULTS[task]
    steps = defaults["steps"] if steps is None else steps
    n_train = defaults["n_train"] if n_train is None else n_train
    n_val = defaults["n_val"] if n_val is None else n_val
    eval_every = defaults["eval_every"] if eval_every is None else eval_every
    output_dir = output_dir or Path("runs/demo" if task == "calc" else f"runs/demo-{task}")
    params = {k: v for k, v in defaults.items() if k not in DEMO_KEYS}
    params.update(parse_overrides(overrides))
    engine_options = {k: params.pop(k) for k in ENGINE_KEYS if k in params}

    console = Console(stderr=True)
    started = time.monotonic()
    random.seed(seed)
    torch.manual_seed(seed)
    if output_dir.exists() and not resume:
        shutil.rmtree(output_dir)
    agent, train, val, what = _task(task, n_train, n_val)
    console.print(
        f"[bold]Agent Lightning demo[/bold]: {what}, {len(train)} training / {len(val)} held-out problems, "
        f"GRPO for {steps} steps on {n_threads} CPU thread(s) ({load_text()}), seed {seed}"
    )
    console.print("loading SmolLM2-135M-Instruct (the first run converts the GGUF file once, ~1 min)...")
    engine = TransformersEngine(model, threads=n_threads, **engine_options)
    algorithm = GRPO(
        steps=steps,
        eval_every=eval_every,
        resume=resume,
        threads=n_threads,
        checkpoint_every=10,
        seed=seed,
        **params,
    )
    concurrency = max(int(params["tasks_per_step"]) * int(params["group_size"]), len(val))
    trainer = Trainer(algorithm, engine=engine, n_runners=1, concurrency=concurrency, output_dir=output_dir)
    result = trainer.fit(agent, train, val)
    seconds = time.monotonic() - started
    title = "Calculator agent" if task == "calc" else "Tool-using calculator agent"
    print_table(console, result.metrics, seconds, len(val), seed, title)
    png = plot(result.metrics, output_dir / "reward_curve.png", title)
    summary = {
        "task": task,
        "seed": seed,
        "minutes": round(seconds / 60, 2),
        "threads": n_threads,
        "load_at_end": load_text(),
        "settings": {**params, **engine_options},
    }
    (output_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    console.print(f"metrics: {output_dir / 'metrics.jsonl'}\ncurve:   {png}")


def resolve_threads(threads: str) -> int:
    """``auto``: one torch thread per core that other processes leave free, at least one.

    Why: on a shared machine, two OpenMP threads wait for each other at every one of the ~600
    small matrix products of a decode step, and whenever another process holds one of the cores
    the whole step waits. Measured on this project's 2-core machine at load average 5-7 (other
    engineers' tests): the demo's first held-out evaluation took 259 s on 2 threads and 100 s on
    1 (idle, 2 threads take 23-34 s and are ~40% faster than 1).
    """
    import os

    if threads != "auto":
        try:
            value = int(threads)
        except ValueError:
            raise click.BadParameter(
                f"{threads!r}: expected a number or 'auto'", param_hint="--threads"
            ) from None
        if value < 1:
            raise click.BadParameter(f"{value}: at least 1 thread", param_hint="--threads")
        return value
    cores = os.cpu_count() or 1
    busy = round(os.getloadavg()[0]) if hasattr(os, "getloadavg") else 0
    return max(1, min(cores, cores - busy))


def load_text() -> str:
    import os

    if not hasattr(os, "getloadavg"):
        return "load average unknown"
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f} on {os.cpu_count()} cores"


def _task(task: str, n_train: int, n_val: int) -> tuple[Any, list[Any], list[Any], str]:
    """The agent, the split and a one-line description of a task."""
    if task == "tools":
        from .tools_task import TOOLS_SYSTEM_PROMPT, make_tool_split, tool_agent

        train, val = make_tool_split(n_train, n_val, seed=0)
        return tool_agent, train, val, f"tool-using calculator agent ({TOOLS_SYSTEM_PROMPT!r})"
    from .agent import SYSTEM_PROMPT, calculator_agent
    from .data import make_split

    train, val = make_split(n_train, n_val, seed=0)
    return calculator_agent, train, val, f"calculator agent ({SYSTEM_PROMPT!r} + a calculate tool)"


def parse_overrides(items: tuple[str, ...]) -> dict[str, object]:
    """``("learning_rate=1e-5", "lr_schedule=linear")`` -> typed values (JSON where it parses)."""
    out: dict[str, object] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(
                f"{item!r}: expected KEY=VALUE, e.g. learning_rate=1e-5", param_hint="--set"
            )
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out
