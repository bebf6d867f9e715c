"""The agent: one LLM call that names the team for a customer message.

It is a plain ``openai`` client program; the trainer's proxy records the call, so APO's critic
sees exactly what the model was sent and answered. Its only tunable part is the prompt template
(resource ``router_prompt``), which is what APO optimises.
"""

from __future__ import annotations

import re
from typing import Any

from openai import AsyncOpenAI

from agentlightning_core.agent import rollout
from agentlightning_core.types import LLM, PromptTemplate

TEAMS = ("billing", "shipping", "returns", "account", "technical")

#: Deliberately underspecified: it never says which teams exist or how to answer.
INITIAL_PROMPT = "Read the customer message and say which team should handle it.\n\nMessage: {request}\nTeam:"

_PATTERNS = {
    "billing": r"\bbilling\b",
    "shipping": r"\bshipping\b",
    "returns": r"\breturns?\b",
    "account": r"\baccounts?\b",
    "technical": r"\btechnical\b",
}


def parse_team(answer: str) -> str | None:
    """The team the answer names first (case-insensitive), or ``None`` if it names none."""
    text = answer.lower()
    found = [(m.start(), team) for team, pat in _PATTERNS.items() if (m := re.search(pat, text))]
    return min(found)[1] if found else None


@rollout
async def route_ticket(task: dict[str, Any], llm: LLM, router_prompt: PromptTemplate) -> float:
    """Reward 1.0 when the first team named in the model's answer is the ticket's label."""
    sampling = {"max_tokens": 16, "temperature": 0.0, **llm.sampling_parameters}
    client = AsyncOpenAI(base_url=llm.endpoint, api_key=llm.api_key_value)
    try:
        reply = await client.chat.completions.create(
            model=llm.model,
            messages=[{"role": "user", "content": router_prompt.format(request=task["request"])}],
            **sampling,
        )
    finally:
        await client.close()
    answer = reply.choices[0].message.content or ""
    return 1.0 if parse_team(answer) == task["label"] else 0.0
