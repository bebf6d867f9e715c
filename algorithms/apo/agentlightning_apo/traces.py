"""What the critic reads about a failed rollout: the task, the reward, and each LLM call's
messages as the agent sent and received them.

The calls come from the rollout's spans (recorded by the LLM proxy or a framework adapter) through
``TraceToTriplet``, so the critic sees what the model saw — the prompt after the agent filled it
in — not what we assume the agent did. ``agent_match`` narrows this to the agent being optimised
in a multi-agent system.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agentlightning_core.algorithm import RolloutOutcome
from agentlightning_core.triplet import TraceToTriplet


@dataclass
class Failure:
    """One low-reward train rollout, ready for the critic."""

    rollout_id: str
    task: Any
    reward: float | None
    status: str
    error: str | None
    calls: list[tuple[Any, Any]]  # (prompt messages or text, response message or text)

    def render(self, max_chars: int) -> str:
        reward = "none (the rollout failed)" if self.reward is None else f"{self.reward:g}"
        head = [f"Task: {_clip(_show(self.task), max_chars // 3)}", f"Reward: {reward}"]
        if self.error:
            head.append(f"Error: {_clip(self.error, 300)}")
        if not self.calls:
            head.append("(no LLM call was recorded for this rollout)")
        budget = max(100, (max_chars - sum(len(h) for h in head)) // max(1, len(self.calls)))
        for i, (prompt, response) in enumerate(self.calls, 1):
            label = f"LLM call {i}" if len(self.calls) > 1 else "LLM call"
            head.append(f"{label}, what the model was sent:\n{_clip(_messages(prompt), budget * 2 // 3)}")
            head.append(f"{label}, what the model answered:\n{_clip(_message(response), budget // 3)}")
        return "\n".join(head)


def failures_of(
    outcomes: Sequence[RolloutOutcome],
    *,
    threshold: float,
    transform: TraceToTriplet,
    errors: dict[str, str | None] | None = None,
) -> list[Failure]:
    """Outcomes whose reward is below ``threshold`` (failed rollouts count as reward 0), worst first;
    ties keep the input order (the minibatch is already a random sample)."""
    low = [
        (o.reward if o.reward is not None else 0.0, i, o)
        for i, o in enumerate(outcomes)
        if o.reward is None or o.reward < threshold
    ]
    low.sort(key=lambda t: (t[0], t[1]))
    failures = []
    for _, _, outcome in low:
        calls = [(t.prompt, t.response) for t in outcome.triplets(transform)]
        failures.append(
            Failure(
                rollout_id=outcome.rollout.rollout_id,
                task=outcome.rollout.input,
                reward=outcome.reward,
                status=outcome.rollout.status.value,
                error=(errors or {}).get(outcome.rollout.rollout_id),
                calls=calls,
            )
        )
    return failures


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _messages(prompt: Any) -> str:
    if isinstance(prompt, list):
        return "\n".join(_message(m) for m in prompt)
    return _message(prompt)


def _message(message: Any) -> str:
    if message is None:
        return "(nothing)"
    if isinstance(message, dict):
        role = message.get("role", "assistant")
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        text = f"[{role}] {content if content is not None else ''}".rstrip()
        if message.get("tool_calls"):
            text += " [tool calls] " + _show(message["tool_calls"])
        return text
    return _show(message)


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 15)] + " …[truncated]"
