"""Calc-X-style word problems, generated: each has a question, the expression that solves it and
the answer. Deterministic for a seed, so train/val splits are reproducible without a download.

Two levels. Level 2 (the default) is Calc-X's kind: two or three operations with numbers up to
a few hundred. Level 1 is one operation on small numbers: a 135M model scores 0% at level 2
(every GRPO group is all-zero reward, so there is nothing to learn from) but sometimes solves
level 1, which gives reinforcement learning a signal on a CPU.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from .arithmetic import evaluate, format_number

NAMES = ["Ana", "Bo", "Chen", "Dara", "Eli", "Fatima", "Goran", "Hana", "Ivo", "Jun", "Kofi", "Lena"]

Template = Callable[[random.Random], tuple[str, str]]


def _pencils(r: random.Random) -> tuple[str, str]:
    a, b, c = r.randint(3, 40), r.randint(6, 24), r.randint(1, 50)
    name = r.choice(NAMES)
    return (
        f"{name} buys {a} boxes of pencils with {b} pencils in each box and gives away {c} pencils. "
        "How many pencils are left?",
        f"{a} * {b} - {c}",
    )


def _train(r: random.Random) -> tuple[str, str]:
    a, b, c = r.randint(40, 180), r.randint(2, 9), r.randint(5, 95)
    return (
        f"A train travels at {a} km per hour for {b} hours and then another {c} km. "
        "How many kilometres does it travel in total?",
        f"{a} * {b} + {c}",
    )


def _split(r: random.Random) -> tuple[str, str]:
    friends, share, spent = r.randint(2, 9), r.randint(5, 60), r.randint(3, 90)
    total = spent + friends * share
    name = r.choice(NAMES)
    return (
        f"{name} has {total} dollars, spends {spent} dollars on lunch and splits the rest equally "
        f"among {friends} friends. How many dollars does each friend get?",
        f"({total} - {spent}) / {friends}",
    )


def _garden(r: random.Random) -> tuple[str, str]:
    w, h, p = r.randint(3, 30), r.randint(3, 30), r.randint(2, 12)
    return (
        f"A garden is {w} m wide and {h} m long. Each square metre needs {p} seeds. "
        "How many seeds are needed?",
        f"{w} * {h} * {p}",
    )


def _discount(r: random.Random) -> tuple[str, str]:
    price, pct, qty = r.randint(10, 400), r.choice([5, 10, 15, 20, 25, 30, 40, 50]), r.randint(2, 12)
    return (
        f"A jacket costs {price} dollars and is {pct}% off. How much do {qty} jackets cost after the discount?",
        f"{qty} * {price} * (100 - {pct}) / 100",
    )


def _average(r: random.Random) -> tuple[str, str]:
    scores = [r.randint(40, 100) for _ in range(r.randint(3, 5))]
    name = r.choice(NAMES)
    joined = ", ".join(map(str, scores[:-1])) + f" and {scores[-1]}"
    return (
        f"{name} scored {joined} on {len(scores)} tests. What is the average score?",
        f"({' + '.join(map(str, scores))}) / {len(scores)}",
    )


def _savings(r: random.Random) -> tuple[str, str]:
    weekly, weeks, cost = r.randint(5, 80), r.randint(4, 30), r.randint(20, 300)
    name = r.choice(NAMES)
    return (
        f"{name} saves {weekly} dollars every week for {weeks} weeks, then buys a bike for {cost} dollars. "
        "How many dollars are left?",
        f"{weekly} * {weeks} - {cost}",
    )


def _square(r: random.Random) -> tuple[str, str]:
    side, extra = r.randint(3, 45), r.randint(1, 200)
    return (
        f"A square tile has sides of {side} cm. What is the area of the tile plus {extra} square cm of border?",
        f"{side} ** 2 + {extra}",
    )


TEMPLATES: list[Template] = [_pencils, _train, _split, _garden, _discount, _average, _savings, _square]


def _apples(r: random.Random) -> tuple[str, str]:
    a, b = r.randint(2, 30), r.randint(2, 30)
    name = r.choice(NAMES)
    return f"{name} has {a} apples and buys {b} more. How many apples does {name} have now?", f"{a} + {b}"


def _marbles(r: random.Random) -> tuple[str, str]:
    b = r.randint(2, 25)
    a = b + r.randint(1, 30)
    name = r.choice(NAMES)
    return f"{name} had {a} marbles and lost {b} of them. How many marbles are left?", f"{a} - {b}"


def _cookies(r: random.Random) -> tuple[str, str]:
    a, b = r.randint(2, 9), r.randint(2, 12)
    return f"There are {a} boxes with {b} cookies in each box. How many cookies are there?", f"{a} * {b}"


def _candies(r: random.Random) -> tuple[str, str]:
    k, each = r.randint(2, 8), r.randint(2, 10)
    return (
        f"{k * each} candies are shared equally among {k} children. How many candies does each child get?",
        f"{k * each} / {k}",
    )


def _pages(r: random.Random) -> tuple[str, str]:
    b = r.randint(5, 60)
    a = b + r.randint(5, 90)
    name = r.choice(NAMES)
    return f"A book has {a} pages and {name} has read {b}. How many pages are left to read?", f"{a} - {b}"


ONE_STEP: list[Template] = [_apples, _marbles, _cookies, _candies, _pages]
LEVELS: dict[int, list[Template]] = {1: ONE_STEP, 2: TEMPLATES}


def generate(n: int, seed: int = 0, level: int = 2) -> list[dict[str, Any]]:
    """``n`` distinct problems: ``{"id", "question", "expression", "answer"}`` (answer as text)."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {sorted(LEVELS)}, got {level!r}")
    templates = LEVELS[level]
    r = random.Random(seed)
    seen: set[str] = set()
    problems: list[dict[str, Any]] = []
    while len(problems) < n:
        question, expression = r.choice(templates)(r)
        if question in seen:
            continue
        seen.add(question)
        answer = format_number(evaluate(expression))
        problems.append(
            {
                "id": f"calc-l{level}-{seed}-{len(problems)}"
                if level != 2
                else f"calc-{seed}-{len(problems)}",
                "question": question,
                "expression": expression,
                "answer": answer,
            }
        )
    return problems


def splits(
    train_size: int = 200, val_size: int = 50, seed: int = 0, level: int = 2
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Disjoint train and validation sets."""
    problems = generate(train_size + val_size, seed, level)
    return problems[:train_size], problems[train_size:]
