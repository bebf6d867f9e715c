"""A two-agent CrewAI crew for support tickets: a ``router`` names the team, then a ``replier``
writes the customer a one-line acknowledgement. Only the router is trained
(``agent_match="router"``); the replier runs on the same model and stays out of the triplets.

This module is what the runners import (``agl runner --agent .../support_crew.py:agent``), so it
runs in the venv that has CrewAI (``.venv-crewai``); the trainer process never imports it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import agentlightning_crewai
from agentlightning_crewai import crewai_llm
from crewai import Agent, Crew, Process, Task

from agentlightning_core.types import LLM

# CrewAI warns on every call that a local model has no native token counter: one line per call
logging.getLogger("crewai.llms.base_llm").setLevel(logging.ERROR)

TEAMS = ("billing", "shipping", "returns", "account", "technical")
_TEAM = re.compile(r"\b(" + "|".join(TEAMS) + r")\b", re.IGNORECASE)


def first_team(text: str) -> str | None:
    """The first team named in ``text`` (case-insensitive), or None."""
    match = _TEAM.search(text)
    return match.group(1).lower() if match else None


def build_crew(llm: LLM) -> Crew:
    """The crew's own code; its one Agent Lightning touch is the model (``crewai_llm(llm)``)."""
    model = crewai_llm(llm)
    router = Agent(
        role="router",
        goal="Send each customer message to the team that handles it",
        backstory="You sort the help desk's incoming messages.",
        llm=model,
        max_iter=1,
    )
    replier = Agent(
        role="replier",
        goal="Tell the customer who will handle their message",
        backstory="You write short, polite replies.",
        llm=model,
        max_iter=1,
    )
    route = Task(
        description=(
            "Which team should handle this customer message? The teams are billing, shipping, returns, "
            "account and technical. Answer with one team name.\n\nMessage: {request}"
        ),
        expected_output="one team name",
        agent=router,
    )
    reply = Task(
        description="Write one sentence telling the customer which team will handle their message: {request}",
        expected_output="one sentence",
        agent=replier,
    )
    return Crew(agents=[router, replier], tasks=[route, reply], process=Process.sequential)


def reward(task: dict[str, Any], output: Any) -> float:
    """1 when the router's answer names the ticket's team first, else 0."""
    routed = output.tasks_output[0].raw if output.tasks_output else ""
    return 1.0 if first_team(str(routed)) == task["label"] else 0.0


agent = agentlightning_crewai.wrap(build_crew, reward=reward)
