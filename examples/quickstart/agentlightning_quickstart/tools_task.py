"""``agl demo --task tools``: arithmetic the 135M model cannot do in its head, and a tool that can.

The problems are multi-digit products and two-step expressions ("What is 347 * 29?",
"What is (58 + 267) * 7?"): SmolLM2-135M answering from its weights gets almost none right, the
``calculate`` tool gets every one right. So the only way to a reward is to call the tool with the
right expression and then copy its result into the reply, which is what GRPO has to teach.

The agent is a plain ``openai`` client passing ``tools=[CALCULATE_TOOL]``; how the tool list and
calls are written for the model is the engine's business (SmolLM2's ChatML template has no tool
format, so the transformers engine uses its documented ``<tool_call>`` text protocol and returns
OpenAI ``tool_calls``). Every LLM call of a rollout — the tool call and the final answer — is
recorded by the trainer's proxy with its own token ids and trained as its own sample.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any

from agentlightning_core import rollout
from agentlightning_core.runtime.context import current_context
from agentlightning_core.types import LLM, Span, semconv

from .agent import CALCULATE_TOOL, calculate, last_number

TOOLS_SYSTEM_PROMPT = (
    "You are a calculator assistant. Use the calculate tool to compute the answer, "
    "then reply with only the number."
)

#: A conversation turn limit: an agent that keeps calling tools is stopped here and scores 0.
TOOLS_MAX_TURNS = 3

#: What the tool answers when the model's call cannot be run.
UNKNOWN_TOOL = "error: unknown tool {name!r}; the only tool is 'calculate'"
BAD_ARGUMENTS = 'error: arguments must be a JSON object like {{"expression": "12*34"}}, got {raw!r}'


def make_tool_problem(rng: random.Random) -> dict[str, Any]:
    """One problem: a 3-digit x 2-digit product, or a sum/difference then a product."""
    kind = rng.randrange(3)
    if kind == 0:
        a, b = rng.randint(101, 999), rng.randint(11, 99)
        expression = f"{a} * {b}"
    elif kind == 1:
        a, b, c = rng.randint(11, 99), rng.randint(101, 499), rng.randint(3, 19)
        expression = f"({a} + {b}) * {c}"
    else:
        a, b, c = rng.randint(301, 999), rng.randint(11, 299), rng.randint(3, 19)
        expression = f"({a} - {b}) * {c}"
    answer = int(calculate(expression))
    return {"question": f"What is {expression}?", "answer": answer, "expression": expression}


def make_tool_split(
    n_train: int = 300, n_val: int = 100, seed: int = 0
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Distinct problems, fixed by ``seed``; the first ``n_val`` are held out."""
    rng = random.Random(seed)
    seen: set[str] = set()
    problems: list[dict[str, Any]] = []
    while len(problems) < n_train + n_val:
        problem = make_tool_problem(rng)
        if problem["expression"] not in seen:
            seen.add(problem["expression"])
            problems.append(problem)
    return problems[n_val:], problems[:n_val]


def run_tool_call(name: str, raw_arguments: str | None) -> str:
    """The tool result the model gets back: the value, or an error string it can read.

    Bad calls never raise: an unknown tool name or arguments that are not a JSON object with an
    ``expression`` come back as an ``error: ...`` result and the conversation goes on.
    """
    if name != "calculate":
        return UNKNOWN_TOOL.format(name=name)
    try:
        args = json.loads(raw_arguments or "{}")
    except json.JSONDecodeError:
        return BAD_ARGUMENTS.format(raw=raw_arguments)
    if not isinstance(args, dict) or "expression" not in args:
        return BAD_ARGUMENTS.format(raw=raw_arguments)
    return calculate(str(args["expression"]))


def record(name: str, attributes: dict[str, Any]) -> None:
    """A span in the rollout's trace (when running inside one), so a score can be explained."""
    ctx = current_context()
    if ctx is None:
        return
    now = time.time()
    ctx.record_span(
        Span(
            rollout_id=ctx.rollout_id,
            attempt_id=ctx.attempt_id,
            name=name,
            start_time=now,
            end_time=now,
            attributes=attributes,
        )
    )


def worked_example(question: str, expression: str, call_id: str) -> list[dict[str, Any]]:
    """One solved problem as OpenAI messages: the question, the tool call, its result, the reply."""
    result = calculate(expression)
    return [
        {"role": "user", "content": question},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": "calculate", "arguments": json.dumps({"expression": expression})},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "content": result},
        {"role": "assistant", "content": result},
    ]


