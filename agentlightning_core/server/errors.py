"""Errors as JSON: ``{"error": {"type": ..., "message": ...}}`` with the status the class names.

``type`` is the exception class name, so :class:`~agentlightning_core.client.HttpStore` raises
the same class a local store would. Validation failures (422) list every bad field in
``fields`` and name the first one in ``message``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import AglError
from .codec import JSON, BodyValidationError

log = logging.getLogger(__name__)


def error_response(
    status_code: int,
    type_: str,
    message: str,
    fields: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    detail: dict[str, Any] = {"type": type_, "message": message, **(extra or {})}
    if fields is not None:
        detail["fields"] = fields
    return Response(orjson.dumps({"error": detail}), status_code=status_code, media_type=JSON)


def _fields(errors: Sequence[Any], prefix: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    out = []
    for err in errors:
        loc = prefix + tuple(str(part) for part in err.get("loc", ()))
        out.append({"field": ".".join(loc), "message": err.get("msg", ""), "type": err.get("type", "")})
    return out


def _validation_response(fields: list[dict[str, Any]]) -> Response:
    first = fields[0] if fields else {"field": "body", "message": "invalid"}
    more = f" (and {len(fields) - 1} more)" if len(fields) > 1 else ""
    return error_response(
        422, "ValidationError", f"invalid field {first['field']!r}: {first['message']}{more}", fields
    )


def agl_error_response(exc: AglError, method: str, path: str) -> Response:
    status = int(getattr(exc, "status_code", 500))
    if status >= 500:
        log.warning("%s %s failed: %s: %s", method, path, type(exc).__name__, exc)
    # an upstream LLM error (UpstreamError) keeps OpenAI's type, code and param for the agent's client
    type_ = getattr(exc, "error_type", None) or type(exc).__name__
    extra = {key: getattr(exc, key) for key in ("code", "param") if hasattr(exc, key)}
    response = error_response(status, type_, str(exc), extra=extra)
    retry_after = getattr(exc, "retry_after", None)  # RateLimitExceeded (the proxy's provider limit)
    if retry_after is not None:
        response.headers["retry-after"] = str(max(1, math.ceil(retry_after)))
    return response


def body_validation_response(exc: BodyValidationError) -> Response:
    return _validation_response(_fields(exc.error.errors(include_url=False), ("body",)))


async def _agl_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AglError)
    return agl_error_response(exc, request.method, request.url.path)


async def _body_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BodyValidationError)
    return body_validation_response(exc)


async def _request_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return _validation_response(_fields(exc.errors()))


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    type_ = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "HTTPException")
    response = error_response(exc.status_code, type_, str(exc.detail))
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    return response


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("%s %s crashed", request.method, request.url.path, exc_info=exc)
    # the exception's text may quote SQL, paths or data: it goes to the server's log, not the body
    return error_response(
        500, "InternalServerError", f"internal error ({type(exc).__name__}); the server's log has the details"
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AglError, _agl_error)
    app.add_exception_handler(BodyValidationError, _body_validation)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(Exception, _unexpected)
