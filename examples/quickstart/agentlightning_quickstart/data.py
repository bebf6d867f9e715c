"""Arithmetic word problems, generated (no download): a fixed seed gives the same split everywhere.

Each task is ``{"question": str, "answer": int}``. Operands are small (0..15) and the operations
are "gets more" (a + b) and "gives away" (a - b, never negative): the base SmolLM2-135M answers
about a third of them right, so GRPO has signal from the first step, and there is clear room to
improve.
"""

from __future__ import annotations

import random
from typing import Any

NAMES = ["Tom", "Anna", "Ben", "Mia", "Sam", "Lea", "Max", "Zoe"]
ITEMS = ["apples", "books", "coins", "cards", "pens", "stickers", "marbles", "shells"]


def make_problem(a: int, b: int, op: str, name: str, item: str) -> dict[str, Any]:
    if op == "+":
        question = f"{name} has {a} {item} and gets {b} more. How many {item} does {name} have now?"
        return {"question": question, "answer": a + b}
    big, small = max(a, b), min(a, b)
    question = f"{name} has {big} {item} and gives away {small}. How many {item} are left?"
    return {"question": question, "answer": big - small}


def make_split(
    n_train: int = 290, n_val: int = 100, seed: int = 0
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Distinct problems (392 exist), shuffled with ``seed``; the first ``n_val`` are held out."""
    rng = random.Random(seed)
    # a - b is asked as "has max(a, b), gives away min(a, b)": keep each subtraction once, so no
    # held-out problem has its arithmetic twin in the training set.
    keys = [(a, b, "+") for a in range(16) for b in range(16)]
    keys += [(a, b, "-") for a in range(16) for b in range(a + 1)]
    rng.shuffle(keys)
    if n_train + n_val > len(keys):
        raise ValueError(f"n_train + n_val must be at most {len(keys)}, got {n_train + n_val}")
    problems = [
        make_problem(a, b, op, rng.choice(NAMES), rng.choice(ITEMS)) for a, b, op in keys[: n_train + n_val]
    ]
    return problems[n_val:], problems[:n_val]