#: Two worked examples in plain OpenAI messages (the engine renders them in its own tool format),
#: one per shape of problem. With the product alone, a trained model copied
#: "(639 - 252) * 6" as "639 * 6": 38 of 38 products right and 0 of 62 bracketed problems
#: (README, *Measured*); the same weights with both examples in the prompt scored 88%.
FEW_SHOT: list[dict[str, Any]] = [
    *worked_example("What is 123 * 45?", "123 * 45", "call_example"),
    *worked_example("What is (36 + 214) * 7?", "(36 + 214) * 7", "call_example_2"),
]


def hinted() -> bool:
    """Whether the running rollout carries a hint: its metadata says ``{"hint": true}`` (GRPO's
    ``hinted_per_group`` sets it on some training rollouts; validation rollouts never have it)."""
    ctx = current_context()
    return bool(ctx is not None and ctx.rollout.metadata.get("hint"))


def solve_with_tools(
    task: dict[str, Any], llm: LLM, few_shot: bool = False, hint: bool = False
) -> tuple[float, int, int, str]:
    """Run the conversation. Returns (reward, LLM calls, tool calls, why it ended).

    ``why`` is ``answered``, ``cut_off`` (the final reply hit ``max_tokens``: reward 0, as in the
    calculator demo) or ``turn_limit`` (still calling tools after ``TOOLS_MAX_TURNS`` LLM calls:
    reward 0). ``hint``: the first call asks for a tool call with ``tool_choice="required"`` (the
    engine then writes the call's start and the model only the expression); later calls are
    always ``auto``.
    """
    from openai import OpenAI

    client = OpenAI(base_url=llm.endpoint, api_key=llm.api_key_value, max_retries=0, timeout=600)
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": TOOLS_SYSTEM_PROMPT},
        *(FEW_SHOT if few_shot else []),
        {"role": "user", "content": task["question"]},
    ]
    answer = int(task["answer"])
    tool_calls = 0
    for turn in range(1, TOOLS_MAX_TURNS + 1):
        choice_arg: dict[str, Any] = {"tool_choice": "required"} if hint and turn == 1 else {}
        response = client.chat.completions.create(
            model=llm.model,
            messages=messages,  # type: ignore[arg-type]
            tools=[CALCULATE_TOOL],  # type: ignore[list-item]
            **choice_arg,
            **llm.sampling_parameters,
        )
        choice = response.choices[0]
        message = choice.message
        if not message.tool_calls:
            if choice.finish_reason == "length":
                record("agent.end", {"reason": "cut_off", "turns": turn, "tool_calls": tool_calls})
                return 0.0, turn, tool_calls, "cut_off"
            reward = 1.0 if last_number(message.content) == answer else 0.0
            record(
                "agent.end",
                {"reason": "answered", "turns": turn, "tool_calls": tool_calls, "reward": reward},
            )
            return reward, turn, tool_calls, "answered"
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            name = getattr(getattr(call, "function", None), "name", "") or ""
            raw = getattr(getattr(call, "function", None), "arguments", None)
            result = run_tool_call(name, raw)
            tool_calls += 1
            record(
                "tool.calculate" if name == "calculate" else "tool.unknown",
                {
                    semconv.SPAN_TYPE: "tool",
                    semconv.GEN_AI_TOOL_NAME: name,
                    semconv.GEN_AI_TOOL_CALL_ID: call.id,
                    semconv.TOOL_ARGUMENTS: raw,
                    semconv.TOOL_RESULT: result,
                },
            )
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
    record(
        "agent.end",
        {"reason": "turn_limit", "turns": TOOLS_MAX_TURNS, "tool_calls": tool_calls, "reward": 0.0},
    )
    return 0.0, TOOLS_MAX_TURNS, tool_calls, "turn_limit"


@rollout
def tool_agent(task: dict[str, Any], llm: LLM) -> float:
    """The demo's agent: the worked example in the prompt; a hinted rollout (GRPO's
    ``hinted_per_group``) forces its first call to be a tool call. Held-out rollouts are plain."""
    reward, _, _, _ = solve_with_tools(task, llm, few_shot=True, hint=hinted())
    return reward
