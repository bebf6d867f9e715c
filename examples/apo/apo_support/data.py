"""The tickets: 180 customer messages written for this example, 36 per team, split
60 train / 50 val / 70 test (12 / 10 / 14 per team)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Literal

Split = Literal["train", "val", "test"]


def load_tickets(split: Split | None = None) -> list[dict[str, str]]:
    """Tickets as ``{"id", "split", "label", "request"}`` dicts, in file order."""
    text = resources.files("apo_support").joinpath("data/tickets.jsonl").read_text(encoding="utf-8")
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    if split is not None:
        if split not in ("train", "val", "test"):
            raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
        rows = [r for r in rows if r["split"] == split]
    return rows
