"""Spans: OpenTelemetry-shaped records of what happened inside an attempt.

Every LLM call, tool call, agent step and reward is a span. The store orders spans of one
attempt by ``sequence_id``, which it assigns on arrival when the sender leaves it empty.
"""

from __future__ import annotations

import os
import time
from enum import Enum
from typing import Any

from pydantic import BaseModel, Field

from . import semconv
from .limits import Id


def new_trace_id() -> str:
    return os.urandom(16).hex()


def new_span_id() -> str:
    return os.urandom(8).hex()


class SpanStatusCode(str, Enum):
    UNSET = "unset"
    OK = "ok"
    ERROR = "error"


class SpanStatus(BaseModel):
    code: SpanStatusCode = SpanStatusCode.UNSET
    description: str | None = None


class SpanEvent(BaseModel):
    name: str
    timestamp: float = Field(default_factory=time.time)
    attributes: dict[str, Any] = Field(default_factory=dict)


class Span(BaseModel):
    """One operation inside an attempt. ``attributes`` follow OpenTelemetry GenAI conventions
    (``gen_ai.*``) plus the ``agentlightning.*`` keys in :mod:`agentlightning_core.types.semconv`."""

    rollout_id: Id
    attempt_id: Id
    sequence_id: int | None = None
    trace_id: Id = Field(default_factory=new_trace_id)
    span_id: Id = Field(default_factory=new_span_id)
    parent_id: Id | None = None
    name: str
    kind: str = "internal"
    start_time: float = Field(default_factory=time.time)
    end_time: float | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    events: list[SpanEvent] = Field(default_factory=list)
    status: SpanStatus = Field(default_factory=SpanStatus)
    resource: dict[str, Any] = Field(default_factory=dict)

    @property
    def span_type(self) -> str:
        """``llm``, ``reward``, ``tool``, ``agent`` or ``other`` (from ``agentlightning.span_type``)."""
        return str(self.attributes.get(semconv.SPAN_TYPE, "other"))


class Reward(BaseModel):
    """A reward as the agent emitted it. Stored as a span of type ``reward``."""

    value: float
    name: str = "reward"
    rollout_id: str | None = None
    attempt_id: str | None = None
    timestamp: float = Field(default_factory=time.time)

    def to_span(self, rollout_id: str, attempt_id: str, parent_id: str | None = None) -> Span:
        return Span(
            rollout_id=rollout_id,
            attempt_id=attempt_id,
            parent_id=parent_id,
            name=semconv.REWARD_SPAN_NAME,
            start_time=self.timestamp,
            end_time=self.timestamp,
            attributes={
                semconv.SPAN_TYPE: "reward",
                semconv.REWARD_VALUE: self.value,
                semconv.REWARD_NAME: self.name,
            },
        )

    @classmethod
    def from_span(cls, span: Span) -> Reward:
        if span.span_type != "reward":
            raise ValueError(f"span {span.span_id} is a {span.span_type!r} span, not a reward")
        return cls(
            value=float(span.attributes[semconv.REWARD_VALUE]),
            name=str(span.attributes.get(semconv.REWARD_NAME, "reward")),
            rollout_id=span.rollout_id,
            attempt_id=span.attempt_id,
            timestamp=span.start_time,
        )
