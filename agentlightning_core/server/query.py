"""Unknown query parameters are refused (400 naming them), as unknown body fields are (422).

A misspelt parameter (``?limt=5``) silently ignored returns the wrong page with no hint; the
store and event routes take this dependency so it names the parameter and the ones the route
takes. The LLM proxy's routes do not: OpenAI-style clients may add their own (``api-version``).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from ..errors import InvalidRequestError


def _query_names(dependant: Any) -> set[str]:
    """Query parameter names of a route's dependant and of its sub-dependencies."""
    names = {p.alias for p in getattr(dependant, "query_params", ())}
    for sub in getattr(dependant, "dependencies", ()):
        names |= _query_names(sub)
    return names


async def forbid_unknown_query(request: Request) -> None:
    if not request.query_params:
        return
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    allowed = _query_names(dependant) if dependant is not None else set()
    unknown = sorted({key for key in request.query_params if key not in allowed})
    if unknown:
        takes = ", ".join(sorted(allowed)) or "none"
        raise InvalidRequestError(
            f"unknown query parameter {unknown[0]!r}"
            + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else "")
            + f"; this route takes: {takes}"
        )
