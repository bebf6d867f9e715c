"""``OpenAIEngine``: pass calls through to any OpenAI-compatible server (vLLM, OpenAI, ...).

Registered as engine ``openai``: ``agl serve --engine openai --engine-option
base_url=http://host:8000/v1``. Bodies go upstream unchanged except for ``model`` (when this
engine names one) and ``extra_body`` (merged in, e.g. ``{"return_token_ids": true}`` so vLLM
returns the token ids RL needs). Streams are relayed chunk by chunk.

Plain calls go through :class:`~.http1.Http1Pool` (half aiohttp's per-call cost, which is most of
what the proxy adds to a call); streams and ``/models`` through an aiohttp session.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import aiohttp
import orjson

from ..engine import LLMEngine
from ..errors import AglError, BackendUnavailableError, InvalidRequestError
from .http1 import Http1Pool, UpstreamProtocolError


class UpstreamError(AglError):
    """The upstream answered with an error; the proxy passes its status and message on.

    The agent gets the error as OpenAI would have sent it: the same status code and a body
    ``{"error": {"message", "type", "param", "code"}}``. ``error_type`` / ``code`` / ``param``
    fill those fields (default: the class name and nothing); ``retry_after`` (seconds) becomes a
    ``Retry-After`` header, so OpenAI clients back off as the provider asked.
    """

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        error_type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error_type = error_type
        self.code = code
        self.param = param
        if retry_after is not None:
            self.retry_after = retry_after


def json_option(value: dict[str, Any] | str | None, name: str) -> dict[str, Any]:
    """An engine option that is a JSON object, given as a dict or (``--engine-option k=v``) a string."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise InvalidRequestError(f"engine option {name!r} must be a JSON object: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidRequestError(f"engine option {name!r} must be a JSON object, got {type(value).__name__}")
    return value


#: environment variable naming the model the ``openai`` engine sends upstream (engine option ``model``)
UPSTREAM_MODEL_ENV = "AGL_UPSTREAM_MODEL"


