"""A small client for the critic and the editor: one chat completion against an ``LLM`` resource.

Why not the ``openai`` package: APO makes a handful of plain calls and must guarantee that the
API key never reaches a log line, an exception message or a checkpoint. Owning the few lines that
touch the key makes that checkable; the request is the ordinary OpenAI ``/chat/completions`` one,
so any compatible endpoint (the trainer's proxy, vLLM, a hosted API) answers it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import SecretStr

from agentlightning_core.types import LLM

log = logging.getLogger(__name__)

_RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class ChatError(RuntimeError):
    """A critic or editor call failed; the message names the endpoint and model, never the key."""


def with_key_from_env(llm: LLM, env_var: str | None, role: str) -> LLM:
    """Return ``llm`` with its API key read from ``env_var`` (when one is named).

    Keys come from the environment or from the ``LLM`` resource itself (config), nowhere else.
    """
    if env_var is None:
        return llm
    value = os.environ.get(env_var)
    if not value:
        raise ChatError(
            f"{role}_api_key_env names ${env_var}, but that environment variable is unset or empty; "
            f"export it, or give the {role} LLM an api_key"
        )
    return llm.model_copy(update={"api_key": SecretStr(value)})


def safe_url(url: str) -> str:
    """``url`` without a password in it (``https://user:secret@host/v1`` → ``https://user:***@host/v1``)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def _redact(text: str, secret: str | None) -> str:
    """An endpoint's error text with the key taken out, should the endpoint echo it back."""
    return text.replace(secret, "***") if secret else text


def describe(llm: LLM) -> dict[str, Any]:
    """What the history may record about an endpoint: where and which model, not the key."""
    return {"endpoint": safe_url(llm.endpoint), "model": llm.model, "has_api_key": llm.api_key is not None}


class ChatClient:
    """Chat completions against one ``LLM`` resource, with retries on transient failures."""

    def __init__(
        self,
        llm: LLM,
        *,
        role: str,
        sampling: Mapping[str, Any] | None = None,
        timeout: float = 300.0,
        retries: int = 2,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.llm = llm
        self.role = role
        self.sampling = {**llm.sampling_parameters, **dict(sampling or {})}
        self.timeout = timeout
        self.retries = retries
        self._http = http
        self._url = llm.endpoint.rstrip("/") + "/chat/completions"

    async def complete(self, messages: list[dict[str, str]], *, seed: int | None = None) -> str:
        """Send ``messages``; return the first choice's text content.

        ``seed`` (the OpenAI ``seed`` parameter) makes sampled answers repeatable where the
        endpoint honours it; APO derives one per call from its own seed and the call's place in the
        search, so the ``branch_factor`` edits of one critique differ and a rerun repeats them.
        """
        body: dict[str, Any] = {
            **self.sampling,
            "model": self.llm.model,
            "messages": messages,
            "stream": False,
        }
        if seed is not None and "seed" not in self.sampling:
            body["seed"] = seed
        headers = {"Authorization": f"Bearer {self.llm.api_key_value}"}
        key = self.llm.api_key.get_secret_value() if self.llm.api_key is not None else None
        where = f"{self.role} endpoint {safe_url(self._url)} (model {self.llm.model!r})"
        owned = self._http is None
        http = self._http or httpx.AsyncClient(timeout=self.timeout)
        try:
            for attempt in range(self.retries + 1):
                last = attempt == self.retries
                try:
                    response = await http.post(self._url, json=body, headers=headers, timeout=self.timeout)
                except httpx.TransportError as exc:
                    if last:
                        raise ChatError(
                            f"{where} unreachable: {type(exc).__name__}: {_redact(str(exc), key)}"
                        ) from None
                    log.warning("%s: %s; retrying", where, type(exc).__name__)
                else:
                    if response.status_code < 400:
                        return _content(response, where, key)
                    if last or response.status_code not in _RETRY_STATUS:
                        raise ChatError(
                            f"{where} answered HTTP {response.status_code}: "
                            f"{_redact(response.text, key)[:300]}"
                            + (
                                " (check the API key and model name)"
                                if response.status_code in (401, 403, 404)
                                else ""
                            )
                        )
                    log.warning("%s answered HTTP %d; retrying", where, response.status_code)
                await asyncio.sleep(min(8.0, 0.5 * 2**attempt))
        finally:
            if owned:
                await http.aclose()
        raise AssertionError("unreachable")  # pragma: no cover


def _content(response: httpx.Response, where: str, key: str | None) -> str:
    try:
        payload = response.json()
        message = payload["choices"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise ChatError(f"{where} returned no chat completion: {_redact(response.text, key)[:300]}") from None
    content = message.get("content")
    if isinstance(content, list):  # content parts
        content = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content or "")
