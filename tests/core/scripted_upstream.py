"""A small scripted OpenAI-compatible server for the proxy tests (aiohttp.web, ephemeral port).

Deterministic answers: ``echo: <last user message>``; a tool call to the first tool when the
last message mentions "weather" and tools are offered; token ids are the characters' code
points (prompt: every message's content joined by newlines), log-probs ``-0.01 * (i + 1)`` when
asked for. Model ``error-model`` answers 400. Every request body received is kept in
``requests`` so tests can check what the proxy forwarded.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from aiohttp import web

MODEL = "scripted-model"


def prompt_text(body: dict[str, Any]) -> str:
    if "messages" in body:
        return "\n".join(str(m.get("content") or "") for m in body["messages"])
    return str(body.get("prompt", ""))


def token_ids(text: str) -> list[int]:
    return [ord(c) for c in text]


def logprob(i: int) -> float:
    return -round(0.01 * (i + 1), 4)


class ScriptedUpstream:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.url = ""
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_post("/v1/completions", self.completions)
        app.router.add_get("/v1/models", self.models)
        self.app = app

    # ------------------------------------------------------------------ answers
    def _answer(self, body: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]] | None]:
        last = str((body.get("messages") or [{}])[-1].get("content") or "")
        tools = body.get("tools") or []
        if tools and "weather" in last.lower():
            name = tools[0]["function"]["name"]
            return None, [
                {
                    "id": "call_weather_1",
                    "type": "function",
                    "function": {"name": name, "arguments": '{"city": "Paris"}'},
                }
            ]
        return f"echo: {last}", None

    def _error(self, body: dict[str, Any]) -> web.Response | None:
        if body.get("model") == "error-model":
            return web.json_response(
                {"error": {"message": "model 'error-model' does not exist", "type": "invalid_request_error"}},
                status=400,
            )
        return None

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        error = self._error(body)
        if error is not None:
            return error
        content, tool_calls = self._answer(body)
        completion = content if content is not None else tool_calls[0]["function"]["arguments"]  # type: ignore[index]
        ids = token_ids(completion)
        prompt_ids = token_ids(prompt_text(body))
        usage = {
            "prompt_tokens": len(prompt_ids),
            "completion_tokens": len(ids),
            "total_tokens": len(prompt_ids) + len(ids),
        }
        finish = "tool_calls" if tool_calls else "stop"
        if body.get("stream"):
            return await self._stream_chat(request, body, content, tool_calls, ids, prompt_ids, usage, finish)
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if tool_calls:
            message["tool_calls"] = tool_calls
        choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": finish, "token_ids": ids}
        if body.get("logprobs"):
            choice["logprobs"] = {
                "content": [
                    {"token": c, "logprob": logprob(i), "bytes": list(c.encode()), "top_logprobs": []}
                    for i, c in enumerate(completion)
                ]
            }
        return web.json_response(
            {
                "id": "chatcmpl-scripted",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model") or MODEL,
                "choices": [choice],
                "usage": usage,
                "prompt_token_ids": prompt_ids,
            }
        )

    async def _stream_chat(
        self,
        request: web.Request,
        body: dict[str, Any],
        content: str | None,
        tool_calls: list[dict[str, Any]] | None,
        ids: list[int],
        prompt_ids: list[int],
        usage: dict[str, int],
        finish: str,
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        base = {
            "id": "chatcmpl-scripted",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model") or MODEL,
        }

        async def send(obj: Any) -> None:
            await response.write(b"data: " + orjson.dumps(obj) + b"\n\n")

        def choice(delta: dict[str, Any], start: int, piece: str) -> dict[str, Any]:
            out: dict[str, Any] = {
                "index": 0,
                "delta": delta,
                "finish_reason": None,
                "token_ids": token_ids(piece),
            }
            if body.get("logprobs"):
                out["logprobs"] = {
                    "content": [
                        {
                            "token": c,
                            "logprob": logprob(start + i),
                            "bytes": list(c.encode()),
                            "top_logprobs": [],
                        }
                        for i, c in enumerate(piece)
                    ]
                }
            return out

        if content is not None:
            for start in range(0, len(content), 4):
                piece = content[start : start + 4]
                delta: dict[str, Any] = {"content": piece}
                if start == 0:
                    delta["role"] = "assistant"
                await send({**base, "choices": [choice(delta, start, piece)]})
        else:
            assert tool_calls is not None
            call = tool_calls[0]
            args = call["function"]["arguments"]
            half = len(args) // 2
            first = {
                "index": 0,
                "id": call["id"],
                "type": "function",
                "function": {"name": call["function"]["name"], "arguments": args[:half]},
            }
            await send(
                {**base, "choices": [choice({"role": "assistant", "tool_calls": [first]}, 0, args[:half])]}
            )
            second = {"index": 0, "function": {"arguments": args[half:]}}
            await send({**base, "choices": [choice({"tool_calls": [second]}, half, args[half:])]})
        await send({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            await send({**base, "choices": [], "usage": usage, "prompt_token_ids": prompt_ids})
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        error = self._error(body)
        if error is not None:
            return error
        text = f"echo: {body.get('prompt')}"
        ids = token_ids(text)
        prompt_ids = token_ids(prompt_text(body))
        usage = {
            "prompt_tokens": len(prompt_ids),
            "completion_tokens": len(ids),
            "total_tokens": len(prompt_ids) + len(ids),
        }
        base = {
            "id": "cmpl-scripted",
            "object": "text_completion",
            "created": int(time.time()),
            "model": body.get("model") or MODEL,
        }
        if body.get("stream"):
            response = web.StreamResponse(headers={"content-type": "text/event-stream"})
            await response.prepare(request)
            for start in range(0, len(text), 5):
                piece = text[start : start + 5]
                chunk = {
                    **base,
                    "choices": [
                        {"index": 0, "text": piece, "finish_reason": None, "token_ids": token_ids(piece)}
                    ],
                }
                await response.write(b"data: " + orjson.dumps(chunk) + b"\n\n")
            last = {**base, "choices": [{"index": 0, "text": "", "finish_reason": "stop"}], "usage": usage}
            await response.write(b"data: " + orjson.dumps(last) + b"\n\ndata: [DONE]\n\n")
            await response.write_eof()
            return response
        choice: dict[str, Any] = {"index": 0, "text": text, "finish_reason": "stop", "token_ids": ids}
        if body.get("logprobs") is not None:
            choice["logprobs"] = {
                "tokens": list(text),
                "token_logprobs": [logprob(i) for i in range(len(text))],
            }
        return web.json_response(
            {**base, "choices": [choice], "usage": usage, "prompt_token_ids": prompt_ids}
        )

    async def models(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"object": "list", "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "tests"}]}
        )


@contextlib.asynccontextmanager
async def scripted_upstream() -> AsyncIterator[ScriptedUpstream]:
    """Serve a ScriptedUpstream on 127.0.0.1 and an ephemeral port; ``.url`` ends in ``/v1``."""
    upstream = ScriptedUpstream()
    runner = web.AppRunner(upstream.app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    upstream.url = f"http://127.0.0.1:{port}/v1"
    try:
        yield upstream
    finally:
        await runner.cleanup()
