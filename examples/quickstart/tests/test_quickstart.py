"""The quickstart's pieces: its command is registered, its data is fixed, its tool is safe."""

from __future__ import annotations

import re

import click
from agentlightning_quickstart.agent import calculate, last_number, score
from agentlightning_quickstart.data import make_split

from agentlightning_core.plugin_manager import AglPluginManager


def test_demo_command_is_registered_through_the_entry_point() -> None:
    group = click.Group("agl")
    AglPluginManager().add_commands(group)
    assert "demo" in group.commands
    assert "--resume" in [p.opts[0] for p in group.commands["demo"].params]


def test_the_split_is_fixed_and_disjoint() -> None:
    train, val = make_split(290, 100, seed=0)
    again_train, again_val = make_split(290, 100, seed=0)
    assert (train, val) == (again_train, again_val)
    assert len(train) == 290 and len(val) == 100
    assert not {t["question"] for t in train} & {v["question"] for v in val}

    # no arithmetic twin either: the same numbers and operation under another name or item
    def sums(tasks: list[dict[str, object]]) -> set[tuple[str, ...]]:
        return {(*re.findall(r"\d+", str(t["question"])), str("gets" in str(t["question"]))) for t in tasks}

    assert not sums(train) & sums(val)
    assert all(isinstance(t["answer"], int) and t["answer"] >= 0 for t in train + val)
    assert make_split(290, 100, seed=1)[1] != val


def test_the_tool_does_arithmetic_and_nothing_else() -> None:
    assert calculate("7+8") == "15"
    assert calculate("(12 - 4) * 2") == "16"
    assert calculate("7/2") == "3.5"
    assert calculate("1/0").startswith("error")
    assert calculate("__import__('os').system('true')").startswith("error")
    assert calculate("2**10").startswith("error")


def test_the_reward_reads_the_last_integer() -> None:
    assert last_number("1 + 6 = 7") == 7
    assert score("Sam has 11 + 9 = 20 coins now.", 20) == 1.0
    assert score("20 coins, or 21", 20) == 0.0
    assert score(None, 3) == 0.0
    assert score("no number", 0) == 0.0
    assert score("so the answer is 20", 20, finished=False) == 0.0  # cut off by the token limit
