"""The ``demoengine`` engine: answers every chat request by echoing its last user message.

The LLM proxy forwards each OpenAI-style request body to the engine and records the answer as a
span. Load your model in ``start`` and answer in ``chat_completions`` (and ``completions`` if it
serves them); return ``prompt_token_ids``/``response_token_ids`` and log-probs when the model
gives them, since RL algorithms train on those.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from agentlightning_core.engine import LLMEngine


class DemoengineEngine(LLMEngine):
    name = "demoengine"

    def __init__(self, model: str = "demoengine-echo", prefix: str = "") -> None:
        self.model_name = model
        self.prefix = prefix

    async def chat_completions(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ValueError("messages: a chat request needs a non-empty list of messages")
        user = [m.get("content") or "" for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        text = self.prefix + (str(user[-1]) if user else "")
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or self.model_name,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }
