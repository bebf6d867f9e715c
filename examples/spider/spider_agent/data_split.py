"""Train/validation split of the shipped questions: deterministic, every database in both."""

from __future__ import annotations

import random
from typing import Any

from .sql import load_questions


def splits(val_fraction: float = 0.25, seed: int = 0) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    questions = load_questions()
    random.Random(seed).shuffle(questions)
    cut = int(len(questions) * (1 - val_fraction))
    return questions[:cut], questions[cut:]
