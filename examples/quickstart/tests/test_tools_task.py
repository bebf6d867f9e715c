"""The tool task's pieces: problems the tool solves, bad calls answered with errors, the plot's band."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import click
import pytest
from agentlightning_quickstart.agent import calculate
from agentlightning_quickstart.cli import parse_overrides
from agentlightning_quickstart.report import group_points, smoothed
from agentlightning_quickstart.tools_task import (
    FEW_SHOT,
    TOOLS_MAX_TURNS,
    hinted,
    make_tool_split,
    run_tool_call,
    solve_with_tools,
    tool_agent,
)

from agentlightning_core.runtime.context import AttemptContext, reset_context, set_context
from agentlightning_core.types import LLM, Attempt, Rollout


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


class ScriptedModel:
    """An OpenAI-compatible endpoint that answers each request with the next scripted message.

    Why not the real engine: the behaviours under test (a model that loops on tool calls, names
    an unknown tool, writes broken JSON) cannot be produced on demand by sampling SmolLM2; what
    is tested is the agent's handling of the OpenAI responses, which this server returns in the
    exact wire format the engine does. The requests it received are kept for the assertions.
    """

    def __init__(self, script: list[dict[str, Any]]) -> None:
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.requests.append(body)
                message = owner.script.pop(0)
                finish = "tool_calls" if message.get("tool_calls") else message.pop("finish", "stop")
                payload = json.dumps(
                    {
                        "id": "chatcmpl-1",
                        "object": "chat.completion",
                        "created": 0,
                        "model": "m",
                        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.llm = LLM(endpoint=f"http://127.0.0.1:{self.server.server_port}/v1", model="m", api_key="x")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def call(name: str, arguments: str) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}
        ],
    }


TASK = {"question": "What is 347 * 29?", "answer": 10063, "expression": "347 * 29"}


def test_a_tool_call_then_the_answer_scores_1_and_sends_the_result_back() -> None:
    model = ScriptedModel(
        [call("calculate", '{"expression": "347*29"}'), {"role": "assistant", "content": "10063"}]
    )
    try:
        assert solve_with_tools(TASK, model.llm) == (1.0, 2, 1, "answered")
    finally:
        model.close()
    assert model.requests[0]["tools"][0]["function"]["name"] == "calculate"
    assert model.requests[1]["messages"][-1] == {"role": "tool", "tool_call_id": "call_1", "content": "10063"}


def test_unknown_tools_and_broken_json_get_error_results_and_the_rollout_goes_on() -> None:
    model = ScriptedModel(
        [call("search", "{}"), call("calculate", "{not json"), {"role": "assistant", "content": "7"}]
    )
    try:
        assert solve_with_tools(TASK, model.llm) == (0.0, 3, 2, "answered")
    finally:
        model.close()
    assert model.requests[1]["messages"][-1]["content"].startswith("error: unknown tool 'search'")
    assert model.requests[2]["messages"][-1]["content"].startswith("error: arguments must be a JSON object")


def test_a_model_that_keeps_calling_tools_stops_at_the_turn_limit_with_reward_0() -> None:
    model = ScriptedModel([call("calculate", '{"expression": "1+1"}')] * TOOLS_MAX_TURNS)
    rollout = Rollout(input=TASK)
    ctx = AttemptContext(rollout=rollout, attempt=Attempt(rollout_id=rollout.rollout_id, sequence=1))
    token = set_context(ctx)
    try:
        assert solve_with_tools(TASK, model.llm) == (0.0, TOOLS_MAX_TURNS, TOOLS_MAX_TURNS, "turn_limit")
    finally:
        reset_context(token)
        model.close()
    assert len(model.requests) == TOOLS_MAX_TURNS
    # the trace says why the reward is 0: three tool spans, then the end with its reason
    spans = ctx.take_pending()
    assert [s.name for s in spans] == ["tool.calculate"] * TOOLS_MAX_TURNS + ["agent.end"]
    assert spans[0].attributes["agentlightning.tool.result"] == "2"
    assert spans[-1].attributes == {"reason": "turn_limit", "turns": 3, "tool_calls": 3, "reward": 0.0}


def test_a_final_reply_cut_off_by_max_tokens_scores_0() -> None:
    model = ScriptedModel([{"role": "assistant", "content": "The answer is 10063", "finish": "length"}])
    try:
        assert solve_with_tools(TASK, model.llm) == (0.0, 1, 0, "cut_off")
    finally:
        model.close()


def answer_then_reply() -> list[dict[str, Any]]:
    return [call("calculate", '{"expression": "347*29"}'), {"role": "assistant", "content": "10063"}]


@pytest.mark.parametrize("hint", [True, False])
def test_a_hinted_rollout_forces_only_its_first_call_and_a_plain_one_forces_none(hint: bool) -> None:
    rollout = Rollout(input=TASK, metadata={"grpo_step": 1, "group": 0, "hint": hint})
    ctx = AttemptContext(rollout=rollout, attempt=Attempt(rollout_id=rollout.rollout_id, sequence=1))
    model = ScriptedModel(answer_then_reply())
    token = set_context(ctx)
    try:
        assert hinted() is hint
        assert tool_agent(TASK, model.llm) == 1.0
    finally:
        reset_context(token)
        model.close()
    first, second = model.requests
    assert first.get("tool_choice") == ("required" if hint else None)
    assert "tool_choice" not in second  # the answer after the tool result is always the model's choice
    # the worked example comes before the question, in plain OpenAI messages
    assert first["messages"][1 : 1 + len(FEW_SHOT)] == FEW_SHOT
    assert first["messages"][-1] == {"role": "user", "content": TASK["question"]}


def test_outside_a_rollout_or_without_the_metadata_there_is_no_hint() -> None:
    assert hinted() is False
    rollout = Rollout(input=TASK)
    token = set_context(
        AttemptContext(rollout=rollout, attempt=Attempt(rollout_id=rollout.rollout_id, sequence=1))
    )
    try:
        assert hinted() is False
    finally:
        reset_context(token)


def test_the_summary_shows_the_unhinted_rollouts_calls_on_their_own() -> None:
    from agentlightning_quickstart.report import print_table
    from rich.console import Console

    def step(i: int, hinted: int, calls: float, plain: float) -> dict[str, Any]:
        return {
            "step": i,
            "time/step_s": 10.0,
            "train/calls_per_rollout": calls,
            "train/hinted_rollouts": hinted,
            "train/unhinted_calls_per_rollout": plain,
        }

    # hinted steps: 16 of 32 rollouts forced their tool call; then the policy calls by itself
    metrics = [step(i, 16, 1.5, 1.0) for i in (1, 2, 3)] + [step(i, 0, 2.0, 2.0) for i in (4, 5, 6)]
    console = Console(record=True, width=120)
    print_table(console, metrics, 60.0, 100, 0, "Tool-using calculator agent")
    text = console.export_text()
    assert "LLM calls per training rollout: 1.70 (first 5 steps) -> 1.80 (last 5)" in text
    assert (
        "unhinted rollouts only (hints in the first 3 steps): 1.40 (first 5 steps) -> 1.60 (last 5)" in text
    )


def test_the_worked_examples_are_neither_training_nor_held_out_problems() -> None:
    train, val = make_tool_split(300, 100, seed=0)
    asked = {m["content"] for m in FEW_SHOT if m["role"] == "user"}
    assert len(asked) == 2  # one product, one bracketed expression
    assert not asked & {t["question"] for t in train + val}
    # each example's tool result is what the tool computes, and the reply copies it
    results = [m["content"] for m in FEW_SHOT if m["role"] == "tool"]
    replies = [m["content"] for m in FEW_SHOT if m["role"] == "assistant" and m["content"]]
    assert results == replies == ["5535", "1750"]
