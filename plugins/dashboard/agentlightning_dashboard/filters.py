"""The rollouts table's query parameters, checked: a malformed one is a 400 that names it.

The table pages on the server (``page``, ``per_page``), so the browser never holds more than one
page of a run with 100k rollouts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from agentlightning_core.errors import InvalidRequestError
from agentlightning_core.types import RolloutStatus

MODES = ("train", "val", "test")
MAX_PER_PAGE = 200
MAX_SEARCH_CHARS = 200
KNOWN = {"status", "mode", "resources_id", "q", "page", "per_page"}


@dataclass(frozen=True)
class RolloutFilter:
    status: tuple[RolloutStatus, ...] | None = None
    mode: str | None = None
    resources_id: str | None = None
    text: str | None = None
    page: int = 1
    per_page: int = 50

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def _int(name: str, raw: str, low: int, high: int | None) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequestError(f"query parameter {name!r} must be a whole number (got {raw!r})") from None
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise InvalidRequestError(f"query parameter {name!r} must be {bound} (got {value})")
    return value


def parse_rollout_filter(items: Iterable[tuple[str, str]]) -> RolloutFilter:
    """Build the filter from the query string's ``(key, value)`` pairs (repeats allowed)."""
    given: dict[str, list[str]] = {}
    for key, value in items:
        given.setdefault(key, []).append(value)
    unknown = sorted(set(given) - KNOWN)
    if unknown:
        raise InvalidRequestError(
            f"unknown query parameter {unknown[0]!r}; the rollouts table takes {', '.join(sorted(KNOWN))}"
        )
    status: tuple[RolloutStatus, ...] | None = None
    names = [s.strip() for v in given.get("status", []) for s in v.split(",") if s.strip()]
    if names:
        valid = [s.value for s in RolloutStatus]
        bad = [n for n in names if n not in valid]
        if bad:
            raise InvalidRequestError(
                f"query parameter 'status' has {bad[0]!r}; use one of {', '.join(valid)}"
            )
        status = tuple(RolloutStatus(n) for n in dict.fromkeys(names))
    mode = _single(given, "mode")
    if mode is not None and mode not in MODES:
        raise InvalidRequestError(f"query parameter 'mode' must be one of {', '.join(MODES)} (got {mode!r})")
    resources_id = _single(given, "resources_id")
    if resources_id is not None and len(resources_id) > 64:
        raise InvalidRequestError("query parameter 'resources_id' is longer than 64 characters")
    text = _single(given, "q")
    if text is not None and len(text) > MAX_SEARCH_CHARS:
        raise InvalidRequestError(f"query parameter 'q' is longer than {MAX_SEARCH_CHARS} characters")
    page = _int("page", _single(given, "page") or "1", 1, None)
    per_page = _int("per_page", _single(given, "per_page") or "50", 1, MAX_PER_PAGE)
    return RolloutFilter(status, mode, resources_id or None, text or None, page, per_page)


def _single(given: dict[str, list[str]], name: str) -> str | None:
    values = given.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise InvalidRequestError(f"query parameter {name!r} is given {len(values)} times; give it once")
    return values[0].strip() or None
