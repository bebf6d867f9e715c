"""Train the ``router`` of a two-agent CrewAI crew with GRPO on the local CPU model.

Two processes, two venvs: this script (the root ``.venv``: the trainer, GRPO, the
``transformers`` engine, the server and LLM proxy) and ``agl runner`` from ``.venv-crewai``
(CrewAI and ``support_crew.py``), which it starts once the server answers. The crew's calls reach
the engine through the proxy; ``agent_match="router"`` keeps only the router's calls in the
samples. Tickets: ``examples/apo``'s 60 train / 50 val support messages.

    make install install-crewai
    .venv/bin/python adapters/crewai/examples/train_support_crew.py --steps 16 --seed 0

It prints greedy held-out accuracy (50 val tickets) before and after, and the time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import time
from pathlib import Path

from apo_support.data import load_tickets

from agentlightning_core.client import HttpStore
from agentlightning_core.trainer import Trainer

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_for_server(url: str, fit: asyncio.Task[object]) -> None:
    async with HttpStore(url) as store:
        while not fit.done():
            try:
                await store.statistics()
                return
            except Exception:
                await asyncio.sleep(0.5)


async def main(args: argparse.Namespace) -> dict[str, object]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    trainer = Trainer(
        algorithm="grpo",
        engine="transformers",
        n_runners=0,
        store="memory://",
        bus="memory",
        port=port,
        output_dir=args.output_dir,
        agent_match="router",
        steps=args.steps,
        tasks_per_step=args.tasks_per_step,
        group_size=8,
        temperature=0.7,
        max_tokens=args.max_tokens,
        learning_rate=args.lr,
        lr_schedule="linear",
        eval_every=args.eval_every,
        seed=args.seed,
    )
    train, val = load_tickets("train"), load_tickets("val")
    started = time.monotonic()
    fit = asyncio.create_task(trainer.fit_async(None, train, val))
    await wait_for_server(url, fit)
    runner_cmd = [
        str(ROOT / args.crewai_venv / "bin" / "agl"),
        "runner",
        "--server",
        url,
        "--agent",
        f"{HERE / 'support_crew.py'}:agent",
        "--concurrency",
        str(max(32, len(val))),
    ]
    env = {**os.environ, "CREWAI_DISABLE_TELEMETRY": "true", "OTEL_SDK_DISABLED": "false"}
    runner = await asyncio.create_subprocess_exec(*runner_cmd, env=env, cwd=ROOT)
    try:
        result = await fit
    finally:
        runner.terminate()
        await asyncio.wait_for(runner.wait(), 30)
    minutes = (time.monotonic() - started) / 60
    evals = [m for m in result.metrics if "val/accuracy" in m]
    summary = {
        "held_out_before": evals[0]["val/accuracy"] if evals else None,
        "held_out_after": evals[-1]["val/accuracy"] if evals else None,
        "held_out_by_step": [(m.get("step"), m["val/accuracy"]) for m in evals],
        "minutes": round(minutes, 1),
        "command": " ".join([sys.executable, *sys.argv]),
        "load_average_end": os.getloadavg()[0],
    }
    print("CREW_SUMMARY " + json.dumps(summary))
    return summary


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--tasks-per-step", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=24, help="per call, the router's and the replier's")
    parser.add_argument(
        "--eval-every", type=int, default=0, help="0: held-out accuracy before and after only"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--crewai-venv", default=".venv-crewai")
    parser.add_argument("--output-dir", default="runs/support_crew")
    asyncio.run(main(parser.parse_args()))
