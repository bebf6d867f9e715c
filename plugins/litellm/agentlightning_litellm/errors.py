"""A provider's error, as the agent would have got it from OpenAI.

LiteLLM already maps every provider's errors onto OpenAI's exception classes; this turns them
into the core's :class:`UpstreamError`, which the proxy answers with the same status code and
OpenAI's body ``{"error": {"message", "type", "param", "code"}}``. So an agent's ``openai``
client raises ``RateLimitError`` for Anthropic's 429, ``BadRequestError`` for its 400, retries a
529 "overloaded" (kept as 529) and honours the provider's ``Retry-After``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agentlightning_core.errors import AglError, BackendUnavailableError
from agentlightning_core.proxy.upstream import UpstreamError

#: status → (OpenAI's error type, OpenAI's code) as OpenAI's API sends them
OPENAI_TYPES: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "model_not_found"),
    408: ("timeout", None),
    413: ("invalid_request_error", "request_too_large"),
    422: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
}
_JSON = re.compile(r"\{.*\}", re.DOTALL)


def _provider_detail(message: str) -> tuple[str | None, str]:
    """The provider's own error type and message, when LiteLLM quoted its JSON body."""
    match = _JSON.search(message)
    if match:
        try:
            body = json.loads(match.group(0))
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            kind = error.get("type")
            return (kind if isinstance(kind, str) else None), error["message"]
    return None, message


def _retry_after(exc: Any) -> float | None:
    for headers in (
        getattr(getattr(exc, "response", None), "headers", None),
        getattr(exc, "litellm_response_headers", None),
    ):
        if headers is None:
            continue
        try:
            value = headers.get("retry-after")
        except AttributeError:
            continue
        if value is not None:
            try:
                return float(value)
            except ValueError:
                return None
    return None


def _no_answer(exc: BaseException) -> bool:
    """Did the provider never answer (LiteLLM reports some of those as a 500)? Looks for a
    transport error among the exceptions it was raised from."""
    import aiohttp
    import httpx

    seen: BaseException | None = exc
    for _ in range(12):
        seen = seen.__cause__ or seen.__context__ if seen is not None else None
        if seen is None:
            return False
        if isinstance(seen, (aiohttp.ClientConnectionError, httpx.TransportError, ConnectionError)):
            return True
    return False


def to_upstream_error(exc: Exception, provider: str) -> AglError:
    """Map an exception raised by ``litellm.acompletion`` (or its stream) for ``provider``."""
    import litellm

    if isinstance(exc, litellm.Timeout):
        return BackendUnavailableError(f"{provider} timed out: {getattr(exc, 'message', exc)}")
    if isinstance(exc, litellm.APIConnectionError) or _no_answer(exc):  # refused, reset, DNS
        return BackendUnavailableError(f"cannot reach {provider}: {getattr(exc, 'message', exc)}")
    status = getattr(exc, "provider_status_code", None) or getattr(exc, "status_code", None)
    if not isinstance(status, int):
        status = 502
    provider_type, message = _provider_detail(str(getattr(exc, "message", None) or exc))
    error_type, code = OPENAI_TYPES.get(status, ("server_error", None))
    if provider_type == "overloaded_error":
        code = "overloaded"
    return UpstreamError(
        status,
        f"{provider} answered {status}: {message}",
        error_type=error_type,
        code=code,
        retry_after=_retry_after(exc),
    )
