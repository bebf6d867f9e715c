"""A scripted OpenAI-compatible server for tests: real HTTP, deterministic answers.

Adapter and example tests run real agent frameworks against it through the LLM proxy, so the
framework's HTTP client, the proxy's recording and the tracer's context propagation are all
exercised, while every answer — text or tool calls — is decided by the test's ``responder``.
Answers carry token ids (a stable hash per word) so triplets have what RL needs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiohttp import web

from ..engine import LLMEngine

Responder = Callable[[dict[str, Any]], dict[str, Any]]
"""``responder(request_body) -> assistant message`` (``{"content": ...}`` or ``{"tool_calls": [...]}``)."""


def token_ids(text: str) -> list[int]:
    """Stable fake token ids: one per whitespace-separated word."""
    return [int(hashlib.sha1(w.encode()).hexdigest()[:6], 16) for w in text.split()] or [0]


def tool_call(name: str, arguments: dict[str, Any], call_id: str | None = None) -> dict[str, Any]:
    """An assistant ``tool_calls`` entry in OpenAI's format."""
    return {
        "id": call_id or f"call_{name}_{abs(hash(json.dumps(arguments, sort_keys=True))) % 10**8}",
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }


def last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else json.dumps(content)
    return ""


def system_text(body: dict[str, Any]) -> str:
    for message in body.get("messages") or []:
        if message.get("role") in ("system", "developer") and isinstance(message.get("content"), str):
            return str(message["content"])
    return ""


@dataclass
class ScriptedRequest:
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class ScriptedUpstream:
    """Serve ``responder``'s answers at ``{url}/v1/chat/completions``; ``requests`` records calls."""

    responder: Responder
    model: str = "scripted"
    requests: list[ScriptedRequest] = field(default_factory=list)
    url: str = ""

    def completion(self, body: dict[str, Any]) -> dict[str, Any]:
        message = {"role": "assistant", "content": None, **self.responder(body)}
        calls = message.get("tool_calls")
        if not calls:
            message.pop("tool_calls", None)
        text = message.get("content") or json.dumps(calls or "")
        prompt = json.dumps(body.get("messages"))
        prompt_ids, answer_ids = token_ids(prompt), token_ids(text)
        return {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or self.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if calls else "stop",
                    "token_ids": answer_ids,
                    "logprobs": {
                        "content": [
                            {"token": str(t), "logprob": -0.5, "top_logprobs": []} for t in answer_ids
                        ]
                    },
                }
            ],
            "prompt_token_ids": prompt_ids,
            "usage": {
                "prompt_tokens": len(prompt_ids),
                "completion_tokens": len(answer_ids),
                "total_tokens": len(prompt_ids) + len(answer_ids),
            },
        }

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(ScriptedRequest(body, dict(request.headers)))
        response = self.completion(body)
        if not body.get("stream"):
            return web.json_response(response)
        from ..engine import completion_to_chunks

        stream = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await stream.prepare(request)
        for chunk in completion_to_chunks(response):
            await stream.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        await stream.write(b"data: [DONE]\n\n")
        await stream.write_eof()
        return stream

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": self.model, "object": "model"}]})

    @contextlib.asynccontextmanager
    async def serve(self) -> AsyncIterator[str]:
        """Run on 127.0.0.1 (ephemeral port) for the block; yields the base URL ending in ``/v1``."""
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/v1"
        try:
            yield self.url
        finally:
            await runner.cleanup()


class ForwardingEngine(LLMEngine):
    """An engine that forwards chat completions to an OpenAI-compatible URL (the scripted one)."""

    name = "forwarding"

    def __init__(self, base_url: str, model_name: str = "scripted") -> None:
        self.base_url = base_url.rstrip("/")
        self.model_name = model_name
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=60.0)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def chat_completions(self, body: dict[str, Any]) -> dict[str, Any]:
        await self.start()
        assert self._client is not None
        response = await self._client.post(
            f"{self.base_url}/chat/completions", json={**body, "stream": False}
        )
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result
