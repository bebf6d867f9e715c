"""The calculator agent: a system prompt, one ``calculate`` tool, the plain ``openai`` client.

Nothing here knows about training: the agent reads its LLM resource (endpoint, model, sampling
parameters), talks to it like to any OpenAI-compatible server, runs the tool when the model asks,
and returns a reward. The trainer's proxy records every call with its token ids.
"""

from __future__ import annotations

import ast
import json
import operator
import re
from typing import Any

from agentlightning_core import rollout
from agentlightning_core.types import LLM

SYSTEM_PROMPT = "You are a calculator. Reply with only the number."

CALCULATE_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "calculate",
        "description": "Evaluate an arithmetic expression such as 3+5 or 12-4 and return the number.",
        "parameters": {
            "type": "object",
            "properties": {"expression": {"type": "string", "description": "e.g. 7+8"}},
            "required": ["expression"],
        },
    },
}

MAX_TURNS = 3

_OPS: dict[type, Any] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


def calculate(expression: str) -> str:
    """The tool: + - * / and parentheses on numbers, nothing else (no ``eval``)."""

    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return float(_OPS[type(node.op)](ev(node.left), ev(node.right)))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
            return float(_OPS[type(node.op)](ev(node.operand)))
        raise ValueError("only numbers, + - * / and parentheses are allowed")

    try:
        value = ev(ast.parse(str(expression), mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError) as exc:
        return f"error: {exc}"
    return str(int(value)) if value == int(value) else f"{value:.6g}"


def last_number(text: str | None) -> int | None:
    """The last integer in the reply (models often restate the sum: "1 + 6 = 7")."""
    found = re.findall(r"-?\d+", text or "")
    return int(found[-1]) if found else None


def score(reply: str | None, answer: int, finished: bool = True) -> float:
    """Reward: 1 when the reply's last integer is the exact answer, else 0. One shaping: a reply
    cut off by the token limit (``finished=False``) scores 0 — it did not answer, and scoring
    wherever the cut fell made the reward noise (measured: see the README)."""
    if not finished:
        return 0.0
    return 1.0 if last_number(reply) == answer else 0.0


def solve(task: dict[str, Any], llm: LLM) -> tuple[str | None, int, bool]:
    """Run the conversation; returns the final reply, the number of LLM calls, and whether the
    reply finished (was not cut off by the token limit)."""
    from openai import OpenAI

    client = OpenAI(base_url=llm.endpoint, api_key=llm.api_key_value, max_retries=0, timeout=600)
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": task["question"]},
    ]
    reply: str | None = None
    calls = 0
    finished = False
    for _ in range(MAX_TURNS):
        response = client.chat.completions.create(
            model=llm.model,
            messages=messages,  # type: ignore[arg-type]
            tools=[CALCULATE_TOOL],  # type: ignore[list-item]
            **llm.sampling_parameters,
        )
        calls += 1
        message = response.choices[0].message
        reply = message.content
        finished = response.choices[0].finish_reason != "length"
        if not message.tool_calls:
            break
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            try:
                args = json.loads(call.function.arguments or "{}")  # type: ignore[union-attr]
                result = calculate(str(args.get("expression", "")))
            except (json.JSONDecodeError, AttributeError):
                result = "error: arguments must be a JSON object with an expression"
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
        reply = None
        finished = False
    return reply, calls, finished


@rollout
def calculator_agent(task: dict[str, Any], llm: LLM) -> float:
    reply, _, finished = solve(task, llm)
    return score(reply, int(task["answer"]), finished)
