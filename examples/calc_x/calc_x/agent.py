"""The solver: one AutoGen ``AssistantAgent`` whose only tool is the MCP calculator.

``build_solver`` is ordinary AutoGen code; its one Agent Lightning touch is that the model client
takes the rollout's ``llm.endpoint`` as base URL. ``make_agent`` wraps it for training.
"""

from __future__ import annotations

import re
from typing import Any

import agentlightning_autogen
from agentlightning_autogen import openai_model_client

from agentlightning_core.types import LLM

SYSTEM_PROMPT = (
    "You solve math word problems. Use the calculate tool for every computation. "
    "End your reply with 'ANSWER: <number>'."
)
_ANSWER = re.compile(r"ANSWER:\s*\$?\s*(-?[\d,]*\.?\d+)", re.IGNORECASE)
_NUMBER = re.compile(r"-?\d[\d,]*\.?\d*")


def build_solver(llm: LLM, mcp_url: str, max_tokens: int = 160) -> Any:
    from autogen_agentchat.agents import AssistantAgent
    from autogen_ext.tools.mcp import McpWorkbench, StreamableHttpServerParams

    return AssistantAgent(
        "solver",
        model_client=openai_model_client(
            llm, max_tokens=llm.sampling_parameters.get("max_tokens", max_tokens)
        ),
        workbench=McpWorkbench(StreamableHttpServerParams(url=mcp_url)),
        system_message=SYSTEM_PROMPT,
        reflect_on_tool_use=True,
        max_tool_iterations=3,
    )


def extract_answer(text: str) -> float | None:
    """The number after ``ANSWER:``, else the last number in the text."""
    match = _ANSWER.search(text)
    candidates = [match.group(1)] if match else _NUMBER.findall(text)[-1:]
    for candidate in candidates:
        try:
            return float(candidate.replace(",", "").rstrip("."))
        except ValueError:
            return None
    return None


def score(answer_text: str, expected: str) -> float:
    """1.0 when the final number equals the expected answer (relative tolerance 1e-4), else 0.0."""
    got = extract_answer(answer_text)
    want = float(expected)
    return 1.0 if got is not None and abs(got - want) <= 1e-4 * max(1.0, abs(want)) else 0.0


def reward(task: dict[str, Any], result: Any) -> float:
    final = result.messages[-1] if result.messages else None
    return score(str(getattr(final, "content", "")), task["answer"])


def make_agent(mcp_url: str, max_tokens: int = 160) -> Any:
    """The trainable agent: ``solver`` built per rollout against the rollout's LLM; ``max_tokens``
    caps each completion when the LLM resource sets no cap."""
    return agentlightning_autogen.wrap(
        lambda llm: build_solver(llm, mcp_url, max_tokens),
        reward=reward,
        to_task=lambda task: task["question"],
        name="calc_x",
    )
