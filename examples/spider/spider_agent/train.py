"""Run the Spider example.

    python -m spider_agent.train --smoke                 # a few rollouts with the local CPU model
    python -m spider_agent.train --smoke --engine openai --engine-option base_url=http://host:8000/v1
    python -m spider_agent.train                          # full CPU training with GRPO

Training passes ``agent_match=["write", "rewrite"]`` to GRPO: only those nodes' LLM calls become
training triplets; the ``check`` node keeps calling the same model but is not optimised.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from agentlightning_core.trainer import Trainer

from .agent import TRAINED_AGENTS, make_agent
from .data_split import splits


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
    parser.add_argument(
        "--max-turns",
        type=int,
        default=None,
        help="rewrite rounds after the first check (default 2; 1 with --smoke)",
    )
    parser.add_argument("--max-tokens", type=int, default=160, help="completion cap when the LLM sets none")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--reward",
        choices=["match", "shaped"],
        default="match",
        help="match: execution match (1/0); shaped: also 0.1 for a query that runs (a first signal for "
        "a model that rarely writes SQL; accuracy still counts matches only)",
    )
    parser.add_argument("--output-dir", default="runs/spider")
    return parser.parse_args(argv)


def build_trainer(args: argparse.Namespace) -> Trainer:
    """The Trainer each mode runs: ``dev`` only for ``--smoke``; else the algorithm (GRPO) with
    ``agent_match=["write", "rewrite"]`` unless ``--algorithm-option agent_match=...`` says otherwise."""
    if args.smoke:
        return Trainer(
            engine=args.engine,
            engine_options=_options(args.engine_option),
            store="memory://",
            tracer="otel",
            concurrency=args.concurrency,
            output_dir=Path(args.output_dir) / "smoke",
        )
    options = {"agent_match": TRAINED_AGENTS, **_options(args.algorithm_option)}
    return Trainer(
        algorithm=args.algorithm,
        engine=args.engine,
        engine_options=_options(args.engine_option),
        tracer="otel",
        concurrency=args.concurrency,
        output_dir=args.output_dir,
        **options,
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    train, val = splits()
    max_turns = args.max_turns if args.max_turns is not None else (1 if args.smoke else 2)
    agent = make_agent(max_turns, args.max_tokens, args.reward)
    trainer = build_trainer(args)
    if args.smoke:
        report = trainer.dev(agent, val, limit=args.smoke_size, show_spans=False)
        summary: dict[str, Any] = {
            "mode": "smoke",
            "rollouts": len(report.rollouts),
            "succeeded": report.n_succeeded,
            "rewards": report.rewards,
            "agents": [[t.agent_name for t in r.outcome.triplets()] for r in report.rollouts],
        }
    else:
        result = trainer.fit(agent, train, val)
        summary = {"mode": "train", "best_score": result.best_score, "metrics": result.metrics[-3:]}
    print("SPIDER_SUMMARY " + json.dumps(summary, default=str))
    return summary


if __name__ == "__main__":
    main()
