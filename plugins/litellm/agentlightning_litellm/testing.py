"""A local server speaking Anthropic's Messages API, for tests and offline demos.

``POST /v1/messages`` as the real API defines it: the ``x-api-key`` and ``anthropic-version``
headers are required, ``model``, ``max_tokens`` and ``messages`` are validated, answers carry
content blocks (``text``, ``tool_use``), ``stop_reason`` and ``usage``, errors have the shape
``{"type": "error", "error": {"type", "message"}}`` with Anthropic's status codes, and
``"stream": true`` answers with Anthropic's server-sent events (``message_start``,
``content_block_start`` / ``_delta`` / ``_stop``, ``message_delta``, ``message_stop``).
What the model says is decided by a Python function, so tests know the answer::

    async with FakeAnthropic(lambda body: "Paris").serve() as url:
        engine = LiteLLMEngine("anthropic/claude-test", api_base=url, api_key="sk-ant-test")
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

API_VERSION = "2023-06-01"


@dataclass
class ToolUse:
    name: str
    input: dict[str, Any]


@dataclass
class Reply:
    """An assistant turn: text and/or tool calls; ``stop_reason`` follows from them by default."""

    text: str = ""
    tool_uses: list[ToolUse] = field(default_factory=list)
    stop_reason: str | None = None


@dataclass
class ApiError:
    """An error as Anthropic sends it (``rate_limit_error`` 429, ``overloaded_error`` 529, ...)."""

    status: int
    type: str
    message: str
    retry_after: int | None = None


Script = Callable[[dict[str, Any]], "str | Reply | ApiError"]
_ids = itertools.count(1)


def _words(value: Any) -> int:
    return max(1, len(json.dumps(value).split()))


def _invalid(message: str, status: int = 400, kind: str = "invalid_request_error") -> web.Response:
    return web.json_response({"type": "error", "error": {"type": kind, "message": message}}, status=status)


def _validate(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "request body must be a JSON object"
    if not isinstance(body.get("model"), str):
        return "model: Field required"
    if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
        return "max_tokens: Field required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            return f"messages.{i}.role: Input should be 'user' or 'assistant'"
        content = message.get("content")
        if not isinstance(content, (str, list)):
            return f"messages.{i}.content: Input should be a valid string or list of content blocks"
    for i, tool in enumerate(body.get("tools") or []):
        if not isinstance(tool.get("input_schema"), dict):
            return f"tools.{i}.input_schema: Field required"
    return None


@dataclass
class FakeAnthropic:
    script: Script
    #: every request as received: ``(body, headers)``
    requests: list[tuple[dict[str, Any], dict[str, str]]] = field(default_factory=list)
    url: str = ""

    def _message(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if reply.text:
            content.append({"type": "text", "text": reply.text})
        for use in reply.tool_uses:
            content.append(
                {"type": "tool_use", "id": f"toolu_{next(_ids):08d}", "name": use.name, "input": use.input}
            )
        stop = reply.stop_reason or ("tool_use" if reply.tool_uses else "end_turn")
        return {
            "id": f"msg_{next(_ids):08d}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": _words(body["messages"]), "output_tokens": _words(content)},
        }

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        if not request.headers.get("x-api-key"):
            return _invalid("x-api-key header is required", 401, "authentication_error")
        if not request.headers.get("anthropic-version"):
            return _invalid("anthropic-version: header is required")
        try:
            body = await request.json()
        except ValueError:
            return _invalid("request body is not valid JSON")
        problem = _validate(body)
        if problem:
            return _invalid(problem)
        self.requests.append((body, dict(request.headers)))
        answer = self.script(body)
        if isinstance(answer, ApiError):
            headers = {"retry-after": str(answer.retry_after)} if answer.retry_after is not None else {}
            payload = {"type": "error", "error": {"type": answer.type, "message": answer.message}}
            return web.json_response(payload, status=answer.status, headers=headers)
        message = self._message(body, answer if isinstance(answer, Reply) else Reply(text=answer))
        if not body.get("stream"):
            return web.json_response(message)
        return await self._stream(request, message)

    async def _stream(self, request: web.Request, message: dict[str, Any]) -> web.StreamResponse:
        stream = web.StreamResponse(
            headers={"content-type": "text/event-stream", "cache-control": "no-cache"}
        )
        await stream.prepare(request)

        async def send(event: str, data: dict[str, Any]) -> None:
            await stream.write(f"event: {event}\ndata: {json.dumps({'type': event, **data})}\n\n".encode())

        start = {
            **message,
            "content": [],
            "stop_reason": None,
            "usage": {**message["usage"], "output_tokens": 1},
        }
        await send("message_start", {"message": start})
        await send("ping", {})
        for index, block in enumerate(message["content"]):
            if block["type"] == "text":
                await send(
                    "content_block_start", {"index": index, "content_block": {"type": "text", "text": ""}}
                )
                words = block["text"].split(" ")
                for i, word in enumerate(words):  # one delta per word, as a model would send them
                    piece = word if i == 0 else " " + word
                    await send(
                        "content_block_delta",
                        {"index": index, "delta": {"type": "text_delta", "text": piece}},
                    )
            else:
                empty = {**block, "input": {}}
                await send("content_block_start", {"index": index, "content_block": empty})
                arguments = json.dumps(block["input"])
                for cut in range(0, len(arguments), 8):
                    delta = {"type": "input_json_delta", "partial_json": arguments[cut : cut + 8]}
                    await send("content_block_delta", {"index": index, "delta": delta})
            await send("content_block_stop", {"index": index})
        await send(
            "message_delta",
            {
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": message["usage"]["output_tokens"]},
            },
        )
        await send("message_stop", {})
        await stream.write_eof()
        return stream

    @contextlib.asynccontextmanager
    async def serve(self) -> AsyncIterator[str]:
        """Run on 127.0.0.1 (an ephemeral port) for the block; yields the base URL (no ``/v1``)."""
        app = web.Application()
        app.router.add_post("/v1/messages", self._messages)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        try:
            yield self.url
        finally:
            await runner.cleanup()
