"""``LiteLLMEngine``: OpenAI-shaped calls in, any provider out, OpenAI-shaped answers back.

The proxy hands the engine OpenAI request bodies (what the agent's client sent); LiteLLM's SDK
(``litellm.acompletion``, not its proxy server) translates them for the provider — Anthropic's
Messages API, Gemini, Bedrock, ... — and translates the answer, tool calls and usage included,
back. Streams are relayed chunk by chunk when the provider streams.

LiteLLM is told to stay offline on its own account (``LITELLM_OFFLINE_MODE``,
``LITELLM_LOCAL_MODEL_COST_MAP``; unless the user set them): it talks to the provider it is
configured for and nothing else.

``RATE_LIMIT_PROVIDERS`` counts calls per provider: :meth:`provider` names the one a request's
model goes to (``anthropic``, ``gemini``, ...), so ``{"anthropic": "50/60"}`` limits Claude calls
however many engines or models share that quota.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from functools import lru_cache
from typing import Any, ClassVar

from agentlightning_core.engine import LLMEngine
from agentlightning_core.errors import InvalidRequestError
from agentlightning_core.proxy.upstream import json_option

from .errors import to_upstream_error

#: OpenAI request fields the proxy handles itself, never forwarded
_PROXY_FIELDS = ("stream", "stream_options")


def _import_litellm() -> Any:
    os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    try:
        import litellm
    except ImportError as exc:  # pragma: no cover - the distribution depends on it
        raise ImportError("engine 'litellm' needs LiteLLM: pip install agentlightning-litellm") from exc
    litellm.suppress_debug_info = True
    return litellm


@lru_cache(maxsize=256)
def _provider_of(model: str, custom_llm_provider: str | None) -> str:
    litellm = _import_litellm()
    try:
        return str(litellm.get_llm_provider(model, custom_llm_provider=custom_llm_provider)[1])
    except Exception as exc:
        raise InvalidRequestError(
            f"model {model!r} names no provider LiteLLM knows; write it as '<provider>/<model>' "
            f"(e.g. 'anthropic/claude-sonnet-4-5', 'gemini/gemini-2.5-flash') or pass "
            f"--engine-option custom_llm_provider=<provider> ({exc})"
        ) from None


def _without_nones(value: Any) -> Any:
    """LiteLLM's response objects carry every optional field, most of them ``None`` (and its own
    ``provider_specific_fields``); OpenAI leaves absent fields out. Recorded spans and the agent
    get the OpenAI shape."""
    if isinstance(value, dict):
        out = {k: _without_nones(v) for k, v in value.items() if v is not None}
        return {k: v for k, v in out.items() if not (k == "provider_specific_fields" and not v)}
    if isinstance(value, list):
        return [_without_nones(v) for v in value]
    return value


def _flag(value: bool | str, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if value.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if value.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise InvalidRequestError(f"engine option {name!r} must be true or false, got {value!r}")


class LiteLLMEngine(LLMEngine):
    """Forward the proxy's calls through LiteLLM.

    :param model: LiteLLM's model string (``anthropic/claude-sonnet-4-5``,
        ``gemini/gemini-2.5-flash``, ``openai/gpt-4o-mini``, ...); every request is sent with it.
        Without it the request's own ``model`` must be such a string.
    :param api_base: the provider's base URL (default: the provider's own, or its usual
        environment variable such as ``ANTHROPIC_API_BASE``).
    :param api_key: default: the provider's usual environment variable (``ANTHROPIC_API_KEY``,
        ``GEMINI_API_KEY``, ...), as LiteLLM reads it.
    :param custom_llm_provider: force the provider when the model string does not name one.
    :param extra_body: JSON object merged into every request (e.g. ``{"max_tokens": 1024}``:
        Anthropic requires ``max_tokens``; LiteLLM fills a default when the agent sends none).
    :param drop_params: drop OpenAI parameters the provider does not support (``seed``,
        ``logprobs`` for Anthropic) instead of failing the call. Default true.
    :param num_retries: LiteLLM's own retries. Default 0: the agent's OpenAI client already
        retries 429/5xx (with the provider's ``Retry-After``), and retrying twice over multiplies
        the wait.
    :param timeout: seconds per call.

    Options may be strings (as ``--engine-option k=v`` gives them).
    """

    name: ClassVar[str] = "litellm"

    def __init__(
        self,
        model: str | None = None,
        api_base: str | None = None,
        api_key: str | None = None,
        *,
        custom_llm_provider: str | None = None,
        extra_body: dict[str, Any] | str | None = None,
        drop_params: bool | str = True,
        num_retries: int | str = 0,
        timeout: float | str = 600.0,
    ) -> None:
        self.model = model or None
        self.model_name = model or "litellm"
        self.api_base = api_base or None
        if self.api_base is not None and not self.api_base.startswith(("http://", "https://")):
            raise InvalidRequestError(
                f"engine option api_base={api_base!r} must start with http:// or https://"
            )
        self.api_key = api_key or None
        self.custom_llm_provider = custom_llm_provider or None
        self.extra_body = json_option(extra_body, "extra_body")
        self.drop_params = _flag(drop_params, "drop_params")
        try:
            self.num_retries = int(num_retries)
            self.timeout = float(timeout)
        except ValueError as exc:
            raise InvalidRequestError(f"engine option num_retries/timeout must be a number: {exc}") from None
        self._litellm = _import_litellm()
        if self.model is not None:
            _provider_of(self.model, self.custom_llm_provider)  # a bad model fails at start, not per call

    def __repr__(self) -> str:
        return f"LiteLLMEngine(model={self.model!r}, api_base={self.api_base!r})"

    def _model(self, body: dict[str, Any]) -> str:
        model = self.model or body.get("model")
        if not isinstance(model, str) or not model:
            raise InvalidRequestError(
                "field 'model' is required: this litellm engine has no model of its own "
                "(--engine-option model=anthropic/claude-sonnet-4-5)"
            )
        return model

    def provider(self, body: dict[str, Any]) -> str:
        return _provider_of(self._model(body), self.custom_llm_provider)

    def _kwargs(self, body: dict[str, Any], stream: bool) -> dict[str, Any]:
        kwargs = {k: v for k, v in body.items() if k not in _PROXY_FIELDS}
        kwargs.update(self.extra_body)
        kwargs["model"] = self._model(body)
        kwargs.update(
            drop_params=self.drop_params,
            num_retries=self.num_retries,
            timeout=self.timeout,
        )
        for key in ("api_base", "api_key", "custom_llm_provider"):
            if getattr(self, key) is not None:
                kwargs[key] = getattr(self, key)
        if stream:
            kwargs["stream"] = True
            kwargs["stream_options"] = {"include_usage": True}
        return kwargs

    @staticmethod
    def _dump(response: Any) -> dict[str, Any]:
        data = response.model_dump() if hasattr(response, "model_dump") else dict(response)
        cleaned = _without_nones(data)
        assert isinstance(cleaned, dict)
        return cleaned

    # -------------------------------------------------------------------- engine API
    async def chat_completions(self, body: dict[str, Any]) -> dict[str, Any]:
        provider = self.provider(body)
        try:
            response = await self._litellm.acompletion(**self._kwargs(body, stream=False))
        except Exception as exc:
            raise to_upstream_error(exc, provider) from exc
        return self._dump(response)

    async def chat_completions_stream(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        provider = self.provider(body)
        try:
            stream = await self._litellm.acompletion(**self._kwargs(body, stream=True))
            async for chunk in stream:
                yield self._dump(chunk)
        except Exception as exc:
            raise to_upstream_error(exc, provider) from exc

    async def completions(self, body: dict[str, Any]) -> dict[str, Any]:
        provider = self.provider(body)
        try:
            response = await self._litellm.atext_completion(**self._kwargs(body, stream=False))
        except Exception as exc:
            raise to_upstream_error(exc, provider) from exc
        return self._dump(response)

    async def models(self) -> list[dict[str, Any]]:
        return [{"id": self.model_name, "object": "model", "created": 0, "owned_by": "litellm"}]
