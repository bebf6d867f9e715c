"""A page of query results."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """``items`` of one page and ``total`` matching items across all pages."""

    items: list[T] = Field(default_factory=list)
    total: int = 0
    limit: int | None = None
    offset: int = 0
