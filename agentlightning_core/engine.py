"""Inference engines: what the LLM proxy forwards OpenAI-compatible calls to.

Response conventions beyond the OpenAI schema (the proxy records them when present):

* ``prompt_token_ids`` (top level) and ``choices[i].token_ids``: token ids of prompt and
  completion, as vLLM returns them with ``return_token_ids``;
* ``choices[i].logprobs.content[j].logprob``: the OpenAI log-prob format;
* ``weights_version`` (top level): which weights answered, for engines that swap weights.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from .errors import NotSupportedError

T = TypeVar("T")


@dataclass(frozen=True)
class LoRAAdapter:
    """One LoRA adapter's weights, as a learner hands them to an engine.

    ``modules`` maps a linear layer's path in the served model (``model.layers.0.self_attn.q_proj``,
    as in its ``named_modules``) to ``(A, B)``: ``A`` is ``[rank, in_features]``, ``B`` is
    ``[out_features, rank]`` (peft's ``lora_A``/``lora_B`` weights), so the layer computes
    ``W·x + scaling·B·A·x``. Tensors are whatever the engine's framework takes (torch here).
    """

    name: str
    modules: Mapping[str, tuple[Any, Any]]
    scaling: float


class LLMEngine:
    """Base class of engines. Subclasses implement at least :meth:`chat_completions`."""

    name: ClassVar[str] = "abstract"
    #: the model id reported by ``/v1/models`` and used when a request names none
    model_name: str = "default"
    weights_version: int = 0
    #: the local model folder this engine serves, for learners that train a copy of it in the
    #: same process (``grpo``); ``None`` for engines that serve a remote or hosted model
    model_path: Path | None = None

    async def start(self) -> None:
        """Load the model / open connections. Idempotent."""

    async def close(self) -> None: ...

    async def chat_completions(self, body: dict[str, Any]) -> dict[str, Any]:
        """Answer a ``/v1/chat/completions`` request body (``stream`` is handled by the proxy)."""
        raise NotSupportedError(f"engine {self.name!r} does not serve chat completions")

    async def chat_completions_stream(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Stream chunks; by default computes the whole answer and sends it as one delta."""
        response = await self.chat_completions({**body, "stream": False})
        for chunk in completion_to_chunks(response):
            yield chunk

    async def completions(self, body: dict[str, Any]) -> dict[str, Any]:
        raise NotSupportedError(f"engine {self.name!r} does not serve /v1/completions")

    async def completions_stream(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        response = await self.completions({**body, "stream": False})
        yield {**response, "object": "text_completion"}

    def provider(self, body: dict[str, Any]) -> str:
        """Who answers ``body``: the key of ``RATE_LIMIT_PROVIDERS`` this call counts against.
        Default: the engine's name. An engine that routes to several providers (``litellm``)
        names the one this request's model goes to (``anthropic``, ``gemini``, ...)."""
        return self.name

    async def models(self) -> list[dict[str, Any]]:
        return [{"id": self.model_name, "object": "model", "created": 0, "owned_by": "agentlightning"}]

    async def update_weights(self, weights: Any, version: int | None = None) -> int:
        """Swap in new weights without a restart; returns the new ``weights_version``."""
        raise NotSupportedError(f"engine {self.name!r} cannot load new weights")

    async def update_adapter(self, adapter: LoRAAdapter, version: int | None = None) -> int:
        """Load or replace the LoRA adapter ``adapter.name`` on top of the base weights, which stay
        as they are; returns the adapter's new version (default: its current one plus one).

        Calls whose request ``model`` is ``adapter.name`` are then answered by base + adapter
        (vLLM's convention for LoRA serving), and their responses name the adapter in ``model``
        and its version in ``weights_version``.
        """
        raise NotSupportedError(f"engine {self.name!r} cannot serve LoRA adapters")

    def route_agents(self, routes: Sequence[tuple[str, str]]) -> None:
        """Answer the calls of agents whose name fully matches a pattern with that model:
        ``[(agent regex, model), ...]``, first match wins. The proxy asks :meth:`model_for_agent`
        with the calling agent's name (``X-AGL-Agent``) and sends the call to that model, so each
        agent of one system can be served by its own LoRA adapter without changing its code."""
        import re

        self._agent_routes = [(re.compile(pattern), model) for pattern, model in routes]

    def model_for_agent(self, agent_name: str | None) -> str | None:
        """The model :meth:`route_agents` chose for this agent's calls, or ``None``."""
        if agent_name is None:
            return None
        for pattern, model in getattr(self, "_agent_routes", ()):
            if pattern.fullmatch(agent_name):
                return str(model)
        return None

    async def run_compute(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` where this engine runs its own accelerator work, and await it.

        A learner in the same process sends its model loading, training steps and checkpoints
        here so they never overlap the engine's batches (on a CPU both would fight for the same
        cores and OpenMP teams; on a GPU for the same memory). Default: a worker thread.
        """
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def sleep(self, level: int = 1) -> None:
        """Free accelerator memory until :meth:`wake_up`, so a learner can train on the same GPU
        (vLLM's sleep mode). A no-op for engines that hold none."""

    async def wake_up(self) -> None:
        """Take back what :meth:`sleep` freed. A no-op by default."""

    async def attach_servers(self, base_urls: Sequence[str]) -> None:
        """Forward calls to OpenAI-compatible servers someone else started and manages (the vLLM
        replicas of the ``verl`` algorithm): the proxy stays in front, so every call is still
        recorded, while the servers' lifecycle and weights belong to that component."""
        raise NotSupportedError(f"engine {self.name!r} cannot forward to servers it did not start")


def completion_to_chunks(response: dict[str, Any]) -> list[dict[str, Any]]:
    """Turn a chat completion into the chunk sequence a streaming client expects."""
    base = {
        "id": response.get("id", "chatcmpl-agl"),
        "object": "chat.completion.chunk",
        "created": response.get("created", int(time.time())),
        "model": response.get("model", ""),
    }
    chunks: list[dict[str, Any]] = []
    for choice in response.get("choices", []):
        message = choice.get("message") or {}
        delta: dict[str, Any] = {"role": message.get("role", "assistant")}
        if message.get("content") is not None:
            delta["content"] = message["content"]
        if message.get("tool_calls"):
            delta["tool_calls"] = [{"index": i, **call} for i, call in enumerate(message["tool_calls"])]
        extra = {k: choice[k] for k in ("token_ids", "logprobs") if k in choice}
        chunks.append({**base, "choices": [{"index": choice.get("index", 0), "delta": delta, **extra}]})
        chunks.append(
            {
                **base,
                "choices": [
                    {
                        "index": choice.get("index", 0),
                        "delta": {},
                        "finish_reason": choice.get("finish_reason"),
                    }
                ],
            }
        )
    last: dict[str, Any] = {**base, "choices": []}
    for key in ("usage", "prompt_token_ids", "weights_version"):
        if key in response:
            last[key] = response[key]
    chunks.append(last)
    return chunks
