"""The tool task's pieces: problems the tool solves, bad calls answered with errors, the plot's band."""

from __future__ import annotations

import json

import click
import pytest
from agentlightning_quickstart.agent import calculate
from agentlightning_quickstart.cli import parse_overrides
from agentlightning_quickstart.report import group_points, smoothed
from agentlightning_quickstart.tools_task import make_tool_split, run_tool_call


def test_the_tool_split_is_fixed_distinct_and_hard_to_do_in_ones_head() -> None:
    train, val = make_tool_split(300, 100, seed=0)
    assert (train, val) == make_tool_split(300, 100, seed=0)
    assert len(train) == 300 and len(val) == 100
    assert not {t["expression"] for t in train} & {v["expression"] for v in val}
    for problem in train + val:
        assert calculate(problem["expression"]) == str(problem["answer"])
        assert problem["answer"] >= 100  # at least three digits: no single-digit guessing
        assert problem["question"] == f"What is {problem['expression']}?"


def test_bad_tool_calls_come_back_as_error_strings_never_exceptions() -> None:
    assert run_tool_call("calculate", json.dumps({"expression": "347 * 29"})) == "10063"
    assert run_tool_call("search", "{}").startswith("error: unknown tool 'search'")
    assert run_tool_call("", "{not json").startswith("error: unknown tool")
    assert run_tool_call("calculate", "{not json").startswith("error: arguments must be a JSON object")
    assert run_tool_call("calculate", '{"expr": "1+1"}').startswith("error: arguments must be")
    assert run_tool_call("calculate", "[1, 2]").startswith("error: arguments must be")
    assert run_tool_call("calculate", None).startswith("error: arguments must be")
    assert run_tool_call("calculate", '{"expression": "2**100"}').startswith("error")


def test_group_means_make_a_smoothed_curve_with_a_standard_error_band() -> None:
    metrics = [
        {"step": 1, "train/group_reward_means": [0.0, 0.5]},
        {"step": 2, "train/group_reward_means": [1.0, 0.5]},
        {"step": 3, "train/reward_mean": 0.25},  # an older record without group means
    ]
    points = group_points(metrics)
    assert points == [(1, 0.0), (1, 0.5), (2, 1.0), (2, 0.5), (3, 0.25)]
    curve = smoothed(points, window=2)
    assert curve[0] == (1, 0.25, pytest.approx(0.25))  # mean 0.25, sd 0.354, se 0.354 / sqrt(2)
    step, mean, se = curve[1]  # steps 1-2: 0, .5, 1, .5
    assert (step, mean) == (2, 0.5) and se == pytest.approx((1 / 6) ** 0.5 / 2)
    assert curve[2][:2] == (3, pytest.approx(0.5833333))  # steps 2-3: 1, .5, .25


def test_set_overrides_are_typed_and_a_missing_equals_sign_is_named() -> None:
    assert parse_overrides(("learning_rate=1e-5", "lr_schedule=linear", "tasks_per_step=4")) == {
        "learning_rate": 1e-5,
        "lr_schedule": "linear",
        "tasks_per_step": 4,
    }
    with pytest.raises(click.BadParameter, match="KEY=VALUE"):
        parse_overrides(("learning_rate",))
