"""Fast JSON in and out of the routes.

Bodies are parsed and validated in one pass by pydantic-core (``model_validate_json``) and
responses are serialised straight to bytes (pydantic's Rust serialiser for models, orjson for
plain data), bypassing FastAPI's generic encoder: on the runner's hot path (dequeue, spans,
finish) that encoder and the double validation it implies cost more than the store itself.
Routes still declare their models for the OpenAPI spec.
"""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from fastapi import Request, Response
from pydantic import BaseModel, ValidationError

from ..errors import InvalidRequestError
from ..wire import adapter

M = TypeVar("M", bound=BaseModel)

JSON = "application/json"


async def parse_body(request: Request, model: type[M]) -> M:
    """Validate the request body as ``model``; errors become 422 (400 for malformed JSON)."""
    return parse_json(await request.body(), model)


def parse_json(body: bytes, model: type[M]) -> M:
    """Strict: the body must match the published schema's types (``"descending": 0`` is not a
    boolean, ``"limit": "5"`` not an integer), which is what the OpenAPI spec promises and what
    schemathesis checks (tests/core/test_api_fuzz.py)."""
    if not body:
        raise InvalidRequestError(f"request body is empty; send a JSON object ({model.__name__})")
    if b"NaN" in body or b"Infinity" in body:
        refuse_non_finite_numbers(body)
    try:
        return model.model_validate_json(body, strict=True)
    except ValidationError as exc:
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            raise InvalidRequestError(f"request body is not valid JSON: {exc.errors()[0]['msg']}") from None
        raise BodyValidationError(exc) from None


def refuse_non_finite_numbers(body: bytes) -> None:
    """``NaN`` and ``Infinity`` are not JSON; pydantic reads them, and a store would keep them as
    ``null`` (what JSON encoders write for them), so a value would change silently. Only bodies
    with those words anywhere are parsed a second time (by orjson, which refuses them)."""
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "NaN" in str(exc) or "Infinity" in str(exc) or b"NaN" in body or b"Infinity" in body:
            raise InvalidRequestError(
                "request body has NaN or Infinity, which JSON does not allow and the store cannot keep; "
                "send null or a finite number (or the value as a string)"
            ) from None
        raise InvalidRequestError(f"request body is not valid JSON: {exc}") from None


class BodyValidationError(Exception):
    """A body that is JSON but not the expected shape; rendered as 422 naming each field."""

    def __init__(self, error: ValidationError) -> None:
        super().__init__(str(error))
        self.error = error


def model_response(value: BaseModel | None, status_code: int = 200) -> Response:
    body = b"null" if value is None else value.__pydantic_serializer__.to_json(value)
    return Response(body, status_code=status_code, media_type=JSON)


def list_response(tp: Any, values: list[Any]) -> Response:
    """``tp`` is the list type (``list[Rollout]``); the adapter is built once per type."""
    return Response(adapter(tp).dump_json(values), media_type=JSON)


def json_response(value: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(value), status_code=status_code, media_type=JSON)
