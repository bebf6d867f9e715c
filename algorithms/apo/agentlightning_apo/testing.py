"""A scripted OpenAI-compatible server, for testing APO (and your own critic/editor set-ups)
without a model: a real HTTP server on an ephemeral port whose answers a Python function writes.

    async with ScriptedLLMServer(lambda req: "a critique") as server:
        apo = APO(critic=server.llm())

Every request is recorded with its headers, so a test can check what the critic was shown and
which key it was sent with.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web

from agentlightning_core.engine import LLMEngine
from agentlightning_core.types import LLM


@dataclass
class ScriptedRequest:
    """One ``/v1/chat/completions`` request as the server received it."""

    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])

    @property
    def system(self) -> str:
        return next((str(m.get("content")) for m in self.messages if m.get("role") == "system"), "")

    @property
    def user(self) -> str:
        return next((str(m.get("content")) for m in reversed(self.messages) if m.get("role") == "user"), "")


#: A script returns the reply text, ``(status, body)`` to answer with an HTTP error, or a dict to
#: send verbatim as the JSON body (to test malformed answers).
Script = Callable[[ScriptedRequest], "str | tuple[int, str] | dict[str, Any]"]


@dataclass
class ScriptedLLMServer:
    script: Script
    model: str = "scripted"
    requests: list[ScriptedRequest] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _url: str | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and getattr(server, "sockets", None)
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self._url = f"http://127.0.0.1:{port}/v1"
        return self._url

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("ScriptedLLMServer is not started; use `async with` or await start()")
        return self._url

    def llm(self, **fields: Any) -> LLM:
        """An ``LLM`` resource pointing at this server."""
        return LLM(endpoint=self.url, model=self.model, **fields)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> ScriptedLLMServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": self.model, "object": "model"}]})

    async def _chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        recorded = ScriptedRequest(body=body, headers=dict(request.headers))
        self.requests.append(recorded)
        reply = self.script(recorded)
        if isinstance(reply, tuple):
            status, text = reply
            return web.Response(status=status, text=text)
        if isinstance(reply, dict):
            return web.json_response(reply)
        return web.json_response(_completion(reply, self.model, len(self.requests)))


def _completion(reply: str, model: str, n: int) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{n}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": max(1, len(reply) // 4)},
    }


class ScriptedEngine(LLMEngine):
    """The same scripts as an :class:`~agentlightning_core.engine.LLMEngine`, to put behind the
    trainer's real LLM proxy: the agent's calls and the critic's then take the production path."""

    name = "scripted"
    model_name = "scripted"

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[ScriptedRequest] = []

    async def chat_completions(self, body: dict[str, Any]) -> dict[str, Any]:
        recorded = ScriptedRequest(body=body, headers={})
        self.requests.append(recorded)
        reply = self.script(recorded)
        if isinstance(reply, tuple):
            raise RuntimeError(f"scripted engine failure {reply[0]}: {reply[1]}")
        if isinstance(reply, dict):
            return reply
        return _completion(reply, self.model_name, len(self.requests))
