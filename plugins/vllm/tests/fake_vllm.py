"""A FAKE vLLM server for tests — not vLLM. It speaks vLLM 0.24's HTTP wire format for what the
engine uses, and decides nothing a real model would:

* ``/v1/chat/completions`` and ``/v1/completions`` (plain and streamed): with
  ``return_token_ids`` the top-level ``prompt_token_ids`` (chat; per choice for completions) and
  ``choices[i].token_ids``, in a stream ``prompt_token_ids`` on the first chunk only and
  ``token_ids`` as per-chunk deltas; with ``logprobs`` the chat format
  ``logprobs.content[j] = {token, logprob, bytes, top_logprobs}`` or the completions format
  ``logprobs.token_logprobs`` — field names and placement as in vLLM's ``protocol.py``;
* ``/v1/models``, ``/health``;
* development endpoints (only with ``VLLM_SERVER_DEV_MODE=1``, as in vLLM; else 404):
  ``/sleep?level=``, ``/wake_up?tags=``, ``/is_sleeping``, ``/collective_rpc``,
  ``/init_weight_transfer_engine``, ``/start_weight_update``, ``/update_weights``,
  ``/finish_weight_update``;
* runtime LoRA (only with ``VLLM_ALLOW_RUNTIME_LORA_UPDATING=True``): ``/v1/load_lora_adapter``,
  ``/v1/unload_lora_adapter``; a request naming an unknown model answers 404 as vLLM does.

Token ids are byte values of the text (so a test can decode them), log-probs a fixed -0.25.
Every request is recorded in ``FakeVLLM.calls``. Run as a script it behaves like ``vllm serve``
on the command line the engine builds (tests start it as a real subprocess).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

LOGPROB = -0.25


def ids(text: str) -> list[int]:
    return list(text.encode())


@dataclass
class FakeVLLM:
    model: str = "fake-model"
    dev_mode: bool = True
    runtime_lora: bool = True
    answer: str = "ok"
    calls: list[tuple[str, Any]] = field(default_factory=list)
    sleeping: bool = False
    adapters: dict[str, str] = field(default_factory=dict)
    weights_path: str | None = None
    transfer: list[str] = field(default_factory=list)
    url: str = ""

    # ------------------------------------------------------------------ models
    def _check_model(self, body: dict[str, Any]) -> web.Response | None:
        name = body.get("model")
        if name not in (None, self.model) and name not in self.adapters:
            return web.json_response(
                {
                    "error": {
                        "message": f"The model `{name}` does not exist.",
                        "type": "NotFoundError",
                        "code": 404,
                    }
                },
                status=404,
            )
        if self.sleeping:
            return web.json_response({"error": {"message": "engine is sleeping", "code": 503}}, status=503)
        return None

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.calls.append(("chat", body))
        if (error := self._check_model(body)) is not None:
            return error
        prompt = ids(json.dumps(body.get("messages")))
        answer = f"{self.answer}[{body.get('model')}]"
        tokens = ids(answer)
        with_ids = bool(body.get("return_token_ids"))
        with_lp = bool(body.get("logprobs"))
        if body.get("stream"):
            return await self._stream_chat(request, body, prompt, answer, with_ids, with_lp)
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": answer, "tool_calls": []},
            "logprobs": {"content": [self._lp(t, body) for t in tokens]} if with_lp else None,
            "finish_reason": "stop",
            "stop_reason": None,
            "token_ids": tokens if with_ids else None,
        }
        return web.json_response(
            {
                "id": f"chatcmpl-{len(self.calls)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model") or self.model,
                "choices": [choice],
                "usage": {
                    "prompt_tokens": len(prompt),
                    "completion_tokens": len(tokens),
                    "total_tokens": len(prompt) + len(tokens),
                },
                "prompt_logprobs": None,
                "prompt_token_ids": prompt if with_ids else None,
                "kv_transfer_params": None,
            }
        )

    def _lp(self, token: int, body: dict[str, Any]) -> dict[str, Any]:
        top = int(body.get("top_logprobs") or 0)
        text = chr(token)
        entry = {"token": text, "logprob": LOGPROB, "bytes": [token]}
        return {**entry, "top_logprobs": [entry] * top}

    async def _stream_chat(
        self,
        request: web.Request,
        body: dict[str, Any],
        prompt: list[int],
        answer: str,
        with_ids: bool,
        with_lp: bool,
    ) -> web.StreamResponse:
        stream = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await stream.prepare(request)
        base = {
            "id": "chatcmpl-stream",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model"),
        }
        first: dict[str, Any] = {
            **base,
            "choices": [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": ""},
                    "logprobs": None,
                    "finish_reason": None,
                }
            ],
        }
        if with_ids:
            first["prompt_token_ids"] = prompt
        await stream.write(b"data: " + json.dumps(first).encode() + b"\n\n")
        for piece in (answer[: len(answer) // 2], answer[len(answer) // 2 :]):
            toks = ids(piece)
            choice: dict[str, Any] = {"index": 0, "delta": {"content": piece}, "finish_reason": None}
            if with_lp:
                choice["logprobs"] = {"content": [self._lp(t, body) for t in toks]}
            if with_ids:
                choice["token_ids"] = toks
            await stream.write(b"data: " + json.dumps({**base, "choices": [choice]}).encode() + b"\n\n")
        last = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        await stream.write(b"data: " + json.dumps(last).encode() + b"\n\n")
        await stream.write(b"data: [DONE]\n\n")
        await stream.write_eof()
        return stream

    async def completions(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.calls.append(("completions", body))
        if (error := self._check_model(body)) is not None:
            return error
        prompt = ids(str(body.get("prompt")))
        tokens = ids(self.answer)
        with_ids = bool(body.get("return_token_ids"))
        logprobs = body.get("logprobs")
        choice: dict[str, Any] = {
            "index": 0,
            "text": self.answer,
            "logprobs": None
            if logprobs is None
            else {
                "text_offset": list(range(len(tokens))),
                "token_logprobs": [LOGPROB] * len(tokens),
                "tokens": [chr(t) for t in tokens],
                "top_logprobs": [{chr(t): LOGPROB} for t in tokens] if logprobs else [None] * len(tokens),
            },
            "finish_reason": "length",
            "stop_reason": None,
            "token_ids": tokens if with_ids else None,
            "prompt_logprobs": None,
            "prompt_token_ids": prompt if with_ids else None,
        }
        return web.json_response(
            {
                "id": "cmpl-1",
                "object": "text_completion",
                "created": int(time.time()),
                "model": body.get("model"),
                "choices": [choice],
                "usage": {
                    "prompt_tokens": len(prompt),
                    "completion_tokens": len(tokens),
                    "total_tokens": len(prompt) + len(tokens),
                },
            }
        )

    async def models(self, request: web.Request) -> web.Response:
        data = [{"id": self.model, "object": "model", "owned_by": "vllm", "root": self.model, "parent": None}]
        data += [
            {"id": n, "object": "model", "owned_by": "vllm", "root": p, "parent": self.model}
            for n, p in self.adapters.items()
        ]
        return web.json_response({"object": "list", "data": data})

    async def health(self, request: web.Request) -> web.Response:
        return web.Response(status=200)

    # --------------------------------------------------------- dev endpoints
    async def sleep(self, request: web.Request) -> web.Response:
        self.calls.append(("sleep", dict(request.query)))
        self.sleeping = True
        return web.Response(status=200)

    async def wake_up(self, request: web.Request) -> web.Response:
        self.calls.append(("wake_up", request.query.getall("tags", [])))
        self.sleeping = False
        return web.Response(status=200)

    async def is_sleeping(self, request: web.Request) -> web.Response:
        return web.json_response({"is_sleeping": self.sleeping})

    async def collective_rpc(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.calls.append(("collective_rpc", body))
        if body.get("method") == "reload_weights":
            self.weights_path = body.get("kwargs", {}).get("weights_path")
        return web.Response(status=200)

    def _transfer(self, name: str) -> Any:
        async def handler(request: web.Request) -> web.Response:
            body = await request.json() if request.can_read_body else {}
            self.calls.append((name, body))
            self.transfer.append(name)
            if name == "update_weights" and "update_info" not in body:
                return web.json_response({"detail": "Missing 'update_info' in request body"}, status=400)
            if name == "update_weights":
                await asyncio.sleep(0.05)  # receiving while the trainer broadcasts
            return web.json_response({"message": name})

        return handler

    # ------------------------------------------------------------------ LoRA
    async def load_lora(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.calls.append(("load_lora_adapter", body))
        name = body["lora_name"]
        if name in self.adapters and not body.get("load_inplace"):
            return web.json_response(
                {"error": {"message": f"The lora adapter '{name}' has already been loaded.", "code": 400}},
                status=400,
            )
        self.adapters[name] = body["lora_path"]
        return web.Response(text=f"Success: LoRA adapter '{name}' added successfully.")

    async def unload_lora(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.calls.append(("unload_lora_adapter", body))
        if self.adapters.pop(body["lora_name"], None) is None:
            return web.json_response(
                {
                    "error": {
                        "message": f"The lora adapter '{body['lora_name']}' cannot be found.",
                        "code": 404,
                    }
                },
                status=404,
            )
        return web.Response(text="Success")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_post("/v1/completions", self.completions)
        app.router.add_get("/v1/models", self.models)
        app.router.add_get("/health", self.health)
        if self.dev_mode:
            app.router.add_post("/sleep", self.sleep)
            app.router.add_post("/wake_up", self.wake_up)
            app.router.add_get("/is_sleeping", self.is_sleeping)
            app.router.add_post("/collective_rpc", self.collective_rpc)
            for name in (
                "init_weight_transfer_engine",
                "start_weight_update",
                "update_weights",
                "finish_weight_update",
            ):
                app.router.add_post(f"/{name}", self._transfer(name))
        if self.runtime_lora:
            app.router.add_post("/v1/load_lora_adapter", self.load_lora)
            app.router.add_post("/v1/unload_lora_adapter", self.unload_lora)
        return app

    @contextlib.asynccontextmanager
    async def serve(self, port: int = 0) -> AsyncIterator[str]:
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{bound}/v1"
        try:
            yield self.url
        finally:
            await runner.cleanup()


def main() -> None:
    """``python fake_vllm.py serve MODEL --host H --port P --served-model-name N ...``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("command")
    parser.add_argument("model")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--served-model-name", default=None)
    parser.add_argument("--exit-with", type=int, default=None, help="crash at start (tests the error path)")
    args, _rest = parser.parse_known_args()
    print("fake vllm argv:", json.dumps(os.sys.argv[1:]), flush=True)  # type: ignore[attr-defined]
    if args.exit_with is not None:
        print("RuntimeError: CUDA out of memory (fake)", flush=True)
        raise SystemExit(args.exit_with)
    fake = FakeVLLM(
        model=args.served_model_name or args.model,
        dev_mode=os.environ.get("VLLM_SERVER_DEV_MODE") == "1",
        runtime_lora=os.environ.get("VLLM_ALLOW_RUNTIME_LORA_UPDATING", "").lower() == "true",
    )
    web.run_app(fake.app(), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
