"""The data model every part of Agent Lightning shares (pydantic v2)."""

from . import semconv
from .events import Event, EventType, Topic
from .resources import LLM, PromptTemplate, Resource, ResourcesUpdate
from .rollout import (
    RETRYABLE_STATUSES,
    Attempt,
    AttemptedRollout,
    AttemptStatus,
    Rollout,
    RolloutConfig,
    RolloutMode,
    RolloutRequest,
    RolloutStatus,
    new_id,
)
from .span import Reward, Span, SpanEvent, SpanStatus, SpanStatusCode, new_span_id, new_trace_id
from .triplet import Triplet
from .worker import Worker, WorkerStatus

__all__ = [
    "LLM",
    "RETRYABLE_STATUSES",
    "Attempt",
    "AttemptStatus",
    "AttemptedRollout",
    "Event",
    "EventType",
    "PromptTemplate",
    "Resource",
    "ResourcesUpdate",
    "Reward",
    "Rollout",
    "RolloutConfig",
    "RolloutMode",
    "RolloutRequest",
    "RolloutStatus",
    "Span",
    "SpanEvent",
    "SpanStatus",
    "SpanStatusCode",
    "Topic",
    "Triplet",
    "Worker",
    "WorkerStatus",
    "new_id",
    "new_span_id",
    "new_trace_id",
    "semconv",
]
