"""Rebuild one response from the chunks of a streamed call, for the span.

The agent receives the chunks unchanged; the span records the call as if it had not streamed
(message content, tool calls, token ids and log-probs concatenated per choice), so
``TraceToTriplet`` treats streamed and plain calls alike.
"""

from __future__ import annotations

from typing import Any


class StreamAssembler:
    def __init__(self, operation: str) -> None:
        self.operation = operation
        self.top: dict[str, Any] = {}
        self.choices: dict[int, dict[str, Any]] = {}

    def add(self, chunk: dict[str, Any]) -> None:
        for key in (
            "id",
            "created",
            "model",
            "system_fingerprint",
            "usage",
            "prompt_token_ids",
            "weights_version",
        ):
            if chunk.get(key) is not None:
                self.top[key] = chunk[key]
        for choice in chunk.get("choices") or []:
            if isinstance(choice, dict):
                self._add_choice(choice)

    def _add_choice(self, chunk: dict[str, Any]) -> None:
        index = int(chunk.get("index", 0))
        choice = self.choices.setdefault(index, {"index": index, "finish_reason": None})
        if chunk.get("finish_reason") is not None:
            choice["finish_reason"] = chunk["finish_reason"]
        if isinstance(chunk.get("token_ids"), list):
            choice.setdefault("token_ids", []).extend(chunk["token_ids"])
        if chunk.get("prompt_token_ids") is not None:
            choice["prompt_token_ids"] = chunk["prompt_token_ids"]
        logprobs = chunk.get("logprobs")
        if isinstance(logprobs, dict):
            merged = choice.setdefault("logprobs", {})
            for key, value in logprobs.items():
                if isinstance(value, list):
                    merged.setdefault(key, []).extend(value)
                elif value is not None:
                    merged[key] = value
        if self.operation == "text_completion":
            if chunk.get("text"):
                choice["text"] = choice.get("text", "") + chunk["text"]
            return
        delta = chunk.get("delta") or {}
        message = choice.setdefault("message", {"role": "assistant", "content": None})
        if delta.get("role"):
            message["role"] = delta["role"]
        if delta.get("content"):
            message["content"] = (message["content"] or "") + delta["content"]
        for call in delta.get("tool_calls") or []:
            self._add_tool_call(message, call)

    @staticmethod
    def _add_tool_call(message: dict[str, Any], delta: dict[str, Any]) -> None:
        calls: list[dict[str, Any]] = message.setdefault("tool_calls", [])
        index = int(delta.get("index", len(calls)))
        while len(calls) <= index:
            calls.append({"id": None, "type": "function", "function": {"name": "", "arguments": ""}})
        call = calls[index]
        if delta.get("id"):
            call["id"] = delta["id"]
        if delta.get("type"):
            call["type"] = delta["type"]
        function = delta.get("function") or {}
        if function.get("name"):
            call["function"]["name"] += function["name"]
        if function.get("arguments"):
            call["function"]["arguments"] += function["arguments"]

    def response(self) -> dict[str, Any]:
        obj = "chat.completion" if self.operation == "chat" else "text_completion"
        return {**self.top, "object": obj, "choices": [self.choices[i] for i in sorted(self.choices)]}
