"""Run the Calc-X example.

    python -m calc_x.train --smoke                      # a few rollouts with the local CPU model
    python -m calc_x.train --smoke --engine openai --engine-option base_url=http://host:8000/v1
    python -m calc_x.train --algorithm grpo --train-size 200 --val-size 50   # full CPU training

The engine defaults to ``transformers`` (the local CPU engine serving SmolLM2-135M-Instruct);
``openai`` forwards to any OpenAI-compatible server (vLLM, a hosted API, a test double).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from agentlightning_core.trainer import Trainer

from .agent import make_agent
from .calculator import calculator_server
from .data import splits


def _options(pairs: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"option {pair!r} must look like key=value")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--smoke", action="store_true", help="a few rollouts, no training (used by the tests)"
    )
    parser.add_argument("--smoke-size", type=int, default=3)
    parser.add_argument("--engine", default="transformers", help="registered LLM engine name")
    parser.add_argument("--engine-option", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--algorithm", default="grpo")
    parser.add_argument("--algorithm-option", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--train-size", type=int, default=200)
    parser.add_argument("--val-size", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--level",
        type=int,
        choices=[1, 2],
        default=2,
        help="problem difficulty: 2 = Calc-X's two-to-three-step problems, 1 = one step, small numbers",
    )
    parser.add_argument("--max-tokens", type=int, default=160, help="completion cap when the LLM sets none")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--output-dir", default="runs/calc_x")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    train, val = splits(args.train_size, args.val_size, args.seed, args.level)
    with calculator_server() as mcp_url:
        agent = make_agent(mcp_url, args.max_tokens)
        if args.smoke:
            trainer = Trainer(
                engine=args.engine,
                engine_options=_options(args.engine_option),
                store="memory://",
                tracer="otel",
                concurrency=args.concurrency,
                output_dir=Path(args.output_dir) / "smoke",
            )
            report = trainer.dev(agent, val, limit=args.smoke_size, show_spans=False)
            summary: dict[str, Any] = {
                "mode": "smoke",
                "rollouts": len(report.rollouts),
                "succeeded": report.n_succeeded,
                "rewards": report.rewards,
                "llm_calls": [len(r.outcome.triplets()) for r in report.rollouts],
            }
        else:
            trainer = Trainer(
                algorithm=args.algorithm,
                engine=args.engine,
                engine_options=_options(args.engine_option),
                tracer="otel",
                concurrency=args.concurrency,
                output_dir=args.output_dir,
                **_options(args.algorithm_option),
            )
            result = trainer.fit(agent, train, val)
            summary = {"mode": "train", "best_score": result.best_score, "metrics": result.metrics[-3:]}
    print("CALC_X_SUMMARY " + json.dumps(summary, default=str))
    return summary


if __name__ == "__main__":
    main()