class OpenAIEngine(LLMEngine):
    """An OpenAI-compatible upstream.

    :param base_url: the upstream's base URL ending in ``/v1`` (default ``OPENAI_BASE_URL``).
    :param api_key: sent as ``Authorization: Bearer`` (default ``OPENAI_API_KEY``; none if unset).
    :param model: when set, every request is sent with this model and ``/v1/models`` lists it;
        the request's own ``model`` stays in the recorded span. Default: ``AGL_UPSTREAM_MODEL``;
        unset, each request goes upstream with the model the agent named (the trainer's
        default LLM resource names ``"default"``, which a hosted API will refuse).
    :param extra_body: JSON object merged into every request body.
    :param timeout: seconds to wait for the upstream's next byte.
    :param max_connections: concurrent connections upstream (0 = unlimited).

    Options may be strings (as ``--engine-option k=v`` gives them).
    """

    name: ClassVar[str] = "openai"

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        model: str | None = None,
        *,
        extra_body: dict[str, Any] | str | None = None,
        headers: dict[str, Any] | str | None = None,
        timeout: float | str = 600.0,
        max_connections: int | str = 0,
        weights_version: int | str = 0,
    ) -> None:
        base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        if not base_url:
            raise InvalidRequestError(
                "engine 'openai' needs base_url: pass --engine-option base_url=http://host:port/v1 "
                "(or set OPENAI_BASE_URL)"
            )
        if not base_url.startswith(("http://", "https://")):
            raise InvalidRequestError(
                f"engine option base_url={base_url!r} must start with http:// or https://"
            )
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        # the model the upstream receives: this option, else AGL_UPSTREAM_MODEL, else whatever
        # the agent's request names (the trainer's default LLM resource names "default")
        model = model or os.environ.get(UPSTREAM_MODEL_ENV, "").strip() or None
        self.model = model
        self.model_name = model or "default"
        self.extra_body = json_option(extra_body, "extra_body")
        self.headers = {str(k): str(v) for k, v in json_option(headers, "headers").items()}
        self.timeout = float(timeout)
        self.max_connections = int(max_connections)
        self.weights_version = int(weights_version)
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None
        self._pool: Http1Pool | None = None
        self._pool_loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"OpenAIEngine(base_url={self.base_url!r}, model={self.model!r})"

    async def start(self) -> None:
        self._get_session()

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    def _request_headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json", **self.headers}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        return headers

    def _get_pool(self) -> Http1Pool:
        loop = asyncio.get_running_loop()
        if self._pool is None or self._pool_loop is not loop:
            self._pool = Http1Pool(
                self.base_url,
                self._request_headers(),
                read_timeout=self.timeout,
                limit=self.max_connections,
            )
            self._pool_loop = loop
        return self._pool

    def _get_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session_loop is not loop:
            self._session = aiohttp.ClientSession(
                headers=self._request_headers(),
                connector=aiohttp.TCPConnector(limit=self.max_connections, keepalive_timeout=30),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=self.timeout),
            )
            self._session_loop = loop
        return self._session

    def _body(self, body: dict[str, Any], stream: bool) -> bytes:
        out = {**body, **self.extra_body, "stream": stream}
        if self.model is not None:
            out["model"] = self.model
        elif out.get("model") is None:
            out["model"] = self.model_name
        if not stream:
            out.pop("stream_options", None)
        return orjson.dumps(out)

    # ------------------------------------------------------------------ transport
    async def _post(self, path: str, body: bytes) -> dict[str, Any]:
        try:
            status, data = await self._get_pool().post(path, body)
        except (asyncio.TimeoutError, TimeoutError) as exc:  # before OSError: TimeoutError is one
            raise BackendUnavailableError(
                f"LLM upstream {self.base_url} timed out after {self.timeout:g}s"
            ) from exc
        except OSError as exc:
            raise self._unreachable(exc) from exc
        except UpstreamProtocolError as exc:
            raise UpstreamError(502, f"LLM upstream {self.base_url}{path}: {exc}") from None
        if status >= 400:
            raise self._error(status, data)
        try:
            result = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise UpstreamError(502, f"LLM upstream {self.base_url}{path} sent invalid JSON: {exc}") from None
        if not isinstance(result, dict):
            raise UpstreamError(
                502, f"LLM upstream {self.base_url}{path} sent a {type(result).__name__}, not an object"
            )
        return result

    async def _stream(self, path: str, body: bytes) -> AsyncIterator[dict[str, Any]]:
        try:
            async with self._get_session().post(self.base_url + path, data=body) as response:
                if response.status >= 400:
                    raise self._error(response.status, await response.read())
                async for event in _sse_data(response.content):
                    if event == b"[DONE]":
                        return
                    chunk = orjson.loads(event)
                    if isinstance(chunk, dict) and "error" in chunk and "choices" not in chunk:
                        raise self._error(502, event)
                    yield chunk
        except aiohttp.ClientError as exc:
            raise self._unreachable(exc) from exc
        except asyncio.TimeoutError as exc:
            raise BackendUnavailableError(
                f"LLM upstream {self.base_url} timed out after {self.timeout:g}s"
            ) from exc

    def _error(self, status: int, data: bytes) -> UpstreamError:
        fields: dict[str, Any] = {}
        try:
            detail = orjson.loads(data)["error"]
            message = detail["message"] if isinstance(detail, dict) else str(detail)
            if isinstance(detail, dict):  # keep OpenAI's type/code/param for the agent's client
                fields = {k: detail[k] for k in ("type", "code", "param") if isinstance(detail.get(k), str)}
                if "type" in fields:
                    fields["error_type"] = fields.pop("type")
        except Exception:
            message = data.decode("utf-8", "replace")[:1000]
        return UpstreamError(status, f"LLM upstream {self.base_url} answered {status}: {message}", **fields)

    def _unreachable(self, exc: BaseException) -> BackendUnavailableError:
        return BackendUnavailableError(
            f"cannot reach the LLM upstream at {self.base_url} ({type(exc).__name__}: {exc})"
        )

    # -------------------------------------------------------------------- engine API
    async def chat_completions(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._post("/chat/completions", self._body(body, False))

    async def chat_completions_stream(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        async for chunk in self._stream("/chat/completions", self._body(body, True)):
            yield chunk

    async def completions(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._post("/completions", self._body(body, False))

    async def completions_stream(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        async for chunk in self._stream("/completions", self._body(body, True)):
            yield chunk

    async def models(self) -> list[dict[str, Any]]:
        if self.model is not None:
            return [{"id": self.model, "object": "model", "created": 0, "owned_by": "upstream"}]
        try:
            async with self._get_session().get(self.base_url + "/models") as response:
                data = await response.read()
                if response.status >= 400:
                    raise self._error(response.status, data)
        except aiohttp.ClientError as exc:
            raise self._unreachable(exc) from exc
        listed = orjson.loads(data)
        return list(listed.get("data", [])) if isinstance(listed, dict) else []


async def _sse_data(content: aiohttp.StreamReader) -> AsyncIterator[bytes]:
    """The ``data`` payloads of a Server-Sent Events stream (multi-line data joined by newlines).

    Lines are split here rather than with ``readline``, whose line-length cap a long chunk (a
    few thousand log-probs) would exceed.
    """
    buffer = b""
    data: list[bytes] = []
    async for block in content.iter_any():
        buffer += block
        *lines, buffer = buffer.split(b"\n")
        for raw in lines:
            line = raw.rstrip(b"\r")
            if not line:
                if data:
                    yield b"\n".join(data)
                    data = []
            elif line.startswith(b"data:"):
                payload = line[5:]
                data.append(payload[1:] if payload.startswith(b" ") else payload)
    if buffer.startswith(b"data:"):
        payload = buffer.rstrip(b"\r")[5:]
        data.append(payload[1:] if payload.startswith(b" ") else payload)
    if data:
        yield b"\n".join(data)
