"""Agent Lightning support for CrewAI: ``wrap(build_crew, reward=...)`` makes a crew trainable, with
each LLM call attributed to the agent (role) that made it and tool calls as spans."""

from __future__ import annotations

from .adapter import CrewAIAdapter, wrap
from .agent import CrewAIAgent, crewai_llm
from .instrument import instrument, is_instrumented, uninstrument

__all__ = [
    "CrewAIAdapter",
    "CrewAIAgent",
    "crewai_llm",
    "instrument",
    "is_instrumented",
    "uninstrument",
    "wrap",
]
