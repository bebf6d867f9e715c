"""Fixtures for APO's tests: a routing agent whose reward is a known function of its prompt, a
scripted critic/editor behind a real OpenAI-compatible HTTP server, and a real in-memory store
with real runners executing the rollouts.

The agent answers a task correctly exactly when its prompt carries ``RULE:<label>`` for the task's
label, so every candidate's true val score is computable from its text; the scripted critic names
the labels the failures had, and the scripted editor adds a rule for one of them (chosen by the
request's ``seed``), so each edit is a known, checkable change.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from agentlightning_apo import APO
from agentlightning_apo.testing import ScriptedLLMServer, ScriptedRequest

from agentlightning_core.agent import rollout
from agentlightning_core.algorithm import AlgorithmResult, TrainerContext
from agentlightning_core.bus.memory import InMemoryEventBus
from agentlightning_core.runner import Runner
from agentlightning_core.runtime.context import current_context
from agentlightning_core.store.memory import InMemoryStore
from agentlightning_core.types import PromptTemplate, Span, semconv

LABELS = ["billing", "shipping", "account", "tech"]
INITIAL = "Route this support request to a team.\nRequest: {text}\nTeam:"


def tasks(counts: dict[str, int], tag: str) -> list[dict[str, str]]:
    out = []
    for label, n in counts.items():
        out += [{"text": f"{tag} {label} request #{i}", "label": label} for i in range(n)]
    return out


TRAIN = tasks({"billing": 4, "shipping": 4, "account": 3, "tech": 3}, "train")
VAL = tasks({"billing": 5, "shipping": 4, "account": 2, "tech": 1}, "val")


def rules(text: str) -> set[str]:
    return set(re.findall(r"RULE:(\w+)", text))


def true_score(template: str, data: list[dict[str, str]]) -> float:
    return sum(1 for t in data if t["label"] in rules(template)) / len(data)


@rollout
def routing_agent(task: dict[str, str], prompt: PromptTemplate) -> float:
    """Answers right iff its prompt has a rule for the label; records the call as an adapter would."""
    text = prompt.format(text=task["text"])
    answer = task["label"] if task["label"] in rules(text) else "unknown"
    ctx = current_context()
    assert ctx is not None
    ctx.record_span(
        Span(
            rollout_id=ctx.rollout_id,
            attempt_id=ctx.attempt_id,
            name=semconv.LLM_SPAN_NAME,
            attributes={
                semconv.SPAN_TYPE: "llm",
                semconv.LLM_REQUEST: {"model": "agent", "messages": [{"role": "user", "content": text}]},
                semconv.LLM_RESPONSE: {"choices": [{"message": {"role": "assistant", "content": answer}}]},
            },
        )
    )
    return 1.0 if answer == task["label"] else 0.0


def failed_labels(critic_user_message: str) -> list[str]:
    """Labels of the failures shown to the critic, most frequent first (ties alphabetical)."""
    labels = [json.loads(m)["label"] for m in re.findall(r"^Task: (\{.*\})$", critic_user_message, re.M)]
    counts = Counter(labels)
    return sorted(counts, key=lambda lab: (-counts[lab], lab))


def current_prompt(user_message: str) -> str:
    match = re.search(r"<prompt>\n(.*?)\n</prompt>", user_message, re.S)
    assert match, user_message
    return match.group(1)


@dataclass
class Script:
    """The scripted critic and editor. Switches let a test break them on purpose."""

    critic_status: int | None = None  # answer critics with this HTTP error
    editor_mode: str = "add_rule"  # add_rule | drop_placeholder | same
    critiques: list[str] = field(default_factory=list)

    def __call__(self, req: ScriptedRequest) -> str | tuple[int, str]:
        if req.system.startswith("You review the prompt"):
            if self.critic_status is not None:
                return self.critic_status, "scripted critic failure"
            missing = failed_labels(req.user)
            text = "The prompt lacks rules for: " + ", ".join(missing) + "."
            self.critiques.append(text)
            return text
        assert req.system.startswith("You improve prompts"), req.system
        prompt = current_prompt(req.user)
        if self.editor_mode == "drop_placeholder":
            return "<prompt>Route it. Team:</prompt>"
        if self.editor_mode == "same":
            return f"<prompt>{prompt}</prompt>"
        missing = re.search(r"lacks rules for: (.*)\.", req.user)
        assert missing, req.user
        names = [m.strip() for m in missing.group(1).split(",") if m.strip()]
        label = names[int(req.body["seed"]) % len(names)]
        return f"Here you go:\n<prompt>{prompt}\nRULE:{label}</prompt>"


@dataclass
class APOHarness:
    store: InMemoryStore
    server: ScriptedLLMServer
    script: Script
    tmp_path: Path

    def apo(self, **params: Any) -> APO:
        return APO(critic=self.server.llm(), **params)

    def context(self, out: str = "run", **kwargs: Any) -> TrainerContext:
        kwargs.setdefault("train_data", TRAIN)
        kwargs.setdefault("val_data", VAL)
        kwargs.setdefault("initial_resources", {"prompt": PromptTemplate(template=INITIAL)})
        return TrainerContext(self.store, output_dir=self.tmp_path / out, rollout_timeout=60, **kwargs)

    async def run(self, apo: APO, out: str = "run", **kwargs: Any) -> tuple[AlgorithmResult, TrainerContext]:
        ctx = self.context(out, **kwargs)
        result = await apo.run(ctx)
        return result, ctx


@contextlib.asynccontextmanager
async def running(runner: Runner) -> AsyncIterator[None]:
    task = asyncio.create_task(runner.run())
    try:
        yield
    finally:
        runner.stop(grace=5.0)
        await asyncio.wait_for(task, 30)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[APOHarness]:
    store = InMemoryStore(watchdog_interval=0.05)
    store.bus = InMemoryEventBus()
    script = Script()
    async with store, ScriptedLLMServer(script) as server:
        async with running(Runner(routing_agent, store, concurrency=32)):
            yield APOHarness(store, server, script, tmp_path)


@pytest.fixture
def script() -> Script:
    return Script()


@pytest.fixture
def data() -> dict[str, Any]:
    return {"train": TRAIN, "val": VAL, "initial": INITIAL, "labels": LABELS, "true_score": true_score}
