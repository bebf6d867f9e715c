"""APO through the real Trainer: in-process server with the LLM proxy, runners, the agent calling
its LLM with the openai client through the proxy (which records the spans the critic reads), and
the critic and editor reached through the same proxy by default (``ctx.default_llm()``), with the
server's token. The engine behind the proxy is scripted; everything else is the production path.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from agentlightning_apo.testing import ScriptedEngine, ScriptedRequest
from openai import AsyncOpenAI

from agentlightning_core.agent import rollout
from agentlightning_core.trainer import Trainer
from agentlightning_core.types import LLM, PromptTemplate


@pytest.mark.slow
def test_apo_end_to_end_through_trainer_proxy_and_runners(
    tmp_path: Path, script: Any, data: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    labels = data["labels"]

    def answer(req: ScriptedRequest) -> str | tuple[int, str]:
        if req.system:
            return script(req)
        text = req.user  # the agent's call: right iff its prompt has the rule for the task's label
        label = next(lab for lab in labels if f" {lab} request" in text)
        return label if f"RULE:{label}" in text else "unknown"

    engine = ScriptedEngine(answer)

    @rollout
    async def agent(task: dict[str, str], llm: LLM, prompt_template: PromptTemplate) -> float:
        client = AsyncOpenAI(base_url=llm.endpoint, api_key=llm.api_key_value)
        try:
            reply = await client.chat.completions.create(
                model=llm.model,
                messages=[{"role": "user", "content": prompt_template.format(text=task["text"])}],
            )
        finally:
            await client.close()
        return 1.0 if reply.choices[0].message.content == task["label"] else 0.0

    token = "agl-token-" + "5e1f" * 8
    caplog.set_level(logging.DEBUG)
    trainer = Trainer(
        algorithm="apo",
        rounds=2,
        beam_width=2,
        train_batch_size=6,
        val_batch_size=4,
        n_runners=2,
        concurrency=8,
        store="memory://",
        bus="memory",
        engine=engine,
        token=token,
        initial_resources={"prompt": PromptTemplate(template=data["initial"])},
        output_dir=tmp_path / "run",
        progress=True,
    )
    result = trainer.fit(agent, data["train"], data["val"])

    best = trainer.best_resources()
    best_prompt = best.resources["prompt"]
    assert isinstance(best_prompt, PromptTemplate)
    history = json.loads((tmp_path / "run" / "apo" / "history.json").read_text())
    assert best.resources_id == result.best_resources_id == history["best_resources_id"]
    assert best_prompt.template == history["candidates"][history["best_id"]]["prompts"]["prompt"]["template"]
    assert result.best_score == pytest.approx(data["true_score"](best_prompt.template, data["val"]))
    assert result.best_score > history["initial_score"] == 0.0
    # the critic went through the proxy (default LLM) and read the calls the proxy recorded
    critic_calls = [r for r in engine.requests if r.system.startswith("You review the prompt")]
    assert critic_calls
    first = critic_calls[0].user
    assert "what the model was sent:\n[user] Route this support request to a team.\nRequest: train " in first
    assert "what the model answered:\n[assistant] unknown" in first
    assert history["critic"] == {
        "endpoint": history["critic"]["endpoint"],
        "model": "scripted",
        "has_api_key": True,
    }
    # the server token authenticated the critic but shows up in no log line or APO output file
    assert token not in caplog.text
    for path in (tmp_path / "run").rglob("*"):
        if path.is_file():
            assert token not in path.read_text(), path
