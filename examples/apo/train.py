"""Optimise the support router's prompt with APO on the local model, then show the result.

    .venv/bin/python examples/apo/train.py [--rounds 2] [--engine transformers]

The held-out test comparison is ``benchmarks/apo_local.py``; this script is the plain recipe.
"""

from __future__ import annotations

import argparse

from agentlightning_apo import APO
from apo_support import INITIAL_PROMPT, load_tickets, route_ticket

from agentlightning_core.trainer import Trainer
from agentlightning_core.types import PromptTemplate


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--engine", default="transformers")
    parser.add_argument("--output", default="runs/apo_example")
    args = parser.parse_args()

    trainer = Trainer(
        algorithm=APO(
            rounds=args.rounds, beam_width=2, branch_factor=2, train_batch_size=8, val_batch_size=10
        ),
        engine=args.engine,
        concurrency=16,
        initial_resources={"router_prompt": PromptTemplate(template=INITIAL_PROMPT)},
        output_dir=args.output,
    )
    result = trainer.fit(route_ticket, load_tickets("train"), load_tickets("val"))

    best = trainer.best_resources()  # the ResourcesUpdate APO judged best
    prompt = best.resources["router_prompt"]
    assert isinstance(prompt, PromptTemplate)
    print(f"val score {result.best_score:.3f} (initial {result.extra['initial_score']:.3f})")
    print("best prompt:\n" + prompt.template)
    print(f"report: {args.output}/apo/report.md")


if __name__ == "__main__":
    main()
