"""Request and response bodies of the store routes that are not core types.

Request models forbid unknown fields, so a misspelt field fails with a 422 naming it instead of
being silently ignored.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..types import AttemptStatus, Resource, RolloutMode, RolloutRequest, RolloutStatus, Span
from ..types.limits import WorkerId
from ..wire import MAX_WAIT_SECONDS


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EnqueueRequest(_Request):
    requests: list[RolloutRequest]


class DequeueRequest(_Request):
    worker_id: WorkerId | None = None


class QueryRolloutsRequest(_Request):
    status: list[RolloutStatus] | None = None
    mode: RolloutMode | None = None
    rollout_ids: list[str] | None = None
    limit: int | None = None
    offset: int = 0
    descending: bool = False


class SearchRolloutsRequest(_Request):
    status: list[RolloutStatus] | None = None
    mode: RolloutMode | None = None
    resources_id: str | None = Field(default=None, max_length=64)
    text: str | None = Field(default=None, max_length=200)
    limit: int | None = None
    offset: int = 0
    descending: bool = True


class UpdateAttemptRequest(_Request):
    status: AttemptStatus | None = None
    error: str | None = None
    metadata: dict[str, Any] | None = None


class AddSpansRequest(_Request):
    spans: list[Span]


class AddSpansResponse(BaseModel):
    """Only the assigned sequence ids travel back: the rest of each span is what the caller sent."""

    sequence_ids: list[int]


class AddResourcesRequest(_Request):
    resources: dict[str, Resource]


class SweepRequest(_Request):
    now: float | None = None


class WaitRequest(_Request):
    rollout_ids: list[str]
    timeout: float | None = Field(
        default=None,
        ge=0,
        description=f"seconds; at most {MAX_WAIT_SECONDS:g} per request (clients loop for longer waits)",
    )


class ErrorDetail(BaseModel):
    type: str
    message: str
    fields: list[dict[str, Any]] | None = None


class ErrorBody(BaseModel):
    """Every error response: ``{"error": {"type": ..., "message": ...}}`` (OpenAI clients read it too)."""

    error: ErrorDetail


REQUEST_MODELS: list[type[BaseModel]] = [
    EnqueueRequest,
    DequeueRequest,
    QueryRolloutsRequest,
    SearchRolloutsRequest,
    UpdateAttemptRequest,
    AddSpansRequest,
    AddResourcesRequest,
    SweepRequest,
    WaitRequest,
]
